"""The report on a terminal with rich: headline per currency, alerts first, then one table per
section (top rows only; the CSV has them all).

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


def _headline_panel(h: Headline) -> RenderableType:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    for label, col, value in (
        ("billed", "billed", h.billed),
        ("attributed", "attributed", h.attributed),
        ("unattributed", "unattributed", h.unattributed),
        ("traced", "traced", h.traced_cost),
        ("coverage", "coverage", h.coverage),
        ("traced calls", "calls", h.traced_calls),
        ("unpriced calls", "calls", h.unpriced_calls),
    ):
        grid.add_row(label, _text(md.display(col, value)))
    return Panel(grid, title=_text(h.currency), title_align="left", expand=False)


def _table(sec: Section, top: int | None) -> tuple[RenderableType, int]:
    from rich.table import Table

    table = Table(title=_text(sec.title, style="bold"), title_justify="left", show_edge=False, header_style="bold")
    for i, c in enumerate(sec.columns):
        table.add_column(_text(c), justify="right" if md.is_numeric_column(sec.rows, i) else "left", overflow="fold")
    shown = sec.rows if top is None else sec.rows[:top]
    for r in shown:
        table.add_row(*[_text(md.display(c, v)) for c, v in zip(sec.columns, r, strict=True)])
    return table, len(sec.rows) - len(shown)


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


def render_terminal(report: Report, console: Console, top: int | None = 15) -> None:
    """Print the report; ``top`` rows per section (None: all)."""
    from rich.columns import Columns
    from rich.text import Text

    head = Text("costlab report", style="bold")
    head.append(printable(f"  {md.period_text(report)} · lake {report.lake} · generated {report.generated_at:%Y-%m-%d %H:%M} UTC"))
    console.print(head)
    for a in report.alerts:
        console.print(_text(f"{a.kind.upper()}: {a.message}", style="bold red"))
    if report.headline:
        console.print(Columns([_headline_panel(h) for h in report.headline]))
    for sec in report.sections:
        console.print()
        if not sec.rows:
            console.print(_text(sec.title, style="bold").append(": nothing in this period", style="not bold"))
            continue
        table, hidden = _table(sec, top)
        console.print(table)
        if hidden:
            console.print(Text(md.more_rows_line(hidden), style="dim"))
        if sec.note:
            console.print(_text(sec.note, style="dim"))
    if report.findings:
        console.print()
        console.print(_findings(report.findings, report.savings))
