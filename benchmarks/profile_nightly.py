"""Where a nightly run's fixed time goes: ``costlab ingest`` with nothing new, then ``costlab
report --since <last day> --format json --no-findings``, each profiled with cProfile.

    .venv/bin/python -m benchmarks.profile_nightly --work /tmp/costlab-nightly [--gb 0.05]
    .venv/bin/python -m benchmarks.profile_nightly --code /other/checkout ...   # that checkout's costlab

Writes a Claude Code corpus of 60 days (benchmarks/corpus.py) and ingests it once (untimed), then
runs each command once untimed (the price book cache is filled), and then in ONE child process
twice under cProfile: the first run is what a command line pays (imports included), the second
the same work with every module already imported (the caches a new process would not have are
cleared). Prints one row per phase: cumulative seconds in the first and the second run (rows are
nested: a row's time includes the rows under it), then the interpreter's start and each command's
whole-process wall time without the profiler (median of ``--runs``). cProfile slows Python-heavy
code (imports, the price book) more than DuckDB's, so compare phases, not totals, with the walls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks import corpus
from benchmarks.run import PY, run

#: (label, path suffix, function): nested by indentation (two spaces a level)
PHASES = {
    "ingest": [
        ("import costlab.cli", "costlab/cli.py", "<module>"),
        ("command line (typer)", "costlab/cli.py", "parse_args"),
        ("costlab ingest", "costlab/cli.py", "ingest"),
        ("  rollup keys: the price book's splits", "costlab/workspace.py", "rollup_keys"),
        ("  ingest()", "costlab/ingest/run.py", "ingest"),
        ("    list the files", "costlab/ingest/run.py", "discover"),
        ("    read the manifest", "costlab/lake.py", "open_for_write"),
        ("    collect garbage", "costlab/lake.py", "collect_garbage"),
        ("    stat each file against the manifest", "costlab/ingest/run.py", "_changed"),
        ("    finish: DuckDB, call_facts, runs row, commit", "costlab/ingest/run.py", "_finish"),
        ("      call_facts update", "costlab/calls_store.py", "update"),
        ("      rollups update", "costlab/rollups.py", "update"),
        ("      runs row", "costlab/ingest/run.py", "_write_runs"),
        ("      commit", "costlab/lake.py", "commit"),
    ],
    "report": [
        ("import costlab.cli", "costlab/cli.py", "<module>"),
        ("command line (typer)", "costlab/cli.py", "parse_args"),
        ("costlab report", "costlab/cli.py", "report"),
        ("  build_report()", "costlab/report/build.py", "build_report"),
        ("    connect: views and prices", "costlab/workspace.py", "connect"),
        ("      price book (genai-prices, overrides)", "costlab/pricing.py", "load"),
        ("      price tables into DuckDB", "costlab/pricing.py", "add_price_tables"),
        ("    price + attribute the period's calls", "costlab/report/build.py", "_prepare"),
        ("    the sections' queries", "costlab/report/build.py", "_fetch"),
        ("    alerts", "costlab/report/build.py", "_alerts"),
        ("  render JSON", "costlab/report/output.py", "render"),
    ],
}

CHILD = r"""
import contextlib, cProfile, io, sys, time
args, out = sys.argv[1:-1], sys.argv[-1]
for n in ("first", "second"):
    pr = cProfile.Profile()
    sys.argv = ["costlab", *args]
    pr.enable()
    from costlab.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main()
        except SystemExit:
            pass
    pr.disable()
    pr.dump_stats(f"{out}.{n}")
    try:  # what a new process starts without
        from costlab import pricing
        pricing._cached_book.cache_clear()
    except Exception:
        pass
"""


def phases(stats_file: str, rows: list[tuple[str, str, str]]) -> list[float]:
    import pstats

    st = pstats.Stats(stats_file).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in st.values())
    out = [total]
    for _, suffix, func in rows:
        out.append(sum(v[3] for k, v in st.items() if k[0].endswith(suffix) and k[2] == func))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/costlab-nightly"))
    ap.add_argument("--gb", type=float, default=0.05, help="corpus size (60 days)")
    ap.add_argument("--runs", type=int, default=5, help="unprofiled runs of each command for its wall time")
    ap.add_argument("--code", type=Path, help="profile the costlab of this checkout (its PYTHONPATH)")
    a = ap.parse_args()
    env = {"PYTHONPATH": str(a.code.absolute())} if a.code else None
    a.work.mkdir(parents=True, exist_ok=True)
    cc, lake = a.work / "claude", a.work / "lake"
    stamp = a.work / "corpus.json"
    if not (stamp.is_file() and json.loads(stamp.read_text()) == {"gb": a.gb}):
        import shutil

        shutil.rmtree(cc, ignore_errors=True)
        shutil.rmtree(lake, ignore_errors=True)
        corpus.write_claude_code(cc, a.gb, 60, seed=7)
        stamp.write_text(json.dumps({"gb": a.gb}))
    last = corpus.day_date(59).isoformat()
    cmds = {
        "ingest": ["ingest", str(cc / "projects"), "--lake", str(lake), "-q"],
        "report": ["report", "--lake", str(lake), "--since", last, "--format", "json", "--no-findings"],
    }
    costlab = [PY, "-m", "costlab"]
    for args in cmds.values():  # the lake, the price book cache
        if run(costlab + args, env=env).code not in (0, 3, 4):
            raise SystemExit(f"costlab {' '.join(args)} failed")
    where = run([PY, "-c", "import costlab; print(costlab.__file__)"], env=env).out.strip()
    print(f"costlab from {Path(where).parent}; corpus {a.gb} GiB, 60 days; report --since {last}\n")
    start = statistics.median(run([PY, "-c", "pass"]).wall for _ in range(a.runs))
    print("| phase | first run in a process (s) | second run, modules imported (s) |\n| --- | ---: | ---: |")
    print(f"| python start-up (`python -c pass`, no profiler) | {start:.3f} | |")
    for name, args in cmds.items():
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "prof")
            r = run([PY, "-c", CHILD, *args, out], env=env)
            if r.code not in (0, 3, 4):
                raise SystemExit(f"profiling costlab {name} failed")
            first, second = phases(f"{out}.first", PHASES[name]), phases(f"{out}.second", PHASES[name])
        wall = statistics.median(run(costlab + args, env=env).wall for _ in range(a.runs))
        print(f"| **costlab {name}**, whole process, no profiler (median of {a.runs}) | {wall:.3f} | |")
        print(f"| costlab {name} under cProfile | {first[0]:.3f} | {second[0]:.3f} |")
        for (label, _, _), x, y in zip(PHASES[name], first[1:], second[1:], strict=True):
            indent = "&emsp;" * ((len(label) - len(label.lstrip())) // 2)  # two spaces a level
            print(f"| {indent}{label.strip()} | {x:.3f} | {y:.3f} |")
    print(f"\nCommand: `{' '.join(['python', '-m', 'benchmarks.profile_nightly', *sys.argv[1:]])}`")


if __name__ == "__main__":
    main()
