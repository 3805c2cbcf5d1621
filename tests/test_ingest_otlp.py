"""otlp_json source: OTLP/JSON traces with OTel GenAI, OpenInference, OpenLLMetry and Vercel spans.

Expected numbers are hand-computed from the attribute values listed per span with:
  jq -rc '.resourceSpans[]?.scopeSpans[].spans[] | [.spanId, .name, ([.attributes[] |
    select(.key|test("usage|token_count")) | "\\(.key)=\\(.value.intValue // .value.stringValue)"])]' FILE
(see tests/fixtures/otlp/PROVENANCE.md); the arithmetic is in the comments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.base import ParseContext
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "otlp"
REAL = FIX / "opentelemetry-proto_examples_trace.json"
AZURE = {"azure_deployments": {"prod-chat": "gpt-4o-2024-08-06"}}


def tid(n: int) -> str:
    return f"5e{n:030x}"


def sid(n: int) -> str:
    return f"a0{n:014x}"


def parse(name: str, **ctx):
    return parse_file(FIX / name, ctx=ParseContext(**ctx))


def spans(name: str, **ctx) -> dict[str, dict]:
    return {r["span_id"]: r for r in parse(name, **ctx).table("spans")}


def billable(rows) -> dict[str, tuple[int, int, int, int]]:
    """Per trace: (calls, input, output, cache read) over span_kind llm/embedding with usage_scope self."""
    out: dict[str, list[int]] = {}
    for r in rows:
        if r["span_kind"] in ("llm", "embedding") and r["usage_scope"] == "self":
            t = out.setdefault(r["trace_id"], [0, 0, 0, 0])
            t[0] += 1
            t[1] += r["input_tokens"] or 0
            t[2] += r["output_tokens"] or 0
            t[3] += r.get("cache_read_tokens") or 0
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


@pytest.mark.parametrize(
    "name",
    [
        "genai_semconv.jsonl",
        "openinference.jsonl",
        "traceloop.jsonl",
        "vercel.jsonl",
        "ms_agent_framework.json",
        REAL.name,
    ],
)
def test_detect(name):
    assert detect(FIX / name).name == "otlp_json"


def test_real_proto_example():
    res = parse_file(REAL)
    assert res.bad == []
    (row,) = res.table("spans")
    assert row["trace_id"] == "5b8efff798038103d269b633813fc60c"  # file has upper-case hex
    assert row["span_id"] == "eee19b7ec3c1b174" and row["parent_span_id"] == "eee19b7ec3c1b173"
    assert row["start_time"] == datetime(
        2018, 12, 13, 14, 51, 0, tzinfo=UTC
    )  # 1544712660000000000 ns
    assert row["end_time"] == datetime(2018, 12, 13, 14, 51, 1, tzinfo=UTC)
    assert (
        row["span_kind"] == "other" and row["usage_scope"] == "none" and row["usage_source"] is None
    )
    assert (
        row["input_tokens"] is None and row["reported_cost"] is None
    )  # no usage, no money: NULL not 0
    assert (
        row["workflow"] == row["step"] == "I'm a server span"
    )  # parent not in file -> it is the root
    assert row["tags"] == {"service.name": "my.service"}
    attrs = json.loads(row["attributes"])
    assert attrs["attributes"] == {"my.span.attr": "some value"} and attrs["kind"] == 2
    assert attrs["scope"] == {"name": "my.library", "version": "1.0.0"}


def test_semconv_billable_calls_per_trace():
    res = parse("genai_semconv.jsonl", config=AZURE)
    assert len(res.table("spans")) == 11
    assert billable(res.table("spans")) == {
        # 1500 (inclusive) + (800 + 900: cache read > input => exclusive) + 12 (embedding); 50 + 40; 1200 + 900
        tid(1): (3, 3212, 90, 2100),
        # 300 (deprecated prompt_tokens) + 17 estimated; 25 + 2 estimated
        tid(2): (2, 317, 27, 0),
        # the retried span counted once, final copy (10 / 6)
        tid(3): (1, 10, 6, 0),
    }


def test_semconv_malformed_lines_are_bad_rows():
    res = parse("genai_semconv.jsonl")
    got = [(b.location, b.reason) for b in res.bad]
    assert got[0] == ("line 2 span 2", "span has no traceId or spanId")
    assert got[1] == ("line 2 span 3", "not a number: 'abc'")
    assert got[2][0] == "line 3" and got[2][1].startswith("not JSON")
    assert got[3] == ("line 4", "OTLP resourceLogs batch, not traces")
    assert len(got) == 4
    assert "abc" in res.bad[1].raw


def test_semconv_fields():
    rows = spans("genai_semconv.jsonl", config=AZURE)
    chat = rows[sid(2)]
    assert (chat["input_tokens"], chat["cache_read_tokens"], chat["cache_write_tokens"]) == (
        1500,
        1200,
        100,
    )
    assert (chat["output_tokens"], chat["reasoning_tokens"]) == (50, 10)
    assert chat["provider"] == "anthropic" and chat["model"] == "claude-sonnet-4-5-20250929"
    assert chat["request_model"] == "claude-sonnet-4-5" and chat["request_id"] == "msg_01"
    assert (
        chat["workflow"] == "support_triage"
    )  # gen_ai.workflow.name on the invoke_workflow ancestor
    assert (chat["session_id"], chat["user_id"]) == ("conv-42", "u-7")  # inherited
    assert chat["usage_scope"] == "self" and chat["usage_source"] == "reported"
    assert chat["message_tokens"] == [10, 11]  # system instructions prepended as a message
    assert chat["prefix_block_tokens"] == 128 and chat["prefix_hashes"] == []
    bedrock = rows[sid(4)]
    assert bedrock["provider"] == "aws.bedrock" and bedrock["model"] == "claude-3-5-haiku-20241022"
    assert bedrock["model_raw"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert (bedrock["input_tokens"], bedrock["cache_read_tokens"]) == (1700, 900)
    assert rows[sid(1)]["span_kind"] == "chain" and rows[sid(3)]["span_kind"] == "tool"
    assert rows[sid(3)]["step"] == "lookup_order"
    assert rows[sid(5)]["span_kind"] == "embedding" and rows[sid(5)]["output_tokens"] is None
    # deprecated names + Azure deployment mapped through config; intValue given as a JSON number
    dep = rows[sid(11)]
    assert (dep["provider"], dep["model"], dep["input_tokens"], dep["output_tokens"]) == (
        "azure",
        "gpt-4o-2024-08-06",
        300,
        25,
    )
    assert dep["service_tier"] == "standard"  # openai.response.service_tier = default
    assert dep["workflow"] == "handle_ticket"  # no workflow attribute: root span name
    assert dep["message_tokens"] == [
        7,
        10,
    ]  # from gen_ai.system.message / gen_ai.user.message events
    assert spans("genai_semconv.jsonl")[sid(11)]["model"] == "prod-chat"  # without the mapping


def test_estimated_and_missing_usage():
    rows = spans("genai_semconv.jsonl")
    est = rows[sid(12)]
    # o200k: system (3 markers + "system" 1 + "You are terse." 4) = 8; user (3 + 1 + "Hello there" 2) = 6; + 3
    assert est["usage_source"] == "estimated" and est["usage_scope"] == "self"
    assert est["message_tokens"] == [8, 6] and est["input_tokens"] == 17
    assert est["output_tokens"] == 2  # "Hi."
    missing = rows[sid(13)]
    assert missing["usage_source"] == "missing" and missing["usage_scope"] == "none"
    assert (
        missing["input_tokens"] is None and missing["output_tokens"] is None
    )  # never a silent zero
    assert missing["status"] == "error"


def test_retry_ids_and_encodings():
    rows = spans("genai_semconv.jsonl")
    kept = rows[sid(20)]
    assert kept["output_tokens"] == 6 and kept["end_time"] is not None and kept["source_line"] == 5
    b64 = rows[sid(23)]  # traceId/spanId in base64, parentSpanId in upper-case hex
    assert b64["trace_id"] == tid(3) and b64["parent_span_id"] == sid(20)
    assert b64["workflow"] == "chat gpt-4o"  # root found through the decoded parent
    assert len({r["row_key"] for r in rows.values()}) == len(rows)


def test_text_dropped_unless_keep_text():
    plain = spans("genai_semconv.jsonl")[sid(2)]
    attrs = json.loads(plain["attributes"])["attributes"]
    assert "gen_ai.input.messages" not in attrs and "gen_ai.system_instructions" not in attrs
    assert "gen_ai.output.messages" not in attrs and attrs["gen_ai.request.temperature"] == 0.2
    assert (
        attrs["gen_ai.response.finish_reasons"] == ["stop"]
        and attrs["gen_ai.request.stream"] is False
    )
    assert plain["prompt_text"] is None and plain["completion_text"] is None
    kept = spans("genai_semconv.jsonl", keep_text=True)[sid(2)]
    assert json.loads(kept["prompt_text"]) == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "My order #123 is late."},
    ]
    assert kept["completion_text"] == "Sorry about that, let me check."
    assert "gen_ai.input.messages" in json.loads(kept["attributes"])["attributes"]
    assert kept["prompt_hash"] == plain["prompt_hash"]


def test_openinference():
    res = parse("openinference.jsonl", keep_text=True)
    assert res.bad == []
    # OpenAIChat.invoke wraps ChatCompletion (same 1568/423): only the child counts.
    # 1568 + 2000 + 8 (embedding); 423 + 100; 1024 + 1500
    assert billable(res.table("spans")) == {tid(100): (3, 3576, 523, 2524)}
    rows = {r["span_id"]: r for r in res.table("spans")}
    assert rows[sid(102)]["usage_scope"] == "rollup" and rows[sid(103)]["usage_scope"] == "self"
    assert rows[sid(101)]["span_kind"] == "agent" and rows[sid(104)]["span_kind"] == "tool"
    assert rows[sid(107)]["span_kind"] == "retrieval" and rows[sid(106)]["span_kind"] == "embedding"
    assert rows[sid(106)]["model"] == "text-embedding-3-small"
    assert (
        rows[sid(103)]["reported_cost"] == Decimal("0.00049")
        and rows[sid(103)]["reported_cost_currency"] == "USD"
    )
    claude = rows[sid(105)]
    assert (claude["input_tokens"], claude["cache_read_tokens"], claude["cache_write_tokens"]) == (
        2000,
        1500,
        300,
    )
    assert (claude["output_tokens"], claude["reasoning_tokens"]) == (100, 40)
    assert claude["provider"] == "anthropic"
    texts = [m["content"] for m in json.loads(claude["prompt_text"])]
    assert texts == ["You are Claude."] + [f"turn {i}" for i in range(1, 12)]  # 10, 11 after 9
    invoke = json.loads(rows[sid(102)]["prompt_text"])
    assert [m["role"] for m in invoke] == ["system", "user", "tool"]  # index 2 missing
    assert rows[sid(102)]["completion_text"] == "Here is what is trending."
    for r in rows.values():
        assert (r["session_id"], r["user_id"], r["workflow"]) == ("sess-1", "user-9", "Agent.run")
    assert rows[sid(101)]["tags"] == {
        "service.name": "agno-app",
        "tenant": "acme",
        "tag.tags": "beta",
    }
    assert rows[sid(102)]["provider"] == "openai"


def test_traceloop():
    res = parse("traceloop.jsonl")
    # 15 + (3000 + 2000 + 500: total 5520 = 3000+2500+20 shows the prompt count excludes cache) + 2510
    assert billable(res.table("spans")) == {tid(200): (3, 8025, 70, 4000)}
    rows = {r["span_id"]: r for r in res.table("spans")}
    assert sum(r["cache_write_tokens"] or 0 for r in rows.values()) == 1000
    legacy = rows[sid(203)]
    assert (legacy["provider"], legacy["model"], legacy["request_model"]) == (
        "openai",
        "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo",
    )
    assert legacy["span_kind"] == "llm" and legacy["request_id"] == "chatcmpl-1"
    assert rows[sid(204)]["input_tokens"] == 5500 and rows[sid(205)]["input_tokens"] == 2510
    for r in rows.values():
        assert (r["workflow"], r["session_id"], r["user_id"]) == ("joke_creation", "s-9", "u-3")
    assert rows[sid(201)]["span_kind"] == rows[sid(202)]["span_kind"] == "chain"
    assert rows[sid(202)]["step"] == "create_joke"
    assert {rows[s]["step"] for s in (sid(203), sid(204), sid(205))} == {
        "create_joke"
    }  # the enclosing task
    assert legacy["message_tokens"] is not None
    assert "traceloop.entity.input" not in json.loads(rows[sid(202)]["attributes"])["attributes"]


def test_vercel_rollup_is_not_double_counted():
    res = parse("vercel.jsonl")
    assert res.bad == []
    assert billable(res.table("spans")) == {
        tid(301): (1, 62, 85, 0),  # ai.generateText 62/85 is a copy of its doGenerate child
        tid(302): (
            2,
            750,
            100,
            256,
        ),  # steps 300/40 + 450/60 (256 cache read); parent 750/100 rollup
        tid(303): (1, 2020, 15, 1800),  # AI SDK 5 Anthropic: 20 uncached + 1800 read + 200 write
        tid(304): (
            1,
            10,
            1,
            0,
        ),  # no usage: estimated, "Name a colour" 3 + 4 markers/role + 3; "Blue" 1
        tid(305): (1, 5, 0, 0),  # ai.embed.doEmbed, ai.usage.tokens
    }
    rows = {r["span_id"]: r for r in res.table("spans")}
    for parent in (sid(301), sid(310), sid(320), sid(340)):
        assert rows[parent]["usage_scope"] == "rollup"
    assert rows[sid(330)]["usage_scope"] == "none" and rows[sid(330)]["usage_source"] is None
    assert rows[sid(331)]["usage_source"] == "estimated"
    child = rows[sid(302)]
    assert (child["model"], child["request_model"], child["provider"]) == (
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "openai",
    )
    assert (child["workflow"], child["session_id"], child["user_id"]) == (
        "summarize",
        "chat-1",
        "alice",
    )
    assert child["request_id"] == "chatcmpl-v1"
    assert child["prompt_hash"] == rows[sid(301)]["prompt_hash"]  # ai.prompt vs ai.prompt.messages
    assert rows[sid(320)]["cache_write_tokens"] == 200 and rows[sid(313)]["reasoning_tokens"] == 12
    assert rows[sid(313)]["output_tokens"] == 60  # v6 output total already includes reasoning
    assert rows[sid(312)]["span_kind"] == "tool" and rows[sid(312)]["workflow"] == "agent-loop"
    assert rows[sid(330)]["workflow"] == "ai.generateText"  # no functionId: root span name


def test_ms_agent_framework_real_rollup():
    res = parse("ms_agent_framework.json")
    assert res.bad == []
    rows = res.table("spans")
    assert len(rows) == 4
    # same numbers as the Langfuse export's GENERATION usageDetails (jq in PROVENANCE.md): 77+216, 86+20
    assert billable(rows) == {"8e419d3288419b5d944270505640e183": (2, 293, 106, 0)}
    agent = next(r for r in rows if r["span_kind"] == "agent")
    assert (agent["usage_scope"], agent["input_tokens"], agent["output_tokens"]) == (
        "rollup",
        44,
        180,
    )
    chats = [r for r in rows if r["span_kind"] == "llm"]
    assert {r["model"] for r in chats} == {"gpt-5-mini-2025-08-07"}
    assert all(r["message_tokens"] for r in chats)


def test_workflow_precedence(tmp_path):
    rows = spans("genai_semconv.jsonl", config={"workflow_attributes": ["app.ticket"]})
    assert rows[sid(11)]["workflow"] == "T-1"  # configured key on the root beats the root name
    assert rows[sid(2)]["workflow"] == "support_triage"
    doc = _batch(
        [
            _span("1" * 32, "1" * 16, "", "root", {"langfuse.trace.name": "nightly-report"}),
            _span("1" * 32, "2" * 16, "1" * 16, "chat", {"gen_ai.operation.name": "chat"}),
            _span(
                "1" * 32,
                "3" * 16,
                "1" * 16,
                "chat",
                {"ai.telemetry.functionId": "fn", "gen_ai.workflow.name": "wf"},
            ),
        ]
    )
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(doc) + "\n")
    got = {r["span_id"][0]: r["workflow"] for r in parse_file(path).table("spans")}
    assert got == {"1": "nightly-report", "2": "nightly-report", "3": "wf"}


def _span(trace, span, parent, name, attrs, **extra):
    return {
        "traceId": trace, "spanId": span, "parentSpanId": parent, "name": name,
        "startTimeUnixNano": "1748779200000000000", "endTimeUnixNano": 1748779201000000000,
        "attributes": [{"key": k, "value": v if isinstance(v, dict) else {"stringValue": v}} for k, v in attrs.items()],
        **extra,
    }  # fmt: skip


def _batch(spans, legacy=False):
    key, scope = (
        ("instrumentationLibrarySpans", "instrumentationLibrary")
        if legacy
        else ("scopeSpans", "scope")
    )
    return {
        "resourceSpans": [
            {"resource": {"attributes": []}, key: [{scope: {"name": "x"}, "spans": spans}]}
        ]
    }


def test_anyvalue_shapes_and_legacy_scope(tmp_path):
    attrs = {
        "d": {"doubleValue": "NaN"},
        "i": {"intValue": 7},
        "b": {"boolValue": True},
        "kv": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}},
        "arr": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "2"}]}},
        "bytes": {"bytesValue": "AAE="},
        "empty": {},
    }
    path = tmp_path / "legacy.json"
    path.write_text(
        json.dumps(_batch([_span("ab" * 16, "cd" * 8, "", "s", attrs)], legacy=True), indent=2)
    )
    (row,) = parse_file(path).table("spans")
    got = json.loads(row["attributes"])["attributes"]
    assert got["d"] == "NaN" or got["d"] != got["d"]  # NaN survives as a JSON NaN
    assert (got["i"], got["b"], got["kv"], got["arr"], got["bytes"], got["empty"]) == (
        7,
        True,
        {"a": 1},
        ["x", 2],
        "AAE=",
        None,
    )
    assert row["end_time"] == datetime(2025, 6, 1, 12, 0, 1, tzinfo=UTC)  # number instead of string


def test_missing_start_time_is_bad(tmp_path):
    span = _span("ab" * 16, "cd" * 8, "", "s", {})
    del span["startTimeUnixNano"]
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(_batch([span, _span("ab" * 16, "ef" * 8, "", "ok", {})])) + "\n")
    res = parse_file(path)
    assert [b.reason for b in res.bad] == ["span has no startTimeUnixNano"]
    assert [r["name"] for r in res.table("spans")] == ["ok"]


def test_corrupt_file_is_source_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceSpans": [{"resource": \n')
    assert detect(broken).name == "otlp_json"
    with pytest.raises(SourceError, match="no OTLP/JSON trace batch"):
        parse_file(broken)
    other = tmp_path / "other.jsonl"
    other.write_text('{"resourceSpans": 5}\n')
    with pytest.raises(SourceError):
        parse_file(other, source="otlp_json")
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError):
        parse_file(csv, source="otlp_json")


def test_prefix_hashes_for_long_prompts(tmp_path):
    system = " ".join(f"rule {i}." for i in range(400))

    def chat(span_id, question):
        messages = json.dumps(
            [{"role": "system", "content": system}, {"role": "user", "content": question}]
        )
        return _span(
            "ab" * 16,
            span_id,
            "",
            "chat",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": messages,
            },
        )

    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps(_batch([chat("01" * 8, "first?"), chat("02" * 8, "second?")])) + "\n"
    )
    a, b = parse_file(path).table("spans")
    assert len(a["prefix_hashes"]) >= 10 and a["prefix_hashes"][:10] == b["prefix_hashes"][:10]
    assert a["prompt_hash"] != b["prompt_hash"] and a["usage_source"] == "estimated"


def test_end_to_end_lake(tmp_path):
    pipeline = pytest.importorskip("costlab.ingest.run")

    lake = tmp_path / "lake"
    res = pipeline.ingest([FIX / "vercel.jsonl", REAL], lake=lake)
    assert not res.failed and res.rows_written == 13  # 12 Vercel spans + 1
    q = Workspace(lake).rows(
        "select count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens) from calls"
        " where source_format = 'otlp_json'"
    )
    # 1+2+1+1+1 calls; 62+750+2020+10+5; 85+100+15+1; 256+1800 (see test_vercel_...)
    assert q == [(6, 2847, 201, 2056)]
    assert Workspace(lake).rows("select count(*) from spans where usage_scope = 'rollup'") == [(4,)]
    again = pipeline.ingest([FIX / "vercel.jsonl", REAL], lake=lake)
    assert again.rows_written == 0
    forced = pipeline.ingest([FIX / "vercel.jsonl", REAL], lake=lake, force=True)
    assert forced.rows_replaced == 13  # same (trace_id, span_id) keys: replaced, not added
    assert Workspace(lake).rows("select count(*) from spans") == [(13,)]
    assert Workspace(lake).rows("select count(*), sum(input_tokens) from calls") == [(6, 2847)]


def test_estimation_respects_reporting_ancestors(tmp_path):
    msgs = json.dumps([{"role": "user", "content": "hello world"}])
    t = "cd" * 16
    doc = _batch(
        [
            # agent reports aggregate usage, its llm child reports none: the child is estimated and
            # the agent becomes a rollup, so the call is still in `calls`
            _span(
                t,
                "01" * 8,
                "",
                "invoke_agent a",
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.usage.input_tokens": {"intValue": "100"},
                    "gen_ai.usage.output_tokens": {"intValue": "10"},
                },
            ),
            _span(
                t,
                "02" * 8,
                "01" * 8,
                "chat",
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.input.messages": msgs,
                },
            ),
            # an llm wrapper reporting usage over an llm child without usage: the wrapper is the call
            _span(
                t,
                "03" * 8,
                "",
                "ai.generateText",
                {
                    "ai.operationId": "ai.generateText",
                    "ai.usage.promptTokens": {"intValue": "62"},
                    "ai.usage.completionTokens": {"intValue": "85"},
                },
            ),
            _span(
                t,
                "04" * 8,
                "03" * 8,
                "ai.generateText.doGenerate",
                {"ai.operationId": "ai.generateText.doGenerate", "ai.prompt.messages": msgs},
            ),
            # embedding input without usage: counted without chat overhead ("hello world" = 2 tokens)
            _span(
                t,
                "05" * 8,
                "",
                "embed",
                {
                    "openinference.span.kind": "EMBEDDING",
                    "embedding.embeddings.0.embedding.text": "hello world",
                },
            ),
        ]
    )
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(doc) + "\n")
    rows = {r["span_id"][:2]: r for r in parse_file(path).table("spans")}
    assert (rows["01"]["usage_scope"], rows["02"]["usage_scope"], rows["02"]["usage_source"]) == (
        "rollup",
        "self",
        "estimated",
    )
    assert rows["02"]["input_tokens"] == 3 + 1 + 2 + 3
    assert (rows["03"]["usage_scope"], rows["04"]["usage_scope"], rows["04"]["usage_source"]) == (
        "self",
        "none",
        None,
    )
    assert (rows["05"]["usage_source"], rows["05"]["input_tokens"], rows["05"]["usage_scope"]) == (
        "estimated",
        2,
        "self",
    )


def test_rollup_shapes_in_every_dialect():
    """Issue 13 §4: a parent is a rollup whenever a descendant is an llm/embedding call, whatever its
    numbers equal (one child's usage, the sum, or neither); the leaf with usage is always the call.
    Per trace, by hand from make_fixtures.rollup_shapes (every span listed there):"""
    res = parse("rollup_shapes.jsonl")
    assert res.bad == []
    rows = res.table("spans")
    assert billable(rows) == {
        tid(401): (2, 1200 + 1500, 80 + 200, 0),  # invoke_agent copies the first chat only
        tid(402): (2, 300 + 500, 30 + 50, 0),  # OpenInference AGENT copies the second LLM only
        tid(403): (2, 200 + 500, 20 + 50, 0),  # CHAIN = the sum of its two LLMs
        tid(404): (2, 400 + 500, 40 + 50, 0),  # generateText = sum of two doGenerate steps
        tid(405): (2, 250 + 600, 25 + 60, 0),  # streamText copies its last doStream only
        tid(406): (2, 10 + 20, 0, 0),  # embedMany over two doEmbed calls
        tid(407): (1, 120, 12, 0),  # an LLM span over an LLM span: the child is the call
        tid(408): (1, 40, 4, 0),  # orphan (parent a0...01f3 not in the file): still a call
    }
    rollups = sorted(r["name"] for r in rows if r["usage_scope"] == "rollup")
    assert rollups == sorted(
        ["invoke_agent planner", "agent", "chain", "ai.generateText", "ai.streamText",
         "ai.embedMany", "ChatOpenAI"]
    )  # fmt: skip


def _by_response(name: str) -> dict[str, dict]:
    return {r["request_id"]: r for r in parse(name).table("spans")}


@pytest.mark.parametrize(
    ("rid", "expected"),
    [
        # (input, cache read, cache write, output, reasoning), by hand from
        # make_fixtures.vercel_provider_metadata; input inclusive of cache, output of reasoning
        ("resp-pm-1", (412, 384, None, 25, 0)),  # openai.cachedPromptTokens, subset of 412
        ("resp-pm-2", (1000, 768, None, 500, 320)),  # Responses: reasoning inside the 500
        ("resp-pm-3", (3200, 2560, None, 120 + 427, 427)),  # xAI: reasoning outside completion
        ("resp-pm-4", (1300, 1024, None, 200, None)),  # deepseek.promptCacheHitTokens (subset)
        ("resp-pm-5", (20 + 1800 + 200, 1800, 200, 15, None)),  # AI SDK 4 Anthropic: exclusive
        ("resp-pm-6", (5000, 4096, None, 300 + 700, 700)),  # Gemini thoughts outside candidates
        ("resp-pm-7", (30 + 2000 + 500, 2000, 500, 40, None)),  # Bedrock: exclusive
        ("resp-pm-8", (2020, 1800, 200, 15, None)),  # AI SDK 6 total: already inclusive
        ("resp-pm-9", (1500, 1024, None, 100, 0)),  # openrouter.usage.promptTokensDetails
    ],
)
def test_vercel_provider_metadata_every_provider(rid, expected):
    row = _by_response("vercel_provider_metadata.jsonl")[rid]
    got = tuple(
        row[c]
        for c in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                  "reasoning_tokens")
    )  # fmt: skip
    assert got == expected
    assert (row["usage_scope"], row["usage_source"]) == ("self", "reported")


def test_vercel_openai_cached_tokens_are_priced_as_cached(tmp_path):
    """The issue's example: gpt-4o-mini, 412 input tokens of which 384 cached, 25 output.
    genai-prices (costlab prices gpt-4o-mini): input 0.15, cache read 0.075, output 0.60 USD/MTok.
    (412 - 384) * 0.15e-6 + 384 * 0.075e-6 + 25 * 0.60e-6 = 4.2e-6 + 28.8e-6 + 15e-6 = 0.000048
    (priced as 412 uncached it was 61.8e-6 + 15e-6 = 0.0000768: 60% high)."""
    pipeline = pytest.importorskip("costlab.ingest.run")

    lake = tmp_path / "lake"
    assert not pipeline.ingest([FIX / "vercel_provider_metadata.jsonl"], lake=lake).failed
    got = Workspace(lake).rows(
        "select cost, cost_currency, cost_source from calls where request_id = 'resp-pm-1'"
    )
    assert got == [(Decimal("0.000048"), "USD", "computed")]
