"""Business metrics for unit costs: a small CSV the user keeps beside the lake.

Format (header required; extra columns ignored)::

    day,metric,value[,workflow]
    2026-10-01,tickets_resolved,412,support-chat
    2026-10-01,active_users,1890

``day`` is a UTC date (``date`` is accepted as the column name too); ``value`` is a decimal
count of business units that day; ``workflow`` (optional) ties the metric to one workflow's
cost, otherwise the metric is divided into all the money of that day. Rows with the same
(day, metric, workflow) are added. Bad rows stop the load with the file and line named: a
unit cost from a half-read metrics file would be wrong without saying so.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from costlab.errors import CostlabError


@dataclass(frozen=True)
class MetricRow:
    day: date
    metric: str
    value: Decimal
    workflow: str | None


def load_metrics(path: str | Path) -> list[MetricRow]:
    """Parse the metrics CSV (format in the module docstring)."""
    from costlab.config import regular_file
    from costlab.ingest.util import dec

    path = Path(path)
    try:
        fh = open(regular_file(path, "metrics file"), encoding="utf-8-sig", newline="")
    except OSError as ex:
        raise CostlabError(f"{path}: cannot read metrics file ({ex.strerror})") from None
    out: list[MetricRow] = []
    with fh:
        reader = csv.DictReader(fh)
        fields = {f.strip().lower(): f for f in reader.fieldnames or []}
        day_col = fields.get("day") or fields.get("date")
        if not day_col or "metric" not in fields or "value" not in fields:
            raise CostlabError(
                f"{path}: a metrics file needs the columns day,metric,value[,workflow]"
            )
        for n, rec in enumerate(reader, start=2):
            where = f"{path}:{n}"
            try:
                day = date.fromisoformat((rec.get(day_col) or "").strip())
            except ValueError:
                raise CostlabError(f"{where}: day {rec.get(day_col)!r} is not YYYY-MM-DD") from None
            metric = (rec.get(fields["metric"]) or "").strip()
            if not metric:
                raise CostlabError(f"{where}: empty metric name")
            raw = (rec.get(fields["value"]) or "").strip()
            try:
                value = dec(raw)
            except ValueError:
                value = None
            if value is None:
                raise CostlabError(f"{where}: value {raw!r} is not a number")
            if value < 0:
                raise CostlabError(f"{where}: value {raw!r} must be a finite number >= 0")
            wf = (rec.get(fields["workflow"]) or "").strip() if "workflow" in fields else ""
            out.append(MetricRow(day, metric, value, wf or None))
    return out


def add_metrics_table(con: object, rows: list[MetricRow]) -> None:
    """Create the ``metrics`` table (day, metric, value, workflow) on a DuckDB connection."""
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    con.execute(
        "CREATE OR REPLACE TABLE metrics "
        "(day DATE, metric VARCHAR, value DECIMAL(38,12), workflow VARCHAR)"
    )
    if rows:
        con.executemany(
            "INSERT INTO metrics VALUES (?, ?, ?, ?)",
            [(r.day, r.metric, r.value, r.workflow) for r in rows],
        )
