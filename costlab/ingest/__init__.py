"""Source registry and format detection.

Every module in this package (except ``base`` and ``util``) defines one or more `Source`
subclasses decorated with `register`; built-ins are registered exactly the way a plugin would be.
The package itself is callable, so ``costlab.ingest(paths, lake=...)`` runs an ingest (see
`costlab.ingest.run.ingest`) while ``costlab.ingest.get_source`` stays importable.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import EmptyFileError, UnknownFormatError, UnknownSourceError

if TYPE_CHECKING:
    from costlab.ingest.base import Source

_SOURCES: dict[str, type[Source]] = {}
_NOT_SOURCES = {"base", "util"}
_loaded = False


def register(cls: type[Source]) -> type[Source]:
    """Class decorator adding a source to the registry under ``cls.name``."""
    if cls.name in _SOURCES and _SOURCES[cls.name] is not cls:
        raise ValueError(f"source {cls.name!r} is registered twice")
    _SOURCES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_SOURCES and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def sources() -> dict[str, type[Source]]:
    """All registered sources by name."""
    _load_builtin()
    return dict(sorted(_SOURCES.items()))


def get_source(name: str) -> type[Source]:
    _load_builtin()
    try:
        return _SOURCES[name]
    except KeyError:
        raise UnknownSourceError(name, sorted(_SOURCES)) from None


def detect(path: Path) -> type[Source]:
    """The source that recognises ``path`` (highest priority wins), else `UnknownFormatError`
    (`EmptyFileError` when there is nothing in it)."""
    from costlab.ingest.base import Sniff

    sniff = Sniff(path)
    if sniff.kind == "empty":
        raise EmptyFileError(str(path))
    matches = []
    for cls in sources().values():
        try:
            if cls.detect(sniff):
                matches.append(cls)
        except Exception:  # noqa: BLE001 - a detector that chokes on odd input just says no
            continue
    if not matches:
        shown = ", ".join(sniff.columns[:6]) or sniff.head[:60].replace("\n", " ")
        raise UnknownFormatError(
            str(path),
            f"not a recognised export ({sniff.kind}; starts with: {shown!r}); "
            "expected one of the formats in `costlab sources`, or name one with --source",
        )
    return max(matches, key=lambda c: c.priority)


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from costlab.ingest.run import ingest

        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
