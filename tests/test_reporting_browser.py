"""The HTML report in a real browser (headless Chromium through playwright): it renders, the
console stays clean, it fetches nothing, and hostile names from the data never run.

Skipped when /usr/bin/chromium is missing, unless COSTLAB_REQUIRE_BROWSER=1 (set by .ci/run,
which installs Debian's `chromium` package), where a missing browser is a failure.
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


def _browser_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("COSTLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} missing and COSTLAB_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} missing (apt-get install -y chromium); set COSTLAB_REQUIRE_BROWSER=1 to fail instead")


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Open the report once; collect everything the page did."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(rf.build()), encoding="utf-8")
    seen: dict[str, Any] = {"console": [], "errors": [], "requests": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(path.as_uri(), wait_until="load")
            seen["pwned"] = page.evaluate("typeof window.__pwned")
            seen["text"] = page.inner_text("body")
            seen["svg"] = page.locator("svg").count()
            seen["svg_sizes"] = page.eval_on_selector_all(
                "figure svg", "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])"
            )
            seen["tables"] = page.locator("table").count()
            seen["scripts"] = page.locator("script").count()
            seen["images"] = page.locator("img").count()
            seen["uri"] = path.as_uri()
        finally:
            browser.close()
    return seen


def test_console_is_clean(opened: dict[str, Any]) -> None:
    assert opened["errors"] == []
    assert [m for m in opened["console"] if m[0] in ("error", "warning")] == []


def test_hostile_names_never_run(opened: dict[str, Any]) -> None:
    assert opened["pwned"] == "undefined"  # neither <script> nor <img onerror> from the data ran
    assert opened["dialogs"] == []  # alert(1) / alert(2) never fired
    assert opened["scripts"] == 0 and opened["images"] == 0
    text = opened["text"]
    assert "<script>alert(1)</script>" in text
    assert "<script>window.__pwned=1</script>" in text
    assert '"><img src=x onerror=alert(2)>' in text


def test_renders_offline_with_charts(opened: dict[str, Any]) -> None:
    assert opened["requests"] == [opened["uri"]]  # the page itself, nothing else
    # 5 chart kinds x 2 currencies (see test_reporting_render.test_html_content)
    assert opened["svg"] == 10
    assert all(w > 100 and h > 50 for w, h in opened["svg_sizes"])
    # 15 sections in the fixture, one empty (no table); the headline is cards, not a table
    assert opened["tables"] == 14
    assert "1,234.50" in opened["text"] and "costlab report" in opened["text"]
