"""Waste analyzer: money already spent on calls that failed, retried, looped or served a failed run.

Rules (per call of the period; queries/analyze/waste_runs.sql, docs/analyzers.md):
* error: the call's status is not OK (sources normalise to ok / unset / error; see docs/schema.md);
* retry: the same workflow, step and request (``prompt_hash``, else provider + model + input
  tokens) again within ``retry_window_seconds`` (120) of the end of a call that failed;
* loop: a step run more than ``loop_threshold`` (5) times in one run (trace) with its input growing
  on every call; the calls after the first are the waste. A fan-out over different items (a nightly
  batch of 20 summaries) does not grow and is not a loop. A tool span repeated past the threshold is
  a tool loop; its money is the run's LLM calls from the tool's second use to its last;
* failed run: the run's root span, or its last call, failed: all the run's call cost.

A trace of a session source (`Source.sessions`: Claude Code and Codex transcripts) is the whole
conversation a person drives, not a run: every turn resends the history and tools run hundreds of
times by design. Read as runs, the benchmarks' generated Claude Code month had 63,174 of its 65,363
calls flagged as loops or tool loops. So loops, tool loops and failed runs skip those calls (the
summary's ``session_calls`` counts them); errors and retries still apply.

Each finding is one rule on one workflow step (failed runs: the whole workflow), with the runs
(up to ``max_runs_listed`` trace ids, costliest first) and counts. Money is the measured cost of the
flagged calls (Decimal, USD calls only), scaled to 30 days as the other analyzers do; calls without
a USD cost are counted (``unpriced_calls``), never costed at 0.

Validated or potential (docs/analyzers.md): this is money already spent, so the question is only
whether stopping it keeps the rest working.
* errored calls: an errored call returned nothing usable, so not making it loses nothing:
  validated; confidence high when errors recur on ``min_active_days`` (3) days, else medium (a
  one-day outage scaled to a month is a guess about the next one).
* retries: potential, medium. A retry that succeeded bought the answer; capping retries saves only
  the attempts that would have failed again, which the log cannot tell apart.
* loops: validated (medium) only when every looping run also failed and the loop recurs on
  ``min_active_days`` days: then the repeats bought nothing, and not once. Otherwise potential, low.
  Tool loops are always potential (a tool used many times may be the job).
* failed runs: potential; medium when failures recur on ``min_active_days`` days, else low. A
  failed run may still need a rerun; fixing why it fails is what saves the money.
The findings overlap (a run that looped and failed is in both); validated ones combine on the
remaining cost (`base.combine`), and the summary's ``wasted_window_usd`` counts each call once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costlab.analyze import stats
from costlab.analyze.base import (
    AnalyzerResult,
    Finding,
    Start,
    analyzer,
    combine,
    money,
    priced,
)

DEFAULTS: dict[str, Any] = {
    "retry_window_seconds": 120.0,
    "loop_threshold": 5,
    "retry_cap": 2,
    "min_active_days": 3,
    "max_runs_listed": 10,
    "min_monthly_usd": 0.0,
}
RULES = ("error", "retry", "loop", "tool_loop", "failed_run")


def _title(rule: str, runs: int, calls: int, cfg: dict[str, Any]) -> str:
    """What is wrong, in one line (the finding names its workflow and step apart)."""
    return {
        "error": f"{calls} calls errored and were billed",
        "retry": f"{calls} retries of failed calls within {cfg['retry_window_seconds']:g} s",
        "loop": f"the step looped past {cfg['loop_threshold']} calls in {runs} runs",
        "tool_loop": f"the tool was called more than {cfg['loop_threshold']} times in {runs} runs",
        "failed_run": f"{runs} runs ended in failure; all their calls were paid for",
    }[rule]


def _action(rule: str, step: str, cfg: dict[str, Any]) -> str:
    return {
        "error": f"add a circuit breaker on {step} (stop calling after repeated errors) and fix the cause",
        "retry": (
            f"cap retries at {cfg['retry_cap']} with exponential backoff, and do not retry errors "
            "that will fail again (validation, 4xx)"
        ),
        "loop": (
            f"dedupe the loop: cap {step} at {cfg['loop_threshold']} turns a run and stop when the "
            "answer does not change; fix why it repeats"
        ),
        "tool_loop": f"dedupe the loop: cache {step}'s results within a run and cap it at {cfg['loop_threshold']} uses",
        "failed_run": "fail fast: check inputs before the expensive calls and stop a run at its first unrecoverable error",
    }[rule]


def _grade(rule: str, days: int, all_failed: bool, cfg: dict[str, Any]) -> tuple[bool, str]:
    """(validated, confidence) of a finding (module docstring)."""
    recurs = days >= int(cfg["min_active_days"])
    if rule == "error":
        return True, "high" if recurs else "medium"
    if rule == "retry":
        return False, "medium"
    if rule == "loop" and all_failed and recurs:
        return True, "medium"
    if rule == "failed_run":
        return False, "medium" if recurs else "low"
    return False, "low"


@analyzer("waste", DEFAULTS)
def analyze(start: Start) -> AnalyzerResult:
    """Findings for errored calls, retries, loops and failed runs (module docstring)."""
    from costlab.ingest.registry import session_formats

    _, cfg, lo_t, hi_t, con = start
    sessions = list(session_formats())
    scopes = stats.frame(con, "analyze/waste_scopes", lo_t, hi_t, session_formats=sessions)
    result = AnalyzerResult("waste")
    win = stats.observed(scopes, lo_t, hi_t)
    if win is None:
        result.summary = {"calls": 0, "wasted_window_usd": Decimal("0.00")}
        return result
    rows = stats.frame(
        con, "analyze/waste_runs", lo_t, hi_t,
        retry_window_seconds=float(cfg["retry_window_seconds"]), loop_threshold=int(cfg["loop_threshold"]),
        session_formats=sessions,
    )  # fmt: skip
    step_cost: dict[tuple[str, str], Decimal] = {}
    wf_cost: dict[str, Decimal] = {}
    for s in scopes.iter_rows(named=True):
        c = stats.money_of(s["cost"])
        step_cost[(s["workflow"], s["step"])] = c
        wf_cost[s["workflow"]] = wf_cost.get(s["workflow"], Decimal(0)) + c
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows.iter_rows(named=True):
        groups.setdefault((r["rule"], r["workflow"], r["step"]), []).append(r)
    failed_runs = {(r["workflow"], r["run"]) for r in rows.iter_rows(named=True) if r["rule"] == "failed_run"}
    to_m = win.to_month
    totals: dict[str, dict[str, Any]] = {}
    for (rule, wf, step), runs in sorted(groups.items(), key=lambda kv: (RULES + ("any",)).index(kv[0][0])):
        cost = sum((stats.money_of(r["cost"]) for r in runs), Decimal(0))
        calls = sum(int(r["calls"]) for r in runs)
        unpriced = sum(int(r["unpriced_calls"]) for r in runs)
        t = totals.setdefault(rule, {"calls": 0, "runs": 0, "cost": Decimal(0), "unpriced_calls": 0})
        t["calls"] += calls
        t["runs"] += len(runs)
        t["cost"] += cost
        t["unpriced_calls"] += unpriced
        if rule == "any":
            continue
        days = len({r["first_call"].date() for r in runs} | {r["last_call"].date() for r in runs})
        all_failed = all((wf, r["run"]) in failed_runs for r in runs)
        validated, conf = _grade(rule, days, all_failed, cfg)
        base_window = wf_cost.get(wf, Decimal(0)) if rule == "failed_run" else step_cost.get((wf, step), Decimal(0))
        base, saving = base_window * to_m, cost * to_m
        if saving < Decimal(str(cfg["min_monthly_usd"])) or (saving <= 0 and not unpriced):
            continue
        listed = sorted(runs, key=lambda r: (-stats.money_of(r["cost"]), r["run"]))[: int(cfg["max_runs_listed"])]
        evidence: dict[str, Any] = {
            "rule": rule,
            "runs": len(runs),
            "calls": calls,
            "priced_calls": sum(int(r["priced_calls"]) for r in runs),
            "unpriced_calls": unpriced,
            "cost_window_usd": cost,  # exact (DECIMAL(38,12) sums); the bands are in cents
            "scope_cost_window_usd": base_window,
            "active_days": days,
            "trace_ids": [r["run"] for r in listed],
            **win.evidence(),
        }
        if rule in ("loop", "tool_loop"):
            evidence["max_repeats_in_a_run"] = max(int(r["repeats"] or 0) for r in runs)
            evidence["loop_threshold"] = int(cfg["loop_threshold"])
            evidence["every_run_failed"] = all_failed
        if rule == "retry":
            evidence["retry_window_seconds"] = float(cfg["retry_window_seconds"])
        result.findings.append(
            Finding(
                analyzer="waste",
                workflow=wf,
                step=None if rule == "failed_run" else step,
                title=_title(rule, len(runs), calls, cfg)
                + (f" (+{unpriced} unpriced calls, not costed)" if unpriced else ""),
                action=_action(rule, step, cfg),
                evidence=evidence,
                confidence=conf,
                **priced(saving, saving, base, validated),
            )
        )
    anyt = totals.get("any", {"calls": 0, "runs": 0, "cost": Decimal(0), "unpriced_calls": 0})
    in_sessions = int(scopes["session_calls"].sum())
    result.summary = {
        "calls": int(scopes["calls"].sum()),
        "session_calls": in_sessions,
        "wasted_calls": anyt["calls"],
        "wasted_runs": anyt["runs"],
        "wasted_window_usd": anyt["cost"],
        "wasted_monthly_usd": money(anyt["cost"] * to_m),
        "wasted_unpriced_calls": anyt["unpriced_calls"],
        "by_rule": {
            rule: {**{k: v for k, v in totals[rule].items() if k != "cost"}, "cost_window_usd": totals[rule]["cost"]}
            for rule in RULES if rule in totals
        },  # fmt: skip
        **win.evidence(),
        "validated_monthly_savings_usd": combine(result.findings).high,
    }
    if in_sessions:
        result.summary["note"] = (
            f"{in_sessions} calls are in interactive sessions ({', '.join(sessions)}): a session is not a run "
            "(every turn resends the conversation, tools repeat by design), so loops, tool loops and failed "
            "runs are not looked for there; errors and retries are"
        )
    return result
