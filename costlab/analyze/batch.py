"""Batch analyzer: workflows whose calls nobody waits for, priced at the provider's batch rate.

Looks at (per workflow, over priced USD calls; queries/analyze/batch_workflows.sql):
* interactive share: calls carrying a ``session_id`` or ``user_id``. Above ``max_interactive_share``
  (default 5%) the workflow is treated as user-facing and never flagged;
* already batch: calls on a ``batch``/``flex`` service tier are not eligible again;
* off-hours share: calls outside 08:00-20:00 UTC;
* cron-like runs: >= 3 active days, >= 80% of calls within +-1 h of the busiest UTC hour, on >= 80%
  of the active days;
* steady volume: coefficient of variation of calls per active day <= 0.5 (supporting only);
* the workflow name (eval, backfill, batch, nightly, report, classify, ...; supporting only).

Eligible = not interactive and (cron-like or off-hours share >= 50% or a batch-like name).
Confidence: high = cron-like and off hours; medium = cron-like, or off hours plus a supporting
signal; low = a single signal. High/medium findings are ``validated`` (same model, same tokens:
the discount is a price-list fact; the inferred latency tolerance is the evidence), low ones are
reported as potential savings only.

Savings: each token part of the eligible calls times (1 - batch/standard unit-price ratio) of
the model's latest genai-prices batch tier, so cache reads that stay full price in batch (OpenAI
before GPT-5, Vertex) save nothing; without a batch tier the provider rule in batch_rules.toml
(50%; e.g. Claude on Amazon Bedrock, which genai-prices 0.2.3 prices for on-demand only). high = all eligible cost; low = only calls in the batch-like pattern (off hours or near the
busiest hour). Savings over the observed window are scaled to 30 days.

Refuses to claim: anything for interactive workflows, calls already on batch/flex, unpriced or
non-USD calls, and models with neither a batch price nor a provider rule. It cannot see deadlines:
batch results can take up to 24 h.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from importlib import resources
from typing import Any

from costlab.analyze import stats
from costlab.analyze.base import AnalyzerResult, Finding, Start, analyzer, money, priced

DEFAULTS: dict[str, Any] = {
    "max_interactive_share": 0.05,
    "off_hours_share": 0.5,
    "cron_share": 0.8,
    "min_active_days": 3,
    "steady_cv": 0.5,
    "min_monthly_usd": 0.0,
}
NAME_HINT = re.compile(
    r"eval|backfill|batch|nightly|daily|weekly|cron|report|digest|classif|label|tag|extract|"
    r"enrich|index|embed|summar|sync|etl|ingest|migrat|offline|bulk",
    re.IGNORECASE,
)
PARTS = ("uncached", "read", "write_5m", "write_1h", "output", "reasoning")
_GRID_COL = {
    "uncached": "p_uncached",
    "read": "p_cache_read",
    "write_5m": "p_cache_write_5m",
    "write_1h": "p_cache_write_1h",
    "output": "p_output",
    "reasoning": "p_reasoning",
}


def rules() -> list[dict[str, Any]]:
    """Fallback batch discounts (batch_rules.toml)."""
    text = resources.files("costlab.analyze").joinpath("batch_rules.toml").read_text("utf-8")
    return list(tomllib.loads(text)["rule"])


def rule_for(table: list[dict[str, Any]], provider: str | None, price_provider: str | None,
             price_model: str | None) -> dict[str, Any] | None:  # fmt: skip
    """The fallback rule for a call: its own provider (``aws.bedrock``) before its price provider
    (``aws``), then the longest matching ``model_glob``."""
    import fnmatch

    model = (price_model or "").lower()
    for prov in (provider, price_provider):
        if not prov:
            continue
        hits = [
            r for r in table
            if r["provider"] == prov.lower() and fnmatch.fnmatchcase(model, r.get("model_glob", "*"))
        ]  # fmt: skip
        if hits:
            return max(hits, key=lambda r: len(r.get("model_glob", "*")))
    return None


def _ratios(con: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Per price model, batch/standard unit-price ratio per part from the latest cells."""
    if not keys:
        return {}
    rows = con.execute(
        """
        SELECT price_provider, price_model, price_tier, p_uncached, p_cache_read,
               p_cache_write_5m, p_cache_write_1h, p_output, p_reasoning
        FROM price_grid
        WHERE price_tier IN ('batch', 'standard') AND valid_to IS NULL
          AND input_tokens_above IS NULL AND time_of_day_from IS NULL
        """
    ).fetchall()
    cells: dict[tuple[str, str, str], tuple[Any, ...]] = {(r[0], r[1], r[2]): r[3:] for r in rows}
    out: dict[tuple[str, str], dict[str, Decimal]] = {}
    for key in keys:
        b, s = cells.get((*key, "batch")), cells.get((*key, "standard"))
        if b is None or s is None:
            continue
        out[key] = {
            part: (Decimal(bp) / Decimal(sp) if sp else Decimal(1))
            for part, bp, sp in zip(PARTS, b, s, strict=True)
        }
    return out


_HOW = {
    "openai": "OpenAI's Batch API (or service_tier=\"flex\" if it must stay synchronous)",
    "azure": "Azure OpenAI's Global Batch deployments",
    "anthropic": "Anthropic's Message Batches API",
    "aws.bedrock": "Amazon Bedrock batch inference (CreateModelInvocationJob, JSONL in S3)",
    "google": "the Gemini Batch API",
    "google.vertex": "Vertex AI batch prediction",
}


def _action(providers: set[str]) -> str:
    how = "; ".join(_HOW.get(p, f"{p}'s batch API") for p in sorted(providers))
    return f"send these calls through {how}; results can take up to 24 h"


def _classify(sig: dict[str, Any], cfg: dict[str, Any]) -> tuple[bool, str, list[str], dict[str, Any]]:
    calls = int(sig["calls"])
    interactive = int(sig["interactive_calls"]) / calls
    off = int(sig["off_hours_calls"]) / calls
    near = int(sig["near_top_calls"]) / calls
    days = int(sig["active_days"])
    day_share = int(sig["days_near_top"]) / days if days else 0.0
    mean = float(sig["mean_daily"] or 0)
    cv = float(sig["sd_daily"] or 0) / mean if mean else 0.0
    cron = days >= cfg["min_active_days"] and near >= cfg["cron_share"] and day_share >= cfg["cron_share"]
    offh = off >= cfg["off_hours_share"]
    steady = days >= cfg["min_active_days"] and cv <= cfg["steady_cv"]
    named = bool(NAME_HINT.search(str(sig["workflow"])))
    signals = [
        *(["cron-like: same UTC hour daily"] if cron else []),
        *(["off hours"] if offh else []),
        *(["steady daily volume"] if steady else []),
        *(["batch-like name"] if named else []),
    ]
    evidence = {
        "calls": calls,
        "interactive_share": round(interactive, 4),
        "already_batch_share": round(int(sig["batch_calls"]) / calls, 4),
        "off_hours_share_utc_20_08": round(off, 4),
        "busiest_utc_hour": int(sig["top_hour"]),
        "share_within_1h_of_busiest_hour": round(near, 4),
        "active_days": days,
        "share_of_days_at_busiest_hour": round(day_share, 4),
        "daily_calls_cv": round(cv, 4),
        "signals": signals,
    }
    eligible = interactive <= cfg["max_interactive_share"] and (cron or offh or named)
    if cron and offh:
        conf = "high"
    elif cron or (offh and (steady or named)):
        conf = "medium"
    else:
        conf = "low"
    return eligible, conf, signals, evidence


@analyzer("batch", DEFAULTS)
def analyze(start: Start) -> AnalyzerResult:
    """Batch-eligible workflows and the provider batch discount on them (module docstring)."""
    ws, cfg, lo_t, hi_t, con = start
    sig = stats.frame(con, "analyze/batch_workflows", lo_t, hi_t)
    costs = stats.frame(con, "analyze/batch_costs", lo_t, hi_t)
    keys = sorted({(r["price_provider"], r["price_model"]) for r in costs.iter_rows(named=True)})
    ratios = _ratios(con, keys)
    result = AnalyzerResult("batch")
    win = stats.observed(sig, lo_t, hi_t)
    if win is None:
        result.summary = {"workflows": 0, "eligible_workflows": 0}
        return result
    fallback = rules()
    by_wf: dict[str, list[dict[str, Any]]] = {}
    for r in costs.iter_rows(named=True):
        by_wf.setdefault(r["workflow"], []).append(r)
    eligible_wf: list[str] = []
    total_saving = Decimal(0)
    for s in sig.iter_rows(named=True):
        ok, conf, signals, ev = _classify(s, cfg)
        if not ok:
            continue
        steps: dict[str, dict[str, Any]] = {}
        for r in by_wf.get(s["workflow"], []):
            st = steps.setdefault(r["step"], {"cost": Decimal(0), "save": Decimal(0),
                                              "pattern_save": Decimal(0), "models": set(),
                                              "basis": set(), "eligible": Decimal(0),
                                              "providers": set()})  # fmt: skip
            st["cost"] += stats.money_of(r["cost"])
            elig = stats.money_of(r["eligible_cost"])
            if elig <= 0:
                continue
            key = (r["price_provider"], r["price_model"])
            if key in ratios:
                save = sum(
                    (stats.money_of(r[f"c_{p}"]) * (1 - ratios[key][p]) for p in PARTS),
                    Decimal(0),
                )
                st["basis"].add("genai-prices batch tier")
            elif rule := rule_for(fallback, r["provider"], r["price_provider"], r["price_model"]):
                d = Decimal(str(rule["discount"]))
                base = elig if rule["discount_cache_reads"] else elig - stats.money_of(r["c_read"])
                save = base * d
                st["basis"].add(f"rule: {rule['source']}")
            else:
                continue
            st["save"] += save
            st["eligible"] += elig
            st["pattern_save"] += save * stats.money_of(r["pattern_cost"]) / elig
            st["models"].add(r["price_model"])
            st["providers"].add(r["provider"] or r["price_provider"])
        findings = []
        for step, st in sorted(steps.items()):
            if st["save"] <= 0:
                continue
            to_m = win.to_month
            base, high, low = st["cost"] * to_m, st["save"] * to_m, st["pattern_save"] * to_m
            if high < Decimal(str(cfg["min_monthly_usd"])):
                continue
            validated = conf in ("high", "medium")
            findings.append(
                Finding(
                    analyzer="batch",
                    workflow=s["workflow"],
                    step=step,
                    title=(
                        f"workflow {s['workflow']} looks latency-insensitive "
                        f"({'; '.join(signals)}) but runs at interactive prices"
                    ),
                    action=_action(st["providers"]),
                    evidence={
                        **ev,
                        **win.evidence(),
                        "models": sorted(st["models"]),
                        "discount_basis": sorted(st["basis"]),
                        "eligible_cost_window_usd": money(st["eligible"]),
                        "saving_window_usd": money(st["save"]),
                        "effective_discount": round(float(st["save"] / st["eligible"]), 4),
                    },
                    confidence=conf,
                    **priced(low, high, base, validated),
                )
            )
            if validated:
                total_saving += high
        if findings:
            eligible_wf.append(s["workflow"])
            result.findings.extend(findings)
    stats.add_latency(con, result.findings, lo_t, hi_t)
    result.summary = {
        "workflows": sig.height,
        "eligible_workflows": len(eligible_wf),
        "eligible": eligible_wf,
        **win.evidence(),
        "validated_monthly_savings_high_usd": money(total_saving),
    }
    return result
