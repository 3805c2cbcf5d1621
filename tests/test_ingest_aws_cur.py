"""AWS Cost and Usage Report sources aws_cur (legacy) and aws_cur2 (CUR 2.0) — costlab/ingest/aws_cur.py.

Expected money was computed independently of costlab with DuckDB over the raw CSV text, e.g.
  python -c "import duckdb; print(duckdb.sql('''select \"lineItem/CurrencyCode\", \"lineItem/LineItemType\",
      count(*), sum(cast(\"lineItem/UnblendedCost\" as decimal(38,12))) from read_csv('FILE', all_varchar=true)
      group by all''').fetchall())"
and cross-checked with Python's csv + decimal.Decimal (same totals).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.aws_cur import (
    AwsCur,
    AwsCur2,
    _model,
    bedrock_usage_type,
    marketplace_block,
)
from costlab.ingest.base import Sniff
from costlab.ingest.parse import parse_file
from costlab.ingest.token_lines import token_block
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "aws_cur"
REAL = FIX / "sample-anonymous-aws-export-dataset.csv"
LEGACY = FIX / "bedrock_legacy_cur.csv"
CUR2 = FIX / "bedrock_cur2.csv"


def by(rows: list[dict[str, Any]], col: str, value: str = "billed_cost") -> dict[Any, Decimal]:
    out: dict[Any, Decimal] = defaultdict(Decimal)
    for r in rows:
        out[r[col]] += r[value]
    return dict(out)


def meter(rows: list[dict[str, Any]], usage_type: str) -> dict[str, Any]:
    """The one Usage-category line with this usage type."""
    (row,) = [r for r in rows if r["sku_meter"] == usage_type and r["charge_category"] == "Usage"]
    return row


# ------------------------------------------------------------------- Parquet writers (test helpers)
_MONEY = re.compile(r"(cost|amount|rate|commitment|fee)$|_cost_|commitment_to_date")


def write_cur2_parquet(src: Path, dest: Path) -> Path:
    """CUR 2.0 Parquet from the CUR 2.0 CSV fixture: doubles, timestamps and MAP columns."""
    with open(src, newline="") as fh:
        recs = list(csv.DictReader(fh))
    fields, cols = [], {}
    for name in recs[0]:
        values: list[Any] = [r[name] for r in recs]
        if name in ("product", "resource_tags", "cost_category", "discount", "tags"):
            typ: pa.DataType = pa.map_(pa.string(), pa.string())
            values = [list(json.loads(v).items()) for v in values]
        elif name.endswith("_date"):
            typ = pa.timestamp("ms")
            values = [datetime.fromisoformat(v.replace("Z", "")) if v else None for v in values]
        elif _MONEY.search(name):
            typ = pa.float64()
            values = [float(v) if v else None for v in values]
        else:
            typ = pa.string()
            values = [v or None for v in values]
        fields.append(pa.field(name, typ))
        cols[name] = pa.array(values, type=typ)
    pq.write_table(pa.table(cols, schema=pa.schema(fields)), dest)
    return dest


def write_legacy_parquet(src: Path, dest: Path) -> Path:
    """Legacy CUR Parquet (Athena naming) from the legacy CSV fixture: line_item_unblended_cost,
    product_product_name, resource_tags_user_team, cost_category_business_unit; money as double."""

    def snake(col: str) -> str:
        cat, name = col.split("/", 1)
        if cat == "resourceTags":
            return "resource_tags_" + re.sub(
                r"[^a-z0-9]+", "_", re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
            )
        return "_".join(re.sub(r"(?<!^)([A-Z])", r"_\1", p).lower() for p in (cat, name))

    with open(src, newline="") as fh:
        recs = list(csv.DictReader(fh))
    cols = {}
    for name in recs[0]:
        values: list[Any] = [r[name] or None for r in recs]
        if name.split("/")[1] in ("UnblendedCost", "UsageAmount", "UnblendedRate", "EffectiveCost",
                                  "SavingsPlanEffectiveCost", "publicOnDemandCost"):  # fmt: skip
            cols[snake(name)] = pa.array(
                [float(v) if v else None for v in values], type=pa.float64()
            )
        else:
            cols[snake(name)] = pa.array(values, type=pa.string())
    pq.write_table(pa.table(cols), dest)
    return dest


# ----------------------------------------------------------------------------------- detection
def test_detect_real_and_constructed(tmp_path: Path) -> None:
    assert detect(REAL).name == "aws_cur"
    assert detect(LEGACY).name == "aws_cur"
    assert detect(CUR2).name == "aws_cur2"
    gz = tmp_path / "cur2-00001.csv.gz"
    gz.write_bytes(gzip.compress(CUR2.read_bytes()))
    assert detect(gz).name == "aws_cur2"
    assert (
        detect(write_cur2_parquet(CUR2, tmp_path / "cur2-00001.snappy.parquet")).name == "aws_cur2"
    )
    assert (
        detect(write_legacy_parquet(LEGACY, tmp_path / "legacy-00001.snappy.parquet")).name
        == "aws_cur"
    )


@pytest.mark.parametrize(
    "path",
    [
        FIX.parent / "focus" / "focus_sample_1.0.csv",
        FIX.parent / "azure" / "EA_ActualCost_Small.csv",
        FIX.parent / "azure" / "EA_AmortizedCost_Small.csv",
        FIX.parent / "oci" / "reports_cost-csv_0000000030000269.csv",
        FIX.parent / "focus" / "conversion_rules" / "aws-cur.csv",
    ],
    ids=lambda p: p.name,
)
def test_does_not_claim_other_exports(path: Path) -> None:
    sniff = Sniff(path)
    assert not AwsCur.detect(sniff)
    assert not AwsCur2.detect(sniff)


def test_legacy_and_cur2_do_not_claim_each_other() -> None:
    assert not AwsCur2.detect(Sniff(LEGACY)) and not AwsCur2.detect(Sniff(REAL))
    assert not AwsCur.detect(Sniff(CUR2))


# ----------------------------------------------------------------------------- the real sample
def test_real_sample_money_and_counts() -> None:
    parsed = parse_file(REAL)
    rows = parsed.table("charges")
    assert parsed.source == "aws_cur"
    assert len(rows) == 1281 and parsed.bad == []
    # duckdb: sum(cast("lineItem/UnblendedCost" as decimal(38,12))) group by "lineItem/CurrencyCode"
    assert by(rows, "billing_currency") == {"USD": Decimal("1.68230869740")}
    # ... and sum(cast("pricing/publicOnDemandCost" as decimal(38,12)))
    assert sum(r["list_cost"] for r in rows) == Decimal("3.35617269490")
    # ... group by "lineItem/LineItemType": Tax 12 rows 0.08, Usage 1269 rows 1.6023086974
    assert Counter(r["charge_category"] for r in rows) == {"Usage": 1269, "Tax": 12}
    assert by(rows, "charge_category") == {"Usage": Decimal("1.6023086974"), "Tax": Decimal("0.08")}
    # Usage and Tax lines: effective cost is the unblended cost, per line
    assert by(rows, "charge_category", "effective_cost") == by(rows, "charge_category")
    assert all(r["effective_cost"] == r["billed_cost"] for r in rows)


def test_real_sample_columns() -> None:
    rows = parse_file(REAL).table("charges")
    assert {r["replace_scope"] for r in rows} == {"123412340534|2023-11-01"}
    assert {r["delivery"] for r in rows} == {str(FIX.absolute())}
    assert len({r["row_key"] for r in rows}) == 1281
    assert {r["invoice_id"] for r in rows} == {None}  # empty until invoiced (CUR data dictionary)
    assert {r["billing_account_id"] for r in rows} == {"123412340534"}
    assert {r["invoice_issuer_name"] for r in rows} == {"Amazon Web Services Canada, Inc."}
    tax = [r for r in rows if r["charge_category"] == "Tax"]
    assert {(r["charge_period_start"], r["charge_period_end"]) for r in tax} == {
        (datetime(2023, 11, 1, tzinfo=UTC), datetime(2023, 12, 1, tzinfo=UTC))
    }
    # exponent notation is exact: the first row whose UnblendedCost is written "1.81E-8"
    tiny = [r for r in rows if r["billed_cost"] == Decimal("1.81E-8")]
    assert tiny and tiny[0]["list_cost"] == Decimal("1.81E-8")
    s3 = next(r for r in rows if r["sku_meter"] == "USW2-TimedStorage-ByteHrs")
    assert s3["compute_kind"] == "storage" and s3["service_name"] == "Amazon Simple Storage Service"
    assert s3["region_id"] == "us-west-2" and s3["consumed_unit"] == "GB-Mo"
    assert (
        next(r for r in rows if r["sku_meter"] == "USE1-CAN1-AWS-Out-Bytes")["compute_kind"]
        == "egress"
    )
    assert (
        next(r for r in rows if r["sku_meter"] == "CAN1-Requests-Tier2")["compute_kind"] == "other"
    )


def test_real_sample_gzipped_is_identical(tmp_path: Path) -> None:
    gz = tmp_path / "cur-1.csv.gz"
    gz.write_bytes(gzip.compress(REAL.read_bytes()))
    a, b = parse_file(REAL).table("charges"), parse_file(gz).table("charges")
    strip = ("delivery", "row_key")
    assert [{k: v for k, v in r.items() if k not in strip} for r in a] == [
        {k: v for k, v in r.items() if k not in strip} for r in b
    ]


# ------------------------------------------------------------------- constructed legacy fixture
def test_legacy_fixture_money_and_effective_cost() -> None:
    parsed = parse_file(LEGACY)
    rows = parsed.table("charges")
    assert len(rows) == 26 and parsed.bad == []
    # duckdb: sum(cast("lineItem/UnblendedCost" as decimal(38,12))) -> 4228.471724125
    assert by(rows, "billing_currency") == {"USD": Decimal("4228.471724125")}
    eff = {r["charge_description"][:24]: r["effective_cost"] for r in rows}
    types = {r["sku_meter"]: r for r in rows}
    p4d = [r for r in rows if r["sku_meter"] == "BoxUsage:p4d.24xlarge"]
    covered, negation = sorted(p4d, key=lambda r: r["billed_cost"], reverse=True)
    assert (covered["billed_cost"], covered["effective_cost"]) == (
        Decimal("32.7726"),
        Decimal("19.2205"),
    )
    assert (negation["billed_cost"], negation["effective_cost"]) == (
        Decimal("-32.7726"),
        Decimal(0),
    )
    assert (
        covered["commitment_discount_type"] == "Savings Plan"
        and covered["pricing_category"] == "Committed"
    )
    recurring = types[
        "ComputeSP:3yrNoUpfront"
    ]  # TotalCommitmentToDate 20.0 - UsedCommitment 19.2205
    assert (recurring["charge_category"], recurring["effective_cost"]) == (
        "Purchase",
        Decimal("0.7795"),
    )
    upfront = types["ComputeSP:1yrAllUpfront"]
    assert (upfront["billed_cost"], upfront["effective_cost"]) == (Decimal(1000), Decimal(0))
    assert upfront["charge_frequency"] == "One-Time"
    ri_usage = types["BoxUsage:g5.xlarge"]  # DiscountedUsage -> reservation/EffectiveCost
    assert (ri_usage["billed_cost"], ri_usage["effective_cost"]) == (Decimal(0), Decimal("0.6"))
    heavy = {r["charge_frequency"]: r for r in rows if r["sku_meter"] == "HeavyUsage:g5.xlarge"}
    assert heavy["Recurring"]["effective_cost"] == Decimal(
        "2.0"
    )  # RIFee: unused upfront 1.2 + unused recurring 0.8
    assert (heavy["One-Time"]["billed_cost"], heavy["One-Time"]["effective_cost"]) == (
        Decimal(3000),
        Decimal(0),
    )
    assert heavy["One-Time"]["commitment_discount_type"] == "Reserved Instance"
    assert eff["AWS Activate Credit"] == Decimal("-5.0")
    assert Counter(r["charge_category"] for r in rows) == {
        "Usage": 19,
        "Purchase": 4,
        "Tax": 1,
        "Credit": 1,
        "Adjustment": 1,
    }
    # amortised total: billed 4228.471724125 - 32.7726 (SP covered, on-demand) + 19.2205 + 32.7726 (negation)
    #   - 20 + 0.7795 (recurring) - 1000 (SP upfront) + 0.6 (RI usage) - 148.8 + 2.0 (RIFee) - 3000 (RI upfront)
    assert sum(r["effective_cost"] for r in rows) == Decimal("82.271724125")


EXPECTED_TOKENS = {
    # usage type: (model, token_type, tokens, service_tier)   tokens = UsageAmount x 1000 for "1K tokens"
    "USE1-Claude3Sonnet-input-tokens": ("claude-3-sonnet", "input_uncached", 1_234_567, "standard"),
    "USE1-Claude3Sonnet-output-tokens": ("claude-3-sonnet", "output", 98_765, "standard"),
    "USE1-Claude3.5Sonnet-cache-read-input-token-count": ("claude-3-5-sonnet", "input_cache_read", 500_000, "standard"),
    "USE1-Claude3.5Sonnet-cache-write-input-token-count": ("claude-3-5-sonnet", "input_cache_write_5m", 40_500, "standard"),
    "USE1-Claude3Haiku-batch-input-tokens": ("claude-3-haiku", "input_uncached", 2_000_000, "batch"),
    "USE1-Claude3Haiku-output-tokens-batch": ("claude-3-haiku", "output", 300_000, "batch"),
    "USE1-Claude4.5Sonnet-cache-write-input-token-count-1-hour": ("claude-sonnet-4-5", "input_cache_write_1h", 12_345, "standard"),
    "USE1-Claude3.5Sonnet-cross-region-input-tokens": ("claude-3-5-sonnet", "input_uncached", 10_000, "standard"),
    "USE1-Claude3Haiku-input-tokens": ("claude-3-haiku", "input_uncached", 12, "standard"),  # 12.5 -> half-even
    # Marketplace "Units": one token or a million? Public notes disagree; NULL, as in the focus source
    "USE1-MP:USE1_InputTokenCount-Units": ("claude-3-5-sonnet", "input_uncached", None, "standard"),
    "USE1-MP:USE1_OutputTokenCount": ("claude-3-opus", "output", 12_500, "standard"),  # 0.0125 million
    "USE1-TitanEmbedTextV2-input-tokens": ("titanembedtextv2", "embedding", 5_000, "standard"),
}  # fmt: skip


def test_legacy_bedrock_tokens_and_models() -> None:
    rows = parse_file(LEGACY).table("charges")
    for usage_type, expected in EXPECTED_TOKENS.items():
        r = meter(rows, usage_type)
        assert (r["model"], r["token_type"], r["tokens"], r["service_tier"]) == expected, usage_type
        assert r["compute_kind"] == "tokens"
        if r["tokens"] is None:  # the count stays as billed
            assert (r["consumed_unit"], r["consumed_quantity"]) == ("Units", r["pricing_quantity"])
            continue
        assert (
            r["consumed_unit"] == "Tokens"
            and Decimal(r["tokens"]) == r["consumed_quantity"].to_integral_value()
        )
    first = meter(rows, "USE1-Claude3Sonnet-input-tokens")
    assert first["model_raw"] == "Claude3Sonnet"
    assert (first["pricing_quantity"], first["pricing_unit"]) == (Decimal("1234.567"), "1K tokens")
    assert first["consumed_quantity"] == Decimal("1234567")
    assert (
        first["service_category"] == "AI and Machine Learning"
        and first["service_subcategory"] == "Generative AI"
    )
    total = sum(r["tokens"] for r in rows if r["tokens"] is not None)
    assert total == sum(t for _, _, t, _ in EXPECTED_TOKENS.values() if t is not None)


def test_marketplace_lines() -> None:
    rows = parse_file(LEGACY).table("charges")
    units = meter(rows, "USE1-MP:USE1_InputTokenCount-Units")
    assert (
        units["host_provider_name"] == "Anthropic, PBC" and units["service_provider_name"] == "AWS"
    )
    assert units["service_name"] == "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
    assert units["model_raw"] == "Claude 3.5 Sonnet"
    assert units["billed_cost"] == Decimal(
        "0.75"
    )  # AWS invoices it: kept, not zeroed
    million = meter(rows, "USE1-MP:USE1_OutputTokenCount")
    assert million["pricing_quantity"] == Decimal("0.0125") and million["tokens"] == 12_500


def test_non_token_compute_kinds_and_provisioned() -> None:
    rows = parse_file(LEGACY).table("charges")
    pt = meter(rows, "USE1-Claude3Haiku-ModelUnits")
    assert (pt["compute_kind"], pt["service_tier"], pt["model"], pt["token_type"], pt.get("tokens")) == (
        "provisioned_throughput", "provisioned", "claude-3-haiku", None, None)  # fmt: skip
    assert meter(rows, "USE1-ml.g5.2xlarge-Hosting:ml")["compute_kind"] == "gpu_hours"
    assert {r["compute_kind"] for r in rows if r["sku_meter"] == "BoxUsage:p4d.24xlarge"} == {
        "gpu_hours"
    }
    assert meter(rows, "USE1-TimedStorage-ByteHrs")["compute_kind"] == "storage"
    assert meter(rows, "USE1-DataTransfer-Out-Bytes")["compute_kind"] == "egress"
    tax = next(r for r in rows if r["charge_category"] == "Tax")
    assert tax["compute_kind"] == "other" and tax.get("token_type") is None


def test_credit_on_a_token_usage_type_carries_no_tokens() -> None:
    rows = parse_file(LEGACY).table("charges")
    credit = next(r for r in rows if r["charge_category"] == "Credit")
    assert credit["billed_cost"] == Decimal("-5.0")
    assert credit["model"] == "claude-3-sonnet"
    assert credit.get("token_type") is None and credit.get("tokens") is None


def test_legacy_tags() -> None:
    rows = parse_file(LEGACY).table("charges")
    assert meter(rows, "USE1-Claude3Sonnet-input-tokens")["tags"] == {
        "team": "search",
        "aws:createdBy": "IAMUser:AIDAEXAMPLE:alice",
        "costCategory/BusinessUnit": "ml-platform",
    }
    assert meter(rows, "USE1-Claude3Haiku-input-tokens")["tags"] == {"team": "support"}
    assert meter(rows, "USE1-TimedStorage-ByteHrs")["tags"] is None


def test_legacy_parquet_matches_csv(tmp_path: Path) -> None:
    pqt = write_legacy_parquet(LEGACY, tmp_path / "legacy-00001.snappy.parquet")
    parsed = parse_file(pqt)
    assert parsed.source == "aws_cur" and parsed.bad == []
    rows, ref = parsed.table("charges"), parse_file(LEGACY).table("charges")
    assert by(rows, "billing_currency") == by(ref, "billing_currency")
    assert sum(r["effective_cost"] for r in rows) == sum(r["effective_cost"] for r in ref)
    for usage_type, expected in EXPECTED_TOKENS.items():
        r = meter(rows, usage_type)
        assert (r["model"], r["token_type"], r["tokens"], r["service_tier"]) == expected, usage_type
    # Athena snake_case tag columns: resource_tags_user_team -> team; cost categories keep their prefix
    assert meter(rows, "USE1-Claude3Sonnet-input-tokens")["tags"] == {
        "team": "search",
        "aws_created_by": "IAMUser:AIDAEXAMPLE:alice",
        "costCategory/business_unit": "ml-platform",
    }


# ---------------------------------------------------------------------------------- CUR 2.0
def test_cur2_csv() -> None:
    parsed = parse_file(CUR2)
    rows = parsed.table("charges")
    assert parsed.source == "aws_cur2" and len(rows) == 11 and parsed.bad == []
    # duckdb: sum(cast(line_item_unblended_cost as decimal(38,12))) group by line_item_currency_code
    assert by(rows, "billing_currency") == {"USD": Decimal("-1.516")}
    blog = meter(rows, "USE1-Claude4.6Sonnet-input-tokens")  # AWS blog example row
    assert (blog["billed_cost"], blog["model"], blog["tokens"]) == (
        Decimal("0.069"),
        "claude-sonnet-4-6",
        23_000,
    )
    assert blog["principal"] == "arn:aws:iam::444455556666:user/alice"
    assert blog["tags"] == {
        "team": "search",
        "aws_created_by": "IAMUser:AIDAEXAMPLE:alice",
        "costCategory/BusinessUnit": "ml-platform",
        "iamPrincipal/team": "search",
    }
    assert (blog["billing_account_name"], blog["sub_account_name"]) == (
        "acme-payer",
        "acme-ml-prod",
    )
    assert (
        blog["service_name"] == "Amazon Bedrock" and blog["region_id"] == "us-east-1"
    )  # product map
    mantle = meter(rows, "USE1-anthropic.claude-sonnet-4-5-mantle-cache-write-tokens-1h-standard")
    assert (mantle["model"], mantle["token_type"], mantle["tokens"], mantle["service_tier"]) == (
        "claude-sonnet-4-5", "input_cache_write_1h", 7_500, "standard")  # fmt: skip
    eu = meter(rows, "EUC1-Claude3.5Sonnet-output-tokens")
    assert (eu["model"], eu["region_id"], eu["tokens"]) == (
        "claude-3-5-sonnet",
        "eu-central-1",
        2_500,
    )
    sp = [r for r in rows if r["sku_meter"] == "USE1-ml.p4d.24xlarge-Training"]
    assert sorted((r["billed_cost"], r["effective_cost"]) for r in sp) == [
        (Decimal("-75.376"), Decimal(0)), (Decimal("75.376"), Decimal("45.2256"))]  # fmt: skip
    assert {r["compute_kind"] for r in sp} == {"gpu_hours"}
    assert by(rows, "charge_category") == {
        "Usage": Decimal("0.674"), "Tax": Decimal("0.31"), "Credit": Decimal("-2.5")}  # fmt: skip


def test_cur2_parquet_and_gzip_match_csv(tmp_path: Path) -> None:
    ref = parse_file(CUR2).table("charges")
    gz = tmp_path / "bedrock-00001.csv.gz"
    gz.write_bytes(gzip.compress(CUR2.read_bytes()))
    pqt = write_cur2_parquet(CUR2, tmp_path / "bedrock-00001.snappy.parquet")
    strip = ("delivery", "row_key", "source_line")
    want = [{k: v for k, v in r.items() if k not in strip} for r in ref]
    for path in (gz, pqt):
        parsed = parse_file(path)
        assert parsed.source == "aws_cur2" and parsed.bad == []
        got = [{k: v for k, v in r.items() if k not in strip} for r in parsed.table("charges")]
        assert got == want, path.name


# ------------------------------------------------------------------------ row key and delivery
def test_row_key_is_line_item_id_and_interval_not_cost(tmp_path: Path) -> None:
    text = LEGACY.read_text()
    restated = tmp_path / LEGACY.name
    restated.write_text(text.replace(",3.703701,", ",3.9,", 1))
    a, b = parse_file(LEGACY).table("charges"), parse_file(restated).table("charges")
    assert [r["row_key"] for r in a] == [r["row_key"] for r in b]
    assert a[0]["billed_cost"] != b[0]["billed_cost"]


def test_delivery_from_manifest_assembly_folder_and_cur2_metadata(tmp_path: Path) -> None:
    legacy = tmp_path / "cur" / "report" / "20250301-20250401"
    legacy.mkdir(parents=True)
    shutil.copy(LEGACY, legacy / "report-1.csv")
    (legacy / "report-Manifest.json").write_text(
        json.dumps(
            {"assemblyId": "asm-42", "reportKeys": ["cur/report/20250301-20250401/report-1.csv"]}
        )
    )
    assert {r["delivery"] for r in parse_file(legacy / "report-1.csv").table("charges")} == {
        "asm-42"
    }
    versioned = tmp_path / "v" / "20250301-20250401" / "0f8fad5b-d9cb-469f-a165-70867728950e"
    versioned.mkdir(parents=True)
    shutil.copy(LEGACY, versioned / "report-1.csv")
    rows = parse_file(versioned / "report-1.csv").table("charges")
    assert {r["delivery"] for r in rows} == {"0f8fad5b-d9cb-469f-a165-70867728950e"}
    export = tmp_path / "exports" / "cur2"
    data, meta = (
        export / "data" / "BILLING_PERIOD=2025-03",
        export / "metadata" / "BILLING_PERIOD=2025-03",
    )
    data.mkdir(parents=True)
    meta.mkdir(parents=True)
    shutil.copy(CUR2, data / "cur2-00001.csv")
    (meta / "cur2-Manifest.json").write_text(
        json.dumps(
            {
                "executionId": "exec-7",
                "dataFiles": ["s3://b/exports/cur2/data/BILLING_PERIOD=2025-03/cur2-00001.csv"],
            }
        )
    )
    assert {r["delivery"] for r in parse_file(data / "cur2-00001.csv").table("charges")} == {
        "exec-7"
    }


# ------------------------------------------------------------------------- bad rows and files
def test_malformed_rows_are_bad_and_the_rest_kept(tmp_path: Path) -> None:
    lines = LEGACY.read_text().splitlines()
    header = lines[0].split(",")
    bad_cost = lines[1].replace(",3.703701,", ",three dollars,", 1)
    no_start = lines[2].replace(
        "2025-03-10T14:00:00.000Z,2025-03-10T15:00:00.000Z", ",2025-03-10T15:00:00.000Z", 1
    )
    short = ",".join(lines[3].split(",")[:10])
    f = tmp_path / "cur-1.csv"
    f.write_text("\n".join([lines[0], bad_cost, no_start, short, *lines[4:]]) + "\n")
    parsed = parse_file(f)
    assert len(parsed.table("charges")) == 23
    reasons = sorted(b.reason for b in parsed.bad)
    assert len(reasons) == 3
    assert any("not a number" in r for r in reasons)
    assert any("UsageStartDate" in r for r in reasons)
    assert any(f"expected {len(header)} fields" in r for r in reasons)
    assert {b.location for b in parsed.bad} == {"line 2", "line 3", "line 4"}


def test_cur2_bad_map_is_a_bad_row(tmp_path: Path) -> None:
    text = CUR2.read_text()
    f = tmp_path / "cur2-00001.csv"
    f.write_text(text.replace('"{""user_team"": ""search""}"', '"{user_team: search"', 1))
    parsed = parse_file(f)
    assert len(parsed.bad) == 1 and "map column is not JSON" in parsed.bad[0].reason
    assert len(parsed.table("charges")) == 10


def test_corrupt_files_raise_source_error(tmp_path: Path) -> None:
    gz = tmp_path / "cur-1.csv.gz"
    gz.write_bytes(gzip.compress(LEGACY.read_bytes())[:300])
    with pytest.raises(SourceError):
        parse_file(gz, source="aws_cur")
    broken = tmp_path / "cur2-00001.snappy.parquet"
    broken.write_bytes(b"PAR1 definitely not parquet")
    with pytest.raises(SourceError):
        parse_file(broken, source="aws_cur2")
    with pytest.raises(SourceError, match="not a Cost and Usage Report"):
        # the repository's copy of the FinOps FOCUS sample: the test needs nothing outside the repository
        parse_file(FIX.parent / "focus" / "focus_sample_1.0.csv", source="aws_cur")


def test_token_units() -> None:
    assert token_block("1K tokens") == 1000
    assert token_block("1M tokens") == 1_000_000
    assert token_block("1000 Tokens") == 1000
    assert token_block("tokens") == 1
    assert token_block("Units") is None  # first-party "Units": unknown, tokens stay NULL
    assert token_block("Images") is None
    # Marketplace: the unit AWS writes as the description's third field ("Million tokens"), but
    # never "Units": whether one Unit is a token or a million, public notes disagree
    assert marketplace_block("", "x | Output Tokens | Million tokens") == 1_000_000
    assert marketplace_block("Units", "x | Input Tokens | Units") is None
    assert marketplace_block("Units", "x | Input Tokens | Million tokens") is None  # unit wins
    assert marketplace_block("1K tokens", None) == 1000


@pytest.mark.parametrize(
    ("usage_type", "expected"),
    [
        ("USE1-Claude4.6Sonnet-output-tokens", ("claude-sonnet-4-6", "output", "standard")),
        ("USW2-Claude3Haiku-input-tokens-flex", ("claude-3-haiku", "input_uncached", "flex")),
        ("EUC1-NovaPro-input-tokens-priority", ("novapro", "input_uncached", "priority")),
        (
            "USE1-meta.llama3-70b-mantle-output-tokens-standard",
            ("meta.llama3-70b", "output", "standard"),  # other vendors keep the Bedrock id
        ),
        ("USE1-ModelUnits-Claude3Haiku", (None, None, "provisioned")),
        ("USE1-Claude3Haiku-ModelUnits", ("claude-3-haiku", None, "provisioned")),
        ("USW2-DataTransfer-Out-Bytes", None),
        (
            "USE1-Claude4.5Sonnet-cache-write-input-token-count",  # no TTL stated: 5 minutes
            ("claude-sonnet-4-5", "input_cache_write_5m", "standard"),
        ),
        (
            "USE1-anthropic.claude-sonnet-4-5-mantle-cache-write-tokens-1h-standard",
            ("claude-sonnet-4-5", "input_cache_write_1h", "standard"),
        ),
    ],
)
def test_bedrock_usage_type_parser(usage_type: str, expected: tuple[Any, ...] | None) -> None:
    assert _facts(bedrock_usage_type(usage_type)) == expected


def _facts(found: Any) -> tuple[Any, ...] | None:
    return None if found is None else (found.model, found.token_type, found.tier)




def test_marketplace_usage_type_takes_model_from_product() -> None:
    found = bedrock_usage_type(
        "USE1-MP:USE1_CacheReadInputTokenCount-Units", "Claude Opus 4.6 (Amazon Bedrock Edition)"
    )
    assert _facts(found) == ("claude-opus-4-6", "input_cache_read", "standard")
    desc = "Claude 3 Opus (Amazon Bedrock Edition) | Output Tokens | Million tokens"
    found = bedrock_usage_type("USE1-MP:USE1_Usage", "Claude 3 Opus (Amazon Bedrock Edition)", desc)
    assert _facts(found) == ("claude-3-opus", "output", "standard")  # the class from the description


def test_missing_columns_are_null_and_period_falls_back_to_usage_month(tmp_path: Path) -> None:
    with open(CUR2, newline="") as fh:
        recs = list(csv.DictReader(fh))
    drop = {
        "bill_billing_period_start_date",
        "bill_billing_period_end_date",
        "line_item_iam_principal",
    }
    f = tmp_path / "custom-00001.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, [c for c in recs[0] if c not in drop], extrasaction="ignore")
        w.writeheader()
        w.writerows(recs)
    rows = parse_file(f).table("charges")
    assert len(rows) == 11
    assert {r["replace_scope"] for r in rows} == {"111122223333|2025-03-01"}
    assert {r["billing_period_start"] for r in rows} == {None} and {
        r["principal"] for r in rows
    } == {None}
    legacy = parse_file(LEGACY).table(
        "charges"
    )  # no pricing/currency, bill/PayerAccountName columns
    assert {(r["pricing_currency"], r["billing_account_name"]) for r in legacy} == {(None, None)}


def test_model_names() -> None:
    assert _model("Claude3Sonnet") == "claude-3-sonnet"
    assert _model("Claude3.7Sonnet") == "claude-3-7-sonnet"
    assert _model("Claude4.6Sonnet") == "claude-sonnet-4-6"
    assert _model("ClaudeOpus4.1") == "claude-opus-4-1"
    assert _model("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude-3-5-sonnet-20240620"
    assert _model("claude-sonnet-4-20250514") == "claude-sonnet-4-20250514"
    assert _model("meta.llama3-1-70b-instruct-v1:0") == "meta.llama3-1-70b-instruct-v1:0"


# ---------------------------------------------------------------------------- through the lake
def test_lake_end_to_end_and_idempotent(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest

    lake = tmp_path / "lake"
    res = ingest([REAL], lake=lake)
    assert res.rows_written == 1281 and not res.failed
    got = Workspace(lake).rows(
        "select billing_currency, sum(billed_cost), count(*) from charges group by 1"
    )
    assert got == [("USD", Decimal("1.68230869740"), 1281)]
    assert ingest([REAL], lake=lake).rows_written == 0  # unchanged file: nothing to do
    forced = ingest([REAL], lake=lake, force=True)  # a re-delivery of the month replaces it whole
    assert (forced.rows_written, forced.rows_replaced) == (1281, 1281)
    assert Workspace(lake).rows("select sum(billed_cost), count(*) from charges") == [
        (Decimal("1.68230869740"), 1281)
    ]


def test_lake_redelivery_replaces_the_month_and_parts_add_up(tmp_path: Path) -> None:
    from costlab.ingest.run import ingest

    lake = tmp_path / "lake"
    lines = LEGACY.read_text().splitlines(keepends=True)
    parts = tmp_path / "delivery-a"
    parts.mkdir()
    (parts / "report-1.csv").write_text("".join([lines[0], *lines[1:14]]))
    (parts / "report-2.csv").write_text("".join([lines[0], *lines[14:]]))
    ingest([parts], lake=lake)
    total = Workspace(lake).rows("select sum(billed_cost), count(*) from charges")[0]
    assert total == (Decimal("4228.471724125"), 26)  # two parts of one delivery are both kept
    later = tmp_path / "delivery-b"
    later.mkdir()
    (later / "report-1.csv").write_text(
        "".join([lines[0], *lines[2:]])
    )  # re-delivered without line 2
    ingest([later], lake=lake)
    total = Workspace(lake).rows("select sum(billed_cost), count(*) from charges")[0]
    assert total == (Decimal("4228.471724125") - Decimal("3.703701"), 25)
