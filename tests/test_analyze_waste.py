"""Waste analyzer on constructed OTLP traces (written to tmp here) and on the demo's retry loop.

Every call is gpt-4o unless said: genai-prices $2.50 in / $10 out per MTok, so a call of I input
and O output tokens costs I x 2.5e-6 + O x 1e-5. All calls are on 2025-06-02: a one-day window,
scaled to 30 days by x 30.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import ingest
from costlab.analyze import waste
from costlab.analyze.base import Finding, combine
from costlab.ingest.claude_code import ClaudeCodeSession
from costlab.ingest.registry import session_formats
from costlab.lake import Lake

DAY = datetime(2025, 6, 2, tzinfo=UTC)
OK, ERROR = 1, 2


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": str(v)}}
        for k, v in d.items()
        if v is not None
    ]


def _ns(t: datetime) -> str:
    return str(int(t.timestamp() * 1_000_000) * 1000)


class Run:
    """One trace: a root ``invoke_workflow`` span and its chat calls (OTel GenAI semconv)."""

    count = 0

    def __init__(self, root_status: int = OK, workflow: str = "wf") -> None:
        Run.count += 1
        self.trace_id = f"{Run.count:032x}"
        self.root_status = root_status
        self.workflow = workflow
        self.spans: list[dict[str, Any]] = []

    def tool(self, at: datetime, name: str) -> Run:
        """An ``execute_tool`` span (span_kind tool, step = the tool's name)."""
        n = len(self.spans) + 2
        a = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.workflow.name": self.workflow}
        self.spans.append({
            "traceId": self.trace_id, "spanId": f"{n:016x}", "parentSpanId": f"{1:016x}",
            "name": f"execute_tool {name}", "kind": 1, "startTimeUnixNano": _ns(at),
            "endTimeUnixNano": _ns(at + timedelta(seconds=1)), "attributes": _attrs(a), "status": {"code": OK},
        })  # fmt: skip
        return self

    def call(self, at: datetime, step: str, inp: int, out: int, status: int = OK, prompt: str | None = None,
             model: str = "gpt-4o", provider: str = "openai", seconds: float = 0.5) -> Run:  # fmt: skip
        n = len(self.spans) + 2
        a = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.request.model": model, "gen_ai.response.model": model,
            "gen_ai.response.id": f"resp-{self.trace_id}-{n}",
            "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
            "gen_ai.workflow.name": self.workflow, "traceloop.entity.name": step,
            "gen_ai.input.messages": None if prompt is None else json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
        }  # fmt: skip
        self.spans.append({
            "traceId": self.trace_id, "spanId": f"{n:016x}", "parentSpanId": f"{1:016x}",
            "name": f"chat {model}", "kind": 3, "startTimeUnixNano": _ns(at),
            "endTimeUnixNano": _ns(at + timedelta(seconds=seconds)), "attributes": _attrs(a),
            "status": {"code": status},
        })  # fmt: skip
        return self

    def line(self) -> str:
        start = min(int(s["startTimeUnixNano"]) for s in self.spans)
        end = max(int(s["endTimeUnixNano"]) for s in self.spans)
        root = {
            "traceId": self.trace_id, "spanId": f"{1:016x}", "parentSpanId": "", "name": "invoke_workflow wf",
            "kind": 1, "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
            "attributes": _attrs({"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": self.workflow}),
            "status": {"code": self.root_status},
        }  # fmt: skip
        return json.dumps({"resourceSpans": [{
            "resource": {"attributes": _attrs({"service.name": "waste-test"})},
            "scopeSpans": [{"scope": {"name": "waste_test"}, "spans": [root, *self.spans]}],
        }]})  # fmt: skip


def at(h: int, m: int = 0, s: int = 0) -> datetime:
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def runs() -> list[Run]:
    return [
        # T1 ask: errored call ($0.006: 2,000 in / 100 out), retried 29.5 s after it ended with
        # the same prompt (prompt_hash): a retry ($0.006)
        Run().call(at(10), "ask", 2000, 100, ERROR, prompt="what is my balance?")
        .call(at(10, 0, 30), "ask", 2000, 100, prompt="what is my balance?"),
        # T2 lookup, no prompt (request shape: provider + model + 4,000 input tokens): errored
        # ($0.011), the same request again 10 minutes later: outside the 120 s window, no retry
        Run().call(at(11), "lookup", 4000, 100, ERROR).call(at(11, 10), "lookup", 4000, 100),
        # T3 agent: 6 calls (> 5), input 1,000 .. 1,500 growing: a loop. The 5 repeats cost
        # (1,100 + ... + 1,500) x 2.5e-6 + 5 x 100 x 1e-5 = 0.01625 + 0.005 = $0.02125
        _agent(Run(), at(12), 6),
        # T4 agent: 5 calls, not past the threshold ($0.015 + $0.005 = $0.02)
        _agent(Run(), at(13), 5),
        # T5: the root span failed: 2 plan calls of 3,000 / 200 ($0.0095 each, $0.019) and one
        # unpriced call (a model no price list has): counted, not costed
        Run(root_status=ERROR).call(at(14), "plan", 3000, 200, prompt="p1")
        .call(at(14, 1), "plan", 3000, 200, prompt="p2")
        .call(at(14, 2), "plan", 500, 50, model="acme-unknown-9", provider="acme", prompt="p3"),
        # T6: the run's last call failed (root OK): write 2,000 / 100 ok then errored ($0.006 each)
        Run().call(at(15), "write", 2000, 100, prompt="w1").call(at(15, 1), "write", 2000, 100, ERROR, prompt="w2"),
        # T7 fanout: 7 calls of the same size (no growth): a batch over items, not a loop
        _fanout(Run(), at(16), 7),
        # T8 (workflow agentwf): tool "search" used 6 times (17:00:05 .. 17:00:30, every 5 s) and
        # 3 decide calls of 1,000 / 100 ($0.0035) at :00, :12, :22: the two from the second use
        # (:10) to the last (:30) drove the repeats, $0.007
        _tool_loop(Run(workflow="agentwf"), at(17)),
    ]


def _agent(run: Run, t0: datetime, n: int) -> Run:
    for i in range(n):
        run.call(t0 + timedelta(seconds=10 * i), "agent", 1000 + 100 * i, 100, prompt=f"turn {i}")
    return run


def _tool_loop(run: Run, t0: datetime) -> Run:
    for sec in (0, 12, 22):
        run.call(t0 + timedelta(seconds=sec), "decide", 1000, 100, prompt=f"decide {sec}")
    for k in range(1, 7):
        run.tool(t0 + timedelta(seconds=5 * k), "search")
    return run


def _fanout(run: Run, t0: datetime, n: int) -> Run:
    for i in range(n):
        run.call(t0 + timedelta(seconds=10 * i), "fanout", 1000, 100, prompt=f"item {i}")
    return run


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("waste")
    path = root / "traces.jsonl"
    path.write_text("\n".join(r.line() for r in runs()) + "\n", encoding="utf-8")
    ingest([path], lake=root / "lake")
    return Lake(root / "lake")


def _by(findings: list[Finding]) -> dict[tuple[str, str | None], Finding]:
    return {(f.evidence["rule"], f.step): f for f in findings}


def test_constructed_runs_hand_computed(lake: Lake) -> None:
    res = waste.analyze(lake, config={})
    got = _by(res.findings)
    assert sorted(got) == [("error", "ask"), ("error", "lookup"), ("error", "write"), ("failed_run", None),
                           ("loop", "agent"), ("retry", "ask"), ("tool_loop", "search")]  # fmt: skip
    # errored calls: validated (the call returned nothing); one day of errors < 3 days: medium.
    # ask: $0.006 x 30 = $0.18 of a step costing $0.012 x 30 = $0.36
    err = got[("error", "ask")]
    assert (err.validated, err.confidence, err.workflow) == (True, "medium", "wf")
    assert err.monthly_savings_usd.high == Decimal("0.18") and err.base_monthly_cost_usd == Decimal("0.36")
    assert err.evidence["cost_window_usd"] == Decimal("0.006") and err.evidence["runs"] == 1
    assert err.fraction_high == pytest.approx(0.5)
    assert got[("error", "lookup")].monthly_savings_usd.high == Decimal("0.33")  # 0.011 x 30
    assert got[("error", "write")].monthly_savings_usd.high == Decimal("0.18")  # 0.006 x 30
    # retry: only T1's second call (T2's repeat came 600 s after the failure); potential
    retry = got[("retry", "ask")]
    assert (retry.validated, retry.confidence, retry.evidence["calls"]) == (False, "medium", 1)
    assert retry.potential_savings_usd is not None and retry.potential_savings_usd.high == Decimal("0.18")
    assert retry.monthly_savings_usd.high == Decimal("0.00")
    # loop: T3's 5 repeats only (T4 has 5 calls, T7 does not grow); $0.02125 x 30 = $0.6375
    loop = got[("loop", "agent")]
    assert loop.evidence["runs"] == 1 and loop.evidence["calls"] == 5
    assert loop.evidence["cost_window_usd"] == Decimal("0.02125")
    assert loop.evidence["max_repeats_in_a_run"] == 6 and loop.evidence["every_run_failed"] is False
    assert (loop.validated, loop.confidence) == (False, "low")
    assert loop.potential_savings_usd is not None and loop.potential_savings_usd.high == Decimal("0.64")
    # failed runs: T5 (root error) $0.019 + its unpriced call, T6 (last call errored) $0.012
    failed = got[("failed_run", None)]
    assert failed.evidence["runs"] == 2 and failed.evidence["calls"] == 5
    assert failed.evidence["priced_calls"] == 4 and failed.evidence["unpriced_calls"] == 1
    assert failed.evidence["cost_window_usd"] == Decimal("0.031")
    assert "+1 unpriced calls" in failed.title and not failed.validated
    # the workflow costs 0.012 + 0.022 + 0.04475 (agent: 0.02475 + 0.02) + 0.019 + 0.012 +
    # 0.0245 (fanout 7 x 0.0035) = $0.13425 -> x 30 = $4.0275
    assert failed.evidence["scope_cost_window_usd"] == Decimal("0.13425")
    assert failed.base_monthly_cost_usd == Decimal("4.03")
    # tool loop: potential, low; T8's two decide calls, $0.007 x 30 = $0.21
    tool = got[("tool_loop", "search")]
    assert (tool.workflow, tool.validated, tool.confidence) == ("agentwf", False, "low")
    assert tool.evidence["calls"] == 2 and tool.evidence["max_repeats_in_a_run"] == 6
    assert tool.evidence["cost_window_usd"] == Decimal("0.007")
    assert tool.potential_savings_usd is not None and tool.potential_savings_usd.high == Decimal("0.21")
    # each call once: errors 0.006 + 0.011 + 0.006 (W2), retry 0.006, loop 0.02125, T5 0.019,
    # T6's ok call 0.006, T8 0.007 = $0.08225 over 14 priced calls and the unpriced one
    assert res.summary["wasted_window_usd"] == Decimal("0.08225")
    assert (res.summary["wasted_calls"], res.summary["wasted_unpriced_calls"]) == (15, 1)
    # validated: the three errored-call findings on their own steps, 0.18 + 0.33 + 0.18
    assert combine(res.findings).high == Decimal("0.69") == res.summary["validated_monthly_savings_usd"]
    # OTLP traces are application runs: none of their calls is in a session
    assert res.summary["session_calls"] == 0 and "note" not in res.summary


def test_settings_move_the_thresholds(lake: Lake) -> None:
    # a 700 s window makes T2's repeat (600 s after the failure) a retry; a threshold of 4 makes
    # T4 (5 growing calls) a loop too: its 4 repeats cost (1,100 + ... + 1,400) x 2.5e-6 + 4 x 1e-3
    cfg = {"analyze": {"waste": {"retry_window_seconds": 700, "loop_threshold": 4}}}
    got = _by(waste.analyze(lake, config=cfg).findings)
    assert got[("retry", "lookup")].evidence["cost_window_usd"] == Decimal("0.011")
    loop = got[("loop", "agent")]
    assert loop.evidence["runs"] == 2 and loop.evidence["calls"] == 9
    assert loop.evidence["cost_window_usd"] == Decimal("0.02125") + Decimal("0.0165")


def test_demo_retry_loop(demo_lake: Path) -> None:
    # sample_data/demo/traces/otlp/ticket-triage.jsonl.gz: 49 traces have a root span with
    # status code 2 (the 2026-10-21 deploy, tools/make_demo.py ticket_triage), each with 6
    # gpt-4.1 classify calls whose input grows (failed answers appended). Summing their
    # gen_ai.usage.* attributes (a Python loop over the file's spans): 812,877 input / 14,748
    # output tokens; at gpt-4.1's $2 / $8 per MTok: 1.625754 + 0.117984 = $1.743738. The 5
    # repeats after each first call: 687,585 / 12,290 tokens: 1.37517 + 0.09832 = $1.47349.
    res = waste.analyze(Lake(demo_lake), since="2026-10-01", until="2026-11-01")
    got = _by(res.findings)
    failed = got[("failed_run", None)]
    assert (failed.workflow, failed.evidence["runs"], failed.evidence["calls"]) == ("ticket-triage", 49, 294)
    assert failed.evidence["cost_window_usd"] == Decimal("1.743738")
    assert failed.evidence["active_days"] == 1 and len(failed.evidence["trace_ids"]) == 10
    loop = got[("loop", "classify")]
    assert (loop.workflow, loop.step, loop.evidence["runs"], loop.evidence["calls"]) == ("ticket-triage", "classify", 49, 245)
    assert loop.evidence["cost_window_usd"] == Decimal("1.47349") and loop.evidence["every_run_failed"] is True
    # one day only: potential, never validated; x 30 / 31 days of October
    assert not loop.validated and loop.potential_savings_usd is not None
    assert loop.potential_savings_usd.high == Decimal("1.43")  # 1.47349 x 30 / 31 = 1.4259...
    assert failed.potential_savings_usd is not None and failed.potential_savings_usd.high == Decimal("1.69")  # 1.6874...
    # nightly-digest's 20 summaries a run and eval-harness's 40 cases do not grow: not loops
    assert {f.workflow for f in res.findings} == {"ticket-triage"}


AGENT_SESSION = Path(__file__).parent / "fixtures" / "claude_code" / "constructed" / "agent_session"


@pytest.fixture(scope="module")
def session_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("session")
    ingest([AGENT_SESSION], lake=root / "lake")
    return Lake(root / "lake")


def test_a_coding_agent_session_is_not_a_run(session_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructed Claude Code session (its _comment): a person's prompt, then 7 agent turns
    of 1,000 x k input and 100 output tokens on claude-sonnet-4-5 ($3 / $15 per MTok), each
    resending the conversation and running Bash once. That is how a coding agent works, not a
    loop: before sessions were told apart, a generated Claude Code month read 63,174 of its
    65,363 calls as waste."""
    assert session_formats() == ("claude_code", "codex")
    res = waste.analyze(session_lake, config={})
    assert res.findings == []
    assert (res.summary["calls"], res.summary["session_calls"], res.summary["wasted_calls"]) == (7, 7, 0)
    assert res.summary["note"].startswith("7 calls are in interactive sessions (claude_code, codex)")
    # Read as one application run (the flag off), turns 2..7 grow past the threshold of 5: a loop,
    # and Bash ran 7 times: a tool loop over the same turns. (2 + ... + 7) x 1,000 x 3e-6 +
    # 6 x 100 x 15e-6 = 0.081 + 0.009 = $0.090 each
    monkeypatch.setattr(ClaudeCodeSession, "sessions", False)
    off = waste.analyze(session_lake, config={})
    got = _by(off.findings)
    assert sorted(got) == [("loop", "main"), ("tool_loop", "main")]
    for f in got.values():
        assert (f.evidence["calls"], f.evidence["cost_window_usd"]) == (6, Decimal("0.090"))
    assert (off.summary["session_calls"], off.summary["wasted_calls"]) == (0, 6)


def test_the_table_says_why_a_session_has_no_waste_findings(session_lake: Lake) -> None:
    from typer.testing import CliRunner

    from costlab.cli import app

    r = CliRunner().invoke(app, ["analyze", "waste", "--lake", str(session_lake.path)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "No findings: nothing to recommend for the calls in this period."
    assert "waste: 7 calls are in interactive sessions (claude_code, codex): a session is not a run" in lines[2]
