"""Rendering for the CLI: rich tables for people, JSON and CSV for machines.

JSON keeps money exact: DECIMAL values are written as JSON numbers with every digit (no float
round trip); timestamps as ISO 8601; lists and maps as JSON arrays and objects.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import polars as pl

    from costlab.pipeline import IngestResult

FORMATS = ("table", "json", "csv")


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
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
        for n in names:
            table.add_column(n, overflow="fold")
        for r in data:
            table.add_row(*[_cell(v) for v in r])
        console = Console(soft_wrap=False)
        if not console.is_terminal:
            console = Console(soft_wrap=False, width=200)  # logs and pipes: don't squeeze columns
        console.print(table)


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
    by_status = {s: sum(1 for f in result.files if f.status == s) for s in ("ingested", "skipped", "failed")}
    sys.stdout.write(
        f"{by_status['ingested']} files ingested, {by_status['skipped']} unchanged, "
        f"{by_status['failed']} failed: {result.rows_written} rows written, "
        f"{result.rows_replaced} replaced, {result.rows_duplicate} duplicates, "
        f"{result.rows_quarantined} quarantined (run {result.run_id}, lake {result.lake})\n"
    )
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
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[file]}"),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, file="")

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, file=name)

        yield update
