"""Parser processes stage their batches' rows themselves (costlab/ingest/run.py `_parse_batch`):
the lake they give equals the in-process run's, file by file, and a file that fails adds
nothing, also when it had staged full chunks or closed its batch.

Files (BATCH_FILES = 2, CHUNK_ROWS = 3, so the batches are [a, b], [c, d], [e, f]):
  a.csv toy   2 rows  1.00 + 2.00
  b.csv boom  fails at its 5th row, after a full chunk of 3 was staged (it closes batch 1)
  c.csv toy   4 rows  a full chunk of 3 (staged at once) and 1 more: 10 + 20 + 30 + 40
  d.csv       empty (a warning)
  e.csv toy   1 row   0.25
  f.csv boom  fails at its 1st row (it closes batch 3: the batch's rows must still land)
So the lake holds 7 charges summing to 103.25; b and f failed, d is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from toysource import Toy, write

from costlab.ingest import registry
from costlab.ingest import run as ingest_run
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff
from costlab.workspace import Workspace


class Boom(Toy):
    """The toy source, raising (a parser bug) at the row whose id is ``boom``. Registered only
    while the test runs (`registry._SOURCES`): the docs tests check every registered source."""

    name = "boom_toy"
    title = "test-only toy CSV that raises"

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind == "csv" and "boom_id" in sniff.column_set

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        for line, row in u.csv_rows(path):
            assert not isinstance(row, str)
            if row["boom_id"] == "boom":
                raise RuntimeError("boom")
            yield "charges", {
                "billed_cost": u.money(row["cost"]),
                "billing_currency": "USD",
                "charge_period_start": u.ts(row["day"]),
                "row_key": u.key(row["boom_id"]),
                "source_line": line,
            }


def _files(src: Path) -> list[Path]:
    src.mkdir()
    boom = "boom_id,cost,day"
    write(src / "a.csv", [(1, "1.00", "2024-01-01"), (2, "2.00", "2024-01-01")])
    write(src / "b.csv", [(i, "5", "2024-01-02") for i in range(4)] + [("boom", "5", "2024-01-02")], boom)
    write(src / "c.csv", [(3, "10", "2024-01-03"), (4, "20", "2024-01-03"), (5, "30", "2024-01-03"), (6, "40", "2024-01-04")])
    (src / "d.csv").write_bytes(b"")
    write(src / "e.csv", [(7, "0.25", "2024-01-05")])
    write(src / "f.csv", [("boom", "1", "2024-01-06")], boom)
    return sorted(src.iterdir())


def test_batches_staged_by_workers_equal_the_in_process_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry._SOURCES, Boom.name, Boom)  # forked workers inherit it
    monkeypatch.setattr(ingest_run, "BATCH_FILES", 2)
    monkeypatch.setattr(ingest_run, "CHUNK_ROWS", 3)
    files = _files(tmp_path / "src")
    got = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("COSTLAB_INGEST_WORKERS", workers)
        lake = tmp_path / f"lake{workers}"
        res = ingest_run.ingest(files, lake=lake)
        rows = Workspace(lake).rows(
            "SELECT row_key, billed_cost, source_file FROM charges ORDER BY billed_cost"
        )
        got[workers] = (
            [(Path(f.path).name, f.status, f.rows, (f.error or "")[-40:]) for f in res.files],
            (res.rows_read, res.rows_written),
            rows,
        )
        assert not (lake / ingest_run.STAGING).exists() or not any((lake / ingest_run.STAGING).rglob("*.parquet"))
    assert got["1"] == got["2"]
    statuses, counts, rows = got["2"]
    assert [(name, status) for name, status, _, _ in statuses] == [
        ("a.csv", "ingested"), ("b.csv", "failed"), ("c.csv", "ingested"),
        ("d.csv", "empty"), ("e.csv", "ingested"), ("f.csv", "failed"),
    ]  # fmt: skip
    assert "RuntimeError: boom" in statuses[1][3] and "RuntimeError: boom" in statuses[5][3]
    assert counts == (7, 7) and len(rows) == 7
    assert sum(r[1] for r in rows) == Decimal("103.25")
    assert {Path(r[2]).name for r in rows} == {"a.csv", "c.csv", "e.csv"}
