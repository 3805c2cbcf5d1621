"""costlab: where your LLM money goes, and what to change.

Library first: the CLI is a thin layer over these names, and notebooks and cron jobs use the
same functions::

    import costlab
    costlab.ingest(["exports/", "traces/"], lake="lake/")
    ws = costlab.Workspace("lake/", since="2026-10-01", until="2026-11-01")
    ws.sql("SELECT workflow, sum(cost) FROM calls GROUP BY 1")   # polars DataFrame
    ws.query("cost_by_workflow")                                  # a named query
    report = costlab.build_report(ws)                             # the report as plain data
    costlab.whatif(ws, step="ticket-triage", model="gpt-4.1-mini").markdown()  # a change re-priced
    costlab.explain_gap(ws)                                       # billed minus traced, by cause
    costlab.reconcile(ws)                                         # bill vs usage vs traces
    costlab.learn_prices(ws), costlab.learn_compute_prices(ws)    # prices the bill charged

Imports are lazy so ``import costlab`` (and ``costlab --help``) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from costlab.version import __version__

__all__ = [
    "Workspace", "Lake", "ingest", "build_report", "run_query", "IngestResult", "CostlabError",
    "whatif", "explain_gap", "reconcile", "learn_prices", "learn_compute_prices", "__version__",
]

if TYPE_CHECKING:
    from costlab.analyze.downgrade import whatif
    from costlab.errors import CostlabError
    from costlab.ingest.run import IngestResult
    from costlab.lake import Lake
    from costlab.money.gap import explain_gap
    from costlab.money.learned import learn_compute_prices, learn_prices
    from costlab.money.reconcile import reconcile
    from costlab.report.build import build_report
    from costlab.workspace import Workspace, run_query

_WHERE = {
    "Workspace": "costlab.workspace",
    "Lake": "costlab.lake",
    "build_report": "costlab.report.build",
    "run_query": "costlab.workspace",
    "IngestResult": "costlab.ingest.run",
    "CostlabError": "costlab.errors",
    "whatif": "costlab.analyze.downgrade",
    "explain_gap": "costlab.money.gap",
    "reconcile": "costlab.money.reconcile",
    "learn_prices": "costlab.money.learned",
    "learn_compute_prices": "costlab.money.learned",
}


def __getattr__(name: str) -> Any:
    if name == "ingest":
        return import_module("costlab.ingest")  # a callable module: costlab.ingest(paths, lake=...)
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'costlab' has no attribute {name!r}")
