"""Trimming analyzer on constructed traces (tests/fixtures/analyze_h).

Window: 2025-06-01 .. 2025-06-10 (10 days) -> monthly = window x 3. gpt-4o: $2.50 / MTok input
uncached, $1.25 cache read, $10 output.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures.analyze_h.build import Call, Trace

from costlab import ingest, tokens
from costlab.analyze import trimming
from costlab.analyze.base import combine
from costlab.lake import Lake

SYSTEM = " hello" * 5996  # 5,996 content tokens + 3 markers + 1 role token = 6,000 (message_tokens[0])
DAY0 = datetime(2025, 6, 1)


def _est(system: str, user: str) -> int:
    f = tokens.prompt_features([{"role": "system", "content": system},
                                {"role": "user", "content": user}], "gpt-4o")  # fmt: skip
    return int(f["input_tokens_estimate"])


def _lake(root: Path, keep_text: bool = False) -> Lake:
    t = Trace()
    for k in range(300):
        at = DAY0 + timedelta(days=k % 10, minutes=k)
        q = f"Where is order {k}?"
        n = _est(SYSTEM, q)  # the provider's count equals costlab's estimate: calibration ratio 1
        t.add(Call(at, "support", "answer", "gpt-4o", n, 100, system=SYSTEM,
                   messages=[{"role": "user", "content": q}]))  # fmt: skip
        # same prompt, 46 x 128 = 5,888 leading tokens read from cache on every call
        t.add(Call(at, "support", "answer_cached", "gpt-4o", n, 100, cache_read=5_888,
                   system=SYSTEM, messages=[{"role": "user", "content": q}]))  # fmt: skip
        small = " hi" * 996  # a 1,000-token system prompt: under the 4,000 threshold
        t.add(Call(at, "support", "small", "gpt-4o", _est(small, q), 100, system=small,
                   messages=[{"role": "user", "content": q}]))  # fmt: skip
    for s in range(5):  # 5 sessions x 10 turns, input 10,000 + 5,000 per earlier turn
        for turn in range(10):
            t.add(Call(DAY0 + timedelta(days=s, minutes=turn), "chat", "reply", "gpt-4o",
                       10_000 + 5_000 * turn, 200, session=f"s{s}", user="u1"))  # fmt: skip
    ingest([t.write(root / "calls.jsonl")], lake=root / "lake", keep_text=keep_text)
    return Lake(root / "lake")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> trimming.AnalyzerResult:
    return trimming.analyze(_lake(tmp_path_factory.mktemp("trim")), config={})


def _one(res: trimming.AnalyzerResult, step: str) -> trimming.Finding:
    (f,) = [f for f in res.findings if f.step == step]
    return f


def test_6000_token_system_prompt(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "answer")
    assert f.evidence["template_tokens_median"] == 6000
    assert f.evidence["template_share"] == 1.0 and f.confidence == "medium"
    # excess over the 2,000 target = 4,000 tokens x $2.5e-6 = $0.01 a call; 300 calls = $3.00.
    # low trims 25%: $0.75 -> x3 = $2.25; high 60%: $1.80 -> x3 = $5.40.
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (
        Decimal("2.25"), Decimal("5.40"))  # fmt: skip
    assert not f.validated and f.monthly_savings_usd.high == Decimal("0.00")
    assert f.evidence["role_known"] is False  # text not kept: "leading message"
    assert combine([f]).high == Decimal("0.00")  # content edits are potential until evals pass


def test_cached_system_prompt_saves_only_the_cached_price(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "answer_cached")
    # positions 0..5,887 read from cache ($1.25e-6), 5,888..5,999 uncached ($2.5e-6):
    # effective price = (5,888 x 1.25e-6 + 112 x 2.5e-6) / 6,000 = $0.00764 / 6,000 a token.
    # excess 4,000 tokens -> $0.00509333 a call; 300 calls = $1.528.
    # low 25%: 0.382 x 3 = $1.146 -> 1.15; high 60%: 0.9168 x 3 = $2.7504 -> 2.75.
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (
        Decimal("1.15"), Decimal("2.75"))  # fmt: skip
    assert f.evidence["cached_share_of_template_tokens"] == pytest.approx(5888 / 6000, abs=1e-4)


def test_small_system_prompt_is_not_flagged(result: trimming.AnalyzerResult) -> None:
    assert not [f for f in result.findings if f.step == "small"]


def test_history_growth(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "reply")
    # keep 6 turns: turns 8, 9, 10 drop input_(t-6) - base = 5,000, 10,000, 15,000 -> 30,000
    # tokens a session, 5 sessions = 150,000 tokens x $2.5e-6 = $0.375 (nothing cached).
    # low 25%: 0.09375 x 3 = $0.28125 -> 0.28; high 60%: 0.225 x 3 = $0.675 -> 0.68 (half even).
    assert f.evidence["tokens_beyond_last_turns"] == 150_000
    assert f.evidence["growing_sessions"] == 5
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (
        Decimal("0.28"), Decimal("0.68"))  # fmt: skip
    assert "breaks prompt caching" in f.evidence["warning"]


def test_system_role_and_few_shot_with_text(tmp_path: Path) -> None:
    t = Trace()
    shots = [{"role": "user", "content": "Ticket: refund please"},
             {"role": "assistant", "content": "billing"},
             {"role": "user", "content": "Ticket: app crashes"},
             {"role": "assistant", "content": "bug"}]  # fmt: skip
    for k in range(20):
        msgs = [*shots, {"role": "user", "content": f"Ticket: case {k}"}]
        t.add(Call(DAY0 + timedelta(hours=k), "triage", "label", "gpt-4o", 6_100, 5,
                   system=SYSTEM, messages=msgs))  # fmt: skip
    ingest([t.write(tmp_path / "c.jsonl")], lake=tmp_path / "lake", keep_text=True)
    res = trimming.analyze(Lake(tmp_path / "lake"), config={})
    titles = sorted(f.title for f in res.findings)
    assert any(x.startswith("system prompt of ~") for x in titles)  # role read from kept text
    (few,) = [f for f in res.findings if "few-shot" in f.title]
    expect = tokens.prompt_features(shots, "gpt-4o")["message_tokens"]
    assert few.evidence["example_messages_tokens"] == sum(expect)
    assert few.evidence["sampled_calls_with_examples"] == 20


def test_config_threshold(tmp_path_factory: pytest.TempPathFactory) -> None:
    lake = _lake(tmp_path_factory.mktemp("trim2"))
    res = trimming.analyze(lake, config={"analyze": {"trimming": {"min_tokens": 7000}}})
    assert not [f for f in res.findings if f.step in ("answer", "answer_cached")]
