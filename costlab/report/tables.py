"""Rendering for the CLI: rich tables for people, JSON and CSV for machines.

JSON keeps money exact: DECIMAL values are written as JSON numbers with every digit (no float
round trip); timestamps as ISO 8601; lists and maps as JSON arrays and objects.

Data is printed as text, never as rich markup: a value ``[/x]``, ``[link=...]`` or ``:x:`` prints
as itself (`console` turns markup, emoji codes and highlighting off; cells go in as
`rich.text.Text`), and `printable` shows control characters and bidirectional overrides as
escapes (``\\x1b``, ``\\u202e``) in tables, the terminal and Markdown reports and error lines, so
data cannot move the cursor, recolour the terminal or reorder a line. CSV and JSON stay exact.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from costlab.errors import CostlabError
from costlab.report.text import dec_text, plain, printable, to_json

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from costlab.ingest.run import IngestResult

FORMATS = ("table", "json", "csv")


def console(file: IO[str] | None = None, width: int | None = None, force_terminal: bool | None = None) -> Console:
    """A rich console that prints data as text: no markup, emoji codes or highlighting; a sane
    fixed width (200) when not a terminal, so cron logs and pipes don't squeeze columns to 80."""
    from rich.console import Console

    def make(w: int | None) -> Console:
        return Console(file=file, width=w, soft_wrap=False, force_terminal=force_terminal,
                       markup=False, emoji=False, highlight=False)  # fmt: skip

    out = make(width)
    return make(200) if width is None and not out.is_terminal else out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return dec_text(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (list, dict)):
        return json.dumps(plain(v), ensure_ascii=False)
    return str(v)


def rows(names: Sequence[str], data: Sequence[Sequence[Any]], fmt: str, title: str | None = None) -> None:
    """Print rows as a table (numbers as the reports show them: `costlab.report.markdown.display`),
    a JSON array of objects, or CSV (both exact)."""
    if fmt not in FORMATS:
        raise CostlabError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "json":
        sys.stdout.write(to_json([dict(zip(names, r, strict=True)) for r in data]) + "\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(names)
        for r in data:
            w.writerow([_cell(v) for v in r])
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(printable(title)) if title else None, title_justify="left", show_edge=False,
                      header_style="bold")  # fmt: skip
        from costlab.report.markdown import is_numeric_column

        # the reports' display rule (money to the cent, unknown as a dash); JSON and CSV keep every digit
        cells = [[printable(_shown(str(n), v)) for n, v in zip(names, r, strict=True)] for r in data]
        numeric = [is_numeric_column(data, i) for i in range(len(names))]
        for i, n in enumerate(names):  # a number never folds; text folds only on a narrow terminal
            table.add_column(Text(printable(str(n))), overflow="fold", no_wrap=numeric[i],
                             justify="right" if numeric[i] else "left")  # fmt: skip
        for row in cells:
            table.add_row(*[Text(c) for c in row])
        out = console()
        if not out.is_terminal:  # a pipe or a cron log: the table at its natural width, nothing folded
            natural = [max([len(printable(str(n))), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
            out = console(width=max(out.width, sum(natural) + 3 * len(names)))
        out.print(table)


def _shown(column: str, value: Any) -> str:
    """`display`, except that a DECIMAL of scale 0 (a token sum in SQL) is a whole number."""
    from costlab.report.markdown import display, grouped

    if isinstance(value, Decimal) and value.is_finite() and value.as_tuple().exponent == 0 and value != 0:
        return grouped(value)
    return display(column, value)


def frame(df: pl.DataFrame, fmt: str) -> None:
    rows(df.columns, df.rows(), fmt)


def ingest_summary(result: IngestResult, fmt: str) -> None:
    if fmt == "json":
        payload = {
            "run_id": result.run_id,
            "lake": result.lake,
            "rows_read": result.rows_read,
            "rows_written": result.rows_written,
            "rows_duplicate": result.rows_duplicate,
            "rows_replaced": result.rows_replaced,
            "rows_quarantined": result.rows_quarantined,
            "files": [vars(f) for f in result.files],
        }
        sys.stdout.write(to_json(payload) + "\n")
        return
    by_status = {s: len(result.with_status(s)) for s in ("ingested", "skipped", "unrecognised", "failed")}
    unknown = f"{by_status['unrecognised']} not recognised, " if by_status["unrecognised"] else ""
    sys.stdout.write(printable(
        f"{by_status['ingested']} files ingested, {by_status['skipped']} unchanged, {unknown}"
        f"{by_status['failed']} failed: {result.rows_written} rows written, "
        f"{result.rows_replaced} replaced, {result.rows_duplicate} duplicates, "
        f"{result.rows_quarantined} quarantined (run {result.run_id}, lake {result.lake})"
    ) + "\n")
    per_source: dict[str, list[int]] = {}
    for f in result.ingested:
        agg = per_source.setdefault(f.source or "?", [0, 0, 0])
        agg[0] += 1
        agg[1] += f.rows
        agg[2] += f.quarantined
    if per_source and fmt == "table":
        rows(
            ["source", "files", "rows", "quarantined"],
            [(name, *agg) for name, agg in sorted(per_source.items())],
            "table",
        )


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar on a terminal; None (silence) in cron and pipes."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[file]}", markup=False),  # a file name is data, not markup
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, file="")

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, file=printable(name))

        yield update
