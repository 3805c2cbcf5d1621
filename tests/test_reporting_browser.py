"""The HTML report in a real browser (headless Chromium through playwright): it renders, the
console stays clean, it fetches nothing, hostile names from the data never run, and it reads on
a phone (390 px) as on a desktop (1280 px): no sideways page scroll, chart text >= 11 px, the
parts in reading order, the details collapsed.

Skipped when /usr/bin/chromium is missing, unless COSTLAB_REQUIRE_BROWSER=1 (set by .ci/run,
which installs Debian's `chromium` package), where a missing browser is a failure.
Screenshots go to pytest's tmp_path, and to reports/screenshots/ with COSTLAB_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import reportfixture as rf

from costlab.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"

# the rendered size of every SVG <text>: its computed font-size (user units) times the scale of
# its screen transform (the SVG is drawn scaled to its container)
SVG_TEXT_PX = """() => [...document.querySelectorAll('figure svg text')].map(t => {
  const m = t.getScreenCTM();
  return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
})"""
# every date token on the page sits on one line: its box is one line high
DATE_BOXES = """() => [...document.querySelectorAll('td.nw, span.nw')]
  .filter(e => /\\d{4}-\\d{2}-\\d{2}/.test(e.textContent) && e.getClientRects().length)
  .map(e => [e.textContent, e.getClientRects().length])"""


def _browser_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("COSTLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} missing and COSTLAB_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} missing (apt-get install -y chromium); set COSTLAB_REQUIRE_BROWSER=1 to fail instead")


def _open(html: str, tmp: Path, name: str, viewports: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Open the page at each viewport; collect everything the page did and measured."""
    from playwright.sync_api import sync_playwright

    path = tmp / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    seen: dict[str, Any] = {"console": [], "errors": [], "requests": [], "dialogs": [], "uri": path.as_uri()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for view, (width, height) in viewports.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.on("console", lambda m: seen["console"].append((m.type, m.text)))
                page.on("pageerror", lambda e: seen["errors"].append(str(e)))
                page.on("request", lambda r: seen["requests"].append(r.url))
                page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
                page.goto(path.as_uri(), wait_until="load")
                shot = tmp / f"{name}-{view}.png"
                page.screenshot(path=str(shot), full_page=True)
                if os.environ.get("COSTLAB_SCREENSHOTS") == "1":
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / shot.name), full_page=True)
                seen[view] = {
                    "screenshot": shot,
                    "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
                    "svg_text_px": page.evaluate(SVG_TEXT_PX),
                    "date_boxes": page.evaluate(DATE_BOXES),
                    "h2": page.eval_on_selector_all("h2", "els => els.map(e => e.textContent.trim())"),
                    "details": page.eval_on_selector_all("details", "els => els.map(e => [e.id, e.hasAttribute('open')])"),
                    "svg_sizes": page.eval_on_selector_all(
                        "figure svg",
                        "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
                    ),
                }
                # then as a reader who opens every detail: still no sideways scroll, text as large
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
                seen[view]["opened_scroll_width"] = page.evaluate("document.documentElement.scrollWidth")
                seen[view]["opened_svg_text_px"] = page.evaluate(SVG_TEXT_PX)
                seen[view]["opened_date_boxes"] = page.evaluate(DATE_BOXES)
                page.close()
            page = browser.new_page()
            page.goto(path.as_uri(), wait_until="load")
            seen["pwned"] = page.evaluate("typeof window.__pwned")
            seen["text"] = page.text_content("body")  # collapsed details included
            seen["svg"] = page.locator("svg").count()
            seen["tables"] = page.locator("table").count()
            seen["scripts"] = page.locator("script").count()
            seen["images"] = page.locator("img").count()
        finally:
            browser.close()
    return seen


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The renderer fixture as it is (every section in details), at desktop size."""
    _browser_or_skip()
    return _open(render_html(rf.build()), tmp_path_factory.mktemp("html"), "fixture", {"desktop": VIEWPORTS["desktop"]})


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A report with every part, at desktop and phone sizes."""
    _browser_or_skip()
    return _open(render_html(rf.build_parts()), tmp_path_factory.mktemp("html"), "report", VIEWPORTS)


def test_console_is_clean(opened: dict[str, Any], full: dict[str, Any]) -> None:
    for seen in (opened, full):
        assert seen["errors"] == []
        assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []


def test_hostile_names_never_run(opened: dict[str, Any]) -> None:
    assert opened["pwned"] == "undefined"  # neither <script> nor <img onerror> from the data ran
    assert opened["dialogs"] == []  # alert(1) / alert(2) never fired
    assert opened["scripts"] == 0 and opened["images"] == 0
    text = opened["text"]
    assert "<script>alert(1)</script>" in text
    assert "<script>window.__pwned=1</script>" in text
    assert '"><img src=x onerror=alert(2)>' in text


def test_renders_offline_with_charts(opened: dict[str, Any]) -> None:
    assert set(opened["requests"]) == {opened["uri"]}  # the page itself, nothing else
    # 5 chart kinds x 2 currencies (see test_reporting_render.test_html_content)
    assert opened["svg"] == 10
    # the details are collapsed: their charts have no box until opened
    assert len(opened["desktop"]["svg_sizes"]) == 10
    # 15 sections in the fixture, one empty (no table); the headline is cards, not a table
    assert opened["tables"] == 14
    assert "1,234.50" in opened["text"] and "costlab report" in opened["text"]


def test_parts_in_reading_order_details_collapsed(full: dict[str, Any]) -> None:
    for view in VIEWPORTS:
        assert full[view]["h2"] == [
            "Headline",
            "What to change",
            "Where the whole bill went",
            "Trends and anomalies",
            "Explain the gap: billed minus traced",
            "Details",
        ]
        details = full[view]["details"]
        # the tables under the bill-by-workflow and daily-trend charts (16 and 21 rows, over 12),
        # the 15 fixture sections (all in part "details") and the full finding list
        assert len(details) == 2 + 15 + 1 and details[-1] == ["s-findings", False]
        assert not any(is_open for _, is_open in details)
    text = full["text"]
    # the change line: 1,234.50 - 1,154.50 = 80.00, 6.9% of 1,154.50, against September
    assert "▲ $80.00 (+6.9%) vs 2026-09" in text
    # ranked: the validated 10-20 first, then the potential 400-900 (needs validation), then
    # the 120-180 fixture finding: rank_findings puts validated ones first by their high end
    assert text.index("Enable prompt caching") < text.index("Trim the history") < text.index("Route rerank")


def test_no_sideways_scroll_and_readable_charts(full: dict[str, Any]) -> None:
    for view, (width, _) in VIEWPORTS.items():
        seen = full[view]
        assert seen["scroll_width"] <= width and seen["opened_scroll_width"] <= width, view
        for boxes in (seen["date_boxes"], seen["opened_date_boxes"]):
            assert boxes, "date cells and labels are marked no-wrap"
            assert [d for d in boxes if d[1] != 1] == [], f"{view}: a date broke across lines"
        assert seen["screenshot"].stat().st_size > 10_000
    # bill by workflow (USD, EUR), by team, daily trend, gap causes, and the 10 fixture charts
    assert len(full["phone"]["svg_sizes"]) == 5 + 10
    phone = full["phone"]["opened_svg_text_px"]  # every chart, the details' too
    assert len(phone) > 100 and min(phone) >= 11, sorted(phone)[:5]
    # on a desktop the charts are capped (440 px for a 342 pt drawing): text about 15 px, not 20
    assert max(full["desktop"]["opened_svg_text_px"]) < 16
    assert all(w <= 440 for w, _ in full["desktop"]["svg_sizes"])
