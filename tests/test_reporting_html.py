"""The HTML page's structure without a browser: the reading order of its parts, the headline's
change against the previous period, the one-line findings, the collapsed details, and the
whole-bill and daily-trend charts (tests/test_reporting_browser.py looks at it in Chromium)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import reportfixture as rf

from costlab.report import charts
from costlab.report.html import change_parts, nowrap_dates, previous_label, render_html
from costlab.report.model import Headline, Report, Section


def _report(**kw: Any) -> Report:
    return Report(lake="l", generated_at=datetime(2026, 11, 1, tzinfo=UTC), since=None, until=None, **kw)


def test_previous_label() -> None:
    sept = _report(previous_since=datetime(2026, 9, 1, tzinfo=UTC), previous_until=datetime(2026, 10, 1, tzinfo=UTC))
    assert previous_label(sept) == "2026-09"  # a whole calendar month
    week = _report(previous_since=datetime(2026, 10, 18, tzinfo=UTC), previous_until=datetime(2026, 10, 25, tzinfo=UTC))
    assert previous_label(week) == "2026-10-18 to 2026-10-24"  # the end is excluded: last day 24
    day = _report(previous_since=datetime(2026, 10, 18, tzinfo=UTC), previous_until=datetime(2026, 10, 19, tzinfo=UTC))
    assert previous_label(day) == "2026-10-18"
    assert previous_label(_report()) == "the previous period"


def test_change_parts() -> None:
    up = Headline("USD", D("1234.5"), None, None, None, 0, 0, None, D("1154.5"), D("80"), D("6.9"))
    assert change_parts(up, "2026-09") == ["▲ $80.00 (+6.9%)", "vs 2026-09"]
    down = Headline("EUR", D("87.7"), None, None, None, 0, 0, None, D("100"), D("-12.3"), D("-12.3"))
    assert change_parts(down, "2026-09") == ["▼ €12.30 (-12.3%)", "vs 2026-09"]
    # from nothing: no percentage (x / 0), the amount alone; an unknown currency has no sign
    new = Headline("CHF", D("5"), None, None, None, 0, 0, None, D("0"), D("5"), None)
    assert change_parts(new, "2026-09") == ["▲ 5.00", "vs 2026-09"]
    # this period's bill unknown, the previous known: say what it was
    gone = Headline("USD", None, None, None, None, 0, 0, None, D("100"), None, None)
    assert change_parts(gone, "2026-09") == ["$100.00", "in 2026-09"]
    assert change_parts(Headline("USD", D("1"), None, None, None, 0, 0, None), "x") == []


def test_nowrap_dates_escapes_first() -> None:
    text = str(nowrap_dates("<b>2026-10-21</b> to 2026-10-22 09:30:00 in 2026-10, not x2026-10-01"))
    assert text == (
        '&lt;b&gt;<span class="nw">2026-10-21</span>&lt;/b&gt; to <span class="nw">2026-10-22 09:30:00</span>'
        ' in <span class="nw">2026-10</span>, not x2026-10-01'
    )


def test_page_in_reading_order() -> None:
    page = render_html(rf.build_parts())
    h2 = re.findall(r"<h2>([^<]*)</h2>", page)
    assert h2 == ["Headline", "What to change", "Where the whole bill went", "Trends and anomalies",
                  "Explain the gap: billed minus traced", "Details"]
    # the headline's change: 1,234.50 - 1,154.50 = 80.00 = 6.9% of 1,154.50, against September
    assert '<span class="nw">▲ $80.00 (+6.9%)</span> <span class="nw">vs 2026-09</span>' in page
    assert page.index('id="s-headline"') < page.index('id="s-alerts"') < page.index('id="s-todo"')
    # what to change: one line per finding, in the report's (ranked) order, with its tier
    todo = page[page.index('id="s-todo"') : page.index('id="p-bill"')]
    lines = re.findall(r"<li><strong>([^<]*)</strong>.*?</li>", todo)
    assert lines == ["Enable prompt caching on the system prompt &lt;prefix&gt;", "Trim the history", "Route rerank to gpt-4o-mini"]
    assert "120.00–180.00 USD/month" in todo and "validated, high confidence" in todo
    # the potential finding shows its potential band (400-900), with the model from its evidence
    assert "rag-search / rerank / gpt-4o</span> <span class=\"saves nw\">400.00–900.00 USD/month" in todo
    assert "potential, needs validation" in todo
    # each part holds its sections, in order; details are closed <details>, one per section
    bill = page[page.index('id="p-bill"') : page.index('id="p-trends"')]
    assert bill.index('id="s-bill_by_workflow"') < bill.index('id="s-bill_by_team"')
    assert 'id="s-daily_trend"' in page[page.index('id="p-trends"') : page.index('id="p-gap"')]
    # under a chart, a table over 12 rows starts folded (bill by workflow: 16 rows; by team: 2)
    assert bill.count('<details class="rows">\n<summary>The table: 16 rows</summary>') == 1
    assert bill.count("<details") == 1
    details = page[page.index('id="p-details"') :]
    assert details.count("<details ") == 16 and "<details open" not in page  # 15 sections + findings
    assert '<details id="s-cost_by_user">\n<summary>Cost by user <span class="count">25 rows</span></summary>' in details


def test_empty_parts_are_left_out_and_unknown_sections_render() -> None:
    report = _report(sections=[Section("odd_trend", "An odd trend", ["day", "note"], [(date(2026, 10, 2), "x" * 40)], part="trends")])
    page = render_html(report)
    assert re.findall(r"<h2>([^<]*)</h2>", page) == ["Headline", "What to change", "Trends and anomalies"]
    # a date cell and a short text stay on one line; a 40-character text may wrap
    assert '<td class="nw"><span class="nw">2026-10-02</span></td><td>' + "x" * 40 + "</td>" in page
    assert "<details" not in page and 'href="#p-details"' not in page


def test_bill_split_chart() -> None:
    drawn = charts.report_charts(rf.build_parts())
    eur, usd = drawn["bill_by_workflow"]
    texts = lambda c: re.findall(r"<text[^>]*>([^<]*)</text>", c.svg)  # noqa: E731
    # 14 EUR workflows (20.00 down to 7.00, 7% each): 11 bars, then the 3 smallest folded into
    # one: 9 + 8 + 7 = 24.00 and 3 x 7% = 21.0%; the name with its team is too long: name alone
    assert "batch-job-10-with-a-rather-long-name" in texts(eur) and "3 others" in texts(eur)
    assert "24.00 · 21.0%" in texts(eur) and "<pattern" not in eur.svg
    # USD: the unattributed bucket is drawn grey and hatched
    assert texts(usd)[-4:] == ["support-chat · cx", "unattributed", "1,000.25 · 81.0%", "234.25 · 19.0%"]
    assert usd.svg.count("<pattern") == 1 and charts.MUTED in usd.svg
    # the bucket stays visible when it is the smallest of many (also in the contract's shape,
    # `amount` and '(unattributed)'): 14 workflows of 100..87 and 1.00 unattributed give 10
    # workflows, the bucket, then 4 others (90+89+88+87 = 354.00)
    rows = [(f"w{i:02d}", None, "USD", D(100 - i), None) for i in range(14)] + [("(unattributed)", None, "USD", D(1), None)]
    (chart,) = charts.bill_split(Section("bill_by_workflow", "B", ["workflow", "team", "currency", "amount", "share"], rows), "b", "workflow")
    labels = [t for t in texts(chart) if not t[0].isdigit() or t.endswith("others")]
    assert labels == [*(f"w{i:02d}" for i in range(10)), "(unattributed)", "4 others"]  # the fold goes last
    assert "354.00" in texts(chart)


def test_daily_trend_mutes_days_before_the_period() -> None:
    (chart,) = charts.report_charts(rf.build_parts())["daily_trend"]
    # 7 context days (2026-09-24..30) muted, plus their legend patch
    assert chart.svg.count(f"fill: {charts.MUTED}") == 7 + 1
    assert ["billed", "billed, before the period", "traced call cost"] == re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)[-3:]
