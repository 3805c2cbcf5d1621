"""LangSmith source: every real SDK payload, the export shapes and each quirk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from costlab import tokens
from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.langfuse import LangfuseExport
from costlab.ingest.langsmith import LangSmithRuns
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
REAL = FIX / "langsmith" / "real"
CON = FIX / "langsmith" / "constructed"

# Read by hand from each file's patch `outputs.usage_metadata` (input_tokens, output_tokens,
# input_token_details.cache_read, output_token_details.reasoning), `outputs.model`,
# `inputs.model` and `outputs.id`; times from post.start_time / patch.end_time (JS: epoch ms).
# None = the file has no usage (streaming without include_usage): estimated from the prompt.
REAL_EXPECTED: dict[str, tuple[Any, ...]] = {
    "python/langsmith_py_wrap_openai_.json": (
        (9, 9, 0, 0),
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHH0KBvLG7Wq3wfSEGQuxh0xE07Fl",
        "2024-10-11T20:58:23.298773+00:00",
        "2024-10-11T20:58:24.417106+00:00",
    ),
    "python/langsmith_py_wrap_openai_reasoning.json": (
        (43, 2497, 0, 1408),
        "o1-mini-2024-09-12",
        "o1-mini",
        "chatcmpl-AHH0LWUyAupsCrDZu564ZHwRbNQeZ",
        "2024-10-11T20:58:24.544431+00:00",
        "2024-10-11T20:58:39.682524+00:00",
    ),
    "python/langsmith_py_wrap_openai_stream.json": (
        (9, 9, 0, 0),
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHH0HKxF2K5Rnu1DJ51k9CPTcerd1",
        "2024-10-11T20:58:20.695375+00:00",
        "2024-10-11T20:58:22.023816+00:00",
    ),
    "python/langsmith_py_wrap_openai_stream_no_usage.json": (
        None,
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHH0Ik2ZQY05uutXjxSaS6C3nvYfy",
        "2024-10-11T20:58:22.254895+00:00",
        "2024-10-11T20:58:23.181899+00:00",
    ),
    # JS: start_time 1728803137170 ms = 2024-10-13T07:05:37.170Z
    "js/langsmith_js_wrap_openai_default.json": (
        (9, 9, 0, 0),
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHmxWgRAkoZJCaH30D7gz5t1OCc30",
        "2024-10-13T07:05:37.170000+00:00",
        "2024-10-13T07:05:38.285000+00:00",
    ),
    "js/langsmith_js_wrap_openai_reasoning.json": (
        (43, 1901, 0, 960),
        "o1-mini-2024-09-12",
        "o1-mini",
        "chatcmpl-AHmxWXSp7oUeT2kkt7kuhLOmfLKDJ",
        "2024-10-13T07:05:38.291000+00:00",
        "2024-10-13T07:05:48.730000+00:00",
    ),
    "js/langsmith_js_wrap_openai_stream.json": (
        (9, 9, 0, 0),
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHmxUqVIsivSmVbmtSHGuij1ld5TY",
        "2024-10-13T07:05:35.809000+00:00",
        "2024-10-13T07:05:36.663000+00:00",
    ),
    "js/langsmith_js_wrap_openai_stream_no_usage.json": (
        None,
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-AHmxU04aGhoVnvv6sBN4AVJ13C0HJ",
        "2024-10-13T07:05:36.672000+00:00",
        "2024-10-13T07:05:37.165000+00:00",
    ),
}


def spans(path: Path, **ctx: Any) -> list[dict[str, Any]]:
    parsed = parse_file(path, ctx=ParseContext(**ctx) if ctx else None)
    assert parsed.source == "langsmith"
    return parsed.table("spans")


def calls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for r in rows if r["span_kind"] in ("llm", "embedding") and r["usage_scope"] == "self"
    ]


def by_name(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (row,) = [r for r in rows if r["name"] == name]
    return row


def test_every_real_sample_has_expectations() -> None:
    found = sorted(str(p.relative_to(REAL)) for p in REAL.rglob("*.json"))
    assert found == sorted(REAL_EXPECTED)


@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_sample(name: str) -> None:
    usage, model, request_model, request_id, start, end = REAL_EXPECTED[name]
    path = REAL / name
    assert detect(path).name == "langsmith"
    parsed = parse_file(path)
    assert parsed.bad == []
    (row,) = parsed.table("spans")  # one run: post + patch merged
    assert (row["span_kind"], row["usage_scope"], row["status"]) == ("llm", "self", "ok")
    assert (row["model"], row["request_model"], row["provider"]) == (model, request_model, "openai")
    assert row["request_id"] == request_id
    assert (row["start_time"].isoformat(), row["end_time"].isoformat()) == (start, end)
    assert row["trace_id"] == row["span_id"] and row["parent_span_id"] is None
    assert (row["workflow"], row["step"]) == ("ChatOpenAI", "ChatOpenAI")
    assert row.get("reported_cost") is None  # the SDK payloads carry no cost
    got = tuple(
        row.get(c)
        for c in ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")
    )
    if usage is not None:
        assert got == usage and row["usage_source"] == "reported"
    else:
        assert row["usage_source"] == "estimated"
        f = tokens.prompt_features([{"role": "user", "content": "howdy"}], model=model)
        out = tokens.count("Howdy! How can I assist you today?", model)
        assert got == (f["input_tokens_estimate"], out, None, None)
        # and the estimate matches what OpenAI reported for the same request in the sibling file
        assert got[:2] == (9, 9)


def test_js_patch_without_id_merges_by_dotted_order() -> None:
    doc = json.loads((REAL / "js" / "langsmith_js_wrap_openai_default.json").read_text())
    assert "id" not in doc["patch"][0] and "end_time" not in doc["post"][0]
    (row,) = spans(REAL / "js" / "langsmith_js_wrap_openai_default.json")
    assert row["span_id"] == "dc34609e-3eeb-459d-bc2a-6fedb01d2e6e" and row["end_time"] is not None


def test_export_page_rollups_and_calls() -> None:
    rows = spans(CON / "export_runs.json")
    assert len(rows) == 9
    # the chain root and the llm-typed Vercel wrapper carry their children's usage
    assert sorted(r["name"] for r in rows if r["usage_scope"] == "rollup") == [
        "ai.generateText",
        "support_agent",
    ]
    billable = calls(rows)
    assert sorted(r["name"] for r in billable) == [
        "Anthropic",
        "ChatAnthropic",
        "ChatOpenAI",
        "ai.generateText.doGenerate",
    ]
    # by hand from the fixture: 1200 (token_usage) + 1150 (usage_metadata) + 8 + (12+4000+500)
    assert sum(r["input_tokens"] for r in billable) == 1200 + 1150 + 8 + 4512
    assert sum(r["output_tokens"] for r in billable) == 70 + 50 + 12 + 300
    assert sum(r["cache_read_tokens"] or 0 for r in billable) == 1024 + 1000 + 4000
    assert sum(r["cache_write_tokens"] or 0 for r in billable) == 100 + 500
    # costs: llm runs' total_cost 0.000333 + 0.00435, doGenerate usage_metadata 0.0000224
    assert sum(r.get("reported_cost") or D(0) for r in billable) == D("0.0047054")
    root = by_name(rows, "support_agent")
    assert (root["input_tokens"], root["output_tokens"], root["reported_cost"]) == (
        2350,
        120,
        D("0.004683"),
    )
    assert root["span_kind"] == "chain" and root["cache_read_tokens"] == 2024


def test_usage_shapes() -> None:
    rows = spans(CON / "export_runs.json")
    openai = [r for r in rows if r["name"] == "ChatOpenAI" and r["usage_scope"] == "self"][0]
    assert (openai["model"], openai["request_model"], openai["request_id"]) == (
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "chatcmpl-XYZ1",  # not LangChain's run-... message id
    )
    claude = by_name(rows, "ChatAnthropic")  # usage_metadata input already inclusive
    assert (claude["input_tokens"], claude["cache_read_tokens"], claude["cache_write_tokens"]) == (
        1150,
        1000,
        100,
    )
    assert (claude["provider"], claude["model"]) == ("anthropic", "claude-3-5-haiku-20241022")
    raw = by_name(rows, "Anthropic")  # raw Anthropic usage: input_tokens excludes the cache
    assert (raw["input_tokens"], raw["cache_write_5m_tokens"], raw["cache_write_1h_tokens"]) == (
        4512,
        500,
        0,
    )
    assert raw["request_id"] == "msg_01ZZ" and raw["model"] == "claude-sonnet-4-5-20250929"


def test_cache_larger_than_input_means_exclusive_input(tmp_path: Path) -> None:
    """Defensive check: a cache read above input_tokens can only be an exclusive input."""
    doc = json.loads((REAL / "python" / "langsmith_py_wrap_openai_.json").read_text())
    um = doc["patch"][0]["outputs"]["usage_metadata"]
    um["input_tokens"], um["input_token_details"] = 12, {"cache_read": 4000, "cache_creation": 50}
    path = tmp_path / "exclusive.json"
    path.write_text(json.dumps(doc))
    (row,) = spans(path)
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
        12 + 4000 + 50,
        4000,
        50,
    )


def test_missing_usage_without_prompt_stays_null() -> None:
    rows = spans(CON / "export_runs.json")
    pending = [r for r in rows if r["name"] == "ChatOpenAI" and r["usage_scope"] != "self"][0]
    assert (pending["usage_scope"], pending["usage_source"], pending["status"]) == (
        "none",
        "missing",
        "unset",
    )
    assert pending.get("input_tokens") is None and pending.get("output_tokens") is None


def test_context_columns() -> None:
    rows = spans(CON / "export_runs.json")
    support = [r for r in rows if r["trace_id"] == "11111111-1111-4111-8111-111111111111"]
    assert {r["workflow"] for r in support} == {"support-bot"}  # metadata "workflow" key
    assert {r["session_id"] for r in support} == {"thread-42"}  # thread_id, not the project id
    assert {r["user_id"] for r in support} == {"cust-17"}
    assert by_name(rows, "support_agent")["tags"] == {"prod": "", "agent": ""}
    assert by_name(rows, "faq_retriever")["status"] == "error"
    assert by_name(rows, "faq_retriever")["span_kind"] == "retrieval"
    assert by_name(rows, "track_order")["span_kind"] == "tool"
    root = json.loads(by_name(rows, "support_agent")["attributes"])
    assert root["project"] == "prod-support"
    # root run name when no workflow key is set
    assert by_name(rows, "Anthropic")["workflow"] == "Anthropic"
    custom = spans(CON / "export_runs.json", config={"workflow_attributes": "ls_provider"})
    assert by_name(custom, "ChatAnthropic")["workflow"] == "anthropic"


def test_dotted_order_gives_parents_and_epoch_ms_times() -> None:
    rows = spans(CON / "export_runs.json")
    child = by_name(rows, "ai.generateText.doGenerate")
    assert child["parent_span_id"] == "77777777-7777-4777-8777-777777777777"
    assert child["start_time"] == datetime(2025, 7, 5, 10, 0, 0, 100000, tzinfo=UTC)


def test_patch_alone_is_still_an_llm_run(tmp_path: Path) -> None:
    doc = json.loads((REAL / "python" / "langsmith_py_wrap_openai_.json").read_text())
    path = tmp_path / "patch_only.json"
    path.write_text(json.dumps({"patch": doc["patch"]}))
    (row,) = spans(path)
    assert (row["span_kind"], row["usage_scope"], row["input_tokens"]) == ("llm", "self", 9)
    assert row["start_time"].isoformat() == "2024-10-11T20:58:23.298773+00:00"  # dotted_order


def test_start_time_from_dotted_order(tmp_path: Path) -> None:
    doc = json.loads((REAL / "python" / "langsmith_py_wrap_openai_.json").read_text())
    del doc["post"][0]["start_time"]
    path = tmp_path / "no_start.json"
    path.write_text(json.dumps(doc))
    (row,) = spans(path)
    assert row["start_time"].isoformat() == "2024-10-11T20:58:23.298773+00:00"


def test_keep_text() -> None:
    (plain,) = spans(REAL / "python" / "langsmith_py_wrap_openai_.json")
    assert plain.get("prompt_text") is None and plain["prompt_hash"]
    (kept,) = spans(REAL / "python" / "langsmith_py_wrap_openai_.json", keep_text=True)
    assert "howdy" in kept["prompt_text"]
    assert kept["completion_text"] == "Howdy! How can I assist you today?"


def test_operations_list_and_bad_operation() -> None:
    parsed = parse_file(CON / "operations_list.json")
    (row,) = parsed.table("spans")
    assert (row["input_tokens"], row["output_tokens"], row["usage_source"]) == (9, 9, "reported")
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("3", "not a LangSmith run (no id or dotted_order)")
    ]


def test_jsonl_export_with_broken_line() -> None:
    parsed = parse_file(CON / "export_runs.jsonl")
    assert [r["usage_scope"] for r in parsed.table("spans")] == ["rollup", "self"]
    assert [b.location for b in parsed.bad] == ["3"] and "unreadable" in parsed.bad[0].reason


def test_bad_token_value_is_quarantined(tmp_path: Path) -> None:
    doc = json.loads((REAL / "python" / "langsmith_py_wrap_openai_.json").read_text())
    doc["patch"][0]["outputs"]["usage_metadata"]["input_tokens"] = "nine"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    parsed = parse_file(path)
    assert parsed.table("spans") == [] and len(parsed.bad) == 1
    assert "not a number" in parsed.bad[0].reason


def test_corrupt_and_foreign_files_raise(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text((REAL / "python" / "langsmith_py_wrap_openai_.json").read_text()[:300])
    with pytest.raises(SourceError):
        parse_file(cut, source="langsmith")
    with pytest.raises(SourceError):
        parse_file(FIX / "langfuse" / "real" / "autogen-2025-06-06.trace.json", source="langsmith")


def test_detection_claims_no_other_format() -> None:
    """OpenAI Costs API pages, OTLP, Langfuse exports, Claude Code, billing files: not LangSmith."""
    for p in sorted(FIX.rglob("*")):
        if p.is_file() and p.suffix in (".json", ".jsonl", ".csv"):
            mine = "langsmith" in p.relative_to(FIX).parts
            assert LangSmithRuns.detect(Sniff(p)) == mine, p
            if mine:
                assert not LangfuseExport.detect(Sniff(p))
                assert detect(p).name == "langsmith"


def test_end_to_end_lake(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    files = sorted(REAL.rglob("*.json")) + [CON / "export_runs.json"]
    res = ingest(files, lake=tmp_path)
    assert (res.rows_written, res.rows_quarantined) == (8 + 9, 0)
    lake = Lake(tmp_path)
    q = (
        "select count(*), sum(input_tokens), sum(reported_cost) from spans "
        "where source_format = 'langsmith' and span_kind = 'llm' and usage_scope = 'self'"
    )
    # 8 real runs (reported input 9, 43, 9 in each of py and js; the 2 no-usage streams estimated
    # at 9) + the 4 constructed calls (6870 input, 0.0047054 USD; see test_export_page_...)
    expected = [(8 + 4, (9 + 43 + 9) * 2 + 9 * 2 + 6870, D("0.0047054"))]
    assert Workspace(lake).rows(q) == expected
    assert ingest(files, lake=tmp_path).rows_written == 0
    again = ingest(files, lake=tmp_path, force=True)
    assert again.rows_written == res.rows_written and Workspace(lake).rows(q) == expected


# -- feedback -> evaluation spans (the downgrade analyzer's quality signal) ------------------------

RUN_A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"  # qa_pipeline (chain root of the trace)
RUN_B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"  # ChatOpenAI with feedback_stats


def _evals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows if r["operation"] == "evaluation"}


def _value(row: dict[str, Any]) -> Any:
    return json.loads(row["attributes"])["attributes"]["gen_ai.evaluation.score.value"]


def test_feedback_stats_become_evaluation_spans() -> None:
    # feedback_runs.json: 3 runs; feedback_stats user_score (root, n 1, avg 1.0), correctness
    # (n 1, 0.8), helpfulness (n 3, avg 0.6667), toxicity (n 1, 0.0), tone (no avg: skipped)
    # -> 3 + 4 = 7 rows
    rows = spans(CON / "feedback_runs.json")
    assert len(rows) == 7
    ev = _evals(rows)
    assert sorted(ev) == [
        "feedback:correctness", "feedback:helpfulness", "feedback:toxicity", "feedback:user_score"
    ]  # fmt: skip
    assert [_value(ev[n]) for n in sorted(ev)] == [0.8, pytest.approx(2 / 3), 0.0, 1.0]
    helpful = ev["feedback:helpfulness"]
    assert json.loads(helpful["attributes"])["score_aggregate_n"] == 3
    assert (helpful["parent_span_id"], helpful["trace_id"]) == (RUN_B, RUN_A)
    assert helpful["span_id"] == f"{RUN_B}:feedback:helpfulness"
    assert helpful["start_time"] == datetime(2025, 7, 6, 8, 0, 1, 500000, tzinfo=UTC)  # run end
    assert ev["feedback:user_score"]["parent_span_id"] == RUN_A
    for r in ev.values():
        assert (r["span_kind"], r["usage_scope"], r["usage_source"]) == ("other", "none", "missing")
        assert (r["workflow"], r["session_id"], r["user_id"]) == ("faq-bot", "t-1", "u-9")
        assert r.get("input_tokens") is None and r.get("reported_cost") is None
    assert sorted(r["span_id"] for r in calls(rows)) == [
        RUN_B, "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
    ]  # fmt: skip


def test_feedback_records() -> None:
    # feedback.jsonl: helpfulness 1, 0.5, 0.5 on run B; thumbs True on the root; a text-only
    # "note" (skipped); correctness 0.9 for a run not in the file and no trace_id (quarantined)
    path = CON / "feedback.jsonl"
    assert detect(path).name == "langsmith"
    parsed = parse_file(path)
    rows = parsed.table("spans")
    assert [(r["name"], _value(r), r["parent_span_id"]) for r in rows] == [
        ("feedback:helpfulness", 1.0, RUN_B),
        ("feedback:helpfulness", 0.5, RUN_B),
        ("feedback:helpfulness", 0.5, RUN_B),
        ("feedback:thumbs", 1.0, RUN_A),  # bool -> 1
    ]
    assert {r["trace_id"] for r in rows} == {RUN_A}
    srcs = [json.loads(r["attributes"])["attributes"]["gen_ai.evaluation.source"] for r in rows]
    assert srcs == ["api", "api", "model", "app"]
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("6", "bad feedback: no trace_id and its run is not in this file; export it with its runs")
    ]


def test_feedback_records_win_over_stats_in_one_file(tmp_path: Path) -> None:
    doc = json.loads((CON / "feedback_runs.json").read_text())
    recs = [json.loads(line) for line in (CON / "feedback.jsonl").read_text().splitlines()][:3]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(doc["runs"] + recs))
    rows = spans(path)
    helpful = [r for r in rows if r["name"] == "feedback:helpfulness"]
    # the aggregate (n 3) is skipped: its 3 records are here; the records take the run's context
    assert sorted(_value(r) for r in helpful) == [0.5, 0.5, 1.0]
    assert {r["workflow"] for r in helpful} == {"faq-bot"}
    assert len(rows) == 7 - 1 + 3


def test_feedback_reaches_the_downgrade_query(tmp_path: Path) -> None:
    """Lake with both files: records replace the helpfulness aggregate (SQL drops aggregates with
    individual scores beside them); root-level feedback is credited to both calls."""
    from costlab.analyze import stats
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    ingest([CON / "feedback_runs.json", CON / "feedback.jsonl"], lake=tmp_path)
    lake = Lake(tmp_path)
    assert Workspace(lake).rows("select count(*) from calls") == [(2,)]  # feedback adds no calls
    ws = Workspace(lake)
    con = ws.analysis_connection()
    try:
        got = stats.frame(con, "analyze/downgrade_scores", None, None).rows()
    finally:
        ws.release()
    assert {(r[0], r[1], r[2]) for r in got} == {("faq-bot", "ChatOpenAI", "gpt-4o-mini")}
    # (name, n, mean, binary):
    #   correctness: aggregate 0.8 on call B (no records) -> n 1
    #   helpfulness: records 1, 0.5, 0.5 on call B -> n 3, mean 2/3 (aggregate dropped)
    #   thumbs (root, True) and user_score (root aggregate 1.0): trace-level -> both calls, n 2
    #   toxicity: aggregate 0.0 on call B -> n 1, binary
    assert [(r[3], r[4], pytest.approx(r[5]), r[7]) for r in got] == [
        ("correctness", 1, 0.8, False),
        ("helpfulness", 3, 2 / 3, False),
        ("thumbs", 2, 1.0, True),
        ("toxicity", 1, 0.0, True),
        ("user_score", 2, 1.0, True),
    ]


def test_rollup_shapes() -> None:
    """Issue 13 §4 (constructed/rollup_shapes.json, one trace per shape, runs listed there):
      a chain 1200/80 = its first llm child (1200/80); second llm 1500/200
      b chain 300/30 = the sum of llm runs 100/10 and 200/20
      c a LangChain llm run (token_usage 500/50) over a ChatModel llm run 500/50: child is the call
      d an llm run 40/4 whose parent is not in the export: a call
      e a traceable llm wrapper 60/6 over a wrapped client streamed without usage: the wrapper's
        usage is the call's, the child is not estimated again (it was: 2 calls)"""
    rows = spans(CON / "rollup_shapes.json")
    per_trace: dict[str, tuple[int, int, int]] = {}
    for r in calls(rows):
        n, i, o = per_trace.get(r["trace_id"][0], (0, 0, 0))
        per_trace[r["trace_id"][0]] = (n + 1, i + r["input_tokens"], o + r["output_tokens"])
    assert per_trace == {
        "a": (2, 1200 + 1500, 80 + 200),
        "b": (2, 100 + 200, 10 + 20),
        "c": (1, 500, 50),
        "d": (1, 40, 4),
        "e": (1, 60, 6),
    }
    assert sorted(r["name"] for r in rows if r["usage_scope"] == "rollup") == [
        "LLMChain-llm",
        "agent",
        "pipeline",
    ]
    (wrapped,) = [r for r in rows if r["span_id"].startswith("eeee") and r["name"] == "ChatOpenAI"]
    assert (wrapped["usage_scope"], wrapped["usage_source"], wrapped.get("input_tokens")) == (
        "none",
        None,
        None,
    )
