"""The report as GitHub-flavoured Markdown (chat, pull requests, `Report._repr_markdown_`).

Also home of the display rules every human-facing renderer shares (terminal, Markdown, HTML), so
a number looks the same everywhere: money with thousands separators and 2 decimals (4 for
``*_per_*`` unit costs; a non-zero amount under a cent keeps 2 significant digits, so it is never
shown as 0.00), unknown as an em dash (never 0), ``coverage``/``*_share``/``*_rate``
fractions and ``*_pct`` percents as %.
Machine formats (JSON, CSV) keep every digit instead.

Data is escaped so a workflow called ``<script>`` or ``a|b`` stays inert text in a table cell,
and a control character in it (ESC, a bidirectional override) is shown as an escape.
The output is deterministic for a given report (golden files pin it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from costlab.money_text import money_text

if TYPE_CHECKING:
    from costlab.report.model import Report, Section

DASH = "—"
COUNT_COLUMNS = {"units", "calls", "runs", "tokens", "requests", "count"}


# -- display rules (shared) --------------------------------------------------------------------
def is_percent(column: str) -> bool:
    """Already in percent units (``change_pct`` = 12.5 means 12.5 %)."""
    return column.endswith("_pct") or column == "pct"


def is_fraction(column: str) -> bool:
    """A 0..1 share shown as a percentage (``coverage`` = 0.8734 is 87.3 %)."""
    return (column in {"coverage", "share", "rate"} or column.endswith(("_share", "_rate", "_coverage"))
            or column.startswith("share_"))  # fmt: skip


def is_count(column: str) -> bool:
    return column in COUNT_COLUMNS or column.endswith(("_tokens", "_calls", "_runs", "_units"))


def is_unit_cost(column: str) -> bool:
    """``cost_per_call``, ``cost_per_unit``, ``price``, ``list_price``: small amounts that need
    more than 2 decimals."""
    return "_per_" in column or column == "price" or column.endswith("_price")


def grouped(d: Decimal) -> str:
    from costlab.report.text import dec_text

    text = dec_text(d)
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}" + (f".{frac}" if frac else "")


def _float_text(v: float) -> str:
    """A measured quantity (seconds, ratios): four significant digits, never an exponent."""
    if v == 0 or abs(v) >= 1000 or not math.isfinite(v):
        return f"{v:,.0f}" if math.isfinite(v) else str(v)
    d = Decimal(repr(v))
    return format(d.quantize(Decimal(1).scaleb(d.adjusted() - 3), rounding=ROUND_HALF_UP).normalize(), "f")


def display(column: str, value: Any) -> str:
    """One cell as people read it (see the module doc)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (Decimal, float)):
        if isinstance(value, float) and value != value:  # NaN: unknown
            return DASH
        if is_percent(column):
            return f"{Decimal(str(value)):,.1f}%"
        if is_fraction(column):
            return f"{Decimal(str(value)) * 100:,.1f}%"
        if isinstance(value, float):
            return _float_text(value)
        if is_count(column):
            return grouped(value)
        return money_text(value, 4 if is_unit_cost(column) else 2)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        from costlab.report.text import to_json

        return to_json(value, indent=None)
    return str(value)


def is_numeric_column(rows: Sequence[Sequence[Any]], index: int) -> bool:
    """Right-align a column whose known values are numbers."""
    seen = False
    for r in rows:
        v = r[index]
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
            return False
        seen = True
    return seen


def more_rows_line(hidden: int) -> str:
    return f"… {hidden:,} more rows (use --format csv)"


def finding_scope(f: dict[str, Any]) -> str:
    parts = [str(f[k]) for k in ("workflow", "step") if f.get(k) is not None]
    return " / ".join(parts) if parts else "all workflows"


def savings_text(s: Any) -> str:
    """'12.00–30.00' from {'low', 'high'}; em dash when absent."""
    if not isinstance(s, dict):
        return DASH
    low, high = s.get("low"), s.get("high")
    if low is None and high is None:
        return DASH
    lo = display("savings", low) if low is not None else DASH
    hi = display("savings", high) if high is not None else DASH
    return lo if lo == hi else f"{lo}–{hi}"


#: How many findings "What to change" lists (the rest are in the details).
TOP_CHANGES = 5


def change_text(h: Any) -> str:
    """The headline's billed change against the previous period: '+12.30 (+6.9%)', '-3.00',
    or an em dash when there is no comparable previous period."""
    if h.change is None:
        return DASH
    sign = "+" if h.change > 0 else ""
    pct = f" ({'+' if h.change_pct > 0 else ''}{h.change_pct:,.1f}%)" if h.change_pct is not None else ""
    return f"{sign}{display('change', h.change)}{pct}"


def previous_text(report: Report) -> str:
    """'2026-09-01 to 2026-10-01' for the headline's change column."""
    if report.previous_since is None or report.previous_until is None:
        return "previous period"
    return f"{period_label(report.previous_since)} to {period_label(report.previous_until)}"


def change_lines(findings: Sequence[dict[str, Any]], top: int = TOP_CHANGES) -> list[dict[str, str]]:
    """The first ``top`` findings (already ranked: validated by dollars, then potential) as what
    a lead reads: the monthly saving, its evidence tier, where, and the action."""
    from costlab.report.model import tier_text, validated_saving

    out = []
    for f in findings[:top]:
        validated = validated_saving(f)
        band = f.get("monthly_savings_usd") if validated else f.get("potential_savings_usd")
        evidence = f.get("evidence")
        ev: dict[str, Any] = evidence if isinstance(evidence, dict) else {}
        model = f.get("model") or ev.get("current_model") or ev.get("model")
        where = finding_scope(f) + (f" ({model})" if model else "")
        out.append({
            "saving": f"${savings_text(band)}/month" if band else DASH,
            "tier": tier_text(f),
            "where": where,
            "action": str(f.get("action") or f.get("title") or DASH),
            "analyzer": str(f.get("analyzer", "?")),
        })
    return out


def _evidence_value(key: str, v: Any) -> str:
    if isinstance(v, dict):
        if set(v) == {"low", "high"}:
            lo, hi = display(key, v["low"]), display(key, v["high"])
            return lo if lo == hi else f"{lo}–{hi}"
        return "{" + ", ".join(f"{k}: {display(str(k), x)}" for k, x in v.items()) + "}"
    return display(key, v)


def evidence_text(evidence: Any, limit: int = 8) -> str:
    """The first ``limit`` evidence items as 'key=value' (the JSON has them all)."""
    if not isinstance(evidence, dict) or not evidence:
        return ""
    items = list(evidence.items())
    text = ", ".join(f"{k}={_evidence_value(str(k), v)}" for k, v in items[:limit])
    return text + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def period_text(report: Report) -> str:
    start = period_label(report.since) or "start of data"
    end = period_label(report.until) or "now"
    return f"{start} to {end} (end excluded)"


# -- Markdown ----------------------------------------------------------------------------------
_MD_BACKSLASH = str.maketrans({c: "\\" + c for c in "\\`*[]|~"})


def md_escape(value: str) -> str:
    """Inert inline text: Markdown punctuation backslashed, HTML characters as entities, control
    characters and bidirectional overrides as visible escapes (`costlab.report.tables.printable`; line
    breaks become ``<br>``)."""
    from costlab.report.text import printable

    text = printable(value, keep="\r\n").translate(_MD_BACKSLASH)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def md_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    align = ["---:" if is_numeric_column(rows, i) else "---" for i in range(len(columns))]
    out = ["| " + " | ".join(md_escape(c) for c in columns) + " |", "| " + " | ".join(align) + " |"]
    for r in rows:
        out.append("| " + " | ".join(md_escape(display(c, v)) for c, v in zip(columns, r, strict=True)) + " |")
    return out


def _section(sec: Section, top: int | None) -> list[str]:
    out = [f"### {md_escape(sec.title)}", ""]
    if sec.note:
        out += [md_escape(sec.note), ""]
    if not sec.rows:
        return [*out, "Nothing in this period.", ""]
    shown = sec.rows if top is None else sec.rows[:top]
    out += md_table(sec.columns, shown)
    if len(shown) < len(sec.rows):
        out += ["", more_rows_line(len(sec.rows) - len(shown))]
    return [*out, ""]


def _findings(findings: Sequence[dict[str, Any]], savings: Any = None) -> list[str]:
    out = ["### All findings", ""]
    if savings:
        out += [f"Validated savings per month (USD): {md_escape(savings_text(savings))}, combined on the "
                "remaining cost (never summed); potential savings need validation first.", ""]
    if not findings:
        return [*out, "No findings.", ""]
    for i, f in enumerate(findings, 1):
        head = f"{i}. **{md_escape(str(f.get('title', '')))}** ({md_escape(str(f.get('analyzer', '?')))}; {md_escape(finding_scope(f))})"
        out.append(head)
        if f.get("action"):
            out.append(f"   - Action: {md_escape(str(f['action']))}")
        validated = "validated" if f.get("validated") else "not validated"
        out.append(
            f"   - Savings per month (USD): {md_escape(savings_text(f.get('monthly_savings_usd')))} "
            f"({validated}; confidence {md_escape(str(f.get('confidence', DASH)))})"
        )
        if f.get("potential_savings_usd"):
            out.append(
                f"   - Potential, needs validation first (USD): {md_escape(savings_text(f['potential_savings_usd']))}"
            )
        ev = evidence_text(f.get("evidence"))
        if ev:
            out.append(f"   - Evidence: {md_escape(ev)}")
    return [*out, ""]


def _headline_rows(report: Report) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols = ["currency", "billed", f"change vs {previous_text(report)}", "attributed", "unattributed", "traced",
            "coverage", "traced calls", "unpriced calls"]  # fmt: skip
    rows = [
        (h.currency, h.billed, change_text(h), h.attributed, h.unattributed, h.traced_cost, h.coverage,
         h.traced_calls, h.unpriced_calls)  # fmt: skip
        for h in report.headline
    ]
    return cols, rows


def _changes(report: Report) -> list[str]:
    out = ["## What to change", ""]
    scope = ["", md_escape(report.findings_scope)] if report.findings_scope else []
    if not report.findings:
        return [*out, md_escape(report.findings_note or "No findings."), *scope, ""]
    for i, c in enumerate(change_lines(report.findings), 1):
        out.append(f"{i}. **{md_escape(c['saving'])}** ({md_escape(c['tier'])}): {md_escape(c['where'])}: "
                   f"{md_escape(c['action'])}")  # fmt: skip
    if report.savings:
        out += ["", f"Validated savings per month (USD), all findings: {md_escape(savings_text(report.savings))}, "
                "combined on the remaining cost (never summed)."]  # fmt: skip
    more = len(report.findings) - TOP_CHANGES
    if more > 0:
        out += ["", f"{more} more findings with their evidence under Details."]
    if report.findings_note:  # an analyzer was skipped: its findings are missing
        out += ["", md_escape(report.findings_note)]
    return [*out, *scope, ""]


def render_markdown(report: Report, top: int | None = 15) -> str:
    """The whole report as Markdown, in reading order (`costlab.report.model.PARTS`); ``top`` rows
    per section (None: all)."""
    from costlab.report.model import PARTS

    out = [
        "# costlab report",
        "",
        f"Period {md_escape(period_text(report))}; lake {md_escape(report.lake)}; generated "
        f"{report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}"
        + (f" by costlab {md_escape(report.version)}" if report.version else "")
        + ".",
        "",
    ]
    if report.notice:
        out += [f"**{md_escape(report.notice)}**", ""]
    if report.headline or report.alerts:
        out += ["## Headline", ""]
    if report.headline:
        out += md_table(*_headline_rows(report)) + [""]
    if report.alerts:  # each message names its kind
        out += [f"- {md_escape(a.message)}" for a in report.alerts] + [""]
    if report.notice:  # the period holds no data: the line above says it all
        return "\n".join(out).rstrip("\n") + "\n"
    out += _changes(report)
    for part, heading in PARTS:
        sections = report.part(part)
        if not sections and not (part == "details" and report.findings):
            continue
        out += [f"## {heading}", ""]
        for sec in sections:
            out += _section(sec, top)
        if part == "details" and report.findings:
            out += _findings(report.findings, report.savings)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def period_label(value: date | datetime | None) -> str:
    return "" if value is None else value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
