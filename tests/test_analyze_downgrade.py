"""Downgrade analyzer on constructed traces (tests/fixtures/analyze_h) and the statistics behind it.

Lake (2025-06-01 .. 2025-06-10, a 10-day window, so monthly = window x 3):
* triage/classify: gpt-4o (400 calls, 2,000 in / 100 out, accuracy 0.7 or 0.9) and gpt-4o-mini
  (400 calls, 2,000 in / 80 out, accuracy 0.695 or 0.895): mini is non-inferior.
* summaries/summarize: gpt-4.1 (0.7 / 0.9) vs gpt-4.1-mini (0.6 / 0.8): mini is worse.
* extract/extract_fields: claude-sonnet-4-5 only, no scores: a shadow evaluation is proposed.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fixtures.analyze_h.build import Call, Trace

from costlab import ingest
from costlab.analyze import downgrade, stats
from costlab.analyze.base import combine
from costlab.lake import Lake

DAY0 = datetime(2025, 6, 1)


def _at(k: int) -> datetime:
    return DAY0 + timedelta(days=k % 10, minutes=k // 10)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("downgrade")
    t = Trace()
    arms = [
        ("triage", "classify", "gpt-4o", 100, (0.7, 0.9)),
        ("triage", "classify", "gpt-4o-mini", 80, (0.695, 0.895)),
        ("summaries", "summarize", "gpt-4.1", 100, (0.7, 0.9)),
        ("summaries", "summarize", "gpt-4.1-mini", 100, (0.6, 0.8)),
    ]
    for wf, step, model, out, (lo, hi) in arms:
        for k in range(400):
            t.add(Call(_at(k), wf, step, model, 2_000, out,
                       scores={"accuracy": lo if k % 2 else hi}))  # fmt: skip
    for k in range(1_000):
        t.add(Call(_at(k), "extract", "extract_fields", "claude-sonnet-4-5", 2_000, 100,
                   provider="anthropic"))  # fmt: skip
    ingest([t.write(root / "calls.jsonl")], lake=root / "lake")
    res = downgrade.analyze(Lake(root / "lake"), config={})
    out: dict[tuple[str, str], list] = {}  # type: ignore[type-arg]
    for f in res.findings:
        out.setdefault((f.workflow, f.step), []).append(f)
    out[("summary", "")] = [res.summary]
    out[("lake", "")] = [root / "lake"]
    return out


def test_cheaper_model_as_good_is_validated(result: dict) -> None:  # type: ignore[type-arg]
    (f,) = result[("triage", "classify")]
    assert f.validated and f.kind == "savings" and f.evidence["candidate_model"] == "gpt-4o-mini"
    # Scores: current 200 x 0.7 + 200 x 0.9 -> mean 0.8, sample var = 400 x 0.1^2 / 399 = 0.0100251;
    # candidate 0.695 / 0.895 -> mean 0.795, same var. diff = -0.005.
    # SE = sqrt(2 x 0.0100251 / 400) = 0.0070799; Welch df = 2 x 399 = 798; t_0.95,798 = 1.646765.
    # lower = -0.005 - 1.646765 x 0.0070799 = -0.016659 > -0.02 (margin) -> passes.
    # n per arm = ceil(2 x ((1.644854 + 0.841621) x 0.100125 / 0.02)^2) = ceil(309.9) = 310 <= 400.
    assert f.evidence["ci_lower"] == pytest.approx(-0.016659, abs=1e-6)
    assert f.evidence["difference"] == pytest.approx(-0.005, abs=1e-9)
    assert f.evidence["n_required_per_arm"] == 310
    assert f.evidence["verbosity_ratio"] == pytest.approx(0.8)  # 80 / 100 output tokens per call
    # the step's latency now: every constructed span lasts 500 ms (fixtures/analyze_h/build.py)
    assert (f.evidence["latency_p50_seconds"], f.evidence["latency_p95_seconds"]) == (0.5, 0.5)
    # gpt-4o: 2,000 x 2.5e-6 + 100 x 1e-5 = $0.006 a call, 400 calls = $2.40 in the window.
    # gpt-4o-mini ($0.15 / $0.60 per MTok), tau 1 (both o200k), v 0.8:
    #   2,000 x 1.5e-7 + 80 x 6e-7 = $0.000348 -> 400 calls $0.1392; saved $2.2608 -> x3 = $6.7824.
    # low: v x 1.2 = 0.96 -> 2,000 x 1.5e-7 + 96 x 6e-7 = $0.0003576 -> $0.14304; saved $2.25696
    #   -> x3 = $6.77088.
    assert f.monthly_savings_usd.high == Decimal("6.78")
    assert f.monthly_savings_usd.low == Decimal("6.77")
    # base: the step's cost with both models (2.40 + 0.1392) x 3 = $7.6176
    assert f.base_monthly_cost_usd == Decimal("7.62")
    assert combine([f]).high == Decimal("6.78")
    assert f.confidence == "medium"  # 400 < 2 x 310


def test_worse_cheaper_model_gets_no_savings(result: dict) -> None:  # type: ignore[type-arg]
    (f,) = result[("summaries", "summarize")]
    # diff = 0.7 - 0.8 = -0.1; lower = -0.1 - 1.646765 x 0.0070799 = -0.111659 <= -0.02 -> fails.
    assert f.kind == "info" and not f.validated
    assert f.monthly_savings_usd.high == Decimal("0.00") and f.potential_savings_usd is None
    assert f.evidence["ci_lower"] == pytest.approx(-0.111659, abs=1e-6)
    assert "not ruled out" in f.evidence["verdict"]
    assert combine([f]).high == Decimal("0.00")


def test_no_scores_proposes_shadow_evaluation(result: dict) -> None:  # type: ignore[type-arg]
    (f,) = result[("extract", "extract_fields")]
    assert not f.validated and f.monthly_savings_usd.high == Decimal("0.00")
    assert f.evidence["candidate_model"] == "claude-haiku-4-5"
    # no scores: pass rate 0.9 assumed, sigma 0.3 -> n = ceil(2 x (2.486475 x 0.3 / 0.02)^2) = 2,783
    assert f.evidence["shadow_sample_size_per_arm"] == 2783
    # sonnet-4.5 $3 / $15: 2,000 x 3e-6 + 100 x 1.5e-5 = $0.0075 a call; 1,000 calls = $7.50.
    # haiku-4.5 $1 / $5, same tokenizer family (tau 1), verbosity band 0.8 .. 1.3:
    #   high (v 0.8): 2,000 x 1e-6 + 80 x 5e-6 = $0.0024 -> saved $5.10 -> x3 = $15.30
    #   low (v 1.3): 2,000 x 1e-6 + 130 x 5e-6 = $0.00265 -> saved $4.85 -> x3 = $14.55
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (
        Decimal("14.55"), Decimal("15.30"))  # fmt: skip
    assert f.confidence == "low"
    assert combine([f]).high == Decimal("0.00")  # potential savings never count


def test_whatif_gives_the_evidence_tier_of_a_model_change(result: dict) -> None:  # type: ignore[type-arg]
    (lake,) = result[("lake", "")]
    w = downgrade.whatif(Lake(lake), step="triage/classify", model="gpt-4o-mini")
    assert w.evidence is not None and w.evidence.startswith("tier 1 (validated): gpt-4o-mini scored no worse")
    # gpt-4o's 400 calls at mini's prices, output as recorded: 2,000 x 1.5e-7 + 100 x 6e-7 = $0.00036 a
    # call, $0.144 against $2.40; mini's own 400 calls ($0.1392) are unchanged
    ((before, after, diff),) = w.totals().values()
    assert (before, after, diff) == (Decimal("2.5392"), Decimal("0.2832"), Decimal("-2.256"))
    assert "- Evidence: tier 1 (validated)" in w.markdown()
    worse = downgrade.whatif(Lake(lake), step="summaries/summarize", model="gpt-4.1-mini").evidence
    assert worse is not None and worse.startswith("tier 1, not shown as good") and "no saving claimed" in worse
    shadow = downgrade.whatif(Lake(lake), step="extract/extract_fields", model="claude-haiku-4-5").evidence
    assert shadow is not None and shadow.startswith("tier 0 (potential, needs validation)")
    assert downgrade.whatif(Lake(lake), step="triage", model="gpt-4o-mini").evidence == (
        "no evidence tier: name one workflow step (--step WORKFLOW/STEP) to test a model on")
    assert downgrade.whatif(Lake(lake), step="triage/classify", batch=True).evidence is None


def test_summary(result: dict) -> None:  # type: ignore[type-arg]
    (s,) = result[("summary", "")]
    assert (s["validated_findings"], s["failed_tests"], s["shadow_evaluations_proposed"]) == (1, 1, 1)
    assert s["window_days"] == 10


def test_lower_is_better_score_is_flipped(tmp_path: Path) -> None:
    """Toxicity is lower-is-better (default ``lower_is_better``): a cheaper model with LOWER
    toxicity is not worse. chat/reply: gpt-4o (400 calls, 2,000 in / 100 out, toxicity 0.1 or 0.3)
    and gpt-4o-mini (400 calls, 80 out, toxicity 0.05 or 0.25)."""
    t = Trace()
    for model, out, (lo, hi) in (("gpt-4o", 100, (0.1, 0.3)), ("gpt-4o-mini", 80, (0.05, 0.25))):
        for k in range(400):
            t.add(Call(_at(k), "chat", "reply", model, 2_000, out,
                       scores={"toxicity": lo if k % 2 else hi}))  # fmt: skip
    ingest([t.write(tmp_path / "calls.jsonl")], lake=tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    (f,) = downgrade.analyze(lake, config={}).findings
    off = {"analyze": {"downgrade": {"lower_is_better": []}}}
    (g,) = downgrade.analyze(lake, config=off).findings
    # flipped (1 - score): current mean 1 - 0.2 = 0.8, candidate 1 - 0.15 = 0.85, diff +0.05;
    # var 400 x 0.1^2 / 399 = 0.0100251 each, SE 0.0070799, t_0.95,798 = 1.646765:
    # lower = 0.05 - 0.011659 = 0.038341 > -0.02 and 400 >= 310 per arm -> validated.
    assert f.validated and f.evidence["score_name"] == "toxicity"
    assert f.evidence["difference"] == pytest.approx(0.05, abs=1e-9)
    assert f.evidence["ci_lower"] == pytest.approx(0.038341, abs=1e-6)
    assert f.evidence["score_direction"] == "lower is better (tested as 1 - score)"
    # same prices and token counts as triage/classify above: $6.77 .. $6.78 a month
    assert (f.monthly_savings_usd.low, f.monthly_savings_usd.high) == (
        Decimal("6.77"), Decimal("6.78"))  # fmt: skip
    # read as higher-is-better, the lower toxicity looks like a 0.05 loss:
    # lower = -0.05 - 0.011659 = -0.061659 <= -0.02 -> fails, no saving
    assert not g.validated and g.kind == "info"
    assert g.evidence["ci_lower"] == pytest.approx(-0.061659, abs=1e-6)
    assert g.evidence["score_direction"] == "higher is better"


def test_lower_is_better_globs() -> None:
    pats = downgrade.DEFAULTS["lower_is_better"]
    assert downgrade.lower_is_better("Toxicity", pats) and downgrade.lower_is_better("latency", pats)
    assert not downgrade.lower_is_better("toxicity_free", pats)
    assert not downgrade.lower_is_better("correctness", pats)
    assert downgrade.lower_is_better("toxicity_v2", ["toxicity*"])
    assert downgrade.lower_is_better("cost", "cost")  # a single string from costlab.toml


# -- stats: hand-checked against published values ----------------------------------------------


def test_t_quantiles_match_tables() -> None:
    assert stats.t_ppf(0.95, 10) == pytest.approx(1.812461, abs=1e-6)
    assert stats.t_ppf(0.975, 5) == pytest.approx(2.570582, abs=1e-6)
    assert stats.t_ppf(0.05, 10) == pytest.approx(-1.812461, abs=1e-6)


def test_newcombe_matches_newcombe_1998_example() -> None:
    # Newcombe (1998) Stat Med 17:873, method 10, 56/70 vs 48/80: 95% CI 0.0524 .. 0.3339
    iv = stats.newcombe(48, 80, 56, 70, alpha=0.025)
    assert (round(iv.lower, 4), round(iv.upper, 4)) == (0.0524, 0.3339)


def test_wilson_by_hand() -> None:
    # x = 9, n = 10, z = 1.959964: centre = (0.9 + 3.841459/20) / (1 + 0.384146) = 0.788986;
    # half = 1.959964 / 1.384146 x sqrt(0.009 + 3.841459/400) = 0.193136 -> 0.595850 .. 0.982122
    lo, hi = stats.wilson(9, 10, alpha=0.025)
    assert lo == pytest.approx(0.595850, abs=2e-6) and hi == pytest.approx(0.982122, abs=2e-6)


def test_welch_by_hand() -> None:
    # current n=5 mean 0.8 var 0.01, candidate n=10 mean 0.82 var 0.04:
    # a = 0.002, b = 0.004, se = sqrt(0.006) = 0.0774597; df = 0.006^2 / (0.002^2/4 + 0.004^2/9)
    # = 3.6e-5 / (1e-6 + 1.77778e-6) = 12.96; t_0.95,12.96 = 1.771 (tables: 1.771 at 13)
    iv = stats.welch(stats.Sample(5, 0.8, 0.01), stats.Sample(10, 0.82, 0.04))
    assert iv.df == pytest.approx(12.96, abs=1e-2)
    assert iv.lower == pytest.approx(0.02 - stats.t_ppf(0.95, 12.96) * math.sqrt(0.006))
    assert stats.t_ppf(0.95, 12.96) == pytest.approx(1.7713, abs=2e-3)


def test_binary_scores_use_newcombe_and_underpowered_fails() -> None:
    r = stats.noninferior([1.0] * 9 + [0.0], [1.0] * 9 + [0.0])
    assert r.interval.method == "newcombe" and not r.passed
    assert "required" in r.reason or "not ruled out" in r.reason


def test_sample_size_formula() -> None:
    # n = 2((z_0.95 + z_0.8) sigma / delta)^2 (docs/analyzers.md): p = 0.9, delta = 0.02 -> 2 x 6.18255 x 0.09 / 0.0004 = 2,782.1 -> 2,783
    assert stats.n_per_arm(0.3, 0.02) == 2783
    assert stats.n_per_arm(0.1, 0.05) == math.ceil(2 * (2.486475 * 0.1 / 0.05) ** 2)
