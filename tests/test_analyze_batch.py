"""Batch analyzer on constructed traces (tests/fixtures/analyze_h): a nightly 02:00 UTC workflow
is flagged with the batch discount; an interactive daytime chat workflow is not."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures.analyze_h.build import Call, Trace

from costlab import ingest
from costlab.analyze import batch
from costlab.analyze.base import combine
from costlab.lake import Lake
from costlab.workspace import Workspace


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("batch")
    t = Trace()
    day0 = datetime(2025, 6, 1)
    for d in range(14):  # 14 nights, 20 calls between 02:00 and 02:19 UTC, nobody waiting
        for m in range(20):
            t.add(Call(day0 + timedelta(days=d, hours=2, minutes=m), "nightly_digest", "summarize",
                       "gpt-4o", input_tokens=10_000, output_tokens=1_000))  # fmt: skip
    for d in range(14):  # interactive chat: sessions and users, office hours
        for h in range(9, 17):
            t.add(Call(day0 + timedelta(days=d, hours=h), "support_chat", "answer", "gpt-4o",
                       input_tokens=3_000, output_tokens=300, session=f"s{d}-{h // 4}",
                       user=f"u{h}"))  # fmt: skip
    path = t.write(root / "calls.jsonl")
    ingest([path], lake=root / "lake")
    return Lake(root / "lake")


def test_nightly_workflow_is_flagged_with_hand_computed_savings(lake: Lake) -> None:
    res = batch.analyze(lake, config={})
    assert res.summary["eligible"] == ["nightly_digest"]
    (f,) = res.findings
    assert (f.workflow, f.step, f.confidence, f.validated) == ("nightly_digest", "summarize", "high", True)
    # gpt-4o standard: $2.50 in / $10 out per MTok -> 10,000 x 2.5e-6 + 1,000 x 1e-5 = $0.035 a call;
    # 14 x 20 = 280 calls = $9.80 over the 14-day window (2025-06-01 .. 2025-06-15).
    # genai-prices' latest gpt-4o batch tier: $1.25 / $5 -> ratio 0.5 on both parts: $4.90 saved.
    # Scaled to 30 days: 4.90 x 30 / 14 = $10.50 (all calls are in the 02:00 pattern: low = high).
    assert f.monthly_savings_usd.low == f.monthly_savings_usd.high == Decimal("10.50")
    assert f.base_monthly_cost_usd == Decimal("21.00")  # 9.80 x 30 / 14
    assert f.fraction_high == pytest.approx(0.5)
    assert f.evidence["busiest_utc_hour"] == 2
    assert f.evidence["interactive_share"] == 0.0
    assert f.evidence["off_hours_share_utc_20_08"] == 1.0
    assert f.evidence["window_days"] == 14
    # every constructed span lasts 500 ms (fixtures/analyze_h/build.py): p50 = p95 = 0.5 s
    assert (f.evidence["latency_p50_seconds"], f.evidence["latency_p95_seconds"]) == (0.5, 0.5)
    assert combine(res.findings).high == Decimal("10.50")


def test_interactive_chat_is_not_flagged(lake: Lake) -> None:
    res = batch.analyze(lake, config={})
    assert all(f.workflow != "support_chat" for f in res.findings)
    assert res.summary["workflows"] == 2


def test_already_batch_calls_are_not_eligible(tmp_path: Path) -> None:
    t = Trace()
    for d in range(5):
        t.add(Call(datetime(2025, 6, 1 + d, 3), "eval_run", "grade", "gpt-4o", 1_000, 100,
                   service_tier="batch"))  # fmt: skip
    ingest([t.write(tmp_path / "b.jsonl")], lake=tmp_path / "lake")
    assert batch.analyze(Lake(tmp_path / "lake"), config={}).findings == []


def test_empty_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "empty")
    lake.create()
    res = batch.analyze(lake, config={})
    assert res.findings == [] and res.summary["workflows"] == 0


def test_bedrock_claude_uses_the_rule_table(tmp_path: Path) -> None:
    """genai-prices 0.2.3 has no Bedrock batch tier: batch_rules.toml's aws.bedrock row (50%,
    AWS docs) supplies it, matched on the calls' own provider, not the price provider 'aws'."""
    t = Trace()
    for d in range(10):  # ten nights at 02:00 UTC, five calls each, no sessions or users
        for m in range(5):
            t.add(Call(datetime(2026, 10, 1 + d, 2, m), "nightly-digest", "summarise-batch",
                       "claude-haiku-4-5-20251001", 60_000, 1_000, provider="aws.bedrock"))  # fmt: skip
    ingest([t.write(tmp_path / "b.jsonl")], lake=tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    res = batch.analyze(lake, config={})
    (f,) = res.findings
    assert (f.workflow, f.confidence, f.validated) == ("nightly-digest", "high", True)
    assert "Amazon Bedrock batch inference" in f.action
    assert any("aws.amazon.com" in b for b in f.evidence["discount_basis"])
    # every part at half price: saving = 50% of the 50 calls' cost, 10-day window -> x 30 / 10
    (cost,) = Workspace(lake).rows("SELECT sum(cost) FROM calls")[0]
    assert cost > 0
    want = (cost * Decimal("0.5") * 30 / 10).quantize(Decimal("0.01"))
    assert f.monthly_savings_usd.low == f.monthly_savings_usd.high == want
    assert f.evidence["effective_discount"] == 0.5
