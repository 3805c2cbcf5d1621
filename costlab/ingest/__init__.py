"""The ingest layer: sources (one module each), their registry and the ingest run.

`costlab.ingest.registry` holds the source list, `register_source`, `sources`, `get_source` and
`detect` (re-exported here). The package itself is callable, so ``costlab.ingest(paths, lake=...)``
runs an ingest (see `costlab.ingest.run.ingest`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from costlab.ingest.registry import detect, get_source, register_source, sources

__all__ = ["detect", "get_source", "register_source", "sources"]


class CallableModule(types.ModuleType):
    """The package's module type: calling it runs `costlab.ingest.run.ingest`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from costlab.ingest.run import ingest

        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = CallableModule
