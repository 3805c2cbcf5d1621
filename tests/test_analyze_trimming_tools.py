"""Tool schemas: ingest summaries (costlab.tools.*) and the trimming analyzer's tool finding, on
constructed traces (tests/fixtures/tool_schemas).

Tokens (o200k_base, gpt-4o; tests/fixtures/tool_schemas/build.py): one tool with a k-token
description is 35 + k tokens of minified JSON; a list of n tools is sum(35 + k) - (n - 1) + 2.
The big block: 12 tools with k = 150 -> 185 tokens each, 12 x 185 - 11 + 2 = 2,211 tokens.
Window 2025-06-01 .. 2025-06-10 (10 days) -> monthly = window x 3. gpt-4o: $2.50 / MTok input
uncached, $1.25 cache read, $10 output.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixtures.tool_schemas.build import Call, openai_chat, tool, write_langsmith, write_otlp
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab import ingest, tokens
from costlab.analyze import trimming
from costlab.analyze.base import Finding, combine
from costlab.ingest import tool_schemas
from costlab.ingest.tool_schemas import name_id
from costlab.lake import Lake
from costlab.workspace import Workspace

DAY0 = datetime(2025, 6, 1)
BIG = [tool(i, 150) for i in range(1, 13)]
SMALL = [tool(i, 10) for i in range(1, 3)]  # 45 + 45 - 1 + 2 = 91 tokens


def _canon(v: object) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _calls() -> list[Call]:
    out = []
    for k in range(300):  # "plan": every response seen; tool_01 / tool_02 / a text answer
        called = ("tool_01", "tool_02", None)[k // 100]
        out.append(Call(DAY0 + timedelta(days=k % 10, minutes=k), "plan", BIG, called))
    for k in range(100):  # "route": responses not in the trace; 1,024 tokens read from cache
        out.append(Call(DAY0 + timedelta(days=k % 10, minutes=k), "route", BIG, output=False,
                        cache_read=1024))  # fmt: skip
    for k in range(20):  # "act": responses not in the trace, tool_03 executed as a tool span
        out.append(Call(DAY0 + timedelta(days=k % 10, minutes=k), "act", BIG, output=False,
                        executed=["tool_03"]))  # fmt: skip
    for k in range(20):  # "small": a 91-token block, tool_02 (45 tokens) never called
        out.append(Call(DAY0 + timedelta(days=k % 10, minutes=k), "small", SMALL, "tool_01"))
    return out


def _lake(root: Path, keep_text: bool = False) -> Lake:
    ingest([write_otlp(_calls(), root / "calls.jsonl")], lake=root / "lake", keep_text=keep_text)
    return Lake(root / "lake")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return _lake(tmp_path_factory.mktemp("tools"))


@pytest.fixture(scope="module")
def result(lake: Lake) -> trimming.AnalyzerResult:
    return trimming.analyze(lake, config={})


def _one(res: trimming.AnalyzerResult, step: str) -> Finding:
    (f,) = [f for f in res.findings if f.step == step and "tool" in f.title]
    return f


def _attrs(lake: Lake, step: str) -> list[dict[str, Any]]:
    rows = Workspace(lake).rows("SELECT attributes FROM spans WHERE step = ? AND span_kind = 'llm'", [step])
    return [json.loads(r[0]) for r in rows]


def _tools(a: dict[str, Any]) -> dict[str, Any]:
    return dict(a["costlab.tools"])


def test_block_tokens_by_hand() -> None:
    assert tokens.count(_canon(tool(1, 150)), "gpt-4o") == 185
    assert tokens.count(_canon(BIG), "gpt-4o") == 12 * 185 - 11 + 2 == 2211
    assert tokens.count(_canon(SMALL), "gpt-4o") == 91


def test_ingested_summary(lake: Lake) -> None:
    got = _attrs(lake, "plan")
    assert len(got) == 300
    a = got[0]
    t = _tools(a)
    assert t["count"] == 12
    assert t["tokens"] == 2211
    assert t["hash"] == hashlib.sha256(_canon(BIG).encode()).hexdigest()
    assert t["tool_tokens"] == [185] * 12
    assert t["ids"] == [name_id(f"tool_{i:02d}") for i in range(1, 13)]
    assert "names" not in t  # names only with keep_text
    assert "gen_ai.tool.definitions" not in a["attributes"]  # the raw schema is not stored
    called = sorted({tuple(_tools(x)["called"]) for x in got})
    assert called == sorted([(), (name_id("tool_01"),), (name_id("tool_02"),)])
    assert len({_tools(x)["hash"] for x in got}) == 1  # the repeated block is recognisable
    route = _tools(_attrs(lake, "route")[0])
    assert "called" not in route  # no response in the trace: tool use not observable


def test_keep_text_stores_names(tmp_path: Path) -> None:
    path = write_otlp([Call(DAY0, "plan", BIG, "tool_01")], tmp_path / "c.jsonl")
    ingest([path], lake=tmp_path / "lake", keep_text=True)
    (a,) = _attrs(Lake(tmp_path / "lake"), "plan")
    assert _tools(a)["names"] == [f"tool_{i:02d}" for i in range(1, 13)]
    assert "gen_ai.tool.definitions" in a["attributes"]


def test_never_called_tools_validated(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "plan")
    ev = f.evidence
    assert (ev["tools_declared"], ev["tool_tokens_per_call"], ev["calls_with_tools"]) == (12, 2211, 300)
    assert (ev["observed_calls"], ev["tools_used"], ev["tools_never_called"]) == (300, 2, 10)
    # 10 never-called tools x 185 tokens = 1,850 tokens a call
    assert ev["never_called_tokens_per_call"] == 1850
    assert ev["share_of_input"] == pytest.approx(2211 / 5000)  # 0.4422
    assert ev["call_rate_upper_bound_95"] == 0.01  # rule of three: 3 / 300
    assert ev["never_called_tools"] == sorted(name_id(f"tool_{i:02d}") for i in range(3, 13))
    # nothing read from cache: high = 300 calls x 1,850 x $2.5e-6 = $1.3875 -> x3 = $4.1625;
    # low (the block fully cache-read) = 300 x 1,850 x $1.25e-6 = $0.69375 -> x3 = $2.08125.
    assert f.validated and f.confidence == "medium" and f.potential_savings_usd is None
    assert (f.monthly_savings_usd.low, f.monthly_savings_usd.high) == (Decimal("2.08"), Decimal("4.16"))
    # base: 300 x (5,000 x 2.5e-6 + 50 x 1e-5) = $3.90 -> x3 = $11.70; combine = 11.70 x 4.1625/11.70
    assert f.base_monthly_cost_usd == Decimal("11.70")
    assert combine([f]).high == Decimal("4.16")


def test_oversized_block_priced_after_caching(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "route")
    assert f.evidence["observed_calls"] == 0 and "tools_never_called" not in f.evidence
    assert f.evidence["cached_share_of_tool_tokens"] == pytest.approx(1024 / 2211, abs=1e-4)
    # positions 0..1,023 of the 2,211-token block read from cache, 1,187 uncached:
    # 1,024 x 1.25e-6 + 1,187 x 2.5e-6 = $0.0042475 a call; 100 calls = $0.42475.
    # tokens above the 1,000 target: 1,211 / 2,211 of it = $0.2326424; low 25% x3 = $0.174 -> 0.17,
    # high 60% x3 = $0.4188 -> 0.42. Not validated: a content edit until evals pass.
    assert not f.validated and f.confidence == "low"
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (Decimal("0.17"), Decimal("0.42"))
    assert f.monthly_savings_usd.high == Decimal("0.00") and combine([f]).high == Decimal("0.00")


def test_tool_spans_count_as_used(result: trimming.AnalyzerResult) -> None:
    f = _one(result, "act")
    # no responses, but each trace has an execute_tool span for tool_03: 20 observed calls,
    # 11 never-called tools x 185 = 2,035 tokens a call. 20 < 300 observed: potential only.
    assert (f.evidence["observed_calls"], f.evidence["tools_never_called"]) == (20, 11)
    assert not f.validated and f.confidence == "low"
    # high 20 x 2,035 x 2.5e-6 = $0.10175 x3 = $0.30525 -> 0.31; low at 1.25e-6: $0.152625 -> 0.15
    assert f.potential_savings_usd is not None
    assert (f.potential_savings_usd.low, f.potential_savings_usd.high) == (Decimal("0.15"), Decimal("0.31"))


def test_small_block_no_finding(result: trimming.AnalyzerResult) -> None:
    # 91 tokens a call (< 1,500) and the never-called tool_02 is 45 tokens a call (< 100)
    assert not [f for f in result.findings if f.step == "small"]
    assert result.summary["calls_with_tool_definitions"] == 440


def test_thresholds_from_config(lake: Lake) -> None:
    cfg = {"analyze": {"trimming": {"tools_min_tokens": 3000, "tools_validate_calls": 1000}}}
    res = trimming.analyze(lake, config=cfg)
    assert not [f for f in res.findings if f.step == "route"]  # 2,211 < 3,000
    assert not _one(res, "plan").validated  # 300 observed calls < 1,000


def test_keep_text_names_never_called(tmp_path: Path) -> None:
    res = trimming.analyze(_lake(tmp_path, keep_text=True), config={})
    f = _one(res, "plan")
    assert f.evidence["never_called_tools"] == [f"tool_{i:02d}" for i in range(3, 13)]
    assert f.evidence["never_called_tools_named"] is True


def test_openinference_and_langsmith(tmp_path: Path) -> None:
    chat = [openai_chat(t) for t in BIG]  # {"type": "function", "function": {...}}
    want = hashlib.sha256(_canon(chat).encode()).hexdigest()
    otlp = write_otlp([Call(DAY0, "oi", BIG, "tool_05", openinference=True)], tmp_path / "oi.jsonl")
    ls = write_langsmith(BIG, "tool_07", tmp_path / "ls.json")
    ingest([otlp, ls], lake=tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    (oi,) = _attrs(lake, "oi")
    (run,) = _attrs(lake, "ChatOpenAI")
    for a, hit in ((oi, "tool_05"), (run, "tool_07")):
        t = _tools(a)
        assert t["count"] == 12
        assert t["hash"] == want  # same definitions, same hash in both formats
        assert t["tokens"] == tokens.count(_canon(chat), "gpt-4o")
        assert t["called"] == [name_id(hit)]
    assert not any(k.startswith("llm.tools.") for k in oi["attributes"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "function", "type", "tool_calls", "toolCalls", "tools",
                         "function_declarations", "tool", "json_schema", "toolName", "0"]),
        kids, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_tool_helpers_never_raise_on_odd_input(defs: Any, out: Any) -> None:
    attrs = {"gen_ai.tool.definitions": defs, "llm.tools.0.tool.json_schema": out,
             "model_request_parameters": defs}  # fmt: skip
    defined = tool_schemas.definitions(attrs) or tool_schemas.from_request(defs)
    got = tool_schemas.summary(defined, "gpt-4o", True, tool_schemas.called(out))
    if got:
        assert got["costlab.tools"]["count"] == len(got["costlab.tools"]["ids"])
