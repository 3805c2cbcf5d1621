"""The lake's guarantees, on the test-only toy source: exact money, idempotence, latest export wins,
replace scopes, incremental reads, quarantine, lineage and the writer lock."""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from toysource import write

from costlab.errors import LakeLockedError
from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.workspace import Workspace


def total(lake: Path) -> tuple[Decimal, int]:
    s, n = Workspace(lake).rows("SELECT coalesce(sum(billed_cost), 0), count(*) FROM charges")[0]
    return s, n


def test_money_is_exact_and_lineage_is_recorded(tmp_path: Path, lake_dir: Path) -> None:
    src = write(tmp_path / "a.csv", [(1, "0.000000000001", "2024-01-01"), (2, "12345678.123456789012", "2024-01-02")])
    res = ingest([src], lake=lake_dir)
    assert (res.rows_read, res.rows_written, res.rows_quarantined) == (2, 2, 0)
    assert total(lake_dir) == (Decimal("12345678.123456789013"), 2)
    row = Workspace(lake_dir).rows(
        "SELECT source_format, source_file, source_line, run_id, day, typeof(billed_cost) FROM charges "
        "ORDER BY source_line LIMIT 1"
    )[0]
    assert row[0] == "toy" and row[1] == str(src) and row[2] == 2 and row[3] == res.run_id
    assert str(row[4]) == "2024-01-01" and row[5] == "DECIMAL(38,12)"
    files = Lake(lake_dir).manifest().tables["charges"]
    assert any("charges/source_format=toy/day=2024-01-02/" in f for f in files)


def test_reingest_is_a_no_op_and_force_changes_nothing(tmp_path: Path, lake_dir: Path) -> None:
    write(tmp_path / "a.csv", [(i, f"{i}.25", "2024-01-0" + str(1 + i % 5)) for i in range(40)])
    first = ingest([tmp_path], lake=lake_dir)
    before = total(lake_dir)
    again = ingest([tmp_path], lake=lake_dir)
    assert again.rows_read == 0 and [f.status for f in again.files] == ["skipped"]
    assert total(lake_dir) == before
    forced = ingest([tmp_path], lake=lake_dir, force=True)
    assert forced.rows_written == 40 and forced.rows_replaced == 40
    assert total(lake_dir) == before == (Decimal(sum(range(40))) + Decimal("0.25") * 40, 40)
    assert first.rows_written == 40


def test_identical_lines_in_one_file_are_distinct_but_replace_across_exports(tmp_path: Path, lake_dir: Path) -> None:
    # two identical billing lines are two real charges
    write(tmp_path / "jan.csv", [(1, "2.00", "2024-01-01"), (1, "2.00", "2024-01-01"), (2, "5", "2024-01-01")])
    ingest([tmp_path / "jan.csv"], lake=lake_dir)
    assert total(lake_dir) == (Decimal("9"), 3)
    # a later export restates both lines of key 1: it replaces them, it does not add to them
    write(tmp_path / "jan-restated.csv", [(1, "2.50", "2024-01-01"), (1, "2.50", "2024-01-01")])
    res = ingest([tmp_path / "jan-restated.csv"], lake=lake_dir)
    assert res.rows_replaced == 2
    assert total(lake_dir) == (Decimal("10.00"), 3)


def test_changed_file_replaces_its_old_rows(tmp_path: Path, lake_dir: Path) -> None:
    f = write(tmp_path / "mtd.csv", [(1, "1", "2024-01-01"), (2, "2", "2024-01-02")])
    ingest([f], lake=lake_dir)
    write(f, [(1, "1", "2024-01-01"), (3, "7", "2024-01-03")])  # line 2 withdrawn, line 3 added
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    res = ingest([f], lake=lake_dir)
    assert [x.status for x in res.files] == ["ingested"]
    assert total(lake_dir) == (Decimal("8"), 2)


def test_incremental_reads_only_new_files(tmp_path: Path, lake_dir: Path) -> None:
    for d in range(1, 4):
        write(tmp_path / f"day{d}.csv", [(d, "1", f"2024-01-0{d}")])
    ingest([tmp_path], lake=lake_dir)
    write(tmp_path / "day4.csv", [(4, "1", "2024-01-04")])
    res = ingest([tmp_path], lake=lake_dir)
    assert {Path(f.path).name: f.status for f in res.files} == {
        "day1.csv": "skipped",
        "day2.csv": "skipped",
        "day3.csv": "skipped",
        "day4.csv": "ingested",
    }
    assert total(lake_dir) == (Decimal("4"), 4)


def test_touched_but_identical_file_is_not_reread(tmp_path: Path, lake_dir: Path) -> None:
    f = write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([f], lake=lake_dir)
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 5 * 10**9))
    res = ingest([f], lake=lake_dir)
    assert [x.status for x in res.files] == ["skipped"]


SCOPED = "toy_id,cost,day,scope,delivery"


def test_replace_scope_later_delivery_replaces_whole_scope(tmp_path: Path, lake_dir: Path) -> None:
    # month-to-date export on the 2nd, then on the 3rd: the 3rd's export drops line 2 of day 1
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01", "acct|2024-01-01", ""), (2, "2", "2024-01-01", "acct|2024-01-01", "")], SCOPED)
    ingest([tmp_path / "a.csv"], lake=lake_dir)
    write(tmp_path / "b.csv", [(1, "1.5", "2024-01-01", "acct|2024-01-01", ""), (3, "4", "2024-01-02", "acct|2024-01-02", "")], SCOPED)
    ingest([tmp_path / "b.csv"], lake=lake_dir)
    assert total(lake_dir) == (Decimal("5.5"), 2)


def test_replace_scope_in_one_run_keeps_last_file_unless_same_delivery(tmp_path: Path, lake_dir: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    # actual (a) and amortized (b) exports of the same day, same run: only the later file survives
    write(d / "a_actual.csv", [(1, "10", "2024-01-01", "s|2024-01-01", "actual")], SCOPED)
    write(d / "b_amortized.csv", [(9, "7", "2024-01-01", "s|2024-01-01", "amortized")], SCOPED)
    # two parts of one delivery of another scope: both kept
    write(d / "c_part1.csv", [(5, "1", "2024-01-02", "s|2024-01-02", "asm-1")], SCOPED)
    write(d / "d_part2.csv", [(6, "2", "2024-01-02", "s|2024-01-02", "asm-1")], SCOPED)
    res = ingest([d], lake=lake_dir)
    assert res.rows_duplicate == 1
    assert total(lake_dir) == (Decimal("10"), 3)


def test_bad_rows_are_quarantined_with_reason_and_good_rows_kept(tmp_path: Path, lake_dir: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("toy_id,cost,day\n1,1.5,2024-01-01\n2,abc,2024-01-01\n3,2,2024-01-01,extra\n4,NaN,2024-01-01\n5,1,\n6,2,2024-01-02\n")
    res = ingest([f], lake=lake_dir)
    assert (res.rows_written, res.rows_quarantined) == (3, 3)
    q = Workspace(lake_dir).rows("SELECT location, reason FROM quarantine ORDER BY location::INT")
    assert [r[0] for r in q] == ["3", "4", "6"]
    assert "not a number" in q[0][1]
    assert "expected 3 fields" in q[1][1]
    assert "missing charge_period_start" in q[2][1]
    # 'NaN' is how pandas writes a missing value: unknown (NULL), never zero
    assert Workspace(lake_dir).rows("SELECT billed_cost FROM charges WHERE source_line = 5") == [(None,)]
    # re-reading the file replaces its quarantine rows instead of repeating them
    ingest([f], lake=lake_dir, force=True)
    assert Workspace(lake_dir).rows("SELECT count(*) FROM quarantine")[0][0] == 3


def test_a_fixed_file_leaves_no_stale_rows(tmp_path: Path, lake_dir: Path) -> None:
    """A re-read file replaces everything it wrote before, also where its new version writes
    nothing: fixed bad lines leave no quarantine rows, and a file that now holds only bad lines
    leaves no charges. Another file's rows are untouched."""
    f = write(tmp_path / "a.csv", [(1, "1.5", "2024-01-01"), (2, "abc", "2024-01-01")])
    other = write(tmp_path / "b.csv", [(9, "4", "2024-01-01")])
    ingest([f, other], lake=lake_dir)
    assert total(lake_dir) == (Decimal("5.5"), 2)
    assert Workspace(lake_dir).rows("SELECT count(*) FROM quarantine")[0][0] == 1
    write(f, [(1, "1.5", "2024-01-01"), (2, "2", "2024-01-01")])  # line 3 fixed
    os.utime(f, ns=(1, 1))
    ingest([f], lake=lake_dir)
    assert total(lake_dir) == (Decimal("7.5"), 3)  # 1.5 + 2 + 4
    assert Workspace(lake_dir).rows("SELECT count(*) FROM quarantine")[0][0] == 0
    write(f, [(1, "x", "2024-01-01")])  # now nothing in it is a charge
    os.utime(f, ns=(2, 2))
    ingest([f], lake=lake_dir)
    assert total(lake_dir) == (Decimal("4"), 1)  # only b.csv's row is left
    assert Workspace(lake_dir).rows("SELECT location FROM quarantine") == [("2",)]


def test_unknown_file_fails_alone(tmp_path: Path, lake_dir: Path) -> None:
    write(tmp_path / "good.csv", [(1, "3", "2024-01-01")])
    (tmp_path / "notes.csv").write_text("hello,world\n1,2\n")
    (tmp_path / "empty.json").write_text("")
    res = ingest([tmp_path, tmp_path / "missing.csv"], lake=lake_dir)
    errors = sorted(f.error or "" for f in res.failed)
    assert len(errors) == 1 and "missing.csv: no such file or directory" in errors[0]
    # found in a folder and read by no source: skipped with its reason, not a failure
    (notes,) = res.unrecognised
    assert Path(notes.path).name == "notes.csv" and "not a recognised export" in (notes.error or "")
    assert [Path(f.path).name for f in res.ingested] == ["good.csv"]
    # named on the command line, the same file is a failure: the user asked for it
    named = ingest([tmp_path / "notes.csv"], lake=lake_dir)
    assert [Path(f.path).name for f in named.failed] == ["notes.csv"] and not named.unrecognised
    errors = [f.error or "" for f in res.failed + named.failed + res.unrecognised]
    assert all("\n" not in e for e in errors)
    # an empty file is not an error: skipped with a warning (tests/test_validation.py)
    assert [(Path(f.path).name, f.error) for f in res.empty] == [
        ("empty.json", f"{tmp_path / 'empty.json'}: empty file, nothing to ingest")
    ]
    assert total(lake_dir) == (Decimal("3"), 1)
    # the unrecognised and empty files are tried again on the next run (never recorded as ingested)
    res2 = ingest([tmp_path], lake=lake_dir)
    assert sorted(Path(f.path).name for f in res2.unrecognised) == ["notes.csv"]
    assert [Path(f.path).name for f in res2.empty] == ["empty.json"]


def test_runs_manifest_counts(tmp_path: Path, lake_dir: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("toy_id,cost,day\n1,1,2024-01-01\n1,1,2024-01-01\nx,bad,2024-01-01\n")
    res = ingest([f], lake=lake_dir)
    runs = Workspace(lake_dir).rows(
        "SELECT run_id, source_format, files, rows_read, rows_written, rows_quarantined, status FROM runs"
    )
    assert runs == [(res.run_id, "toy", [str(f)], 3, 2, 1, "partial")]


def test_currencies_stay_apart(tmp_path: Path, lake_dir: Path) -> None:
    write(tmp_path / "a.csv", [(1, "1.10", "2024-01-01", "EUR"), (2, "2.20", "2024-01-01", "USD"), (3, "3.30", "2024-01-01", "EUR")], "toy_id,cost,day,currency")
    ingest([tmp_path], lake=lake_dir)
    got = Workspace(lake_dir).rows("SELECT billing_currency, sum(billed_cost) FROM charges GROUP BY 1 ORDER BY 1")
    assert got == [("EUR", Decimal("4.40")), ("USD", Decimal("2.20"))]


def test_redact_hashes_identities(tmp_path: Path, lake_dir: Path) -> None:
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01", "alice@example.com"), (2, "1", "2024-01-01", "alice@example.com")], "toy_id,cost,day,user")
    ingest([tmp_path], lake=lake_dir, redact=True)
    got = Workspace(lake_dir).rows("SELECT DISTINCT principal FROM charges")
    assert len(got) == 1 and got[0][0].startswith("redacted:") and "alice" not in got[0][0]


def test_second_writer_is_refused_clearly_or_waits(tmp_path: Path, lake_dir: Path) -> None:
    lake = Lake(lake_dir)
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with lake.write_lock():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    try:
        with pytest.raises(LakeLockedError, match="being written by another ingest"):
            ingest([tmp_path], lake=lake_dir)
        threading.Timer(0.5, release.set).start()
        res = ingest([tmp_path], lake=lake_dir, wait=10)
        assert res.rows_written == 1
    finally:
        release.set()
        t.join()


def test_stray_files_of_a_killed_run_are_invisible_and_collected(tmp_path: Path, lake_dir: Path) -> None:
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([tmp_path], lake=lake_dir)
    # named as a killed ingest leaves them: run-<run id>-<uuid> and a rewrite run-<run id>-r<hex>
    day = lake_dir / "charges" / "source_format=toy" / "day=2024-01-01"
    strays = [
        day / "run-20240101T000000-deadbeef-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0.parquet",
        day / f"run-20240101T000000-deadbeef-r{'ab' * 16}.parquet",
    ]
    for stray in strays:
        stray.write_bytes(b"PAR1 half written")
    (lake_dir / "_staging" / "20240101T000000-deadbeef" / "charges").mkdir(parents=True)
    assert total(lake_dir) == (Decimal("1"), 1)  # readers only see the manifest's files
    write(tmp_path / "b.csv", [(2, "1", "2024-01-01")])
    ingest([tmp_path], lake=lake_dir)
    assert not any(s.exists() for s in strays) and not (lake_dir / "_staging").exists()


def test_empty_lake_has_typed_views(lake_dir: Path) -> None:
    lake = Lake(lake_dir)
    lake.create()
    assert Workspace(lake).rows("SELECT count(*) FROM charges")[0][0] == 0
    assert Workspace(lake).table("calls").height == 0
    types = dict(Workspace(lake).rows("SELECT column_name, column_type FROM (DESCRIBE charges)"))
    assert types["billed_cost"] == "DECIMAL(38,12)" and types["tags"] == "MAP(VARCHAR, VARCHAR)"
