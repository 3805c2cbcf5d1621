"""The report as one self-contained HTML file (jinja2, autoescape on): inline CSS, inline SVG
charts (costlab.report.charts), no JavaScript, no external URL, so it opens offline and can be
mailed or archived as is. The standalone page also carries a Content-Security-Policy that allows
no script and no fetch, a second wall behind the escaping.

``standalone=False`` gives a fragment (scoped CSS + content) for Jupyter's ``_repr_html_``.
The template ships inside the package (costlab/report/templates/) and is read with
importlib.resources, so it works from an installed wheel.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from costlab.report.markdown import (
    DASH,
    display,
    evidence_text,
    finding_scope,
    is_numeric_column,
    more_rows_line,
    period_text,
    savings_text,
)

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

    from costlab.report.charts import Chart
    from costlab.report.model import Headline, Report, Section

TEMPLATE = "report.html.j2"


def _load(name: str) -> str:
    from importlib.resources import files

    return files("costlab.report").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["nw"] = nowrap_dates
    return env


# a date or timestamp token (2026-10-21, 2026-10, 2026-10-02 09:30:00): never broken across lines
_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}(?:-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?)?(?![\w-])")
CURRENCY_SIGN = {"USD": "$", "EUR": "€", "GBP": "£"}
TOP_FINDINGS = 5
FOLD_ROWS = 12  # a longer table under a chart in the main parts starts folded (the chart says it)
NOWRAP_CHARS = 28  # a cell this short stays on one line (names, emails); the table scrolls instead
LONG_CHARS = 80  # a cell this long is a sentence: it gets a wider column


def nowrap_dates(value: Any) -> Markup:
    """Escaped text with every date token wrapped in a no-wrap span (a phone would otherwise
    break 2026-10-21 at a hyphen). Escaping comes first; a date token has no markup characters."""
    from markupsafe import Markup, escape

    return Markup(_DATE.sub(lambda m: f'<span class="nw">{m[0]}</span>', str(escape(value))))


def _cell_class(value: Any, text: str, numeric: bool) -> str:
    """num: right-aligned, never wrapped; none: unknown (muted); nw: a date or a short name,
    kept on one line (the table scrolls in its box instead)."""
    short = isinstance(value, (date, datetime)) or len(text) <= NOWRAP_CHARS
    long = len(text) > LONG_CHARS and not numeric  # a sentence (the gap's detail): a wider column, fewer lines
    return " ".join(c for c, on in (("num", numeric), ("none", value is None), ("nw", short and not numeric),
                                    ("long", long)) if on)  # fmt: skip


def _table(columns: list[str], rows: list[tuple[Any, ...]], top: int | None) -> dict[str, Any]:
    shown = rows if top is None else rows[:top]
    numeric = [is_numeric_column(rows, i) for i in range(len(columns))]
    return {
        "columns": [{"name": c, "num": n} for c, n in zip(columns, numeric, strict=True)],
        "rows": [
            [
                {"text": t, "cls": _cell_class(v, t, n)}
                for c, v, n in zip(columns, r, numeric, strict=True)
                for t in (display(c, v),)
            ]
            for r in shown
        ],
        "more": more_rows_line(len(rows) - len(shown)) if len(shown) < len(rows) else None,
    }


def previous_label(report: Report) -> str:
    """The period the headline compares with: '2026-09' for a calendar month, else its first and
    last day ('2026-09-24 to 2026-09-30'; the stored end is excluded)."""
    since, until = report.previous_since, report.previous_until
    if since is None or until is None:
        return "the previous period"
    first, end = since.date(), until.date()
    if first.day == 1 and end.day == 1 and (end.year * 12 + end.month) - (first.year * 12 + first.month) == 1:
        return f"{first:%Y-%m}"
    last = end - timedelta(days=1) if until.time() == time(0) else end
    return first.isoformat() if last <= first else f"{first.isoformat()} to {last.isoformat()}"


def change_parts(h: Headline, against: str) -> list[str]:
    """'▲ $12.30 (+6.9%)', 'vs 2026-09': the billed change, as pieces that each stay on one line;
    empty when unknown."""
    sign = CURRENCY_SIGN.get(h.currency, "")
    if h.change is None:
        if h.previous_billed is None:
            return []
        return [f"{sign}{display('billed', h.previous_billed)}", f"in {against}"]
    arrow = "▲" if h.change > 0 else "▼" if h.change < 0 else "="
    text = f"{arrow} {sign}{display('change', abs(h.change))}"
    if h.change_pct is not None:
        text += f" ({'+' if h.change_pct > 0 else ''}{display('change_pct', h.change_pct)})"
    return [text, f"vs {against}"]


def _where(f: dict[str, Any]) -> str:
    scope = finding_scope(f)
    evidence = f.get("evidence")
    model = f.get("model") or (evidence.get("model") if isinstance(evidence, dict) else None)
    return f"{scope} / {model}" if model else scope


def _saves(f: dict[str, Any]) -> dict[str, Any]:
    """One line of 'what to change': the validated band when there is one, else the potential."""
    from costlab.report.model import tier_text, validated_saving

    monthly = f.get("monthly_savings_usd")
    validated = validated_saving(f)
    band = monthly if validated or not f.get("potential_savings_usd") else f["potential_savings_usd"]
    return {
        "action": str(f.get("action") or f.get("title") or DASH),
        "where": _where(f),
        "savings": savings_text(band),
        "validated": validated,
        "tier": tier_text(f, confidence=False),
    }


def _section(s: Section, top: int | None, drawn: dict[str, list[Chart]]) -> dict[str, Any]:
    from markupsafe import Markup

    return {
        "key": s.key,
        "title": s.title,
        "note": s.note,
        "rows": len(s.rows),
        "table": _table(s.columns, s.rows, top) if s.rows else None,
        # matplotlib escapes every text node and attribute of its SVG (charts module doc)
        "charts": [{"key": c.key, "title": c.title, "svg": Markup(c.svg)} for c in drawn.get(s.key, [])],
    }


def context(report: Report, standalone: bool = True, top: int | None = 200, charts: bool = True) -> dict[str, Any]:
    """Everything the template shows, as display strings (escaped by jinja2, not here), in the
    page's reading order: headline, what to change, the parts (PARTS), details."""
    from costlab.report.charts import report_charts
    from costlab.report.model import PARTS

    drawn = report_charts(report) if charts else {}
    against = previous_label(report)
    headline = [
        {
            "currency": h.currency,
            "billed": display("billed", h.billed),
            "change": change_parts(h, against),
            "direction": "up" if (h.change or 0) > 0 else "down" if (h.change or 0) < 0 else "flat",
            "items": [
                ("attributed", display("attributed", h.attributed)),
                ("unattributed", display("unattributed", h.unattributed)),
                ("traced", display("traced", h.traced_cost)),
                ("coverage", display("coverage", h.coverage)),
                ("traced calls", display("calls", h.traced_calls)),
                ("unpriced calls", display("calls", h.unpriced_calls)),
            ],
        }
        for h in report.headline
    ]
    main = [k for k, _ in PARTS if k != "details"]
    parts = [
        {"key": k, "title": t, "sections": [_section(s, top, drawn) for s in report.part(k)]}
        for k, t in PARTS
        if k != "details"
    ]
    details = [_section(s, top, drawn) for s in report.sections if s.part not in main]
    findings = [
        {
            "title": str(f.get("title", "")),
            "analyzer": str(f.get("analyzer", "?")),
            "scope": finding_scope(f),
            "action": str(f.get("action") or DASH),
            "savings": savings_text(f.get("monthly_savings_usd")),
            "potential": savings_text(f["potential_savings_usd"]) if f.get("potential_savings_usd") else None,
            "validated": bool(f.get("validated")),
            "confidence": str(f.get("confidence") or DASH),
            "evidence": evidence_text(f.get("evidence")),
        }
        for f in report.findings
    ]
    return {
        "standalone": standalone,
        "lake": report.lake,
        "period": period_text(report),
        "generated": f"{report.generated_at:%Y-%m-%d %H:%M} UTC",
        "version": report.version,
        "notice": report.notice,
        "fold_rows": FOLD_ROWS,
        "alerts": [{"kind": a.kind, "message": a.message} for a in report.alerts],
        "headline": headline,
        "todo": [_saves(f) for f in report.findings[:TOP_FINDINGS]],
        "more_findings": max(len(report.findings) - TOP_FINDINGS, 0),
        "parts": [p for p in parts if p["sections"]],
        "details": details,
        "findings": findings,
        "savings": savings_text(report.savings) if report.savings else None,
        "findings_note": report.findings_note,
        "findings_scope": report.findings_scope,
    }


def render_html(report: Report, standalone: bool = True, top: int | None = 200) -> str:
    """The HTML page (or fragment); ``top`` rows per table (None: all; the CSV has them all)."""
    return environment().get_template(TEMPLATE).render(context(report, standalone, top))
