"""Google Cloud Billing export (BigQuery standard/detailed) -> charges.

Fixtures are constructed from the documented schema (tests/fixtures/gcp/PROVENANCE.md). Expected
money was computed independently from the files with one-off scripts, e.g. for the JSONL:

    python3 -c "import json; from decimal import Decimal as D
    rows=[json.loads(l, parse_float=D) for l in open(F)]
    print(sum(r['cost'] + sum((c['amount'] for c in r['credits']), D(0)) for r in rows))"

(for the CSV the same over csv.DictReader with json.loads(row['credits'] or '[]')), then hard-coded.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError, UnknownFormatError
from costlab.ingest import detect
from costlab.ingest.base import Sniff
from costlab.ingest.gcp import GcpBilling, _invoice_period, _time, _token_count, sku_facts
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "gcp"
STANDARD = FIX / "gcp_billing_export_v1_standard.jsonl"
DETAILED_EUR = FIX / "gcp_billing_export_resource_v1_eur.json"
CSV_JPY = FIX / "gcp_billing_export_v1_jpy.csv"
# every other module's fixtures and the repository's real public samples
OTHERS = [Path(__file__).parent / "fixtures", Path(__file__).parent.parent / "sample_data" / "real"]


def total(rows: list[dict[str, Any]], col: str = "billed_cost") -> Decimal:
    return sum((r[col] for r in rows if r.get(col) is not None), Decimal(0))


def write_parquet(src: Path, dst: Path) -> None:
    """The JSONL rows as `bq extract --destination_format PARQUET` lays them out (nested structs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s, f64, ts = pa.string(), pa.float64(), pa.timestamp("us", tz="UTC")
    kv = pa.list_(pa.struct([("key", s), ("value", s)]))
    schema = pa.schema(
        [
            ("billing_account_id", s),
            ("service", pa.struct([("id", s), ("description", s)])),
            ("sku", pa.struct([("id", s), ("description", s)])),
            ("usage_start_time", ts),
            ("usage_end_time", ts),
            (
                "project",
                pa.struct(
                    [("id", s), ("number", s), ("name", s), ("labels", kv), ("ancestry_numbers", s)]
                ),
            ),
            ("labels", kv),
            ("system_labels", kv),
            ("location", pa.struct([("location", s), ("country", s), ("region", s), ("zone", s)])),
            (
                "tags",
                pa.list_(
                    pa.struct(
                        [("key", s), ("value", s), ("inherited", pa.bool_()), ("namespace", s)]
                    )
                ),
            ),
            ("export_time", ts),
            ("cost", f64),
            ("currency", s),
            ("currency_conversion_rate", f64),
            (
                "usage",
                pa.struct(
                    [
                        ("amount", f64),
                        ("unit", s),
                        ("amount_in_pricing_units", f64),
                        ("pricing_unit", s),
                    ]
                ),
            ),
            (
                "credits",
                pa.list_(
                    pa.struct(
                        [("name", s), ("amount", f64), ("full_name", s), ("id", s), ("type", s)]
                    )
                ),
            ),
            ("invoice", pa.struct([("month", s), ("publisher_type", s)])),
            ("cost_type", s),
            (
                "adjustment_info",
                pa.struct([("id", s), ("description", s), ("mode", s), ("type", s)]),
            ),
            ("cost_at_list", f64),
            ("transaction_type", s),
            ("seller_name", s),
        ]
    )

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.removesuffix(" UTC")).replace(tzinfo=UTC)

    records = []
    for line in src.read_text().splitlines():
        r = json.loads(line)
        r.pop("_comment", None)
        for k in ("usage_start_time", "usage_end_time", "export_time"):
            r[k] = when(r[k])
        records.append(r)
    pq.write_table(pa.Table.from_pylist(records, schema=schema), dst)


# -- detection ------------------------------------------------------------------------------


def test_detects_every_variant(tmp_path: Path) -> None:
    for p in (STANDARD, DETAILED_EUR, CSV_JPY, FIX / "gcp_bad_rows.jsonl"):
        assert detect(p).name == "gcp_billing", p
    pq_path = tmp_path / "billing.parquet"
    write_parquet(STANDARD, pq_path)
    assert detect(pq_path).name == "gcp_billing"


def test_does_not_claim_other_providers_files() -> None:
    files = [p for d in OTHERS if d.is_dir() for p in sorted(d.rglob("*")) if p.is_file()]
    files = [p for p in files if p.suffix.lower() != ".md" and FIX not in p.parents]
    assert files
    for p in files:
        assert not GcpBilling.detect(Sniff(p)), p


# -- the fixtures' money, to the last decimal, per currency -----------------------------------


def test_standard_jsonl_money_and_rows() -> None:
    p = parse_file(STANDARD)
    rows = p.table("charges")
    assert (len(rows), len(p.bad)) == (10, 0)
    # billed = cost + credits per row:
    # (1.5-0.5) + (1.5-0.5-0.12345) + 0.3 + 2.5 + 1.0 + (0.71-0.071) + 0.1 + 0.5 + (-0.0001) + (-0.2)
    # = 1.0 + 0.87655 + 0.3 + 2.5 + 1.0 + 0.639 + 0.1 + 0.5 - 0.0001 - 0.2 = 6.71545
    assert total(rows) == Decimal("6.71545")
    assert total(rows, "effective_cost") == Decimal("6.71545")
    # cost before credits 7.9099, credits -(0.5 + 0.5 + 0.12345 + 0.071) = -1.19445
    assert total(rows, "contracted_cost") == Decimal("7.9099")
    assert {r["billing_currency"] for r in rows} == {"USD"}
    assert len({r["row_key"] for r in rows}) == 10
    assert all(r.get("replace_scope") is None for r in rows)

    first = rows[0]
    assert first["billed_cost"] == Decimal("1.0") and first["contracted_cost"] == Decimal("1.5")
    assert (first["model"], first["token_type"], first["tokens"]) == (
        "gemini-2.5-pro",
        "input_uncached",
        1200000,
    )
    assert (first["service_tier"], first["compute_kind"]) == ("standard", "tokens")
    assert first["model_raw"] == first["sku_meter"] == first["charge_description"]
    assert first["sku_id"] == "A121-5F2B-4C3D" and first["service_name"] == "Vertex AI"
    assert first["service_category"] == "AI and Machine Learning"
    assert first["billing_account_id"] == "01A2B3-C4D5E6-F7A8B9"
    assert first["sub_account_id"] == first["project_id"] == "acme-genai-prod"
    assert first["sub_account_name"] == "ACME GenAI Prod"
    assert first["region_id"] == "us-central1"
    assert (first["consumed_quantity"], first["consumed_unit"]) == (Decimal(1200000), "count")
    assert (first["pricing_quantity"], first["pricing_unit"]) == (Decimal(1200000), "count")
    assert first["tags"] == {
        "team": "ml-platform",
        "cost-center": "cc-42",
        "workflow": "support-bot",
        "env": "prod",
    }
    assert first["charge_period_start"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2025, 6, 1, 11, tzinfo=UTC)
    assert first["export_time"] == datetime(2025, 6, 1, 14, 5, 12, 345678, tzinfo=UTC)
    assert (first["charge_category"], first["charge_frequency"]) == ("Usage", "Usage-Based")
    assert first["service_provider_name"] == first["host_provider_name"] == "Google Cloud"
    assert first["cost_dataset"] == "billed"


def test_standard_jsonl_quirks() -> None:
    rows = parse_file(STANDARD).table("charges")
    by_sku = [(r["sku_meter"], r) for r in rows]
    # two credits on one row are both folded in: 1.5 - 0.5 - 0.12345
    assert rows[1]["billed_cost"] == Decimal("0.87655") and rows[1]["token_type"] == "output"
    # "Input Text Caching" is a discounted cache read
    assert (rows[2]["model"], rows[2]["token_type"], rows[2]["tokens"]) == (
        "gemini-2.5-flash",
        "input_cache_read",
        4000000,
    )
    # thinking is billed inside the output SKU; "Batch Predictions" is the batch tier
    assert (rows[3]["token_type"], rows[3]["service_tier"]) == ("output", "batch")
    assert rows[3]["tags"]["workflow"] == "nightly-eval"
    # cache storage is storage, not tokens
    assert (rows[4]["token_type"], rows[4]["tokens"], rows[4]["compute_kind"]) == (
        None,
        None,
        "storage",
    )
    # GPU SKU; system labels reach tags; a SUD credit nets
    gpu = rows[5]
    assert (gpu["compute_kind"], gpu["billed_cost"], gpu["model"]) == (
        "gpu_hours",
        Decimal("0.639"),
        None,
    )
    assert gpu["tags"]["compute.googleapis.com/machine_spec"] == "g2-standard-4"
    # the late-arriving row (same hour, SKU and labels, newer export_time) is kept beside the first one
    late = [r for sku, r in by_sku if sku == "Gemini 2.5 Pro Text Input - Predictions"]
    assert [r["billed_cost"] for r in late] == [Decimal("1.0"), Decimal("0.1")]
    assert late[0]["row_key"] != late[1]["row_key"]
    # tax / rounding error / adjustment
    tax, rounding, adj = rows[7], rows[8], rows[9]
    assert (tax["charge_category"], tax["compute_kind"], tax["token_type"]) == ("Tax", None, None)
    assert (rounding["charge_category"], rounding["billed_cost"]) == (
        "Adjustment",
        Decimal("-0.0001"),
    )
    assert (adj["charge_category"], adj["charge_class"]) == ("Adjustment", "Correction")
    assert (adj["billed_cost"], adj["tokens"]) == (Decimal("-0.2"), -20000)  # negative rows net
    # invoice.month 202506 is a Pacific-time month (PDT = UTC-7)
    assert {(r["billing_period_start"], r["billing_period_end"]) for r in rows} == {
        (datetime(2025, 6, 1, 7, tzinfo=UTC), datetime(2025, 7, 1, 7, tzinfo=UTC))
    }


def test_detailed_json_eur() -> None:
    p = parse_file(DETAILED_EUR)
    rows = p.table("charges")
    assert (len(rows), len(p.bad)) == (4, 0)
    # (0.345 - 0.0345) + 0.276 + 0.5123456789 + (0.092 - 0.092) = 1.0988456789 EUR
    assert total(rows) == Decimal("1.0988456789")
    assert {r["billing_currency"] for r in rows} == {"EUR"}
    # cost_at_list: 0.3795 + 0.3036 + 0.5123456789 + 0.092 = 1.2874456789
    assert total(rows, "list_cost") == Decimal("1.2874456789")
    first = rows[0]
    assert (
        first["resource_name"]
        == "projects/555000111222/locations/europe-west4/publishers/google/models/gemini-2.0-flash"
    )
    assert first["resource_id"].startswith("//aiplatform.googleapis.com/projects/555000111222/")
    assert (first["model"], first["token_type"], first["tokens"]) == (
        "gemini-2.0-flash",
        "input_uncached",
        2500000,
    )
    # resource-manager tags are keyed namespace/key; labels win over them on a clash
    assert first["tags"] == {
        "555000111222/environment": "production",
        "workflow": "invoice-extractor",
    }
    assert (rows[1]["model"], rows[1]["token_type"]) == ("gemini-2.5-flash-lite", "input_audio")
    assert (rows[2]["compute_kind"], rows[2]["token_type"]) == ("vector_db", None)
    free = rows[3]  # fully covered by the free tier: billed 0, list price kept
    assert (free["billed_cost"], free["list_cost"], free["contracted_cost"]) == (
        Decimal(0),
        Decimal("0.092"),
        Decimal("0.092"),
    )
    assert (free["model"], free["token_type"]) == ("gemini-2.5-pro", "output")
    assert first["charge_period_start"] == datetime(2025, 6, 2, 8, tzinfo=UTC)  # no zone = UTC


def test_csv_jpy_flattened_columns() -> None:
    p = parse_file(CSV_JPY)
    rows = p.table("charges")
    assert (len(rows), len(p.bad)) == (5, 0)
    # (45.5 - 10.25) + 75.8 + 12.345 + (3.2 - 3.2) + 13.0 = 136.395 JPY
    assert total(rows) == Decimal("136.395")
    assert {r["billing_currency"] for r in rows} == {"JPY"}
    first = rows[0]
    assert first["tags"] == {"team": "jp-apps", "workflow": "chat", "note": 'a, b "quoted"'}
    assert (first["model"], first["token_type"], first["tokens"]) == (
        "gemini-2.5-flash",
        "input_uncached",
        1000000,
    )
    assert first["sku_id"] == "7EBE-3B46-F75C" and first["region_id"] == "asia-northeast1"
    storage = rows[2]  # empty credits cell = no credits; 1.5e+15 byte-seconds read exactly
    assert (storage["billed_cost"], storage["compute_kind"]) == (Decimal("12.345"), "storage")
    assert storage["consumed_quantity"] == Decimal(1500000000000000)
    assert (rows[3]["billed_cost"], rows[3]["compute_kind"]) == (Decimal(0), "egress")
    assert rows[4]["charge_category"] == "Tax"


def test_parquet_nested_structs_same_money_and_keys(tmp_path: Path) -> None:
    dst = tmp_path / "gcp_billing_export_v1.parquet"
    write_parquet(STANDARD, dst)
    pq_rows = parse_file(dst).table("charges")
    js_rows = parse_file(STANDARD).table("charges")
    assert len(pq_rows) == 10
    assert total(pq_rows) == Decimal("6.71545")  # float64 costs read through their shortest repr
    assert [r["billed_cost"] for r in pq_rows] == [r["billed_cost"] for r in js_rows]
    # the natural key does not depend on the file format: a Parquet re-extract replaces the JSONL rows
    assert [r["row_key"] for r in pq_rows] == [r["row_key"] for r in js_rows]
    assert pq_rows[0]["tags"] == js_rows[0]["tags"]


# -- smaller quirks -------------------------------------------------------------------------


def test_csv_underscore_aliases_and_presummed_credits(tmp_path: Path) -> None:
    p = tmp_path / "billing.csv"
    p.write_text(
        "billing_account_id,service_description,sku_id,sku_description,usage_start_time,usage_end_time,"
        "project_id,project_labels,labels,cost,currency,credits,invoice_month,usage_amount,usage_unit\n"
        "01A,Vertex AI,X1,Gemini 2.5 Pro Text Output - Predictions,2025-06-01T10:00:00Z,2025-06-01T11:00:00Z,"
        'p1,"[{""key"":""team"",""value"":""a""}]","{""team"": ""b""}",2.0,usd,-0.5,202506,150000,count\n'
    )
    (row,) = parse_file(p).table("charges")
    assert (row["billed_cost"], row["billing_currency"]) == (Decimal("1.5"), "USD")
    assert (row["project_id"], row["service_name"], row["tokens"]) == ("p1", "Vertex AI", 150000)
    assert row["tags"] == {"team": "b"}  # resource labels override project labels


def test_no_credits_column_and_credit_cost_type(tmp_path: Path) -> None:
    row = {
        "billing_account_id": "01A",
        "service": {"id": "C7E2-9256-1C43", "description": "Vertex AI"},
        "sku": {"id": "X", "description": "Promotional credit"},
        "usage_start_time": "2025-06-01 00:00:00 UTC",
        "usage_end_time": "2025-06-02 00:00:00 UTC",
        "cost": -1.25,
        "currency": "USD",
        "cost_type": "credit",
    }
    p = tmp_path / "b.jsonl"
    p.write_text(json.dumps(row) + "\n")
    (out,) = parse_file(p).table("charges")
    assert (out["billed_cost"], out["charge_category"]) == (Decimal("-1.25"), "Credit")
    assert out["billing_period_start"] is None  # no invoice.month


@pytest.mark.parametrize(
    ("service", "sku", "model", "token_type", "tier", "kind"),
    [
        (
            "Vertex AI",
            "Gemini 2.5 Pro Text Input - Predictions",
            "gemini-2.5-pro",
            "input_uncached",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Pro Input Text Caching (Long)",
            "gemini-2.5-pro",
            "input_cache_read",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 3 Flash Text Input Caching Storage",
            "gemini-3-flash",
            None,
            None,
            "storage",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Flash Text Output (Thinking On) - Batch Predictions",
            "gemini-2.5-flash",
            "output",
            "batch",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 3 Flash Text Input Priority - Predictions",
            "gemini-3-flash",
            "input_uncached",
            "priority",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 3 Flash Text Input Caching Flex",
            "gemini-3-flash",
            "input_cache_read",
            "flex",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Flash Image Output",
            "gemini-2.5-flash",
            "output",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Flash-Lite Audio Input",
            "gemini-2.5-flash-lite",
            "input_audio",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.0 Flash Lite Text Input",
            "gemini-2.0-flash-lite",
            "input_uncached",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 1.5 Flash 8B Input Text",
            "gemini-1.5-flash-8b",
            "input_uncached",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Pro Text and Thinking Output (≤200k)",
            "gemini-2.5-pro",
            "output",
            "standard",
            "tokens",
        ),
        ("Vertex AI", "Gemini Embedding Input Text", None, "embedding", "standard", "tokens"),
        # cache writes are not reads (main typed every "cach" + "input" SKU as a read)
        (
            "Vertex AI",
            "Claude Sonnet 4.5 Cache Write Input Tokens",
            "claude-sonnet-4-5",
            "input_cache_write_5m",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Claude Sonnet 4.5 1h Cache Write Input Tokens",
            "claude-sonnet-4-5",
            "input_cache_write_1h",
            "standard",
            "tokens",
        ),
        ("Vertex AI", "Imagen 3 Generation", None, None, None, "other"),  # images, not tokens
        (
            "Claude Sonnet 4.5",
            "Claude Sonnet 4.5 Input Tokens",
            "claude-sonnet-4-5",
            "input_uncached",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Claude 3.5 Sonnet v2 Output Tokens",
            "claude-3-5-sonnet",
            "output",
            "standard",
            "tokens",
        ),
        (
            "Vertex AI",
            "Gemini 2.5 Flash Provisioned Throughput",
            "gemini-2.5-flash",
            None,
            "provisioned",
            "provisioned_throughput",
        ),
        (
            "Compute Engine",
            "Nvidia Tesla A100 GPU running in Americas",
            None,
            None,
            None,
            "gpu_hours",
        ),
        (
            "Networking",
            "Network Internet Data Transfer Out from Tokyo to Americas",
            None,
            None,
            None,
            "egress",
        ),
        ("Cloud Storage", "Standard Storage US Multi-region", None, None, None, "storage"),
        ("Compute Engine", "N2 Instance Core running in Americas", None, None, None, "other"),
        (
            "Cloud Dataflow",
            "Streaming Engine Input Data",
            None,
            None,
            None,
            "other",
        ),  # not an AI service
    ],
)
def test_sku_facts(
    service: str, sku: str, model: str | None, token_type: str | None, tier: str | None, kind: str
) -> None:
    assert sku_facts(service, sku) == {
        "model": model,
        "token_type": token_type,
        "service_tier": tier,
        "compute_kind": kind,
    }


def test_token_time_units_are_storage() -> None:
    # context-cache storage is metered in tokens x time ("count-seconds", "Token-Hours"): storage,
    # never tokens, even when the SKU name reads like the cache-read SKU
    for unit in ("count-seconds", "count-hour", "Token-Hours"):
        facts = sku_facts("Vertex AI", "Gemini 2.5 Pro Input Text Caching", unit)
        assert (facts["token_type"], facts["compute_kind"]) == (None, "storage"), unit
    assert sku_facts("Vertex AI", "Gemini 2.5 Pro Input Text Caching", "count")["token_type"] == (
        "input_cache_read"
    )


CLAUDE_CACHE = FIX / "gcp_vertex_claude_cache_constructed.jsonl"


def test_vertex_claude_cache_write_skus() -> None:
    """Claude on Vertex bills 5-minute and 1-hour cache writes on SKUs of their own; main typed
    both as cache reads ("cach" + "input"). Tokens = usage.amount in ``count``."""
    rows = parse_file(CLAUDE_CACHE).table("charges")
    assert [(r["model"], r["token_type"], r["tokens"], r["billed_cost"]) for r in rows] == [
        ("claude-sonnet-4-5", "input_cache_write_5m", 400_000, Decimal("1.5")),  # x $3.75/M
        ("claude-sonnet-4-5", "input_cache_write_1h", 100_000, Decimal("0.6")),  # x $6/M
        ("claude-sonnet-4-5", "input_cache_read", 2_000_000, Decimal("0.6")),  # x $0.30/M
        ("claude-sonnet-4-5", "input_uncached", 500_000, Decimal("1.5")),  # x $3/M
    ]
    assert {r["compute_kind"] for r in rows} == {"tokens"}


def test_token_count_units() -> None:
    assert _token_count("output", Decimal(1000), "count") == 1000
    assert _token_count("output", Decimal(1000), "tokens") == 1000
    assert _token_count("output", Decimal(2), "1k tokens") == 2000
    assert (
        _token_count("output", Decimal(1000), "characters") is None
    )  # Gemini 1.x unit: not tokens
    # a count is rounded half-even to whole tokens, as every billing source does (a FLOAT sum
    # such as 1234567.0000001 is 1,234,567 tokens, not unknown)
    assert _token_count("output", Decimal("1234567.0000001"), "count") == 1_234_567
    assert _token_count("output", Decimal("12.5"), "count") == 12
    assert _token_count("output", Decimal(1000), "Token-Hours") is None  # cache storage
    assert _token_count(None, Decimal(1000), "count") is None


def test_timestamps_and_invoice_months() -> None:
    june_8 = datetime(2025, 6, 1, 8, tzinfo=UTC)
    assert _time("1.7487648E9") == june_8  # bq's float epoch seconds
    assert _time("2025-06-01 08:00:00 UTC") == june_8
    assert _time("2025-06-01 08:00:00") == june_8
    assert _time("2025-06-01T08:00:00Z") == june_8
    assert _time(june_8) == june_8
    assert _invoice_period("202501") == (
        datetime(2025, 1, 1, 8, tzinfo=UTC),
        datetime(2025, 2, 1, 8, tzinfo=UTC),
    )
    assert _invoice_period("202512") == (
        datetime(2025, 12, 1, 8, tzinfo=UTC),
        datetime(2026, 1, 1, 8, tzinfo=UTC),
    )
    assert _invoice_period(None) == (None, None)
    with pytest.raises(ValueError):
        _invoice_period("202513")


# -- malformed input ------------------------------------------------------------------------


def test_bad_rows_are_quarantined_others_kept() -> None:
    p = parse_file(FIX / "gcp_bad_rows.jsonl")
    rows = p.table("charges")
    # line 1: 0.25; line 12: 0.75 - 0.05 = 0.70
    assert [r["source_line"] for r in rows] == [1, 12]
    assert total(rows) == Decimal("0.95")
    reasons = {b.location: b.reason for b in p.bad}
    assert reasons["2"].startswith("not JSON")
    assert reasons == {
        "2": reasons["2"],
        "3": "not a number: 'abc'",
        "4": "usage_start_time is missing",
        "5": "credits are not a list",
        "6": 'credit without an amount: {"name": "no amount", "type": "PROMOTION"}',
        "7": "invoice.month is not YYYYMM: 'June'",
        "8": "tags are not a JSON object: '{5}'",
        "9": "service is not a record",
        "10": "row is not an object",
        "11": "currency is missing",
    }


def test_malformed_csv_row_is_bad(tmp_path: Path) -> None:
    p = tmp_path / "billing.csv"
    p.write_text(CSV_JPY.read_text() + "01JP00-AAAA11-BBBB22,too,few\n")
    parsed = parse_file(p)
    assert len(parsed.table("charges")) == 5 and total(parsed.table("charges")) == Decimal(
        "136.395"
    )
    assert [(b.location, b.reason) for b in parsed.bad] == [("7", "expected 25 fields, found 3")]


def test_corrupt_files_are_source_errors(tmp_path: Path) -> None:
    bad_parquet = tmp_path / "billing.parquet"
    bad_parquet.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UnknownFormatError):
        detect(bad_parquet)
    with pytest.raises(SourceError, match="Parquet"):
        parse_file(bad_parquet, source="gcp_billing")
    text = DETAILED_EUR.read_text()
    truncated = tmp_path / "billing.json"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(SourceError):
        parse_file(truncated, source="gcp_billing")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello")
    with pytest.raises(SourceError):
        parse_file(unknown, source="gcp_billing")


# -- through the lake -----------------------------------------------------------------------


def test_lake_money_per_currency_and_idempotence(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest

    lake = tmp_path / "lake"
    q = "select billing_currency, sum(billed_cost), count(*) from charges group by 1 order by 1"
    res = ingest([STANDARD, DETAILED_EUR, CSV_JPY], lake=lake)
    assert (res.rows_written, res.rows_quarantined) == (19, 0)
    expected = [
        ("EUR", Decimal("1.0988456789"), 4),
        ("JPY", Decimal("136.395"), 5),
        ("USD", Decimal("6.71545"), 10),
    ]
    assert Workspace(lake).rows(q) == expected
    assert ingest([STANDARD, DETAILED_EUR, CSV_JPY], lake=lake).rows_written == 0
    assert Workspace(lake).rows(q) == expected
    # the same rows extracted again as Parquet replace the JSONL rows key by key
    pq_path = tmp_path / "gcp_billing_export_v1.parquet"
    write_parquet(STANDARD, pq_path)
    ingest([pq_path], lake=lake)
    assert Workspace(lake).rows(q) == expected
