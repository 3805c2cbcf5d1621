"""Helicone request logs -> spans (source `helicone`).

The fixtures are CONSTRUCTED from Helicone's code (no public real export exists; see
fixtures/helicone/PROVENANCE.md). Expected numbers were computed independently of costlab with a
one-off stdlib script over each file: records with a request_created_at and a numeric (or empty)
cost; distinct by request_id (response_id in the CSV); billable = not a cache hit
(cache_reference_id not the zero UUID) and not (status >= 400 with no cost and no tokens); input =
prompt_tokens + prompt_cache_read_tokens + prompt_cache_write_tokens (Helicone's prompt_tokens is
exclusive); output = max(completion_tokens, response_body.usage.completion_tokens|output_tokens):

  query_clickhouse.json  rows 6 distinct 6 cost 0.02715506 calls 4 in 7249 out 2940 read 4024 write 1500
  export.jsonl           rows 3 distinct 2 cost 0.0058814  calls 2 in 2548 out 1500 read 1024 write 0
  export_old_writer.csv  rows 3 distinct 3 cost 0.0123875  calls 2 in 1983 out 1001 (no cache columns)
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect, sources
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
HC = FIX / "helicone"
API = HC / "query_clickhouse.json"
JSONL = HC / "export.jsonl"
CSV = HC / "export_old_writer.csv"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "real"
ID = "9f0e0c1a-000{}-4b6e-9a11-00000000000{}"


def _spans(path: Path, **config: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse_file(path, ctx=ParseContext(config=config))
    return parsed.table("spans"), parsed.bad


def _by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


def _calls(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s
        for s in _by_id(spans).values()
        if s["span_kind"] in ("llm", "embedding") and s["usage_scope"] == "self"
    ]


def _sum(rows: list[dict[str, Any]], col: str) -> Any:
    return sum(r[col] or 0 for r in rows)


@pytest.mark.parametrize("path", [API, JSONL, CSV])
def test_detect_own_fixtures_and_no_other_source_claims_them(path: Path) -> None:
    assert detect(path).name == "helicone"
    sniff = Sniff(path)
    assert {n for n, cls in sources().items() if cls.detect(sniff)} == {"helicone"}


def test_detect_claims_no_other_file() -> None:
    cls = sources()["helicone"]
    for root in [FIX, SAMPLES]:
        for f in root.rglob("*"):
            if not f.is_file() or f.suffix in (".md", ".txt", ".py") or f.parent == HC:
                continue
            assert not cls.detect(Sniff(f)), f


@pytest.mark.parametrize(
    ("path", "rows", "bad", "cost", "calls", "inp", "out", "read", "write"),
    [
        (API, 6, 2, "0.02715506", 4, 7249, 2940, 4024, 1500),
        (JSONL, 3, 1, "0.0058814", 2, 2548, 1500, 1024, 0),
        (CSV, 3, 1, "0.0123875", 2, 1983, 1001, 0, 0),
    ],
)
def test_file_numbers(
    path: Path,
    rows: int,
    bad: int,
    cost: str,
    calls: int,
    inp: int,
    out: int,
    read: int,
    write: int,
) -> None:
    spans, bads = _spans(path)
    assert (len(spans), len(bads)) == (rows, bad)
    unique = list(_by_id(spans).values())
    assert sum(s["reported_cost"] or 0 for s in unique) == Decimal(cost)  # exact, USD
    c = _calls(spans)
    assert len(c) == calls
    assert (_sum(c, "input_tokens"), _sum(c, "output_tokens")) == (inp, out)
    assert (_sum(c, "cache_read_tokens"), _sum(c, "cache_write_tokens")) == (read, write)
    assert sum(s["reported_cost"] for s in c) == Decimal(cost)  # unbilled rows cost 0 / NULL


def test_bad_rows_have_reasons() -> None:
    assert [(b.location, b.reason) for b in _spans(API)[1]] == [
        ("7", "record has no request_created_at"),
        ("8", "not a number: 'twelve cents'"),
    ]
    (bad,) = _spans(JSONL)[1]
    assert bad.location == "3" and bad.reason.startswith("invalid JSON")
    assert [(b.location, b.reason) for b in _spans(CSV)[1]] == [
        ("3", "expected 12 fields, found 3")
    ]


def test_unreadable_files_are_source_errors(tmp_path: Path) -> None:
    broken = tmp_path / "h.json"
    broken.write_text('{"data": [{"request_id": "x", "request_created_at": ')
    with pytest.raises(SourceError):
        parse_file(broken, source="helicone")
    nothing = tmp_path / "h.jsonl"
    nothing.write_text('{"request_id": "x"}\n{"request_id": "y"}\n')
    with pytest.raises(SourceError):
        parse_file(nothing, source="helicone")


def test_prompt_tokens_are_exclusive_and_made_inclusive() -> None:
    by = _by_id(_spans(API)[0])
    oa = by[ID.format(1, 1)]
    # 800 fresh + 1024 cache read (OpenAI body processor subtracted cached_tokens)
    assert (oa["input_tokens"], oa["cache_read_tokens"], oa["cache_write_tokens"]) == (
        1824,
        1024,
        0,
    )
    an = by[ID.format(2, 2)]
    assert (an["input_tokens"], an["cache_read_tokens"], an["cache_write_tokens"]) == (
        4512,
        3000,
        1500,
    )
    # a pipeline that stored inclusive counts can say so
    oa2 = _by_id(_spans(API, helicone_prompt_tokens="inclusive")[0])[ID.format(1, 1)]
    assert oa2["input_tokens"] == 800
    assert json.loads(oa2["attributes"])["prompt_tokens_rule"] == "inclusive"


def test_mapping_sessions_users_and_tags() -> None:
    s = _by_id(_spans(API)[0])[ID.format(1, 1)]
    assert (s["provider"], s["model"], s["request_model"]) == (
        "openai",
        "gpt-4o-mini",
        "gpt-4o-mini",
    )
    assert (s["trace_id"], s["session_id"], s["step"]) == ("sess-42", "sess-42", "/answer/draft")
    assert (s["workflow"], s["user_id"], s["status"]) == ("rag-answer", "user-123", "ok")
    assert (
        s["tags"]["environment"] == "prod" and s["tags"]["Helicone-Session-Name"] == "Support chat"
    )
    assert str(s["start_time"]) == "2025-06-02 09:15:00.120000+00:00"  # ClickHouse time, no zone
    assert str(s["end_time"]) == "2025-06-02 09:15:01.900000+00:00"
    attrs = json.loads(s["attributes"])
    assert attrs["time_to_first_token"] == 420 and attrs["delay_ms"] == 1780
    an = _by_id(_spans(API)[0])[ID.format(2, 2)]
    assert (an["provider"], an["model"], an["workflow"], an["step"]) == (
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "invoice-extract",
        "extract",
    )
    assert an["trace_id"] == ID.format(2, 2) and an["session_id"] is None


def test_workflow_rule_and_config() -> None:
    by = _by_id(_spans(API)[0])
    assert by[ID.format(5, 5)]["workflow"] == "triage"  # property "Workflow": case-insensitive
    by = _by_id(_spans(API, workflow_attributes=["Helicone-Property-Environment"])[0])
    assert by[ID.format(1, 1)]["workflow"] == "prod" and by[ID.format(2, 2)]["workflow"] is None
    by = _by_id(_spans(API, workflow_attributes="helicone-session-name")[0])
    assert by[ID.format(1, 1)]["workflow"] == "Support chat"


def test_cache_hit_is_visible_but_not_billable() -> None:
    s = _by_id(_spans(API)[0])[ID.format(3, 3)]
    assert (s["span_kind"], s["usage_scope"], s["reported_cost"]) == ("llm", "none", Decimal("0"))
    assert s["tags"]["gateway_cache_hit"] == "true"
    assert json.loads(s["attributes"])["cache_reference_id"] == ID.format(1, 1)


def test_error_without_usage_is_not_billable() -> None:
    s = _by_id(_spans(API)[0])[ID.format(4, 4)]
    assert (s["status"], s["usage_scope"], s["usage_source"]) == ("error", "none", "missing")
    assert s["input_tokens"] is None and s["reported_cost"] is None  # unknown, not 0


def test_reasoning_recovered_from_the_response_body() -> None:
    s = _by_id(_spans(API)[0])[ID.format(5, 5)]
    # stored completion_tokens 352 excludes reasoning; the provider's usage says 2400 (2048 reasoning)
    assert (s["output_tokens"], s["reasoning_tokens"]) == (2400, 2048)
    assert s["model"] == "o3-mini-2025-01-31" and s["request_model"] == "o3-mini"
    assert s["request_id"] == "chatcmpl-R9triage"  # provider id from the stored body
    assert json.loads(s["attributes"])["output_tokens_rule"] == "response_body.usage"
    assert s["prompt_hash"] and s["prefix_block_tokens"]


def test_embedding_from_the_path() -> None:
    s = _by_id(_spans(API)[0])[ID.format(6, 6)]
    assert (s["span_kind"], s["operation"], s["input_tokens"]) == ("embedding", "embeddings", 13)


def test_export_jsonl_bodies_and_duplicates() -> None:
    spans, _ = _spans(JSONL)
    assert len(spans) == 3 and len(_by_id(spans)) == 2
    s = _by_id(spans)["a1b2c3d4-0001-4000-8000-000000000001"]
    assert s["request_id"] == "msg_01EtlHaiku" and s["input_tokens"] == 2048
    assert (s["session_id"], s["step"], s["workflow"]) == (
        "etl-2025-06-04",
        "/etl/summarise",
        "nightly-etl",
    )
    assert s["message_tokens"] and len(s["message_tokens"]) == 2  # system + user
    assert s.get("prompt_text") is None
    kept = parse_file(JSONL, ctx=ParseContext(keep_text=True))
    s = _by_id(kept.table("spans"))["a1b2c3d4-0001-4000-8000-000000000001"]
    assert "Summarise rows." in s["prompt_text"] and s["completion_text"] == "Two rows."


def test_export_csv_quirks() -> None:
    spans, _ = _spans(CSV)
    by = _by_id(spans)
    first = by["r-0001"]
    assert first["tags"] == {"workflow": "ticket-labeler", "env": "prod"}  # doubled quotes undone
    assert first["workflow"] == "ticket-labeler" and first["user_id"] == "cust-9"
    assert first["input_tokens"] == 31 and first["cache_read_tokens"] is None  # no cache columns
    assert first["prompt_hash"] and first["provider"] is None
    assert json.loads(first["attributes"])["delay_ms"] == 750  # CSV "latency"
    failed = by["r-0003"]
    assert (failed["status"], failed["usage_scope"], failed["reported_cost"]) == (
        "error",
        "none",
        None,
    )


def test_raw_clickhouse_rows_hold_nano_dollars(tmp_path: Path) -> None:
    row = {
        "request_id": "r1",
        "request_created_at": "2025-06-01 00:00:00",
        "organization_id": "org",
        "proxy_key_id": "",
        "status": 200,
        "latency": 100,
        "provider": "OPENAI",
        "model": "gpt-4o-mini",
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_cache_read_tokens": 0,
        "prompt_cache_write_tokens": 0,
        "cost": 123456,
        "properties": {},
    }
    f = tmp_path / "rmt.jsonl"
    f.write_text(json.dumps(row) + "\n")
    assert detect(f).name == "helicone"
    (s,), _ = _spans(f)
    assert s["reported_cost"] == Decimal("0.000123456")


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    res = ingest([API, JSONL, CSV], lake=lake_dir)
    assert not res.failed and res.rows_quarantined == 4
    lake = Lake(lake_dir)
    total = Decimal("0.02715506") + Decimal("0.0058814") + Decimal("0.0123875")
    assert Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans") == [(6 + 2 + 3, total)]
    assert Workspace(lake).rows(
        "SELECT count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
        "sum(cache_write_tokens), sum(reported_cost), any_value(reported_cost_currency) FROM calls"
    ) == [(4 + 2 + 2, 7249 + 2548 + 1983, 2940 + 1500 + 1001, 4024 + 1024, 1500, total, "USD")]
    before = Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans")
    again = ingest([API, JSONL, CSV], lake=lake_dir)
    assert again.rows_written == 0
    assert Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans") == before


def test_manual_logger_tool_and_vector_db_events(tmp_path: Path) -> None:
    base = {
        "request_created_at": "2025-06-01T00:00:00Z",
        "response_status": 200,
        "provider": "CUSTOM",
    }
    rows = [
        {**base, "request_id": "t1", "request_body": {"_type": "tool", "toolName": "search"}},
        {**base, "request_id": "v1", "request_body": {"_type": "vector_db", "operation": "search"}},
    ]
    f = tmp_path / "events.json"
    f.write_text(json.dumps(rows))
    spans, _ = _spans(f)
    assert [(s["span_kind"], s["usage_scope"]) for s in spans] == [
        ("tool", "none"),
        ("retrieval", "none"),
    ]
