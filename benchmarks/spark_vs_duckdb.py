"""DuckDB vs local Spark on the same generated lake: the report's named queries, timed.

    python benchmarks/spark_vs_duckdb.py --calls 10000000 --lake /tmp/bench-lake [--engines duckdb,spark]

The lake is written directly (DuckDB generates the rows and the Parquet files, one file per
(source_format, day) partition, and the manifest lists them), so the benchmark measures the
query engines, not ingest. Calls: 6 workflows, 4 models with genai-prices prices, 1-20k input
tokens, over 31 days; charges: one billed token line per (day, model) without a workflow plus a
tagged and an untagged platform fee per day, so the allocation has pools to split.
``generate_lake`` is also the "generated lake" of tests/test_spark.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

MODELS = (("openai", "gpt-4.1-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"))
WORKFLOWS = ("support-chat", "ticket-triage", "kb-search", "nightly-digest", "eval-harness", None)
QUERIES = ("traced_by_day", "cost_by_workflow", "cost_by_model", "allocation", "allocation_check", "reconciliation_summary")


def generate_lake(path: Path, calls: int, days: int = 31, seed: int = 7) -> Path:
    """A lake of ``calls`` spans (LLM calls) and a month of charges, written by DuckDB."""
    import duckdb

    from costlab import schema
    from costlab.lake import Lake, Manifest

    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    models = " ".join(f"WHEN {i} THEN '{m}'" for i, (_, m) in enumerate(MODELS))
    provs = " ".join(f"WHEN {i} THEN '{p}'" for i, (p, _) in enumerate(MODELS))
    wfs = " ".join(f"WHEN {i} THEN {repr(w) if w else 'NULL'}" for i, w in enumerate(WORKFLOWS))
    gen = {
        "trace_id": "printf('t%012d', i // 3)",
        "span_id": "printf('s%012d', i)",
        "workflow": f"CASE (hash(i, {seed}) % {len(WORKFLOWS)}) {wfs} END",
        "step": "CASE (i % 3) WHEN 0 THEN 'plan' WHEN 1 THEN 'answer' ELSE 'check' END",
        "session_id": "printf('sess%08d', i // 12)",
        "span_kind": "'llm'",
        "start_time": f"TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds(CAST(hash(i, {seed} + 1) % ({days} * 86400000000) AS BIGINT))",
        "provider": f"CASE (hash(i, {seed} + 2) % {len(MODELS)}) {provs} END",
        "model": f"CASE (hash(i, {seed} + 2) % {len(MODELS)}) {models} END",
        "input_tokens": f"CAST(1000 + hash(i, {seed} + 3) % 19000 AS BIGINT)",
        "cache_read_tokens": f"CAST((hash(i, {seed} + 3) % 19000) // 2 AS BIGINT)",
        "output_tokens": f"CAST(50 + hash(i, {seed} + 4) % 950 AS BIGINT)",
        "usage_scope": "'self'",
        "usage_source": "'reported'",
        "request_id": "printf('req%012d', i)",
        "source_line": "i",
        "row_key": "printf('k%012d', i)",  # SCHEMA.md: every row has its natural key
        "run_id": "'bench'",
        "ingested_at": "TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    }
    cols = schema.TABLES["spans"]
    select = ", ".join(f"CAST({gen.get(n, 'NULL')} AS {t}) AS {n}" for n, t in cols)
    con.execute(
        f"CREATE TABLE s AS SELECT *, 'otlp_json' AS source_format, "
        f"CAST(timezone('UTC', start_time) AS DATE) AS day FROM (SELECT {select} FROM range({calls}) r(i))"
    )
    ch_gen = {
        "billed_cost": "amount", "effective_cost": "amount", "billing_currency": "'USD'",
        "charge_period_start": "d", "charge_period_end": "d + INTERVAL 1 DAY",
        "charge_category": "'Usage'", "model": "model", "compute_kind": "kind",
        "token_type": "CASE WHEN kind = 'tokens' THEN 'input' END", "workflow": "wf",
        "service_provider_name": "provider", "run_id": "'bench'", "source_line": "0",
        "ingested_at": "TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    }
    ch_cols = schema.TABLES["charges"]
    ch_select = ", ".join(f"CAST({ch_gen.get(n, 'NULL')} AS {t}) AS {n}" for n, t in ch_cols)
    con.execute(
        f"""CREATE TABLE c AS SELECT {ch_select}, 'openai_costs' AS source_format, CAST(timezone('UTC', d) AS DATE) AS day FROM (
              SELECT date_trunc('day', timezone('UTC', start_time)) AT TIME ZONE 'UTC' AS d, provider, model,
                     CAST(count(*) * 0.01 AS DECIMAL(38, 12)) AS amount, 'tokens' AS kind, NULL AS wf
              FROM s GROUP BY ALL
              UNION ALL SELECT DISTINCT date_trunc('day', timezone('UTC', start_time)) AT TIME ZONE 'UTC', 'openai', NULL,
                     CAST(12.5 AS DECIMAL(38, 12)), 'platform', NULL FROM s
              UNION ALL SELECT DISTINCT date_trunc('day', timezone('UTC', start_time)) AT TIME ZONE 'UTC', 'openai', NULL,
                     CAST(3.25 AS DECIMAL(38, 12)), 'platform', 'kb-search' FROM s)"""
    )
    manifest = Manifest()
    for table, src in (("spans", "s"), ("charges", "c")):
        out = path / table
        con.execute(
            f"COPY {src} TO '{out}' (FORMAT parquet, PARTITION_BY (source_format, day), OVERWRITE_OR_IGNORE, "
            "FILENAME_PATTERN 'run-bench-{i}', ROW_GROUP_SIZE 1000000)"
        )
        manifest.tables[table] = sorted(p.relative_to(path).as_posix() for p in out.rglob("*.parquet"))
    Lake(path).commit(manifest)
    return path


def run(lake: Path, engine: str) -> dict[str, Any]:
    """Seconds to connect, then for each query in `QUERIES` (the report's heaviest)."""
    from costlab import engines
    from costlab.attribution import AttributionRules
    from costlab.lake import Lake
    from costlab.sql import load_sql

    params = {"since": None, "until": None, "grain": "month", "policy": "proportional", "token_policy": "traced"}
    times: dict[str, Any] = {}
    t0 = time.perf_counter()
    with engines.connect(Lake(lake), engine) as con:
        con.execute("CREATE TABLE _b AS SELECT * FROM calls")
        con.execute("CREATE OR REPLACE VIEW calls AS SELECT * FROM _b")
        engines.register_attribution(con, AttributionRules())
        times["connect+price calls"] = round(time.perf_counter() - t0, 2)
        for q in QUERIES:
            sql = load_sql(q)
            t = time.perf_counter()
            rows = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()
            times[q] = round(time.perf_counter() - t, 2)
            times[f"{q} rows"] = len(rows)
    times["total"] = round(time.perf_counter() - t0, 2)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--lake", type=Path, default=Path("/tmp/costlab-bench-lake"))
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--reuse", action="store_true", help="keep an existing generated lake")
    a = ap.parse_args()
    if not (a.reuse and (a.lake / "_manifest.json").exists()):
        t = time.perf_counter()
        generate_lake(a.lake, a.calls)
        print(f"generated {a.calls:,} calls in {time.perf_counter() - t:.1f}s", flush=True)
    for engine in a.engines.split(","):
        print(json.dumps({"engine": engine, "calls": a.calls, **run(a.lake, engine)}), flush=True)


if __name__ == "__main__":
    main()
