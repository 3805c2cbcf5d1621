"""Renderers of the Report (terminal, Markdown, CSV, HTML) on the constructed report in
tests/reportfixture.py. Expected lines are written out by hand from the fixture's numbers; the
Markdown and tidy CSV are also pinned by golden files (COSTLAB_UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
import reportfixture as rf
from hypothesis import given
from hypothesis import strategies as st

from costlab.report import charts
from costlab.report.csvout import render_csv, render_csv_text, render_csv_zip
from costlab.report.html import render_html
from costlab.report.markdown import display, md_escape, md_table, money_text, render_markdown
from costlab.report.model import Report, Section
from costlab.report.terminal import make_console, render_terminal

GOLDEN = Path(__file__).resolve().parent / "golden"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("COSTLAB_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with COSTLAB_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then COSTLAB_UPDATE_GOLDEN=1"


# -- display rules -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("cost", D("1234.5"), "1,234.50"),
        ("cost", D("1234567.891"), "1,234,567.89"),
        ("cost", D("3.085"), "3.09"),  # half-up for reading (JSON/CSV keep 3.085)
        ("cost", D("0.0042"), "0.0042"),  # would be 0.00: two significant digits instead
        ("cost", D("-0.000021"), "-0.000021"),
        ("cost", D("0"), "0.00"),
        ("cost", None, "—"),
        ("cost_per_call", D("0.066722222222"), "0.0667"),  # unit costs: 4 decimals
        ("coverage", D("0.6579"), "65.8%"),  # fraction: 0.6579 x 100 = 65.79 -> 65.8
        ("change_pct", D("-48.0"), "-48.0%"),  # already percent
        ("units", D("1500"), "1,500"),
        ("calls", 9000, "9,000"),
        ("flag", True, "yes"),
        ("ratio", 1.5, "1.5"),
        ("ratio", 12345.6, "12,346"),  # floats: 4 significant digits, no exponent
        ("ratio", 1.234e-05, "0.00001234"),
        ("first_seen", datetime(2026, 10, 2, 9, 30, tzinfo=UTC), "2026-10-02 09:30:00"),
    ],
)
def test_display(column: str, value: object, text: str) -> None:
    assert display(column, value) == text


def test_money_text_places() -> None:
    assert money_text(D("0.500416666667"), 4) == "0.5004"
    assert money_text(D("0.00001234"), 4) == "0.000012"


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=12))
def test_money_display_is_close_and_plain(d: D) -> None:
    text = display("cost", d)
    assert "e" not in text.lower()
    shown = D(text.replace(",", ""))
    if abs(d) >= D("0.01") or d == 0:
        assert abs(shown - d) <= D("0.005")  # rounded to the cent
    else:
        assert shown != 0 and abs(shown - d) <= abs(d) * D("0.05")  # two significant digits


# -- Markdown ----------------------------------------------------------------------------------
def test_markdown_golden() -> None:
    golden("render_fixture.md", render_markdown(rf.build()))


def test_markdown_lines() -> None:
    md = render_markdown(rf.build()).splitlines()
    assert md[0] == "# costlab report"
    assert md[2] == (
        "Period 2026-10-01 to 2026-11-01 (end excluded); lake /data/costlab; generated 2026-11-01 02:15 UTC by costlab 0.1.0."
    )
    # each alert once, as its message says it (the message names its kind)
    assert "- budget exceeded: total spent 1,234.50 USD in 2026-10 against a budget of 1,000.00 USD" in md
    assert not any("**budget**" in line for line in md)
    # headline: EUR has no billing data, so billed/attributed/unattributed/coverage are unknown
    assert "| EUR | — | — | — | — | 45.60 | — | 320 | 0 |" in md
    # USD traced 250.123456789012 -> 250.12; coverage 0.6579 -> 65.8%
    # no previous period in the fixture: the change is unknown (—), never +0
    assert "| USD | 1,234.50 | — | 1,000.25 | 234.25 | 250.12 | 65.8% | 9,000 | 7 |" in md
    # hostile names are inert text; the pipe inside a team name does not split the cell
    assert (
        "| &lt;script&gt;alert(1)&lt;/script&gt; | — | USD | 10 | 200 | 1,000 | 500 | 0.0042 | 0 | 0.00042 | 0.000021 |"
        in md
    )
    assert (
        "| &lt;script&gt;window.__pwned=1&lt;/script&gt; | ops\\|infra | USD | 4 | 40 | 4,000 | 400 | 12.34 | 0 | 3.0850 | 0.3085 |"
        in md
    )
    assert '| &lt;script&gt;alert(1)&lt;/script&gt; | "&gt;&lt;img src=x onerror=alert(2)&gt; | gpt-4o-mini | USD | 200 | 0.0042 |' in md
    assert "| support-chat | answer<br>with newline | claude-sonnet-4-5 | USD | 9,000 | 600.50 |" in md
    assert "| rag \\`search\\` | EUR | 30.00 | 15.60 | -14.40 | -48.0% |" in md
    # 25 users, top 15 shown: 25 - 15 = 10 hidden
    assert "… 10 more rows (use --format csv)" in md
    assert "| user15@example.com | USD | 150 | 15.50 |" in md
    assert not any("user16@" in line for line in md)
    assert "### Nothing here" in md and "Nothing in this period." in md
    assert "1. **Repeated 2,400-token system prompt prefix in \\`answer\\`** (caching; support-chat / answer)" in md
    assert "   - Savings per month (USD): 120.00–180.00 (validated; confidence high)" in md
    assert "   - Evidence: calls=9,000, prefix_tokens=2,400, hit_rate=62.0%" in md
    assert not any("<script" in line or "<img" in line for line in md)


def test_markdown_top_none_shows_all_rows() -> None:
    md = render_markdown(rf.build(), top=None)
    assert "| user25@example.com | USD | 250 | 25.50 |" in md and "more rows" not in md


_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@given(st.text())
def test_md_escape_is_inert(text: str) -> None:
    out = md_escape(text)
    assert "<" not in out.replace("<br>", "") and ">" not in out.replace("<br>", "")
    assert "\n" not in out and "\r" not in out
    assert not _UNESCAPED_PIPE.search(out.replace("\\\\", ""))


@given(st.lists(st.text(), min_size=3, max_size=3))
def test_md_table_row_keeps_its_cells(cells: list[str]) -> None:
    row = md_table(["a", "b", "c"], [tuple(cells)])[2]
    # 3 cells -> 4 separators, whatever the data holds
    assert len(_UNESCAPED_PIPE.findall(row.replace("\\\\", ""))) == 4


# -- terminal ----------------------------------------------------------------------------------
def _terminal(top: int | None = 15, full: bool = True) -> str:
    buf = io.StringIO()
    render_terminal(rf.build(), make_console(buf, width=160), top=top, full=full)
    return buf.getvalue()


def test_terminal_lines() -> None:
    out = _terminal()
    lines = out.splitlines()
    assert lines[0].startswith("costlab report  2026-10-01 to 2026-11-01 (end excluded) · lake /data/costlab")
    assert lines[1] == "budget exceeded: total spent 1,234.50 USD in 2026-10 against a budget of 1,000.00 USD"  # as is
    assert "\x1b[" not in out  # not a terminal: no colour codes
    # headline panels, EUR on the left (unknown billed), USD on the right
    assert "│ billed                  — │ │ billed              1,234.50 │" in out
    assert "│ vs previous period      — │ │ vs previous period         — │" in out
    assert "│ coverage                — │ │ coverage               65.8% │" in out
    assert "│ traced calls          320 │ │ traced calls           9,000 │" in out
    # money right-aligned with separators, unknown as an em dash
    assert " 2026-10-02 │ azure     │ EUR      │       30.00 │              — " in out
    assert " │ ops|infra │ USD      │     4 │    40 │        4,000 │           400 │  12.34 │" in out
    # rich markup in data prints as itself
    assert " [red]ops[/red] │ USD      │    40 │  12.34 " in out
    assert '"><img src=x onerror=alert(2)>' in out
    assert "… 10 more rows (use --format csv)" in out
    assert "user16@" not in out
    assert "Nothing here: nothing in this period" in out
    assert "│ 120.00–180.00 │ yes       │ high" in out


@pytest.mark.parametrize("width", [60, 100])
def test_terminal_numbers_never_wrap(width: int) -> None:
    """On a narrow terminal every number shown prints whole on one line and every line fits:
    text columns give way (cut with an ellipsis), then columns are left out from the right with
    a note. Before, 44,006,547 printed as `44,006,` over `547`."""
    from costlab.report import markdown as md
    from costlab.report import terminal

    report = rf.build()
    checked = left_out = 0
    for sec in report.sections:
        if not sec.rows:
            continue
        table, _, narrow = terminal._table(sec, None, width)
        buf = io.StringIO()
        make_console(buf, width=width).print(table)
        out = buf.getvalue()
        assert all(len(line) <= width for line in out.splitlines()), sec.key
        left_out += narrow
        for i, col in enumerate(sec.columns[: len(sec.columns) - narrow]):
            if md.is_numeric_column(sec.rows, i):
                for r in sec.rows:
                    assert md.display(col, r[i]) in out, (sec.key, col, r[i])
                    checked += 1
    assert checked > 50
    assert left_out > 0  # the fixture's widest sections do not fit in 100 columns
    buf = io.StringIO()  # and the whole report says when columns are left out
    render_terminal(report, make_console(buf, width=width), top=None, full=True)
    assert "more columns (a wider terminal, or --format csv)" in buf.getvalue()
    assert "more columns" not in _terminal()  # 160 columns: everything fits


def test_report_repr_is_one_short_line() -> None:
    text = repr(rf.build())
    assert "\n" not in text and len(text) < 120
    assert text.startswith("<Report 2026-10-01..2026-11-01 of /data/costlab:")


def test_terminal_details_behind_full() -> None:
    """Without --full the terminal shows the headline, what to change and the main parts; the
    fixture's sections are all details, so they are named in one line instead."""
    short = _terminal(full=False)
    assert "What to change" in short
    assert "1. $120.00–180.00/month (validated, high confidence)  support-chat / answer: " in short
    assert "15 detail tables and the findings' evidence: costlab report --full" in short
    assert "user15@example.com" not in short and "user15@example.com" in _terminal(full=True)


def test_terminal_all_rows() -> None:
    out = _terminal(top=None)
    assert "user25@example.com" in out and "more rows" not in out


def test_make_console_off_a_terminal_is_wide_and_plain() -> None:
    console = make_console(io.StringIO())
    assert console.width == 200 and not console.is_terminal and console.color_system is None


# -- CSV ---------------------------------------------------------------------------------------
def _tidy() -> str:
    buf = io.StringIO()
    assert render_csv(rf.build(), buf) == []
    return buf.getvalue()


def test_csv_tidy_golden() -> None:
    golden("render_fixture.csv", _tidy())
    assert render_csv_text(rf.build()) == _tidy()


def test_csv_tidy_lines_keep_exact_decimals() -> None:
    lines = _tidy().splitlines()
    assert lines[0] == "section,row,column,value"
    assert "report,0,schema,costlab.report/1" in lines
    assert "headline,0,billed," in lines  # unknown: empty, not 0
    assert "headline,1,traced_cost,250.123456789012" in lines
    assert "headline,1,coverage,0.6579" in lines
    assert "spend_by_day,2,effective_cost,118.000000000001" in lines
    assert "cost_by_workflow,2,workflow,<script>alert(1)</script>" in lines
    assert "cost_by_workflow,0,cost_per_run,0.500416666667" in lines
    assert "unpriced,0,first_seen,2026-10-02T09:30:00+00:00" in lines
    assert "custom_extra,0,flag,true" in lines
    assert "findings,0,monthly_savings_usd.low,120" in lines
    assert "findings,0,evidence.hit_rate,0.62" in lines
    assert "findings,0,potential_savings_usd," in lines


def test_csv_tidy_round_trips_every_cell() -> None:
    report = rf.build()
    rows = list(csv.DictReader(io.StringIO(_tidy())))
    cells = {(r["section"], int(r["row"]), r["column"]): r["value"] for r in rows}
    for sec in report.sections:
        for i, row in enumerate(sec.rows):
            for col, v in zip(sec.columns, row, strict=True):
                text = cells[(sec.key, i, col)]
                if v is None:
                    assert text == ""
                elif isinstance(v, D):
                    assert D(text) == v
    # USD cost_by_workflow cost: 600.5 + 12.34 + 0.0042 = 612.8442 (the (none) row is unknown)
    total = sum(
        D(cells[("cost_by_workflow", i, "cost")])
        for i in range(5)
        if cells[("cost_by_workflow", i, "currency")] == "USD" and cells[("cost_by_workflow", i, "cost")]
    )
    assert total == D("612.8442")


def test_csv_directory(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    written = render_csv(rf.build(), str(out) + "/")
    names = [p.name for p in written]
    assert names[:3] == ["report.csv", "headline.csv", "alerts.csv"]
    assert names[3] == "findings.csv"  # ranked findings before the sections, as every format
    assert "cost_by_workflow.csv" in names and "cost_by_empty.csv" in names
    with (out / "cost_by_workflow.csv").open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][:3] == ["workflow", "team", "currency"]
    assert table[3] == ["<script>alert(1)</script>", "", "USD", "10", "200", "1000", "500", "0.0042", "0", "0.00042", "0.000021"]
    assert (out / "cost_by_empty.csv").read_text() == "workflow,cost\n"  # header even when empty
    again = render_csv(rf.build(), out)  # an existing directory is a directory without the slash
    assert [p.name for p in again] == names
    data = render_csv_zip(rf.build())
    assert data == render_csv_zip(rf.build())  # reproducible bytes
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == names
        assert zf.read("cost_by_workflow.csv").decode() == (out / "cost_by_workflow.csv").read_text()


# -- HTML --------------------------------------------------------------------------------------
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(rf.build())


def test_html_is_inert_and_offline(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    # data sits in text nodes, where < and > are escaped: so every <...> is a real tag, and no tag
    # carries an event handler
    tags = re.findall(r"<[^<>]*>", page)
    assert not [t for t in tags if re.search(r"\son[a-z]+\s*=", t, flags=re.I)]
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= SVG_NAMESPACES
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_html_content(page: str) -> None:
    # 5 chart kinds x 2 currencies (EUR, USD): cost over time, workflow, model, movers, reconciliation
    assert page.count("<svg ") == 10
    assert '<dt>billed</dt><dd>1,234.50</dd>' in page
    assert '<dt>coverage</dt><dd>65.8%</dd>' in page
    assert '<td class="num none">—</td>' in page
    assert '<li>budget exceeded: total spent 1,234.50 USD' in page and '<strong>budget</strong>' not in page  # once
    assert 'id="s-cost_by_workflow"' in page and 'href="#s-findings"' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "every id on the page is unique (charts prefix theirs)"
    for ref in set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', page)):
        target = ref[0] or ref[1]
        assert target in ids, f"dangling reference #{target}"


def test_html_svg_text_is_escaped(page: str) -> None:
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    texts = " ".join(t for s in svgs for t in re.findall(r"<text[^>]*>([^<]*)</text>", s))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in texts
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in texts


def test_html_deterministic_and_fragment(page: str) -> None:
    report = rf.build()
    assert render_html(report) == page
    frag = report._repr_html_()
    assert frag == render_html(report, standalone=False)
    assert "<html" not in frag and "<!DOCTYPE" not in frag and 'class="costlab-report"' in frag
    assert frag.count("<svg ") == 10 and "<script" not in frag.lower()


def test_charts_take_dollar_signs_and_long_names_as_text() -> None:
    sec = Section(
        "cost_by_workflow",
        "Cost by workflow",
        ["workflow", "currency", "cost"],
        [("price $x^2$ \\frac{a}{b}", "USD", D("5")), ("x" * 100, "USD", D("1"))],
    )
    (chart,) = charts.ranked_bars(sec, "workflow", ("workflow",), "cost")
    assert ">price $x^2$ \\frac{a}{b}</text>" in chart.svg
    assert ">" + "x" * 39 + "…</text>" in chart.svg  # labels cut at 40 characters


def test_empty_report_renders_everywhere(tmp_path: Path) -> None:
    empty = Report(lake="l", generated_at=datetime(2026, 1, 1, tzinfo=UTC), since=None, until=None)
    md = render_markdown(empty)
    assert "Period start of data to now (end excluded)" in md and "No findings." in md
    assert "<svg" not in render_html(empty)
    buf = io.StringIO()
    render_terminal(empty, make_console(buf, width=100))
    assert buf.getvalue().startswith("costlab report")
    assert render_csv(empty, tmp_path / "r.csv") == [tmp_path / "r.csv"]


def test_template_ships_inside_the_package() -> None:
    from importlib.resources import files

    assert files("costlab.report").joinpath("templates").joinpath("report.html.j2").is_file()
    assert files("costlab.report").joinpath("templates").joinpath("report.css").is_file()


def test_a_finding_without_a_saving_is_not_called_potential(tmp_path: Path) -> None:
    """"What to change" once called the caching analyzer's "already well cached: nothing to
    change" (kind info, no band) "potential, needs validation (medium confidence)". Each tier
    from the three kinds of finding, through markdown, the terminal's lines and HTML; the Codex
    fixtures (two sessions, no caching to add) give such a finding end to end."""
    from typer.testing import CliRunner

    from costlab import ingest
    from costlab.cli import app
    from costlab.report.html import _saves
    from costlab.report.markdown import change_lines

    band = {"low": D("1.00"), "high": D("2.00")}
    zero = {"low": D("0"), "high": D("0")}
    base = {"analyzer": "caching", "workflow": "wf", "step": "s", "action": "act", "confidence": "medium"}
    validated = {**base, "validated": True, "monthly_savings_usd": band}
    potential = {**base, "validated": False, "monthly_savings_usd": zero, "potential_savings_usd": band}
    info = {**base, "validated": False, "monthly_savings_usd": zero, "potential_savings_usd": None, "kind": "info"}
    assert [c["tier"] for c in change_lines([validated, potential, info])] == [
        "validated, medium confidence", "potential, needs validation (medium confidence)", "no saving claimed",
    ]
    assert [_saves(f)["tier"] for f in (validated, potential, info)] == [
        "validated, medium confidence", "potential, needs validation", "no saving claimed",
    ]
    ingest([Path(__file__).parent / "fixtures" / "codex"], lake=tmp_path / "lake")
    r = CliRunner().invoke(app, ["report", "--lake", str(tmp_path / "lake"), "--format", "markdown"])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "Nothing to change for prompt caching" in x)
    assert "(no saving claimed)" in line and "potential" not in line
