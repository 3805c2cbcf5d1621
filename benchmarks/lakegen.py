"""The generated lake every benchmark and the Spark tests use: N calls written straight to Parquet.

    python -m benchmarks.lakegen /tmp/bench-lake --calls 10000000 [--prompts]

DuckDB streams the rows to Parquet (nothing held in memory: 100M calls are ~30 GB as a table),
one folder per (source_format, day) as ingest lays them out; then a month of charges, the
stored call_facts (`costlab.calls_store.update`, what ingest derives in the same commit), the
ingest-maintained rollups (`costlab.rollups.update`, when this costlab has them) and the manifest,
all under one run id of ingest's form (`costlab lake check` finds nothing foreign). So a benchmark measures
the report or the engine, not ingest, on a lake in the shape ingest leaves.

Calls: 6 workflows (one of them NULL; or ``workflows`` named wf<k>), 3 steps, 4 models with genai-prices prices, 1-20k input
tokens (half of them cache reads), runs (traces) of 3 calls 7 s apart in one workflow, sessions
of 4 runs, the runs spread over ``days`` days from 2026-10-01 UTC. Charges: one billed token line per (day, provider, model) without a workflow,
plus a tagged and an untagged platform fee per day, so allocation has pools to split.

``prompts=True`` adds what the prompt analyzers read: each call's prompt is its (workflow, step)
template (4-16 blocks of 128 tokens), then its session's history (0-12 blocks), then 1-3 blocks
of its own (``prefix_hashes``, 128-token blocks); input tokens follow the blocks, the logged cache
reads are half the template, and 5% of calls repeat an earlier ``prompt_hash``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

MODELS = (("openai", "gpt-4.1-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"))
WORKFLOWS = ("support-chat", "ticket-triage", "kb-search", "nightly-digest", "eval-harness", None)
RUN = "20261101T000000-00000000"  # the one "run" that wrote the lake, named as ingest names runs
STAMP = "_generated.json"  # what the lake was generated with: a later call with the same reuses it


def write_lake(
    path: Path,
    calls: int,
    *,
    days: int = 31,
    seed: int = 7,
    charges: bool = True,
    prompts: bool = False,
    workflows: int = 0,
    reuse: bool = False,
) -> Path:
    """Write a lake of ``calls`` generated calls at ``path`` (an earlier generated lake there is
    replaced; any other non-empty folder is refused). ``workflows``: that many workflows named
    ``wf<k>`` instead of the six named ones (more groups for the analyzers). ``reuse``: keep a
    lake generated earlier with the same arguments. Returns ``path``."""
    import duckdb

    from costlab import calls_store, schema
    from costlab.lake import Lake, Manifest

    want = {"calls": calls, "days": days, "seed": seed, "charges": charges, "prompts": prompts, "workflows": workflows}
    stamp = path / STAMP
    if reuse and stamp.is_file() and (path / "_manifest.json").is_file():
        try:  # the same arguments, and nothing committed to the lake since
            if json.loads(stamp.read_text()) == {**want, "manifest": _digest(path / "_manifest.json")}:
                return path
        except ValueError:
            pass
    if path.exists() and any(path.iterdir()):
        if not (path / "_manifest.json").is_file():
            raise SystemExit(f"{path} is not empty and not a lake; give a new folder")
        shutil.rmtree(path)  # an earlier generated lake
    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    tmp = path / "_tmp"
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = false")
    # DuckDB's default cap (80% of RAM) plus Python's share made the 100M-call lake thrash a
    # 24 GiB machine for over half an hour; a cap spills to _tmp instead
    con.execute(f"SET memory_limit = '{os.environ.get('COSTLAB_LAKEGEN_MEMORY', '8GB')}'")
    select = ", ".join(
        f"CAST({_span_columns(days, seed, prompts, workflows).get(n, 'NULL')} AS {t}) AS {n}" for n, t in schema.TABLES["spans"]
    )
    out = con.execute(
        f"COPY (SELECT *, 'otlp_json' AS source_format, CAST(timezone('UTC', start_time) AS DATE) AS day "
        f"FROM (SELECT {select} FROM range({calls}) r(i))) TO '{path / 'spans'}' (FORMAT parquet, "
        f"PARTITION_BY (source_format, day), FILENAME_PATTERN 'run-{RUN}-{{uuid}}', ROW_GROUP_SIZE 1000000, "
        "RETURN_FILES true)"
    ).fetchone()
    span_files = sorted(Path(f).relative_to(path).as_posix() for f in (out[1] if out else []))
    manifest = Manifest(tables={"spans": span_files})
    if charges:
        manifest.tables["charges"] = _write_charges(con, path, span_files)
    calls_store.update(con, path, manifest, RUN, span_files)  # what ingest derives in the same commit
    # -- rollups: the ingest-maintained rollup tables, when this costlab has them (issue 16). ----
    # Same call as ingest's `_finish` makes after calls_store.update; None: every day is new.
    if importlib.util.find_spec("costlab.rollups") is not None:
        from costlab.attribution import DEFAULT_TEAM_TAG_KEYS
        from costlab.pricing import PriceBook

        rollups = importlib.import_module("costlab.rollups")
        keys = rollups.RollupKeys.of(PriceBook.load(), DEFAULT_TEAM_TAG_KEYS)  # as ingest's default
        rollups.update(con, path, manifest, RUN, None, keys)
    # --------------------------------------------------------------------------------------------
    shutil.rmtree(tmp, ignore_errors=True)
    Lake(path).commit(manifest)
    stamp.write_text(json.dumps({**want, "manifest": _digest(path / "_manifest.json")}))
    return path


def _digest(file: Path) -> str:
    import hashlib

    return hashlib.sha256(file.read_bytes()).hexdigest()


def _span_columns(days: int, seed: int, prompts: bool, workflows: int) -> dict[str, str]:
    """SQL per spans column over the row number ``i`` (columns not named are NULL)."""
    models = " ".join(f"WHEN {i} THEN '{m}'" for i, (_, m) in enumerate(MODELS))
    provs = " ".join(f"WHEN {i} THEN '{p}'" for i, (p, _) in enumerate(MODELS))
    wf_no = f"(hash(i // 3, {seed}) % {workflows or len(WORKFLOWS)})"  # one per trace, as ingest resolves it
    wfs = " ".join(f"WHEN {i} THEN {repr(w) if w else 'NULL'}" for i, w in enumerate(WORKFLOWS))
    workflow = f"'wf' || {wf_no}" if workflows else f"CASE {wf_no} {wfs} END"
    gen = {
        "trace_id": "printf('t%012d', i // 3)",
        "span_id": "printf('s%012d', i)",
        "workflow": workflow,
        "step": "CASE (i % 3) WHEN 0 THEN 'plan' WHEN 1 THEN 'answer' ELSE 'check' END",
        "session_id": "printf('sess%08d', i // 12)",
        "span_kind": "'llm'",
        # a trace's three calls a few seconds apart, as a run's calls are (not spread over the month)
        "start_time": f"TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_microseconds(CAST(hash(i // 3, {seed} + 1) % ({days} * 86400000000 - 60000000) AS BIGINT) + (i % 3) * 7000000)",
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
        "run_id": f"'{RUN}'",
        "ingested_at": "TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    }
    if prompts:  # blocks: template (4-16, per workflow and step), session history (0-12), own (1-3)
        tb, sb, ub = (f"CAST(4 + hash(i, {seed} + 5) % 13 AS BIGINT)", f"CAST(hash(i, {seed} + 6) % 13 AS BIGINT)",
                      f"CAST(1 + hash(i, {seed} + 7) % 3 AS BIGINT)")  # fmt: skip
        where = f"'w' || {wf_no} || 's' || (i % 3)"
        gen |= {
            "input_tokens": f"({tb} + {sb} + {ub}) * 128 + CAST(hash(i, {seed} + 8) % 128 AS BIGINT)",
            "cache_read_tokens": f"{tb} * 64",
            "prompt_hash": f"CASE WHEN hash(i, {seed} + 9) % 100 < 5 THEN 'p' || (hash(i, {seed} + 10) % 1000) ELSE 'p' || i END",
            "prefix_hashes": f"""list_concat(
                list_transform(range({tb}), lambda j: {where} || 'b' || j),
                list_transform(range({sb}), lambda j: {where} || 'S' || (i // 12) || 'b' || j),
                list_transform(range({ub}), lambda j: 'u' || i || 'b' || j))""",
            "prefix_block_tokens": "128",
        }
    return gen


def _write_charges(con: Any, path: Path, span_files: list[str]) -> list[str]:
    """A month of charges over the calls' days; returns the lake-relative files."""
    from costlab import schema

    con.execute(
        "CREATE OR REPLACE VIEW s AS SELECT start_time, provider, model FROM read_parquet("
        f"{[str(path / f) for f in span_files]!r}, hive_partitioning = false)"
    )
    ch_gen = {
        "billed_cost": "amount", "effective_cost": "amount", "billing_currency": "'USD'",
        "charge_period_start": "d", "charge_period_end": "d + INTERVAL 1 DAY",
        "charge_category": "'Usage'", "model": "model", "compute_kind": "kind",
        "token_type": "CASE WHEN kind = 'tokens' THEN 'input' END", "workflow": "wf",
        "service_provider_name": "provider", "run_id": f"'{RUN}'", "source_line": "0",
        "ingested_at": "TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    }  # fmt: skip
    ch_select = ", ".join(f"CAST({ch_gen.get(n, 'NULL')} AS {t}) AS {n}" for n, t in schema.TABLES["charges"])
    day = "date_trunc('day', timezone('UTC', start_time)) AT TIME ZONE 'UTC'"
    con.execute(
        f"""CREATE TABLE c AS SELECT {ch_select}, 'openai_costs' AS source_format, CAST(timezone('UTC', d) AS DATE) AS day FROM (
              SELECT {day} AS d, provider, model,
                     CAST(count(*) * 0.01 AS DECIMAL(38, 12)) AS amount, 'tokens' AS kind, NULL AS wf
              FROM s GROUP BY ALL
              UNION ALL SELECT DISTINCT {day}, 'openai', NULL, CAST(12.5 AS DECIMAL(38, 12)), 'platform', NULL FROM s
              UNION ALL SELECT DISTINCT {day}, 'openai', NULL, CAST(3.25 AS DECIMAL(38, 12)), 'platform', 'kb-search' FROM s)"""
    )
    out = path / "charges"
    con.execute(
        f"COPY c TO '{out}' (FORMAT parquet, PARTITION_BY (source_format, day), OVERWRITE_OR_IGNORE, "
        f"FILENAME_PATTERN 'run-{RUN}-{{uuid}}')"
    )
    return sorted(p.relative_to(path).as_posix() for p in out.rglob("*.parquet"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lake", type=Path)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--prompts", action="store_true", help="prompt hashes and prefix blocks (the analyzers)")
    ap.add_argument("--workflows", type=int, default=0, help="this many workflows wf<k> (0: the six named)")
    ap.add_argument("--no-charges", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="keep a lake generated with the same arguments")
    a = ap.parse_args()
    t = time.perf_counter()
    write_lake(a.lake, a.calls, days=a.days, prompts=a.prompts, workflows=a.workflows, charges=not a.no_charges,
               reuse=a.reuse)  # fmt: skip
    print(f"generated {a.calls:,} calls in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
