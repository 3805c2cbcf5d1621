"""costlab against the real alternatives, measured in one run on this machine (issues 6, 16).

    .venv/bin/python -m benchmarks.run            # full: 1 GiB / 60 days, 10M calls, 5 GiB file
    .venv/bin/python -m benchmarks.run --quick    # same benchmarks, about 1/10 of the sizes
    .venv/bin/python -m benchmarks.run --only cold,incremental --work /tmp/costlab-bench
    .venv/bin/python -m benchmarks.run --only report --calls 100000000 [--engine spark]

Prints a markdown table (figure, target, measured, command, machine) and writes
benchmarks/results.md (sections under a ``## `` heading there are kept). Every command runs as a
child process; wall time, CPU time (user + system, children included) and peak RSS (the largest
single process) come from ``wait4``. The machine is shared, so the two sides of a comparison run
in turn, A B A B ... (one uncounted round, then ``--repeat`` runs each): each side's median time
and command are printed, and the ratio A/B is the median of the pairs' ratios.

- cold: ``costlab ingest`` of the Claude Code corpus vs DuckDB ``COPY (SELECT <the columns
  costlab reads> FROM read_json_auto(...)) TO x.parquet`` over the same files (target: costlab
  <= 1.5x DuckDB).
- incremental: one new day added to the 60: ``costlab ingest`` (skips unchanged files) plus
  ``costlab report --since <new day>`` vs ``ccusage claude daily --json`` re-reading everything
  (target: >= 10x faster); token totals compared and each difference explained from the corpus.
- report: ``costlab report --format json --no-findings`` over the generated lake of N calls
  (benchmarks/lakegen.py; ``--calls``, ``--engine``) vs one grouped DuckDB scan of the same spans
  (workflow, model: calls, tokens, distinct sessions) in a child python (target: no slower than
  the scan, peak <= 2 GiB).
- storage: lake bytes per call without text, for the ingested corpus and the N-call lake (<= 100).
- memory: peak RSS ingesting one 5 GiB Claude Code JSONL file, streamed (target: <= 2 GiB).

ccusage comes from npm (``ccusage@20.0.24`` and the native ``@ccusage/ccusage-linux-x64``),
installed into ``<work>/node`` when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import corpus

if TYPE_CHECKING:
    from collections.abc import Callable

REPO = Path(__file__).resolve().parent.parent
_VENV_PY = REPO / ".venv" / "bin" / "python"
PY = str(_VENV_PY) if _VENV_PY.is_file() else sys.executable  # a worktree without its own venv
COSTLAB = str(Path(PY).parent / "costlab")
CCUSAGE_VERSION = "20.0.24"
WARMUP = 1  # uncounted rounds of each comparison (page cache, the price book cache)


@dataclass
class Timed:
    wall: float
    cpu: float
    rss: int  # bytes, largest single process
    code: int
    out: str


def _child_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The children's environment: this one plus ``extra``, without PYTHONDONTWRITEBYTECODE. An
    installed costlab has its modules compiled (pip writes the .pyc files); with that variable set
    every costlab process compiled its own modules again, 0.14 s a process this machine's shell
    added to each side of a nightly run. `main` compiles the package once before any timing."""
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Timed:
    """Run ``cmd``; wall, CPU (user+sys of it and its children) and peak RSS via wait4."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=_child_env(env), cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if p.returncode not in (0, 3, 4):
            sys.stderr.write(f"! {' '.join(cmd)} exited {p.returncode}: {err.read().decode()[-2000:]}\n")
    return Timed(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, p.returncode, text)


@dataclass
class Pair:
    """Two commands timed in turn, A B A B ...: each side's runs and the ratio A/B pair by pair
    (pairing keeps the ratio meaningful while the shared machine's speed drifts)."""

    a: list[Timed]
    b: list[Timed]

    @staticmethod
    def _median(xs: list[float]) -> float:
        import statistics

        return statistics.median(xs)

    def wall(self, side: str) -> float:
        return self._median([t.wall for t in getattr(self, side)])

    def cpu(self, side: str) -> float:
        return self._median([t.cpu for t in getattr(self, side)])

    def rss(self, side: str) -> int:
        return max(t.rss for t in getattr(self, side))

    @property
    def ratio(self) -> float:
        return self._median([x.wall / y.wall for x, y in zip(self.a, self.b, strict=True)])

    @property
    def ratios(self) -> str:
        rs = sorted(x.wall / y.wall for x, y in zip(self.a, self.b, strict=True))
        return f"{self.ratio:.2f}x (median of {len(rs)} pairs, {rs[0]:.2f}-{rs[-1]:.2f})"

    def side(self, side: str, name: str) -> str:
        """``name`` 1.23 s (CPU 1.50 s, peak 300 MiB): medians of the runs; peak: the largest."""
        return f"{name} {secs(self.wall(side))} (CPU {secs(self.cpu(side))}, peak {gib(self.rss(side))})"

    def ok(self) -> bool:
        return all(t.code in (0, 3, 4) for t in self.a + self.b)


def pair(
    a: list[str],
    b: list[str],
    repeat: int,
    before_a: Callable[[], object] | None = None,
    before_b: Callable[[], object] | None = None,
    env_a: dict[str, str] | None = None,
    env_b: dict[str, str] | None = None,
) -> Pair:
    """Run ``a`` and ``b`` in turn ``repeat`` times each after ``warmup`` uncounted rounds
    (``before_*``: untimed set-up of each run), printing each run's time and command."""
    out = Pair([], [])
    for n in range(WARMUP + repeat):
        for cmd, before, env, runs in ((a, before_a, env_a, out.a), (b, before_b, env_b, out.b)):
            if before:
                before()
            t = run(cmd, env=env)
            if n >= WARMUP:
                runs.append(t)
            note = " (warm-up)" if n < WARMUP else ""
            print(f"  {secs(t.wall)} (CPU {secs(t.cpu)}, peak {gib(t.rss)}){note}: {shown(cmd)}", flush=True)
    print(f"  A/B = {out.ratios}", flush=True)
    return out


def shown(cmd: list[str]) -> str:
    """``cmd`` as a reader would type it (the venv's costlab and python by their names; SQL
    with single quotes in double quotes)."""
    import shlex

    words = ["python" if w == PY else w.replace(COSTLAB, "costlab") for w in cmd]
    return " ".join(f'"{w}"' if "'" in w and not any(c in w for c in '"$`\\!') else shlex.quote(w) for w in words)


def lake_rows(lake: Path, sql: str) -> list[list[Any]]:
    """Rows of ``sql`` over the lake, read in a child process: a child's peak RSS can never read
    below the process that starts it, so this one stays small (no DuckDB, no lake in it)."""
    code = ("import json, sys; from costlab.workspace import Workspace; "
            "print(json.dumps(Workspace(sys.argv[1]).rows(sys.argv[2]), default=str))")  # fmt: skip
    r = run([PY, "-c", code, str(lake), sql])
    if r.code != 0:
        raise SystemExit(f"query on {lake} failed")
    return list(json.loads(r.out))


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) * 1024
    load = os.getloadavg()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem / 2**30:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average at start {load:.1f}"
    )


def du(path: Path, pattern: str = "**/*.parquet") -> int:
    return sum(f.stat().st_size for f in path.glob(pattern) if f.is_file())


def secs(x: float) -> str:
    return f"{x:.1f} s" if x >= 10 else f"{x:.2f} s"


def gib(x: float) -> str:
    return f"{x / 2**30:.2f} GiB" if x >= 2**30 else f"{x / 2**20:.0f} MiB"


class Bench:
    def __init__(
        self,
        work: Path,
        quick: bool,
        repeat: int,
        calls: int | None = None,
        engine: str = "duckdb",
        history_gb: float | None = None,
    ) -> None:
        self.work, self.quick, self.repeat, self.engine = work, quick, repeat, engine
        self.gb = history_gb or (0.1 if quick else 1.0)
        self.days = 60
        self.calls = calls or (1_000_000 if quick else 10_000_000)
        self.argv = ""  # the options this run was given, for the results' command line
        self.big_gb = 0.5 if quick else 5.0
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.notes: list[str] = []
        self.cc = work / "claude" / "projects"  # CLAUDE_CONFIG_DIR layout: <dir>/projects/...

    def row(self, figure: str, target: str, measured: str, ok: bool | None, command: str) -> None:
        mark = "" if ok is None else (" ✅" if ok else " ❌")
        self.rows.append((figure, target, measured + mark, command, ""))
        print(f"{figure}: {measured}{mark}", flush=True)

    # -- corpus ---------------------------------------------------------------------------
    def ensure_corpus(self) -> None:
        stamp = self.work / "claude" / "corpus.json"
        want = {"gb": self.gb, "days": self.days, "seed": 7}
        if stamp.is_file() and json.loads(stamp.read_text()).get("want") == want:
            return
        shutil.rmtree(self.work / "claude", ignore_errors=True)
        t0 = time.perf_counter()
        info = corpus.write_claude_code(self.work / "claude", self.gb, self.days, seed=7)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        stamp.write_text(json.dumps({"want": want, **info}))
        print(f"corpus: {info}", flush=True)

    def corpus_files(self) -> list[Path]:
        return sorted(self.cc.rglob("*.jsonl"))

    def add_day(self) -> None:
        """Day ``days`` (the 61st) with the same per-day size; same seed scheme as the rest."""
        before = set(self.corpus_files())
        info = corpus.write_claude_code(
            self.work / "claude", self.gb / self.days, 1, seed=7, first_day=self.days
        )
        new = sorted(str(f) for f in set(self.corpus_files()) - before)
        (self.work / "claude" / "new_day.json").write_text(json.dumps(new))
        print(f"new day: {info}", flush=True)

    def drop_day(self) -> None:
        """Remove the new day a previous run added, so the lake starts from the 60 days."""
        listing = self.work / "claude" / "new_day.json"
        if listing.is_file():
            for name in json.loads(listing.read_text()):
                Path(name).unlink(missing_ok=True)
            listing.unlink()
        for d in sorted(self.cc.rglob("*"), reverse=True):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()

    # -- benchmarks -------------------------------------------------------------------------
    def cold(self) -> None:
        self.ensure_corpus()
        glob = str(self.cc / "**" / "*.jsonl")
        pq = self.work / "duckdb.parquet"
        # the target's baseline is DuckDB reading the columns costlab needs (the claude_code
        # source's docstring), tool blocks included; SELECT * takes longer (6.2 s against 5.0 s
        # on the 1.03 GiB corpus), so comparing with it would flatter the ratio
        duck_sql = (
            "COPY (SELECT type, timestamp, sessionId, uuid, parentUuid, requestId, cwd, gitBranch, "
            "version, isSidechain, isApiErrorMessage, userType, agentId, message.id AS message_id, "
            "message.model AS model, message.usage AS usage, message.stop_reason AS stop_reason, "
            "[struct_pack(type := b.type, id := b.id, name := b.name, tool_use_id := b.tool_use_id, "
            "is_error := b.is_error, chars := length(CAST(b.content AS VARCHAR))) "
            "FOR b IN TRY_CAST(message.content AS JSON[])] AS blocks, "
            "toolUseResult->>'agentId' AS result_agent, toolUseResult->>'totalDurationMs' AS result_ms, "
            "toolUseResult->>'totalToolUseCount' AS result_tools "
            f"FROM read_json_auto('{glob}')) TO '{pq}' (FORMAT parquet)"
        )
        duck = [PY, "-c", "import duckdb, sys; duckdb.connect().execute(sys.argv[1])", duck_sql]
        lake = self.work / "lake-cold"
        ours = [COSTLAB, "ingest", str(self.cc), "--lake", str(lake), "-q"]
        print("cold ingest (A) vs DuckDB read_json_auto of the needed columns to Parquet (B):", flush=True)
        p = pair(ours, duck, self.repeat, before_a=lambda: shutil.rmtree(lake, ignore_errors=True),
                 before_b=lambda: pq.unlink(missing_ok=True))  # fmt: skip
        if not p.ok():
            raise SystemExit("costlab ingest failed")
        self.row(
            f"Cold ingest, {gib(self.size())} Claude Code logs ({len(self.corpus_files())} files, {self.days} days)",
            "<= 1.5x DuckDB",
            f"{p.side('a', 'costlab')} vs {p.side('b', 'DuckDB')}: {p.ratios}",
            p.ratio <= 1.5,
            f"`{shown(ours)}` vs `{shown(duck)}`",
        )
        calls = self.lake_scalar(lake, "SELECT count(*) FROM calls")
        spans, facts = du(lake / "spans"), du(lake / "call_facts")
        self.row(
            "Storage per call, ingested corpus (no text)",
            "<= 100 B",
            f"{(spans + facts) / calls:.0f} B ({gib(spans)} of spans, tool spans included, + {gib(facts)} of "
            f"call_facts for {calls:,} calls)",
            (spans + facts) / calls <= 100,
            f"du {lake}/spans {lake}/call_facts / `SELECT count(*) FROM calls`",
        )

    def incremental(self) -> None:
        """The nightly run, ``costlab ingest`` of the corpus with one new day then ``costlab report
        --since <new day>``, as one shell command against ccusage re-reading every day. Before each
        nightly run the lake goes back to its 60-day state (a copy), so every run ingests the day."""
        import shlex

        self.ensure_corpus()
        self.drop_day()
        base, lake = self.work / "lake-incr-60", self.work / "lake-incr"
        shutil.rmtree(base, ignore_errors=True)
        r = run([COSTLAB, "ingest", str(self.cc), "--lake", str(base), "-q"])
        assert r.code == 0
        self.add_day()
        new_day = corpus.day_date(self.days)
        ccusage = self.ccusage()
        cc_env = {"CLAUDE_CONFIG_DIR": str(self.work / "claude"), "HOME": str(self.work / "home"), "TZ": "UTC"}
        (self.work / "home").mkdir(exist_ok=True)
        ingest = [COSTLAB, "ingest", str(self.cc), "--lake", str(lake), "-q"]
        report = [COSTLAB, "report", "--lake", str(lake), "--since", new_day.isoformat(),
                  "--until", (new_day + timedelta(days=1)).isoformat(), "--format", "json", "--no-findings"]  # fmt: skip
        nightly = ["sh", "-c", f"{shlex.join(ingest)} && exec {shlex.join(report)}"]
        cc_cmd = [ccusage, "claude", "daily", "--json", "--offline", "--timezone", "UTC"]

        def restore() -> None:
            shutil.rmtree(lake, ignore_errors=True)
            shutil.copytree(base, lake, symlinks=True)

        print("nightly run (A) vs ccusage (B):", flush=True)
        p = pair(nightly, cc_cmd, self.repeat, before_a=restore, env_b=cc_env)
        restore()  # once more, each step on its own: where the nightly time goes
        ing, rep = run(ingest), run(report)
        speedup = 1 / p.ratio
        report_ok = p.ok() and rep.code in (0, 3, 4)
        self.row(
            f"Nightly run: 1 new day on {self.days} days ({gib(self.size())})",
            ">= 10x faster than ccusage",
            f"{p.side('a', 'costlab ingest + report')}{'' if report_ok else ' (FAILED)'} vs "
            f"{p.side('b', 'ccusage')}: {p.ratios}, a speed-up of {speedup:.2f}x; one more run: ingest "
            f"{secs(ing.wall)} + report {secs(rep.wall)}",
            speedup >= 10 and report_ok,
            f"`{shown(ingest)}` then `{shown(report)}` vs "
            f"`CLAUDE_CONFIG_DIR={self.work / 'claude'} TZ=UTC ccusage claude daily --json --offline --timezone UTC`",
        )
        self.compare_tokens(lake, json.loads(p.b[-1].out))

    def compare_tokens(self, lake: Path, cc: dict[str, Any]) -> None:
        theirs = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
        for d in cc.get("daily", []):
            theirs["input"] += d["inputTokens"]
            theirs["cache_read"] += d["cacheReadTokens"]
            theirs["cache_write"] += d["cacheCreationTokens"]
            theirs["output"] += d["outputTokens"]
        q = """SELECT sum(input_tokens - cache_read_tokens - cache_write_tokens), sum(cache_read_tokens),
                      sum(cache_write_tokens), sum(output_tokens), count(*)
               FROM calls WHERE usage_scope = 'self' AND input_tokens IS NOT NULL"""
        row = lake_rows(lake, q)[0]
        ours = dict(zip(("input", "cache_read", "cache_write", "output"), row[:4], strict=True))
        ref = reference_totals(self.corpus_files())
        lines = [
            "| tokens | costlab | ccusage | difference | first line per message.id:requestId (ccusage <= 18) would differ by |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        unexplained = False
        for k in ours:
            diff = int(ours[k]) - int(theirs[k])
            # the two known causes, measured from the corpus: streamed replies whose first line has
            # a partial output count, and sidechain replays of a reply under a new requestId
            known = {0: "none", ref["stream"][k] - ref["replay"][k]: "first-line dedup (streaming, replays)",
                     ref["stream"][k]: "first-line dedup of streamed replies",
                     -ref["replay"][k]: "sidechain replays counted twice"}  # fmt: skip
            if diff not in known:
                unexplained = True
            lines.append(
                f"| {k} | {int(ours[k]):,} | {int(theirs[k]):,} | {diff:+,} ({known.get(diff, 'UNEXPLAINED')}) "
                f"| {ref['stream'][k]:+,} streamed, {-ref['replay'][k]:+,} replays |"
            )
        self.notes.append(
            f"Token totals over all {self.days + 1} days ({row[4]:,} calls in costlab; "
            f"{ref['replies']:,} distinct message ids, {ref['streamed']:,} of them streamed over "
            f"several lines with a growing output count, {ref['replays']:,} sidechain replays "
            "under a new requestId). ccusage 20.0.24 keeps the highest-output line per message and "
            "drops sidechain replays, as costlab does, so any difference must be one of the listed "
            "causes (each measured by re-reading the corpus):\n\n" + "\n".join(lines)
        )
        self.row(
            "Token totals vs ccusage",
            "every difference explained",
            "identical" if all(int(ours[k]) == int(theirs[k]) for k in ours)
            else ("all explained (see below)" if not unexplained else "UNEXPLAINED differences"),
            not unexplained,
            "`SELECT sum(...) FROM calls` vs ccusage daily JSON; corpus re-read in benchmarks/run.py",
        )

    def size(self) -> int:
        return sum(f.stat().st_size for f in self.corpus_files())

    def ccusage(self) -> str:
        node = self.work / "node"
        binary = node / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
        if not binary.is_file():
            node.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node),
                 f"ccusage@{CCUSAGE_VERSION}", f"@ccusage/ccusage-linux-x64@{CCUSAGE_VERSION}"],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        binary.chmod(0o755)
        return str(binary)

    def report(self) -> None:
        """``costlab report`` over the generated N-call lake against one grouped DuckDB scan of the
        same lake's spans (the least any answer over those calls costs), timed in turn."""
        lake = self.work / f"lake-{self.calls}"
        t0 = time.perf_counter()
        gen = run([PY, "-m", "benchmarks.lakegen", str(lake), "--calls", str(self.calls), "--reuse"], cwd=str(REPO))
        if gen.code != 0:
            raise SystemExit(f"generating the {self.calls:,}-call lake failed")
        print(f"lake of {self.calls:,} calls ready in {secs(time.perf_counter() - t0)}", flush=True)
        ours = [COSTLAB, "report", "--lake", str(lake), "--format", "json", "--no-findings"]
        if self.engine != "duckdb":
            ours += ["--engine", self.engine]
        scan_sql = (
            "SELECT workflow, model, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
            f"count(DISTINCT session_id) FROM read_parquet('{lake}/spans/**/*.parquet') GROUP BY ALL"
        )
        scan = [PY, "-c", "import duckdb, sys; print(duckdb.connect().execute(sys.argv[1]).fetchall())", scan_sql]
        print(f"costlab report (A, {self.engine}) vs one grouped DuckDB scan (B):", flush=True)
        p = pair(ours, scan, self.repeat)
        self.row(
            f"`costlab report` ({self.engine}) over {self.calls:,} calls vs one grouped DuckDB scan of their spans",
            "<= 1x the scan, peak <= 2 GiB",
            f"{p.side('a', 'costlab')} vs {p.side('b', 'scan')}: {p.ratios}" + ("" if p.ok() else " FAILED")
            + ("; the Spark JVM is not reaped by costlab, so its CPU and memory are not in these figures"
               if self.engine == "spark" else ""),
            p.ok() and p.ratio <= 1.0 and p.rss("a") <= 2 * 2**30,
            f"`{shown(ours)}` vs `{shown(scan)}`",
        )
        if self.engine == "duckdb":
            self.day_findings(lake)
        spans, facts = du(lake / "spans"), du(lake / "call_facts")
        size = spans + facts
        self.row(
            f"Storage per call, {self.calls:,}-call lake (no text)",
            "<= 100 B",
            f"{size / self.calls:.0f} B ({gib(spans)} spans + {gib(facts)} call_facts)",
            size / self.calls <= 100,
            f"du {lake}/spans {lake}/call_facts / {self.calls:,}",
        )

    def day_findings(self, lake: Path) -> None:
        """A nightly report of the lake's last day with its findings (the default) against the
        same report without them: what the analyzers add for one day of a long history."""
        last = lake_rows(lake, "SELECT CAST(CAST(timezone('UTC', max(start_time)) AS DATE) AS VARCHAR) FROM calls")
        day = date.fromisoformat(last[0][0])
        period = ["--since", day.isoformat(), "--until", (day + timedelta(days=1)).isoformat()]
        base = [COSTLAB, "report", "--lake", str(lake), "--format", "json", *period]
        print("one day's report with findings (A) vs without (B):", flush=True)
        p = pair(base, [*base, "--no-findings"], self.repeat)
        self.row(
            f"`costlab report` of the last day of {self.calls:,} calls, findings included, vs the same without",
            "the analyzers cost what the day holds, not the history",
            f"{p.side('a', 'with findings')} vs {p.side('b', 'without')}: {p.ratios}" + ("" if p.ok() else " FAILED"),
            None,
            f"`{shown(base)}` vs `{shown([*base, '--no-findings'])}`",
        )

    def memory(self) -> None:
        out = self.work / "big"
        stamp, want = out / "corpus.json", {"gb": self.big_gb, "seed": 11}
        if not (stamp.is_file() and json.loads(stamp.read_text()) == want):  # else reuse the file
            shutil.rmtree(out, ignore_errors=True)
            free = shutil.disk_usage(self.work).free
            if free < self.big_gb * 2**30 * 1.5:
                self.notes.append(f"memory benchmark skipped: {gib(free)} free, {self.big_gb} GiB needed")
                return
            corpus.write_claude_code(out, self.big_gb, 1, seed=11, single_file=True)
            stamp.write_text(json.dumps(want))
        f = next(out.rglob("*.jsonl"))
        lake = self.work / "lake-big"
        shutil.rmtree(lake, ignore_errors=True)
        r = run([COSTLAB, "ingest", str(f), "--lake", str(lake), "-q"])
        calls = self.lake_scalar(lake, "SELECT count(*) FROM calls") if r.code == 0 else 0
        self.row(
            f"Peak memory ingesting one {gib(f.stat().st_size)} Claude Code file",
            "<= 2 GiB",
            f"{gib(r.rss)} ({secs(r.wall)}, CPU {secs(r.cpu)}, {calls:,} calls)"
            + ("" if r.code == 0 else " FAILED"),
            r.rss <= 2 * 2**30 and r.code == 0,
            f"`costlab ingest {f} --lake {lake}` (peak RSS from wait4)",
        )
        shutil.rmtree(lake, ignore_errors=True)  # the file stays for the next run (<work>/big)

    @staticmethod
    def lake_scalar(lake: Path, sql: str) -> int:
        return int(lake_rows(lake, sql)[0][0])

    def table(self) -> str:
        head = "| figure | target | measured | command |\n| --- | --- | --- | --- |\n"
        body = "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d, _ in self.rows)
        notes = "".join(f"\n{n}\n" for n in self.notes)
        return (
            f"Machine: {machine()}\n\nCommand: `.venv/bin/python -m benchmarks.run{self.argv}`\n\n"
            "Each comparison runs its two commands in turn (A B A B ..., one uncounted round then `--repeat` each): times "
            "are medians, the ratio is the median of the pairs' ratios; peak is the largest process of "
            f"any run (wait4).\n\n{head}{body}{notes}"
        )


def reference_totals(files: list[Path]) -> dict[str, Any]:
    """Token totals two ways, straight from the corpus: per message.id the line with the highest
    output (costlab) vs the first line per message.id:requestId (ccusage's dedup key)."""
    best: dict[str, tuple[int, int, int, int]] = {}
    first: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    lines: dict[str, int] = defaultdict(int)
    for f in files:
        with open(f, "rb") as fh:
            for raw in fh:
                if b'"assistant"' not in raw:
                    continue
                o = json.loads(raw)
                m = o.get("message") or {}
                u = m.get("usage")
                if o.get("type") != "assistant" or not u or m.get("model") == "<synthetic>":
                    continue
                t = (
                    u["input_tokens"],
                    u.get("cache_read_input_tokens", 0),
                    u.get("cache_creation_input_tokens", 0),
                    u["output_tokens"],
                )
                mid = m["id"]
                lines[mid] += 1
                if mid not in best or t[3] >= best[mid][3]:
                    best[mid] = t
                first.setdefault((mid, o.get("requestId")), t)
    keys = ("input", "cache_read", "cache_write", "output")
    stream = dict.fromkeys(keys, 0)
    replay = dict.fromkeys(keys, 0)
    seen: set[str] = set()
    streamed = replays = 0
    for (mid, _), t in first.items():
        if mid in seen:  # another requestId for the same message: a sidechain replay
            replays += 1
            for i, k in enumerate(keys):
                replay[k] += t[i]
            continue
        seen.add(mid)
        b = best[mid]
        if b != t:
            streamed += 1
        for i, k in enumerate(keys):
            stream[k] += b[i] - t[i]
    return {"stream": stream, "replay": replay, "replies": len(best), "streamed": streamed, "replays": replays}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="about 1/10 of the sizes")
    ap.add_argument("--work", type=Path, default=Path("/tmp/costlab-bench"), help="scratch folder")
    ap.add_argument("--only", default="cold,incremental,report,memory")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each side of a comparison, in turn")
    ap.add_argument("--calls", type=int, help="calls in the report's generated lake (default 10M, 1M with --quick)")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb", help="the report's engine")
    ap.add_argument("--history-gb", type=float,
                    help="GiB of the Claude Code history, 60 days (default 1, 0.1 with --quick; the issue's nightly target names 3)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.md")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    b = Bench(a.work, a.quick, a.repeat, a.calls, a.engine, a.history_gb)
    b.argv = "".join(f" {w}" for w in (argv if argv is not None else sys.argv[1:]))
    print(machine(), flush=True)
    import compileall

    compileall.compile_dir(str(REPO / "costlab"), quiet=1)  # as an installed package has it (`_child_env`)
    for name in a.only.split(","):
        getattr(b, name.strip())()
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    b.notes.append(f"Peak memory cannot read below this harness's own peak, {gib(own)}: a child "
                   "starts from its parent's memory until it runs its own program.")  # fmt: skip
    text = b.table()
    print("\n" + text)
    kept = ""  # sections written by hand (## headings) stay under the table
    if a.out.is_file() and "\n## " in a.out.read_text():
        old = a.out.read_text()
        kept = "\n" + old[old.index("\n## ") + 1 :]
    a.out.write_text("# Benchmark results\n\n" + text + kept)


if __name__ == "__main__":
    main()
