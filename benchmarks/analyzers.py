"""Time every analyzer over a synthetic lake of N calls and report peak memory.

Budget (issue 5): all analyzers over 1M calls in <= 60 s and <= 4 GiB on 2 cores. The four share
one materialized copy of the calls per process (`costlab.workspace.Workspace.analysis_connection`), so "all" costs
much less than the sum of the single runs (each of which builds it).

    .venv/bin/python benchmarks/analyzers.py --calls 1000000 --lake /tmp/bench-lake

The lake is generated once (DuckDB SQL straight to one Parquet file of ``spans`` plus a manifest;
no ingest parsing, so generation is not what is measured) and reused when it already holds N
calls. Each analyzer runs in its own process (``--run NAME``) so its peak RSS is its own; then
all run in one process, as ``costlab analyze all`` does.

Synthetic shape (deterministic, seeded): 30 days; 50 workflows x 4 steps; models
claude-sonnet-4-5 (anthropic), gpt-4o-mini and gpt-4.1 (openai); each prompt is a shared step
template (4-16 blocks of 128 tokens), then the session's history (0-12 blocks, 1 in 10 calls opens
a session), then 1-3 blocks unique to the call: about 16 hashed blocks a call on average.
Logged cache reads are half the template; 5% of calls repeat an earlier prompt_hash.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ANALYZERS = ("caching", "trimming", "downgrade", "batch", "waste")

SPANS_SQL = """
COPY (
  WITH base AS (
    SELECT i,
      CAST(hash(i, 1) % 50 AS BIGINT) AS wf, CAST(hash(i, 2) % 4 AS BIGINT) AS st,
      CAST(hash(i, 3) % ({n} // 10 + 1) AS BIGINT) AS sess,
      CAST(4 + hash(i, 4) % 13 AS BIGINT) AS tb, CAST(hash(i, 5) % 13 AS BIGINT) AS sb,
      CAST(1 + hash(i, 6) % 3 AS BIGINT) AS ub,
      CAST(hash(i, 7) % 3 AS BIGINT) AS m, CAST(hash(i, 8) % 100 AS BIGINT) AS rep,
      TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(
          CAST(hash(i, 9) % CAST(2592000000000 AS UBIGINT) AS BIGINT)) AS ts
    FROM range({n}) AS r(i)
  )
  SELECT
    'b' || i AS trace_id, 's' || i AS span_id, 'wf' || wf AS workflow, 'step' || st AS step,
    'sess' || sess AS session_id, 'llm' AS span_kind, 'chat' AS name, ts AS start_time,
    CASE m WHEN 0 THEN 'anthropic' ELSE 'openai' END AS provider,
    CASE m WHEN 0 THEN 'claude-sonnet-4-5-20250929' WHEN 1 THEN 'gpt-4o-mini' ELSE 'gpt-4.1'
    END AS model,
    CAST((tb + sb + ub) * 128 + hash(i, 10) % 128 AS BIGINT) AS input_tokens,
    CAST(tb * 64 AS BIGINT) AS cache_read_tokens,
    CAST(0 AS BIGINT) AS cache_write_tokens,
    CAST(50 + hash(i, 11) % 400 AS BIGINT) AS output_tokens,
    'self' AS usage_scope, 'reported' AS usage_source,
    CASE WHEN rep < 5 THEN 'p' || (hash(i, 12) % 1000) ELSE 'p' || i END AS prompt_hash,
    list_concat(
      list_transform(range(tb), lambda j: 'w' || wf || 's' || st || 'b' || j),
      list_transform(range(sb), lambda j: 'w' || wf || 's' || st || 'S' || sess || 'b' || j),
      list_transform(range(ub), lambda j: 'u' || i || 'b' || j)
    ) AS prefix_hashes,
    CAST(128 AS BIGINT) AS prefix_block_tokens,
    'bench' AS run_id, 'bench.jsonl' AS source_file, i AS source_line,
    'b' || i AS row_key, now() AS ingested_at
  FROM base
) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 100000)
"""


def make_lake(lake: Path, n: int) -> None:
    import duckdb

    from costlab.lake import Lake, Manifest

    rel = "spans/source_format=bench/day=2026-01-01/run-bench.parquet"
    marker = lake / "bench.json"
    if marker.exists() and json.loads(marker.read_text()).get("calls") == n:
        return
    (lake / rel).parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(SPANS_SQL.format(n=n, path=str(lake / rel)))
    Lake(lake).commit(Manifest(tables={"spans": [rel]}))
    marker.write_text(json.dumps({"calls": n}))
    print(f"generated {n:,} calls in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def run_one(lake: Path, names: list[str]) -> dict[str, object]:
    from costlab.analyze import base
    from costlab.lake import Lake

    out: dict[str, object] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for name in names:
        t, c = time.perf_counter(), time.process_time()
        res = base.run(Lake(lake), [name], config={})
        out[name] = {"seconds": round(time.perf_counter() - t, 2),
                     "cpu_seconds": round(time.process_time() - c, 2),
                     "findings": sum(len(r.findings) for r in res)}  # fmt: skip
    out["total_seconds"] = round(time.perf_counter() - t0, 2)
    # CPU (user + sys, all threads) is the figure the budget is judged on when the machine is
    # shared: wall time then mostly measures the other jobs.
    out["total_cpu_seconds"] = round(time.process_time() - c0, 2)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--lake", type=Path, default=Path("/tmp/costlab-bench-lake"))
    ap.add_argument("--run", help="internal: run these analyzers (comma-separated) and print JSON")
    ap.add_argument("--only", default=",".join(ANALYZERS), help="analyzers to time")
    args = ap.parse_args()
    if args.run:
        print(json.dumps(run_one(args.lake, args.run.split(","))))
        return
    make_lake(args.lake, args.calls)
    names = [n for n in args.only.split(",") if n]
    report: dict[str, object] = {"calls": args.calls}
    for name in [*names, ",".join(names)]:
        r = subprocess.run(
            [sys.executable, __file__, "--lake", str(args.lake), "--run", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if r.returncode:
            report[name] = {"error": r.stderr.strip().splitlines()[-1:]}
        else:
            report[name if "," not in name else "all"] = json.loads(r.stdout)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
