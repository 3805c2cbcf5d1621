"""Rendering of analyzer results for ``costlab analyze``: JSON for machines, a table for people.

JSON: one analyzer gives ``{"analyzer", "summary", "findings"}`` (docs/schema.md); several give a list
of those plus a last element ``{"analyzer": "combined", "summary": {"monthly_savings_usd": ...},
"findings": []}`` with the total from `costlab.analyze.base.combine` (savings on the remaining
cost, never a plain sum), so a consumer can treat every element alike. An analyzer skipped because
its own working set would not fit (the caching replay) has no findings and ``summary.skipped``
saying why; the combined element lists it under ``skipped``.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from costlab.analyze.base import AnalyzerResult, Finding, combine, skipped_analyzers
from costlab.errors import CostlabError

FORMATS = ("table", "json")
#: Summary keys shown under the table, per analyzer (the JSON has them all).
_HEADLINE = {
    "caching": ("input_tokens", "shareable_prefix_ratio", "actual_cached_ratio", "monthly_savings_usd"),
    "waste": ("wasted_calls", "wasted_runs", "wasted_unpriced_calls", "wasted_monthly_usd"),
}


def payload(results: list[AnalyzerResult]) -> Any:
    """The JSON value for ``results`` (module docstring)."""
    if len(results) == 1:
        return results[0].to_dict()
    total = combine(f for r in results for f in r.findings)
    combined = {
        "analyzer": "combined",
        "summary": {
            "monthly_savings_usd": total.to_dict(),
            "analyzers": [r.analyzer for r in results],
            "skipped": list(skipped_analyzers(results)),
            "method": "validated savings findings combined per (workflow, step) on the cost "
            "left after earlier levers (caching, trimming, downgrade, batch, waste)",
        },
        "findings": [],
    }
    return [r.to_dict() for r in results] + [combined]


def _money(d: Decimal) -> str:
    from costlab.money_text import money_text

    return f"${money_text(d)}"


def _band(f: Finding) -> str:
    s = f.monthly_savings_usd
    if f.kind != "savings" or (s.low == 0 and s.high == 0):
        pot = f.potential_savings_usd
        if pot and pot.high > 0:
            return f"(potential {_money(pot.high)})"
        return "-"
    return _money(s.low) if s.low == s.high else f"{_money(s.low)}-{_money(s.high)}"


def rows(results: list[AnalyzerResult]) -> tuple[list[str], list[tuple[Any, ...]]]:
    names = ["analyzer", "workflow / step", "finding", "action", "$/month", "confidence", "kind"]
    data = []
    for r in results:
        for f in r.findings:
            where = "/".join(x for x in (f.workflow, f.step) if x) or "(all)"
            data.append((r.analyzer, where, f.title, f.action, _band(f), f.confidence, f.kind))
    return names, data


def render(results: list[AnalyzerResult], fmt: str) -> None:
    """Print ``results`` as JSON (exact decimals) or a rich table with a savings line."""
    from costlab.report import tables as out

    if fmt not in FORMATS:
        raise CostlabError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "json":
        sys.stdout.write(out.to_json(payload(results)) + "\n")
        return
    names, data = rows(results)
    skipped = skipped_analyzers(results)
    if data:
        out.rows(names, data, "table", title="findings (savings are per 30 days)")
    elif skipped:  # not an all-clear: an analyzer did not run
        sys.stdout.write("No findings from the analyzers that ran.\n")
    else:
        sys.stdout.write("No findings: nothing to recommend for the calls in this period.\n")
    for name, why in skipped.items():  # why names the lake's path: control characters escaped
        sys.stdout.write(out.printable(f"{name}: not run, its findings are missing: {why}") + "\n")
    for r in results:
        keys = _HEADLINE.get(r.analyzer, ())
        bits = [f"{k}={_fmt(r.summary[k])}" for k in keys if k in r.summary]
        if bits:
            sys.stdout.write(f"{r.analyzer}: " + ", ".join(bits) + "\n")
        if r.summary.get("note"):  # what the numbers leave out (waste: sessions not read as runs)
            sys.stdout.write(f"{r.analyzer}: {r.summary['note']}\n")
    total = combine(f for r in results for f in r.findings)
    sys.stdout.write(
        f"validated savings per month: {_money(total.low)} to {_money(total.high)} "
        "(combined on the remaining cost, not summed)\n"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, dict) and set(v) == {"low", "high"}:
        return f"{_money(Decimal(v['low']))}-{_money(Decimal(v['high']))}"
    if isinstance(v, float):
        return f"{v:.1%}" if v <= 1 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
