"""DuckDB vs local Spark on the same generated lake: ``costlab report`` timed step by step.

    python benchmarks/spark_vs_duckdb.py --calls 100000000 --lake /tmp/bench-lake [--engines duckdb,spark]

Each engine builds the report ``costlab report --format json --no-findings`` builds (the same
library call), over the lake's stored call_facts; the output gives the seconds of each step and
a digest of the report JSON, equal on both engines when they agree. Run one engine per process
to read its peak memory (``--engines duckdb`` then ``--engines spark --reuse``).

The lake is written directly (DuckDB streams the rows to Parquet, one folder per (source_format,
day), derives call_facts as ingest does, and commits the manifest), so the benchmark measures the
query engines, not ingest. Calls: 6 workflows, 4 models with genai-prices prices, 1-20k input
tokens, over 31 days; charges: one billed token line per (day, model) without a workflow plus a
tagged and an untagged platform fee per day, so the allocation has pools to split.
``generate_lake`` is also the "generated lake" of tests/test_spark.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODELS = (("openai", "gpt-4.1-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"))
WORKFLOWS = ("support-chat", "ticket-triage", "kb-search", "nightly-digest", "eval-harness", None)


def generate_lake(path: Path, calls: int, days: int = 31, seed: int = 7) -> Path:
    """A lake of ``calls`` spans (LLM calls) and a month of charges, written by DuckDB."""
    import duckdb

    from costlab import calls_store, schema
    from costlab.lake import Lake, Manifest

    if path.exists() and any(path.iterdir()):
        if not (path / "_manifest.json").is_file():
            raise SystemExit(f"{path} is not empty and not a lake; give a new folder")
        shutil.rmtree(path)  # an earlier generated lake
    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    models = " ".join(f"WHEN {i} THEN '{m}'" for i, (_, m) in enumerate(MODELS))
    provs = " ".join(f"WHEN {i} THEN '{p}'" for i, (p, _) in enumerate(MODELS))
    wfs = " ".join(f"WHEN {i} THEN {repr(w) if w else 'NULL'}" for i, w in enumerate(WORKFLOWS))
    gen = {
        "trace_id": "printf('t%012d', i // 3)",
        "span_id": "printf('s%012d', i)",
        "workflow": f"CASE (hash(i // 3, {seed}) % {len(WORKFLOWS)}) {wfs} END",  # one per trace, as ingest resolves it
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
        "row_key": "printf('k%012d', i)",  # docs/schema.md: every row has its natural key
        "run_id": "'bench'",
        "ingested_at": "TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    }
    cols = schema.TABLES["spans"]
    select = ", ".join(f"CAST({gen.get(n, 'NULL')} AS {t}) AS {n}" for n, t in cols)
    # streamed straight to Parquet (nothing held in memory: 100M calls are ~30 GB as a table)
    tmp = path / "_tmp"
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = false")
    out = con.execute(
        f"COPY (SELECT *, 'otlp_json' AS source_format, CAST(timezone('UTC', start_time) AS DATE) AS day "
        f"FROM (SELECT {select} FROM range({calls}) r(i))) TO '{path / 'spans'}' (FORMAT parquet, "
        "PARTITION_BY (source_format, day), FILENAME_PATTERN 'run-bench-{i}', ROW_GROUP_SIZE 1000000, "
        "RETURN_FILES true)"
    ).fetchone()
    span_files = sorted(Path(f).relative_to(path).as_posix() for f in (out[1] if out else []))
    con.execute(
        "CREATE VIEW s AS SELECT start_time, provider, model FROM read_parquet("
        f"{[str(path / f) for f in span_files]!r}, hive_partitioning = false)"
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
    manifest = Manifest(tables={"spans": span_files})
    out = path / "charges"
    con.execute(
        f"COPY c TO '{out}' (FORMAT parquet, PARTITION_BY (source_format, day), OVERWRITE_OR_IGNORE, "
        "FILENAME_PATTERN 'run-bench-{i}')"
    )
    manifest.tables["charges"] = sorted(p.relative_to(path).as_posix() for p in out.rglob("*.parquet"))
    calls_store.update(con, path, manifest, "bench", span_files)  # what ingest derives in the same commit
    shutil.rmtree(tmp, ignore_errors=True)
    Lake(path).commit(manifest)
    return path


def run(lake: Path, engine: str, spark_conf: dict[str, str] | None = None) -> dict[str, Any]:
    """``costlab report --format json --no-findings`` on ``engine``, as the CLI builds it, with the
    seconds of each step: the engine's start, pricing and attributing the calls (``_prepare``),
    each section's named query, and the total; plus a digest of the report JSON (the same on
    both engines when they agree)."""
    import hashlib

    from costlab.lake import Lake
    from costlab.report import build
    from costlab.report.output import render
    from costlab.workspace import Workspace

    times: dict[str, Any] = {}
    t0 = time.perf_counter()
    if engine == "spark":  # the JVM's start, apart from the report (a notebook pays it once)
        from costlab.engines.spark import session

        session({"spark_conf": spark_conf or {}})  # created once: the report's connection reuses it
        Workspace(lake, engine="spark").connect().close()
        times["start engine"] = round(time.perf_counter() - t0, 2)
    fetch, prepare = build._fetch, build._prepare

    def timed_fetch(con: Any, name: str, params: dict[str, Any]) -> Any:
        t = time.perf_counter()
        try:
            return fetch(con, name, params)
        finally:
            times[name] = round(time.perf_counter() - t, 2)
            print(f"  {engine} {name}: {times[name]} s", file=sys.stderr, flush=True)  # partial runs keep these

    def timed_prepare(*args: Any) -> None:
        t = time.perf_counter()
        prepare(*args)
        times["price + attribute calls"] = round(time.perf_counter() - t, 2)
        print(f"  {engine} price + attribute calls: {times['price + attribute calls']} s", file=sys.stderr, flush=True)

    build._fetch, build._prepare = timed_fetch, timed_prepare  # type: ignore[assignment]
    try:
        t = time.perf_counter()
        report = build.build_report(Lake(lake), build.ReportOptions(engine=engine, findings=False))
        times["report"] = round(time.perf_counter() - t, 2)
    finally:
        build._fetch, build._prepare = fetch, prepare  # type: ignore[assignment]
    report.generated_at = datetime(2000, 1, 1, tzinfo=UTC)  # the digest is of the numbers
    text = render(report, "json")
    times["report json sha256"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    (lake / f"_report-{engine}.json").write_text(text)  # to diff when the digests differ
    times["total"] = round(time.perf_counter() - t0, 2)
    times.update(_peaks())
    return times


def _peaks() -> dict[str, float]:
    """Peak resident memory (GiB) of this process and of its live children (Spark's JVM)."""
    def hwm(pid: str) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**20, 2)
        return 0.0

    peaks = {"peak GiB python": hwm("self")}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                peaks["peak GiB jvm"] = max(peaks.get("peak GiB jvm", 0.0), hwm(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--lake", type=Path, default=Path("/tmp/costlab-bench-lake"))
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--reuse", action="store_true", help="keep an existing generated lake")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for the local session, e.g. spark.driver.memory=16g")  # fmt: skip
    a = ap.parse_args()
    if not (a.reuse and (a.lake / "_manifest.json").exists()):
        t = time.perf_counter()
        generate_lake(a.lake, a.calls)
        print(f"generated {a.calls:,} calls in {time.perf_counter() - t:.1f}s", flush=True)
    for engine in a.engines.split(","):
        conf = dict(kv.split("=", 1) for kv in a.spark_conf)
        print(json.dumps({"engine": engine, "calls": a.calls, **run(a.lake, engine, conf)}), flush=True)


if __name__ == "__main__":
    main()
