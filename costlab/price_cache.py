"""The price book's cache file: the ``prices`` table of one (genai-prices version, pricing code,
override file), written once as Parquet and read back by DuckDB.

Why Parquet read by DuckDB: a nightly report needs only the prices of the few models its calls
name, the distinct price bounds (`costlab.rollups.RollupKeys`) and the whole table copied into
its connection. DuckDB does all three straight from the file, so a report whose models were all
matched before imports neither genai-prices' data nor pyarrow and numpy (0.18 s of a 1.3 s
nightly report). Writing the file (a new genai-prices version, a new override file or a model
not matched before) uses pyarrow, as building the book does anyway.

The file's key-value metadata holds ``format`` (this layout's name) and ``matches``: every
(provider, model) -> price model match made so far, as JSON. Anything unreadable is a miss: the
caller builds the book again; the cache is never a reason to fail.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

FORMAT = "costlab-prices-2"
SUFFIX = ".parquet"


class CachedPrices:
    """The price rows of a cache file on a private DuckDB connection (loaded once, then queried
    per model). Thread-safe: one lock around the connection."""

    def __init__(self, path: Path, columns: list[tuple[str, str]]) -> None:
        import duckdb

        self.path = path
        self._names = [n for n, _ in columns]
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        meta = dict(
            self._con.execute(
                "SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)", [str(path)]
            ).fetchall()
        )
        if meta.get("format") != FORMAT:
            raise ValueError("another cache layout")
        self.matches: list[Any] = json.loads(meta["matches"])
        self._con.execute("CREATE TABLE p AS SELECT * FROM read_parquet($path)", {"path": str(path)})
        want = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns)
        have, expected = (
            [tuple(r[:2]) for r in self._con.execute(f"DESCRIBE {sql}").fetchall()]
            for sql in ("p", f"SELECT {want}")
        )
        if have != expected:
            raise ValueError(f"columns {have}")
        self.keys: dict[tuple[str, str], None] = dict.fromkeys(
            self._con.execute("SELECT DISTINCT provider, model FROM p ORDER BY ALL").fetchall()
        )

    def rows(self, key: tuple[str, str] | None = None) -> list[dict[str, Any]]:
        """The rows of price model ``key`` (None: every row), in the file's order."""
        where, params = ("WHERE provider = ? AND model = ?", list(key)) if key else ("", [])
        with self._lock:
            got = self._con.execute(f"SELECT * FROM p {where} ORDER BY rowid", params).fetchall()
        return [dict(zip(self._names, (_utc(v) for v in row), strict=True)) for row in got]

    def distinct(self, names: tuple[str, ...]) -> dict[str, list[Any]]:
        """The distinct non-NULL values of each column in ``names``."""
        out = {}
        with self._lock:
            for n in names:
                got = self._con.execute(f'SELECT DISTINCT "{n}" FROM p WHERE "{n}" IS NOT NULL').fetchall()
                out[n] = [_utc(v) for (v,) in got]
        return out

    def arrow(self, schema: pa.Schema) -> pa.Table:
        """The whole table as Arrow (for the engines that load Arrow: Spark, tests)."""
        import pyarrow.parquet as pq

        return pq.read_table(str(self.path)).replace_schema_metadata(None).cast(schema)


def _utc(v: Any) -> Any:
    """DuckDB's aware datetimes (zoneinfo UTC) as datetime.UTC ones, as the built book has them."""
    return v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo is not None else v


def read(path: Path, columns: list[tuple[str, str]]) -> CachedPrices | None:
    """The cache file at ``path``, or None when it is missing, another layout or unreadable."""
    try:
        return CachedPrices(path, columns)
    except Exception:  # any unreadable file is a miss, never an error
        return None


def write(path: Path, table: pa.Table, matches: list[Any]) -> None:
    """Write ``table`` and ``matches`` to ``path`` atomically (a temporary file, then a rename);
    errors are ignored: a read-only or full disk only costs the next run the build."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "matches": json.dumps(matches)}
        pq.write_table(table.replace_schema_metadata(meta), str(tmp), compression="zstd")
        os.replace(tmp, path)
    except Exception:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def create_table_of_columns(
    con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]], values: Mapping[str, list[Any]]
) -> None:
    """``CREATE OR REPLACE TABLE name`` of ``columns`` ((name, SQL type)) from Python lists of
    equal length, one per column, without pyarrow.

    Why: binding rows one by one costs about 1 ms a row (executemany) and a VALUES list 0.15 ms;
    each column bound as one list parameter and unnested (positionally, so rows stay aligned)
    costs about 12 us a row. Decimals, timestamps and times are bound as exact text and cast, so
    nothing passes through a float."""
    select, params = [], {}
    for i, (col, typ) in enumerate(columns):
        items = values[col]
        if typ in ("BIGINT", "VARCHAR") or typ.endswith("[]"):
            select.append(f"CAST(unnest($c{i}::{typ}[]) AS {typ}) AS {col}")
            params[f"c{i}"] = list(items)
        else:
            select.append(f"CAST(unnest($c{i}::VARCHAR[]) AS {typ}) AS {col}")
            params[f"c{i}"] = [None if v is None else _exact_text(v) for v in items]
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(select)}", params)


def _exact_text(v: Any) -> str:
    from datetime import date, time
    from decimal import Decimal

    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)
