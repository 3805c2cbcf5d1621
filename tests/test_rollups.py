"""The lake's rollups answer exactly as the calls do (costlab/rollups.py).

A report reads the daily rollups (call_rollup priced at report time, call_marks for runs,
sessions and durations) when they can stand for the calls. These tests hold it to the per-call
answer on calls built to reach every price rule (input bands, time-of-day prices, tiers, unpriced
and reported calls, impossible token splits), keep the stored rollups equal to a rebuild through
every kind of ingest change, and check the fallbacks say why.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_calls_store import _write_days

from costlab import calls_store, rollups, schema
from costlab.ingest.run import ingest
from costlab.lake import Lake, Manifest
from costlab.pricing import PriceBook
from costlab.report.build import build_report
from costlab.sql import load_sql
from costlab.workspace import Workspace

D0 = datetime(2026, 10, 5, tzinfo=UTC)


def _span(i: int, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {n: None for n, _ in schema.TABLES["spans"]}
    row.update(
        trace_id=f"t{i // 3}", span_id=f"s{i}", workflow="support", step="answer", session_id=f"sess{i // 6}",
        user_id="ann", span_kind="llm", start_time=D0 + timedelta(minutes=7 * i), provider="openai",
        model="gpt-4.1", service_tier="standard", input_tokens=1000, output_tokens=100, usage_scope="self",
        usage_source="reported", request_id=f"r{i}", source_line=i, row_key=f"k{i}", run_id="t",
        ingested_at=D0, tags={"team": "help"},
    )
    row.update(kw)
    return row


def _shapes() -> list[dict[str, Any]]:
    """Calls reaching every rule of views/calls.sql, over three days and two workflows."""
    day = timedelta(days=1)
    rows = [
        _span(0), _span(1), _span(2, cache_read_tokens=400),  # one group, one with a cached part
        _span(3, start_time=D0 + day, workflow="triage", trace_id=None),  # no run: its own
        _span(4, service_tier="batch"),
        _span(5, service_tier="provisioned"),  # never token-priced
        # long context: the input band decides the price (Claude Sonnet 4: above 200k tokens)
        _span(6, provider="anthropic", model="claude-sonnet-4-20250514", input_tokens=250_000,
              cache_write_tokens=1000, cache_write_1h_tokens=600),
        _span(7, provider="anthropic", model="claude-sonnet-4-20250514", input_tokens=150_000,
              cache_write_tokens=1000, cache_write_5m_tokens=1000),
        # time of day: DeepSeek's off-peak price (16:30-00:30 UTC) against the day's
        _span(8, provider="deepseek", model="deepseek-chat", start_time=D0.replace(hour=10)),
        _span(9, provider="deepseek", model="deepseek-chat", start_time=D0.replace(hour=17)),
        _span(10, provider="acme", model="acme-1", reported_cost=Decimal("0.5"), reported_cost_currency="USD"),
        _span(11, provider="acme", model="acme-1"),  # unpriced, listed
        _span(12, cache_read_tokens=5000),  # more cached than input: never priced
        _span(13, span_kind="embedding", model="text-embedding-3-small", output_tokens=None),
        _span(14, usage_source="missing", input_tokens=None, output_tokens=None),
        _span(15, provider="openai", model="o3", output_tokens=900, reasoning_tokens=700),
        _span(16, end_time=D0 + timedelta(minutes=7 * 16, seconds=3)),  # timed
        _span(17, end_time=D0 + timedelta(minutes=7 * 17, seconds=9), step="plan"),
        _span(18, start_time=D0 + 2 * day, user_id="bob", session_id=None, tags={"Team": "ops"}),
        _span(19, start_time=D0 + 2 * day, repo="shop", branch="ABC-12-fix", workflow=None),
    ]
    return rows


def _write_lake(root: Path, spans: list[dict[str, Any]], keys: rollups.RollupKeys | None = None) -> Path:
    """A lake of ``spans`` with its call_facts and rollups derived as ingest derives them."""
    root.mkdir(parents=True)
    sch = schema.arrow_schema("spans")
    by_day: dict[date, list[dict[str, Any]]] = {}
    for s in spans:
        by_day.setdefault(s["start_time"].date(), []).append(s)
    files = []
    for d, rows in sorted(by_day.items()):
        rel = f"spans/source_format=otlp_json/day={d}/run-t-0.parquet"
        (root / rel).parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=sch), root / rel)
        files.append(rel)
    manifest = Manifest(tables={"spans": files})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    calls_store.update(con, root, manifest, "t", files)
    rollups.update(con, root, manifest, "t", None, keys or rollups.RollupKeys.of(PriceBook.load(), ["team"]))
    Lake(root).commit(manifest)
    return root


def _both(lake: Path, **opts: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report read from the rollups and the same report priced call by call."""
    fields = {"findings": False, **opts}
    fast = build_report(Workspace(lake), **fields).to_dict()
    slow = build_report(Workspace(lake), rollups=False, **fields).to_dict()
    return fast, slow


def _sections(report: dict[str, Any]) -> dict[str, Any]:
    return {key: s["rows"] for key, s in report["sections"].items()}


def test_rollup_report_equals_the_calls_on_every_price_rule(tmp_path: Path) -> None:
    lake = _write_lake(tmp_path / "lake", _shapes())
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01")
    assert fast["rollups_note"] is None
    assert slow["rollups_note"] == "asked for (--no-rollups)"
    assert _sections(fast) == _sections(slow)
    assert fast["headline"] == slow["headline"]
    by_model = {(r["provider"], r["model"]): r for r in _sections(fast)["cost_by_model"]}
    # gpt-4.1, counted in _shapes by hand: spans 0-5, 12, 14, 16-19; not priced: 5 (provisioned),
    # 12 (more cached than input) and 14 (no usage)
    gpt = by_model[("openai", "gpt-4.1")]
    assert gpt["calls"] == 12 and gpt["unpriced_calls"] == 3
    # acme-1: one reported 0.50, one unpriced: the reported cost stands in, never zero for the other
    acme = by_model[("acme", "acme-1")]
    assert (acme["calls"], acme["unpriced_calls"], Decimal(str(acme["cost"]))) == (2, 1, Decimal("0.5"))


def test_a_group_costs_its_tokens_times_the_prices(tmp_path: Path) -> None:
    """Two gpt-4.1 calls of 1,000 input and 100 output tokens on one day: one rollup row, priced
    at $2 and $8 per million tokens: 2,000 x 2e-6 + 200 x 8e-6 = $0.0056."""
    lake = _write_lake(tmp_path / "lake", [_span(0), _span(1)])
    con = duckdb.connect()
    (rows,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{lake}/call_rollup/**/*.parquet')"
    ).fetchone() or (0,)
    assert rows == 1
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01")
    (wf,) = _sections(fast)["cost_by_workflow"]
    assert Decimal(str(wf["cost"])) == Decimal("0.0056") and wf["calls"] == 2 and wf["runs"] == 1
    assert _sections(fast) == _sections(slow)


def test_time_of_day_and_bands_split_the_rows(tmp_path: Path) -> None:
    """DeepSeek at 10:00 and 17:00 UTC price differently, so they are two rows; so are Claude
    calls on either side of 200k input tokens."""
    lake = _write_lake(tmp_path / "lake", [_shapes()[i] for i in (6, 7, 8, 9)])
    con = duckdb.connect()
    shapes = con.execute(
        f"SELECT model, price_shape >> 16 FROM read_parquet('{lake}/call_rollup/**/*.parquet') ORDER BY ALL"
    ).fetchall()
    assert len(shapes) == 4 and len(set(shapes)) == 4
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01")
    assert _sections(fast) == _sections(slow)
    costs = {r["model"]: r["cost"] for r in _sections(fast)["cost_by_model"]}
    assert costs["deepseek-chat"] is not None


def test_runs_sessions_and_latency_are_exact_across_days(tmp_path: Path) -> None:
    """A run spanning two days counts once; the median and p95 durations are those of the calls."""
    day = timedelta(days=1)
    spans = [
        _span(0, trace_id="long", end_time=D0 + timedelta(seconds=2)),
        _span(1, trace_id="long", start_time=D0 + day, end_time=D0 + day + timedelta(seconds=4)),
        _span(2, trace_id="short", session_id="other", end_time=D0 + timedelta(minutes=14, seconds=10)),
        _span(3, trace_id=None),
    ]
    lake = _write_lake(tmp_path / "lake", spans)
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01")
    assert _sections(fast) == _sections(slow)
    (wf,) = _sections(fast)["cost_by_workflow"]
    assert wf["runs"] == 3  # long, short, and the call without a trace
    assert (wf["p50_seconds"], wf["p95_seconds"]) == (4.0, pytest.approx(9.4))  # 2, 4, 10 s
    (user,) = _sections(fast)["cost_by_user"]
    assert user["sessions"] == 2  # sess0 and other


def _compaction_spans() -> list[dict[str, Any]]:
    """Runs and sessions of every shape views/report_marks.sql tells apart, all tagged team=help."""
    m = timedelta(minutes=1)
    late, next_day = D0.replace(hour=23, minute=59), D0 + timedelta(days=1, minutes=1)
    return [
        _span(0, trace_id="A", session_id="S1"), _span(1, trace_id="A", session_id="S1"),  # one set of
        _span(2, trace_id="B", session_id="S1"),  # inputs: A and B are counted
        _span(3, trace_id="C", session_id="S2", start_time=late),  # C crosses midnight on one set
        _span(4, trace_id="C", session_id="S2", start_time=next_day),
        _span(5, trace_id="D", session_id="S3"),  # D in two workflows: a row per workflow
        _span(6, trace_id="D", session_id="S3", workflow="triage"),
        _span(7, trace_id="E", session_id="S4"),  # E and S4 for two users
        _span(8, trace_id="E", session_id="S4", user_id="bob", start_time=D0 + 9 * m),
        _span(9, trace_id=None, session_id="S5"),  # no trace: its own run
    ]


def test_compacted_runs_and_sessions_count_as_the_calls_do(tmp_path: Path) -> None:
    """Runs with one set of attribution inputs in the period are counts in the report's mark
    rows, the others rows of their own, sessions counts per user: every count equals the calls',
    by hand: support: A, B, C, D, E and the untraced call = 6 runs; triage: D = 1; ann: 6 runs
    over S1-S5; bob: E, S4; team help: 6 runs; the next day alone: C, S2."""
    lake = _write_lake(tmp_path / "lake", _compaction_spans())
    fast, slow = _both(lake, since="2026-10-05", until="2026-10-07")
    assert fast["rollups_note"] is None
    assert _sections(fast) == _sections(slow)
    runs = {r["workflow"]: r["runs"] for r in _sections(fast)["cost_by_workflow"]}
    assert runs == {"support": 6, "triage": 1}
    users = {r["user"]: (r["runs"], r["sessions"]) for r in _sections(fast)["cost_by_user"]}
    assert users == {"ann": (6, 5), "bob": (1, 1)}
    assert [(r["team"], r["runs"]) for r in _sections(fast)["cost_by_team"]] == [("help", 6)]
    per_run = {r["workflow"]: r["units"] for r in _sections(fast)["unit_costs"] if r["metric"] == "(per run)"}
    assert per_run == {"support": 5, "triage": 1}  # traced runs only, as the calls count them
    fast, slow = _both(lake, since="2026-10-06", until="2026-10-07")
    assert _sections(fast) == _sections(slow)
    assert [(r["user"], r["runs"], r["sessions"]) for r in _sections(fast)["cost_by_user"]] == [("ann", 1, 1)]
    # what ingest stored: the runs and sessions with one day and one set of inputs in the whole
    # lake counted per day (A, B; S1, S3, S5), the others kept as rows (C and S2 span two days,
    # D two workflows, E and S4 two users), the counted half of a pair NULL
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = [str(lake / f) for f in Lake(lake).manifest().tables["call_marks"]]
    con.execute(f"CREATE VIEW _mark_rows AS SELECT * FROM read_parquet({files!r}, hive_partitioning = true)")
    stored = con.execute(
        "SELECT CAST(day AS VARCHAR), workflow, user_id, trace_id, session_id, n_runs, n_sessions FROM _mark_rows "
        "WHERE end_time IS NULL ORDER BY ALL NULLS FIRST"
    ).fetchall()
    assert stored == [
        ("2026-10-05", None, "ann", None, None, 0, 3),
        ("2026-10-05", "support", "ann", None, None, 2, 0),
        ("2026-10-05", "support", "ann", "C", "S2", 0, 0),
        ("2026-10-05", "support", "ann", "D", None, 0, 0),
        ("2026-10-05", "support", "ann", "E", "S4", 0, 0),
        ("2026-10-05", "support", "bob", "E", "S4", 0, 0),
        ("2026-10-05", "triage", "ann", "D", None, 0, 0),
        ("2026-10-06", "support", "ann", "C", "S2", 0, 0),
    ]
    # the report's compaction of the period: C is counted by its one set of inputs, D and E keep
    # a row per set; the sessions one count per user: ann's S1-S5, bob's S4
    rows = con.execute(
        f"SELECT workflow, user_id, trace_id, sum(n_untraced), sum(n_sessions) FROM ({load_sql('views/report_marks')}) "
        "GROUP BY ALL ORDER BY ALL NULLS FIRST"
    ).fetchall()
    assert rows == [
        (None, "ann", None, 0, 5),
        (None, "bob", None, 0, 1),
        ("support", "ann", None, 3, 0),
        ("support", "ann", "D", 0, 0),
        ("support", "ann", "E", 0, 0),
        ("support", "bob", "E", 0, 0),
        ("triage", "ann", "D", 0, 0),
    ]
    # a hash two sets of inputs share is never trusted: with every set colliding, each run keeps
    # its rows and the runs per workflow are the same
    runs_per_workflow = (
        "SELECT workflow, count(DISTINCT trace_id) + sum(n_untraced) FROM ({}) "
        "WHERE workflow IS NOT NULL GROUP BY ALL ORDER BY ALL"
    )
    sql = load_sql("views/report_marks")
    collide = sql.replace("hash(workflow, user_id, to_json(tags), repo, branch)", "CAST(0 AS UBIGINT)")
    assert sql.count("hash(") == collide.count("CAST(0 AS UBIGINT)") == 3
    expected = [("support", 5), ("triage", 1)]  # A, B, C, D, E; D (the untraced call is in the calls)
    assert con.execute(runs_per_workflow.format(sql)).fetchall() == expected
    assert con.execute(runs_per_workflow.format(collide)).fetchall() == expected
    assert con.execute(f"SELECT sum(n_untraced) FROM ({collide})").fetchall() == [(2,)]  # A, B: ingest's


def _stored(lake: Path, table: str) -> list[tuple[Any, ...]]:
    files = [str(lake / f) for f in Lake(lake).manifest().tables[table]]
    cols = ", ".join(n for n, _ in schema.DERIVED_TABLES[table]) + ", day"
    if not files:
        return []
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return sorted(
        con.execute(f"SELECT {cols} FROM read_parquet({files!r}, hive_partitioning = true)").fetchall(), key=repr
    )


def _rebuilt(lake: Path, table: str) -> list[tuple[Any, ...]]:
    """``table`` derived from scratch from the lake's call_facts."""
    copy = lake.parent / f"rebuilt-{table}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(lake, copy)
    manifest = Lake(copy).manifest()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    keys = rollups.RollupKeys.from_json(manifest.rollup_keys)
    assert keys is not None
    rollups.update(con, copy, manifest, "rebuild", None, keys)
    Lake(copy).commit(manifest)
    return _stored(copy, table)


def test_ingest_keeps_the_rollups_equal_to_a_rebuild(tmp_path: Path) -> None:
    src, lake = tmp_path / "logs", tmp_path / "lake"
    src.mkdir()
    _write_days(src, 0, 2)
    steps = []
    ingest([src], lake=lake)
    steps.append("first")
    _write_days(src, 2, 1)  # a new day
    ingest([src], lake=lake)
    steps.append("new day")
    victim = sorted(src.glob("*.jsonl"))[0]  # cut short: its lost calls leave their days' rows
    lines = victim.read_text().splitlines()
    victim.write_text("\n".join(lines[: len(lines) // 3]) + "\n")
    ingest([src], lake=lake)
    shutil.copy(sorted(src.glob("*.jsonl"))[1], src / "copy.jsonl")  # the same calls again: no change
    ingest([src], lake=lake)
    for table in rollups.TABLES:
        assert _stored(lake, table) == _rebuilt(lake, table), table
    n = sum(r[schema.DERIVED_TABLES["call_rollup"].index(("n_calls", "BIGINT"))] for r in _stored(lake, "call_rollup"))
    with Workspace(lake).connect(fast=True) as con:
        (calls,) = con.execute("SELECT count(*) FROM calls").fetchone() or (0,)
    assert n == calls > 20
    fast, slow = _both(lake)
    assert fast["rollups_note"] is None and _sections(fast) == _sections(slow)


def test_new_price_splits_fall_back_then_the_next_ingest_rebuilds(tmp_path: Path) -> None:
    """A discount starting at noon needs a split the rollups lack: the report prices every call
    and says why; the next ingest, with nothing new to read, rebuilds them for the new prices."""
    lake = _write_lake(tmp_path / "lake", _shapes())
    prices = tmp_path / "prices.toml"
    prices.write_text('[[discount]]\nprovider = "openai"\npercent = 10\nvalid_from = 2026-10-05T12:00:00Z\n')
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01", prices=prices)
    assert "time of day" in (fast["rollups_note"] or "")
    assert _sections(fast) == _sections(slow)
    ws = Workspace(lake)
    ingest([], lake=lake, rollup_keys=ws.rollup_keys(prices))
    again = build_report(Workspace(lake), since="2026-10-01", until="2026-11-01", prices=prices, findings=False)
    assert again.rollups_note is None
    assert _sections(again.to_dict()) == _sections(slow)


def test_a_period_not_on_day_bounds_reads_the_calls(tmp_path: Path) -> None:
    lake = _write_lake(tmp_path / "lake", _shapes())
    fast, slow = _both(lake, since=D0.replace(hour=6), until="2026-11-01")
    assert "midnight" in (fast["rollups_note"] or "")
    assert _sections(fast) == _sections(slow)


def test_two_currencies_read_the_calls(tmp_path: Path) -> None:
    spans = [_span(0), _span(1, provider="acme", model="acme-1", reported_cost=Decimal(3), reported_cost_currency="EUR")]
    lake = _write_lake(tmp_path / "lake", spans)
    fast, slow = _both(lake, since="2026-10-01", until="2026-11-01")
    assert "currency" in (fast["rollups_note"] or "")
    assert _sections(fast) == _sections(slow)


def test_demo_report_reads_the_rollups_and_equals_the_calls(demo_lake: Path) -> None:
    fast, slow = _both(demo_lake, since="2026-10-01", until="2026-11-01")
    assert fast["rollups_note"] is None
    assert _sections(fast) == _sections(slow)
    assert fast["headline"] == slow["headline"] and fast["alerts"] == slow["alerts"]


def test_rollup_keys_round_trip_and_name_what_is_missing() -> None:
    keys = rollups.RollupKeys.of(PriceBook.load(), ["Team", " owner "])
    assert 200_000 in keys.bands and keys.tag_keys == ("owner", "team")
    assert rollups.RollupKeys.from_json(json.loads(json.dumps(keys.to_json()))) == keys
    assert rollups.RollupKeys.from_json({"version": 999}) is None
    less = rollups.RollupKeys(keys.bands[:1], keys.cuts, ("team",))
    assert less.missing(keys) == "prices with input bands the rollups are not split at; team tag keys the rollups do not keep"
    assert keys.missing(less) is None


def _traced(n: int, when: datetime, trace: int, session: str) -> dict[str, Any]:
    """A chat span of run ``trace`` and session ``session`` (user ann), as an OTLP exporter writes it."""
    from otlpspan import chat_span

    span = chat_span(n, when, 1000, 100, workflow="support")
    span["traceId"] = f"{trace:032x}"
    attrs = span["attributes"]
    assert isinstance(attrs, list)
    attrs += [{"key": "session.id", "value": {"stringValue": session}},
              {"key": "user.id", "value": {"stringValue": "ann"}}]  # fmt: skip
    return span


def test_a_run_that_gains_a_day_later_is_counted_once(tmp_path: Path) -> None:
    """Ingest counts a run or session seen on one day on that day's row. When a later file adds
    a call of that run on another day, both days are derived again and the run is kept as rows:
    by hand, runs R (10-05 and, later, 10-06) and Q (10-05), sessions S (R's) and P (Q's):
    support has 2 runs over both days, 2 on 10-05 alone, 1 on 10-06 alone, ann 2 sessions. After
    the late file goes again, R is one day's run again. Every step equals a rebuild and the
    calls' answer."""
    from otlpspan import write_traces

    src, lake = tmp_path / "logs", tmp_path / "lake"
    src.mkdir()
    write_traces(src / "a.json", [_traced(1, D0.replace(hour=9), 1, "S"), _traced(2, D0.replace(hour=10), 2, "P")])
    ingest([src], lake=lake)

    def marks() -> list[tuple[Any, ...]]:
        rows = [(str(r[-1]), r[-5], r[-4], r[-3], r[-2]) for r in _stored(lake, "call_marks") if r[1] is None]
        return sorted(rows, key=repr)

    def counts(since: str, until: str) -> tuple[int, int]:
        fast, slow = _both(lake, since=since, until=until)
        assert fast["rollups_note"] is None and _sections(fast) == _sections(slow)
        runs = sum(r["runs"] for r in _sections(fast)["cost_by_workflow"])
        sessions = sum(r["sessions"] for r in _sections(fast)["cost_by_user"])
        return runs, sessions

    assert set(marks()) == {("2026-10-05", None, None, 0, 2), ("2026-10-05", None, None, 2, 0)}  # all counted
    assert counts("2026-10-05", "2026-10-07") == (2, 2)
    r_id = f"{1:032x}"
    write_traces(src / "b.json", [_traced(3, D0 + timedelta(days=1, hours=1), 1, "S")])  # R and S go on
    ingest([src], lake=lake)
    assert marks() == sorted([
        ("2026-10-05", None, None, 0, 1),  # P
        ("2026-10-05", None, None, 1, 0),  # Q
        ("2026-10-05", r_id, "S", 0, 0),
        ("2026-10-06", r_id, "S", 0, 0),
    ], key=repr)  # fmt: skip
    for table in rollups.TABLES:
        assert _stored(lake, table) == _rebuilt(lake, table), table
    assert counts("2026-10-05", "2026-10-07") == (2, 2)
    assert counts("2026-10-05", "2026-10-06") == (2, 2)
    assert counts("2026-10-06", "2026-10-07") == (1, 1)
    (src / "b.json").write_text("")  # the late call withdrawn: R and S are one day's again
    write_traces(src / "b.json", [_traced(4, D0 + timedelta(days=1, hours=2), 3, "T")])
    ingest([src], lake=lake)
    for table in rollups.TABLES:
        assert _stored(lake, table) == _rebuilt(lake, table), table
    assert ("2026-10-05", None, None, 2, 0) in marks()
    assert counts("2026-10-05", "2026-10-07") == (3, 3)


def _otlp_call(n: int, day: int, trace: int, session: int, user: str) -> dict[str, Any]:
    span = _traced(n, D0 + timedelta(days=day, hours=1 + n % 20), trace, f"S{session}")
    attrs = span["attributes"]
    assert isinstance(attrs, list)
    attrs[-1] = {"key": "user.id", "value": {"stringValue": user}}
    return span


CALL = st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 3), st.sampled_from(["ann", "bob"]))


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.lists(CALL, min_size=1, max_size=4), min_size=2, max_size=4),
       steps=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=4))  # fmt: skip
def test_any_ingest_sequence_keeps_the_marks_equal_to_a_rebuild(
    tmp_path_factory: pytest.TempPathFactory, files: list[list[tuple[int, int, int, str]]],
    steps: list[tuple[int, bool]],
) -> None:  # fmt: skip
    """Files of calls on four days, five runs, four sessions and two users, added and withdrawn
    in any order: after every ingest the stored rollups equal a rebuild, and the report from them
    counts the runs and sessions the calls do, over the whole span and over each day."""
    from otlpspan import write_traces

    root = tmp_path_factory.mktemp("seq")
    src, lake = root / "logs", root / "lake"
    src.mkdir()
    n = 0
    spans = []
    for calls in files:
        spans.append([_otlp_call(n := n + 1, *c) for c in calls])
    write_traces(src / "f0.json", spans[0])
    ingest([src], lake=lake)
    for which, add in steps:
        k = which % len(spans)
        if add:
            write_traces(src / f"f{k}.json", spans[k])
        else:  # its calls withdrawn: the file now holds one call of a run and session of its own
            write_traces(src / f"f{k}.json", [_otlp_call(n := n + 1, 0, 100 + k, 100 + k, "ann")])
        ingest([src], lake=lake)
        for table in rollups.TABLES:
            assert _stored(lake, table) == _rebuilt(lake, table), table
    for since, until in [("2026-10-05", "2026-10-09"), *((f"2026-10-0{d}", f"2026-10-0{d + 1}") for d in range(5, 9))]:
        fast, slow = _both(lake, since=since, until=until)
        assert fast["rollups_note"] is None
        keep = ("cost_by_workflow", "cost_by_user", "cost_by_team", "unit_costs")
        assert {k: _sections(fast)[k] for k in keep} == {k: _sections(slow)[k] for k in keep}
