"""The report on a terminal with rich: the headline per currency with the alerts, what to change,
then the bill, trends and gap parts (top rows only; the CSV has them all); the details part and
every finding's evidence behind ``--full``.

Every data value goes in as `rich.text.Text` through `_text`, never as markup, so a workflow
called ``[red]x`` or ``[/]`` prints as itself instead of styling (or crashing) the table, and its
control characters are shown escaped (`costlab.report.tables.printable`). Colour follows the console:
none off a terminal or with NO_COLOR (rich decides); `make_console` fixes the width in cron.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from costlab.report import markdown as md
from costlab.report.tables import printable

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

    from costlab.report.model import Headline, Report, Section


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for reports (`costlab.report.tables.console`: no markup; width 200 off a terminal)."""
    from costlab.report.tables import console

    return console(file, width)


def _text(value: str, style: str = "") -> Text:
    """Data as inert text: no markup, control characters escaped."""
    from rich.text import Text

    return Text(printable(value), style=style)


def _headline_panel(h: Headline, previous: str) -> RenderableType:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    for label, col, value in (
        ("billed", "billed", h.billed),
        (f"vs {previous}", None, md.change_text(h)),
        ("attributed", "attributed", h.attributed),
        ("unattributed", "unattributed", h.unattributed),
        ("traced", "traced", h.traced_cost),
        ("coverage", "coverage", h.coverage),
        ("traced calls", "calls", h.traced_calls),
        ("unpriced calls", "calls", h.unpriced_calls),
    ):
        grid.add_row(_text(label), _text(md.display(col, value) if col else str(value)))
    return Panel(grid, title=_text(h.currency), title_align="left", expand=False)


def _table(sec: Section, top: int | None, width: int) -> tuple[RenderableType, int, int]:
    """The section as a table that fits ``width``: numbers keep their full width, text columns
    give way (cut with an ellipsis), and columns that still do not fit are left out from the
    right. Returns the table, the rows left out and the columns left out."""
    from rich.table import Table
    from rich.text import Text

    shown = sec.rows if top is None else sec.rows[:top]
    # as printed: control characters escaped (`printable`), so widths are what the terminal shows
    cells = [[printable(md.display(c, r[i])) for r in shown] for i, c in enumerate(sec.columns)]
    natural = [max([len(printable(c)), *(len(v) for v in cells[i])]) for i, c in enumerate(sec.columns)]
    numeric = [md.is_numeric_column(sec.rows, i) for i in range(len(sec.columns))]
    widths: list[int] = []  # a number never narrower than its widest cell
    for i in range(len(sec.columns)):
        need = natural[i] if numeric[i] else min(natural[i], _TEXT_MIN)
        if widths and sum(widths) + need + 3 * len(widths) + 2 > width:  # 1 + w + 1 per column, │ between
            break
        widths.append(need)
    spare = width - sum(widths) - 3 * (len(widths) - 1) - 2
    while spare > 0:  # text columns grow towards their natural width, one character each round
        grown = False
        for i, w in enumerate(widths):
            if spare > 0 and not numeric[i] and w < natural[i]:
                widths[i], spare, grown = w + 1, spare - 1, True
        if not grown:
            break
    table = Table(title=_text(sec.title, style="bold"), title_justify="left", show_edge=False, header_style="bold")
    for i, w in enumerate(widths):
        table.add_column(_text(sec.columns[i]), justify="right" if numeric[i] else "left", no_wrap=True,
                         overflow="ellipsis", width=w)  # fmt: skip
    for r in range(len(shown)):
        table.add_row(*[Text(cells[i][r]) for i in range(len(widths))])
    return table, len(sec.rows) - len(shown), len(sec.columns) - len(widths)


#: the narrowest a text column gets before columns are left out
_TEXT_MIN = 8


def _findings(findings: list[dict[str, Any]], savings: Any = None) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    caption = (
        _text(f"validated savings per month (USD): {md.savings_text(savings)}, combined on the remaining cost")
        if savings else None
    )
    table = Table(title=Text("Findings", style="bold"), title_justify="left", show_edge=False,
                  header_style="bold", caption=caption, caption_justify="left")
    for name, justify in (
        ("#", "right"),
        ("analyzer", "left"),
        ("scope", "left"),
        ("finding", "left"),
        ("action", "left"),
        ("USD/month", "right"),
        ("validated", "left"),
        ("confidence", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for i, f in enumerate(findings, 1):
        ev = md.evidence_text(f.get("evidence"), limit=4)
        title = _text(str(f.get("title", "")))
        if ev:
            title.append("\n" + printable(ev), style="dim")
        saving = md.savings_text(f.get("monthly_savings_usd"))
        if f.get("potential_savings_usd"):
            saving += f"\n(potential {md.savings_text(f['potential_savings_usd'])})"
        table.add_row(
            str(i),
            _text(str(f.get("analyzer", "?"))),
            _text(md.finding_scope(f)),
            title,
            _text(str(f.get("action") or md.DASH)),
            Text(saving),  # numbers only
            "yes" if f.get("validated") else "no",
            _text(str(f.get("confidence") or md.DASH)),
        )
    return table


def _changes(report: Report, console: Console) -> None:
    from rich.text import Text

    console.print()
    console.print(Text("What to change", style="bold"))
    if not report.findings:
        console.print(_text(report.findings_note or "No findings.", style="dim"))
    for i, c in enumerate(md.change_lines(report.findings), 1):
        line = Text(f"{i}. ")
        line.append(printable(c["saving"]), style="bold")
        line.append(printable(f" ({c['tier']})  {c['where']}: {c['action']}"))
        console.print(line)
    if report.findings and report.savings:
        console.print(_text(f"validated savings per month (USD), all findings: {md.savings_text(report.savings)}, "
                            "combined on the remaining cost", style="dim"))  # fmt: skip
    if report.findings and report.findings_note:  # an analyzer was skipped: its findings are missing
        console.print(_text(report.findings_note, style="dim"))
    if report.findings_scope:
        console.print(_text(report.findings_scope, style="dim"))


def _print_section(sec: Section, console: Console, top: int | None) -> None:
    from rich.text import Text

    console.print()
    if not sec.rows:
        console.print(_text(sec.title, style="bold").append(": nothing in this period", style="not bold"))
        return
    table, hidden, narrow = _table(sec, top, console.width)
    console.print(table)
    if hidden:
        console.print(Text(md.more_rows_line(hidden), style="dim"))
    if narrow:
        console.print(Text(f"… {narrow} more columns (a wider terminal, or --format csv)", style="dim"))
    if sec.note:
        console.print(_text(sec.note, style="dim"))


def render_terminal(report: Report, console: Console, top: int | None = 15, full: bool = False) -> None:
    """Print the report in reading order (`costlab.report.model.PARTS`); ``top`` rows per section
    (None: all). The details part and the full findings only with ``full`` (``--full``)."""
    from rich.columns import Columns
    from rich.rule import Rule
    from rich.text import Text

    from costlab.report.model import PARTS

    head = Text("costlab report", style="bold")
    head.append(printable(f"  {md.period_text(report)} · lake {report.lake} · generated {report.generated_at:%Y-%m-%d %H:%M} UTC"))
    console.print(head)
    if report.notice:
        console.print(_text(report.notice, style="bold"))
    for a in report.alerts:
        console.print(_text(a.message, style="bold red"))  # the message names its kind
    if report.headline:
        console.print(Columns([_headline_panel(h, md.previous_text(report)) for h in report.headline]))
    if report.notice:  # the period holds no data: the line above says it all
        return
    _changes(report, console)
    for part, heading in PARTS:
        sections = report.part(part)
        if part == "details" and not full:
            if sections:
                console.print()
                console.print(Text(f"{len(sections)} detail tables and the findings' evidence: costlab report --full "
                                   "(or --format html / markdown / csv)", style="dim"))  # fmt: skip
            continue
        if not sections:
            continue
        console.print()
        console.print(Rule(_text(heading, style="bold"), align="left"))
        for sec in sections:
            _print_section(sec, console, top)
    if full and report.findings:
        console.print()
        console.print(_findings(report.findings, report.savings))
