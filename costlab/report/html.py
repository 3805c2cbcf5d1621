"""The report as one self-contained HTML file (jinja2, autoescape on): inline CSS, inline SVG
charts (costlab.report.charts), no JavaScript, no external URL, so it opens offline and can be
mailed or archived as is. The standalone page also carries a Content-Security-Policy that allows
no script and no fetch, a second wall behind the escaping.

``standalone=False`` gives a fragment (scoped CSS + content) for Jupyter's ``_repr_html_``.
The template ships inside the package (costlab/report/templates/) and is read with
importlib.resources, so it works from an installed wheel.
"""

from __future__ import annotations

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

    from costlab.report.model import Report

TEMPLATE = "report.html.j2"


def _load(name: str) -> str:
    from importlib.resources import files

    return files("costlab.report").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _table(columns: list[str], rows: list[tuple[Any, ...]], top: int | None) -> dict[str, Any]:
    shown = rows if top is None else rows[:top]
    numeric = [is_numeric_column(rows, i) for i in range(len(columns))]
    return {
        "columns": [{"name": c, "num": n} for c, n in zip(columns, numeric, strict=True)],
        "rows": [
            [{"text": display(c, v), "num": n, "none": v is None} for c, v, n in zip(columns, r, numeric, strict=True)]
            for r in shown
        ],
        "more": more_rows_line(len(rows) - len(shown)) if len(shown) < len(rows) else None,
    }


def context(report: Report, standalone: bool = True, top: int | None = 200, charts: bool = True) -> dict[str, Any]:
    """Everything the template shows, as display strings (escaped by jinja2, not here)."""
    from markupsafe import Markup

    from costlab.report.charts import report_charts

    drawn = report_charts(report) if charts else {}
    headline = [
        {
            "currency": h.currency,
            "items": [
                ("billed", display("billed", h.billed)),
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
    sections = [
        {
            "key": s.key,
            "title": s.title,
            "note": s.note,
            "table": _table(s.columns, s.rows, top) if s.rows else None,
            # matplotlib escapes every text node and attribute of its SVG (charts module doc)
            "charts": [{"key": c.key, "title": c.title, "svg": Markup(c.svg)} for c in drawn.get(s.key, [])],
        }
        for s in report.sections
    ]
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
        "alerts": [{"kind": a.kind, "message": a.message} for a in report.alerts],
        "headline": headline,
        "sections": sections,
        "findings": findings,
        "savings": savings_text(report.savings) if report.savings else None,
        "show_findings": bool(report.findings) or report.section("findings") is None,
    }


def render_html(report: Report, standalone: bool = True, top: int | None = 200) -> str:
    """The HTML page (or fragment); ``top`` rows per table (None: all; the CSV has them all)."""
    return environment().get_template(TEMPLATE).render(context(report, standalone, top))
