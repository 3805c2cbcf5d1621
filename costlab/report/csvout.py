"""The report as CSV, exact: money as plain decimal text with every digit (no rounding, no
exponent), timestamps ISO 8601, unknown as an empty cell, booleans true/false.

Two shapes, chosen by the output:

* **a file or a stream** -> one long ("tidy") CSV with columns ``section,row,column,value``:
  one line per cell. ``section`` is ``report`` (schema, lake, generated_at, since, until, the
  previous period, notice, findings_note, findings_scope), ``headline``, ``alerts``, ``findings`` (ranked), then each section key
  in reading order; ``row`` is the 0-based row index
  (same as ``rows[i]`` in the JSON); findings' nested fields are flattened with dots
  (``monthly_savings_usd.low``, ``evidence.calls``). Pivot it back with any dataframe library.
* **a directory** (exists, or the path ends with ``/``) -> one ordinary CSV per table:
  ``report.csv`` (the metadata row), ``headline.csv``, ``alerts.csv``, ``<section key>.csv``,
  ``findings.csv`` (header row always written, even when a table has no rows, so a cron job
  can rely on the file being there). `render_csv_zip` packs the same files into one zip.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return: OWASP's CSV injection list) get a leading ``'`` (`neutralise`), so a
workflow named ``=HYPERLINK(...)`` opens as text. Only text is touched: money and counts stay
numbers, negative amounts included. ``raw=True`` (``costlab report --csv-raw``) writes text as it
is, for programs that read the CSV; ``costlab sql -f csv`` is always raw.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    from costlab.report.model import Report

TIDY_HEADER = ("section", "row", "column", "value")
#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'`` (shown as text)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_value(v: Any, raw: bool = False) -> str:
    """One cell, exact; text neutralised unless ``raw`` (module doc)."""
    from costlab.report.tables import dec_text, to_json

    if isinstance(v, str):
        return v if raw else neutralise(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return dec_text(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dict, list, tuple)):
        return to_json(v, indent=None)
    return str(v)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys; lists stay whole (written as JSON)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def tables(report: Report) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """(name, columns, rows) for every table of the report, in output order."""
    from costlab.report.model import SCHEMA_ID

    yield (
        "report",
        ["schema", "costlab_version", "lake", "generated_at", "since", "until", "previous_since", "previous_until",
         "notice", "findings_note", "findings_scope"],
        [(SCHEMA_ID, report.version, report.lake, report.generated_at, report.since, report.until,
          report.previous_since, report.previous_until, report.notice, report.findings_note,
          report.findings_scope)],
    )  # fmt: skip
    h_cols = ["currency", "billed", "attributed", "unattributed", "traced_cost", "traced_calls", "unpriced_calls", "coverage",
              "previous_billed", "change", "change_pct"]  # fmt: skip
    yield "headline", h_cols, [tuple(vars(h)[c] for c in h_cols) for h in report.headline]
    a_cols = ["kind", "scope", "name", "period", "currency", "amount", "threshold", "baseline", "message"]
    yield "alerts", a_cols, [tuple(vars(a)[c] for c in a_cols) for a in report.alerts]
    flat = [flatten(f) for f in report.findings]
    f_cols: list[str] = []
    for f in flat:
        f_cols += [k for k in f if k not in f_cols]
    yield "findings", f_cols, [tuple(f.get(c) for c in f_cols) for f in flat]
    for sec in report.sections:
        yield sec.key, list(sec.columns), [tuple(r) for r in sec.rows]


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key).lstrip(".") or "section"


def table_csv(columns: list[str], rows: list[tuple[Any, ...]], raw: bool = False) -> str:
    """One ordinary CSV (header row, then exact values)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([csv_value(v, raw) for v in r] for r in rows)
    return buf.getvalue()


def render_csv_text(report: Report, raw: bool = False) -> str:
    """The long CSV as text (stdout, or one file)."""
    buf = io.StringIO()
    write_tidy(report, buf, raw)
    return buf.getvalue()


def render_csv_zip(report: Report, raw: bool = False) -> bytes:
    """The per-table CSVs in one zip (``report.zip``); fixed timestamps, so the bytes are
    reproducible for a given report."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, cols, rows in tables(report):
            info = zipfile.ZipInfo(f"{_safe_name(name)}.csv", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, table_csv(cols, rows, raw).encode("utf-8"))
    return buf.getvalue()


def render_csv(report: Report, output: str | os.PathLike[str] | IO[str], raw: bool = False) -> list[Path]:
    """Write the report as CSV (shapes in the module doc); returns the files written."""
    if not isinstance(output, (str, os.PathLike)):
        write_tidy(report, output, raw)
        return []
    path = Path(output)
    as_dir = path.is_dir() or str(output).endswith(("/", os.sep))
    try:
        if not as_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_csv_text(report, raw), encoding="utf-8", newline="")
            return [path]
        path.mkdir(parents=True, exist_ok=True)
        written = []
        for name, cols, rows in tables(report):
            target = path / f"{_safe_name(name)}.csv"
            target.write_text(table_csv(cols, rows, raw), encoding="utf-8", newline="")
            written.append(target)
        return written
    except OSError as e:
        raise CostlabError(f"{output}: cannot write the CSV report ({e.strerror or e}); check the path") from None


def write_tidy(report: Report, out: IO[str], raw: bool = False) -> None:
    """The long CSV: one line per cell of every table."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(TIDY_HEADER)
    for name, cols, rows in tables(report):
        for i, r in enumerate(rows):
            for c, v in zip(cols, r, strict=True):
                w.writerow((name, i, c, csv_value(v, raw)))
