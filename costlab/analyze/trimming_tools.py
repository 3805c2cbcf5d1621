"""Oversized tool schemas: the trimming analyzer's tool-definition detector (one finding per step).

Why: tool definitions are resent with every call, ahead of the system prompt, and agent frameworks
often declare many tools a step never calls. Ingest summarises each llm call's tools as counts,
tiktoken tokens, a block hash and per-tool name hashes (``attributes."costlab.tools"``,
costlab/ingest/tool_schemas.py);
queries/analyze/trimming_tools.sql prices the block's prompt positions after caching.

* **Never-called tools.** A tool declared in >= ``min_calls`` calls of a step that no observed call
  called (no tool call in a response that is in the trace, no tool span of that name in the same
  traces). Saving = its tokens in every call that declares it, priced at the block's effective
  price (cache-read where the log shows the block read from cache): high as observed, low as if the
  whole block were read from cache. Observed in >= ``tools_validate_calls`` (300) calls, the
  95% upper bound of its call rate is 3/n <= 1% (rule of three): ``validated``, confidence
  medium (dropping a tool the model never picks still edits the prompt: re-run evals). Observed
  in fewer calls: potential, confidence low.
* **Oversized block.** Otherwise, a step whose calls send >= ``tools_min_tokens`` (1,500) tokens of
  tool schemas on average: potential, ``trim_low``..``trim_high`` (25%..60%) of the tokens above
  ``tools_target_tokens`` (1,000) at the effective price; confidence low.

Token counts are costlab's tiktoken count of minified JSON: an estimate (OpenAI renders function
schemas in its own format; Anthropic adds a tool-use system prompt; Gemini's tokenizer is not
public).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from costlab.analyze import stats
from costlab.analyze.base import Finding, Savings, money
from costlab.ingest.tool_schemas import name_id

DEFAULTS: dict[str, Any] = {
    "tools_min_tokens": 1500,
    "tools_target_tokens": 1000,
    "tools_min_unused_tokens": 100,
    "tools_validate_calls": 300,
}


def _list(text: Any) -> list[Any]:
    if not text:
        return []
    try:
        got = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return []
    return got if isinstance(got, list) else []


def _obj(text: Any) -> dict[str, Any]:
    try:
        got = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return got if isinstance(got, dict) else {}


class _Step:
    """One (workflow, step): its tool blocks (rows of analyze/trimming_tools) summed up."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        d = stats.money_of
        self.rows = rows
        self.calls = sum(int(r["calls"]) for r in rows)
        self.observed = sum(int(r["observed_calls"]) for r in rows)
        self.raw = sum(int(r["raw_tokens"] or 0) for r in rows)
        self.tokens = sum(int(r["tokens"] or 0) for r in rows)
        self.cached = sum(int(r["cached_tokens"] or 0) for r in rows)
        self.input = sum(int(r["input_tokens"] or 0) for r in rows)
        for r in rows:  # the block's own summary: per-tool ids, tokens, names
            b = _obj(r["block"])
            r.update(n_tools=b.get("count"), ids=b.get("ids"), tool_tokens=b.get("tool_tokens"),
                     names=b.get("names"))  # fmt: skip
        self.count = sum(int(r["n_tools"] or 0) * int(r["calls"]) for r in rows)
        self.cost = sum((d(r["block_cost"]) for r in rows), Decimal(0))
        used = {i for r in rows for lst in (r["called_lists"] or []) for i in _list(lst)}
        self.used = used | {name_id(str(t)) for t in rows[0]["trace_tools"] or []}
        self.declared: dict[str, int] = {}  # tool id -> calls declaring it
        self.names: dict[str, str] = {}
        for r in rows:
            for i, tid in enumerate(_list(r["ids"])):
                self.declared[tid] = self.declared.get(tid, 0) + int(r["calls"])
                names = _list(r["names"])
                if i < len(names) and names[i]:
                    self.names[tid] = str(names[i])

    def unused(self, min_calls: int) -> list[str]:
        return [t for t, n in self.declared.items() if t not in self.used and n >= min_calls]

    def unused_money(self, ids: set[str]) -> tuple[int, Decimal, Decimal]:
        """(tokens, cost at the effective price, cost fully cache-read) of tools ``ids`` over the
        calls that declare them: each block's cost x the share of its tokens those tools are."""
        d = stats.money_of
        tokens, hi, lo = 0, Decimal(0), Decimal(0)
        for r in self.rows:
            each = _list(r["tool_tokens"])
            drop = sum(int(n) for tid, n in zip(_list(r["ids"]), each, strict=False) if tid in ids)
            per_call = Decimal(int(r["raw_tokens"] or 0)) / Decimal(int(r["calls"]))
            if not drop or per_call <= 0:
                continue
            share = min(Decimal(drop) / per_call, Decimal(1))
            tokens += drop * int(r["calls"])
            hi += d(r["block_cost"]) * share
            lo += d(r["block_read_cost"]) * share
        return tokens, hi, lo


def finding(rows: list[dict[str, Any]], cfg: dict[str, Any], step_cost: Decimal, step_calls: int,
            to_m: Decimal, win: stats.Window) -> Finding | None:  # fmt: skip
    """The tool-schema finding of one step (module doc), or None."""
    s = _Step(rows)
    if s.calls < cfg["min_calls"] or s.tokens <= 0:
        return None
    wf, step = rows[0]["workflow"], rows[0]["step"]
    avg = s.raw / s.calls
    never = s.unused(int(cfg["min_calls"])) if s.observed >= cfg["min_calls"] else []
    n_tok, hi, lo = s.unused_money(set(never))
    unused_ok = bool(never) and n_tok / s.calls >= cfg["tools_min_unused_tokens"] and hi > 0
    if not unused_ok and avg < cfg["tools_min_tokens"]:
        return None
    ev: dict[str, Any] = {
        "tools_declared": len(s.declared),
        "tools_per_call": round(s.count / s.calls, 2),
        "tool_tokens_per_call": round(avg),
        "calls": step_calls,
        "calls_with_tools": s.calls,
        "distinct_tool_blocks": len(rows),
        "share_of_input": round(s.tokens / s.input, 4) if s.input else None,
        "cached_share_of_tool_tokens": round(s.cached / s.tokens, 4),
        "observed_calls": s.observed,
        "tools_used": len(s.used & set(s.declared)),
        "token_count": "tiktoken on the minified JSON of the definitions (an estimate: providers "
        "render tool schemas their own way)",
        "pricing": "tool tokens at the effective price of their prompt positions (tools come "
        "first: cache-read price where the log shows the block read from cache)",
        **win.evidence(),
    }
    base = step_cost * to_m
    if unused_ok:
        validated = s.observed >= cfg["tools_validate_calls"]
        labels = sorted(s.names.get(t, t) for t in never)
        ev |= {
            "tools_never_called": len(never),
            "never_called_tools": labels,
            "never_called_tools_named": all(t in s.names for t in never),
            "never_called_tokens_per_call": round(n_tok / s.calls),
            "call_rate_upper_bound_95": round(3 / s.observed, 4),
            "validate_after_observed_calls": cfg["tools_validate_calls"],
        }
        title = (f"{len(never)} of {len(s.declared)} declared tools never called in "
                 f"{s.observed:,} observed {step} calls (~{round(n_tok / s.calls):,} tokens a call)")  # fmt: skip
        action = (f"drop the never-called tools from {wf}/{step} (or load tools per step/on demand), "
                  "re-run your evals, keep the remaining block byte-stable so it stays cached")  # fmt: skip
        return _make(wf, step, title, action, ev, base, lo, hi, to_m, validated)
    excess = max(avg - cfg["tools_target_tokens"], 0.0) / avg
    cost = s.cost * Decimal(str(excess))
    ev |= {"target_tokens": cfg["tools_target_tokens"],
           "trim_of_excess": [cfg["trim_low"], cfg["trim_high"]]}  # fmt: skip
    title = f"tool schemas of ~{round(avg):,} tokens sent with every {step} call ({len(s.declared)} tools)"
    action = (f"shorten tool descriptions and schemas of {wf}/{step} or load tools on demand; "
              "log the model's tool calls so never-called tools can be found")  # fmt: skip
    lo_w, hi_w = cost * Decimal(str(cfg["trim_low"])), cost * Decimal(str(cfg["trim_high"]))
    return _make(wf, step, title, action, ev, base, lo_w, hi_w, to_m, False) if hi_w > 0 else None


def _make(wf: str, step: str, title: str, action: str, ev: dict[str, Any], base: Decimal,
          lo_w: Decimal, hi_w: Decimal, to_m: Decimal, validated: bool) -> Finding:  # fmt: skip
    """Window amounts in, scaled to a month; validated savings count in totals, potential ones
    never do."""
    lo, hi = lo_w * to_m, hi_w * to_m
    band = Savings(money(lo), money(hi))
    ev["saving_window_usd"] = {"low": money(lo_w), "high": money(hi_w)}
    return Finding(
        "trimming", wf, step, title=title, action=action, evidence=ev,
        monthly_savings_usd=band if validated else Savings(Decimal("0.00"), Decimal("0.00")),
        confidence="medium" if validated else "low", validated=validated,
        base_monthly_cost_usd=money(base),
        fraction_low=float(lo / base) if base else 0.0,
        fraction_high=float(hi / base) if base else 0.0,
        potential_savings_usd=None if validated else band,
    )  # fmt: skip
