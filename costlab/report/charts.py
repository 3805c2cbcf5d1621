"""Report charts as inline SVG, drawn by matplotlib (imported only when a chart is drawn).

Why SVG text and these settings: the HTML report is one offline file, so charts are markup, not
images fetched from anywhere. ``svg.fonttype='none'`` keeps labels as `<text>` (small, searchable;
matplotlib escapes ``<``, ``>``, ``&`` in text and attributes, so a ``<script>`` workflow name stays
text), ``text.parse_math=False`` stops a ``$`` in a name being read as TeX, a fixed
``svg.hashsalt`` plus no metadata block make the output byte-identical run to run (golden files),
and every ``id`` is prefixed per chart so several SVGs can share one page.

Amounts are converted to float here for drawing only; every table keeps the exact Decimal.
"""

from __future__ import annotations

import functools
import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from costlab.report.markdown import money_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from costlab.report.model import Report, Section

P = ParamSpec("P")
R = TypeVar("R")

RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "costlab",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MAX_BARS = 12
MAX_STACKS = 6
LABEL_CHARS = 40


@dataclass
class Chart:
    key: str  # unique on the page, [a-z0-9-] (HTML id and SVG id prefix)
    title: str
    svg: str  # sanitised inline <svg> element


def label(value: Any) -> str:
    """A chart label: one line, at most LABEL_CHARS characters."""
    text = " ".join(str("(none)" if value is None else value).split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


_TAG = re.compile(r"<[^<>]*>")
_ID = re.compile(r'\bid="([^"]*)"')
_URL = re.compile(r"url\(#([^)]*)\)")
_HREF = re.compile(r'href="#([^"]*)"')


def clean_svg(text: str, key: str, title: str) -> str:
    """matplotlib's SVG document as an inline element: no XML prolog, DOCTYPE or metadata, ids
    prefixed with ``key``, a <title> for screen readers. Only tags are rewritten: text nodes
    (where data lives) are already escaped by matplotlib and are left alone."""
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)

    def tag(m: re.Match[str]) -> str:
        t = _ID.sub(lambda i: f'id="{key}-{i[1]}"', m[0])
        t = _URL.sub(lambda u: f"url(#{key}-{u[1]})", t)
        return _HREF.sub(lambda h: f'href="#{key}-{h[1]}"', t)

    text = _TAG.sub(tag, text)
    open_end = text.index(">") + 1
    root = text[:open_end].replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" ', 1)
    return root + f"<title>{html.escape(title)}</title>" + text[open_end:].rstrip() + "\n"


def _render(fig: Figure, key: str, title: str) -> Chart:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return Chart(key, title, clean_svg(buf.getvalue(), key, title))


WIDTH_IN = 7.5
CHAR_PT = 5.4  # mean advance of a 9 pt sans-serif character, for the label margin


def _figure(height: float, left_pt: float, bottom_pt: float) -> tuple[Figure, Axes]:
    """A figure with fixed margins in points: a layout engine (constrained/tight) measures every
    text twice and costs 2-3x the drawing; these charts have predictable furniture."""
    from matplotlib.figure import Figure

    h = max(height, 1.6)
    fig = Figure(figsize=(WIDTH_IN, h))
    w_pt, h_pt = WIDTH_IN * 72, h * 72
    fig.subplots_adjust(
        left=min(max(left_pt, 40.0), w_pt * 0.5) / w_pt,
        right=1 - 16 / w_pt,
        top=1 - 24 / h_pt,
        bottom=bottom_pt / h_pt,
    )
    return fig, fig.add_subplot()


def _legend(fig: Figure, ncol: int) -> None:
    fig.legend(loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8, frameon=False)


def _money_axis(ax: Axes, axis: Literal["x", "y"], largest: float) -> None:
    from matplotlib.ticker import StrMethodFormatter

    fmt = StrMethodFormatter("{x:,.2f}" if largest < 10 else "{x:,.0f}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)
    ax.grid(axis=axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _cols(sec: Section | None, names: Sequence[str]) -> list[int] | None:
    if sec is None or not sec.rows or any(n not in sec.columns for n in names):
        return None
    return [sec.columns.index(n) for n in names]


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Draw under RC (deterministic, escaped, no TeX), whoever calls."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import matplotlib

        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


# -- charts ------------------------------------------------------------------------------------
@styled
def cost_over_time(spend: Section | None, traced: Section | None) -> list[Chart]:
    """Billed money per day stacked by provider (top providers, rest as 'other'), with the traced
    call cost as a line, one chart per currency."""
    s_ix = _cols(spend, ("day", "provider", "currency", "billed_cost"))
    t_ix = _cols(traced, ("day", "currency", "cost"))
    billed: dict[str, dict[Any, dict[str, float]]] = {}
    traced_cost: dict[str, dict[Any, float]] = {}
    if spend is not None and s_ix:
        for r in spend.rows:
            day, prov, cur, amount = (r[i] for i in s_ix)
            v = _num(amount)
            if cur is None or v is None:
                continue
            slot = billed.setdefault(str(cur), {}).setdefault(day, {})
            slot[label(prov)] = slot.get(label(prov), 0.0) + v
    if traced is not None and t_ix:
        for r in traced.rows:
            day, cur, amount = (r[i] for i in t_ix)
            v = _num(amount)
            if cur is None or v is None:
                continue
            per_day = traced_cost.setdefault(str(cur), {})
            per_day[day] = per_day.get(day, 0.0) + v
    charts = []
    for cur in sorted(set(billed) | set(traced_cost)):
        days = _timeline(set(billed.get(cur, {})) | set(traced_cost.get(cur, {})))
        by_day = billed.get(cur, {})
        totals: dict[str, float] = {}
        for slot in by_day.values():
            for p, v in slot.items():
                totals[p] = totals.get(p, 0.0) + v
        ranked = sorted(totals, key=lambda p: (-totals[p], p))
        keep = ranked if len(ranked) <= MAX_STACKS else ranked[: MAX_STACKS - 1]
        series = keep + (["other"] if len(ranked) > len(keep) else [])
        legend_rows = math.ceil((len(series) + 1) / 4)
        fig, ax = _figure(3.0 + 0.2 * legend_rows, left_pt=64, bottom_pt=34 + 14 * legend_rows)
        x = list(range(len(days)))
        bottom = [0.0] * len(days)
        for n, name in enumerate(series):
            vals = [
                sum(v for p, v in by_day.get(d, {}).items() if (p == name if name != "other" else p not in keep))
                for d in days
            ]
            ax.bar(x, vals, bottom=bottom, color=PALETTE[n % len(PALETTE)], width=0.8, label=f"billed: {name}")
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        largest = max(bottom, default=0.0)
        tc = traced_cost.get(cur)
        if tc:
            ys = [tc.get(d, math.nan) for d in days]
            ax.plot(x, ys, color="#111111", linewidth=1.6, marker="o", markersize=2.5, label="traced call cost")
            largest = max([largest, *(y for y in ys if not math.isnan(y))])
        step = max(1, math.ceil(len(days) / 8))
        years = {str(d)[:4] for d in days}
        ticks = [str(d)[5:10] if len(years) == 1 and len(str(d)) >= 10 else str(d)[:10] for d in days[::step]]
        ax.set_xticks(x[::step], ticks)
        ax.set_xlim(-0.6, len(days) - 0.4)
        _money_axis(ax, "y", largest)
        ax.set_ylabel(cur)
        title = f"Cost over time ({cur})"
        ax.set_title(title)
        _legend(fig, min(len(series) + 1, 4))
        charts.append(_render(fig, f"chart-cost-over-time-{_slug(cur)}", title))
    return charts


def _timeline(days: set[Any], fill_up_to: int = 120) -> list[Any]:
    """The x axis: every calendar day from first to last when that is at most ``fill_up_to``
    days (so a quiet day shows as a gap, not as nothing), else only the days with data."""
    from datetime import date, timedelta

    ordered = sorted(days, key=str)
    if ordered and all(type(d) is date for d in ordered):
        span = (ordered[-1] - ordered[0]).days + 1
        if span <= fill_up_to:
            return [ordered[0] + timedelta(days=i) for i in range(span)]
    return ordered


def _hbars(
    key: str, title: str, labels: list[str], series: list[tuple[str, list[float | None]]], currency: str
) -> Chart:
    """Horizontal bars, first label on top; an unknown value draws no bar and is labelled '—'."""
    from decimal import Decimal

    n = len(series)
    legend_pt = 18 if n > 1 else 0
    fig, ax = _figure(
        (60 + legend_pt) / 72 + 0.26 * len(labels) * n,
        left_pt=12 + CHAR_PT * max(len(lab) for lab in labels),
        bottom_pt=34 + legend_pt,
    )
    height = 0.8 / n
    ys = list(range(len(labels)))[::-1]
    known = [v for _, vals in series for v in vals if v is not None]
    for k, (name, vals) in enumerate(series):
        pos = [y + (n - 1) / 2 * height - k * height for y in ys]
        colors: Any = PALETTE[k % len(PALETTE)]
        if name == "change":
            colors = ["#D55E00" if (v or 0) > 0 else "#009E73" for v in vals]
        drawn = [math.nan if v is None else v for v in vals]
        bars = ax.barh(pos, drawn, height=height * 0.92, color=colors, label=name)
        texts = ["—" if v is None else money_text(Decimal(repr(v))) for v in vals]
        ax.bar_label(bars, labels=texts, padding=3, fontsize=7.5)
        for y, v in zip(pos, vals, strict=True):
            if v is None:  # bar_label skips NaN bars: mark the unknown explicitly
                ax.annotate("—", (0, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.5, len(labels) - 0.5)  # NaN (unknown) bars don't autoscale: keep their slot
    lo, hi = min([0.0, *known]), max([0.0, *known])
    span = (hi - lo) or 1.0
    ax.set_xlim(lo - span * 0.16 if lo < 0 else 0.0, hi + span * 0.16 if hi > 0 else span * 0.04)
    if lo < 0:
        ax.axvline(0, color="#555555", linewidth=0.8)
    _money_axis(ax, "x", max(abs(lo), abs(hi)))
    ax.set_xlabel(currency)
    ax.set_title(title)
    if n > 1:
        _legend(fig, n)
    return _render(fig, key, title)


def _by_currency(sec: Section, ix: list[int]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    cur_i = sec.columns.index("currency")
    for r in sec.rows:
        if r[cur_i] is not None:
            out.setdefault(str(r[cur_i]), []).append(tuple(r[i] for i in ix))
    return dict(sorted(out.items()))


@styled
def ranked_bars(sec: Section | None, name: str, label_cols: Sequence[str], value_col: str, by_abs: bool = False) -> list[Chart]:
    """Top MAX_BARS rows per currency by ``value_col`` as horizontal bars."""
    ix = _cols(sec, (*label_cols, value_col, "currency"))
    if sec is None or ix is None:
        return []
    charts = []
    for cur, rows in _by_currency(sec, ix[:-1]).items():
        items = [(" / ".join(label(x) for x in r[:-1]), _num(r[-1])) for r in rows]
        vals = [(lab, v) for lab, v in items if v is not None and (v != 0 or not by_abs)]
        vals.sort(key=lambda t: (-(abs(t[1]) if by_abs else t[1]), t[0]))
        vals = vals[:MAX_BARS]
        if not vals:
            continue
        title = f"{sec.title} ({cur})" + (f": top {MAX_BARS}" if len(items) > MAX_BARS else "")
        series: list[tuple[str, list[float | None]]] = [("change" if by_abs else value_col, [v for _, v in vals])]
        charts.append(_hbars(f"chart-{_slug(name)}-{_slug(cur)}", title, [lab for lab, _ in vals], series, cur))
    return charts


@styled
def reconciliation(sec: Section | None) -> list[Chart]:
    """Billed vs traced (and usage-priced when known) per provider / model, per currency."""
    ix = _cols(sec, ("provider", "model", "billed", "traced", "currency"))
    if sec is None or ix is None:
        return []
    extra = sec.columns.index("usage_priced") if "usage_priced" in sec.columns else None
    charts = []
    for cur, rows in _by_currency(sec, [*ix[:4], extra if extra is not None else ix[2]]).items():
        items = [(f"{label(p)} / {label(m)}", _num(b), _num(t), _num(u) if extra is not None else None) for p, m, b, t, u in rows]
        items = [i for i in items if i[1] is not None or i[2] is not None]
        items.sort(key=lambda i: (-max(i[1] or 0.0, i[2] or 0.0), i[0]))
        items = items[:MAX_BARS]
        if not items:
            continue
        series: list[tuple[str, list[float | None]]] = [("billed", [i[1] for i in items])]
        if any(i[3] is not None for i in items):
            series.append(("usage priced", [i[3] for i in items]))
        series.append(("traced", [i[2] for i in items]))
        title = f"Reconciliation: billed vs traced ({cur})"
        charts.append(_hbars(f"chart-reconciliation-{_slug(cur)}", title, [i[0] for i in items], series, cur))
    return charts


def report_charts(report: Report) -> dict[str, list[Chart]]:
    """The charts of a report, by the section key they illustrate."""
    out = {
        "spend_by_day": cost_over_time(report.section("spend_by_day"), report.section("traced_by_day")),
        "cost_by_workflow": ranked_bars(report.section("cost_by_workflow"), "workflow", ("workflow",), "cost"),
        "cost_by_model": ranked_bars(report.section("cost_by_model"), "model", ("provider", "model"), "cost"),
        "top_movers": ranked_bars(report.section("top_movers"), "movers", ("workflow",), "change", by_abs=True),
        "reconciliation": reconciliation(report.section("reconciliation")),
    }
    if report.section("spend_by_day") is None and out["spend_by_day"]:
        out["traced_by_day"] = out.pop("spend_by_day")
    return {k: v for k, v in out.items() if v}
