"""The lake's stored call_facts always equal the full de-duplication over spans (costlab/calls_store.py).

Each ingest updates the stored copy incrementally; these tests compare, after every step, the
priced ``calls`` read from that copy (``Lake.connect(fast=True)``, what reports use) with the
``calls`` the full view derives from every span. Steps: a first ingest, a new day, a file cut
short (its calls disappear), a file copied to a second path (every call duplicated across files:
still counted once), a streamed reply's later line with more output arriving in another file (the
winner changes), and a lake written before the copy existed.

Corpus: Claude Code sessions generated from the real record templates in
tests/fixtures/claude_code/records by benchmarks/corpus.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from costlab import schema
from costlab.ingest.run import ingest
from costlab.lake import MANIFEST, Lake
from costlab.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "tests" / "fixtures" / "claude_code" / "records"
COLS = [n for n, _ in schema.DERIVED_TABLES["call_facts"]] + ["day", "cost", "cost_currency", "cost_source"]


def _corpus() -> Any:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import corpus
    finally:
        sys.path.pop(0)
    return corpus


def _write_days(out: Path, first: int, days: int) -> None:
    corpus = _corpus()
    t = corpus.Templates.load(RECORDS)
    for d in range(first, first + days):
        for s in corpus.claude_code_day(t, 11, d, 40_000):
            p = out / f"{s.sid}.jsonl"
            p.write_text("\n".join(s.lines) + "\n")


def _calls(lake: Path, fast: bool) -> list[tuple[Any, ...]]:
    with Workspace(lake).connect(fast=fast) as con:
        rows = con.execute(f"SELECT {', '.join(COLS)} FROM calls").fetchall()
    return sorted(rows, key=repr)


def _check(lake: Path) -> int:
    """Stored == full, one stored row per call_key; returns the number of calls."""
    assert "call_facts" in Lake(lake).manifest().tables
    stored, full = _calls(lake, True), _calls(lake, False)
    assert stored == full
    keys = [r[COLS.index("call_key")] for r in stored]
    assert len(keys) == len(set(keys))
    return len(stored)


def _ingested(tmp_path: Path, days: int) -> tuple[Path, Path, int]:
    """Logs of ``days`` days ingested into a new lake: (logs, lake, calls)."""
    src, lake = tmp_path / "logs", tmp_path / "lake"
    src.mkdir()
    _write_days(src, 0, days)
    ingest([src], lake=lake)
    return src, lake, _check(lake)


def test_stored_calls_follow_every_kind_of_change(tmp_path: Path) -> None:
    src, lake, n0 = _ingested(tmp_path, 2)
    assert n0 > 20

    _write_days(src, 2, 1)  # a new day
    ingest([src], lake=lake)
    n1 = _check(lake)
    assert n1 > n0

    victim = sorted(src.glob("*.jsonl"))[0]  # cut short: the file is re-read, its lost calls go
    lines = victim.read_text().splitlines()
    victim.write_text("\n".join(lines[: len(lines) // 3]) + "\n")
    ingest([src], lake=lake)
    n2 = _check(lake)
    assert n2 < n1

    other = sorted(src.glob("*.jsonl"))[1]  # the same requests in a second file: counted once
    shutil.copy(other, src / "copy-of-session.jsonl")
    ingest([src], lake=lake)
    assert _check(lake) == n2

    # a later line of a streamed reply with more output, in a new file: it wins (same key)
    line = next(x for x in other.read_text().splitlines() if '"type":"assistant"' in x.replace(" ", ""))
    rec = json.loads(line)
    before = rec["message"]["usage"]["output_tokens"]
    rec["message"]["usage"]["output_tokens"] = before + 1000
    rec["uuid"] = "00000000-0000-4000-8000-000000000001"
    (src / "late-line.jsonl").write_text(json.dumps(rec) + "\n")
    ingest([src], lake=lake)
    assert _check(lake) == n2
    with Workspace(lake).connect(fast=True) as con:
        key = "anthropic\x1f" + rec["message"]["id"]  # provider, chr(31), request id
        got = con.execute("SELECT output_tokens FROM calls WHERE call_key = ?", [key]).fetchall()
    assert got == [(before + 1000,)]


def test_a_lake_without_the_copy_gets_it_on_the_next_ingest(tmp_path: Path) -> None:
    src, lake, n = _ingested(tmp_path, 1)
    m = json.loads((lake / MANIFEST).read_text())  # as an older costlab left it
    del m["tables"]["call_facts"]
    (lake / MANIFEST).write_text(json.dumps(m))
    assert _calls(lake, True) == _calls(lake, False)  # fast falls back to the full view
    ingest([src], lake=lake)  # nothing new to read, but the copy is built and committed
    assert _check(lake) == n


def test_demo_lake_stored_calls_equal_full(demo_lake: Path) -> None:
    n = _check(demo_lake)
    assert n > 1000  # the demo's OTLP traces plus the real samples


@pytest.mark.parametrize("fast", [True, False])
def test_empty_lake_has_no_calls(tmp_path: Path, fast: bool) -> None:
    lake = tmp_path / "lake"
    ingest([ROOT / "tests" / "fixtures" / "focus"], lake=lake)  # billing only: no spans
    assert _calls(lake, fast) == []
    assert Lake(lake).manifest().tables["call_facts"] == []


def test_out_of_memory_is_one_line_and_commits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge that does not fit COSTLAB_INGEST_MEMORY says so in one line (exit 1) and leaves the
    lake as it was; with the default limit the same work succeeds."""
    from typer.testing import CliRunner

    from costlab.cli import app

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.lakegen import write_lake
    finally:
        sys.path.pop(0)
    lake = tmp_path / "lake"
    write_lake(lake, 200_000, charges=False)
    m = json.loads((lake / MANIFEST).read_text())
    del m["tables"]["call_facts"]  # the next ingest must derive all 200,000 calls
    (lake / MANIFEST).write_text(json.dumps(m))
    before = (lake / MANIFEST).read_text()
    empty = tmp_path / "nothing-new"
    empty.mkdir()
    monkeypatch.setenv("COSTLAB_INGEST_MEMORY", "16MB")
    r = CliRunner().invoke(app, ["ingest", str(empty), "--lake", str(lake), "-q"])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "COSTLAB_INGEST_MEMORY=16MB" in r.stderr and "Traceback" not in r.stderr
    assert (lake / MANIFEST).read_text() == before
    monkeypatch.delenv("COSTLAB_INGEST_MEMORY")
    r = CliRunner().invoke(app, ["ingest", str(empty), "--lake", str(lake), "-q"])
    assert r.exit_code == 0, r.stderr
    assert _check(lake) == 200_000


def test_a_changed_call_reads_only_the_history_files_holding_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One request seen twice: an SDK span (output 100, 2026-10-05) and, in a later file, a
    gateway span of the same response id with another span id (output 40, 2026-10-07). Both rows
    stay (different row keys); the call is one, and the span with more output wins. The update
    reads in full only the span files holding that key: the first day's, not the other day's."""
    from datetime import UTC, datetime

    sys.path.insert(0, str(ROOT / "tests"))
    from otlpspan import chat_span, write_traces

    from costlab import calls_store

    def span(n: int, day: int, out: int, response: str | None) -> dict[str, Any]:
        s = chat_span(n, datetime(2026, 10, day, 9, tzinfo=UTC), 1000, out)
        if response:
            s["attributes"].append({"key": "gen_ai.response.id", "value": {"stringValue": response}})  # type: ignore[attr-defined]
        return s

    src, lake = tmp_path / "logs", tmp_path / "lake"
    src.mkdir()
    write_traces(src / "sdk.json", [span(1, 5, 100, "resp_1"), span(2, 5, 7, "resp_2")])
    write_traces(src / "other-day.json", [span(3, 6, 9, "resp_3")])
    ingest([src], lake=lake)
    assert _check(lake) == 3

    seen: list[tuple[list[str], list[str]]] = []
    find = calls_store._files_with_changed_keys

    def spy(con: Any, live: list[str]) -> list[str]:
        hits = find(con, live)
        seen.append((live, hits))
        return hits

    monkeypatch.setattr(calls_store, "_files_with_changed_keys", spy)
    write_traces(src / "gateway.json", [span(4, 7, 40, "resp_1")])
    ingest([src], lake=lake)
    assert _check(lake) == 3  # still three calls: resp_1 once
    with Workspace(lake).connect(fast=True) as con:
        got = con.execute("SELECT output_tokens FROM calls WHERE call_key = 'openai' || chr(31) || 'resp_1'").fetchall()
    assert got == [(100,)]
    ((live, hits),) = seen
    assert len(live) == 3
    assert sorted(h.split("/day=")[1][:10] for h in hits) == ["2026-10-05", "2026-10-07"]
