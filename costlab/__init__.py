"""costlab: where your LLM money goes, and what to change.

Library first: the CLI is a thin layer over these names, and notebooks and cron jobs use the
same functions::

    import costlab
    result = costlab.ingest(["exports/"], lake="lake/")
    lake = costlab.Lake("lake/")
    lake.sql("SELECT workflow, sum(input_tokens) FROM calls GROUP BY 1")   # polars DataFrame

Imports are lazy so ``import costlab`` (and ``costlab --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Lake", "ingest", "run_query", "IngestResult", "CostlabError", "__version__"]

if TYPE_CHECKING:
    from costlab.errors import CostlabError
    from costlab.ingest.run import IngestResult
    from costlab.lake import Lake
    from costlab.sql import run_query


def __getattr__(name: str) -> Any:
    if name == "Lake":
        from costlab.lake import Lake

        return Lake
    if name == "ingest":
        import costlab.ingest as ingest_module  # a callable module: costlab.ingest(paths, lake=...)

        return ingest_module
    if name == "IngestResult":
        from costlab.ingest.run import IngestResult

        return IngestResult
    if name == "run_query":
        from costlab.sql import run_query

        return run_query
    if name == "CostlabError":
        from costlab.errors import CostlabError

        return CostlabError
    raise AttributeError(f"module 'costlab' has no attribute {name!r}")
