"""Model-downgrade analyzer: a cheaper model of the same provider, only as good as the evidence.

Looks at, per workflow step: the model carrying most of its cost ("current"), the cheaper rungs
for it in downgrade_ladder.toml (same provider), and quality scores in the spans
(queries/analyze/downgrade_scores.sql: OTel ``gen_ai.evaluation.result`` events or evaluation
spans with ``gen_ai.evaluation.score.value``, which is how Langfuse scores and LangSmith feedback
are ingested).

Direction: higher is better, except score names matching ``lower_is_better`` (case-insensitive
globs; default toxicity, hallucination, harmfulness, latency), which enter as ``1 - score``. For
the Welch test that is the same as ``-score`` (the constant cancels in the difference, the variance
is unchanged), so the margin keeps its meaning as an absolute loss in the score's own units
(0.02 more toxicity on a 0..1 scale; 0.02 s for a latency in seconds - set ``margin`` to suit). For
0/1 scores it is the complement pass rate (1 = "not toxic"), still 0/1, so Newcombe's interval and
the p(1 - p) sample size apply unchanged; ``-score`` would have lost that.

Evidence tiers (docs/analyzers.md):
* **Tier 1** - both models carry the same score on the step: a non-inferiority test
  (`costlab.analyze.stats.noninferior_samples`: Welch for scores, Newcombe for pass/fail; margin
  ``margin`` = 0.02, one-sided alpha 0.05, and at least the planned n per arm). Pass: a validated
  saving. Fail: an ``info`` finding with the interval and no saving.
* **Tier 0** - no scores for the candidate: a shadow-evaluation plan with the sample size per arm,
  the saving only as ``potential_savings_usd`` (validated False, monthly savings zero).

Savings: the current model's calls re-priced at the candidate's genai-prices/override prices valid
on each day, part by part (uncached input, cache read, cache writes, output, reasoning), times the
tokenizer ratio tau (same family 1.0; across OpenAI encodings counted with tiktoken on kept prompt
text, else the table in downgrade_ladder.toml with a +-15% band) and, for output, the verbosity
ratio v (observed mean output per call of candidate / current on the step when both ran there).
Validated band: high = point estimate, low = candidate 20% more verbose and tau at its upper band.
Potential band: v in [0.8, 1.3] when v was not observed. Window savings are scaled to 30 days.

Refuses to claim: savings from public benchmarks or routers; a saving from a test that failed or
was under-powered; anything across providers; latency, tool-use or language coverage changes
(listed as not measured).
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

from costlab.analyze import stats
from costlab.analyze.base import AnalyzerResult, Finding, Savings, Start, analyzer, begin, money

if TYPE_CHECKING:
    from costlab.lake import Lake
    from costlab.money.whatif import WhatIf
    from costlab.pricing import PriceBook
    from costlab.workspace import Workspace

DEFAULTS: dict[str, Any] = {
    "margin": 0.02,
    "alpha": 0.05,
    "power": 0.8,
    "score_name": "",
    "assumed_pass_rate": 0.9,
    "verbosity_low": 0.8,
    "verbosity_high": 1.3,
    "verbosity_slack": 0.2,
    "min_monthly_usd": 0.0,
    "lower_is_better": ["toxicity", "hallucination", "harmfulness", "latency"],
}
NOT_MEASURED = ["latency", "tool-use ability", "language coverage", "long-input behaviour"]
_SUITED = ("classif", "extract", "route", "label", "format", "tag", "parse", "detect", "score")
_CAUTION = ("plan", "agent", "code", "reason", "write", "draft", "solve")
_PARTS = (
    ("uncached_tokens", "p_uncached", False),
    ("read_tokens", "p_cache_read", False),
    ("write_5m_tokens", "p_cache_write_5m", False),
    ("write_1h_tokens", "p_cache_write_1h", False),
    ("visible_output_tokens", "p_output", True),
    ("reasoning_tokens", "p_reasoning", True),
)


@dataclass(frozen=True)
class Tokenizer:
    family: str
    ratio: float
    band: float
    source: str


def _data() -> dict[str, Any]:
    text = resources.files("costlab.analyze").joinpath("downgrade_ladder.toml").read_text("utf-8")
    return tomllib.loads(text)


def candidates(provider: str, price_model: str) -> list[tuple[str, str]]:
    """Cheaper same-provider models for ``price_model``, nearest first, with the row's source."""
    for rung in _data()["rung"]:
        if rung["provider"] == provider and fnmatch.fnmatchcase(price_model, rung["model"]):
            return [(m, rung["source"]) for m in rung["cheaper"]]
    return []


def tokenizer(model: str) -> Tokenizer:
    for row in _data()["tokenizer"]:
        if any(fnmatch.fnmatchcase(model, g) for g in row["models"]):
            return Tokenizer(row["family"], row["ratio"], row.get("band", 0.15), row["source"])
    return Tokenizer("unknown", 1.0, 0.15, "no table row: assumed equal")


class Prices:
    """Candidate unit prices by day from the PriceBook (standard tier, lowest input band)."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self._cells: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def at(self, provider: str, model: str, day: date) -> dict[str, Any] | None:
        hit = self.book.match(provider, model)
        if hit is None:
            return None
        key = (hit.provider, hit.model)
        if key not in self._cells:
            self._cells[key] = [
                c
                for c in self.book.grid_table([key]).to_pylist()
                if c["price_tier"] == "standard" and c["input_tokens_above"] is None
            ]
        noon = datetime.combine(day, time(12), tzinfo=UTC)
        for c in self._cells[key]:
            if (c["valid_from"] is None or noon >= c["valid_from"]) and (
                c["valid_to"] is None or noon < c["valid_to"]
            ):
                if c["time_of_day_from"] is None or c["time_of_day_from"] <= time(12):
                    return c
        return None


def lower_is_better(name: str, patterns: Any) -> bool:
    """True when score ``name`` matches a ``lower_is_better`` glob (case-insensitive)."""
    pats = [patterns] if isinstance(patterns, str) else list(patterns or [])
    return any(fnmatch.fnmatchcase(name.lower(), str(p).lower()) for p in pats)


def _d(x: float) -> Decimal:
    return Decimal(str(round(x, 6)))


def _reprice(rows: list[dict[str, Any]], cand: str, provider: str, prices: Prices,
             tau: float, v: float) -> Decimal | None:  # fmt: skip
    """Cost of ``rows`` (one model's daily token sums) at ``cand``'s prices, or None (unpriced)."""
    total = Decimal(0)
    for r in rows:
        cell = prices.at(provider, cand, r["day"])
        if cell is None or cell["currency"] != "USD":
            return None
        for col, price, is_out in _PARTS:
            n = int(r[col] or 0)
            if n:
                total += Decimal(n) * _d(tau * (v if is_out else 1.0)) * cell[price]
        total += Decimal(r["calls"]) * (cell["p_request"] or 0)
    return total


def _per_call(rows: list[dict[str, Any]], col: str) -> float:
    calls = sum(int(r["calls"]) for r in rows)
    return float(sum(int(r[col] or 0) for r in rows)) / calls if calls else 0.0


def _tau(con: Any, cur: str, cand: str, wf: str, step: str) -> tuple[float, float, str]:
    """Tokenizer ratio (candidate / current), its band and where it came from."""
    a, b = tokenizer(cur), tokenizer(cand)
    if a.family == b.family:
        return 1.0, 0.0, f"same tokenizer family ({a.family})"
    if a.family.startswith("openai") and b.family.startswith("openai"):
        from costlab import tokens

        stats.prompts(con)
        texts = [
            t[0]
            for t in con.execute(
                "SELECT p.prompt_text FROM analyze_calls AS c JOIN analyze_prompts AS p "
                "USING (trace_id, span_id, source_line) "
                "WHERE coalesce(c.workflow, '(none)') = ? AND coalesce(c.step, '(none)') = ? "
                "AND p.prompt_text IS NOT NULL LIMIT 200",
                [wf, step],
            ).fetchall()
        ]
        if texts:
            n_cur = sum(tokens.count(t, cur) for t in texts)
            n_cand = sum(tokens.count(t, cand) for t in texts)
            if n_cur:
                return n_cand / n_cur, 0.0, f"counted with tiktoken on {len(texts)} kept prompts"
    return b.ratio / a.ratio, max(a.band, b.band), f"table: {a.source}; {b.source}"


def _candidate(cand: str, source: str, tau: float, tau_band: float, tau_src: str) -> dict[str, Any]:
    """The evidence naming a candidate model and its tokenizer ratio (validated or not)."""
    return {
        "candidate_model": cand,
        "ladder_source": source,
        "tokenizer_ratio": round(tau, 4),
        "tokenizer_ratio_band": tau_band,
        "tokenizer_source": tau_src,
    }


@analyzer("downgrade", DEFAULTS)
def analyze(start: Start) -> AnalyzerResult:
    """Cheaper-model candidates per step, validated only by the user's own scores (module doc)."""
    ws, cfg, lo_t, hi_t, con = start
    result = AnalyzerResult("downgrade")
    steps = stats.frame(con, "analyze/downgrade_steps", lo_t, hi_t)
    scores = stats.frame(con, "analyze/downgrade_scores", lo_t, hi_t)
    win = stats.observed(steps, lo_t, hi_t)
    if win is None:
        result.summary = {"steps": 0}
        return result
    prices = Prices(ws.prices())
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in steps.iter_rows(named=True):
        groups.setdefault((r["workflow"], r["step"]), []).append(r)
    score_idx: dict[tuple[str, str], dict[tuple[str, str], tuple[stats.Sample, bool]]] = {}
    for r in scores.iter_rows(named=True):
        mean = float(r["mean"])
        if lower_is_better(r["score_name"], cfg["lower_is_better"]):
            mean = 1.0 - mean  # module doc: same test as -score, keeps 0/1 scores 0/1
        score_idx.setdefault((r["workflow"], r["step"]), {})[
            (r["price_model"], r["score_name"])
        ] = (stats.Sample(int(r["n"]), mean, float(r["var"])), bool(r["binary"]))
    counts = {"validated": 0, "failed": 0, "shadow": 0}
    for (wf, step), rows in sorted(groups.items()):
        f = _step(con, wf, step, rows, score_idx.get((wf, step), {}), prices, cfg, win)
        for finding in f:
            key = (
                "validated" if finding.validated
                else "failed" if finding.kind == "info" else "shadow"
            )  # fmt: skip
            counts[key] += 1
        result.findings.extend(f)
    stats.add_latency(con, result.findings, lo_t, hi_t)
    result.summary = {
        "steps": len(groups),
        "validated_findings": counts["validated"],
        "failed_tests": counts["failed"],
        "shadow_evaluations_proposed": counts["shadow"],
        "margin": cfg["margin"],
        **win.evidence(),
    }
    return result


def _step(
    con: Any,
    wf: str,
    step: str,
    rows: list[dict[str, Any]],
    scored: dict[tuple[str, str], tuple[stats.Sample, bool]],
    prices: Prices,
    cfg: dict[str, Any],
    win: stats.Window,
) -> list[Finding]:
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["price_model"], []).append(r)
    cost = {m: sum((stats.money_of(r["cost"]) for r in rs), Decimal(0)) for m, rs in by_model.items()}
    current = max(cost, key=lambda m: cost[m])
    cur_rows = by_model[current]
    provider, price_provider = cur_rows[0]["provider"], cur_rows[0]["price_provider"]
    cands = candidates(price_provider, current)
    if not cands:
        return []
    to_m = win.to_month
    base = sum(cost.values(), Decimal(0)) * to_m
    cur_cost = cost[current]
    names = [n for (m, n) in scored if m == current]
    name = cfg["score_name"] or (
        max(names, key=lambda n: scored[(current, n)][0].n) if names else None
    )
    out: list[Finding] = []
    failed = False
    common = {
        "current_model": current,
        "current_calls_window": sum(r["calls"] for r in cur_rows),
        "current_cost_window_usd": money(cur_cost),
        "output_tokens_p90_max_day": max(float(r["output_p90"] or 0) for r in cur_rows),
        "input_per_output_tokens": round(
            _per_call(cur_rows, "input_tokens") / max(_per_call(cur_rows, "output_tokens"), 1e-9), 2
        ),
        "not_measured": NOT_MEASURED,
        **win.evidence(),
    }
    for cand, source in cands:
        cand_rows = by_model.get(cand, [])
        v_obs = (
            _per_call(cand_rows, "output_tokens") / _per_call(cur_rows, "output_tokens")
            if cand_rows and _per_call(cur_rows, "output_tokens") > 0
            else None
        )
        tau, tau_band, tau_src = _tau(con, current, cand, wf, step)
        ev = {
            **common,
            **_candidate(cand, source, tau, tau_band, tau_src),
            "verbosity_ratio": round(v_obs, 4) if v_obs is not None else None,
            "verbosity_source": "observed on this step" if v_obs is not None else "not observed",
        }
        have = name is not None and (current, name) in scored and (cand, name) in scored
        if have:
            assert name is not None
            (s_cur, b1), (s_cand, b2) = scored[(current, name)], scored[(cand, name)]
            test = stats.noninferior_samples(
                s_cur, s_cand, b1 and b2, cfg["margin"], cfg["alpha"], cfg["power"]
            )
            flipped = lower_is_better(name, cfg["lower_is_better"])
            ev |= {
                "score_name": name,
                "score_direction": "lower is better (tested as 1 - score)"
                if flipped
                else "higher is better",
                **test.evidence(),
            }
            v = v_obs if v_obs is not None else 1.0
            high_c = _reprice(cur_rows, cand, provider, prices, tau, v)
            low_c = _reprice(cur_rows, cand, provider, prices, tau * (1 + tau_band),
                             v * (1 + cfg["verbosity_slack"]))  # fmt: skip
            if high_c is None or low_c is None:
                continue
            if not test.passed:
                failed = True
                out.append(_info(wf, step, current, cand, ev, test.reason))
                continue
            hi, lo = (cur_cost - high_c) * to_m, (cur_cost - low_c) * to_m
            if hi <= 0:
                continue
            lo = max(lo, Decimal(0))
            band = Savings(money(lo), money(hi))
            strong = min(test.n_current, test.n_candidate) >= 2 * test.n_required
            out.append(
                Finding(
                    "downgrade", wf, step,
                    title=f"{cand} scored no worse than {current} on {step} ({name})",
                    action=f"switch {wf}/{step} from {current} to {cand}; keep scoring to catch drift",
                    evidence=ev, monthly_savings_usd=band,
                    confidence="high" if strong else "medium", validated=True,
                    base_monthly_cost_usd=money(base),
                    fraction_low=float(lo / base) if base else 0.0,
                    fraction_high=float(hi / base) if base else 0.0,
                )  # fmt: skip
            )
            return out
    if failed or out:
        return out
    cand, source = cands[0]
    return [_shadow(con, wf, step, cur_rows, by_model, cand, source, scored, name, prices,
                    cfg, common, base, cur_cost, provider)]  # fmt: skip


def _info(wf: str, step: str, cur: str, cand: str, ev: dict[str, Any], why: str) -> Finding:
    zero = Savings(Decimal("0.00"), Decimal("0.00"))
    return Finding(
        "downgrade", wf, step,
        title=f"{cand} is not shown to be as good as {cur} on {step}",
        action=f"keep {cur} on {wf}/{step}; no saving is claimed ({why})",
        evidence=ev, monthly_savings_usd=zero, confidence="high", validated=False, kind="info",
    )  # fmt: skip


def _shadow(
    con: Any, wf: str, step: str, cur_rows: list[dict[str, Any]],
    by_model: dict[str, list[dict[str, Any]]], cand: str, source: str,
    scored: dict[tuple[str, str], tuple[stats.Sample, bool]], name: str | None,
    prices: Prices, cfg: dict[str, Any], common: dict[str, Any], base: Decimal,
    cur_cost: Decimal, provider: str,
) -> Finding:  # fmt: skip
    """Tier 0: a shadow-evaluation plan and the potential saving (never validated)."""
    current = common["current_model"]
    tau, tau_band, tau_src = _tau(con, current, cand, wf, step)
    cand_rows = by_model.get(cand, [])
    cur_out = _per_call(cur_rows, "output_tokens")
    if cand_rows and cur_out > 0:
        v = _per_call(cand_rows, "output_tokens") / cur_out
        v_lo, v_hi, v_src = v * (1 + cfg["verbosity_slack"]), v, "observed on this step"
    else:
        v_lo, v_hi = cfg["verbosity_high"], cfg["verbosity_low"]
        v_src = f"not observed: band {cfg['verbosity_low']}-{cfg['verbosity_high']}"
    low_c = _reprice(cur_rows, cand, provider, prices, tau * (1 + tau_band), v_lo)
    high_c = _reprice(cur_rows, cand, provider, prices, tau * (1 - tau_band), v_hi)
    if name is not None and (current, name) in scored:
        s, binary = scored[(current, name)]
        sigma = (s.mean * (1 - s.mean)) ** 0.5 if binary else s.var**0.5
        basis = f"sigma {sigma:.4f} from {s.n} '{name}' scores of {current}"
    else:
        p = cfg["assumed_pass_rate"]
        sigma = (p * (1 - p)) ** 0.5
        basis = f"no scores: assumed pass rate {p} (sigma {sigma:.4f})"
    n = stats.n_per_arm(sigma or 0.3, cfg["margin"], cfg["alpha"], cfg["power"])
    to_m = stats.DAYS_PER_MONTH / Decimal(common["window_days"])
    pot = None
    lo = hi = Decimal(0)
    if low_c is not None and high_c is not None:
        hi, lo = (cur_cost - high_c) * to_m, max((cur_cost - low_c) * to_m, Decimal(0))
        pot = Savings(money(lo), money(hi)) if hi > 0 else None
    lname = step.lower()
    hints = [h for h in _SUITED if h in lname]
    cautions = [h for h in _CAUTION if h in lname]
    ev = {
        **common,
        **_candidate(cand, source, tau, tau_band, tau_src),
        "verbosity_source": v_src,
        "shadow_sample_size_per_arm": n,
        "sample_size_basis": (
            f"n = 2((z_(1-{cfg['alpha']}) + z_({cfg['power']})) sigma / {cfg['margin']})^2, "
            f"unpaired; {basis}. A paired design (both models on the same inputs, McNemar or "
            "paired bootstrap) usually needs several times fewer"
        ),
        "step_name_suits_small_model": hints,
        "step_name_needs_caution": cautions,
    }
    zero = Savings(Decimal("0.00"), Decimal("0.00"))
    return Finding(
        "downgrade", wf, step,
        title=f"{step} runs on {current}; {cand} is cheaper but untested here",
        action=(
            f"shadow-evaluate {cand} on {n} calls of {wf}/{step} (score both, non-inferiority "
            f"margin {cfg['margin']}) before switching"
        ),
        evidence=ev, monthly_savings_usd=zero, confidence="low", validated=False,
        base_monthly_cost_usd=money(base),
        fraction_low=float(lo / base) if base and pot else 0.0,
        fraction_high=float(hi / base) if base and pot else 0.0,
        potential_savings_usd=pot, kind="savings" if pot else "info",
    )  # fmt: skip


def evidence_tier(
    lake: Workspace | Lake, step: str | None, model: str, since: Any = None, until: Any = None,
    config: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """The evidence tier this analyzer would give moving ``step`` ('workflow/step') to ``model``:
    tier 1 when both models carry the step's quality score (the non-inferiority test, passed or
    not), tier 0 (shadow-evaluate first) when the new model has none. One line, for what-if."""
    wf, _, name_step = (step or "").partition("/")
    if not wf or not name_step:
        return "no evidence tier: name one workflow step (--step WORKFLOW/STEP) to test a model on"
    start = begin(lake, "downgrade", DEFAULTS, since, until, config)
    try:
        ws, cfg, lo_t, hi_t, con = start
        hit = ws.prices().match(None, model)
        target = hit.model if hit else model
        steps = [r for r in stats.frame(con, "analyze/downgrade_steps", lo_t, hi_t).iter_rows(named=True)
                 if r["workflow"] == wf and r["step"] == name_step]  # fmt: skip
        if not steps:
            return f"no evidence tier: no priced calls of {wf}/{name_step} in the period"
        cost: dict[str, Decimal] = {}
        for r in steps:
            cost[r["price_model"]] = cost.get(r["price_model"], Decimal(0)) + stats.money_of(r["cost"])
        current = max(cost, key=lambda m: cost[m])
        if current == target:
            return f"no evidence tier: {wf}/{name_step} already runs on {target}"
        scored: dict[tuple[str, str], tuple[stats.Sample, bool]] = {}
        for r in stats.frame(con, "analyze/downgrade_scores", lo_t, hi_t).iter_rows(named=True):
            if r["workflow"] == wf and r["step"] == name_step:
                mean = float(r["mean"])
                if lower_is_better(r["score_name"], cfg["lower_is_better"]):
                    mean = 1.0 - mean
                scored[(r["price_model"], r["score_name"])] = (stats.Sample(int(r["n"]), mean, float(r["var"])), bool(r["binary"]))
        names = [n for (m, n) in scored if m == current]
        name = cfg["score_name"] or (max(names, key=lambda n: scored[(current, n)][0].n) if names else None)
        if name is None or (current, name) not in scored or (target, name) not in scored:
            what = f"{name} scores" if name else "quality scores"
            return (f"tier 0 (potential, needs validation): no {what} for {target} on {wf}/{name_step}; "
                    "shadow-evaluate it before switching (costlab analyze downgrade plans the sample)")  # fmt: skip
        (s_cur, b1), (s_new, b2) = scored[(current, name)], scored[(target, name)]
        test = stats.noninferior_samples(s_cur, s_new, b1 and b2, cfg["margin"], cfg["alpha"], cfg["power"])
        if test.passed:
            return (f"tier 1 (validated): {target} scored no worse than {current} on {name} "
                    f"(n = {test.n_current} and {test.n_candidate}, margin {cfg['margin']})")  # fmt: skip
        return f"tier 1, not shown as good: {target} against {current} on {name} ({test.reason}); no saving claimed"
    finally:
        start.ws.release()


def whatif(lake: Workspace | Lake, since: Any = None, until: Any = None, **change: Any) -> WhatIf:
    """`costlab.money.whatif.whatif` with, for a change of model, the evidence tier this
    analyzer would give it (`evidence_tier`) in ``WhatIf.evidence``."""
    from costlab.money.whatif import whatif as reprice
    from costlab.workspace import workspace

    ws = workspace(lake, since=since, until=until)
    result = reprice(ws, **change)
    if change.get("model"):
        result.evidence = evidence_tier(ws, change.get("step"), change["model"])
    return result
