"""The one source registry: the list of built-in source modules, `register_source`, and format
detection.

Every source module declares its `Source` subclasses with ``@register_source``; a plugin (or the
test-only toy source) registers its own the same way. The built-ins are imported lazily, from
`BUILTIN_MODULES`, the first time the registry is asked.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from costlab.errors import EmptyFileError, UnknownFormatError, UnknownSourceError

if TYPE_CHECKING:
    from costlab.ingest.base import Source

#: the modules of ``costlab.ingest`` that define built-in sources
BUILTIN_MODULES = (
    "anthropic",
    "aws_cur",
    "azure",
    "azure_llm_trace",
    "claude_code",
    "codex",
    "focus",
    "gcp",
    "helicone",
    "langfuse",
    "langsmith",
    "litellm",
    "mooncake",
    "oci",
    "openai",
    "otlp",
)

_SOURCES: dict[str, type[Source]] = {}
_loaded = False


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator adding a source to the registry under ``cls.name``."""
    if cls.name in _SOURCES and _SOURCES[cls.name] is not cls:
        raise ValueError(f"source {cls.name!r} is registered twice")
    _SOURCES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(f"costlab.ingest.{module}")
    _loaded = True


def sources() -> dict[str, type[Source]]:
    """All registered sources by name."""
    _load_builtin()
    return dict(sorted(_SOURCES.items()))


def session_formats() -> tuple[str, ...]:
    """The ``source_format`` of every source whose traces are interactive sessions
    (`Source.sessions`), sorted."""
    return tuple(name for name, cls in sources().items() if cls.sessions)


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
