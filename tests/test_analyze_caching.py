"""The caching analyzer: provider rules, the replay on real traces against published numbers, and
findings on constructed and real logs (docs/analyzers.md: provider rules and validation)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from costlab.analyze import replay
from costlab.analyze.caching import analyze, text_divergence
from costlab.analyze.response_cache import near_duplicates
from costlab.analyze.rules import load_rules, lookup, parse_rules
from costlab.cli import app
from costlab.errors import CostlabError
from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures"
MOONCAKE = FIX / "mooncake" / "synthetic_trace.jsonl"
AZURE = FIX / "azure_llm_trace"


def _lake(tmp: Path, *paths: Path, keep_text: bool = False) -> Lake:
    res = ingest(list(paths), lake=tmp / "lake", keep_text=keep_text)
    assert not res.failed
    return Lake(tmp / "lake")


# -- rules ------------------------------------------------------------------------------------


def test_rules_are_effective_dated_and_sourced() -> None:
    rules = load_rules()
    assert all(r.source for r in rules)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert lookup("anthropic", "claude-sonnet-4-5-20250929", at).min_tokens == 1024
    assert lookup("anthropic", "claude-3-5-haiku-20241022", at).min_tokens == 2048
    assert lookup("anthropic", "claude-haiku-4-5-20251001", at).min_tokens == 4096
    assert lookup("aws.bedrock", "claude-haiku-4-5-20251001", at).min_tokens == 4096
    r = lookup("anthropic", "claude-opus-4-1", at)
    assert (r.write_mult_short, r.write_mult_long, r.read_mult, r.ttl_long) == (1.25, 2.0, 0.1, 3600)
    assert lookup("openai", "gpt-4o-mini", at).read_mult == 0.5
    assert lookup("openai", "gpt-4.1-mini", at).read_mult == 0.25
    assert lookup("openai", "gpt-5.1", at).ttl_long == 86_400
    assert lookup("openai", "gpt-5.6", at).write_mult_short == 1.25  # longest glob wins
    assert lookup("google", "claude-opus-4-1", at).provider == "anthropic"  # Claude on Vertex
    # before OpenAI's prompt caching (2024-10-01) the fallback rule applies
    assert lookup("openai", "gpt-4o", datetime(2024, 5, 1, tzinfo=UTC)).provider == "*"
    assert lookup(None, None).key == "*/*@always"


def test_bad_rules_raise_costlab_error(tmp_path: Path) -> None:
    with pytest.raises(CostlabError, match="missing"):
        parse_rules({"rule": [{"provider": "*"}]}, "x.toml")
    bad = tmp_path / "rules.toml"
    bad.write_text("[[rule]\n")
    with pytest.raises(CostlabError, match="not valid TOML"):
        load_rules(str(bad))


# -- replay on the Mooncake FAST'25 synthetic trace ---------------------------------------------


def _rules_file(tmp: Path, **kw: Any) -> str:
    base = dict(
        provider="*", model_glob="*", valid_from="", valid_to="", min_tokens=1024,
        granularity=128, ttl_short=300, ttl_typical=300, ttl_long=86400, refresh_on_hit=True,
        write_mult_short=1.0, write_mult_long=1.0, read_mult=0.1, max_breakpoints=0,
        visibility_lag=0, overflow_rpm=0, guaranteed=True, source="test", retrieved="test",
    )  # fmt: skip
    base.update(kw)
    lines = ["[[rule]]"] + [f"{k} = {json.dumps(v)}" for k, v in base.items()]
    path = tmp / f"rules{len(list(tmp.glob('rules*')))}.toml"
    path.write_text("\n".join(lines).replace("true", "true") + "\n")
    return str(path)


@pytest.fixture(scope="module")
def mooncake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return _lake(tmp_path_factory.mktemp("mc"), MOONCAKE)


def test_mooncake_shareable_prefix_ratio_reproduces_the_paper(mooncake: Lake) -> None:
    s = analyze(mooncake, config={}).summary
    # 3,993 requests, 61,194,628 input tokens; leading 512-token blocks seen earlier in the trace,
    # capped at input_length: 39,852,661 tokens = 65.1% (Mooncake FAST'25, Table 2: 66%)
    assert (s["calls"], s["input_tokens"], s["shareable_prefix_tokens"]) == (
        3993, 61194628, 39852661,
    )  # fmt: skip
    assert s["shareable_prefix_ratio"] == 0.6512
    assert abs(s["shareable_prefix_ratio"] - 0.66) <= 0.02  # paper Table 2: 66%


def test_mooncake_ttl_and_write_price_sensitivities(mooncake: Lake, tmp_path: Path) -> None:
    """Input cost saved vs no caching on the synthetic trace (docs/analyzers.md, Validation)."""

    def saved(**kw: Any) -> dict[str, float]:
        cfg = {"analyze": {"caching": {"rules": _rules_file(tmp_path, **kw)}}}
        return analyze(mooncake, config=cfg).summary["input_cost_saved_vs_no_cache"]

    # OpenAI pre-5.6: free writes, read 0.1x, min 1024, 128 rounding; 5 min -> 53.5%, 24 h -> 58.6%
    openai = saved()
    assert openai["typical_ttl"] == pytest.approx(0.535, abs=0.001)
    assert openai["longest_ttl"] == pytest.approx(0.586, abs=0.001)
    # same with read 0.5x (gpt-4o class): 29.7%
    assert saved(read_mult=0.5)["typical_ttl"] == pytest.approx(0.297, abs=0.001)
    # Anthropic: 5 min naive 43.5%, 5 min oracle 49.5%, 1 h oracle 43.4%
    anth = saved(granularity=1, ttl_long=3600, write_mult_short=1.25, write_mult_long=2.0)
    assert anth["pessimistic"] == pytest.approx(0.435, abs=0.001)
    assert anth["typical_ttl"] == pytest.approx(0.495, abs=0.001)
    assert anth["longest_ttl"] == pytest.approx(0.434, abs=0.001)
    # a 4096-token minimum rules out part of the trace: less is saved than at 1024
    assert saved(min_tokens=4096)["typical_ttl"] < openai["typical_ttl"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [  # eligibility (docs/analyzers.md, Validation): share of input tokens in requests >= 1024 / 2048 / 4096
        ("AzureLLMInferenceTrace_code.csv", {"1024": 0.922, "2048": 0.743, "4096": 0.422}),
        ("AzureLLMInferenceTrace_conv.csv", {"1024": 0.800, "2048": 0.432, "4096": 0.084}),
    ],
)
def test_azure_trace_minimum_size_eligibility(
    tmp_path: Path, name: str, expected: dict[str, float]
) -> None:
    s = analyze(_lake(tmp_path, AZURE / name), config={}).summary
    for k, v in expected.items():
        assert s["min_size_eligibility"][k] == pytest.approx(v, abs=0.001)
    assert s["calls_with_hashes"] == 0 and s["shareable_prefix_ratio"] == 0.0


# -- constructed steps: timestamp first, well cached, exact repeats, near-duplicates -----------


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return _lake(tmp_path_factory.mktemp("steps"), FIX / "analyze" / "litellm_steps.jsonl",
                 keep_text=True)  # fmt: skip


def _by(findings: list[Any], step: str, kind: str) -> Any:
    return next(f for f in findings if f.step == step and f.kind == kind)


def test_timestamp_first_names_block_zero_and_the_money(steps: Lake) -> None:
    res = analyze(steps, config={})
    f = _by(res.findings, "answer", "savings")
    ev = f.evidence
    assert ev["divergence_block"] == 0 and ev["distinct_first_blocks"] == 60
    assert ev["char_offset"] == 29  # '[{"role"...' rendered: 'Current time: 2025-06-04T07:0' + digit
    assert ev["text_at_divergence"].startswith("Current time: 2025-06-04T07:0")
    assert "Current time" in f.action
    stable = ev["stable_prefix_tokens_if_moved"]
    assert stable == 2760  # the 60 fixed rules (cl100k estimate for Claude)
    # 60 calls 120 s apart, one scope: after the fix the first call writes the stable prefix
    # (1.25x, +0.25 x S) and the other 59 read it (0.1x, -0.9 x S each). Sonnet 4.5 input is
    # $3/MTok; the log spans one UTC day, scaled to 30 days:
    # (59 x 0.9 - 0.25) x 2760 x 3e-6 x 30 = 13.128 -> $13.13 (low = high: 1 h TTL costs more)
    want = Decimal("13.13")
    assert (f.monthly_savings_usd.low, f.monthly_savings_usd.high) == (want, want)
    assert f.validated and f.confidence == "medium"


def test_well_cached_step_says_little_left(steps: Lake) -> None:
    f = _by(analyze(steps, config={}).findings, "classify", "info")
    assert "already well cached" in f.title
    # 30 calls of 1,403 tokens; 29 read 1,385 cached tokens: 40,165 read; the replay can reach
    # 29 x 1,280 (10 whole 128-token blocks shared) = 37,120 <= 40,165
    assert f.evidence["actual_cached_tokens"] == 40165
    assert f.evidence["achievable_cached_tokens"]["high"] == 37120
    assert f.evidence["divergence_block"] == 10


def test_exact_repeats_and_near_duplicates(steps: Lake) -> None:
    res = analyze(steps, config={})
    f = _by(res.findings, "faq", "savings")
    # question order 0,1,0,2,0,1,3,2,0: calls 3,5,6,8,9 repeat an earlier one within 24 h
    assert (f.evidence["repeated_calls"], f.evidence["distinct_repeated_prompts"]) == (5, 3)
    costs = [r[0] for r in Workspace(steps).rows(
        "SELECT cost FROM calls WHERE step = 'faq' ORDER BY start_time")]  # fmt: skip
    want = sum(costs[i] for i in (2, 4, 5, 7, 8)) * 30
    assert f.monthly_savings_usd.low == want.quantize(Decimal("0.01"))
    cand = _by(res.findings, "faq", "candidate")
    assert cand.evidence["near_duplicates"] == 1 and cand.monthly_savings_usd.high == 0
    # the template steps are not near-duplicates: their varying parts differ
    assert not [x for x in res.findings if x.kind == "candidate" and x.step != "faq"]


def test_text_divergence_and_near_duplicates_units() -> None:
    texts = [f"Now: 10:0{i}\nYou are a careful assistant. Answer briefly.\nQ{i}" for i in range(5)]
    d = text_divergence(texts)
    assert d is not None
    assert d["char_offset"] == 9  # 'Now: 10:0' then the minute digit differs
    assert d["stable_text_start"] == "You are a careful assistant. Answer briefly."
    assert near_duplicates(["Hello there, how are you?", "hello  there how are YOU"]) == 1
    assert near_duplicates(["Ticket 1: parcel 2001 damaged", "Ticket 2: parcel 2002 damaged"]) == 0


# -- Claude Code logs: already well cached --------------------------------------------------------


def test_claude_code_logs_have_little_left(tmp_path: Path) -> None:
    lake = _lake(tmp_path, FIX / "claude_code" / "records", FIX / "claude_code" / "assembled",
                 FIX / "claude_code" / "ccusage")  # fmt: skip
    res = analyze(lake, config={"analyze": {"default_days": 0}})  # the fixtures span years: every call
    s = res.summary
    assert s["verdict"].startswith("already well cached")
    assert s["monthly_savings_usd"] == {"low": Decimal("0.00"), "high": Decimal("0.00")}
    assert s["actual_cached_ratio"] >= 0.8
    assert res.findings and all(f.kind == "info" for f in res.findings if f.step == "main")
    assert all("already well cached" in f.title for f in res.findings if f.kind == "info")


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_analyze_json_and_table(steps: Lake) -> None:
    runner = CliRunner()
    lake = str(steps.path)
    r = runner.invoke(app, ["analyze", "caching", "--lake", lake, "-f", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["analyzer"] == "caching"
    assert {"input_tokens", "shareable_prefix_tokens", "shareable_prefix_ratio"} <= set(out["summary"])
    f = out["findings"][0]
    assert {"workflow", "step", "title", "evidence", "monthly_savings_usd", "confidence"} <= set(f)
    assert f["monthly_savings_usd"] == {"low": 13.13, "high": 13.13}
    r = runner.invoke(app, ["analyze", "caching", "--lake", lake])
    assert r.exit_code == 0 and "already well cached" in r.stdout and "$13.13" in r.stdout
    r = runner.invoke(app, ["analyze", "caching", "--lake", lake, "-f", "xml"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["analyze", "nonsense", "--lake", lake])
    assert r.exit_code == 2


def test_cli_analyze_all_lists_results_and_combined(steps: Lake) -> None:
    r = CliRunner().invoke(app, ["analyze", "all", "--lake", str(steps.path), "-f", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [x["analyzer"] for x in out] == ["caching", "trimming", "downgrade", "batch", "waste", "combined"]
    total = out[-1]["summary"]["monthly_savings_usd"]
    assert total["low"] >= 13.25  # at least the caching findings (13.13 + 0.12)


# -- replay properties -----------------------------------------------------------------------------


@st.composite
def traces(draw: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(1, 25))
    calls, blocks, t = [], [], 0.0
    for i in range(n):
        t += draw(st.floats(0, 900))
        nb = draw(st.integers(0, 6))
        first = draw(st.integers(0, 2))  # few distinct first blocks: lots of sharing
        chain = [first * 100 + j * 7 + draw(st.integers(0, 1)) * 1000 * (j > 1) for j in range(nb)]
        calls.append({"idx": i, "t": t, "I": nb * 128 + draw(st.integers(0, 127))})
        blocks += [{"idx": i, "pos": j, "h": h} for j, h in enumerate(chain)]
    c = pl.DataFrame(calls).with_columns(
        scope_id=pl.lit(0), step_id=pl.lit(0), B=pl.lit(128), min_tok=pl.lit(256),
        gran=pl.lit(128), rho=pl.lit(0.1), short=pl.lit(300.0), long=pl.lit(3600.0),
        w=pl.lit(1.25), lag=pl.lit(0.0), rpm=pl.lit(0),
    )  # fmt: skip
    b = pl.DataFrame(blocks, schema={"idx": pl.Int64, "pos": pl.Int64, "h": pl.UInt64})
    return c, b


@settings(max_examples=60, deadline=None)
@given(traces())
def test_replay_bounds_and_monotone_ttl(trace: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    p = replay.prepare(*trace)
    share = replay.shareable(p)
    short = replay.run(p, replay.Scenario("s", "short", "w"))
    long = replay.run(p, replay.Scenario("l", "long", "w"))
    j = p.calls.join(share, on="idx").join(short, on="idx").join(long, on="idx", suffix="_l")
    for r in j.iter_rows(named=True):
        assert 0 <= r["cached"] <= r["cached_l"] <= r["shareable"] <= r["I"]  # longer TTL, more hits
        assert r["cached"] == 0 or r["cached"] >= 256  # minimum
        assert r["cached"] % 128 == 0
        assert 0 <= r["written"] <= r["I"] - r["cached"]
        assert r["units"] <= r["I"] * 1.25 + 1e-9


# -- block 0 differs and no text was kept ---------------------------------------------------------


def test_timestamp_first_without_text_estimates_from_the_first_message(tmp_path: Path) -> None:
    """The same `answer` step ingested without --keep-text: only hashes and message_tokens. The
    finding names block 0 and sizes the stable remainder from the first message (2,786 tokens on
    every call: a template), as a potential saving (an estimate, never validated)."""
    res = analyze(_lake(tmp_path, FIX / "analyze" / "litellm_steps.jsonl"), config={})
    f = next(x for x in res.findings if x.step == "answer")
    assert "first 128-token block never repeats" in f.title
    assert "timestamp or id before the stable part" in f.title
    ev = f.evidence
    assert ev["divergence_block"] == 0 and ev["distinct_first_blocks"] == 60
    assert ev["first_message_tokens"]["m0_p50"] == 2786
    assert ev["stable_remainder_tokens_estimate"] == 2786 - 128
    assert not f.validated and f.confidence == "medium"
    assert f.monthly_savings_usd.high == 0
    # as test_timestamp_first_names_block_zero_and_the_money with S = 2,658:
    # (59 x 0.9 - 0.25) x 2658 x 3e-6 x 30 = 12.6428 -> $12.64
    assert f.potential_savings_usd is not None
    assert f.potential_savings_usd.low == f.potential_savings_usd.high == Decimal("12.64")


def test_block_zero_differs_without_message_sizes_is_an_upper_bound(tmp_path: Path) -> None:
    """A Mooncake-format trace (hash ids only, no message sizes, no model: unpriced) whose first
    block is new on every request while the rest repeats: the finding still names block 0 and says
    its estimate is an upper bound; no money without prices."""
    path = tmp_path / "trace.jsonl"
    rows = [
        {"timestamp": i * 1000, "input_length": 4 * 512, "output_length": 10,
         "hash_ids": [1000 + i, 1, 2, 3]}
        for i in range(20)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = analyze(_lake(tmp_path, path), config={})
    (f,) = [x for x in res.findings if x.evidence.get("divergence_block") == 0]
    assert "first 512-token block never repeats" in f.title
    assert f.evidence["distinct_first_blocks"] == 20
    assert f.evidence["estimate"].startswith("upper bound")
    assert not f.validated and f.confidence == "low" and f.potential_savings_usd is None
    assert res.summary["shareable_prefix_tokens"] == 0  # chained: nothing after block 0 matches


@pytest.mark.parametrize("name", ["steps", "mooncake"])
def test_the_calls_come_in_replay_order(name: str, request: pytest.FixtureRequest) -> None:
    """analyze/caching_calls.sql sorts the calls (start_time, then workflow, step and rk) where
    the sort spills under the memory cap; the replay takes that order as it comes, so it must be
    the order polars would give. Both fixtures have calls sharing a start_time."""
    from costlab.analyze.caching import load_calls

    lake: Lake = request.getfixturevalue(name)
    ws = Workspace(lake)
    df = load_calls(ws.analysis_connection(), None, None)
    ws.release()
    assert df.height >= 100
    assert df["start_time"].is_duplicated().any(), "ties in start_time: the later keys decide"
    want = df.sort("start_time", "wf", "st", "rk", nulls_last=False)
    assert df.drop("idx").equals(want.drop("idx"))
    assert df["idx"].to_list() == list(range(df.height))


def test_a_log_without_prefix_hashes_skips_the_block_query(
    tmp_path: Path, steps: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a prefix hash in the period the block query (which numbers every call) is not
    run, and the replay gets the same empty blocks, typed as the query's rows are: Claude Code
    logs carry none, the LiteLLM steps fixture 100 calls' worth."""
    from costlab.analyze import caching

    claude = _lake(tmp_path, FIX / "claude_code" / "records")
    from costlab import sql

    queried: list[str] = []  # the queries loaded (caching imports load_sql inside its functions)

    real_load = sql.load_sql
    monkeypatch.setattr(sql, "load_sql", lambda name: (queried.append(name), real_load(name))[1])
    got = {}
    for name, lake in (("claude", claude), ("steps", steps)):
        ws = Workspace(lake)
        con = ws.analysis_connection()
        queried.clear()
        df = caching.load_calls(con, None, None)
        got[name] = (caching.load_blocks(con, df, None, None), "analyze/caching_hashes" in queried)
        ws.release()
    blocks, ran = got["claude"]
    assert (blocks.height, ran) == (0, False)
    assert got["steps"][1] and got["steps"][0].height > 100
    assert blocks.schema == got["steps"][0].schema == {"idx": pl.Int64, "key": pl.UInt64, "pos": pl.Int32}


def test_available_memory_is_the_lower_of_the_machine_and_its_cgroup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costlab.analyze import memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       2048 kB\nMemFree:         100 kB\nMemAvailable:    1000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    monkeypatch.setattr(memory, "MEMINFO", str(meminfo))
    monkeypatch.setattr(memory, "CGROUP", str(cgroup))
    assert memory.available_memory() == 1_024_000  # no cgroup files: the machine's figure
    (cgroup / "memory.max").write_text("max\n")
    assert memory.available_memory() == 1_024_000
    (cgroup / "memory.max").write_text("524288\n")
    (cgroup / "memory.current").write_text("24288\n")
    assert memory.available_memory() == 500_000  # the cgroup leaves less
    (cgroup / "memory.max").write_text("4096000\n")
    assert memory.available_memory() == 1_024_000
    monkeypatch.setattr(memory, "MEMINFO", str(tmp_path / "absent"))
    assert memory.available_memory() == 4_071_712  # the cgroup alone
    monkeypatch.setattr(memory, "CGROUP", str(tmp_path / "absent"))
    assert memory.available_memory() is None


def test_a_replay_that_cannot_fit_stops_with_one_line_and_the_report_still_renders(
    steps: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps fixture's 100 calls and 1,560 prefix blocks need 100 x 1,200 + 1,560 x 56 =
    207,360 bytes of replay frames (`test_the_replay_check_counts_the_prefix_blocks`): with
    100,000 bytes available the caching analyzer stops before loading them (a process killed
    half-way gives no report at all); with 207,360 it runs. The report and `analyze all` skip caching alone:
    the other analyzers' findings (downgrade's 3 and batch's 3 on this fixture) are still given,
    with a note naming what is missing, not an all-clear."""
    from costlab.analyze import memory

    lake = str(steps.path)
    full = json.loads(CliRunner().invoke(app, ["report", "--lake", lake, "--format", "json"]).stdout)
    assert Counter(f["analyzer"] for f in full["findings"]) == {"caching": 4, "downgrade": 3, "batch": 3}
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    r = CliRunner().invoke(app, ["analyze", "caching", "--lake", lake])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1, r.stderr
    assert (
        "the caching replay of 100 calls and 1,560 prefix blocks needs about 0.0 GiB of memory and 0.0 GiB "
        "is available" in r.stderr
    )
    assert "--no-findings" in r.stderr
    r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["findings"] == [f for f in full["findings"] if f["analyzer"] != "caching"]
    assert doc["findings_note"].startswith("The caching analyzer did not run, so its findings are missing: ")
    assert "the caching replay of 100 calls" in doc["findings_note"]
    assert "caching analyzer did not run" in r.stderr
    assert doc["headline"][0]["traced_calls"] == 100
    for fmt in ("markdown", "html", "table"):  # beside the findings it lists, in every format
        r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", fmt])
        assert r.exit_code == 0 and "The caching analyzer did not run" in " ".join(r.stdout.split()), fmt
    r = CliRunner().invoke(app, ["analyze", "all", "--lake", lake, "-f", "json"])
    assert r.exit_code == 0, r.output
    parts = {p["analyzer"]: p for p in json.loads(r.stdout)}
    assert parts["caching"]["findings"] == [] and "100 calls" in parts["caching"]["summary"]["skipped"]
    assert parts["combined"]["summary"]["skipped"] == ["caching"]
    assert len(parts["downgrade"]["findings"]) == 3 and "skipped" not in parts["downgrade"]["summary"]
    assert r.stderr.startswith("Warning: the caching analyzer did not run, so its findings are missing: ")
    r = CliRunner().invoke(app, ["analyze", "all", "--lake", lake])
    assert r.exit_code == 0, r.output
    assert "caching: not run, its findings are missing: " in r.stdout
    monkeypatch.setattr(memory, "available_memory", lambda: 207_360)
    r = CliRunner().invoke(app, ["analyze", "caching", "--lake", lake, "-f", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["calls"] == 100


def test_the_replay_is_checked_before_the_calls_are_built(
    steps: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caching analyzer (first of `analyze.base.run`'s, which builds the calls they share)
    checks its replay against the memory available from the stored call count, before the calls
    are built: run alone, a month too large fails in seconds, not after the build has spilled
    gigabytes; run with others, it is skipped and they build the calls once."""
    from costlab.analyze import memory
    from costlab.analyze.base import run
    from costlab.errors import ReplayMemoryError

    built: list[object] = []
    real = Workspace.analysis_connection
    monkeypatch.setattr(Workspace, "analysis_connection", lambda self: built.append(self) or real(self))
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    with pytest.raises(ReplayMemoryError, match="the caching replay of 100 calls"):
        run(Workspace(steps), ["caching"], config={})
    assert built == []
    skipped, waste = run(Workspace(steps), ["caching", "waste"], config={})
    assert skipped.analyzer == "caching" and skipped.findings == []
    assert "the caching replay of 100 calls" in skipped.summary["skipped"]
    assert waste.analyzer == "waste" and waste.summary["calls"] == 100
    assert len(built) == 1


def test_a_lake_without_a_stored_count_is_checked_on_the_calls_built(
    steps: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake written before stored call_facts has no count to check first: the replay is
    checked on the calls once built (the steps fixture's 100 and their 1,560 prefix blocks),
    and stops the same way."""
    from costlab.analyze import memory
    from costlab.errors import AnalyzerMemoryError

    monkeypatch.setattr(Workspace, "period_call_count", lambda self: None)
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)
    with pytest.raises(AnalyzerMemoryError, match="the caching replay of 100 calls and 1,560 prefix blocks"):
        analyze(steps, config={})
    monkeypatch.setattr(memory, "available_memory", lambda: 207_359)
    with pytest.raises(AnalyzerMemoryError, match="needs about"):
        analyze(steps, config={})
    monkeypatch.setattr(memory, "available_memory", lambda: 207_360)
    assert analyze(steps, config={}).summary["calls"] == 100
    # the connection holds every call then; only the period's count: 07:00-08:00 holds 30
    # classify calls (10 blocks each), 30 answer calls (21 each) and 1 faq call (none), so
    # 61 x 1,200 + 930 x 56 = 125,280 bytes
    hour = {"since": datetime(2025, 6, 4, 7, tzinfo=UTC), "until": datetime(2025, 6, 4, 8, tzinfo=UTC)}
    monkeypatch.setattr(memory, "available_memory", lambda: 125_279)
    with pytest.raises(AnalyzerMemoryError, match="61 calls and 930 prefix blocks"):
        analyze(steps, config={}, **hour)
    monkeypatch.setattr(memory, "available_memory", lambda: 125_280)
    assert analyze(steps, config={}, **hour).summary["calls"] == 61


def test_the_replay_check_counts_the_prefix_blocks(
    tmp_path: Path, steps: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each prefix block is a row of the replay's block frame, so the check counts them with the
    calls. By hand from the fixture: 30 classify calls of 1,403 tokens hold 10 whole 128-token
    blocks each, 60 answer calls of 2,801 tokens 21 each, 10 faq calls of 21-24 tokens none:
    1,560 blocks; 100 x 1,200 + 1,560 x 56 = 207,360 bytes. Claude Code logs carry no hashes:
    0 blocks, the calls alone count. A period without spans holds none."""
    from costlab.analyze import memory
    from costlab.errors import ReplayMemoryError

    ws = Workspace(steps)
    assert (ws.period_call_count(), ws.period_prefix_blocks()) == (100, 1560)
    assert Workspace(steps, since="2025-07-01", until="2025-07-02").period_prefix_blocks() == 0
    claude = Workspace(_lake(tmp_path, FIX / "claude_code" / "records"))
    assert claude.period_prefix_blocks() == 0
    assert (memory.REPLAY_BYTES_PER_CALL, memory.REPLAY_BYTES_PER_BLOCK) == (1200, 56)
    monkeypatch.setattr(memory, "available_memory", lambda: 207_359)
    with pytest.raises(ReplayMemoryError, match="100 calls and 1,560 prefix blocks needs about"):
        analyze(steps, config={})
    monkeypatch.setattr(memory, "available_memory", lambda: 207_360)
    assert analyze(steps, config={}).summary["calls"] == 100
