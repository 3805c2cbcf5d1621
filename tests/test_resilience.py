"""SIGKILL an ingest at random moments: the lake always opens, holds either the before or the after
state, and a rerun converges to the state of an uninterrupted run. Two ingests at once never
corrupt it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from toysource import write

from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.workspace import Workspace

TESTS = Path(__file__).resolve().parent
KILLS = int(os.environ.get("COSTLAB_KILL_MOMENTS", "12"))

CHILD = """
import sys
sys.path.insert(0, {tests!r})
import toysource
from costlab.ingest.run import ingest
ingest([{data!r}], lake={lake!r}, wait=60)
"""


def state(lake: Path) -> tuple[Decimal, int]:
    return Workspace(lake).rows("SELECT coalesce(sum(billed_cost), 0), count(*) FROM charges")[0]


def spawn(data: Path, lake: Path) -> subprocess.Popen[bytes]:
    code = CHILD.format(tests=str(TESTS), data=str(data), lake=str(lake))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A lake holding the first 6 files (before), and a folder with 6 more, some restating."""
    data = tmp_path / "data"
    data.mkdir()
    rng = random.Random(7)
    for f in range(12):
        rows = [(f * 1000 + i if i % 10 else i, f"{rng.randint(0, 10**6)}.{rng.randint(0, 999):03d}", f"2024-01-{1 + f % 28:02d}") for i in range(3000)]
        write(data / f"part{f:02d}.csv", rows)
    before = tmp_path / "before"
    first = tmp_path / "first"
    first.mkdir()
    for f in range(6):
        shutil.copy(data / f"part{f:02d}.csv", first)
    ingest([first], lake=before)
    # point the recorded source paths at the shared folder so the rerun sees them as known
    return data, before


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    data, before_lake = corpus
    before = state(before_lake)
    ref = tmp_path / "ref"
    shutil.copytree(before_lake, ref)
    t0 = time.monotonic()
    assert spawn(data, ref).wait() == 0
    duration = time.monotonic() - t0
    after = state(ref)
    assert after != before
    rng = random.Random(2024)
    outcomes = set()
    for k in range(KILLS):
        lake = tmp_path / f"k{k}"
        shutil.copytree(before_lake, lake)
        proc = spawn(data, lake)
        time.sleep(rng.uniform(0.05, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        got = state(lake)
        assert got in (before, after), f"kill {k}: lake holds {got}, neither {before} nor {after}"
        outcomes.add(got == after)
        assert spawn(data, lake).wait() == 0
        assert state(lake) == after
        assert not (lake / "_staging").exists()
        live = {p for files in Lake(lake).manifest().tables.values() for p in files}
        on_disk = {p.relative_to(lake).as_posix() for t in ("charges", "quarantine") for p in (lake / t).rglob("*.parquet")}
        trash = {p for p, _ in Lake(lake).manifest().trash}
        assert on_disk <= live | trash
    assert False in outcomes, "no kill landed before the commit; the test did not exercise atomicity"


@pytest.mark.slow
def test_two_ingests_and_a_report_at_once(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    data, before_lake = corpus
    lake = tmp_path / "both"
    shutil.copytree(before_lake, lake)
    a, b = spawn(data, lake), spawn(data, lake)
    seen = []
    while a.poll() is None or b.poll() is None:
        seen.append(state(lake))  # reports keep working while writers run
        time.sleep(0.05)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr.read() if a.stderr else b"", b.stderr.read() if b.stderr else b"")
    ref = tmp_path / "ref"
    shutil.copytree(before_lake, ref)
    assert spawn(data, ref).wait() == 0
    assert state(lake) == state(ref)
    assert all(s in (state(before_lake), state(ref)) for s in seen)


def report_total(lake: Path) -> tuple[Decimal, int]:
    """`costlab report -f json` in its own process: (sum of billed_cost over spend_by_day, rows
    of spend_by_day's day set). Any error fails the test."""
    import json

    exe = Path(sys.executable).with_name("costlab")
    r = subprocess.run(
        [str(exe), "report", "--lake", str(lake), "-f", "json", "--no-fail", "--no-findings"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    rows = json.loads(r.stdout, parse_float=Decimal)["sections"]["spend_by_day"]["rows"]
    return sum((Decimal(str(x["billed_cost"])) for x in rows), Decimal(0)), len({x["day"] for x in rows})


@pytest.mark.slow
def test_report_while_ingesting_sees_before_or_after(tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    """`costlab report` running alongside an ingest reads one committed snapshot: its totals are
    the lake's before or after state, never a mix, and it never fails."""
    data, before_lake = corpus
    ref = tmp_path / "ref"
    shutil.copytree(before_lake, ref)
    assert spawn(data, ref).wait() == 0
    before, after = report_total(before_lake), report_total(ref)
    assert before[0] == state(before_lake)[0] and after[0] == state(ref)[0] and before != after
    lake = tmp_path / "busy"
    shutil.copytree(before_lake, lake)
    writer = spawn(data, lake)
    seen = [report_total(lake)]
    while writer.poll() is None:
        seen.append(report_total(lake))
    assert writer.returncode == 0
    seen.append(report_total(lake))
    assert all(s in (before, after) for s in seen), seen
    assert seen[-1] == after
