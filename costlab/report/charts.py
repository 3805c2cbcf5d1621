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

from costlab.money_text import money_text
from costlab.report.markdown import display

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from costlab.report.model import Report, Section

P = ParamSpec("P")
R = TypeVar("R")

FONT_PT = 11.5
RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "costlab",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": FONT_PT,  # ticks, labels, legend: >= 11 CSS px on a phone (html test)
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": FONT_PT,
}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MAX_BARS = 12
MAX_STACKS = 6
MUTED = "#c5ccd3"  # context (days before the period) and the unattributed bucket
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


WIDTH_IN = 4.75  # 342 pt: drawn at about 1:1 on a 390 px phone (340-370 px wide), so text stays >= 11 px
CHAR_PT = 7.2  # advance of a FONT_PT sans-serif digit (DejaVu Sans: 0.636 em), for margins
LEGEND_CHARS = 22
LINE_PT = 16.0  # a bar's label line, above the bar


def _figure(height_pt: float, left_pt: float, bottom_pt: float, top_pt: float = 10.0) -> tuple[Figure, Axes]:
    """A figure with fixed margins in points: a layout engine (constrained/tight) measures every
    text twice and costs 2-3x the drawing; these charts have predictable furniture. The title is
    the HTML figure's caption (it wraps there), not part of the drawing."""
    from matplotlib.figure import Figure

    w_pt, h_pt = WIDTH_IN * 72, max(height_pt, 100.0)
    fig = Figure(figsize=(WIDTH_IN, h_pt / 72))
    fig.subplots_adjust(
        left=min(max(left_pt, 4.0), w_pt * 0.5) / w_pt,
        right=1 - 14 / w_pt,
        top=1 - top_pt / h_pt,
        bottom=bottom_pt / h_pt,
    )
    return fig, fig.add_subplot()


def _legend(fig: Figure, ax: Axes, ncol: int) -> None:
    """Below the plot, in drawing order (matplotlib would list the lines before the bars)."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(handles)), key=lambda i: type(handles[i]).__name__ == "Line2D")
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center",
               bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False, handlelength=1.2, columnspacing=1.0,
               borderaxespad=0.2)


def _money_axis(ax: Axes, axis: Literal["x", "y"], largest: float) -> None:
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(StrMethodFormatter("{x:,.2f}" if largest < 10 else "{x:,.0f}"))
    target.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=2))  # readable, not crowded, at 11 px
    ax.grid(axis=axis, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _y_margin(largest: float) -> float:
    """Left margin for money tick labels on the y axis."""
    return 10 + CHAR_PT * len(f"{largest:,.2f}" if largest < 10 else f"{largest:,.0f}")


def _day_ticks(ax: Axes, days: list[Any]) -> None:
    """At most 5 date ticks (3 when the year must show), never rotated."""
    short = len({str(d)[:4] for d in days}) == 1 and all(len(str(d)) >= 10 for d in days)
    step = max(1, math.ceil(len(days) / (5 if short else 3)))
    x = list(range(len(days)))
    ax.set_xticks(x[::step], [str(d)[5:10] if short else str(d)[:10] for d in days[::step]])
    ax.set_xlim(-0.6, len(days) - 0.4)


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


def _legend_label(text: str) -> str:
    return text if len(text) <= LEGEND_CHARS else text[: LEGEND_CHARS - 1] + "…"


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
        x = list(range(len(days)))
        stacks = []
        bottom = [0.0] * len(days)
        for name in series:
            vals = [
                sum(v for p, v in by_day.get(d, {}).items() if (p == name if name != "other" else p not in keep))
                for d in days
            ]
            stacks.append((name, vals, bottom))
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        tc = traced_cost.get(cur)
        ys = [tc.get(d, math.nan) for d in days] if tc else []
        largest = max([*bottom, *(y for y in ys if not math.isnan(y))], default=0.0)
        entries = len(series) + (1 if tc else 0)
        legend_pt = 18.0 * math.ceil(entries / 2)
        fig, ax = _figure(10 + 170 + 24 + legend_pt, left_pt=_y_margin(largest), bottom_pt=24 + legend_pt)
        for n, (name, vals, base) in enumerate(stacks):
            ax.bar(x, vals, bottom=base, color=PALETTE[n % len(PALETTE)], width=0.8,
                   label=_legend_label(f"billed: {name}"))
        if tc:
            ax.plot(x, ys, color="#111111", linewidth=1.6, marker="o", markersize=2.5, label="traced call cost")
        _day_ticks(ax, days)
        _money_axis(ax, "y", largest)
        _legend(fig, ax, min(entries, 2))
        charts.append(_render(fig, f"chart-cost-over-time-{_slug(cur)}", f"Cost over time ({cur})"))
    return charts


@styled
def daily_trend(sec: Section | None) -> list[Chart]:
    """Billed money per day with the traced cost as a line, one chart per currency; the days
    before the period (``in_period`` false) are context and drawn muted."""
    ix = _cols(sec, ("day", "currency", "billed", "traced", "in_period"))
    if sec is None or ix is None:
        return []
    charts = []
    for cur, rows in _by_currency(sec, [ix[0], ix[2], ix[3], ix[4]]).items():
        billed: dict[Any, float] = {}
        traced: dict[Any, float] = {}
        inside: dict[Any, bool] = {}
        for day, b, t, in_period in rows:
            if day is None:
                continue
            inside[day] = inside.get(day, False) or bool(in_period)
            if (vb := _num(b)) is not None:
                billed[day] = billed.get(day, 0.0) + vb
            if (vt := _num(t)) is not None:
                traced[day] = traced.get(day, 0.0) + vt
        if not billed and not traced:
            continue
        days = _timeline(set(inside))
        x = list(range(len(days)))
        muted = [not inside.get(d, False) for d in days]
        largest = max([*billed.values(), *traced.values(), 0.0])
        entries = (1 if billed else 0) + (1 if billed and any(muted) else 0) + (1 if traced else 0)
        legend_pt = 18.0 * math.ceil(entries / 2)
        fig, ax = _figure(10 + 170 + 24 + legend_pt, left_pt=_y_margin(largest), bottom_pt=24 + legend_pt)
        if billed:
            for is_muted, color, name in ((False, PALETTE[0], "billed"), (True, MUTED, "billed, before the period")):
                xs = [i for i, d in enumerate(days) if muted[i] == is_muted and d in billed]
                if xs:
                    ax.bar(xs, [billed[days[i]] for i in xs], color=color, width=0.8, label=name)
        if traced:
            ys = [traced.get(d, math.nan) for d in days]
            ax.plot(x, ys, color="#111111", linewidth=1.6, marker="o", markersize=2.5, label="traced call cost")
        if any(muted) and not all(muted):
            start = muted.index(False)
            ax.axvline(start - 0.5, color="#777777", linewidth=0.8, linestyle="--")
        _day_ticks(ax, days)
        _money_axis(ax, "y", largest)
        _legend(fig, ax, min(entries, 2))
        charts.append(_render(fig, f"chart-daily-trend-{_slug(cur)}", f"{sec.title} ({cur})"))
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
    key: str,
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    texts: list[str] | None = None,
    special: frozenset[int] = frozenset(),
) -> Chart:
    """Horizontal bars, first label on top, each label on its own line above its bar (so a long
    name takes the chart's whole width, not a margin). An unknown value draws no bar and is
    labelled '—'; ``special`` rows (the unattributed bucket) are grey and hatched; ``texts``
    replace the value labels of a single series."""
    from decimal import Decimal

    from matplotlib.transforms import blended_transform_factory

    n = len(series)
    bar_pt = 11.0 if n == 1 else 9.0
    item_pt = LINE_PT + n * bar_pt + 6.0
    legend_pt = 20.0 if n > 1 else 0.0
    bottom_pt = 24 + legend_pt
    fig, ax = _figure(10 + item_pt * len(labels) + bottom_pt, left_pt=6, bottom_pt=bottom_pt)
    ax.set_ylim(item_pt * len(labels), 0)  # y in points, top down
    known = [v for _, vals in series for v in vals if v is not None]
    lo, hi = min([0.0, *known]), max([0.0, *known])
    span = (hi - lo) or 1.0
    values = texts if texts is not None and n == 1 else None
    # room for the longest value label at a bar's end (on both sides when bars go both ways)
    longest = max(len(t) for t in values) if values else max(len(money_text(Decimal(repr(v)))) for v in [*known, 0.0])
    axes_pt = WIDTH_IN * 72 - 6 - 14
    ends = (lo < 0) + (hi > 0) or 1
    label_pt = min(CHAR_PT * longest + 10, axes_pt * 0.55 / ends)
    pad = span * label_pt / (axes_pt - ends * label_pt)
    ax.set_xlim(lo - pad if lo < 0 else 0.0, hi + pad if hi > 0 else span * 0.04)
    edge = blended_transform_factory(ax.transAxes, ax.transData)
    for i, lab in enumerate(labels):
        ax.text(0.0, i * item_pt + LINE_PT - 4, lab, transform=edge, ha="left", va="baseline",
                style="italic" if i in special else "normal")
    for k, (name, vals) in enumerate(series):
        pos = [i * item_pt + LINE_PT + (k + 0.5) * bar_pt for i in range(len(labels))]
        colors: list[str] = [PALETTE[k % len(PALETTE)]] * len(vals)
        if name == "change":
            colors = ["#D55E00" if (v or 0) > 0 else "#009E73" for v in vals]
        colors = [MUTED if i in special else c for i, c in enumerate(colors)]
        drawn = [math.nan if v is None else v for v in vals]
        bars = ax.barh(pos, drawn, height=bar_pt * 0.86, color=colors, label=name)
        for i, patch in enumerate(bars.patches):
            if i in special:
                patch.set_hatch("///")
                patch.set_edgecolor("#6b6b6b")
        shown = values if values is not None else ["—" if v is None else money_text(Decimal(repr(v))) for v in vals]
        ax.bar_label(bars, labels=shown, padding=3)
        for y, v in zip(pos, vals, strict=True):
            if v is None:  # bar_label skips NaN bars: mark the unknown explicitly
                ax.annotate("—", (0, y), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.axvline(0, color="#555555", linewidth=0.8)
    _money_axis(ax, "x", max(abs(lo), abs(hi)))
    if n > 1:
        _legend(fig, ax, n)
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
        charts.append(_hbars(f"chart-{_slug(name)}-{_slug(cur)}", title, [lab for lab, _ in vals], series))
    return charts


UNATTRIBUTED = frozenset({"(unattributed)", "unattributed"})


@styled
def bill_split(sec: Section | None, name: str, label_col: str) -> list[Chart]:
    """The whole bill split by ``label_col`` (workflow, team) per currency: every row's amount
    (column ``amount`` or ``billed``) and share, largest first, the unattributed bucket always shown and drawn distinctly; past
    MAX_BARS rows the smallest are folded into one 'N others' bar so the bars still add up."""
    if sec is None:
        return []
    amount = next((c for c in ("amount", "billed") if c in sec.columns), "amount")
    ix = _cols(sec, (label_col, amount, "currency"))
    if ix is None:
        return []
    team = sec.columns.index("team") if label_col == "workflow" and "team" in sec.columns else None
    share = sec.columns.index("share") if "share" in sec.columns else None
    from decimal import Decimal

    charts = []
    for cur, rows in _by_currency(sec, [ix[0], ix[1], team if team is not None else ix[0],
                                        share if share is not None else ix[1]]).items():
        items = []
        for who, amount, tm, sh in rows:
            v = _num(amount)
            if v is None:
                continue
            text = label(who)
            if team is not None and tm is not None and str(who) not in UNATTRIBUTED:
                with_team = f"{text} · {label(tm)}"
                text = with_team if len(with_team) <= LABEL_CHARS else text  # the name first
            items.append((text, v, sh if share is not None else None, str(who) in UNATTRIBUTED))
        if not items:
            continue
        items.sort(key=lambda t: (-t[1], t[0]))
        if len(items) > MAX_BARS:
            unattributed = [t for t in items if t[3]]
            others = [t for t in items if not t[3]]
            cut = MAX_BARS - 1 - len(unattributed)
            rest = others[cut:]
            rest_share = (
                sum((Decimal(str(t[2])) for t in rest), Decimal(0)) if all(t[2] is not None for t in rest) else None
            )
            kept = sorted([*others[:cut], *unattributed], key=lambda t: (-t[1], t[0]))
            items = [*kept, (f"{len(rest)} others", sum(t[1] for t in rest), rest_share, False)]
        texts = [money_text(Decimal(repr(v))) + (f" · {_share_text(sh)}" if sh is not None else "") for _, v, sh, _ in items]
        special = frozenset(i for i, t in enumerate(items) if t[3])
        charts.append(_hbars(f"chart-{_slug(name)}-{_slug(cur)}", f"{sec.title} ({cur})",
                             [t[0] for t in items], [("amount", [t[1] for t in items])], texts, special))
    return charts


def _share_text(value: Any) -> str:
    return display("share", value)


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
        charts.append(_hbars(f"chart-reconciliation-{_slug(cur)}", title, [i[0] for i in items], series))
    return charts


def report_charts(report: Report) -> dict[str, list[Chart]]:
    """The charts of a report, by the section key they illustrate (a section that is absent or
    lacks the columns a chart needs simply has no chart)."""
    out = {
        "bill_by_workflow": bill_split(report.section("bill_by_workflow"), "bill-workflow", "workflow"),
        "bill_by_team": bill_split(report.section("bill_by_team"), "bill-team", "team"),
        "daily_trend": daily_trend(report.section("daily_trend")),
        "gap_causes": ranked_bars(report.section("gap_causes"), "gap-causes", ("cause",), "amount", by_abs=True),
        "spend_by_day": cost_over_time(report.section("spend_by_day"), report.section("traced_by_day")),
        "cost_by_workflow": ranked_bars(report.section("cost_by_workflow"), "workflow", ("workflow",), "cost"),
        "cost_by_model": ranked_bars(report.section("cost_by_model"), "model", ("provider", "model"), "cost"),
        "top_movers": ranked_bars(report.section("top_movers"), "movers", ("workflow",), "change", by_abs=True),
        "reconciliation": reconciliation(report.section("reconciliation")),
    }
    if report.section("spend_by_day") is None and out["spend_by_day"]:
        out["traced_by_day"] = out.pop("spend_by_day")
    return {k: v for k, v in out.items() if v}
