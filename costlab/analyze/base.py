"""What every analyzer returns, and how savings from several findings combine.

A `Finding` is one recommendation with its evidence and a savings band. Two rules keep the
numbers honest (docs/analyzers.md; inferopt keeps "zero-risk" apart from "needs validation"):

* **Validated vs potential.** ``monthly_savings_usd`` holds only savings the evidence supports
  (``validated=True``: e.g. cache replay on the actual log, or a non-inferiority test passed).
  A saving that needs a shadow evaluation first goes to ``potential_savings_usd`` and is never
  added to the validated total.
* **Combine, never add.** Each finding states the *fraction* of its scope's cost it removes
  (``fraction_low``/``fraction_high``) on ``base_monthly_cost_usd``. `combine` applies findings on
  the same scope in analyzer order (caching, trimming, downgrade, batch, waste) to the cost that remains
  after the earlier ones: savings = base x (1 - prod(1 - f_i)), so trimming tokens that caching
  already discounted saves little, and the total can never exceed the cost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import polars as pl

    from costlab.lake import Lake
    from costlab.workspace import Workspace

CENT = Decimal("0.01")
ORDER = ("caching", "trimming", "downgrade", "batch", "waste")


@dataclass
class Savings:
    low: Decimal
    high: Decimal

    def to_dict(self) -> dict[str, Decimal]:
        return {"low": self.low, "high": self.high}


@dataclass
class Finding:
    analyzer: str  # "caching" | "trimming" | "downgrade" | "batch" | "waste"
    workflow: str | None
    step: str | None
    title: str  # one line: what is wrong
    action: str  # one line: what to change
    evidence: dict[str, Any]  # the numbers behind it (tokens, calls, hit rates, p-values, ...)
    monthly_savings_usd: Savings  # validated savings (zero when not validated)
    confidence: str  # "high" | "medium" | "low"
    validated: bool
    base_monthly_cost_usd: Decimal = Decimal(0)  # cost of the scope the fractions apply to
    fraction_low: float = 0.0
    fraction_high: float = 0.0
    potential_savings_usd: Savings | None = None  # needs validation first; never in totals
    kind: str = "savings"  # "savings" | "candidate" (e.g. near-duplicate prompts) | "info"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["monthly_savings_usd"] = self.monthly_savings_usd.to_dict()
        out["potential_savings_usd"] = (
            self.potential_savings_usd.to_dict() if self.potential_savings_usd else None
        )
        return out


@dataclass
class AnalyzerResult:
    analyzer: str
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "summary": self.summary,
            "findings": [f.to_dict() for f in self.findings],
        }


AnalyzerFn = Callable[..., AnalyzerResult]
ANALYZERS: dict[str, AnalyzerFn] = {}


def analyzer(name: str, defaults: dict[str, Any] | None = None) -> Callable[[AnalyzerFn], AnalyzerFn]:
    """Register an analyzer as ``analyze(lake, *, since=None, until=None, config=None)``.

    With ``defaults`` (its ``[analyze.<name>]`` settings) the decorated function takes the
    `Start` that `begin` makes and the entry point is built here; without, it is the entry."""

    def wrap(fn: AnalyzerFn) -> AnalyzerFn:
        if defaults is None:
            ANALYZERS[name] = fn
            return fn

        @functools.wraps(fn)
        def entry(lake: Workspace | Lake, *, since: Any = None, until: Any = None, config: dict[str, Any] | None = None) -> AnalyzerResult:
            return fn(begin(lake, name, defaults, since, until, config))

        ANALYZERS[name] = entry
        return entry

    return wrap


def money(x: Decimal | float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def priced(low: Decimal, high: Decimal, base: Decimal, validated: bool) -> dict[str, Any]:
    """The money fields of a savings `Finding` from a monthly band [low, high] on a scope costing
    ``base`` a month: validated savings, or the same band kept apart as potential (never in totals)."""
    band = Savings(money(low), money(high))
    return {
        "monthly_savings_usd": band if validated else Savings(Decimal("0.00"), Decimal("0.00")),
        "validated": validated,
        "base_monthly_cost_usd": money(base),
        "fraction_low": float(low / base) if base else 0.0,
        "fraction_high": float(high / base) if base else 0.0,
        "potential_savings_usd": None if validated else band,
    }


def combine(findings: Iterable[Finding]) -> Savings:
    """Total validated monthly savings, combined per scope on the remaining cost (module doc).

    Scopes are (workflow, step); a finding with ``step=None`` covers the whole workflow and is
    applied to the workflow's remaining cost after its step findings. Only ``validated`` savings
    findings count.
    """
    by_workflow: dict[str | None, dict[str | None, list[Finding]]] = {}
    for f in findings:
        if f.validated and f.kind == "savings" and f.base_monthly_cost_usd > 0:
            by_workflow.setdefault(f.workflow, {}).setdefault(f.step, []).append(f)
    low = high = Decimal(0)
    for steps in by_workflow.values():
        step_low = step_high = Decimal(0)
        for step, items in steps.items():
            if step is None:
                continue
            saved = _apply(items, max(f.base_monthly_cost_usd for f in items))
            step_low += saved[0]
            step_high += saved[1]
        low += step_low
        high += step_high
        whole = steps.get(None)
        if whole:
            base = max(f.base_monthly_cost_usd for f in whole)
            # a workflow-wide finding applies to what the step findings left of the workflow
            low += _apply(whole, max(base - step_low, Decimal(0)))[0]
            high += _apply(whole, max(base - step_high, Decimal(0)))[1]
    return Savings(money(low), money(high))


def _apply(items: list[Finding], base: Decimal) -> tuple[Decimal, Decimal]:
    """Savings (low, high) of findings on one scope applied in `ORDER` to a cost base."""
    items = sorted(items, key=lambda f: ORDER.index(f.analyzer) if f.analyzer in ORDER else len(ORDER))
    keep_low = keep_high = Decimal(1)
    for f in items:
        keep_low *= Decimal(1) - Decimal(str(min(max(f.fraction_low, 0.0), 1.0)))
        keep_high *= Decimal(1) - Decimal(str(min(max(f.fraction_high, 0.0), 1.0)))
    return base * (1 - keep_low), base * (1 - keep_high)


def findings_frame(results: Iterable[AnalyzerResult]) -> pl.DataFrame:
    """All findings as one polars DataFrame (for notebooks)."""
    import polars as pl

    rows = []
    for r in results:
        for f in r.findings:
            d = f.to_dict()
            d["savings_low_usd"] = d["monthly_savings_usd"]["low"]
            d["savings_high_usd"] = d["monthly_savings_usd"]["high"]
            pot = d.pop("potential_savings_usd")
            d["potential_low_usd"] = pot["low"] if pot else None
            d["potential_high_usd"] = pot["high"] if pot else None
            d["evidence"] = str(d["evidence"])
            del d["monthly_savings_usd"]
            rows.append(d)
    return pl.DataFrame(rows, strict=False)


class Start(NamedTuple):
    """What every analyzer starts from (`begin`)."""

    ws: Workspace
    cfg: dict[str, Any]  # [analyze.<name>] over the analyzer's defaults
    since: datetime | None
    until: datetime | None
    con: Any  # the shared analyzers' connection (`Workspace.analysis_connection`)


def begin(
    lake: Workspace | Lake, name: str, defaults: dict[str, Any], since: Any, until: Any, config: dict[str, Any] | None
) -> Start:
    """The workspace over ``[since, until)`` with ``config`` (or the lake's own settings), the
    analyzer's settings and the shared connection: how every analyzer begins."""
    from costlab.analyze import stats
    from costlab.workspace import workspace

    ws = workspace(lake, config=config, since=since, until=until)
    cfg = stats.settings(ws.settings, name, defaults)
    return Start(ws, cfg, ws.period.since, ws.period.until, ws.analysis_connection())


def run(
    lake: Workspace | Lake,
    names: str | Iterable[str] = ORDER,
    on_start: Callable[[int, int, str], None] | None = None,
    **kwargs: Any,
) -> list[AnalyzerResult]:
    """Run the named analyzers in `ORDER` (imports them so they register). They share one
    materialised calls table (`Workspace.analysis_connection`) for this run; it is released at
    the end, so a second run in the same process (a notebook, a test) starts clean and sees new
    data. ``since``/``until``/``config`` in ``kwargs`` set the workspace's period and settings.
    ``names`` may be one name (``"caching"``, or ``"all"``) as well as a list; an unknown name is
    a `CostlabError` listing the known ones. ``on_start(i, n, name)`` is called before each
    analyzer (a progress bar): run them all in one call, not one call each, or the calls are
    built again for every analyzer."""
    import importlib

    import duckdb  # the analyzers' engine (already loaded by them; needed here for its errors)

    from costlab.errors import AnalyzerMemoryError, CostlabError
    from costlab.workspace import workspace

    if isinstance(names, str):
        names = ORDER if names == "all" else [names]
    wanted = list(names)
    for name in wanted:
        try:
            importlib.import_module(f"costlab.analyze.{name}")
        except ModuleNotFoundError:
            pass
        if name not in ANALYZERS:
            raise CostlabError(f"no analyzer {name!r}; analyzers: {', '.join(ORDER)} or all")
    ws = workspace(lake, since=kwargs.pop("since", None), until=kwargs.pop("until", None), config=kwargs.pop("config", None))
    order = [n for n in ORDER if n in wanted] + [n for n in wanted if n not in ORDER]
    try:
        results = []
        for i, name in enumerate(order):
            if on_start is not None:
                on_start(i, len(order), name)
            results.append(ANALYZERS[name](ws, **kwargs))
        return results
    except duckdb.OutOfMemoryException:  # at the analyzers' cap
        from costlab.workspace import ANALYSIS_MEMORY_LIMIT

        limit = ws.section("analyze").get("memory_limit") or ANALYSIS_MEMORY_LIMIT
        raise AnalyzerMemoryError(
            f"{ws.lake.path}: the analyzers need more memory for this period than [analyze] memory_limit "
            f"= {limit!r} allows; raise it in costlab.toml (e.g. memory_limit = \"4GB\"), choose a shorter "
            "--since, or leave the findings out (costlab report --no-findings)"
        ) from None
    finally:
        ws.release()


def report_findings(
    lake: Workspace | Lake, since: Any = None, until: Any = None, config: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], Savings]:
    """Every analyzer's findings as plain dicts (`Finding.to_dict`) and their combined validated
    monthly total (`combine`: on the remaining cost, never a plain sum), for ``costlab report``.
    ``since``/``until`` may be datetimes or text ('2026-10-01', '7d'; `costlab.periods`)."""
    results = run(lake, since=since, until=until, config=config)
    findings = [f for r in results for f in r.findings]
    return [f.to_dict() for f in findings], combine(findings)
