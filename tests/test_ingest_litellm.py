"""LiteLLM proxy spend logs -> spans (source `litellm_spendlogs`).

The fixtures are CONSTRUCTED from litellm==1.110.2 schema.prisma (no public real export exists; see
fixtures/litellm/PROVENANCE.md). Expected numbers were computed independently of costlab with a
one-off stdlib script over each file: rows with a startTime and a numeric spend; distinct by
request_id; billable calls = call_type in (acompletion, completion, anthropic_messages, aembedding),
cache_hit not "true", not (status failure with zero spend); sums of Decimal(spend), prompt_tokens,
completion_tokens, usage_object.prompt_tokens_details.cached_tokens (else
additional_usage_values.cache_read_input_tokens) and usage_object.cache_creation_input_tokens:

  spend_logs_v2.json       rows 7 distinct 7 spend 0.06910026 calls 4 in 7625 out 2970 read 4920 write 1500 calls spend 0.02910026
  spend_logs.jsonl         rows 5 distinct 4 spend 0.0059364  calls 3 in 2598 out 1520 read 1024 write 0    calls spend 0.0059364
  spend_logs_postgres.csv  rows 4 distinct 4 spend 0.01231526 calls 3 in 4044 out 1001 read 2048 write 0    calls spend 0.01231526
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
LL = FIX / "litellm"
V2 = LL / "spend_logs_v2.json"
JSONL = LL / "spend_logs.jsonl"
CSV = LL / "spend_logs_postgres.csv"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "real"
AZ = {"azure_deployments": {"prod-gpt4o": "gpt-4o-2024-11-20"}}


def _spans(path: Path, **config: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse_file(path, ctx=ParseContext(config=config))
    return parsed.table("spans"), parsed.bad


def _by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


def _calls(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = _by_id(spans)  # later duplicate replaces (distinct_duplicates = False)
    return [
        s
        for s in unique.values()
        if s["span_kind"] in ("llm", "embedding") and s["usage_scope"] == "self"
    ]


def _sum(rows: list[dict[str, Any]], col: str) -> Any:
    return sum(r[col] or 0 for r in rows)


# -- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [V2, JSONL, CSV])
def test_detect_own_fixtures_and_no_other_source_claims_them(path: Path) -> None:
    assert detect(path).name == "litellm_spendlogs"
    sniff = Sniff(path)
    claimants = {n for n, cls in sources().items() if cls.detect(sniff)}
    assert claimants == {"litellm_spendlogs"}


def test_detect_claims_no_other_file() -> None:
    roots = [FIX, SAMPLES]
    cls = sources()["litellm_spendlogs"]
    for root in roots:
        for f in root.rglob("*"):
            if not f.is_file() or f.suffix in (".md", ".txt", ".py") or f.parent == LL:
                continue
            if f.parent.name in ("allocation", "analyze"):  # LiteLLM spend logs by design
                continue
            assert not cls.detect(Sniff(f)), f


# -- numbers per file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rows", "bad", "spend", "calls", "inp", "out", "read", "write", "calls_spend"),
    [
        (V2, 7, 2, "0.06910026", 4, 7625, 2970, 4920, 1500, "0.02910026"),
        (JSONL, 5, 2, "0.0059364", 3, 2598, 1520, 1024, 0, "0.0059364"),
        (CSV, 4, 1, "0.01231526", 3, 4044, 1001, 2048, 0, "0.01231526"),
    ],
)
def test_file_numbers(
    path: Path,
    rows: int,
    bad: int,
    spend: str,
    calls: int,
    inp: int,
    out: int,
    read: int,
    write: int,
    calls_spend: str,
) -> None:
    spans, bads = _spans(path, **AZ)
    assert (len(spans), len(bads)) == (rows, bad)
    unique = list(_by_id(spans).values())
    assert sum(s["reported_cost"] for s in unique) == Decimal(spend)  # exact, USD
    assert {s["reported_cost_currency"] for s in unique} == {"USD"}
    c = _calls(spans)
    assert len(c) == calls
    assert (_sum(c, "input_tokens"), _sum(c, "output_tokens")) == (inp, out)
    assert (_sum(c, "cache_read_tokens"), _sum(c, "cache_write_tokens")) == (read, write)
    assert sum(s["reported_cost"] for s in c) == Decimal(calls_spend)
    for s in spans:
        assert s["row_key"] and s["source_line"] and s["start_time"].tzinfo is not None


def test_bad_rows_have_reasons() -> None:
    _, bad = _spans(V2)
    assert [(b.location, b.reason) for b in bad] == [
        ("8", "row has no startTime"),
        ("9", "not a number: 'n/a?'"),
    ]
    _, bad = _spans(JSONL)
    assert bad[0].location == "3" and bad[0].reason.startswith("invalid JSON")
    assert (bad[1].location, bad[1].reason) == ("5", "not a JSON object")
    _, bad = _spans(CSV)
    assert [(b.location, b.reason) for b in bad] == [("4", "expected 36 fields, found 9")]


def test_corrupt_or_wrong_json_is_source_error(tmp_path: Path) -> None:
    broken = tmp_path / "spend.json"
    broken.write_text('[{"request_id": "a", "call_type": "acompletion", "spend": 1, "startTime": ')
    with pytest.raises(SourceError):
        parse_file(broken, source="litellm_spendlogs")
    scalar = tmp_path / "scalar.json"
    scalar.write_text('{"data": 3}')
    with pytest.raises(SourceError):
        parse_file(scalar, source="litellm_spendlogs")


# -- mapping and quirks --------------------------------------------------------------------------


def test_openai_row_mapping() -> None:
    s = _by_id(_spans(V2)[0])["chatcmpl-AbC001"]
    assert (s["provider"], s["model"], s["request_model"]) == (
        "openai",
        "gpt-4o-2024-08-06",
        "gpt-4o",
    )
    assert (s["span_kind"], s["operation"], s["usage_scope"], s["usage_source"]) == (
        "llm",
        "chat",
        "self",
        "reported",
    )
    # prompt_tokens is inclusive: cached tokens are a part, not added
    assert (s["input_tokens"], s["cache_read_tokens"], s["output_tokens"]) == (2200, 1920, 150)
    assert s["reasoning_tokens"] == 0 and s["service_tier"] == "standard"
    assert (s["trace_id"], s["session_id"], s["user_id"]) == ("sess-7f3a", "sess-7f3a", "cust-42")
    assert (s["workflow"], s["step"]) == ("support-bot", "draft_reply")
    assert s["tags"]["team_id"] == "team-support" and s["tags"]["team_alias"] == "Support"
    assert s["tags"]["litellm_user"] == "u-ops" and s["tags"]["prod"] == ""
    assert s["tags"]["ticket"] == "991"  # spend_logs_metadata value kept as text
    assert s["reported_cost"] == Decimal("0.0021825")
    assert str(s["end_time"]) == "2025-06-02 09:15:02.480000+00:00"


def test_anthropic_cache_parts_and_split() -> None:
    s = _by_id(_spans(V2)[0])["msg_01XyZAnthropic"]
    # 12 uncached + 3000 read + 1500 written = 4512, already summed by LiteLLM
    assert (s["input_tokens"], s["cache_read_tokens"], s["cache_write_tokens"]) == (
        4512,
        3000,
        1500,
    )
    assert (s["cache_write_5m_tokens"], s["cache_write_1h_tokens"]) == (1000, 500)
    assert s["reasoning_tokens"] is None  # Anthropic thinking is not broken out
    assert s["workflow"] == "invoice-extract" and s["user_id"] == "u-fin"  # end_user "" -> user
    assert s["trace_id"] == "msg_01XyZAnthropic" and s["session_id"] is None


def test_gateway_cache_hit_is_visible_but_not_billable() -> None:
    spans, _ = _spans(V2)
    hit = _by_id(spans)["chatcmpl-AbC001_cache_hit1748855800.5512"]
    assert (hit["span_kind"], hit["usage_scope"]) == ("llm", "none")
    assert hit["tags"]["gateway_cache_hit"] == "true"
    assert hit["request_id"] == "chatcmpl-AbC001"  # suffix stripped
    assert hit["input_tokens"] == 2200 and hit["reported_cost"] == Decimal("0")
    assert hit not in _calls(spans)
    # JSON boolean and CSV "True" spellings
    assert (
        _by_id(_spans(JSONL)[0])["chatcmpl-vertex-0002_cache_hit1749020800.0"]["usage_scope"]
        == "none"
    )
    assert (
        _by_id(_spans(CSV, **AZ)[0])["chatcmpl-az-1_cache_hit1749117700.77"]["usage_scope"]
        == "none"
    )


def test_failed_request_without_usage_is_not_billable() -> None:
    s = _by_id(_spans(V2)[0])["0b7d2f3e-1111-4c2d-9e8f-aa00bb11cc22"]
    assert (s["status"], s["usage_scope"]) == ("error", "none")
    assert json.loads(s["attributes"])["error_information"]["error_class"] == "RateLimitError"


def test_call_types() -> None:
    by = _by_id(_spans(V2)[0])
    assert (by["emb-7c1f"]["span_kind"], by["emb-7c1f"]["operation"]) == ("embedding", "embeddings")
    img = by["img-55aa"]
    assert (img["span_kind"], img["usage_scope"], img["reported_cost"]) == (
        "other",
        "self",
        Decimal("0.04"),
    )
    r9 = by["chatcmpl-R9triage"]
    assert (r9["output_tokens"], r9["reasoning_tokens"]) == (2400, 2048)
    assert (r9["workflow"], r9["step"]) == ("triage", "classify")  # "k=v" request tags


def test_jsonl_fallbacks_duplicates_and_providers() -> None:
    spans, _ = _spans(JSONL)
    assert len(spans) == 5 and len(_by_id(spans)) == 4  # repeated request replaces
    bed = _by_id(spans)["chatcmpl-bedrock-0001"]
    assert (bed["provider"], bed["model"]) == ("aws.bedrock", "claude-3-5-haiku-20241022")
    assert bed["tags"]["model_raw"] == "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert bed["cache_read_tokens"] == 1024  # from additional_usage_values only
    assert bed["workflow"] == "nightly-etl"  # metadata key matched case-insensitively
    gem = _by_id(spans)["chatcmpl-vertex-0002"]
    assert (gem["provider"], gem["reasoning_tokens"], gem["cache_read_tokens"]) == (
        "google",
        1000,
        0,
    )
    legacy = _by_id(spans)["chatcmpl-legacy-0004"]
    assert legacy["cache_read_tokens"] is None and legacy["cache_write_tokens"] is None  # unknown
    assert str(legacy["start_time"]) == "2024-03-01 12:00:00+00:00"  # naive Postgres time = UTC
    assert legacy["provider"] is None and legacy["user_id"] is None


def test_csv_dump_quirks() -> None:
    spans, _ = _spans(CSV, **AZ)
    first = _by_id(spans)["chatcmpl-az-1"]
    assert first["reported_cost"] == Decimal("0.000015")  # "1.5e-05" read exactly
    assert first["provider"] == "azure" and first["model"] == "gpt-4o-2024-11-20"
    assert str(first["start_time"]) == "2025-06-05 10:00:00.500000+00:00"
    assert first["prompt_hash"] and first["message_tokens"] and first["prefix_block_tokens"]
    assert first.get("prompt_text") is None and first.get("completion_text") is None  # no keep_text
    third = _by_id(spans)["chatcmpl-az-3"]
    assert third["model"] == "gpt-4o-2024-11-20"  # azure/<deployment> mapped by config
    assert third["tags"]["model_raw"] == "azure/prod-gpt4o"
    assert (third["workflow"], third["step"]) == ("ticket-labeler", "summarise")
    assert _by_id(_spans(CSV)[0])["chatcmpl-az-3"]["model"] == "prod-gpt4o"  # without the map


def test_text_only_with_keep_text() -> None:
    parsed = parse_file(CSV, ctx=ParseContext(keep_text=True, config=AZ))
    first = _by_id(parsed.table("spans"))["chatcmpl-az-1"]
    assert "My invoice is wrong." in first["prompt_text"]
    assert first["completion_text"] == "billing"


def test_workflow_attributes_config() -> None:
    by = _by_id(_spans(V2, workflow_attributes=["ticket"])[0])
    assert by["chatcmpl-AbC001"]["workflow"] == "991"
    assert by["msg_01XyZAnthropic"]["workflow"] is None
    by = _by_id(_spans(V2, workflow_attributes="prod")[0])
    assert by["chatcmpl-AbC001"]["workflow"] is None  # a bare tag has no value


def test_exclusive_counts_are_corrected(tmp_path: Path) -> None:
    row = {
        "request_id": "x1",
        "call_type": "acompletion",
        "spend": "0.001",
        "startTime": "2025-01-01T00:00:00Z",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "custom_llm_provider": "anthropic",
        "model": "claude-3-5-haiku-20241022",
        "metadata": {
            "usage_object": {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}
        },
    }
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(row) + "\n")
    (s,), _ = _spans(f)
    assert (s["input_tokens"], s["cache_read_tokens"], s["cache_write_tokens"]) == (130, 100, 20)
    assert json.loads(s["attributes"])["input_tokens_rule"] == "exclusive_corrected"


def test_negative_tokens_are_bad(tmp_path: Path) -> None:
    f = tmp_path / "neg.jsonl"
    rows = [
        {
            "request_id": "a",
            "call_type": "acompletion",
            "spend": 0,
            "startTime": "2025-01-01",
            "prompt_tokens": -3,
        },
        {
            "request_id": "b",
            "call_type": "acompletion",
            "spend": 0,
            "startTime": "2025-01-01",
            "prompt_tokens": 3,
        },
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spans, bad = _spans(f)
    assert [s["span_id"] for s in spans] == ["b"]
    assert bad[0].reason == "negative prompt_tokens: -3"


# -- end to end through the lake -----------------------------------------------------------------


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    res = ingest([V2, JSONL, CSV], lake=lake_dir, config=AZ)
    assert not res.failed and res.rows_quarantined == 5
    lake = Lake(lake_dir)
    # distinct rows: 7 + 4 + 4 spans; spend = sum of the three files' distinct rows
    assert Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans") == [
        (15, Decimal("0.06910026") + Decimal("0.0059364") + Decimal("0.01231526"))
    ]
    assert Workspace(lake).rows(
        "SELECT count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
        "sum(cache_write_tokens), sum(reported_cost), any_value(reported_cost_currency) FROM calls"
    ) == [
        (
            4 + 3 + 3,
            7625 + 2598 + 4044,
            2970 + 1520 + 1001,
            4920 + 1024 + 2048,
            1500,
            Decimal("0.02910026") + Decimal("0.0059364") + Decimal("0.01231526"),
            "USD",
        )
    ]
    assert Workspace(lake).rows("SELECT count(*) FROM spans WHERE tags['gateway_cache_hit'] = 'true'") == [
        (3,)
    ]
    before = Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans")
    again = ingest([V2, JSONL, CSV], lake=lake_dir, config=AZ)
    assert again.rows_written == 0
    assert Workspace(lake).rows("SELECT count(*), sum(reported_cost) FROM spans") == before


def test_batch_cost_rows_are_batch_tier_calls(tmp_path: Path) -> None:
    row = {
        "request_id": "batch_abc_batch_cost",
        "call_type": "aretrieve_batch",
        "spend": "0.5",
        "startTime": "2025-01-02T00:00:00Z",
        "prompt_tokens": 100000,
        "completion_tokens": 20000,
        "custom_llm_provider": "openai",
        "model": "gpt-4o-mini",
    }
    f = tmp_path / "b.jsonl"
    f.write_text(json.dumps(row) + "\n")
    (s,), _ = _spans(f)
    assert (s["span_kind"], s["usage_scope"], s["service_tier"]) == ("llm", "self", "batch")
    assert s["cache_read_tokens"] is None  # no usage object: parts unknown
