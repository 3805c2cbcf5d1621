"""costlab.sql.parquet_scan: union_by_name only when a table's files differ in schema (a lake
written partly by an older costlab), and the same rows either way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from costlab.sql import parquet_scan


def _write(path: Path, cols: dict[str, list[object]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return str(path)


def test_one_schema_reads_without_union_by_name(tmp_path: Path) -> None:
    files = [_write(tmp_path / f"day=2026-10-0{d}" / "f.parquet", {"a": [d], "b": [f"x{d}"]}) for d in (1, 2)]
    con = duckdb.connect()
    scan, present = parquet_scan(con, files, "hive_partitioning = true")
    assert "union_by_name" not in scan and present == {"a", "b", "day"}
    assert con.execute(f"SELECT a, b, CAST(day AS VARCHAR) FROM {scan} ORDER BY a").fetchall() == [
        (1, "x1", "2026-10-01"), (2, "x2", "2026-10-02")]  # fmt: skip


def test_an_older_file_without_a_column_reads_it_as_null(tmp_path: Path) -> None:
    files = [
        _write(tmp_path / "new.parquet", {"a": [1], "b": ["x"]}),
        _write(tmp_path / "old.parquet", {"a": [2]}),  # before column b existed
        _write(tmp_path / "swapped.parquet", {"b": ["y"], "a": [3]}),  # another column order
    ]
    con = duckdb.connect()
    scan, present = parquet_scan(con, files, "hive_partitioning = false")
    assert "union_by_name = true" in scan and present == {"a", "b"}
    assert con.execute(f"SELECT a, b FROM {scan} ORDER BY a").fetchall() == [(1, "x"), (2, None), (3, "y")]
    scan, _ = parquet_scan(con, [files[0], files[2]], "hive_partitioning = false")
    assert "union_by_name = true" in scan  # the same columns in another order: by name too
