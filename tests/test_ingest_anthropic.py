"""Anthropic Admin API usage report -> usage, cost report -> charges.

Fixtures are constructed from the documented shapes (tests/fixtures/anthropic/PROVENANCE.md).
Expected numbers were computed independently from the files with a one-off script:

    python3 -c "import json; from decimal import Decimal as D; d=json.load(open(F));
                print(sum(D(r['amount']) for b in d['data'] for r in b['results']))"

(and the same over the token fields for the usage report), then hard-coded below.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.errors import SourceError, UnknownFormatError
from costlab.ingest import detect
from costlab.ingest.anthropic import AnthropicCost, AnthropicUsage
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "anthropic"
# every other module's fixtures and the repository's real public samples
OTHERS = [Path(__file__).parent / "fixtures", Path(__file__).parent.parent / "sample_data" / "real"]


def total(rows: list[dict], col: str = "billed_cost") -> Decimal:
    return sum((r[col] for r in rows), Decimal(0))


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("usage_report_messages_1d.json", "anthropic_usage"),
        ("usage_report_messages_1h_log.jsonl", "anthropic_usage"),
        ("usage_report_bad_rows.json", "anthropic_usage"),
        ("cost_report_grouped.json", "anthropic_cost"),
        ("cost_report_ungrouped.json", "anthropic_cost"),
        ("cost_report_bad_rows.json", "anthropic_cost"),
    ],
)
def test_detects_fixture(name: str, source: str) -> None:
    assert detect(FIX / name).name == source


def _other_files() -> list[Path]:
    files = [p for d in OTHERS if d.is_dir() for p in sorted(d.rglob("*")) if p.is_file()]
    return [p for p in files if p.suffix.lower() != ".md" and FIX not in p.parents]


def test_does_not_claim_other_providers_files() -> None:
    files = _other_files()
    assert files, "no other files found to check against"
    for p in files:
        sniff = Sniff(p)
        assert not AnthropicUsage.detect(sniff), p
        assert not AnthropicCost.detect(sniff), p


def test_does_not_claim_openai_costs_api_page(tmp_path: Path) -> None:
    # OpenAI's Costs API: start_time buckets and an amount *object* (OpenAI Costs API reference)
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
                        "amount": {"value": 0.06, "currency": "usd"},
                    }
                ],
            }
        ],
        "has_more": False,
    }
    p = tmp_path / "costs.json"
    p.write_text(json.dumps(page))
    assert not AnthropicCost.detect(Sniff(p)) and not AnthropicUsage.detect(Sniff(p))


def test_empty_report_is_claimed_by_file_name(tmp_path: Path) -> None:
    page = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": [],
            }
        ]
    }
    for name, source in (
        ("anthropic_cost_2025-08.json", "anthropic_cost"),
        ("usage_2025-08.json", "anthropic_usage"),
    ):
        p = tmp_path / name
        p.write_text(json.dumps(page))
        assert detect(p).name == source
        parsed = parse_file(p)
        assert not parsed.rows and not parsed.bad


# -- usage report ---------------------------------------------------------------------------


def test_usage_daily_tokens_inclusive_input() -> None:
    p = parse_file(FIX / "usage_report_messages_1d.json")
    rows = p.table("usage")
    assert (len(rows), len(p.bad)) == (5, 0)  # 3 + 2 results; the third bucket is empty
    # file sums: uncached 277300, cache_read 244200, 5m 2548, 1h 13000, output 9400, web searches 13
    assert total(rows, "input_tokens") == 277300 + 244200 + 2548 + 13000 == 537048
    assert total(rows, "cache_read_tokens") == 244200
    assert total(rows, "cache_write_tokens") == 2548 + 13000
    assert total(rows, "cache_write_5m_tokens") == 2548
    assert total(rows, "cache_write_1h_tokens") == 13000
    assert total(rows, "output_tokens") == 9400
    assert sum(int(r["attributes"]["web_search_requests"]) for r in rows) == 13
    assert all(r.get("reasoning_tokens") is None for r in rows)  # thinking is inside output_tokens

    doc = rows[0]  # the documentation's example result
    assert doc["input_tokens"] == 1500 + 200 + 500 + 1000
    assert doc["cache_write_tokens"] == 1500
    assert doc["model"] == doc["model_raw"] == "claude-sonnet-4-20250514"
    assert doc["project_id"] == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
    assert doc["api_key_id"] == "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    assert doc["attributes"] == {"context_window": "0-200k", "web_search_requests": "10"}
    assert (
        doc["provider"] == "anthropic"
        and doc["service_tier"] == "standard"
        and doc["batch"] is False
    )
    assert str(doc["period_start"]) == "2025-08-01 00:00:00+00:00"
    assert str(doc["period_end"]) == "2025-08-02 00:00:00+00:00"

    batch = rows[1]
    assert batch["service_tier"] == "batch" and batch["batch"] is True
    assert batch["project_id"] is None  # null workspace = default workspace (or not grouped)
    assert rows[2]["attributes"]["context_window"] == "200k-1M"
    assert rows[4]["service_tier"] == "priority"
    assert len({r["row_key"] for r in rows}) == 5


def test_usage_missing_part_keeps_totals_null() -> None:
    rows = parse_file(FIX / "usage_report_messages_1h_log.jsonl").table("usage")
    haiku = next(r for r in rows if r["model"] == "claude-3-haiku-20240307")
    # cache_creation is null: the write counts are unknown, so the inclusive input is unknown too
    assert haiku["cache_write_5m_tokens"] is None and haiku["cache_write_1h_tokens"] is None
    assert haiku["cache_write_tokens"] is None and haiku["input_tokens"] is None
    assert haiku["cache_read_tokens"] == 0 and haiku["output_tokens"] == 300
    assert haiku["principal"] == "svcacct_01XyZ"  # service account when there is no user account
    assert haiku["service_tier"] is None and haiku["batch"] is None  # not grouped by tier


def test_usage_newer_dimensions_and_latest_pull_wins_inside_a_file() -> None:
    rows = parse_file(FIX / "usage_report_messages_1h_log.jsonl").table("usage")
    # line 1 brings 10:00 and 11:00, line 2 re-sends 11:00 (higher) and 12:00: the 11:00 of line 1 is dropped
    assert len(rows) == 4
    eleven = [r for r in rows if r["period_start"].hour == 11]
    assert sorted(r["model"] for r in eleven) == [
        "claude-3-haiku-20240307",
        "claude-sonnet-4-5-20250929",
    ]
    sonnet = next(r for r in eleven if r["model"] == "claude-sonnet-4-5-20250929")
    assert sonnet["input_tokens"] == 700 + 30000 and sonnet["output_tokens"] == 1500
    first = rows[0]
    assert first["principal"] == "user_01AbCdEf"
    assert first["attributes"] == {
        "inference_geo": "us",
        "speed": "standard",
        "account_id": "user_01AbCdEf",
        "web_search_requests": "2",
    }
    assert rows[-1]["attributes"]["speed"] == "fast"
    assert total(rows, "output_tokens") == 2100 + 1500 + 300 + 800


def test_replace_scope_is_the_bucket_and_can_name_the_org() -> None:
    rows = parse_file(FIX / "usage_report_messages_1d.json").table("usage")
    assert rows[0]["replace_scope"] == "|2025-08-01T00:00:00+00:00|2025-08-02T00:00:00+00:00"
    ctx = ParseContext(config={"anthropic": {"organization_id": "org-a"}})
    rows = parse_file(FIX / "usage_report_messages_1d.json", ctx=ctx).table("usage")
    assert {r["replace_scope"].split("|")[0] for r in rows} == {"org-a"}


def test_usage_bad_rows_are_quarantined() -> None:
    p = parse_file(FIX / "usage_report_bad_rows.json")
    assert [r["output_tokens"] for r in p.table("usage")] == [30, 7]
    assert [r["input_tokens"] for r in p.table("usage")] == [40 + 20 + 10 + 0, 3 + 0 + 0 + 5]
    reasons = {b.location: b.reason for b in p.bad}
    assert reasons == {
        "data[0].results[1]": "result is not an object",
        "data[0].results[2]": "not a number: 'many'",
        "data[0].results[3]": "cache_read_input_tokens is negative: -5",
        "data[0].results[4]": "cache_creation is not an object",
        "data[1]": "not a timestamp: 'yesterday'",
    }
    assert all(b.raw for b in p.bad)


# -- cost report ----------------------------------------------------------------------------


def test_cost_grouped_money_is_exact() -> None:
    p = parse_file(FIX / "cost_report_grouped.json")
    rows = p.table("charges")
    assert (len(rows), len(p.bad)) == (10, 0)
    # cents: 2025-08-01: 123.45 + 750.00 + 0.06 + 15.009375 + 60.0 + 3750 + 10.00 + 5.000000001 = 4713.519375001
    #        2025-08-02: 2 + 300.5 = 302.5;   total 5016.019375001 cents = 50.16019375001 USD
    assert total(rows) == Decimal("50.16019375001")
    assert total(rows, "effective_cost") == Decimal("50.16019375001")
    assert {r["billing_currency"] for r in rows} == {"USD"}
    assert [r["billed_cost"] for r in rows[:3]] == [
        Decimal("1.2345"),
        Decimal("7.5"),
        Decimal("0.0006"),
    ]
    assert [r["token_type"] for r in rows[:6]] == [
        "input_uncached",
        "output",
        "input_cache_read",
        "input_cache_write_5m",
        "input_cache_write_1h",
        "output",
    ]
    first = rows[0]
    assert (
        first["charge_description"] == first["sku_meter"] == "Claude Sonnet 4 Usage - Input Tokens"
    )
    assert first["service_provider_name"] == "Anthropic" and first["service_name"] == "Claude API"
    assert first["sub_account_id"] == first["project_id"] == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
    assert first["compute_kind"] == "tokens" and first["charge_category"] == "Usage"
    assert first["tags"] == {"context_window": "0-200k"}
    assert (
        first.get("list_cost") is None and first.get("tokens") is None
    )  # the report carries neither
    assert first.get("billing_period_start") is None  # no invoice period in the report
    assert rows[5]["service_tier"] == "batch" and rows[5]["project_id"] is None
    web, code = rows[6], rows[7]
    assert (web["compute_kind"], web["token_type"], web["model"]) == ("tool_calls", None, None)
    assert (code["compute_kind"], code["billed_cost"]) == ("tool_calls", Decimal("0.05000000001"))
    assert rows[8]["tags"] == {"context_window": "200k-1M"}
    assert len({r["row_key"] for r in rows}) == 10


def test_cost_token_type_outside_the_documented_list(tmp_path: Path) -> None:
    """A token_type the cost report may add later is read by its words (the Messages API's
    "cache_creation_input_tokens" is a cache write, TTL unstated -> 5m) or left NULL with the raw
    value in tags; main wrote any unknown value through as token_type."""
    doc = json.loads((FIX / "cost_report_grouped.json").read_text())
    first = doc["data"][0]["results"][0]
    doc["data"] = [dict(doc["data"][0], results=[
        dict(first, token_type="cache_creation_input_tokens", amount="37.5"),
        dict(first, token_type="server_tool_use_tokens_v2", amount="1.0"),
    ])]  # fmt: skip
    path = tmp_path / "cost_report_new_token_types.json"
    path.write_text(json.dumps(doc))
    rows = parse_file(path, source="anthropic_cost").table("charges")
    assert [(r["token_type"], r["compute_kind"], r["billed_cost"]) for r in rows] == [
        ("input_cache_write_5m", "tokens", Decimal("0.375")),  # 37.5 cents
        (None, "tokens", Decimal("0.01")),
    ]
    assert rows[1]["tags"]["costlab.token_type_raw"] == "server_tool_use_tokens_v2"


def test_cost_ungrouped_has_the_same_total() -> None:
    rows = parse_file(FIX / "cost_report_ungrouped.json").table("charges")
    # 4713.519375001 + 302.5 cents
    assert [r["billed_cost"] for r in rows] == [Decimal("47.13519375001"), Decimal("3.025")]
    assert all(
        r["token_type"] is None and r["compute_kind"] is None and r["tags"] is None for r in rows
    )


def test_cost_amount_units_and_rounding(tmp_path: Path) -> None:
    results = [
        {"amount": "0.123456789012345", "currency": "USD", "workspace_id": "a"},  # 17 dp after /100
        {"amount": 12.5, "currency": "usd", "workspace_id": "b"},  # a JSON number, read exactly
        {"amount": "0.1", "workspace_id": "c"},  # no currency: documented as always USD
        {"amount": "-25.00", "currency": "USD", "workspace_id": "d"},  # negative amounts net
    ]
    page = {
        "data": [
            {
                "starting_at": "2025-08-01T00:00:00Z",
                "ending_at": "2025-08-02T00:00:00Z",
                "results": results,
            }
        ]
    }
    p = tmp_path / "c.json"
    p.write_text(json.dumps(page))
    rows = parse_file(p, source="anthropic_cost").table("charges")
    assert [r["billed_cost"] for r in rows] == [
        Decimal("0.001234567890"),  # 0.00123456789012345 rounded half-even at 12 dp
        Decimal("0.125"),
        Decimal("0.001"),
        Decimal("-0.25"),
    ]
    assert [r["billing_currency"] for r in rows] == ["USD"] * 4


def test_cost_bad_rows_are_quarantined() -> None:
    p = parse_file(FIX / "cost_report_bad_rows.json")
    assert [r["billed_cost"] for r in p.table("charges")] == [Decimal("0.125")]
    assert [(b.location, b.reason) for b in p.bad] == [
        ("data[0].results[1]", "not a number: 'twelve'"),
        ("data[0].results[2]", "amount is missing"),
        ("data[0].results[3]", "amount is not a number"),
    ]


# -- broken files ---------------------------------------------------------------------------


def test_corrupt_file_is_a_source_error(tmp_path: Path) -> None:
    text = (FIX / "cost_report_grouped.json").read_text()
    p = tmp_path / "cost_report.json"
    p.write_text(text[: len(text) // 2])  # truncated mid-document
    with pytest.raises(UnknownFormatError):
        detect(p)
    with pytest.raises(SourceError):
        parse_file(p, source="anthropic_cost")
    q = tmp_path / "other.json"
    q.write_text(json.dumps({"object": "list", "items": []}))
    with pytest.raises(SourceError, match="'data' list"):
        parse_file(q, source="anthropic_usage")


def test_broken_jsonl_line_is_a_bad_row(tmp_path: Path) -> None:
    lines = (FIX / "usage_report_messages_1h_log.jsonl").read_text().splitlines()
    p = tmp_path / "log.jsonl"
    p.write_text("\n".join([lines[0], lines[1][:40], '{"no": "data"}']) + "\n")
    parsed = parse_file(p)
    assert len(parsed.table("usage")) == 2  # both buckets of line 1
    assert [b.location for b in parsed.bad] == ["line 2", "line 3"]
    assert parsed.bad[0].reason.startswith("not JSON")
    assert parsed.bad[1].reason == "not a report page (no 'data' list)"


# -- through the lake -----------------------------------------------------------------------


def test_lake_cost_money_and_idempotence(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest

    lake = tmp_path / "lake"
    res = ingest([FIX / "cost_report_grouped.json"], lake=lake)
    assert (res.rows_written, res.rows_quarantined) == (10, 0)
    q = "select billing_currency, sum(billed_cost), count(*) from charges group by 1"
    assert Workspace(lake).rows(q) == [("USD", Decimal("50.16019375001"), 10)]
    again = ingest([FIX / "cost_report_grouped.json"], lake=lake)
    assert again.rows_written == 0
    assert Workspace(lake).rows(q) == [("USD", Decimal("50.16019375001"), 10)]
    # a re-pull of the same days without group_by replaces the buckets instead of doubling them
    ingest([FIX / "cost_report_ungrouped.json"], lake=lake)
    assert Workspace(lake).rows(q) == [("USD", Decimal("50.16019375001"), 2)]


def test_lake_usage_tokens_and_idempotence(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest

    lake = tmp_path / "lake"
    q = "select sum(input_tokens), sum(output_tokens), sum(cache_write_tokens), count(*) from usage"
    ingest([FIX / "usage_report_messages_1d.json"], lake=lake)
    assert Workspace(lake).rows(q) == [(Decimal(537048), Decimal(9400), Decimal(15548), 5)]
    assert ingest([FIX / "usage_report_messages_1d.json"], lake=lake, force=True).rows_written == 5
    assert Workspace(lake).rows(q) == [(Decimal(537048), Decimal(9400), Decimal(15548), 5)]
    assert ingest([FIX / "usage_report_messages_1d.json"], lake=lake).rows_written == 0
