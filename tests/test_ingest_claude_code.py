"""Claude Code session logs -> spans (source `claude_code`).

Expected numbers were computed independently of the parser with jq over the fixture files, e.g.
for the real records (per file, streamed lines merged by message.id keeping the max output):

  jq -s '[.[]|select(.type=="assistant" and .message.usage!=null and .message.model!="<synthetic>")]
         | group_by(.message.id) | map(max_by(.message.usage.output_tokens))
         | {calls:length,
            input:(map(.message.usage|.input_tokens+(.cache_read_input_tokens//0)
                                     +(.cache_creation_input_tokens//0))|add),
            cache_read:(map(.message.usage.cache_read_input_tokens)|add),
            cache_write:(map(.message.usage.cache_creation_input_tokens)|add),
            output:(map(.message.usage.output_tokens)|add)}' FILE

and by hand for the constructed fixtures (the arithmetic is in the comments next to each number).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.claude_code import ClaudeCodeSession
from costlab.ingest.parse import Parsed, parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
CC = FIX / "claude_code"
REC = CC / "records"
SID = "5f0c1e2a-7d3b-4c11-9a65-0e8f6b2d4c01"
PROJECT = CC / "constructed" / "projects" / "-home-dev-src-shop-app"
SESSION = PROJECT / f"{SID}.jsonl"
SUBAGENT = PROJECT / SID / "subagents" / "agent-feedbeef.jsonl"
MALFORMED = CC / "constructed" / "malformed.jsonl"

# real record file -> (calls, input incl. cache, cache_read, cache_write, output); jq command above
REAL: dict[str, tuple[int, int, int, int, int]] = {
    "assistant/assistant.jsonl": (1, 16768, 12008, 4756, 2),
    "assistant/assistant_sidechain.jsonl": (1, 1377, 0, 1374, 87),
    "assistant/thinking.jsonl": (1, 20845, 12008, 8827, 4),
    "tools/AskUserQuestion-tool_use.jsonl": (1, 17911, 16340, 1561, 685),
    "tools/Bash-tool_use.jsonl": (1, 25535, 25178, 350, 26),
    "tools/BashOutput-tool_use.jsonl": (1, 41027, 40733, 286, 147),
    "tools/Edit-tool_use.jsonl": (1, 22646, 22329, 313, 1),
    "tools/ExitPlanMode-tool_use.jsonl": (1, 21497, 21152, 345, 406),
    "tools/Glob-tool_use.jsonl": (1, 38336, 37833, 496, 26),
    "tools/Grep-tool_use.jsonl": (1, 16768, 12008, 4756, 2),
    "tools/KillShell-tool_use.jsonl": (1, 41404, 41019, 232, 100),
    "tools/LS-tool_use.jsonl": (1, 32908, 19625, 13276, 89),
    "tools/MultiEdit-tool_use.jsonl": (1, 23484, 23024, 453, 46),
    "tools/Read-tool_use.jsonl": (1, 23052, 22642, 405, 25),
    "tools/Task-tool_use.jsonl": (1, 16350, 12317, 4023, 440),
    "tools/TodoWrite-tool_use.jsonl": (1, 22026, 12008, 10012, 25),
    "tools/WebFetch-tool_use.jsonl": (1, 25940, 0, 25934, 167),
    "tools/WebSearch-tool_use.jsonl": (1, 23480, 8618, 14857, 203),
    "tools/Write-tool_use.jsonl": (1, 26275, 26107, 161, 25),
    "tools/exit_plan_mode-tool_use.jsonl": (1, 39069, 38365, 700, 1),
}
SIDECHAIN_FILES = {
    "assistant/assistant_sidechain.jsonl",
    "tools/LS-tool_use.jsonl",
    "tools/WebFetch-tool_use.jsonl",
    "tools/WebSearch-tool_use.jsonl",
}
ALL_REAL = sorted(str(p.relative_to(REC)) for p in REC.rglob("*.jsonl"))


def llm(parsed: Parsed) -> list[dict[str, Any]]:
    return [r for r in parsed.table("spans") if r["span_kind"] == "llm"]


def sums(rows: list[dict[str, Any]]) -> tuple[int, int, int, int, int]:
    billable = [r for r in rows if r["usage_scope"] == "self" and r["input_tokens"] is not None]
    return (
        len(billable),
        sum(r["input_tokens"] for r in billable),
        sum(r["cache_read_tokens"] for r in billable),
        sum(r["cache_write_tokens"] for r in billable),
        sum(r["output_tokens"] for r in billable),
    )


def by_id(parsed: Parsed) -> dict[str, dict[str, Any]]:
    return {r["span_id"]: r for r in parsed.table("spans")}


# -- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_REAL)
def test_every_real_record_file_is_detected(name: str) -> None:
    assert len(ALL_REAL) == 58  # the 59 real records minus user/image.jsonl (a 200 KB base64 image)
    assert detect(REC / name).name == "claude_code"


@pytest.mark.parametrize(
    "path",
    [
        SESSION,
        SUBAGENT,
        MALFORMED,
        CC / "ccusage" / "claude" / "projects" / "project-alpha" / "session-alpha" / "chat.jsonl",
        CC / "ccusage" / "test-transcript.jsonl",
    ],
)
def test_constructed_and_ccusage_files_are_detected(path: Path) -> None:
    assert detect(path).name == "claude_code"


def test_other_jsonl_is_not_claimed(tmp_path: Path) -> None:
    otlp = {
        "resourceSpans": [
            {"resource": {}, "scopeSpans": [{"spans": [{"traceId": "5b8e", "spanId": "eee1"}]}]}
        ]
    }
    (tmp_path / "otlp.jsonl").write_text(json.dumps(otlp) + "\n")
    (tmp_path / "chat.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    others = [
        tmp_path / "otlp.jsonl",
        tmp_path / "chat.jsonl",
        # Codex rollouts and every other source's JSONL fixtures
        *[p for p in FIX.rglob("*.jsonl") if p.relative_to(FIX).parts[0] != "claude_code"],
    ]
    assert any(p.relative_to(FIX).parts[0] == "codex" for p in others if p.is_relative_to(FIX))
    for path in others:
        assert not ClaudeCodeSession.detect(Sniff(path)), path


def test_a_file_that_is_not_claude_code_raises_source_error(tmp_path: Path) -> None:
    codex = next((FIX / "codex").rglob("rollout-*.jsonl"))
    with pytest.raises(SourceError, match="no Claude Code records"):
        parse_file(codex, source="claude_code")
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01binary\xff\n{not json\n")
    with pytest.raises(SourceError):
        parse_file(junk, source="claude_code")


# -- the real records --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_record_numbers_per_file(name: str) -> None:
    parsed = parse_file(REC / name)
    assert parsed.bad == []
    rows = llm(parsed)
    assert sums(rows) == REAL[name]
    assert all(r["reported_cost"] is None for r in rows)  # no costUSD in 1.0.x/2.0.x records
    for r in rows:
        assert (
            r["provider"] == "anthropic"
            and r["usage_source"] == "reported"
            and r["service_tier"] == "standard"
        )
        assert r["request_id"] == r["span_id"] and r["request_id"].startswith("msg_")
        assert r["trace_id"] == r["session_id"] and r["start_time"].tzinfo is not None
        assert r["step"] == ("subagent" if name in SIDECHAIN_FILES else "main")
        assert r["row_key"] and r["source_line"] == 1
        assert r["model"].startswith("claude-")


@pytest.mark.parametrize("name", [n for n in ALL_REAL if n not in REAL])
def test_real_records_without_assistant_usage_yield_no_billable_span(name: str) -> None:
    parsed = parse_file(REC / name)
    assert (
        parsed.bad == []
    )  # user/system/summary/snapshot/queue records are valid, just not billable
    assert [
        r
        for r in parsed.table("spans")
        if r["usage_scope"] == "self" and r["input_tokens"] is not None
    ] == []


def test_real_totals_over_all_record_files() -> None:
    # jq over all files concatenated: 20 assistant lines with usage; as separate files, nothing merges
    per_file = [sums(llm(parse_file(REC / n))) for n in REAL]
    assert tuple(sum(x[i] for x in per_file) for i in range(5)) == (20, 496698, 403314, 93117, 2507)


def test_real_cache_write_split() -> None:
    row = llm(parse_file(REC / "assistant/thinking.jsonl"))[0]
    assert (
        row["cache_write_tokens"],
        row["cache_write_5m_tokens"],
        row["cache_write_1h_tokens"],
    ) == (8827, 8827, 0)
    # LS-tool_use (Claude Code 1.0.x) has no usage.cache_creation: the split is unknown, not 0
    row = llm(parse_file(REC / "tools/LS-tool_use.jsonl"))[0]
    assert (
        row["cache_write_tokens"],
        row["cache_write_5m_tokens"],
        row["cache_write_1h_tokens"],
    ) == (13276, None, None)


def test_real_reply_without_usage_is_a_call_with_unknown_usage() -> None:
    row = llm(parse_file(REC / "tools/Artifact-tool_use.jsonl"))[0]
    assert row["usage_scope"] == "self" and row["usage_source"] == "missing"
    assert [row[k] for k in ("input_tokens", "cache_read_tokens", "output_tokens")] == [
        None,
        None,
        None,
    ]
    assert row["model"] == "claude-fable-5"


def test_real_streamed_duplicate_is_one_call() -> None:
    # assistant/assistant.jsonl and tools/Grep-tool_use.jsonl are consecutive lines of one real
    # session (the second's parentUuid is the first's uuid): the text block and the tool_use block
    # of ONE streamed reply, both msg_01NtyE53hx2q89rMBGuw6qKD / req_011CTd4PoK9LMzcZt6RWbVTR.
    # assembled/session_b25638d7.jsonl = those two lines + the Grep result + Edit use/error result.
    parsed = parse_file(CC / "assembled" / "session_b25638d7.jsonl")
    assert parsed.bad == []
    spans = by_id(parsed)
    reply = spans["msg_01NtyE53hx2q89rMBGuw6qKD"]
    attrs = json.loads(reply["attributes"])
    assert (
        attrs["lines"] == 2
        and attrs["content"] == ["text", "tool_use"]
        and attrs["tools"] == ["Grep"]
    )
    assert reply["source_line"] == 2  # output_tokens tie (2 and 2): the later line is kept
    assert (
        reply["parent_span_id"] == "39ea49bc-8cc9-4ec3-b598-4d75428d7c5e"
    )  # the first line's parentUuid
    assert (str(reply["start_time"]), str(reply["end_time"])) == (
        "2025-09-29 17:07:50.508000+00:00",
        "2025-09-29 17:07:52.034000+00:00",
    )
    # 16768 + 22646 = 39414; 12008 + 22329 = 34337; 4756 + 313 = 5069; 2 + 1 = 3
    assert sums(llm(parsed)) == (2, 39414, 34337, 5069, 3)
    grep, edit = spans["toolu_011Hw84P45hT94xvZSGxn1AL"], spans["toolu_01LsK8An4morbFYkB3fejkoX"]
    assert (grep["span_kind"], grep["name"], grep["status"], grep["parent_span_id"]) == (
        "tool",
        "Grep",
        "ok",
        "msg_01NtyE53hx2q89rMBGuw6qKD",
    )
    assert str(grep["end_time"]) == "2025-09-29 17:07:52.388000+00:00"
    assert (edit["status"], edit["usage_scope"], edit.get("input_tokens")) == (
        "error",
        "none",
        None,
    )


def test_real_task_tool_links_its_subagent() -> None:
    parsed = parse_file(CC / "assembled" / "session_cb2e607c.jsonl")
    task = by_id(parsed)["toolu_01HD7PpSCWhP2gP8dXvJiyZN"]
    attrs = json.loads(task["attributes"])
    assert attrs["agent_id"] == "ea02459f" and attrs["subagent_type"] == "Plan"
    assert attrs["total_duration_ms"] == 40843
    # the Task result's usage (the subagent's last call) is not counted on the tool span
    assert task.get("output_tokens") is None and task["usage_scope"] == "none"
    assert sums(llm(parsed)) == (1, 16350, 12317, 4023, 440)


# -- constructed: streaming, sidechains, synthetic, cost ----------------------------------------


def test_streamed_reply_keeps_the_highest_output() -> None:
    parsed = parse_file(SESSION)
    assert parsed.bad == []
    spans = by_id(parsed)
    a = spans["msg_01AAAAconstructedStream"]
    # three lines: output 4 (thinking), 4 (text), 312 (tool_use). ccusage keeps the first line: 4.
    assert a["output_tokens"] == 312 and a["source_line"] == 5
    assert a["input_tokens"] == 6 + 20000 + 1500 == 21506
    assert (a["cache_read_tokens"], a["cache_write_tokens"]) == (20000, 1500)
    assert (a["cache_write_5m_tokens"], a["cache_write_1h_tokens"]) == (1000, 500)
    b = spans["msg_01BBBBconstructedCost"]
    # two lines: output 10 / costUSD 0.0101, then 87 / 0.0123 (ccusage: 10 and 0.0101)
    assert (b["output_tokens"], b["reported_cost"], b["reported_cost_currency"]) == (
        87,
        Decimal("0.0123"),
        "USD",
    )
    assert isinstance(b["reported_cost"], Decimal)


def test_constructed_session_totals() -> None:
    parsed = parse_file(SESSION)
    rows = llm(parsed)
    # A: 6+20000+1500=21506, B: 3+21500+200=21703, C: 5+22000+0=22005 -> 65214
    # cache read 20000+21500+22000=63500; write 1500+200+0=1700; output 312+87+40=439
    assert sums(rows) == (3, 65214, 63500, 1700, 439)
    assert sum(r["reported_cost"] for r in rows if r["reported_cost"] is not None) == Decimal(
        "0.0123"
    )
    # ccusage (first line per message.id) would report output 4+10+40 = 54 for the same file
    assert sum(r["output_tokens"] for r in rows) - 54 == 385


def test_streamed_lines_out_of_order_still_keep_the_max(tmp_path: Path) -> None:
    lines = SESSION.read_text().splitlines()
    reordered = tmp_path / "s.jsonl"
    reordered.write_text("\n".join([lines[0], lines[4], lines[2], lines[3]]) + "\n")  # 312 first
    a = llm(parse_file(reordered))[0]
    assert a["output_tokens"] == 312 and a["source_line"] == 2
    assert (
        str(a["start_time"]) == "2025-10-20 10:00:03.100000+00:00"
    )  # earliest line, not file order


def test_sidechain_replay_of_a_main_message_counts_once_and_stays_main() -> None:
    spans = by_id(parse_file(SESSION))
    c = spans["msg_01CCCCconstructedReplay"]
    assert c["step"] == "main" and c["output_tokens"] == 40 and c["source_line"] == 11
    assert json.loads(c["attributes"])["request_id"] == "req_011CCCmain"
    assert str(c["end_time"]) == "2025-10-20 10:02:00+00:00"  # the replay's time is not the call's
    assert (c["cache_write_5m_tokens"], c["cache_write_1h_tokens"]) == (None, None)


def test_synthetic_message_is_not_billable() -> None:
    synthetic = [r for r in parse_file(SESSION).table("spans") if r.get("model") == "<synthetic>"]
    assert len(synthetic) == 1
    row = synthetic[0]
    assert (row["span_kind"], row["usage_scope"], row["status"], row["request_id"]) == (
        "other",
        "none",
        "error",
        None,
    )


def test_tool_span_from_constructed_session() -> None:
    tool = by_id(parse_file(SESSION))["toolu_01AconstructedBash"]
    assert (tool["name"], tool["status"], tool["parent_span_id"], tool["step"]) == (
        "Bash",
        "ok",
        "msg_01AAAAconstructedStream",
        "main",
    )
    assert (
        tool["end_time"] - tool["start_time"]
    ).total_seconds() == 4.5  # 10:00:05.2 -> 10:00:09.7
    assert json.loads(tool["attributes"])["result_chars"] == len("12 passed in 3.1s")


def test_non_billable_and_unknown_record_types_are_skipped_not_quarantined() -> None:
    parsed = parse_file(SESSION)
    assert parsed.bad == []  # summary, user, system api_error, progress, file-history-snapshot
    assert {r["span_kind"] for r in parsed.table("spans")} == {"llm", "other", "tool"}
    assert len(parsed.table("spans")) == 5


def test_subagent_file() -> None:
    parsed = parse_file(SUBAGENT)
    assert parsed.bad == []
    rows = llm(parsed)
    assert {r["step"] for r in rows} == {"subagent"}
    assert {r["tags"]["agent_id"] for r in rows} == {"feedbeef"}
    assert {r["trace_id"] for r in rows} == {SID}  # subagent records carry the parent session id
    # S1: 4+0+3000=3004 (out 25); S2 (streamed 2 -> 150): 6+3000+120=3126 -> 6130
    assert sums(rows) == (2, 6130, 3000, 3120, 175)
    grep = by_id(parsed)["toolu_01SconstructedGrep"]
    assert grep["status"] == "error" and grep["step"] == "subagent"


def test_a_file_under_subagents_is_a_subagent_even_without_is_sidechain(tmp_path: Path) -> None:
    path = tmp_path / "projects" / "p" / "s1" / "subagents" / "agent-0a1b.jsonl"
    path.parent.mkdir(parents=True)
    line = json.loads(SUBAGENT.read_text().splitlines()[1])
    line.pop("isSidechain")
    line.pop("agentId")
    path.write_text(json.dumps(line) + "\n")
    row = llm(parse_file(path))[0]
    assert row["step"] == "subagent" and row["tags"]["agent_id"] == "0a1b"


def test_workflow_rules() -> None:
    # cwd basename, not the lossy encoded folder name "-home-dev-src-shop-app"
    assert {r["workflow"] for r in parse_file(SESSION).table("spans")} == {"shop.app"}
    alpha = (
        CC / "ccusage" / "claude" / "projects" / "project-alpha" / "session-alpha" / "chat.jsonl"
    )
    assert {r["workflow"] for r in parse_file(alpha).table("spans")} == {"project-alpha"}  # no cwd
    ctx = ParseContext(config={"claude_code": {"workflow": "checkout"}})
    assert {r["workflow"] for r in parse_file(SESSION, ctx=ctx).table("spans")} == {"checkout"}
    ctx = ParseContext(config={"workflow": "everything"})
    assert {r["workflow"] for r in parse_file(SESSION, ctx=ctx).table("spans")} == {"everything"}


def test_text_is_kept_only_on_request() -> None:
    assert all(r.get("completion_text") is None for r in parse_file(SESSION).table("spans"))
    b = by_id(parse_file(SESSION, ctx=ParseContext(keep_text=True)))["msg_01BBBBconstructedCost"]
    assert b["completion_text"] == "All 12 tests pass.\nNothing else to fix."


# -- ccusage's own fixtures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "expected", "cost"),
    [
        # alpha: 100+10+25=135, 200+20+50=270, 300+40+0=340 -> 745; read 10+20+40=70;
        # write 25+50+0=75; output 50+75+125=250; costUSD 0.12+0.34+0.56=1.02
        ("project-alpha/session-alpha", (3, 745, 70, 75, 250), Decimal("1.02")),
        # beta: 50+15+5=70, 80+25+10=115 -> 185; read 15+25=40; write 5+10=15; output 25+35=60; 0.03+0.04
        ("project-beta/session-beta", (2, 185, 40, 15, 60), Decimal("0.07")),
    ],
)
def test_ccusage_fixtures(project: str, expected: tuple[int, ...], cost: Decimal) -> None:
    # ccusage does not publish its expected totals for these
    # files; each message.id appears once, so streaming cannot make costlab differ from ccusage here.
    parsed = parse_file(CC / "ccusage" / "claude" / "projects" / project / "chat.jsonl")
    assert parsed.bad == []
    rows = llm(parsed)
    assert sums(rows) == expected
    assert sum(r["reported_cost"] for r in rows) == cost
    assert all(r["reported_cost_currency"] == "USD" for r in rows)
    if project.startswith("project-alpha"):
        assert [r["tags"].get("speed") for r in rows] == [None, "fast", None]


def test_ccusage_test_transcript_rows_without_timestamp_are_quarantined() -> None:
    parsed = parse_file(CC / "ccusage" / "test-transcript.jsonl")
    assert parsed.table("spans") == []
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("2", "assistant record without a timestamp"),
        ("4", "assistant record without a timestamp"),
    ]


# -- malformed lines -----------------------------------------------------------------------------


def test_malformed_lines_are_quarantined_with_reasons() -> None:
    parsed = parse_file(MALFORMED)
    # good lines 2 (10+0+0, out 20) and 11 (1+3+2, out 4)
    assert sums(llm(parsed)) == (2, 16, 3, 2, 24)
    reasons = {b.location: b.reason for b in parsed.bad}
    assert set(reasons) == {"3", "4", "5", "6", "7", "8", "9", "10"}
    assert reasons["3"].startswith("invalid JSON")
    assert reasons["4"] == "not a JSON object"
    assert reasons["5"] == "assistant record without a timestamp"
    assert reasons["6"] == "not a number: 'lots'"
    assert reasons["7"] == "negative input_tokens: -5"
    assert reasons["8"].startswith("not a Claude Code record")
    assert reasons["9"] == "not a number: 'abc'"
    assert reasons["10"] == "assistant record without a message object"
    assert all(b.raw for b in parsed.bad)


# -- end to end through the lake ----------------------------------------------------------------


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    res = ingest([REC, CC / "assembled", CC / "constructed" / "projects"], lake=lake_dir)
    assert not res.failed
    lake = Lake(lake_dir)
    calls = Workspace(lake).rows(
        "SELECT count(*), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
        "sum(output_tokens) FROM calls WHERE input_tokens IS NOT NULL"
    )[0]
    # real records deduplicated by message.id (jq over all files: 19 calls 479930/391306/88361/2505);
    # the assembled files repeat real records (same message ids) and add nothing;
    # constructed: main session (3, 65214, 63500, 1700, 439) + subagent (2, 6130, 3000, 3120, 175)
    assert calls == (
        19 + 3 + 2,
        479930 + 65214 + 6130,
        391306 + 63500 + 3000,
        88361 + 1700 + 3120,
        2505 + 439 + 175,
    )
    # the one reply with costUSD keeps it beside the computed price (prices: tests/test_pricing.py)
    assert Workspace(lake).rows("SELECT sum(reported_cost), any_value(reported_cost_currency) FROM calls") == [
        (Decimal("0.0123"), "USD")
    ]
    assert Workspace(lake).rows(
        "SELECT cost_source, count(*) FROM calls GROUP BY 1 ORDER BY 1"
    ) == [("computed", 24), ("unpriced", 1)]  # unpriced: the Artifact reply without usage
    assert Workspace(lake).rows("SELECT count(*) FROM calls WHERE input_tokens IS NULL") == [
        (1,)
    ]  # Artifact reply
    before = Workspace(lake).rows("SELECT count(*), sum(output_tokens) FROM spans")
    again = ingest([REC, CC / "assembled", CC / "constructed" / "projects"], lake=lake_dir)
    assert again.rows_written == 0
    assert Workspace(lake).rows("SELECT count(*), sum(output_tokens) FROM spans") == before


def test_usage_without_cache_fields_and_server_tool_use(tmp_path: Path) -> None:
    # Usage written before prompt caching existed has no cache fields: they count as 0 so the
    # inclusive input equals input_tokens. Web searches are billed per request: kept in attributes.
    line = json.loads(SESSION.read_text().splitlines()[6])
    line["message"]["usage"] = {
        "input_tokens": 120,
        "output_tokens": 30,
        "server_tool_use": {"web_search_requests": 2},
    }
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(line) + "\n")
    row = llm(parse_file(path))[0]
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (120, 0, 0)
    assert (row["cache_write_5m_tokens"], row["service_tier"]) == (None, None)
    assert json.loads(row["attributes"])["web_search_requests"] == 2


def test_a_bad_line_is_quarantined_with_its_own_text() -> None:
    # the raw text is made only when a record fails: it must still be that line as read (with
    # its newline; these lines are under the 2000-character cut)
    parsed = parse_file(MALFORMED)
    lines = MALFORMED.read_text().splitlines(keepends=True)
    raw = {b.location: b.raw for b in parsed.bad}
    assert len(lines[4]) < 2000 and len(lines[6]) < 2000
    assert raw["5"] == lines[4]  # assistant record without a timestamp
    assert raw["7"] == lines[6]  # negative input_tokens


def test_a_tool_use_repeated_by_streamed_lines_is_one_tool_span(tmp_path: Path) -> None:
    # Two streamed lines of one reply both carry tool_use toolu_R (the second renames it and is
    # later): one tool span, named and timed by the first line; the reply lists the tool twice,
    # as each line's blocks are listed.
    def line(ts: str, out: int, name: str) -> str:
        return json.dumps(
            {
                "type": "assistant",
                "sessionId": "s1",
                "uuid": f"u-{out}",
                "timestamp": ts,
                "message": {
                    "id": "msg_R",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 1, "output_tokens": out},
                    "content": [{"type": "tool_use", "id": "toolu_R", "name": name, "input": {}}],
                },
            }
        )

    path = tmp_path / "s1.jsonl"
    path.write_text(line("2025-10-20T10:00:00Z", 3, "Bash") + "\n" + line("2025-10-20T10:00:02Z", 9, "Read") + "\n")
    spans = by_id(parse_file(path))
    assert sorted(spans) == ["msg_R", "toolu_R"]
    tool = spans["toolu_R"]
    assert (tool["name"], str(tool["start_time"]), tool["source_line"]) == ("Bash", "2025-10-20 10:00:00+00:00", 1)
    assert spans["msg_R"]["output_tokens"] == 9
    assert json.loads(spans["msg_R"]["attributes"])["tools"] == ["Bash", "Read"]


def test_a_record_whose_type_is_not_text_is_quarantined_not_a_failed_file(tmp_path: Path) -> None:
    """A line whose ``type`` is a list or object (a damaged or hostile file) failed the whole
    file with "internal error: TypeError: unhashable type" (found by the fuzz test); it is one
    quarantine row with its reason, and the session's three calls are still read: the totals of
    test_constructed_session_totals."""
    lines = SESSION.read_text().splitlines()
    damaged = json.loads(lines[1])
    damaged["type"] = []
    path = tmp_path / f"{SID}.jsonl"
    path.write_text("\n".join([*lines, json.dumps(damaged)]) + "\n")
    parsed = parse_file(path)
    assert sums(llm(parsed)) == (3, 65214, 63500, 1700, 439)
    assert [(b.location, b.reason) for b in parsed.bad] == [
        (str(len(lines) + 1), "type is not a text value ([])")
    ]
