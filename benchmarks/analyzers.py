"""Time every analyzer over a synthetic lake of N calls and report peak memory.

Budget (issue 5): all analyzers over 1M calls in <= 60 s and <= 4 GiB on 2 cores. The four share
one materialized copy of the calls per process (`costlab.workspace.Workspace.analysis_connection`), so "all" costs
much less than the sum of the single runs (each of which builds it).

    .venv/bin/python benchmarks/analyzers.py --calls 1000000 --lake /tmp/bench-lake

The lake is the benchmarks' generated lake with prompt hashes and prefix blocks
(benchmarks/lakegen.py, ``prompts=True``, 50 workflows; no ingest parsing, so generation is not what is
measured), generated once and reused while it holds the same N calls. Each analyzer runs in its
own process (``--run NAME``) so its peak RSS is its own; then all run in one process, as
``costlab analyze all`` does. Shape: see benchmarks/lakegen.py (each prompt a (workflow, step)
template, the session's history and 1-3 blocks of its own, about 16 blocks of 128 tokens).
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
    from lakegen import write_lake  # run as a script: benchmarks/ is on sys.path

    t = time.perf_counter()
    write_lake(args.lake, args.calls, prompts=True, workflows=50, reuse=True)
    print(f"lake of {args.calls:,} calls ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
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
