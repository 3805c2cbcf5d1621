"""Never lose data: a lake knows it is a lake, ingest refuses anything else, garbage collection
deletes only files costlab named, a lost manifest is rebuilt from the files' lineage, and every
reading command fails with one line on a lake that is missing or damaged (issue 13 §1)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from toysource import write
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import LakeDamagedError
from costlab.ingest.run import ingest
from costlab.lake import IDENTITY, MANIFEST, Lake, lake_file_errors
from costlab.workspace import Workspace

runner = CliRunner()
SCOPED = "toy_id,cost,day,scope,delivery"


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def one_error(err: str, *words: str) -> None:
    """stderr is exactly one ``Error: ...`` line holding ``words`` (no traceback)."""
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def state(lake: Path) -> dict[str, tuple[object, ...]]:
    """Per table: rows and a money or count checksum."""
    lk = Lake(lake)
    return {
        "charges": Workspace(lk).rows("SELECT count(*), sum(billed_cost) FROM charges")[0],
        "quarantine": Workspace(lk).rows("SELECT count(*), string_agg(location, ',' ORDER BY location) FROM quarantine")[0],
        "runs": Workspace(lk).rows("SELECT count(*), count(DISTINCT run_id) FROM runs")[0],
    }


def parquet_files(lake: Path) -> list[Path]:
    return sorted(lake.rglob("*.parquet"))


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Path]:
    """A lake after six ingests over six days, with every kind of replacement:

    run 1 a.csv: keys 1 (1.00, day 1), 5 (10, day 1), 2 (2, day 2), 3 (3, day 3); line 6 bad
    run 2 b.csv: key 1 restated to 5 (day 1) -> run 1's day-1 file rewritten as r-file [5]; key 4 (1)
    run 3 c.csv: keys 10 (7), 11 (8) in scope acct|5 (day 5)
    run 4 d.csv: key 12 (4) in scope acct|5 -> replaces the whole scope (10 and 11 go)
    run 5 e.csv: keys 20 (1), 21 (1) on day 6
    run 6 e.csv changed to key 22 (3) -> re-read: 20 and 21 go (other keys: only lineage knows)

    Live: 1=5, 5=10, 2, 3, 4=1, 12=4, 22=3: 7 rows, 5+10+2+3+1+4+3 = 28; 1 quarantined row.
    """
    src = tmp_path / "src"
    src.mkdir()
    lake = tmp_path / "lake"
    a = src / "a.csv"
    a.write_text("toy_id,cost,day\n1,1.00,2024-01-01\n5,10,2024-01-01\n2,2,2024-01-02\n3,3,2024-01-03\nx,bad,2024-01-01\n")
    steps = [
        (a, None),
        (src / "b.csv", [(1, "5", "2024-01-01"), (4, "1", "2024-01-04")]),
        (src / "c.csv", [(10, "7", "2024-01-05", "acct|5", ""), (11, "8", "2024-01-05", "acct|5", "")]),
        (src / "d.csv", [(12, "4", "2024-01-05", "acct|5", "")]),
        (src / "e.csv", [(20, "1", "2024-01-06"), (21, "1", "2024-01-06")]),
        (src / "e.csv", [(22, "3", "2024-01-06")]),
    ]
    for path, rows in steps:
        if rows is not None:
            write(path, rows, SCOPED if len(rows[0]) == 5 else "toy_id,cost,day")
        res = ingest([path], lake=lake)
        assert not res.failed
    return src, lake


EXPECTED = {"charges": (7, Decimal("28")), "quarantine": (1, "6"), "runs": (6, 6)}


def test_history_fixture_holds_the_hand_computed_state(history: tuple[Path, Path]) -> None:
    assert state(history[1]) == EXPECTED


# -- a folder that is not a lake ----------------------------------------------------------------
def test_ingest_refuses_a_folder_of_other_files_and_touches_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    (folder / "charges" / "2025").mkdir(parents=True)
    (folder / "charges" / "2025" / "invoice.pdf").write_bytes(b"%PDF-1.7 invoice")
    (folder / "runs").mkdir()
    (folder / "runs" / "notes.txt").write_text("my notes")
    before = snapshot(folder)
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    code, _, err = run("ingest", str(tmp_path / "a.csv"), "--lake", str(folder))
    assert code == 1
    one_error(err, str(folder), "not a costlab lake")
    assert snapshot(folder) == before and not (folder / ".lock").exists()


def test_lake_option_naming_a_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("not a lake")
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    for args in (["ingest", str(tmp_path / "a.csv")], ["report"], ["sql", "select 1"], ["lake", "check"]):
        code, _, err = run(*args, "--lake", str(f))
        assert code == 1, args
        one_error(err, str(f), "is a file")
    code, _, err = run("ingest", str(tmp_path / "a.csv"), "--lake", str(f / "lake"))  # under a file
    assert code == 1
    one_error(err, str(f / "lake"), "cannot make a lake here")
    assert f.read_text() == "not a lake"


def test_an_empty_folder_becomes_a_lake(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\0")  # what a desktop leaves in a folder it showed
    write(tmp_path / "a.csv", [(1, "1.5", "2024-01-01")])
    code, _, err = run("ingest", str(tmp_path / "a.csv"), "--lake", str(folder))
    assert code == 0, err
    identity = json.loads((folder / IDENTITY).read_text())
    assert identity["costlab_lake"] is True and len(identity["lake_id"]) == 32
    assert Workspace(folder).rows("SELECT sum(billed_cost) FROM charges")[0][0] == Decimal("1.5")


def test_a_lake_of_an_older_costlab_opens_and_gets_its_identity(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([tmp_path / "a.csv"], lake=lake)
    (lake / IDENTITY).unlink()  # as costlab before the identity file left it
    assert Workspace(lake).rows("SELECT count(*) FROM charges")[0][0] == 1
    write(tmp_path / "b.csv", [(2, "1", "2024-01-02")])
    ingest([tmp_path / "b.csv"], lake=lake)
    assert (lake / IDENTITY).is_file()
    assert Workspace(lake).rows("SELECT count(*) FROM charges")[0][0] == 2


# -- a lake whose manifest is lost or damaged ------------------------------------------------------
@pytest.mark.parametrize("identity", [True, False], ids=["with-identity", "older-lake"])
def test_ingest_refuses_a_lake_without_its_manifest_and_deletes_nothing(
    tmp_path: Path, history: tuple[Path, Path], identity: bool
) -> None:
    src, lake = history
    assert len(parquet_files(lake)) >= 10
    (lake / MANIFEST).unlink()
    if not identity:
        (lake / IDENTITY).unlink()
    before = snapshot(lake)
    write(src / "new.csv", [(99, "1", "2024-01-07")])
    code, _, err = run("ingest", str(src / "new.csv"), "--lake", str(lake))
    assert code == 1
    one_error(err, str(lake), "no _manifest.json", "costlab lake repair")
    assert snapshot(lake) == before
    for args in (["report"], ["sql", "select count(*) from charges"], ["runs"]):
        code, _, err = run(*args, "--lake", str(lake))
        assert code == 1, args
        one_error(err, "costlab lake repair")
    assert snapshot(lake) == before


DAMAGED = {
    "garbage-bytes": b"\xff\xfe\x00\x81garbage\x80\x00",
    "not-json": b"{\"version\": 1, ",
    "array": b"[]",
    "string": b'"x"',
    "empty-object": b"{}",
    "version-text": b'{"version": "a", "tables": {}, "files": {}}',
    "tables-array": b'{"version": 1, "tables": [], "files": {}}',
    "table-string": b'{"version": 1, "tables": {"charges": "x"}, "files": {}}',
    "path-outside": b'{"version": 1, "tables": {"charges": ["../../etc/passwd"]}, "files": {}}',
    "file-entry-list": b'{"version": 1, "tables": {}, "files": {"/a.csv": []}}',
    "file-size-text": b'{"version": 1, "tables": {}, "files": {"/a.csv": {"size": "1", "mtime_ns": 1, "sha256": "x"}}}',
    "trash-shape": b'{"version": 1, "tables": {}, "files": {}, "trash": [["a"]]}',
    "version-bool": b'{"version": true, "tables": {}, "files": {}}',
}


@pytest.mark.parametrize("raw", list(DAMAGED.values()), ids=list(DAMAGED))
def test_a_damaged_manifest_is_one_line_everywhere_and_nothing_is_deleted(
    tmp_path: Path, history: tuple[Path, Path], raw: bytes
) -> None:
    src, lake = history
    (lake / MANIFEST).write_bytes(raw)
    data_before = {k: v for k, v in snapshot(lake).items() if k.endswith(".parquet")}
    write(src / "new.csv", [(99, "1", "2024-01-07")])
    for args in (
        ["ingest", str(src / "new.csv")],
        ["report"],
        ["sql", "select count(*) from charges"],
        ["query", "spend_by_provider_month"],
        ["runs"],
    ):
        code, _, err = run(*args, "--lake", str(lake))
        assert code == 1, args
        one_error(err, "_manifest.json", "costlab lake repair")
    assert {k: v for k, v in snapshot(lake).items() if k.endswith(".parquet")} == data_before
    assert (lake / MANIFEST).read_bytes() == raw


def test_a_manifest_of_a_newer_costlab_is_refused(history: tuple[Path, Path]) -> None:
    _, lake = history
    m = json.loads((lake / MANIFEST).read_text())
    (lake / MANIFEST).write_text(json.dumps({**m, "format": 99}))
    for args in (["report"], ["ingest", str(lake / "nothing.csv")], ["lake", "repair"]):
        code, _, err = run(*args, "--lake", str(lake))
        assert code == 1, args
        one_error(err, "newer", "upgrade costlab")


# -- repair ---------------------------------------------------------------------------------------
def test_repair_dry_run_changes_nothing(history: tuple[Path, Path]) -> None:
    _, lake = history
    (lake / MANIFEST).unlink()
    before = snapshot(lake)
    code, out, err = run("lake", "repair", "--dry-run", "--lake", str(lake))
    assert code == 0, err
    assert "would write" in out and "charges: " in out
    assert snapshot(lake) == before


@pytest.mark.parametrize("loss", ["deleted", "garbage"])
def test_repair_rebuilds_the_lake_exactly(tmp_path: Path, history: tuple[Path, Path], loss: str) -> None:
    src, lake = history
    live_before = Lake(lake).manifest().tables
    if loss == "deleted":
        (lake / MANIFEST).unlink()
    else:
        (lake / MANIFEST).write_bytes(b"\x00\xffnot a manifest")
    code, out, err = run("lake", "repair", "--lake", str(lake))
    assert code == 0, err
    assert state(lake) == EXPECTED  # replaced files (rewritten, re-scoped, re-read) stayed out
    rebuilt = Lake(lake).manifest().tables
    for table in ("charges", "quarantine", "runs"):
        assert sorted(rebuilt[table]) == sorted(live_before[table]), table
    backups = list(lake.glob(f"{MANIFEST}.before-repair-*"))
    assert len(backups) == (1 if loss == "garbage" else 0)
    if backups:
        assert backups[0].read_bytes() == b"\x00\xffnot a manifest"
    # the files index came back: the sources, unchanged since read, are skipped, not re-read
    res = ingest([src], lake=lake)
    assert [f.status for f in res.files] == ["skipped"] * 5 and not res.failed, (Lake(lake).manifest().files, out)
    assert state(lake) == EXPECTED
    code, out, _ = run("lake", "check", "--lake", str(lake))
    assert code == 0 and "result: ok" in out, out


def test_repair_keeps_a_fixed_file_clean(tmp_path: Path) -> None:
    """A file re-read after its bad line was fixed left no quarantine row; repair must not bring
    the old one back (the later run wrote no quarantine rows, but it re-read the file)."""
    lake = tmp_path / "lake"
    f = write(tmp_path / "a.csv", [(1, "1", "2024-01-01"), (2, "bad", "2024-01-01")])
    ingest([f], lake=lake)
    write(f, [(1, "1", "2024-01-01"), (2, "2", "2024-01-01")])
    os.utime(f, ns=(1, 1))
    ingest([f], lake=lake)
    before = state(lake)
    assert before["quarantine"][0] == 0 and before["charges"] == (2, Decimal("3"))
    (lake / "_manifest.json").unlink()
    code, _, err = run("lake", "repair", "--lake", str(lake))
    assert code == 0, err
    assert state(lake) == before


def test_repair_of_a_manifest_restored_from_an_older_copy(tmp_path: Path, history: tuple[Path, Path]) -> None:
    """The manifest of run 2 put back after run 6: ingest refuses (files of four finished runs
    would go), repair brings back run 6's state."""
    src, lake = history
    (lake / MANIFEST).unlink()
    code, _, err = run("lake", "repair", "--lake", str(lake))
    assert code == 0, err
    # rebuild an older manifest: runs 1-2 only (what a backup taken then would hold)
    keep = sorted(Workspace(lake).rows("SELECT DISTINCT run_id FROM runs ORDER BY 1"))[:2]
    m = json.loads((lake / MANIFEST).read_text())
    m["tables"] = {t: [f for f in fs if any(r[0] in f for r in keep)] for t, fs in m["tables"].items()}
    (lake / MANIFEST).write_text(json.dumps(m))
    before = snapshot(lake)
    write(src / "new.csv", [(99, "1", "2024-01-07")])
    code, _, err = run("ingest", str(src / "new.csv"), "--lake", str(lake))
    assert code == 1
    one_error(err, "finished ingest runs are not in _manifest.json", "costlab lake repair")
    before.pop(".lock")  # the refusal came under the lock: only its holder line changed
    assert {k: v for k, v in snapshot(lake).items() if k != ".lock"} == before
    code, _, err = run("lake", "repair", "--lake", str(lake))
    assert code == 0, err
    assert state(lake) == EXPECTED


# -- garbage collection ---------------------------------------------------------------------------
def test_foreign_files_in_a_real_lake_survive_ingest(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([tmp_path / "a.csv"], lake=lake)
    day = lake / "charges" / "source_format=toy" / "day=2024-01-01"
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "run-20240101T000000-deadbeef-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0.parquet"
    victim.write_bytes(b"someone else's")
    mine = [
        day / "notes.txt",
        day / "run-by-hand.parquet",
        lake / "charges" / "README.md",
        lake / "runs" / "export.csv",
        lake / "_staging" / "keep-me" / "data.bin",
    ]
    for f in mine:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("mine")
    (lake / "spans").mkdir()
    (lake / "spans" / "source_format=x").symlink_to(outside)  # a link out of the lake: never followed
    # a trash entry the manifest lists for a file that costlab did not name: never deleted
    m = json.loads((lake / MANIFEST).read_text())
    m["trash"].append(["charges/README.md", 0])
    (lake / MANIFEST).write_text(json.dumps(m))
    write(tmp_path / "b.csv", [(2, "1", "2024-01-02")])
    res = ingest([tmp_path / "b.csv"], lake=lake)
    assert not res.failed
    assert all(f.read_text() == "mine" for f in mine)
    assert victim.read_bytes() == b"someone else's"
    assert Workspace(lake).rows("SELECT count(*) FROM charges")[0][0] == 2
    code, out, _ = run("lake", "check", "--lake", str(lake))
    assert code == 0 and "files costlab did not write" in out and "notes.txt" in out


def test_a_run_killed_while_committing_is_collected(tmp_path: Path) -> None:
    """Files of one run that wrote its runs row but did not commit (killed in between) are a
    killed ingest's: the next ingest deletes them."""
    lake = tmp_path / "lake"
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([tmp_path / "a.csv"], lake=lake)
    committed = (lake / MANIFEST).read_bytes()
    write(tmp_path / "b.csv", [(2, "1", "2024-01-02")])
    ingest([tmp_path / "b.csv"], lake=lake)
    (lake / MANIFEST).write_bytes(committed)  # as if run 2 died just before its commit
    strays = set(parquet_files(lake)) - {lake / p for p in Lake(lake).manifest().live()}
    assert {p.parts[len(lake.parts)] for p in strays} == {"charges", "runs"}
    write(tmp_path / "c.csv", [(3, "1", "2024-01-03")])
    ingest([tmp_path / "c.csv"], lake=lake)
    assert not any(p.exists() for p in strays)
    assert Workspace(lake).rows("SELECT count(*), sum(billed_cost) FROM charges")[0] == (2, Decimal("2"))


# -- reading ------------------------------------------------------------------------------------
READERS = [
    ["report"],
    ["report", "-f", "json"],
    ["sql", "select count(*) from charges"],
    ["query", "spend_by_provider_month"],
    ["runs"],
    ["quarantine"],
    ["reconcile"],
    ["analyze"],
    ["lake", "check"],
]


@pytest.mark.parametrize("args", READERS, ids=[" ".join(a) for a in READERS])
def test_reading_a_lake_that_does_not_exist_fails(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo"
    code, out, err = run(*args, "--lake", str(missing))
    assert code == 1 and not out
    one_error(err, f"no costlab lake at {missing}")
    assert not missing.exists()
    missing.mkdir()  # an empty folder is no lake either
    code, _, err = run(*args, "--lake", str(missing))
    assert code == 1
    one_error(err, "no costlab lake")


def test_export_and_python_api_on_a_missing_lake(tmp_path: Path) -> None:
    code, _, err = run("export", "focus", "-o", str(tmp_path / "f.csv"), "--lake", str(tmp_path / "typo"))
    assert code == 1
    one_error(err, "no costlab lake")
    with pytest.raises(Exception, match="no costlab lake"):
        Workspace(tmp_path / "typo").table("charges")


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_live_file_deleted_or_truncated_is_one_line(history: tuple[Path, Path], damage: str) -> None:
    _, lake = history
    victim = lake / sorted(Lake(lake).manifest().tables["charges"])[0]
    if damage == "deleted":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    for args in (["report"], ["report", "-f", "json"], ["sql", "select sum(billed_cost) from charges"], ["query", "spend_by_provider_month"]):
        code, _, err = run(*args, "--lake", str(lake))
        assert code == 1, args
        one_error(err, str(victim), "costlab lake check")
    code, out, _ = run("lake", "check", "--lake", str(lake))
    assert code == 1 and victim.name in out and "problem:" in out


def test_a_live_file_deleted_under_an_open_connection_is_one_line(history: tuple[Path, Path]) -> None:
    _, lake = history
    con = Workspace(lake).connect()
    victim = lake / sorted(Lake(lake).manifest().tables["charges"])[-1]
    victim.unlink()
    with pytest.raises(LakeDamagedError, match="is missing"), lake_file_errors():
        con.execute("SELECT sum(billed_cost) FROM charges").fetchall()
    con.close()


def test_lake_help_has_examples() -> None:
    for args in (["lake", "--help"], ["lake", "check", "--help"], ["lake", "repair", "--help"]):
        code, out, _ = run(*args)
        assert code == 0 and "costlab lake" in out and "Example" in out, args


def test_trash_within_grace_is_kept_and_past_grace_is_deleted(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    ingest([tmp_path / "a.csv"], lake=lake)
    write(tmp_path / "b.csv", [(1, "2", "2024-01-01")])
    ingest([tmp_path / "b.csv"], lake=lake)
    (old,) = Lake(lake).manifest().trash
    write(tmp_path / "c.csv", [(3, "1", "2024-01-03")])
    ingest([tmp_path / "c.csv"], lake=lake)
    assert (lake / old[0]).exists()  # a report that started before run 2 may still read it
    m = json.loads((lake / MANIFEST).read_text())
    m["trash"] = [[old[0], time.time() - 3600]]
    (lake / MANIFEST).write_text(json.dumps(m))
    write(tmp_path / "d.csv", [(4, "1", "2024-01-04")])
    ingest([tmp_path / "d.csv"], lake=lake)
    assert not (lake / old[0]).exists()
    assert os.path.isdir(lake / "charges")


# -- one path given alone ------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["in", Path("in")], ids=["str", "Path"])
def test_the_library_reads_one_path_given_alone_and_nothing_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | Path
) -> None:
    """``costlab.ingest("exports/")`` reads that folder. A string is iterable: read as a list of
    paths it was the characters of its name, and an absolute one began with ``/``, the whole
    file system (it ingested site-packages' JSONL); a Path failed as not iterable."""
    import costlab

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "a.csv", [(1, "1.25", "2024-01-01"), (2, "2", "2024-01-02")])
    write(tmp_path / "b.csv", [(9, "100", "2024-01-01")])  # beside it: must not be read
    result = costlab.ingest(given, lake="lake")
    assert [(Path(f.path).name, f.status) for f in result.files] == [("a.csv", "ingested")]
    assert Workspace(tmp_path / "lake").rows("SELECT count(*), sum(billed_cost) FROM charges")[0] == (2, Decimal("3.25"))


SPILL = "SELECT count(*) FROM (SELECT range AS a, md5(CAST(range AS VARCHAR)) AS b FROM range(3000000) ORDER BY b)"


def test_duckdb_spills_go_to_a_folder_of_their_own_not_the_current_one(
    tmp_path: Path, demo_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's default spill folder is ``.tmp`` in the current folder: a report or an analyzer
    past its memory cap wrote there (seen: 27 MB under a 150 MB analyzer cap), and a killed run
    left it. Every connection costlab opens spills under the system temp folder instead, in a
    folder DuckDB removes on close."""
    cwd, system_tmp = tmp_path / "user-repo", tmp_path / "system-tmp"
    cwd.mkdir()
    system_tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("tempfile.tempdir", str(system_tmp))
    ws = Workspace(demo_lake)
    for con in (ws.connect(engine="duckdb"), ws.analysis_connection()):
        folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        assert folder.parent == system_tmp and folder.name.startswith("costlab-spill-")
        con.execute("SET memory_limit = '30MB'")
        con.execute("SET threads = 1")
        assert con.execute(SPILL).fetchone() == (3_000_000,)
        assert folder.is_dir() and any(folder.iterdir()), "the sort did not spill: the test proves nothing"
        assert list(cwd.iterdir()) == []
        con.close()
        assert not folder.exists()
    ws.release()
    assert list(cwd.iterdir()) == [] and list(system_tmp.iterdir()) == []
