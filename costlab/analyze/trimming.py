"""Prompt-trimming analyzer: tokens sent on every call that probably need not be.

Looks at (per workflow step, priced USD calls; token counts and hashes, text only if kept):
* **Oversized template / system prompt** (queries/analyze/trimming_prefix.sql): the first message
  when it is the same in >= ``min_share`` (90%) of the step's calls (same chained prefix hash of
  its last full block) and its median size is >= ``min_tokens`` (4,000). With kept text the role
  tells whether it is a system prompt; without, it is reported as a repeated leading message.
* **History growth** (queries/analyze/trimming_history.sql): sessions whose input grows turn after
  turn (full-history replay); tokens beyond the last ``keep_turns`` (6) turns.
* **Few-shot examples** (kept text only): identical user/assistant pairs between the system prompt
  and the final user message in >= 90% of sampled calls.
* **Tool schemas** (queries/analyze/trimming_tools.sql, costlab/analyze/trimming_tools.py; from
  the ``costlab.tools`` counts, tokens and hashes ingest stores with or without text): tools
  declared in a step's calls but never called (validated once their use is observed in >= 300
  calls), else a tool block of >= 1,500 tokens a call on average.

Savings: trimmed tokens x the *effective* price of their positions in the prompt: the part of the
prefix that was read from cache is priced at the cache-read price, cache writes at the write
price, the rest uncached (a cached token trimmed saves ~10%, docs/analyzers.md).
Template: excess = tokens above ``target_tokens`` (2,000); low trims ``trim_low`` (25%) of the
excess, high ``trim_high`` (60%). History: low/high = 25%/60% of the old-turn tokens (a summary
replaces the rest). Few-shot: low 50%, high 100% of the example tokens (an ablation decides).
Window savings are scaled to 30 days.

Validation rule: every one of these is a *content edit* that can change answers, so each is
``validated=False`` (except never-called tools observed often enough: trimming_tools.py) with the
band in ``potential_savings_usd`` and zero validated savings until the user's evals pass on the
trimmed prompt (confidence medium when the repeated block is
unambiguous, else low). Refuses to claim: ``max_tokens`` slack (billing counts generated tokens,
not the cap), compression ratios from papers (LLMLingua etc. need a model), and anything for
calls without per-message token counts. Trimming or truncating a cached prefix also breaks the
cache once: the action says to keep the remaining prefix byte-stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from costlab.analyze import stats, trimming_tools
from costlab.analyze.base import AnalyzerResult, Finding, Savings, Start, analyzer, money

DEFAULTS: dict[str, Any] = {
    "min_tokens": 4000,
    "target_tokens": 2000,
    "min_share": 0.9,
    "min_calls": 10,
    "trim_low": 0.25,
    "trim_high": 0.6,
    "keep_turns": 6,
    "fewshot_low": 0.5,
    "fewshot_high": 1.0,
    "sample": 200,
    **trimming_tools.DEFAULTS,
}
_MARKERS = re.compile(r"(?im)^\s*(example|input|output|q|a)\s*\d*\s*:|<example>")
_ZERO = Savings(Decimal("0.00"), Decimal("0.00"))


def _dec(x: Any) -> Decimal:
    return stats.money_of(x)


def _finding(wf: str, step: str, title: str, action: str, ev: dict[str, Any], window_cost: Decimal,
             lo: Decimal, hi: Decimal, to_m: Decimal, confidence: str) -> Finding:  # fmt: skip
    base = window_cost * to_m
    lo, hi = lo * to_m, hi * to_m
    return Finding(
        "trimming", wf, step, title=title, action=action,
        evidence={**ev, "saving_window_usd": {"low": money(lo / to_m), "high": money(hi / to_m)}},
        monthly_savings_usd=_ZERO, confidence=confidence, validated=False,
        base_monthly_cost_usd=money(base),
        fraction_low=float(lo / base) if base else 0.0,
        fraction_high=float(hi / base) if base else 0.0,
        potential_savings_usd=Savings(money(lo), money(hi)),
    )  # fmt: skip


def _template(r: dict[str, Any], cfg: dict[str, Any], to_m: Decimal, win: stats.Window) -> Finding | None:
    featured, tpl = int(r["featured_calls"]), int(r["tpl_calls"])
    size = float(r["tpl_tokens"] or 0)
    if featured < cfg["min_calls"] or tpl < cfg["min_share"] * featured or size < cfg["min_tokens"]:
        return None
    excess = _dec(r["excess_cost"])
    if excess <= 0:
        return None
    share = tpl / featured
    system = int(r["system_calls"] or 0) > 0
    cached = float(_dec(r["tpl_cached_tokens"]) / _dec(r["tpl_total_tokens"])) if r["tpl_total_tokens"] else 0.0
    what = "system prompt" if system else "leading message (template prompt)"
    ev = {
        "template_tokens_median": round(size),
        "calls": int(r["calls"]),
        "calls_with_template": tpl,
        "template_share": round(share, 4),
        "role_known": int(r["text_calls"] or 0) > 0,
        "cached_share_of_template_tokens": round(cached, 4),
        "target_tokens": cfg["target_tokens"],
        "trim_of_excess": [cfg["trim_low"], cfg["trim_high"]],
        "pricing": "excess tokens at the effective price of their prompt positions "
        "(cache-read price where the log shows them read from cache)",
        **win.evidence(),
    }
    return _finding(
        r["workflow"], r["step"],
        f"{what} of ~{round(size):,} tokens sent with {share:.0%} of {r['step']} calls",
        f"cut the {what} of {r['workflow']}/{r['step']} towards ~{cfg['target_tokens']:,} tokens "
        "(drop unused instructions, examples, schemas), re-run your evals, keep the rest "
        "byte-stable so it stays cached",
        ev, _dec(r["cost"]), excess * _d(cfg["trim_low"]), excess * _d(cfg["trim_high"]), to_m,
        "medium" if share >= 0.99 else "low",
    )  # fmt: skip


def _history(r: dict[str, Any], cfg: dict[str, Any], to_m: Decimal, cost: Decimal,
             win: stats.Window) -> Finding | None:  # fmt: skip
    calls = int(r["growing_calls"] or 0)
    old = int(r["old_tokens"] or 0)
    if calls < cfg["min_calls"] or old <= 0:
        return None
    old_cost = _dec(r["old_cost"])
    share = int(r["growing_sessions"]) / int(r["sessions"])
    ev = {
        "sessions": int(r["sessions"]),
        "growing_sessions": int(r["growing_sessions"]),
        "longest_session_turns": int(r["max_turns"]),
        "keep_turns": cfg["keep_turns"],
        "tokens_beyond_last_turns": old,
        "share_of_input_in_growing_sessions": round(old / int(r["input_tokens"]), 4),
        "trim_of_old_turns": [cfg["trim_low"], cfg["trim_high"]],
        "warning": "truncating history changes the prompt prefix and breaks prompt caching; "
        "truncate rarely (e.g. summarise every N turns) rather than on every turn",
        **win.evidence(),
    }
    return _finding(
        r["workflow"], r["step"],
        f"conversation history resent in full: {old:,} tokens older than the last "
        f"{cfg['keep_turns']} turns in {r['growing_sessions']} sessions",
        f"summarise or drop turns older than the last {cfg['keep_turns']} in "
        f"{r['workflow']}/{r['step']}, then check answer quality",
        ev, cost, old_cost * _d(cfg["trim_low"]), old_cost * _d(cfg["trim_high"]), to_m,
        "medium" if share >= 0.5 else "low",
    )  # fmt: skip


def _d(x: float) -> Decimal:
    return Decimal(str(x))


def _fewshot(con: Any, r: dict[str, Any], cfg: dict[str, Any], to_m: Decimal,
             win: stats.Window, lo_t: Any, hi_t: Any) -> Finding | None:  # fmt: skip
    """Identical example pairs between the system prompt and the last user message (text kept)."""
    rows = con.execute(
        "SELECT p.prompt_text, p.message_tokens, c.read_tokens, c.p_uncached, c.p_cache_read "
        "FROM analyze_calls AS c JOIN analyze_prompts AS p "
        "USING (trace_id, span_id, source_line) "
        "WHERE coalesce(c.workflow, '(none)') = ? AND coalesce(c.step, '(none)') = ? "
        "AND p.prompt_text IS NOT NULL "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR start_time >= CAST(? AS TIMESTAMPTZ)) "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR start_time < CAST(? AS TIMESTAMPTZ)) LIMIT ?",
        [r["workflow"], r["step"], lo_t, lo_t, hi_t, hi_t, int(cfg["sample"])],
    ).fetchall()
    if len(rows) < cfg["min_calls"]:
        return None
    keys: dict[str, int] = {}
    per: list[tuple[str, int, Decimal]] = []
    markers = 0
    for text, mtok, read, p_u, p_r in rows:
        try:
            msgs = json.loads(text)
        except ValueError:
            continue
        if not isinstance(msgs, list) or not msgs:
            continue
        first = 1 if msgs[0].get("role") in ("system", "developer") else 0
        markers += len(_MARKERS.findall(str(msgs[0].get("content")))) if first else 0
        last_user = max((i for i, m in enumerate(msgs) if m.get("role") == "user"), default=-1)
        block = msgs[first:last_user]
        if len(block) < 2 or not any(m.get("role") == "assistant" for m in block):
            continue
        key = hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()
        n = int(sum(mtok[first:last_user]))
        start = int(sum(mtok[:first]))
        cached = min(max(int(read or 0) - start, 0), n)
        per.append((key, n, Decimal(cached) * p_r + Decimal(n - cached) * p_u))
        keys[key] = keys.get(key, 0) + 1
    if not keys:
        return None
    top, hits = max(keys.items(), key=lambda kv: kv[1])
    if hits < cfg["min_share"] * len(rows):
        return None
    same = [p for p in per if p[0] == top]
    tokens_each = round(sum(p[1] for p in same) / len(same))
    sample_cost = sum((p[2] for p in same), Decimal(0))
    scale = Decimal(int(r["calls"])) / Decimal(len(rows))  # sampled calls stand for the step
    ev = {
        "example_messages_tokens": tokens_each,
        "sampled_calls": len(rows),
        "sampled_calls_with_examples": hits,
        "example_markers_in_system_prompt": markers,
        "removal_band": [cfg["fewshot_low"], cfg["fewshot_high"]],
        **win.evidence(),
    }
    return _finding(
        r["workflow"], r["step"],
        f"the same few-shot examples (~{tokens_each:,} tokens) are sent with every {r['step']} call",
        f"ablate the examples of {r['workflow']}/{r['step']} (evaluate with and without); "
        "drop the ones that do not change scores",
        ev, _dec(r["cost"]), sample_cost * scale * _d(cfg["fewshot_low"]),
        sample_cost * scale * _d(cfg["fewshot_high"]), to_m, "low",
    )  # fmt: skip


@analyzer("trimming", DEFAULTS)
def analyze(start: Start) -> AnalyzerResult:
    """Oversized repeated prompts, history replay and few-shot blocks (module docstring)."""
    ws, cfg, lo_t, hi_t, con = start
    result = AnalyzerResult("trimming")
    stats.prompts(con)
    pre = stats.frame(con, "analyze/trimming_prefix", lo_t, hi_t,
                      target_tokens=int(cfg["target_tokens"]))  # fmt: skip
    hist = stats.frame(con, "analyze/trimming_history", lo_t, hi_t,
                       keep_turns=int(cfg["keep_turns"]))  # fmt: skip
    tools = stats.frame(con, "analyze/trimming_tools", lo_t, hi_t)
    win = stats.observed(pre, lo_t, hi_t)
    if win is None:
        result.summary = {"steps": 0}
        return result
    to_m = win.to_month
    costs = {(r["workflow"], r["step"]): _dec(r["cost"]) for r in pre.iter_rows(named=True)}
    for r in pre.iter_rows(named=True):
        f = _template(r, cfg, to_m, win)
        if f:
            result.findings.append(f)
        if int(r["text_calls"] or 0) > 0:
            g = _fewshot(con, r, cfg, to_m, win, lo_t, hi_t)
            if g:
                result.findings.append(g)
    for r in hist.iter_rows(named=True):
        h = _history(r, cfg, to_m, costs.get((r["workflow"], r["step"]), Decimal(0)), win)
        if h:
            result.findings.append(h)
    blocks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in tools.iter_rows(named=True):
        blocks.setdefault((r["workflow"], r["step"]), []).append(r)
    step_calls = {(r["workflow"], r["step"]): int(r["calls"]) for r in pre.iter_rows(named=True)}
    for key, rows in blocks.items():
        t = trimming_tools.finding(rows, cfg, costs.get(key, Decimal(0)), step_calls.get(key, 0),
                                   to_m, win)  # fmt: skip
        if t:
            result.findings.append(t)
    featured = int(pre["featured_calls"].sum())
    calls = int(pre["calls"].sum())
    result.summary = {
        "steps": pre.height,
        "calls": calls,
        "calls_with_message_tokens": featured,
        "calls_with_tool_definitions": int(tools["calls"].sum()) if tools.height else 0,
        "findings": len(result.findings),
        "note": "trimming savings are potential until evals pass on the trimmed prompt; "
        "max_tokens slack is not a saving (billing counts generated tokens)",
        **win.evidence(),
    }
    return result
