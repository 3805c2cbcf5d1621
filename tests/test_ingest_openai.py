"""OpenAI Costs API, Usage API and dashboard cost CSV sources (costlab/ingest/openai.py).

Expected money was computed independently of costlab, e.g. for JSON:
  python3 -c "import json,decimal,collections; ..."  (json.load(parse_float=decimal.Decimal), summing
  amount.value per currency over every bucket/result)
and for CSV with awk, e.g. `awk -F, 'NR>1{s+=$(NF-1)} END{printf "%.8f", s}' FILE` (cost_in_major).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.errors import SourceError, UnknownFormatError
from costlab.ingest import detect
from costlab.ingest.openai import display_model, parse_line_item
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "openai"
CSV_A = FIX / "cost_export_2024-08-01_2024-08-05.csv"  # full column set
CSV_B = FIX / "cost_export_2024-08-04_2024-08-08.csv"  # second download: no organization_* columns
NOV1 = datetime(2024, 11, 1, tzinfo=UTC)
NOV2 = datetime(2024, 11, 2, tzinfo=UTC)


def money_by_currency(rows: list[dict]) -> dict[str, Decimal]:
    out: Counter[str] = Counter()
    for r in rows:
        out[r["billing_currency"]] += r["billed_cost"]
    return dict(out)


# ------------------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("costs_response.example.json", "openai_costs"),
        ("costs_line_items.json", "openai_costs"),
        ("costs_pages.jsonl", "openai_costs"),
        ("costs_pages_array.json", "openai_costs"),
        ("costs_malformed.json", "openai_costs"),
        ("costs_corrupt.json", "openai_costs"),
        ("usage_completions_response.example.json", "openai_usage"),
        ("usage_embeddings_response.example.json", "openai_usage"),
        ("usage_images_response.example.json", "openai_usage"),
        ("usage_vector_stores_response.example.json", "openai_usage"),
        ("usage_all_kinds.jsonl", "openai_usage"),
        ("cost_export_2024-08-01_2024-08-05.csv", "openai_cost_csv"),
        ("cost_export_2024-08-04_2024-08-08.csv", "openai_cost_csv"),
        ("cost_export_cents_only.csv", "openai_cost_csv"),
        ("cost_export_bad_rows.csv", "openai_cost_csv"),
    ],
)
def test_detect(name: str, source: str) -> None:
    assert detect(FIX / name).name == source


@pytest.mark.parametrize(
    "text",
    [
        '{"object": "list", "data": [{"object": "model", "id": "gpt-4o"}]}',
        # Anthropic-style report page: no "object": "page"
        '{"data": [{"starting_at": "2025-01-01T00:00:00Z", "results": []}], "has_more": false}',
        # a page whose buckets are all empty names no result object
        '{"object": "page", "data": [{"object": "bucket", "start_time": 1, "end_time": 2, '
        '"results": []}], "has_more": false, "next_page": null}',
        "timestamp,currency,name,cost\n1722470400.0,usd,GPT-4o,1.0\n",
        "date,cost,currency,project_id\n2024-08-01,1.0,usd,p\n",
    ],
)
def test_detect_does_not_claim_other_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / ("x.json" if text.startswith("{") else "x.csv")
    path.write_text(text)
    with pytest.raises(UnknownFormatError):
        detect(path)


def test_schema_file_is_not_claimed() -> None:
    schemas = FIX / "spec" / "usage_and_costs_schemas.json"  # openai/openai-openapi components
    with pytest.raises(UnknownFormatError):
        detect(schemas)


# ------------------------------------------------------------------------------ Costs API
def test_costs_real_example() -> None:
    parsed = parse_file(FIX / "costs_response.example.json")
    (row,) = parsed.table("charges")
    assert parsed.bad == []
    # file: one result, amount.value 0.06 "usd"
    assert money_by_currency([row]) == {"USD": Decimal("0.06")}
    assert row["effective_cost"] == Decimal("0.06")
    assert (row["charge_period_start"], row["charge_period_end"]) == (NOV1, NOV2)
    assert row["billing_period_start"] == NOV1
    assert row["billing_period_end"] == datetime(2024, 12, 1, tzinfo=UTC)
    assert row["service_provider_name"] == "OpenAI" and row["service_name"] == "OpenAI API"
    assert row["charge_category"] == "Usage"
    # ungrouped: dims NULL, not guessed
    for col in (
        "project_id",
        "api_key_id",
        "model",
        "token_type",
        "compute_kind",
        "consumed_quantity",
    ):
        assert row[col] is None


def test_costs_line_items_money_exact_per_currency() -> None:
    parsed = parse_file(FIX / "costs_line_items.json")
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 13
    # independent: json.load(parse_float=Decimal) sum of amount.value per currency
    assert money_by_currency(rows) == {
        "USD": Decimal("3.265365678901"),
        "EUR": Decimal("12.345"),
    }
    assert all(isinstance(r["billed_cost"], Decimal) for r in rows)


def test_costs_json_numbers_never_pass_through_float(tmp_path: Path) -> None:
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1730419200,
                "end_time": 1730505600,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": v, "currency": "usd"},
                    }
                    for v in ("__0.1__", "__0.2__", "__0.000000000007__", "__-0.05__")
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    text = json.dumps(page).replace('"__', "").replace('__"', "")
    path = tmp_path / "costs.json"
    path.write_text(text)
    rows = parse_file(path).table("charges")
    # 0.1 + 0.2 is 0.30000000000000004 in float; a credit (negative) nets
    assert sum(r["billed_cost"] for r in rows) == Decimal("0.250000000007")
    assert [r["billed_cost"] for r in rows][-1] == Decimal("-0.05")


def by_line_item(rows: list[dict]) -> dict[str | None, dict]:
    return {r["charge_description"]: r for r in rows if r["billing_currency"] == "USD"}


def test_costs_line_item_mapping() -> None:
    rows = by_line_item(parse_file(FIX / "costs_line_items.json").table("charges"))
    r = rows["gpt-4o-mini-2024-07-18, cached input"]
    assert (r["model"], r["token_type"], r["service_tier"]) == (
        "gpt-4o-mini-2024-07-18",
        "input_cache_read",
        "standard",
    )
    assert r["model_raw"] == "gpt-4o-mini-2024-07-18, cached input"
    assert (r["tokens"], r["consumed_unit"], r["compute_kind"]) == (2666666, "Tokens", "tokens")
    assert r["project_id"] == r["sub_account_id"] == "proj_abc"
    assert r["cost_dataset"] == "api"

    batch = rows["gpt-4o-mini-2024-07-18, batch output"]
    assert (batch["token_type"], batch["service_tier"]) == ("output", "batch")
    # quantity_unit 1000_tokens: 41.152 thousand tokens
    assert batch["pricing_quantity"] == Decimal("41.152") and batch["pricing_unit"] == "1000 Tokens"
    assert batch["consumed_quantity"] == Decimal("41152") and batch["tokens"] == 41152

    prio = rows["priority | gpt-4.1-2025-04-14, output, long context"]
    assert (prio["model"], prio["token_type"], prio["service_tier"]) == (
        "gpt-4.1-2025-04-14",
        "output",
        "priority",
    )
    assert prio["sku_meter"] == "output, long context" and prio["consumed_quantity"] is None

    audio = rows["gpt-audio-mini-2025-12-15 audio, input"]
    assert (audio["model"], audio["token_type"]) == ("gpt-audio-mini-2025-12-15", "input_audio")
    assert rows["text-embedding-3-small, input"]["token_type"] == "embedding"
    assert rows["text-embedding-3-small, input"]["billed_cost"] == Decimal("0.00002")

    web = rows["web search tool calls"]
    assert (web["model"], web["token_type"], web["compute_kind"]) == (None, None, "tool_calls")
    assert web["consumed_quantity"] == Decimal("25") and web["consumed_unit"] is None
    store = rows["Vector storage"]
    assert (store["compute_kind"], store["consumed_unit"]) == ("storage", "GiB-Hours")
    whisper = rows["whisper-1, audio"]
    assert (whisper["model"], whisper["token_type"], whisper["compute_kind"]) == (
        "whisper-1",
        None,
        "other",
    )
    assert whisper["consumed_unit"] == "Minutes"

    flex = rows["flex | gpt-5-mini-2025-08-07, cache writes"]
    # a cache write whose TTL the line item does not state is the 5-minute class (the price type
    # costlab.pricing files genai-prices' TTL-less cache_write under); never "input_cache_write"
    assert (flex["token_type"], flex["service_tier"]) == ("input_cache_write_5m", "flex")
    assert flex["project_id"] is None  # second bucket: not grouped into a project
    assert flex["charge_period_start"] == NOV2


@pytest.mark.parametrize(
    ("line_item", "model", "token_type", "tier", "kind"),
    [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06", "input_uncached", "standard", "tokens"),
        ("gpt-4o-2024-08-06, output", "gpt-4o-2024-08-06", "output", "standard", "tokens"),
        (
            "gpt-4o-mini-2024-07-18, batch input",
            "gpt-4o-mini-2024-07-18",
            "input_uncached",
            "batch",
            "tokens",
        ),
        ("gpt-image-1 image, output", "gpt-image-1", "output_image", "standard", "tokens"),
        ("gpt-image-2 text, cached input", "gpt-image-2", "input_cache_read", "standard", "tokens"),
        (
            "gpt-4o-audio-preview, audio output",
            "gpt-4o-audio-preview",
            "output_audio",
            "standard",
            "tokens",
        ),
        (
            "ft:gpt-4o-mini-2024-07-18:acme::x1, input",
            "ft:gpt-4o-mini-2024-07-18:acme::x1",
            "input_uncached",
            "standard",
            "tokens",
        ),
        (
            "gpt-4o-search-preview, web search tool calls",
            "gpt-4o-search-preview",
            None,
            None,
            "tool_calls",
        ),
        ("file search tool calls", None, None, None, "tool_calls"),
        ("code interpreter sessions", None, None, None, "tool_calls"),
        ("something new", None, None, None, "other"),
        (None, None, None, None, None),
    ],
)
def test_parse_line_item(line_item, model, token_type, tier, kind) -> None:  # type: ignore[no-untyped-def]
    got = parse_line_item(line_item)
    assert (got["model"], got["token_type"], got["service_tier"], got["compute_kind"]) == (
        model,
        token_type,
        tier,
        kind,
    )


def test_costs_jsonl_pages() -> None:
    parsed = parse_file(FIX / "costs_pages.jsonl")
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 3
    assert money_by_currency(rows) == {"USD": Decimal("0.300000000001")}
    assert len({r["row_key"] for r in rows}) == 3
    assert sorted(r["source_line"] for r in rows) == [1, 2, 3]


def test_costs_json_array_of_pages() -> None:
    parsed = parse_file(FIX / "costs_pages_array.json")
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 3
    assert money_by_currency(rows) == {"USD": Decimal("6.6")}
    assert [r["project_id"] for r in rows] == ["proj_abc", "proj_def", "proj_abc"]
    assert [r["api_key_id"] for r in rows] == [None, None, "key_abc"]


def test_costs_refetched_bucket_has_the_same_key() -> None:
    a = parse_file(FIX / "costs_pages_array.json").table("charges")[0]
    b = parse_file(FIX / "costs_line_items.json").table("charges")[0]
    assert a["row_key"] != b["row_key"]
    again = parse_file(FIX / "costs_pages_array.json").table("charges")[0]
    assert again["row_key"] == a["row_key"]


def test_costs_malformed_buckets_and_results() -> None:
    parsed = parse_file(FIX / "costs_malformed.json")
    rows = parsed.table("charges")
    assert len(rows) == 1 and rows[0]["billed_cost"] == Decimal("0.5")
    reasons = {b.location: b.reason for b in parsed.bad}
    assert reasons == {
        "page 1 bucket 1 result 2": "amount missing or not an object",
        "page 1 bucket 1 result 3": "not a number: 'abc'",
        "page 1 bucket 1 result 4": "result is not an object",
        "page 1 bucket 1 result 5": "not a costs result: 'organization.usage.embeddings.result'",
        "page 1 bucket 1 result 6": "currency missing",
        "page 1 bucket 2": "bucket start_time missing or not a unix time: None",
        "page 1 bucket 3": "bucket has no results list",
        "page 1 bucket 4": "bucket is not an object",
    }
    assert all(b.raw for b in parsed.bad)


def test_corrupt_json_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not valid JSON"):
        parse_file(FIX / "costs_corrupt.json")
    with pytest.raises(SourceError, match="not valid JSON"):
        parse_file(FIX / "costs_corrupt.json", source="openai_usage")


def test_not_a_page_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"object": "list",\n "data": []}')
    with pytest.raises(SourceError, match="expected an OpenAI API page"):
        parse_file(path, source="openai_costs")
    path.write_text('{"object": "list", "data": []}\n{"object": "page", "data": []}\n')  # JSONL
    with pytest.raises(SourceError, match="line 1: expected an OpenAI API page"):
        parse_file(path, source="openai_costs")


def test_jsonl_stray_line_after_pages_is_bad(tmp_path: Path) -> None:
    lines = (FIX / "costs_pages.jsonl").read_text().splitlines()
    path = tmp_path / "pages.jsonl"
    path.write_text(lines[0] + "\n" + '{"object": "list"}' + "\n")
    parsed = parse_file(path)
    assert len(parsed.table("charges")) == 1
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("line 2", 'expected an OpenAI API page ({"object": "page", "data": [...]})')
    ]


def test_jsonl_corrupt_line_is_bad_others_kept(tmp_path: Path) -> None:
    lines = (FIX / "costs_pages.jsonl").read_text().splitlines()
    path = tmp_path / "pages.jsonl"
    path.write_text(lines[0] + "\n{broken\n" + lines[1] + "\n")
    parsed = parse_file(path)
    assert len(parsed.table("charges")) == 3
    assert [b.location for b in parsed.bad] == ["line 2"]
    assert parsed.bad[0].reason.startswith("not valid JSON")


# ------------------------------------------------------------------------------ Usage API
def test_usage_completions_real_example() -> None:
    parsed = parse_file(FIX / "usage_completions_response.example.json")
    (row,) = parsed.table("usage")
    assert parsed.bad == []
    assert (row["period_start"], row["period_end"]) == (NOV1, NOV2)
    assert (row["provider"], row["usage_kind"]) == ("openai", "completions")
    # input_tokens stays inclusive of cached (400) and cache-write (100) tokens
    assert row["input_tokens"] == 1000
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (400, 100)
    assert (row["output_tokens"], row["requests"]) == (500, 5)
    assert row.get("reasoning_tokens") is None  # the Usage API folds reasoning into output_tokens
    # 2026 spec: input_audio_tokens (50) is uncached only; cached audio (50) added back
    assert row["input_audio_tokens"] == 100 and row["output_audio_tokens"] == 50
    assert row["attributes"]["input_uncached_tokens"] == "500"
    assert row["attributes"]["input_audio_tokens_uncached"] == "50"
    assert row["attributes"]["input_image_tokens"] == "50"
    for col in ("project_id", "principal", "api_key_id", "model", "batch", "service_tier"):
        assert row[col] is None


def test_usage_embeddings_images_vector_stores_real_examples() -> None:
    (emb,) = parse_file(FIX / "usage_embeddings_response.example.json").table("usage")
    assert (emb["usage_kind"], emb["input_tokens"], emb["requests"]) == ("embeddings", 16, 2)
    assert emb["output_tokens"] is None and emb["cache_read_tokens"] is None
    (img,) = parse_file(FIX / "usage_images_response.example.json").table("usage")
    assert (img["usage_kind"], img["quantity"], img["quantity_unit"], img["requests"]) == (
        "images",
        Decimal(2),
        "images",
        2,
    )
    assert img["input_tokens"] is None and img["attributes"] is None
    (vs,) = parse_file(FIX / "usage_vector_stores_response.example.json").table("usage")
    assert (vs["usage_kind"], vs["quantity"], vs["quantity_unit"]) == (
        "vector_stores",
        Decimal(1024),
        "bytes",
    )
    assert vs["requests"] is None


def test_usage_all_kinds() -> None:
    parsed = parse_file(FIX / "usage_all_kinds.jsonl")
    rows = parsed.table("usage")
    assert parsed.bad == [] and len(rows) == 12
    assert len({r["row_key"] for r in rows}) == 12
    kinds = Counter(r["usage_kind"] for r in rows)
    assert kinds == {
        "completions": 3,
        "embeddings": 1,
        "moderations": 1,
        "images": 1,
        "audio_speeches": 1,
        "audio_transcriptions": 1,
        "vector_stores": 1,
        "code_interpreter_sessions": 1,
        "file_searches": 1,
        "web_searches": 1,
    }
    new, old, flex = (r for r in rows if r["usage_kind"] == "completions")
    assert (new["input_tokens"], new["cache_read_tokens"], new["cache_write_tokens"]) == (
        12000,
        4000,
        1000,
    )
    assert new["input_audio_tokens"] == 1000  # 900 uncached + 100 cached audio
    assert (new["project_id"], new["principal"], new["api_key_id"]) == (
        "proj_abc",
        "user-1",
        "key_abc",
    )
    assert (new["model"], new["batch"], new["service_tier"]) == (
        "gpt-4o-mini-2024-07-18",
        False,
        "standard",
    )
    # 2024-shape result: no cache-write field -> NULL (unknown), not 0; audio not adjusted
    assert (old["cache_write_tokens"], old["input_audio_tokens"], old["batch"]) == (None, 0, True)
    assert old["cache_read_tokens"] == 0 and old["principal"] is None
    assert (flex["service_tier"], flex["batch"], flex["cache_read_tokens"]) == ("flex", None, None)
    assert flex["period_start"] == NOV2

    one = {r["usage_kind"]: r for r in rows}
    assert (one["moderations"]["input_tokens"], one["moderations"]["requests"]) == (300, 3)
    assert one["images"]["attributes"] == {"source": "image.generation", "size": "1024x1024"}
    assert (one["audio_speeches"]["quantity"], one["audio_speeches"]["quantity_unit"]) == (
        Decimal(12345),
        "characters",
    )
    assert (
        one["audio_transcriptions"]["quantity"],
        one["audio_transcriptions"]["quantity_unit"],
    ) == (
        Decimal(600),
        "seconds",
    )
    assert one["vector_stores"]["quantity"] == Decimal(1073741824)
    assert (
        one["code_interpreter_sessions"]["quantity"],
        one["code_interpreter_sessions"]["quantity_unit"],
    ) == (
        Decimal(3),
        "sessions",
    )
    fs = one["file_searches"]
    assert (fs["quantity"], fs["quantity_unit"], fs["requests"]) == (Decimal(9), "calls", None)
    assert fs["attributes"] == {"vector_store_id": "vs_abc"}
    ws = one["web_searches"]
    assert (ws["requests"], ws["quantity"], ws["attributes"]) == (
        4,
        Decimal(11),
        {"context_level": "medium"},
    )


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (
            {
                "object": "organization.usage.completions.result",
                "input_tokens": 5,
                "num_model_requests": 1,
            },
            "completions result without output_tokens",
        ),
        (
            {
                "object": "organization.usage.completions.result",
                "input_tokens": 5,
                "output_tokens": 1,
                "num_model_requests": 1,
                "batch": "yes",
            },
            "batch is not a boolean: 'yes'",
        ),
        (
            {
                "object": "organization.usage.embeddings.result",
                "input_tokens": 1.5,
                "num_model_requests": 1,
            },
            "not an integer: Decimal('1.5')",
        ),
        (
            {"object": "organization.costs.result", "amount": {"value": 1, "currency": "usd"}},
            "not a usage result: 'organization.costs.result'",
        ),
        (
            {
                "object": "organization.usage.images.result",
                "images": 1,
                "num_model_requests": 1,
                "model": {"x": 1},
            },
            "expected a string, found dict",
        ),
    ],
)
def test_usage_bad_results(tmp_path: Path, result: dict, reason: str) -> None:
    good = {
        "object": "organization.usage.embeddings.result",
        "input_tokens": 16,
        "num_model_requests": 2,
    }
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1730419200,
                "end_time": 1730505600,
                "results": [good, result],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(page, indent=1))
    parsed = parse_file(path, source="openai_usage")
    assert len(parsed.table("usage")) == 1
    assert [(b.location, b.reason) for b in parsed.bad] == [("page 1 bucket 1 result 2", reason)]


# ------------------------------------------------------------------------------ dashboard CSV
def test_csv_export_full_columns() -> None:
    parsed = parse_file(CSV_A)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 9
    # awk -F, 'NR>1{s+=$(NF-1)} END{printf "%.8f", s}' -> 7.36695679 (cost_in_major)
    assert money_by_currency(rows) == {"USD": Decimal("7.36695679")}
    first = rows[0]
    # cost 12.3456789 cents vs cost_in_major 0.12345679: the dollar column wins
    assert first["billed_cost"] == first["effective_cost"] == Decimal("0.12345679")
    assert first["billing_currency"] == "USD"
    assert first["charge_period_start"] == datetime(2024, 8, 1, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2024, 8, 2, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2024, 9, 1, tzinfo=UTC)
    assert (first["model"], first["model_raw"], first["compute_kind"]) == (
        "gpt-4o-mini",
        "GPT-4o mini",
        "tokens",
    )
    # empty project_id = Default Project: unknown id, name kept
    assert first["project_id"] is None and first["sub_account_name"] == "Default Project"
    assert (first["billing_account_id"], first["billing_account_name"]) == (
        "org-Xyz123",
        "Acme Labs",
    )
    assert first["replace_scope"] == "|2024-08-01"
    ft = rows[3]
    assert (ft["model"], ft["compute_kind"], ft["project_id"]) == (None, "other", "proj_abc123")
    assert ft["replace_scope"] == "proj_abc123|2024-08-02"
    assert {r["service_name"] for r in rows} == {"OpenAI API"}


def test_csv_second_download_column_set() -> None:
    parsed = parse_file(CSV_B)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 7
    # awk -F, 'NR>1{s+=$(NF-1)} END{printf "%.8f", s}' -> 4.81827543
    assert money_by_currency(rows) == {"USD": Decimal("4.81827543")}
    assert {r["billing_account_id"] for r in rows} == {None}
    names = {r["model_raw"]: r for r in rows}
    assert names["GPT-5 nano"]["model"] == "gpt-5-nano"  # model-shaped unknown name: slug guess
    web = names["Web search tool calls"]
    assert (web["model"], web["compute_kind"]) == (None, "tool_calls")


def test_csv_same_line_same_key_across_column_sets() -> None:
    a = {
        (r["charge_period_start"], r["project_id"], r["model_raw"]): r
        for r in parse_file(CSV_A).table("charges")
    }
    b = {
        (r["charge_period_start"], r["project_id"], r["model_raw"]): r
        for r in parse_file(CSV_B).table("charges")
    }
    shared = a.keys() & b.keys()
    assert len(shared) == 3  # 08-04 GPT-4o, 08-04 GPT-4o mini, 08-05 GPT-4o
    for k in shared:
        assert a[k]["row_key"] == b[k]["row_key"]
        assert a[k]["replace_scope"] == b[k]["replace_scope"]


def test_csv_cents_only_export() -> None:
    rows = parse_file(FIX / "cost_export_cents_only.csv").table("charges")
    # awk -F, 'NR>1{s+=$4} END{printf "%.9f", s/100}' -> 2.623456799
    assert money_by_currency(rows) == {"USD": Decimal("2.623456799")}
    assert [r["billed_cost"] for r in rows] == [
        Decimal("0.123456789"),
        Decimal("2.50"),
        Decimal("0.00000001"),
    ]


def test_csv_bad_rows() -> None:
    parsed = parse_file(FIX / "cost_export_bad_rows.csv")
    rows = parsed.table("charges")
    assert money_by_currency(rows) == {"USD": Decimal("0.13250000")}  # lines 2 and 8
    assert [(b.location, b.reason) for b in parsed.bad] == [
        ("3", "timestamp 1722470400.0 is not on date 2024-08-02"),
        ("4", "expected 10 fields, found 9"),
        ("5", "not a number: 'lots'"),
        ("6", "currency missing"),
        ("7", "no timestamp or date"),
    ]


def test_csv_float_epoch_without_date_column(tmp_path: Path) -> None:
    path = tmp_path / "cost.csv"
    path.write_text(
        "timestamp,currency,name,cost,project_id,cost_in_major\n1722902400.0,usd,GPT-4o,5,,0.05\n"
    )
    (row,) = parse_file(path).table("charges")
    assert row["charge_period_start"] == datetime(2024, 8, 6, tzinfo=UTC)
    assert row["billed_cost"] == Decimal("0.05")


def test_csv_legacy_by_user_export(tmp_path: Path) -> None:
    path = tmp_path / "usage_export.csv"
    path.write_text(
        "currency,name,cost,user_id,user_email,cost_in_major,date,timestamp\n"
        "usd,GPT-4,150.0,user-abc,a@example.com,1.50000000,2023-05-01,1682899200\n"
    )
    assert detect(path).name == "openai_cost_csv"
    (row,) = parse_file(path).table("charges")
    assert (row["principal"], row["project_id"], row["model"]) == ("user-abc", None, "gpt-4")
    assert row["replace_scope"] == "user:user-abc|2023-05-01"
    assert row["billed_cost"] == Decimal("1.50000000")


@pytest.mark.parametrize(
    ("name", "model", "kind"),
    [
        ("GPT-4 Turbo", "gpt-4-turbo", "tokens"),
        ("GPT-4o mini", "gpt-4o-mini", "tokens"),
        ("GPT-3.5 Turbo", "gpt-3.5-turbo", "tokens"),
        ("gpt-4o  MINI", "gpt-4o-mini", "tokens"),
        ("Fine-tuning models", None, "other"),
        ("Embedding models", None, "tokens"),
        ("DALL·E 3", "dall-e-3", "other"),
        ("DALL-E 2", "dall-e-2", "other"),
        ("GPT-4.1 nano", "gpt-4.1-nano", "tokens"),
        ("o3 mini", "o3-mini", "tokens"),
        ("GPT-7 ultra", "gpt-7-ultra", "tokens"),
        ("File search storage", None, "storage"),
        ("Something else", None, None),
    ],
)
def test_display_model(name: str, model: str | None, kind: str | None) -> None:
    assert display_model(name) == (model, kind)


# ------------------------------------------------------------------------------ through the lake
def _lake_money(lake_dir: Path, where: str = "true") -> dict[str, Decimal]:

    rows = Workspace(lake_dir).rows(
        f"select billing_currency, sum(billed_cost) from charges where {where} group by 1"
    )
    return {cur: Decimal(str(total)) for cur, total in rows}


def test_lake_costs_exact_and_idempotent(tmp_path: Path) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")
    lake = tmp_path / "lake"
    pipeline.ingest([FIX / "costs_line_items.json"], lake=lake)
    assert _lake_money(lake) == {"USD": Decimal("3.265365678901"), "EUR": Decimal("12.345")}
    again = pipeline.ingest([FIX / "costs_line_items.json"], lake=lake)
    assert again.rows_written == 0
    assert _lake_money(lake) == {"USD": Decimal("3.265365678901"), "EUR": Decimal("12.345")}


def test_lake_usage_real_examples(tmp_path: Path) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")

    lake = tmp_path / "lake"
    files = sorted(FIX.glob("usage_*.json")) + [FIX / "usage_all_kinds.jsonl"]
    pipeline.ingest(files, lake=lake)
    count, tokens = Workspace(lake).rows("select count(*), sum(input_tokens) from usage")[0]
    # 4 example results + 12 constructed; input tokens 1000+16 + 12000+5000+700+2048+300
    assert (count, tokens) == (16, 21064)
    assert pipeline.ingest(files, lake=lake).rows_written == 0


@pytest.mark.parametrize("one_run", [False, True])
def test_lake_overlapping_csv_exports_do_not_double_count(tmp_path: Path, one_run: bool) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")
    lake = tmp_path / "lake"
    if one_run:
        pipeline.ingest([CSV_A, CSV_B], lake=lake)
    else:
        pipeline.ingest([CSV_A], lake=lake)
        assert _lake_money(lake) == {"USD": Decimal("7.36695679")}
        pipeline.ingest([CSV_B], lake=lake)
    # later export (all days, 4.81827543) + earlier export's days 08-01..08-03:
    # awk -F, 'NR>1 && $10<="2024-08-03"{s+=$9} END{printf "%.8f", s}' CSV_A -> 5.71195679
    assert _lake_money(lake) == {"USD": Decimal("10.53023222")}
    # 08-05 Support bot: the earlier export's GPT-4 Turbo line is gone with its day
    day5 = "charge_period_start = TIMESTAMPTZ '2024-08-05 00:00:00+00'"
    assert _lake_money(lake, day5) == {"USD": Decimal("0.35250000")}
    assert pipeline.ingest([CSV_B], lake=lake).rows_written == 0
    assert _lake_money(lake) == {"USD": Decimal("10.53023222")}


def test_lake_refetched_costs_page_replaces_not_adds(tmp_path: Path) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")
    first = (FIX / "costs_pages.jsonl").read_text().splitlines()[0]
    restated = first.replace('"value": 0.1,', '"value": 0.15,')
    assert restated != first
    path = tmp_path / "cron.jsonl"
    path.write_text(first + "\n" + restated + "\n")  # the same day fetched twice, appended
    lake = tmp_path / "lake"
    pipeline.ingest([path], lake=lake)
    assert _lake_money(lake) == {"USD": Decimal("0.15")}
    later = tmp_path / "later.jsonl"
    later.write_text(first.replace('"value": 0.1,', '"value": 0.17,') + "\n")
    pipeline.ingest([later], lake=lake)
    assert _lake_money(lake) == {"USD": Decimal("0.17")}
