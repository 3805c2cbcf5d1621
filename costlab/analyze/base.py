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
from datetime import date, datetime
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
        @functools.wraps(fn)
        def entry(
            lake: Workspace | Lake, *, since: Any = None, until: Any = None, config: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> AnalyzerResult:  # fmt: skip
            from costlab.workspace import workspace

            ws, _ = with_recent(workspace(lake, config=config, since=since, until=until))
            if defaults is None:
                return fn(ws, **kwargs)
            return fn(begin(ws, name, defaults, None, None, None), **kwargs)

        ANALYZERS[name] = entry
        return entry

    return wrap


#: Without a start (no ``--since``), the analyzers read the lake's last this many UTC days with
#: calls (``[analyze] default_days``; 0: every call). Findings are about how the system runs now,
#: and their time and memory then follow 30 days of calls, not the history.
DEFAULT_DAYS = 30


class Recent(NamedTuple):
    """The analyzers' period when `recent` narrows it: from ``since`` (00:00 UTC) through the
    UTC day ``last``, ``days`` days."""

    since: datetime
    last: date
    days: int

    def note(self) -> str:
        """One line for the report and ``costlab analyze``."""
        return (
            f"Findings cover the last {self.days} days with calls, {self.since.date().isoformat()} to "
            f"{self.last.isoformat()}; --since chooses another period ([analyze] default_days = 0: every call)."
        )


def recent(ws: Workspace) -> Recent | None:
    """The period the analyzers read when ``ws`` has no start: the last ``[analyze] default_days``
    UTC days with calls before its end, found from the ``day=`` partitions of the stored
    call_facts (no data read). None (``ws`` as it is) when it has a start, the setting is 0, the
    lake has no stored call_facts, or its calls lie within that many days, where the answers
    are the same as over every call."""
    from datetime import UTC, timedelta

    from costlab.errors import CostlabError
    from costlab.rollups import day_of

    raw = ws.section("analyze").get("default_days", DEFAULT_DAYS)
    if type(raw) is not int or raw < 0:
        raise CostlabError(f"costlab.toml [analyze] default_days: {raw!r} is not a whole number of days; use e.g. 30, or 0 for every call")
    if ws.period.since is not None or raw == 0:
        return None
    until = ws.period.until
    tables = ws.lake.manifest().tables
    days = {
        d for rel in tables.get("call_facts", [])
        if (d := day_of(rel)) is not None and (until is None or datetime(d.year, d.month, d.day, tzinfo=UTC) < until)
    }  # fmt: skip
    if not days or (max(days) - min(days)).days < raw:
        return None
    start = max(days) - timedelta(days=raw - 1)
    return Recent(datetime(start.year, start.month, start.day, tzinfo=UTC), max(days), raw)


def with_recent(ws: Workspace) -> tuple[Workspace, Recent | None]:
    """``ws`` over the days the analyzers read (`recent`: without a start, the last days with
    calls) and that window (None: ``ws`` as it is). Decided once per command: the narrowed
    workspace has a start, so the analyzers it is passed to keep it."""
    window = recent(ws)
    return (ws if window is None else ws.with_period(window.since, ws.period.until)), window


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
    built again for every analyzer. When several run, one whose own working set cannot fit (the
    caching replay, `ReplayMemoryError`) is skipped with ``summary["skipped"]`` saying why, and
    the others still run; run alone, it raises."""
    import importlib

    import duckdb  # the analyzers' engine (already loaded by them; needed here for its errors)

    from costlab.errors import AnalyzerMemoryError, CostlabError, ReplayMemoryError
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
    ws, _ = with_recent(
        workspace(lake, since=kwargs.pop("since", None), until=kwargs.pop("until", None), config=kwargs.pop("config", None))
    )
    order = [n for n in ORDER if n in wanted] + [n for n in wanted if n not in ORDER]
    try:
        results = []
        for i, name in enumerate(order):
            if on_start is not None:
                on_start(i, len(order), name)
            try:
                results.append(ANALYZERS[name](ws, **kwargs))
            except ReplayMemoryError as ex:
                if len(order) == 1:
                    raise
                results.append(AnalyzerResult(name, summary={"skipped": str(ex)}))
        return results
    except duckdb.OutOfMemoryException:  # at the analyzers' cap
        limit, spill = ws.analysis_limits()
        raise AnalyzerMemoryError(
            f"{ws.lake.path}: the analyzers need more memory for this period than [analyze] memory_limit "
            f"= {limit!r} allows, spilling at most spill_limit = {spill!r} to disk; raise them in "
            f"costlab.toml (e.g. memory_limit = {_doubled(limit)!r}), choose a shorter --since, or leave the "
            "findings out (costlab report --no-findings)"
        ) from None
    finally:
        ws.release()


def _doubled(size: str) -> str:
    """Twice a DuckDB size such as ``1GB`` or ``1.5 GiB`` (checked by the workspace): the next
    limit to suggest, never the one that just ran out."""
    import re

    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(\w+)", size.strip())
    if m is None:
        return "4GB"
    n = float(m.group(1)) * 2
    return f"{n:g}{m.group(2)}"


def report_findings(
    lake: Workspace | Lake, since: Any = None, until: Any = None, config: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], Savings, dict[str, str]]:
    """Every analyzer's findings as plain dicts (`Finding.to_dict`), their combined validated
    monthly total (`combine`: on the remaining cost, never a plain sum) and the analyzers that
    were skipped with why (`run`), for ``costlab report``. ``since``/``until`` may be datetimes
    or text ('2026-10-01', '7d'; `costlab.periods`)."""
    results = run(lake, since=since, until=until, config=config)
    findings = [f for r in results for f in r.findings]
    return [f.to_dict() for f in findings], combine(findings), skipped_analyzers(results)


def skipped_analyzers(results: Iterable[AnalyzerResult]) -> dict[str, str]:
    """The analyzers `run` skipped, each with why (``summary["skipped"]``), in run order."""
    return {r.analyzer: r.summary["skipped"] for r in results if "skipped" in r.summary}
