"""DuckDB vs local Spark on the same generated lake: ``costlab report`` timed step by step.

    python benchmarks/spark_vs_duckdb.py --calls 100000000 --lake /tmp/bench-lake [--engines duckdb,spark]

Each engine builds the report ``costlab report --format json --no-findings`` builds (the same
library call), over the lake's stored call_facts; the output gives the seconds of each step and
a digest of the report JSON, equal on both engines when they agree. Run one engine per process
to read its peak memory (``--engines duckdb`` then ``--engines spark --reuse``).

The lake is the benchmarks' generated lake (benchmarks/lakegen.py: spans, a month of charges
and call_facts written directly, as ingest lays them out), so the benchmark measures the query
engines, not ingest; it is also the "generated lake" of tests/test_spark.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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
        from lakegen import write_lake  # run as a script: benchmarks/ is on sys.path

        write_lake(a.lake, a.calls)
        print(f"generated {a.calls:,} calls in {time.perf_counter() - t:.1f}s", flush=True)
    for engine in a.engines.split(","):
        conf = dict(kv.split("=", 1) for kv in a.spark_conf)
        print(json.dumps({"engine": engine, "calls": a.calls, **run(a.lake, engine, conf)}), flush=True)


if __name__ == "__main__":
    main()
