"""The same queries on Spark and DuckDB give the same answers (issue: scale-out on Spark).

Every named query in queries/ runs on both engines over two lakes: the demo (sample_data/demo,
ingested) and a generated lake (benchmarks/lakegen.py) to which quality scores are
ingested (OTel ``gen_ai.evaluation.result`` events built with tests/fixtures/analyze_h, Langfuse
scores, LangSmith feedback with an aggregate row), so analyze/downgrade_scores' JSON reading is
compared on rows, not on an empty result. Rows must be identical as multisets (order is not
compared: several queries have ties), Decimals exactly; DOUBLE results (averages, standard
deviations, percentiles) are compared to 12 significant digits, since the two engines add in
different orders. 64-bit hash ids differ by engine (DuckDB ``hash``, Spark ``xxhash64``): which
rows share one is compared instead (`HASH_COLUMNS`). ``costlab report --format json`` must print
the same JSON.

Skipped without pyspark or Java, unless COSTLAB_REQUIRE_SPARK=1 (set by .ci/run, which installs
both), where that is a failure. Slow: one local[2] session for the module (shuffle partitions 2),
about 20-60 s to start on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

_MISSING = [
    what
    for what, absent in (
        ("pyspark (pip install -e '.[spark]')", importlib.util.find_spec("pyspark") is None),
        ("Java 17 (apt-get install -y openjdk-17-jre-headless)", shutil.which("java") is None),
    )
    if absent
]
if _MISSING:  # pragma: no cover - CI installs both
    if os.environ.get("COSTLAB_REQUIRE_SPARK") == "1":
        pytest.fail(f"Spark tests need {' and '.join(_MISSING)}; COSTLAB_REQUIRE_SPARK=1", pytrace=False)
    pytest.skip(f"Spark tests need {' and '.join(_MISSING)}; set COSTLAB_REQUIRE_SPARK=1 to fail instead", allow_module_level=True)

from fixtures.analyze_h.build import Call, Trace  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from costlab import attribution  # noqa: E402
from costlab.cli import app  # noqa: E402
from costlab.lake import Lake  # noqa: E402
from costlab.money import metrics  # noqa: E402
from costlab.sql import analyzer_queries, list_queries, load_sql  # noqa: E402
from costlab.workspace import Workspace  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "sample_data" / "demo"
FIX = ROOT / "tests" / "fixtures"
GENERATED_CALLS = 20_000
#: Score sources added to the generated lake, and the calls they bring: 6 constructed OTLP calls,
#: the real autogen trace's 1 call (its Langfuse scores page adds none), 2 LangSmith runs.
SCORE_FILES = [
    FIX / "langfuse" / "real" / "autogen-2025-06-06.trace.json",
    FIX / "langfuse" / "constructed" / "scores_v2_page.json",
    FIX / "langsmith" / "constructed" / "feedback_runs.json",
    FIX / "langsmith" / "constructed" / "feedback.jsonl",
]
SCORE_CALLS = 6 + 1 + 2
#: Session settings for the test: 2 shuffle partitions (local[2]; the default 4 doubles the
#: tasks on tiny lakes), no Spark UI.
TEST_CONF = {"spark.sql.shuffle.partitions": "2"}
PARAMS: dict[str, Any] = {
    "since": None,
    "until": None,
    "grain": "month",
    "policy": "proportional",
    "token_policy": "traced",
    "keep_turns": 4,
    "target_tokens": 200,
    "limit": 1000,
    "retry_window_seconds": 120.0,
    "loop_threshold": 5,
    # waste: the session sources, plus langsmith (the generated lake's score files) so that both
    # the session and the run paths of waste_runs / waste_scopes run on both engines
    "session_formats": ["claude_code", "codex", "langsmith"],
    "prev_start": datetime(2026, 10, 18, tzinfo=UTC),
    "cur_start": datetime(2026, 10, 25, tzinfo=UTC),
    "cur_end": datetime(2026, 11, 1, tzinfo=UTC),
    "steps": ["kb-search\x1fanswer", "support-chat\x1fanswer", "(none)\x1fcheck"],  # workflow chr(31) step
    # export_focus: [export.focus] settings, so both engines read the JSON and fill from it
    "billing_accounts": '{"default": {"id": "acme", "name": "Acme"}, "openai_costs": {"id": "org-1"}}',
    # whatif: every call at the batch tier, 1-hour cache writes, input capped (the tier and TTL
    # change the grid cell and the split; the cap exercises least/greatest on both engines)
    "scope_workflow": None, "scope_step": None, "to_provider": None, "to_model": None, "to_tier": "batch",
    "cache_ttl": "1h", "max_input": 1000,
}
#: Named queries not compared, each with the reason: none. Every query in queries/ runs on both
#: engines (the cache analyzer's inputs included: analyze/caching_calls and caching_hashes number the calls
#: with row_number() over row_key, not DuckDB's rowid). A query added here must say why.
NOT_COMPARED: dict[str, str] = {}
#: Engine-specific 64-bit hash ids, compared by which rows share a value: each is replaced by the
#: smallest ``rid`` (the call number, the same on both engines) of the rows holding it.
HASH_COLUMNS = ("rk", "scope_key", "prompt_key")
METRICS = [metrics.MetricRow(date(2026, 10, d), "tickets", Decimal(d * 10), "support-chat" if d % 2 else None) for d in range(1, 31)]
METRIC_TYPES = [("day", "DATE"), ("metric", "VARCHAR"), ("value", "DECIMAL(38,12)"), ("workflow", "VARCHAR")]


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from costlab.engines.spark import session
    from costlab.ingest.run import ingest

    session({"spark_conf": TEST_CONF})  # the module's one session: later connections reuse it
    demo = tmp_path_factory.mktemp("demo") / "lake"
    ingest([DEMO], lake=demo)
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.lakegen import write_lake
    finally:
        sys.path.pop(0)
    gen = write_lake(tmp_path_factory.mktemp("gen") / "lake", GENERATED_CALLS)
    scores = Trace()
    for k in range(6):  # gpt-4o on even k, gpt-4o-mini on odd: 3 calls each, 2 scores per call
        scores.add(Call(datetime(2026, 10, 3 + k, 12), "kb-search", "answer", "gpt-4o-mini" if k % 2 else "gpt-4o",
                        1_500, 90, scores={"accuracy": 0.5 + k / 10, "pass": float(k % 2)}))  # fmt: skip
    ingest([scores.write(tmp_path_factory.mktemp("scores") / "scores.jsonl"), *SCORE_FILES], lake=gen)
    return {"demo": demo, "generated": gen}


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value) and max(map(abs, value)) > 2**40:
        return ("hashes", len(value))  # engine-specific 64-bit ids (DuckDB hash / Spark xxhash64)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items())}
    return value


def _rows(rows: list[tuple[Any, ...]], cols: list[str] | None = None) -> list[str]:
    return sorted(repr(tuple(_norm(v) for v in r)) for r in _same_hash(rows, cols or []))


def _same_hash(rows: list[tuple[Any, ...]], cols: list[str]) -> list[tuple[Any, ...]]:
    """`HASH_COLUMNS` values -> the smallest rid sharing the value (NULL stays NULL)."""
    hashed = [cols.index(c) for c in HASH_COLUMNS if c in cols]
    if not hashed:
        return rows
    rid = cols.index("rid")  # a query with hash ids needs a row id to compare them by
    out = [list(r) for r in rows]
    for i in hashed:
        first: dict[Any, Any] = {}
        for r in rows:
            if r[i] is not None:
                first[r[i]] = min(first.get(r[i], r[rid]), r[rid])
        for o in out:
            o[i] = None if o[i] is None else ("rid", first[o[i]])
    return [tuple(o) for o in out]


def _prepare(con: Any, spark: bool) -> None:
    rules = attribution.AttributionRules.from_config({"attribution": _demo_attribution()})
    con.execute("CREATE TABLE _t_calls AS SELECT * FROM calls")
    con.execute("CREATE OR REPLACE VIEW calls AS SELECT * FROM _t_calls")
    con.execute(f"CREATE OR REPLACE VIEW analyze_spans AS {load_sql('views/analyze_spans')}")  # every span
    for view in ("analyze_base", "analyze_calls", "analyze_prompts"):  # as costlab.analyze.stats does
        con.execute(f"CREATE TABLE {view} AS {load_sql('views/' + view)}")
    if spark:
        con.register_attribution(rules)
        con.register_rows("metrics", METRIC_TYPES, [(m.day, m.metric, str(m.value), m.workflow) for m in METRICS])
    else:
        attribution.add_attributed_views(con, rules)
        metrics.add_metrics_table(con, METRICS)
    # computed once, on both engines: Spark inlines every CTE (it has no MATERIALIZED), so the
    # allocation's ~10 references to these views made a plan of 177 scans (about 60 s a lake on 2
    # busy cores, half of it planning); over the stored rows it is 39 scans and about half the time
    for view in ("charges_attributed", "calls_attributed"):
        con.execute(f"CREATE TABLE _t_{view} AS SELECT * FROM {view}")
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM _t_{view}")


def _demo_attribution() -> dict[str, Any]:
    import tomllib

    return tomllib.loads((DEMO / "costlab.toml").read_text())["attribution"]


@pytest.mark.parametrize("which", ["demo", "generated"])
def test_every_named_query_same_on_both_engines(lakes: dict[str, Path], which: str) -> None:
    from costlab.engines.spark import SparkConnection

    lake = Lake(lakes[which])
    duck = Workspace(lake).connect()
    _prepare(duck, spark=False)
    spark = SparkConnection(lake)
    _prepare(spark, spark=True)
    differ, compared, rows = [], [], {}
    names = list_queries() + analyzer_queries()  # once: queries/ may change while the test runs
    assert set(NOT_COMPARED) <= set(names), "NOT_COMPARED names a query that does not exist"
    for name in names:
        if name in NOT_COMPARED:
            continue
        sql = load_sql(name)
        used = {k: v for k, v in PARAMS.items() if f"${k}" in sql}
        cur = duck.execute(sql, used)
        d_cols, d_rows = [c[0] for c in cur.description], cur.fetchall()
        try:
            s = spark.read_only(sql, used)  # through the guard `costlab query --engine spark` uses
            s_cols, s_rows = [c[0] for c in s.description], s.fetchall()
        except Exception as ex:  # one line per failing query, all of them, not the first only
            differ.append(f"{name}: fails on Spark: {str(ex).strip().splitlines()[0][:300]}")
            continue
        compared.append(name)
        rows[name] = len(d_rows)
        if d_cols != s_cols:
            differ.append(f"{name}: columns {d_cols} != {s_cols}")
        elif _rows(d_rows, d_cols) != _rows(s_rows, s_cols):
            differ.append(f"{name}: rows differ ({len(d_rows)} on DuckDB, {len(s_rows)} on Spark)")
    spark.close()
    assert differ == []
    assert sorted(compared) == sorted(set(names) - set(NOT_COMPARED))  # every query, or listed with why
    must_have_rows = ("allocation", "cost_by_workflow", "reconciliation_summary") if which == "demo" else (
        "analyze/caching_calls", "analyze/downgrade_scores")  # fmt: skip
    for name in must_have_rows:
        assert rows[name], f"{name}: {which} must give rows, or the comparison proves nothing"
    if which == "generated":
        # 12 (workflow, step, model, score) groups: kb-search/answer x {gpt-4o, gpt-4o-mini} x
        # {accuracy, pass} = 4 from the events; 3 from the autogen trace's Langfuse scores; 5 from
        # the LangSmith feedback (helpfulness: the 3 records replace the aggregate)
        assert rows["analyze/downgrade_scores"] == 12
        assert rows["analyze/caching_calls"] == GENERATED_CALLS + SCORE_CALLS


def test_hash_ids_compared_by_the_rows_sharing_them() -> None:
    # rows (rid, rk): rk 900 is shared by rids 2 and 5 -> both ("rid", 2); 700 -> ("rid", 3)
    rows = [(5, 900), (2, 900), (3, 700), (4, None)]
    assert _same_hash(rows, ["rid", "rk"]) == [(5, ("rid", 2)), (2, ("rid", 2)), (3, ("rid", 3)), (4, None)]
    # other hash values, the same sharing: equal; a different sharing: not
    assert _rows([(5, 1), (2, 1), (3, 8), (4, None)], ["rid", "rk"]) == _rows(rows, ["rid", "rk"])
    assert _rows([(5, 1), (2, 2), (3, 8), (4, None)], ["rid", "rk"]) != _rows(rows, ["rid", "rk"])


def test_report_json_same_on_both_engines(lakes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLAB_CONFIG", str(DEMO / "costlab.toml"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1793491200")
    out = {}
    for engine in ("duckdb", "spark"):
        r = CliRunner().invoke(
            app,
            ["report", "--lake", str(lakes["demo"]), "--format", "json", "--no-findings", "--no-fail", "--engine", engine],
        )
        assert r.exit_code == 0, r.output
        out[engine] = json.loads(r.stdout, parse_float=Decimal)
    d, s = out["duckdb"], out["spark"]
    assert d["headline"] and d["sections"]
    assert d["rollups_note"] is None  # both engines read the lake's rollups (d == s below)
    assert d["headline"] == s["headline"]  # exact decimals: billed, attributed, unattributed
    assert list(d["sections"]) == list(s["sections"])
    for key, sec in d["sections"].items():
        assert sec["columns"] == s["sections"][key]["columns"], key
        assert sorted(map(repr, sec["rows"])) == sorted(map(repr, s["sections"][key]["rows"])), key
    assert d["sections"]["allocation"]["rows"], "the demo's allocation must not be empty"
    assert d["alerts"] == s["alerts"]
    assert d == s  # and the same JSON text, order included


def test_spark_sql_is_read_only(lakes: dict[str, Path]) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM calls", "--lake", str(lakes["generated"]), "--engine", "spark", "-f", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == [{"n": GENERATED_CALLS + SCORE_CALLS}]
    bad = runner.invoke(app, ["sql", "DROP VIEW calls", "--lake", str(lakes["generated"]), "--engine", "spark"])
    assert bad.exit_code == 1 and "read-only" in bad.stderr
    files = runner.invoke(
        app, ["sql", "SELECT * FROM parquet.`/etc/passwd`", "--lake", str(lakes["generated"]), "--engine", "spark"]
    )
    assert files.exit_code == 1


def test_spark_refuses_reflection_before_spark_sees_it(lakes: dict[str, Path]) -> None:
    """`java_method` / `reflect` / `try_reflect` (issue 13: getenv HOME returned the home folder,
    setProperty changed JVM state) are refused by the guard: the JVM property is never set, while
    the same call straight on the session does set one (so the check below can fail)."""
    from costlab.engines.spark import session

    system = session().sparkContext._jvm.java.lang.System
    prop = "costlab.guard.test"
    runner = CliRunner()
    for q in (
        f"select java_method('java.lang.System', 'setProperty', '{prop}', 'yes')",
        f"select * from (select REFLECT('java.lang.System', 'setProperty', '{prop}', 'yes') AS x) AS s",
        f"with c AS (select try_reflect('java.lang.System', 'setProperty', '{prop}', 'yes') AS x) select * from c",
        "select list_transform(['HOME'], v -> java_method('java.lang.System', 'getenv', v)) AS home",
    ):
        r = runner.invoke(app, ["sql", q, "--lake", str(lakes["demo"]), "--engine", "spark"])
        assert r.exit_code == 1 and "calls Java methods; refused" in r.stderr, (q, r.output)
        assert r.stdout == ""
    assert system.getProperty(prop) is None
    session().sql(f"select java_method('java.lang.System', 'setProperty', '{prop}.control', 'yes')").collect()
    assert system.getProperty(f"{prop}.control") == "yes"
    for q, why in (
        ("select user", "the user Spark runs as"),
        ("select * from spark_catalog.default.secrets", "outside the lake's views"),
        ("select * from not_a_view", "not one of the lake's views"),
    ):
        r = runner.invoke(app, ["sql", q, "--lake", str(lakes["demo"]), "--engine", "spark"])
        assert r.exit_code == 1 and why in r.stderr, (q, r.output)
    # a named query runs through the same guard, parameters checked
    args = ["--lake", str(lakes["demo"]), "--engine", "spark", "-p", "grain=month", "-p", "token_policy=traced"]
    bad = runner.invoke(app, ["query", "allocation", *args, "-p", "policy=proportinal"])
    assert bad.exit_code == 1 and "policy='proportinal' is not allowed" in bad.stderr
    ok = runner.invoke(app, ["query", "allocation", *args, "-p", "policy=proportional", "-f", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)


@pytest.mark.parametrize("which", ["demo", "generated"])
def test_spark_reads_the_stored_calls_as_duckdb_derives_them(lakes: dict[str, Path], which: str) -> None:
    # the report reads the lake's stored call_facts on both engines (fast=True); the named-query
    # test above derives them from the spans on both: one against the other here
    from costlab.engines.spark import SparkConnection

    lake = Lake(lakes[which])
    assert "call_facts" in lake.manifest().tables
    q = ("SELECT provider, model, workflow, count(*) AS n, sum(cost) AS cost, sum(input_tokens) AS i, "
         "sum(output_tokens) AS o, count(DISTINCT trace_id) AS traces FROM calls GROUP BY ALL")  # fmt: skip
    derived = Workspace(lake).connect().execute(q).fetchall()
    with SparkConnection(lake, fast=True) as spark:
        stored = spark.execute(q).fetchall()
        # calls is over the stored copy, not the window over spans
        assert spark.execute("SELECT count(*) FROM _stored_call_facts").fetchall() == [(sum(r[3] for r in stored),)]
    assert len(derived) >= 4
    assert sorted(map(repr, stored)) == sorted(map(repr, derived))
