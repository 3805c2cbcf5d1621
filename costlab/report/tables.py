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
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console

    from costlab.ingest.run import IngestResult

FORMATS = ("table", "json", "csv")


#: C0 controls (tab and newline included), DEL, C1 controls, the Arabic letter mark, LRM/RLM,
#: line/paragraph separators and the bidirectional embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control or bidirectional-override character written as an escape
    (``\\x1b``, ``\\u202e``); the characters in ``keep`` (e.g. a newline) stay as they are."""

    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        if c in keep:
            return c
        if c in _SHORT:
            return _SHORT[c]
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"

    return _UNPRINTABLE.sub(escape, text)


def console(file: IO[str] | None = None, width: int | None = None, force_terminal: bool | None = None) -> Console:
    """A rich console that prints data as text: no markup, emoji codes or highlighting; a sane
    fixed width (200) when not a terminal, so cron logs and pipes don't squeeze columns to 80."""
    from rich.console import Console

    def make(w: int | None) -> Console:
        return Console(file=file, width=w, soft_wrap=False, force_terminal=force_terminal,
                       markup=False, emoji=False, highlight=False)  # fmt: skip

    out = make(width)
    return make(200) if width is None and not out.is_terminal else out


def dec_text(d: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros ('1.5', '0', '-0.000123')."""
    if d == 0:
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON text with Decimals as exact numbers."""
    marks: dict[str, str] = {}

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            token = f"\x00dec{len(marks)}\x00"
            marks[token] = dec_text(o)
            return token
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        raise TypeError(f"cannot serialise {type(o).__name__}")

    def walk(v: Any) -> Any:
        if isinstance(v, Decimal):
            return default(v)
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(value), indent=indent, default=default, ensure_ascii=False)
    for token, num in marks.items():
        text = text.replace(json.dumps(token), num)
    return text


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
        return json.dumps(_plain(v), ensure_ascii=False)
    return str(v)


def rows(names: Sequence[str], data: Sequence[Sequence[Any]], fmt: str, title: str | None = None) -> None:
    """Print rows as a table, a JSON array of objects, or CSV."""
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
        for n in names:
            table.add_column(Text(printable(str(n))), overflow="fold")
        for r in data:
            table.add_row(*[Text(printable(_cell(v))) for v in r])
        console().print(table)


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
