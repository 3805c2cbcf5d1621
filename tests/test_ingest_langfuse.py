"""Langfuse source: every real trace export, the documented API / export shapes and each quirk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.langfuse import LangfuseExport
from costlab.ingest.langsmith import LangSmithRuns
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
REAL = FIX / "langfuse" / "real"
CON = FIX / "langfuse" / "constructed"


@dataclass
class Exp:
    spans: int
    calls: int
    input: int
    output: int
    cost_all: D
    cost_calls: D
    rollups: list[str] = field(default_factory=list)
    estimated: int = 0
    reasoning: int = 0
    scores: int = 0


# Expected values per real file, computed independently of costlab from the raw JSON with a
# one-off script (python: json.load(parse_float=Decimal); no costlab code):
#   spans      = len(observations)
#   calls      = GENERATION observations with non-empty usageDetails (the older
#                google-vertex-tools export has usageDetails=null: inputUsage/outputUsage instead)
#                and no descendant (parentObservationId chain) with usage
#   input      = sum over calls of usageDetails['input'] + every 'input_*' key (Langfuse keys are
#                disjoint); output likewise with 'output' + 'output_*'
#   cost_all   = sum of every observation's totalCost (= sum of costDetails.total where present);
#                every file's money is in reported_cost except vertex-ai's (see its entry)
#   cost_calls = sum of totalCost over the calls
#   rollups    = names of observations with usage that have a descendant with usage
#   estimated  = calls whose metadata.attributes exist (scope not langfuse-sdk) but hold no
#                usage/token_count key: Langfuse tokenized them itself
#   reasoning  = sum of usageDetails keys containing 'reasoning'
#   scores     = len(trace['scores']) (all NUMERIC: one evaluation span each); counted with
#                python -c "json.load(f)['trace'].get('scores')": beeai 2, claude-agent 3, crewai 2,
#                google-adk 2, google-gemini 2, langgraph-js 2, langgraph-python 2,
#                microsoft-agent 3, vertex-ai 2 = 20; the others [] or no key
# Exceptions written out where they apply (beeai: no output key at all; vertex-ai: Gemini gap).
EXPECTED: dict[str, Exp] = {
    "agno-2025-06-11": Exp(
        6,
        2,
        663 + 163,
        225 + 20,
        D("0.000982199999"),
        D("0.000270899999"),
        ["OpenAIChat.invoke", "OpenAIChat.invoke"],
    ),
    "autogen-2025-06-06": Exp(2, 1, 41, 3, D("0.000025"), D("0.000025")),
    # beeai: usageDetails {'input', 'total'} only -> output NULL on all 3 calls (0 in the sum)
    "beeai-2025-08-01": Exp(
        29, 3, 1988 + 2359 + 1195, 0, D("0.00083130"), D("0.00083130"), estimated=3, scores=2
    ),
    "claude-agent-2025-12-22": Exp(
        7, 4, 5 + 5 + 5 + 19, 94 + 56 + 53 + 29, D("0.003582"), D("0.003582"), estimated=4,
        scores=3,
    ),
    "crewai-2025-07-11": Exp(6, 1, 190, 164, D("0.0001269"), D("0.0001269"), scores=2),
    "csharp-agent-with-gemini-2026-03-09": Exp(
        8, 3, 3004 + 2546 + 2497, 167 + 47 + 200, D("0.0034491"), D("0.0034491")
    ),
    "google-adk-2025-08-28": Exp(
        5, 2, 39 + 28, 6 + 3, D("0.0000103"), D("0.0000103"), scores=2
    ),
    # OpenInference completion (2055) already includes completion_details.reasoning (1104):
    # total 2061 = 6 + 2055
    "google-gemini-2025-08-01": Exp(
        1, 1, 6, 2055, D("0.005139299999"), D("0.005139299999"), reasoning=1104, scores=2
    ),
    "google-vertex-tools-langchain-2025-09-19": Exp(1, 1, 1200, 15, D("0.00011"), D("0.00011")),
    "koog-2025-08-26": Exp(11, 2, 168 + 47, 19 + 106, D("0.0017875"), D("0.0017875"), estimated=2),
    # input 179+0(audio)+0(cache_read); output 35+0(audio)+64(reasoning); total 278
    "langgraph-js-2025-10-30": Exp(
        20, 2, 179 + 142, 35 + 64 + 24, D("0.00032625"), D("0.00032625"), reasoning=64,
        scores=2,
    ),
    "langgraph-python-2025-08-22": Exp(
        9, 2, 60 + 108, 15 + 51, D("0.000234"), D("0.000234"), scores=2
    ),
    "llamaindex-2025-06-05": Exp(2, 1, 13, 81, D("0.000842499999"), D("0.000842499999")),
    "microsoft-agent-2025-12-17": Exp(
        4,
        2,
        77 + 216,
        86 + 20,
        D("0.00065625"),
        D("0.00028525"),
        ["invoke_agent 171105b7-59dd-49c0-9677-0b95395aa46a"],
        scores=3,
    ),
    "openai-assistants-2024-05-29": Exp(4, 1, 49, 40, D("0.00387"), D("0.00387")),
    "pydantic-ai-2025-06-06": Exp(3, 1, 31, 96, D("0.0010375"), D("0.0010375")),
    "pydantic-ai-tools-2025-06-06": Exp(3, 1, 31, 96, D("0.0010375"), D("0.0010375")),
    "pydantic-ai-tools-2025-12-04": Exp(
        12, 4, 417 + 131 + 502 + 265, 53 + 69 + 14 + 73, D("0.000322649999"), D("0.000322649999")
    ),
    "pydantic-ai-with-gemini-2025-12-24": Exp(1, 1, 40, 159, D("0.0004095"), D("0.0004095")),
    # total 2023 > 5 + 845: Gemini thinking tokens (1173) are in total, not in completion. The
    # file's cost (0.00085) was priced without them: kept in attributes, not reported_cost.
    "vertex-ai-2025-08-01": Exp(
        1, 1, 5, 845 + (2023 - 5 - 845), D(0), D(0), reasoning=1173, scores=2
    ),
}


def spans(path: Path, scores: bool = False, **ctx: Any) -> list[dict[str, Any]]:
    """The file's span rows; score rows (operation 'evaluation') only with ``scores``."""
    parsed = parse_file(path, ctx=ParseContext(**ctx) if ctx else None)
    assert parsed.source == "langfuse"
    rows = parsed.table("spans")
    return rows if scores else [r for r in rows if r["operation"] != "evaluation"]


def calls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for r in rows if r["span_kind"] in ("llm", "embedding") and r["usage_scope"] == "self"
    ]


def by_name(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (row,) = [r for r in rows if r["name"] == name]
    return row


def total(rows: list[dict[str, Any]], col: str) -> Any:
    return sum((r[col] for r in rows if r.get(col) is not None), start=D(0) if "cost" in col else 0)


def test_every_real_sample_has_expectations() -> None:
    assert sorted(p.name.removesuffix(".trace.json") for p in REAL.glob("*.json")) == sorted(
        EXPECTED
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_sample(name: str) -> None:
    exp, path = EXPECTED[name], REAL / f"{name}.trace.json"
    assert detect(path).name == "langfuse"
    parsed = parse_file(path)
    rows = parsed.table("spans")
    assert parsed.bad == []
    assert len(rows) == exp.spans + exp.scores
    assert sum(r["operation"] == "evaluation" for r in rows) == exp.scores
    billable = calls(rows)
    assert len(billable) == exp.calls
    assert total(billable, "input_tokens") == exp.input
    assert total(billable, "output_tokens") == exp.output
    assert total(billable, "reasoning_tokens") == exp.reasoning
    assert total(billable, "cache_read_tokens") == 0  # no real sample used prompt caching
    assert total(rows, "reported_cost") == exp.cost_all  # every cent of the file, exactly
    assert total(billable, "reported_cost") == exp.cost_calls
    assert all(
        isinstance(r["reported_cost"], D) for r in rows if r.get("reported_cost") is not None
    )
    assert {r["reported_cost_currency"] for r in rows if r.get("reported_cost") is not None} <= {
        "USD"
    }
    assert sorted(r["name"] for r in rows if r["usage_scope"] == "rollup") == exp.rollups
    assert sum(r["usage_source"] == "estimated" for r in billable) == exp.estimated
    assert len({r["row_key"] for r in rows}) == len(rows)
    assert all(r["start_time"].tzinfo is not None and r["trace_id"] for r in rows)


def test_rollup_parents_in_real_samples() -> None:
    """Parent/child usage shapes: agno OpenAIChat.invoke wraps OpenInference `chat` generations; MS Agent Framework
    invoke_agent carries usage over its two `chat` children."""
    agno = {r["span_id"]: r for r in spans(REAL / "agno-2025-06-11.trace.json")}
    # (span, parent) from the file: fc7f61b5 -> b38a82ea, 1f883bb9 -> ca136de4 (both invoke)
    for child, parent, parent_in in (
        ("fc7f61b57ecebbaf", "b38a82eaa62b551e", 1568),
        ("1f883bb9668167c0", "ca136de468e156c9", 542),
    ):
        assert agno[child]["parent_span_id"] == parent
        assert (agno[child]["span_kind"], agno[child]["usage_scope"]) == ("llm", "self")
        assert (agno[parent]["name"], agno[parent]["usage_scope"]) == (
            "OpenAIChat.invoke",
            "rollup",
        )
        assert agno[parent]["input_tokens"] == parent_in
    ms = spans(REAL / "microsoft-agent-2025-12-17.trace.json")
    agent = by_name(ms, "invoke_agent 171105b7-59dd-49c0-9677-0b95395aa46a")
    assert (agent["span_kind"], agent["usage_scope"], agent["input_tokens"]) == (
        "agent",
        "rollup",
        44,
    )
    assert [r["usage_scope"] for r in ms if r["name"] == "chat gpt-5-mini"] == ["self", "self"]
    assert by_name(ms, "get_weather")["usage_scope"] == "none"


def test_disjoint_cache_keys_become_inclusive() -> None:
    """SCHEMA: Langfuse usageDetails.input excludes cache reads/writes; output excludes reasoning."""
    row = by_name(spans(CON / "observations_v1_page.json"), "claude call")
    # usageDetails {input 12, input_cached_tokens 2000, input_cache_creation 300, output 150,
    #               output_reasoning_tokens 50, total 2512}
    assert row["input_tokens"] == 12 + 2000 + 300
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (2000, 300)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (150 + 50, 50)
    assert row["reported_cost"] == D("0.004761") and row["usage_source"] == "reported"
    assert row["provider"] == "anthropic" and row["request_id"] == "msg_01ABC"
    assert (row["model"], row["request_model"]) == (
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
    )


def test_v2_cursor_page_cached_tokens() -> None:
    rows = spans(CON / "observations_v2_cursor.json")
    answer = by_name(rows, "answer")  # input 900 + input_cached_tokens 768; total 1708 agrees
    assert (answer["input_tokens"], answer["cache_read_tokens"], answer["output_tokens"]) == (
        1668,
        768,
        40,
    )
    assert (answer["session_id"], answer["user_id"], answer["model"]) == (
        "sess-9",
        "user-7",
        "gpt-4o-mini",
    )
    assert answer["reported_cost"] == D("0.0002166")


def test_raw_anthropic_keys_are_disjoint_dotted_otel_keys_are_subsets() -> None:
    rows = spans(CON / "observations_v1_page.json")
    raw = by_name(rows, "raw keys")  # input 10 + cache_read_input_tokens 1000 + creation 50
    assert (raw["input_tokens"], raw["cache_read_tokens"], raw["cache_write_tokens"]) == (
        1060,
        1000,
        50,
    )
    subset = by_name(rows, "subset keys")  # total 1010 = input 1000 + output 10
    assert (subset["input_tokens"], subset["cache_read_tokens"]) == (1000, 800)
    assert subset["status"] == "error"


def test_openinference_details_are_subsets() -> None:
    (row,) = spans(REAL / "google-gemini-2025-08-01.trace.json")
    # usageDetails {input 6, output 2055, completion_details.reasoning 1104, total 2061}
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (6, 2055, 1104)
    crewai = by_name(spans(REAL / "crewai-2025-07-11.trace.json"), "completion")
    assert (crewai["input_tokens"], crewai["cache_read_tokens"], crewai["reasoning_tokens"]) == (
        190,
        0,
        0,
    )


def test_gemini_thinking_gap_is_derived() -> None:
    (row,) = spans(REAL / "vertex-ai-2025-08-01.trace.json")
    # prompt 5, completion 845, total 2023: 1173 thinking tokens billed as output
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (5, 2018, 1173)
    assert row["usage_source"] == "derived"
    assert (row["model"], row["provider"]) == ("gemini-2.5-flash", "google")  # Vertex resource path
    attrs = json.loads(row["attributes"])
    assert attrs["model_raw"].startswith("projects/vertex-ai-integration")
    # Langfuse priced 845 output tokens: that cost is not this call's cost
    assert row.get("reported_cost") is None and attrs["langfuse_cost_excluded"] == "0.00085"


def test_legacy_usage_and_non_token_units() -> None:
    rows = spans(CON / "observations_v1_page.json")
    legacy = by_name(rows, "legacy call")  # usage {input 100, output 20, unit TOKENS}
    assert (legacy["input_tokens"], legacy["output_tokens"], legacy["reported_cost"]) == (
        100,
        20,
        D("0.000027"),
    )
    chars = by_name(rows, "char billed")  # unit CHARACTERS: not tokens -> estimated from prompt
    from costlab import tokens

    f = tokens.prompt_features([{"role": "user", "content": "howdy"}], model="gpt-4o-mini")
    assert chars["input_tokens"] == f["input_tokens_estimate"]
    assert chars["output_tokens"] == tokens.count(
        "Howdy! How can I assist you today?", "gpt-4o-mini"
    )
    assert chars["usage_source"] == "estimated" and chars["usage_scope"] == "self"


def test_v1_zero_filler_is_not_usage() -> None:
    rows = spans(CON / "observations_v1_page.json")
    root = by_name(rows, "report pipeline")
    assert (root.get("input_tokens"), root.get("reported_cost"), root["usage_scope"]) == (
        None,
        None,
        "none",
    )
    finish = by_name(spans(REAL / "beeai-2025-08-01.trace.json"), "backend.openai.chat.finish-16")
    # usageDetails {} (and inputUsage 0, totalCost 0): no usage, no prompt -> missing, never 0
    assert [finish.get(c) for c in ("input_tokens", "output_tokens", "reported_cost")] == [None] * 3
    assert (finish["usage_scope"], finish["usage_source"]) == ("none", "missing")


def test_langfuse_inferred_usage_is_estimated() -> None:
    claude = spans(REAL / "claude-agent-2025-12-22.trace.json")
    assert {r["usage_source"] for r in calls(claude)} == {"estimated"}
    v2 = by_name(spans(CON / "observations_v2_cursor.json"), "follow-up")  # providedUsageDetails {}
    assert v2["usage_source"] == "estimated" and v2["input_tokens"] == 25
    ms = spans(REAL / "microsoft-agent-2025-12-17.trace.json")
    assert {r["usage_source"] for r in calls(ms)} == {"reported"}  # gen_ai.usage.* present


def test_beeai_start_events_have_input_only() -> None:
    rows = calls(spans(REAL / "beeai-2025-08-01.trace.json"))
    assert sorted(r["input_tokens"] for r in rows) == [1195, 1988, 2359]
    assert {r["output_tokens"] for r in rows} == {None}


def test_models_and_providers() -> None:
    ms = spans(REAL / "microsoft-agent-2025-12-17.trace.json")
    chat = [r for r in ms if r["name"] == "chat gpt-5-mini"][0]
    assert (chat["model"], chat["request_model"], chat["provider"]) == (
        "gpt-5-mini-2025-08-07",
        "gpt-5-mini",
        "openai",
    )
    assert chat["request_id"].startswith("resp_0e32bda5b6259ecd")
    adk = calls(spans(REAL / "google-adk-2025-08-28.trace.json"))
    assert {(r["provider"], r["model"]) for r in adk} == {("google", "gemini-2.0-flash")}
    csharp = calls(spans(REAL / "csharp-agent-with-gemini-2026-03-09.trace.json"))
    assert {r["provider"] for r in csharp} == {"google"}  # gcp.vertex_ai
    tier = by_name(spans(CON / "observations_v1_page.json"), "chat gpt-4.1")
    assert tier["service_tier"] == "standard"  # openai.response.service_tier "default"
    tool = by_name(spans(REAL / "claude-agent-2025-12-22.trace.json"), "claude.conversation")
    assert tool["provider"] is None  # gen_ai.system "langchain" on a chain span is not a provider


def test_span_kinds_refined_from_otel_attributes() -> None:
    agno = spans(REAL / "agno-2025-06-11.trace.json")
    assert by_name(agno, "duckduckgo_search")["span_kind"] == "tool"  # SPAN + openinference TOOL
    assert by_name(agno, "Agent.run")["span_kind"] == "agent"
    adk = spans(REAL / "google-adk-2025-08-28.trace.json")
    assert by_name(adk, "invocation [hello_app]")["span_kind"] == "chain"  # CHAIN type
    assert by_name(spans(CON / "observations_v1_page.json"), "cache miss")["span_kind"] == "other"


def test_workflow_precedence() -> None:
    page = spans(CON / "observations_v1_page.json")
    # explicit gen_ai.workflow.name on one observation names the whole trace
    assert {r["workflow"] for r in page if r["trace_id"] == "a1" * 16} == {"report-summary"}
    # no trace name in an observations page: the root observation's name
    assert {r["workflow"] for r in page if r["trace_id"] == "b2" * 16} == {"planner"}
    # trace name
    assert {r["workflow"] for r in spans(REAL / "koog-2025-08-26.trace.json")} == {
        "agent.f9f77d1a-437f-4ba6-890e-b592a50cbd21"
    }
    # a configured attribute key wins over the trace name
    custom = spans(
        REAL / "microsoft-agent-2025-12-17.trace.json",
        config={"workflow_attributes": ["gen_ai.agent.name"]},
    )
    assert by_name(custom, "invoke_agent 171105b7-59dd-49c0-9677-0b95395aa46a")["workflow"] == (
        "171105b7-59dd-49c0-9677-0b95395aa46a"
    )
    assert all(r["step"] == r["name"] or r["name"] is None for r in custom)


def test_workflow_tag(tmp_path: Path) -> None:
    doc = json.loads((REAL / "autogen-2025-06-06.trace.json").read_text())
    doc["trace"]["tags"].append("workflow:greeter")
    path = tmp_path / "tagged.json"
    path.write_text(json.dumps(doc))
    assert {r["workflow"] for r in spans(path)} == {"greeter"}  # tag beats the trace name


def test_session_user_tags() -> None:
    rows = spans(REAL / "autogen-2025-06-06.trace.json")
    assert {(r["session_id"], r["user_id"]) for r in rows} == {("session_abc", "user_123")}
    assert rows[0]["tags"] == {"autogen": "", "dev": ""}
    # MS Agent Framework writes the previous response id as gen_ai.conversation.id: not a session
    assert {r["session_id"] for r in spans(REAL / "microsoft-agent-2025-12-17.trace.json")} == {
        None
    }
    # koog: a stable conversation id on the llm spans names the session of the whole trace
    assert {r["session_id"] for r in spans(REAL / "koog-2025-08-26.trace.json")} == {
        "6f8d2449-33ed-4c7c-82e7-5410e34ee4e6"
    }


def test_python_repr_trace_observations_are_ignored() -> None:
    """trace.observations is a Python-repr string here; the top-level array is used."""
    (row,) = spans(REAL / "google-gemini-2025-08-01.trace.json")
    assert row["name"] == "GenerateContent" and row["span_kind"] == "llm"


def test_prompt_features_and_text() -> None:
    (row,) = calls(spans(REAL / "autogen-2025-06-06.trace.json"))
    assert (
        len(row["prompt_hash"]) == 64
        and row["message_tokens"]
        and row["prefix_block_tokens"] == 128
    )
    assert row.get("prompt_text") is None and row.get("completion_text") is None
    (kept,) = calls(spans(REAL / "autogen-2025-06-06.trace.json", keep_text=True))
    assert "Say 'Hello World!'" in kept["prompt_text"] and kept["completion_text"] == "Hello World!"
    assert kept["prompt_hash"] == row["prompt_hash"]
    # identical prompts hash identically across frameworks ("What is Langfuse?")
    hashes = {
        calls(spans(REAL / f"{n}.trace.json"))[0]["prompt_hash"]
        for n in ("google-gemini-2025-08-01", "llamaindex-2025-06-05", "vertex-ai-2025-08-01")
    }
    assert len(hashes) == 1


def test_attributes_keep_no_content_without_keep_text() -> None:
    rows = spans(REAL / "pydantic-ai-tools-2025-12-04.trace.json")
    agent = json.loads(by_name(rows, "evaluator_agent run")["attributes"])
    assert "final_result" not in agent.get("otel", {})
    text = json.dumps([r["attributes"] for r in rows])
    assert "programmers" not in text and "gen_ai.usage.input_tokens" in text
    kept = spans(REAL / "pydantic-ai-tools-2025-12-04.trace.json", keep_text=True)
    assert "final_result" in json.loads(by_name(kept, "evaluator_agent run")["attributes"])["otel"]


def test_batch_export_jsonl() -> None:
    parsed = parse_file(CON / "batch_export_observations.jsonl")
    rows = parsed.table("spans")
    assert len(rows) == 4 and [b.location for b in parsed.bad] == ["5"]
    assert "unreadable record" in parsed.bad[0].reason
    assert {r["workflow"] for r in rows} == {"invoke_agent 171105b7-59dd-49c0-9677-0b95395aa46a"}
    assert {r["user_id"] for r in rows} == {"u-42"} and rows[0]["tags"] == {
        "agents": "",
        "prod": "",
    }
    # same numbers as the real trace file it was built from
    assert total(calls(rows), "input_tokens") == 77 + 216
    assert total(rows, "reported_cost") == D("0.00065625")


def test_blob_storage_csv_export() -> None:
    parsed = parse_file(CON / "blob_export_observations.csv")
    rows = parsed.table("spans")
    assert len(rows) == 6 and len(parsed.bad) == 1
    assert "expected 22 fields" in parsed.bad[0].reason
    # identical to the real agno trace it was built from, including rollups across the file
    assert (
        sorted(r["name"] for r in rows if r["usage_scope"] == "rollup") == ["OpenAIChat.invoke"] * 2
    )
    assert total(calls(rows), "input_tokens") == 826 and total(rows, "reported_cost") == D(
        "0.000982199999"
    )
    root = by_name(rows, "Agent.run")
    assert (
        root["start_time"].isoformat() == "2025-06-11T14:01:32.598000+00:00"
    )  # ClickHouse text, UTC
    assert {r["session_id"] for r in rows} == {"35cc6c90-b657-4819-b66c-c931c03ad569"}


def test_traces_page_becomes_chain_spans() -> None:
    rows = spans(CON / "traces_page.json")
    assert [(r["name"], r["span_kind"], r["usage_scope"]) for r in rows] == [
        ("autogen-chat-trace", "chain", "rollup"),
        ("llama-index-trace", "chain", "rollup"),
    ]
    assert total(rows, "reported_cost") == D("0.000025") + D("0.000842499999")
    assert calls(rows) == []  # a trace total is never a billable call


def test_malformed_observation_is_quarantined() -> None:
    parsed = parse_file(CON / "observations_v1_page.json")
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("10", "bad observation: observation needs id, traceId and startTime")
    ]
    assert len(parsed.table("spans")) == 9


def test_bad_usage_value_is_quarantined(tmp_path: Path) -> None:
    doc = json.loads((REAL / "autogen-2025-06-06.trace.json").read_text())
    doc["observations"][1]["usageDetails"]["input"] = "forty"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    parsed = parse_file(path)
    assert len(parsed.table("spans")) == 1 and len(parsed.bad) == 1
    assert "not a number" in parsed.bad[0].reason


def test_corrupt_and_foreign_files_raise(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text((REAL / "autogen-2025-06-06.trace.json").read_text()[:500])
    with pytest.raises(SourceError):
        parse_file(cut, source="langfuse")
    with pytest.raises(SourceError):
        parse_file(
            FIX / "langsmith" / "real" / "js" / "langsmith_js_wrap_openai_default.json",
            source="langfuse",
        )


def _foreign_fixtures() -> list[Path]:
    return [
        p
        for p in sorted(FIX.rglob("*"))
        if p.is_file()
        and p.suffix in (".json", ".jsonl", ".csv")
        and not {"langfuse", "langsmith"} & set(p.relative_to(FIX).parts)
    ]


def test_detection_claims_no_other_format() -> None:
    """OpenAI Costs API pages, OTLP, Claude Code, billing CSVs, LangSmith runs: not Langfuse."""
    foreign = _foreign_fixtures()
    named = {p.name for p in foreign}
    assert {"costs_pages.jsonl", "opentelemetry-proto_examples_trace.json"} <= named
    assert [p for p in foreign if LangfuseExport.detect(Sniff(p))] == []
    for p in (FIX / "langsmith").rglob("*.json"):
        assert not LangfuseExport.detect(Sniff(p))
    for p in (FIX / "langfuse").rglob("*.*"):
        if p.suffix != ".md":
            assert not LangSmithRuns.detect(Sniff(p)), p
            assert detect(p).name == "langfuse"


def test_end_to_end_lake(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    files = sorted(REAL.glob("*.json"))
    res = ingest(files, lake=tmp_path)
    assert res.rows_quarantined == 0 and not [f for f in res.files if f.error]
    # pydantic-ai-2025-06-06 and pydantic-ai-tools-2025-06-06 are one trace (same ids): kept once
    assert res.rows_written == sum(e.spans + e.scores for e in EXPECTED.values()) - 3
    # the files' money (vertex-ai's excluded cost is already 0 in EXPECTED), minus the duplicate
    # pydantic-ai trace (0.0010375) that the lake keeps once
    file_money = sum((e.cost_all for e in EXPECTED.values()), D(0)) - D("0.0010375")
    lake = Lake(tmp_path)
    q = "select sum(reported_cost), count(*) from spans where source_format = 'langfuse'"
    assert Workspace(lake).rows(q) == [(file_money, res.rows_written)]
    n_calls = sum(e.calls for e in EXPECTED.values()) - 1
    assert Workspace(lake).rows("select count(*) from calls where source_format = 'langfuse'") == [(n_calls,)]
    assert ingest(files, lake=tmp_path).rows_written == 0
    again = ingest(files, lake=tmp_path, force=True)
    assert again.rows_written == res.rows_written
    assert Workspace(lake).rows(q) == [(file_money, res.rows_written)]


# -- scores -> evaluation spans (the downgrade analyzer's quality signal) --------------------------


def test_trace_scores_become_evaluation_spans() -> None:
    rows = spans(REAL / "vertex-ai-2025-08-01.trace.json", scores=True)
    # trace 0298935e...: scores hallucination 0.1 (06cedde7..., 12:31:42.621Z) and toxicity 0
    # (3fc56590..., 12:31:41.163Z), both NUMERIC, source EVAL, observationId null
    hall = by_name(rows, "score:hallucination")
    assert (hall["trace_id"], hall["span_id"], hall["parent_span_id"]) == (
        "0298935e31d66d7de9487cac935d7d99",
        "06cedde7-c555-4096-b69b-4e29d55f2d65",
        None,
    )
    assert (hall["span_kind"], hall["operation"], hall["step"]) == (
        "other",
        "evaluation",
        "score:hallucination",
    )
    assert hall["start_time"].isoformat() == "2025-08-01T12:31:42.621000+00:00"
    assert (hall["usage_scope"], hall["usage_source"]) == ("none", "missing")
    assert all(hall.get(c) is None for c in ("input_tokens", "output_tokens", "reported_cost"))
    assert hall["workflow"] == by_name(rows, "generate_content")["workflow"] == "generate_content"
    assert json.loads(hall["attributes"])["attributes"] == {
        "gen_ai.evaluation.name": "hallucination",
        "gen_ai.evaluation.score.value": 0.1,
        "gen_ai.evaluation.source": "EVAL",
    }
    tox = json.loads(by_name(rows, "score:toxicity")["attributes"])["attributes"]
    assert tox["gen_ai.evaluation.score.value"] == 0
    assert len(calls(rows)) == 1  # scores are never calls
    assert "comment" not in json.loads(hall["attributes"])  # the judge's text: keep_text only
    kept = by_name(
        spans(REAL / "vertex-ai-2025-08-01.trace.json", scores=True, keep_text=True), hall["name"]
    )
    assert "plausible description" in json.loads(kept["attributes"])["comment"]


def test_trace_scores_inherit_session_user_tags(tmp_path: Path) -> None:
    doc = json.loads((REAL / "autogen-2025-06-06.trace.json").read_text())
    doc["trace"]["scores"] = [
        {"id": "s-1", "name": "relevance", "value": 0.5, "dataType": "NUMERIC", "source": "API",
         "traceId": doc["trace"]["id"], "observationId": "83517f9062f5ada4",
         "timestamp": "2025-06-06T11:32:00.000Z", "stringValue": None},
    ]  # fmt: skip
    path = tmp_path / "scored.json"
    path.write_text(json.dumps(doc))
    rows = spans(path, scores=True)
    ev = by_name(rows, "score:relevance")
    gen = by_name(rows, "chat gpt-4o")
    for col in ("workflow", "session_id", "user_id", "tags", "trace_id"):
        assert ev[col] == gen[col]
    assert (ev["session_id"], ev["user_id"]) == ("session_abc", "user_123")
    assert ev["parent_span_id"] == gen["span_id"] == "83517f9062f5ada4"


def test_scores_api_page() -> None:
    """v2 scores page (constructed): 7 scores -> 3 spans (NUMERIC on the generation, BOOLEAN and
    NUMERIC on the trace), 3 skipped (CATEGORICAL, CORRECTION, session score), 1 quarantined."""
    path = CON / "scores_v2_page.json"
    assert detect(path).name == "langfuse"
    parsed = parse_file(path)
    rows = parsed.table("spans")
    assert [(r["name"], r["parent_span_id"]) for r in rows] == [
        ("score:correctness", "83517f9062f5ada4"),
        ("score:is_helpful", None),
        ("score:toxicity", None),
    ]
    values = [json.loads(r["attributes"])["attributes"] for r in rows]
    assert [v["gen_ai.evaluation.score.value"] for v in values] == [0.75, 1.0, 0.05]
    assert values[1]["gen_ai.evaluation.score.label"] == "True"  # BOOLEAN -> 0/1
    assert [v["gen_ai.evaluation.source"] for v in values] == ["EVAL", "ANNOTATION", "API"]
    assert {r["user_id"] for r in rows} == {"user_123"}  # the page's nested trace.userId
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("6", "bad score: NUMERIC score 'toxicity' has no numeric value")
    ]
    assert len({r["row_key"] for r in rows}) == 3


def test_otel_evaluation_attributes_survive_without_keep_text(tmp_path: Path) -> None:
    """An OTel evaluation span ingested by Langfuse keeps its score keys in ``otel`` (the path
    the analyzer's SQL reads for Langfuse observations); the explanation (content) does not."""
    doc = json.loads((REAL / "autogen-2025-06-06.trace.json").read_text())
    ev = dict(doc["observations"][0], id="e1", type="SPAN", name="judge",
              parentObservationId="83517f9062f5ada4", usageDetails={}, costDetails={})  # fmt: skip
    ev["metadata"] = {"attributes": {"gen_ai.evaluation.name": "relevance",
                                     "gen_ai.evaluation.score.value": "0.9",
                                     "gen_ai.evaluation.explanation": "secret reasoning"}}  # fmt: skip
    doc["observations"].append(ev)
    path = tmp_path / "otel_eval.json"
    path.write_text(json.dumps(doc))
    otel = json.loads(by_name(spans(path), "judge")["attributes"])["otel"]
    assert otel == {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": "0.9"}


def test_scores_reach_the_downgrade_query(tmp_path: Path) -> None:
    """Lake: the real autogen trace (one gpt-4o call, step 'chat gpt-4o') plus the constructed
    scores page: the downgrade query credits the observation score to the call and the trace
    scores to every call of the trace (here the one call)."""
    from costlab.analyze import stats
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    res = ingest([REAL / "autogen-2025-06-06.trace.json", CON / "scores_v2_page.json"], lake=tmp_path)
    assert res.rows_quarantined == 1
    lake = Lake(tmp_path)
    assert Workspace(lake).rows("select count(*) from calls") == [(1,)]  # scores add no calls
    ws = Workspace(lake)
    con = ws.analysis_connection()
    try:
        got = stats.frame(con, "analyze/downgrade_scores", None, None).rows()
    finally:
        ws.release()
    # (workflow, step, price_model, name, n, mean, var, binary)
    assert [(r[3], r[4], r[5], r[7]) for r in got] == [
        ("correctness", 1, 0.75, False),
        ("is_helpful", 1, 1.0, True),
        ("toxicity", 1, 0.05, False),
    ]
    assert {(r[0], r[1], r[2]) for r in got} == {("autogen-chat-trace", "chat gpt-4o", "gpt-4o")}


def test_rollup_shapes() -> None:
    """Issue 13 §4: a leaf generation with usage is always a call; a parent with a call below it is
    a rollup whatever its numbers equal. constructed/rollup_shapes.json, one trace per shape:
      1 AGENT 1200/80 = its first GENERATION (1200/80); second GENERATION 1500/200; a TOOL
      2 SPAN 300/30 = the sum of GENERATIONs 100/10 and 200/20
      3 GENERATION 500/50 over a GENERATION 500/50: the child is the call
      4 GENERATION 40/4 whose parent is not in the file: a call
      5 GENERATION 60/6 over a GENERATION without usage but with a prompt: the wrapper's usage is
        the call's; the child is not estimated again (it was: 2 calls)
      6 GENERATION 70/7 over a SPAN repeating its usage: a SPAN is no call, so the GENERATION has
        no call below it and is one (it was a rollup: 0 calls)"""
    rows = spans(CON / "rollup_shapes.json")
    per_trace: dict[str, tuple[int, int, int]] = {}
    for r in calls(rows):
        n, i, o = per_trace.get(r["trace_id"][-1], (0, 0, 0))
        per_trace[r["trace_id"][-1]] = (n + 1, i + r["input_tokens"], o + r["output_tokens"])
    assert per_trace == {
        "1": (2, 1200 + 1500, 80 + 200),
        "2": (2, 100 + 200, 10 + 20),
        "3": (1, 500, 50),
        "4": (1, 40, 4),
        "5": (1, 60, 6),
        "6": (1, 70, 7),
    }
    assert sorted(r["name"] for r in rows if r["usage_scope"] == "rollup") == [
        "ChatOpenAI",  # trace 3
        "invoke_agent planner",
        "pipeline",
    ]
    (wrapped,) = [r for r in rows if r["span_id"] == "a500000000000002"]
    assert (wrapped["usage_scope"], wrapped["usage_source"], wrapped.get("input_tokens")) == (
        "none",
        None,
        None,
    )
    assert wrapped["prompt_hash"] is not None  # prompt features kept, only no second estimate
