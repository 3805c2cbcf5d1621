"""The analyzers' materialized calls cover only the workspace's period, exactly
(costlab.workspace.Workspace.analysis_connection, _period_calls).

A nightly ``costlab report --since yesterday`` runs every analyzer; they used to build the
priced, de-duplicated calls of the whole lake (24 s on 10M calls) to keep one day of them.
The period's calls are now chosen by the stored call_facts and de-duplicated over the period's
span files, which hold each such call's winning copy: a call whose copies straddle midnight
belongs to the day of the copy that wins, with the winner's tokens, never to the day of a
losing copy.

Constructed Claude Code logs (record shape as tests/fixtures/claude_code/constructed; ids, times
and tokens invented so the answer is known by hand):
  a.jsonl  msg_A1 2026-10-01 12:00:00  output 7
           msg_X  2026-10-01 23:59:59  output 5   (a first copy of msg_X)
  b.jsonl  msg_X  2026-10-02 00:00:02  output 50  (the copy with more output: it wins, on day 2)
           msg_B1 2026-10-02 10:00:00  output 9
So day 1 holds msg_A1 alone; day 2 holds msg_X (output 50, input 2000) and msg_B1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from costlab.ingest.run import ingest
from costlab.workspace import Workspace


def _reply(msg: str, at: str, out: int, inp: int, session: str) -> str:
    return json.dumps({
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/home/dev/shop",
        "sessionId": session, "version": "2.0.28", "uuid": f"u-{msg}-{at}", "timestamp": at,
        "type": "assistant", "requestId": f"req_{msg}",
        "message": {
            "model": "claude-sonnet-4-5-20250929", "id": msg, "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": inp, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": out},
        },
    })  # fmt: skip


def _lake(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(
        _reply("msg_A1", "2026-10-01T12:00:00.000Z", 7, 1000, "s-a") + "\n"
        + _reply("msg_X", "2026-10-01T23:59:59.000Z", 5, 2000, "s-a") + "\n"
    )
    (logs / "b.jsonl").write_text(
        _reply("msg_X", "2026-10-02T00:00:02.000Z", 50, 2000, "s-b") + "\n"
        + _reply("msg_B1", "2026-10-02T10:00:00.000Z", 9, 3000, "s-b") + "\n"
    )
    lake = tmp_path / "lake"
    ingest([logs], lake=lake)
    return lake


def _base(ws: Workspace) -> list[tuple[object, ...]]:
    return ws.analysis_connection().execute(
        "SELECT span_id, output_tokens, input_tokens FROM analyze_base ORDER BY span_id"
    ).fetchall()


def test_the_period_holds_its_calls_with_their_winning_copy(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    day1 = Workspace(lake, since="2026-10-01", until="2026-10-02")
    day2 = day1.with_period("2026-10-02", "2026-10-03")
    assert _base(day1) == [("msg_A1", 7, 1000)]  # not msg_X: its winning copy is on day 2
    assert _base(day2) == [("msg_B1", 9, 3000), ("msg_X", 50, 2000)]
    # the copies share one connection slot: day1 asking again rebuilds, it is not left closed
    assert _base(day1) == [("msg_A1", 7, 1000)]
    everything = Workspace(lake)
    assert _base(everything) == [("msg_A1", 7, 1000), ("msg_B1", 9, 3000), ("msg_X", 50, 2000)]
    assert _base(Workspace(lake, since="2026-10-03")) == []
    assert _base(Workspace(lake, since="2026-10-01", until="2026-10-03")) == _base(everything)
    noon = Workspace(lake, since=datetime(2026, 10, 1, 12, 0, 1, tzinfo=UTC), until="2026-10-03")
    assert _base(noon) == [("msg_B1", 9, 3000), ("msg_X", 50, 2000)]  # msg_A1 ran at 12:00:00
    for ws in (day1, day2, everything):
        ws.release()


def test_the_analyzers_answer_the_same_from_the_period_as_from_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What each analyzer reports for day 2 does not depend on the base holding other days:
    the same findings and summaries as with every call built (the restriction switched off)."""
    from costlab import workspace
    from costlab.analyze.base import run

    lake = _lake(tmp_path)
    kw = {"since": "2026-10-02", "until": "2026-10-03", "config": {}}
    got = [r.to_dict() for r in run(Workspace(lake), **kw)]
    waste = next(r for r in got if r["analyzer"] == "waste")
    caching = next(r for r in got if r["analyzer"] == "caching")
    assert waste["summary"]["calls"] == 2
    assert caching["summary"]["calls"] == 2 and caching["summary"]["input_tokens"] == 5000
    monkeypatch.setattr(workspace, "_period_calls", lambda *args: None)
    assert [r.to_dict() for r in run(Workspace(lake), **kw)] == got


def _two_days_of_steps(tmp_path: Path) -> Path:
    """tests/fixtures/analyze/litellm_steps.jsonl (100 calls on 2025-06-04, prompts kept) and a
    copy of it moved to 2025-06-05 under new request ids: two days of calls whose spans carry
    message tokens, prefix hashes, prompt texts and tool summaries."""
    src = Path(__file__).resolve().parent / "fixtures" / "analyze" / "litellm_steps.jsonl"
    logs = tmp_path / "logs"
    logs.mkdir()
    text = src.read_text()
    (logs / "day1.jsonl").write_text(text)
    (logs / "day2.jsonl").write_text(text.replace("2025-06-04", "2025-06-05").replace('"req-', '"req2-'))
    lake = tmp_path / "lake"
    ingest([logs], lake=lake, keep_text=True)
    return lake


def test_the_prompt_features_of_a_period_come_from_its_own_span_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``analyze_spans`` (what the analyzers fetch prefix hashes, message tokens, prompt texts
    and tool summaries from, by row_key) holds only the period's day files, and every analyzer
    answers as it does with every span read (the restriction switched off)."""
    from costlab import workspace
    from costlab.analyze.base import run
    from costlab.analyze.stats import prompts

    lake = _two_days_of_steps(tmp_path)
    day2 = Workspace(lake, since="2025-06-05", until="2025-06-06")
    con = day2.analysis_connection()
    assert con.execute("SELECT count(*) FROM spans").fetchall() == [(200,)]
    assert con.execute("SELECT count(*) FROM analyze_spans").fetchall() == [(100,)]
    prompts(con)
    assert con.execute(
        "SELECT count(*), min(start_time) >= TIMESTAMPTZ '2025-06-05 00:00:00+00' FROM analyze_prompts "
        "JOIN analyze_calls USING (trace_id, span_id, source_line)"
    ).fetchall() == [(100, True)]
    day2.release()
    noon = datetime(2025, 6, 4, 7, 30, tzinfo=UTC)  # inside day 1's calls
    for since, until in (("2025-06-05", "2025-06-06"), ("2025-06-04", "2025-06-06"), (noon, "2025-06-05")):
        kw = {"since": since, "until": until, "config": {}}
        got = [r.to_dict() for r in run(Workspace(lake), **kw)]
        with monkeypatch.context() as m:
            m.setattr(workspace, "_period_calls", lambda *args: None)
            assert [r.to_dict() for r in run(Workspace(lake), **kw)] == got, (since, until)
    caching = next(r for r in got if r["analyzer"] == "caching")
    assert caching["findings"], "the fixture's prompts give caching findings: the comparison is not empty"


def _base_rows(ws: Workspace) -> list[tuple[object, ...]]:
    return ws.analysis_connection().execute("SELECT * FROM analyze_base ORDER BY row_key").fetchall()


def _one_window_base(ws: Workspace) -> list[tuple[object, ...]]:
    """``analyze_base`` as it was built before the two-step build: views/call_facts.sql (one
    window over every column of every span) under the period's own restriction."""
    from costlab.sql import load_sql

    con = ws.analysis_connection()
    con.execute(f"CREATE OR REPLACE VIEW call_facts AS {load_sql('views/call_facts')}")
    return con.execute(f"SELECT * FROM ({load_sql('views/analyze_base')}) ORDER BY row_key").fetchall()


@pytest.mark.parametrize("build", ["claude_code", "litellm_steps"])
def test_the_two_step_build_keeps_the_rows_of_the_one_window(tmp_path: Path, build: str) -> None:
    """The winners chosen on five columns, then their spans fetched by key
    (costlab.workspace._winning_calls), are the rows views/call_facts.sql keeps, column for
    column: the copies of msg_X across midnight, and 100 calls a day with prompts kept."""
    lake = _lake(tmp_path) if build == "claude_code" else _two_days_of_steps(tmp_path)
    days = (
        [("2026-10-01", "2026-10-02"), ("2026-10-02", "2026-10-03"), (None, None)]
        if build == "claude_code" else [("2025-06-05", "2025-06-06"), (None, None)]
    )  # fmt: skip
    for since, until in days:
        ws = Workspace(lake, since=since, until=until)
        got = _base_rows(ws)
        assert got, (since, until)
        assert got == _one_window_base(ws), (since, until)
        ws.release()
    assert len(_base_rows(Workspace(lake))) == (3 if build == "claude_code" else 200)


def test_keys_that_share_a_hash_are_caught_and_matched_on_their_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching on a hash that collides (here: times 0, so every key shares one value) lets
    other calls in; the counts show it, and the calls are built again on the keys' text, or,
    when no way of matching adds up, by the one window of views/call_facts.sql: the rows are
    those matched on text from the start."""
    from costlab import workspace
    from costlab.sql import load_sql

    lake = _lake(tmp_path)
    periods = (("2026-10-01", "2026-10-02"), (None, None))
    want = {p: _base_rows(Workspace(lake, since=p[0], until=p[1])) for p in periods}
    assert [len(v) for v in want.values()] == [1, 3]
    # day 1 holds msg_A1 alone; matched on the colliding hash, every call of the span files
    # read (days 1 and 2: the day of `until` is read, its calls filtered) comes in
    day1 = Workspace(lake, since="2026-10-01", until="2026-10-02")
    con = day1.connect(engine="duckdb")
    con.execute(f"CREATE OR REPLACE VIEW analyze_spans AS {load_sql('views/analyze_spans')}")
    keys = workspace._period_calls(con, lake, day1.lake.manifest(), day1.period, "(hash({}) * 0)")
    winners = workspace._winning_calls(con, "(hash({}) * 0)")
    con.execute(f"CREATE TEMP TABLE analyze_base AS {load_sql('views/analyze_base')}")
    assert (keys, winners) == (1, 3)
    assert not workspace._base_rows_exact(con, keys, winners)
    con.close()
    passes: list[str] = []
    real = workspace._winning_calls

    def counted(con: object, match: str) -> int:
        passes.append(match)
        return real(con, match)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace, "_winning_calls", counted)
    for matches in (("(hash({}) * 0)", "{}"), ("(hash({}) * 0)",)):
        monkeypatch.setattr(workspace, "MATCH_KEYS", matches)
        for (since, until), rows in want.items():
            passes.clear()
            assert _base_rows(Workspace(lake, since=since, until=until)) == rows, (matches, since)
            # day 1 needs every way of matching; the whole lake holds one row per call, so the
            # collisions let nothing in and the hashes suffice
            assert passes == (list(matches) if since else [matches[0]]), (matches, since)


def test_the_period_call_count_reads_the_stored_calls(tmp_path: Path) -> None:
    """What the analyzers' memory is checked against before they build anything: the stored
    calls starting in the period (msg_X counts on day 2, the day its winning copy starts)."""
    lake = _lake(tmp_path)
    counts = {
        (since, until): Workspace(lake, since=since, until=until).period_call_count()
        for since, until in (
            ("2026-10-01", "2026-10-02"), ("2026-10-02", "2026-10-03"), (None, None), ("2026-10-03", None),
            (datetime(2026, 10, 1, 12, 0, 1, tzinfo=UTC), "2026-10-03"),
        )
    }  # fmt: skip
    assert list(counts.values()) == [1, 2, 3, 0, 2]
    for (since, until), n in counts.items():  # the same calls the analyzers build
        assert len(_base(Workspace(lake, since=since, until=until))) == n


def test_the_analyzers_spill_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's own spill cap is 90% of the temp folder's free disk; the analyzers' is
    ``[analyze] spill_limit``, else 20 GB or half the free space when that is less, and a bad
    size is refused by name."""
    import shutil

    from costlab.errors import CostlabError

    lake = _lake(tmp_path)
    usage = shutil.disk_usage(tmp_path)

    def setting(config: dict[str, object]) -> str:
        ws = Workspace(lake, config=config)
        try:
            return str(ws.analysis_connection().execute("SELECT current_setting('max_temp_directory_size')").fetchall()[0][0])
        finally:
            ws.release()

    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=100 * 10**9))
    assert setting({}) == "18.6 GiB"  # 20 GB
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=8 * 2**30))
    assert setting({}) == "4.0 GiB"  # half of 8 GiB free
    assert setting({"analyze": {"spill_limit": "1GiB"}}) == "1.0 GiB"
    with pytest.raises(CostlabError, match=r"\[analyze\] spill_limit: 'lots' is not a size"):
        setting({"analyze": {"spill_limit": "lots"}})
