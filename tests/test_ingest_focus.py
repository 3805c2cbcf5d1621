"""FOCUS 1.0-1.3 source (costlab/ingest/focus.py): real FOCUS sample, spec examples, constructed
provider FOCUS exports (Azure OpenAI meters, Bedrock usage types, FOCUS 1.3 columns)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest import focus as F
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "focus"
SAMPLE = FIX / "focus_sample_1.0.csv"
SPEC = FIX / "spec_examples_v1.2"
AZURE = FIX / "azure_focus_1.2_openai_constructed.csv"
AWS = FIX / "aws_focus_1.2_bedrock_constructed.csv"
F13 = FIX / "focus_1.3_constructed.csv"

# Expected totals computed independently of costlab, with Python's decimal over the csv module:
#   python3 -c "import csv; from decimal import Decimal as D; from collections import defaultdict
#   s=defaultdict(D); [s.__setitem__((r['BillingCurrency'],c), s[(r['BillingCurrency'],c)]+D(r[c]))
#    for r in csv.DictReader(open('focus_sample_1.0.csv', newline='', encoding='utf-8-sig'))
#    for c in ('BilledCost','EffectiveCost','ListCost','ContractedCost') if r[c] != 'NULL']; print(dict(s))"
SAMPLE_TOTALS = {
    "billed_cost": {"USD": Decimal("20.52022672899")},
    "effective_cost": {"USD": Decimal("14.97651418586")},
    "list_cost": {"USD": Decimal("20.39090575119")},
    "contracted_cost": {"USD": Decimal("14.97626039326")},  # 7 rows are the string NULL
}


def totals(rows: list[dict[str, Any]], col: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r[col] is not None:
            out[r["billing_currency"]] += r[col]
    return dict(out)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


MINI_HEADER = [
    "BilledCost", "EffectiveCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeFrequency", "BillingAccountId", "SubAccountId", "ProviderName",
    "PublisherName", "ServiceName", "SkuId", "ResourceId", "Tags",
]  # fmt: skip


def mini_row(**over: str) -> list[str]:
    base = dict(
        BilledCost="1.50", EffectiveCost="1.25", BillingCurrency="USD",
        ChargePeriodStart="2024-09-18 22:00:00", ChargePeriodEnd="2024-09-18 23:00:00",
        ChargeCategory="Usage", ChargeFrequency="Usage-Based", BillingAccountId="111",
        SubAccountId="222", ProviderName="AWS", PublisherName="Amazon Web Services, Inc.",
        ServiceName="Amazon EC2", SkuId="SKU1", ResourceId="i-1", Tags='{"team": "a"}',
    )  # fmt: skip
    base.update(over)
    return [base[c] for c in MINI_HEADER]


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SAMPLE, AZURE, AWS, F13])
def test_detects_focus_files(path: Path) -> None:
    assert detect(path).name == "focus"


@pytest.mark.parametrize("name", sorted(p.name for p in (FIX / "not_focus").glob("*.csv")))
def test_does_not_claim_other_exports(name: str) -> None:
    # Azure EA actual cost, legacy AWS CUR and OCI cost report headers (real files, see PROVENANCE)
    assert not F.FocusExport.detect(Sniff(FIX / "not_focus" / name))


def test_detect_needs_the_distinctive_columns(tmp_path: Path) -> None:
    # a generic cost CSV that merely has a "BilledCost" column is not FOCUS
    p = write_csv(
        tmp_path / "x.csv", ["BilledCost", "Date", "Currency"], [["1", "2024-01-01", "USD"]]
    )
    assert not F.FocusExport.detect(Sniff(p))


# --- the real FOCUS 1.0 sample ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_rows() -> list[dict[str, Any]]:
    parsed = parse_file(SAMPLE)
    assert parsed.bad == []
    return parsed.table("charges")


def test_sample_row_count_and_money_exact(sample_rows: list[dict[str, Any]]) -> None:
    assert len(sample_rows) == 1000
    for col, expected in SAMPLE_TOTALS.items():
        assert totals(sample_rows, col) == expected, col
    assert all(isinstance(r["billed_cost"], Decimal) for r in sample_rows)


def test_sample_negative_rows_are_kept(sample_rows: list[dict[str, Any]]) -> None:
    neg = [r for r in sample_rows if r["billed_cost"] < 0 or r["effective_cost"] < 0]
    assert len(neg) == 13  # Microsoft reversals and credits net
    assert Counter((r["service_provider_name"], r["charge_category"]) for r in neg) == {
        ("Microsoft", "Usage"): 12,
        ("AWS", "Credit"): 1,
    }
    credit = next(r for r in neg if r["charge_category"] == "Credit")
    assert credit["billed_cost"] == Decimal("-2.6137")
    assert all(r["consumed_quantity"] < 0 for r in neg if r["charge_category"] == "Usage")


def test_sample_null_strings_become_null(sample_rows: list[dict[str, Any]]) -> None:
    assert sum(r["contracted_cost"] is None for r in sample_rows) == 7
    assert all(r["charge_class"] is None for r in sample_rows)  # every ChargeClass is "NULL"
    strings = [v for r in sample_rows for v in r.values() if isinstance(v, str)]
    assert "NULL" not in strings
    assert sum(r["tags"] is None for r in sample_rows) == 289
    tagged = next(r for r in sample_rows if r["tags"] and " org" in r["tags"])
    assert tagged["tags"]["env"] == "prod"  # keys kept as written, even " org"


def test_sample_mixed_grains_and_datetimes(sample_rows: list[dict[str, Any]]) -> None:
    grains = Counter(
        (
            r["service_provider_name"],
            (r["charge_period_end"] - r["charge_period_start"]).total_seconds(),
        )
        for r in sample_rows
    )
    assert grains == {("AWS", 3600.0): 942, ("Microsoft", 86400.0): 51, ("Oracle", 3600.0): 7}
    first = sample_rows[0]
    assert first["charge_period_start"] == datetime(2024, 9, 18, 22, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2024, 10, 1, tzinfo=UTC)


def test_sample_enum_spellings_normalised(sample_rows: list[dict[str, Any]]) -> None:
    # the file has both "Usage-Based" and "Usage-based" (Oracle rows)
    assert Counter(r["charge_frequency"] for r in sample_rows) == {
        "Usage-Based": 999,
        "One-Time": 1,
    }
    assert {r["charge_category"] for r in sample_rows} == {"Usage", "Credit", "Adjustment"}
    assert {r["service_provider_name"] for r in sample_rows} == {"AWS", "Microsoft", "Oracle"}
    assert "Red Hat Inc." in {r["host_provider_name"] for r in sample_rows}


def test_sample_row_keys_distinct_and_costless(sample_rows: list[dict[str, Any]]) -> None:
    assert len({r["row_key"] for r in sample_rows}) == 1000
    assert [r["source_line"] for r in sample_rows[:2]] == [2, 3]
    assert all(r["cost_dataset"] == "focus" for r in sample_rows)
    assert all(r.get("replace_scope") is None for r in sample_rows)  # partial files are common


def test_sample_compute_kind(sample_rows: list[dict[str, Any]]) -> None:
    kinds = Counter(r["compute_kind"] for r in sample_rows)
    assert kinds["gpu_hours"] == 10  # g5.4xlarge / g3.4xlarge instance hours
    assert kinds["tokens"] == 0 and all(r["model"] is None for r in sample_rows)
    gpu = {r["charge_description"] for r in sample_rows if r["compute_kind"] == "gpu_hours"}
    assert all("g5.4xlarge" in d or "g3.4xlarge" in d for d in gpu)


def test_sample_as_csv_gz(tmp_path: Path) -> None:
    gz = tmp_path / "focus_sample.csv.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert detect(gz).name == "focus"
    parsed = parse_file(gz)
    assert len(parsed.table("charges")) == 1000 and parsed.bad == []
    for col, expected in SAMPLE_TOTALS.items():
        assert totals(parsed.table("charges"), col) == expected


def _sample_as_parquet(path: Path) -> Path:
    """The sample as a typed Parquet export: decimals, a float64 cost, timestamps, nulls."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(SAMPLE, newline="", encoding="utf-8-sig") as fh:
        recs = list(csv.DictReader(fh))
    cols: dict[str, Any] = {}
    for name in recs[0]:
        vals = [None if r[name] == "NULL" else r[name] for r in recs]
        if name in ("BilledCost", "ListCost"):
            cols[name] = pa.array([Decimal(v) if v else None for v in vals], pa.decimal128(38, 11))
        elif name == "EffectiveCost":  # AWS FOCUS types costs as double
            cols[name] = pa.array([float(v) if v else None for v in vals], pa.float64())
        elif name.endswith(("PeriodStart", "PeriodEnd")):
            ts = [datetime.fromisoformat(v).replace(tzinfo=UTC) for v in vals]  # type: ignore[arg-type]
            cols[name] = pa.array(ts, pa.timestamp("ms", tz="UTC"))
        else:
            cols[name] = pa.array(vals, pa.string())
    pq.write_table(pa.table(cols), path)
    return path


def test_sample_as_parquet(tmp_path: Path) -> None:
    pqf = _sample_as_parquet(tmp_path / "focus_sample.parquet")
    assert detect(pqf).name == "focus"
    parsed = parse_file(pqf)
    rows = parsed.table("charges")
    assert len(rows) == 1000 and parsed.bad == []
    for col, expected in SAMPLE_TOTALS.items():
        assert totals(rows, col) == expected, col
    csv_keys = [r["row_key"] for r in parse_file(SAMPLE).table("charges")]
    assert [r["row_key"] for r in rows] == csv_keys  # same lines, same keys, whatever the format


def test_header_names_case_insensitive(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8-sig")
    header, rest = text.split("\n", 1)
    p = tmp_path / "lower.csv"
    p.write_text(header.lower() + "\n" + rest, encoding="utf-8")
    assert detect(p).name == "focus"
    rows = parse_file(p).table("charges")
    assert totals(rows, "billed_cost") == SAMPLE_TOTALS["billed_cost"]
    assert rows[0]["service_provider_name"] == "AWS"


# --- FOCUS 1.2 spec example tables -----------------------------------------------------------

# (file, rows, BilledCost, EffectiveCost) computed with Python decimal over csv after stripping
# "$", "," and spaces: Decimal(v.replace('$','').replace(',','').strip()) summed per file.
SPEC_OK = [
    ("saas_examples/simple_agreements/simple_saas_agreements_a1.csv", 1, "10000.00", "10000.00"),
    ("saas_examples/simple_agreements/simple_saas_agreements_a2.csv", 1, "50000.00", "50000.00"),
    ("saas_examples/simple_agreements/simple_saas_agreements_a3.csv", 1, "1000.00", "1000.00"),
    ("saas_examples/simple_agreements/simple_saas_agreements_b.csv", 1, "50000.00", "50000.00"),
    ("saas_examples/simple_agreements/simple_saas_agreements_c.csv", 3, "35800.00", "35800.00"),
    ("saas_examples/spend_agreements/saas_spend_agreements_a1.csv", 4, "1200", "1200"),
    ("saas_examples/spend_agreements/saas_spend_agreements_a2.csv", 13, "1200", "1200"),
    ("saas_examples/spend_agreements/saas_spend_agreements_b1.csv", 5, "1200", "1200"),
    ("saas_examples/spend_agreements/saas_spend_agreements_b2.csv", 14, "1200", "1200"),
    ("saas_examples/virtual_currency_pricing_model_a1.csv", 1, "200000.00", "0.00"),
    ("saas_examples/virtual_currency_pricing_model_a2.csv", 3, "0.00", "1230.00"),
    ("saas_examples/virtual_currency_pricing_model_b1.csv", 1, "100000.00", "0.00"),
    ("saas_examples/virtual_currency_pricing_model_b2.csv", 3, "0.00", "615.00"),
    ("saas_examples/virtual_currency_pricing_model_b3.csv", 3, "0.00", "495.00"),
    ("saas_examples/virtual_currency_pricing_model_c.csv", 2, "53000.00", "0.00"),
]
# these tables omit BillingCurrency: money without a currency is refused as a whole file
SPEC_REJECTED = sorted(str(p.relative_to(SPEC)) for p in SPEC.glob("commitment_discount_*/*.csv"))


def test_spec_examples_all_accounted_for() -> None:
    assert len(SPEC_OK) + len(SPEC_REJECTED) == len(list(SPEC.rglob("*.csv"))) == 26
    assert len(SPEC_REJECTED) == 11


@pytest.mark.parametrize(("name", "n", "billed", "effective"), SPEC_OK)
def test_spec_examples_ingest(name: str, n: int, billed: str, effective: str) -> None:
    path = SPEC / name
    assert detect(path).name == "focus"
    parsed = parse_file(path)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == n
    assert totals(rows, "billed_cost") == {"USD": Decimal(billed)}
    assert totals(rows, "effective_cost") == {"USD": Decimal(effective)}


@pytest.mark.parametrize("name", SPEC_REJECTED)
def test_spec_examples_without_currency_rejected(name: str) -> None:
    path = SPEC / name
    assert detect(path).name == "focus"
    with pytest.raises(SourceError, match="BillingCurrency"):
        parse_file(path)


def test_spec_example_quirks() -> None:
    # "$10,000.00 " amounts and M/D/YY dates (spreadsheet-authored tables)
    row = parse_file(SPEC / "saas_examples/simple_agreements/simple_saas_agreements_a1.csv").table(
        "charges"
    )[0]
    assert row["billed_cost"] == Decimal("10000.00")
    assert row["charge_period_start"] == datetime(2025, 4, 1, tzinfo=UTC)
    assert row["charge_period_end"] == datetime(2026, 4, 1, tzinfo=UTC)
    # virtual currency: PricingCurrency "Token" is kept as found; "Token" units of a Purchase
    # are credits, not LLM tokens
    vc = parse_file(SPEC / "saas_examples/virtual_currency_pricing_model_a2.csv").table("charges")
    assert {r["pricing_currency"] for r in vc} == {"Token"}
    buy = parse_file(SPEC / "saas_examples/virtual_currency_pricing_model_a1.csv").table("charges")[
        0
    ]
    assert (
        buy["pricing_unit"] == "Token" and buy["tokens"] is None and buy["compute_kind"] == "other"
    )


# --- FOCUS 1.3 (constructed from documented column names) -------------------------------------


def test_focus_13_fixture() -> None:
    parsed = parse_file(F13)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 7
    # python decimal over csv: sum(Decimal(r['BilledCost'])) = 70.15, same for EffectiveCost
    assert totals(rows, "billed_cost") == {"USD": Decimal("70.15")}
    assert totals(rows, "effective_cost") == {"USD": Decimal("70.15")}
    assert {r["service_provider_name"] for r in rows} == {"Example AI Inc."}
    assert {r["host_provider_name"] for r in rows} == {"Example Cloud"}
    assert {r["billing_currency"] for r in rows} == {"USD"}  # written "usd"
    assert {r["charge_category"] for r in rows} == {
        "Usage",
        "Credit",
        "Tax",
    }  # "usage", "credit", "TAX"
    assert {r["charge_frequency"] for r in rows} == {"Usage-Based", "One-Time"}
    assert {r["pricing_category"] for r in rows} == {"Standard"}  # "STANDARD"
    assert {r["charge_class"] for r in rows} == {None, "Correction"}  # "NULL", "correction"
    assert {r["service_category"] for r in rows} == {"AI and Machine Learning", "Compute", "Other"}
    assert rows[0]["tags"] == {"team": "search", "x_vendor/managed": "true"}
    # "2025-07-01T00:00:00Z" and "2025-07-01 00:00:00" are the same instant
    assert rows[0]["charge_period_start"] == rows[1]["charge_period_start"]


def test_focus_13_tokens_and_allocation() -> None:
    rows = parse_file(F13).table("charges")
    inp, out, gpu_a, gpu_b, credit, corr, tax = rows
    assert (inp["token_type"], inp["tokens"], inp["compute_kind"]) == (
        "input_uncached",
        1_200_000,
        "tokens",
    )
    assert (out["token_type"], out["tokens"]) == ("output", 300_000)
    assert inp["service_tier"] is None  # no tier is claimed for a meter that names none
    assert corr["tokens"] == -200_000 and corr["billed_cost"] == Decimal("-0.50")
    # split cost allocation: identical but for AllocatedResourceId -> two different lines
    assert gpu_a["compute_kind"] == gpu_b["compute_kind"] == "gpu_hours"
    assert gpu_a["row_key"] != gpu_b["row_key"]
    assert credit["compute_kind"] == tax["compute_kind"] == "other" and credit["tokens"] is None


# --- Azure FocusCost with Azure OpenAI meters (constructed) -----------------------------------


def test_azure_focus_openai_meters() -> None:
    parsed = parse_file(AZURE)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 9
    # python decimal over csv: sum(Decimal(r['BilledCost'])) = 350.823290 (EUR)
    assert totals(rows, "billed_cost") == {"EUR": Decimal("350.823290")}
    assert totals(rows, "effective_cost") == {"EUR": Decimal("350.823290")}
    got = [
        (r["model"], r["token_type"], r["tokens"], r["service_tier"], r["compute_kind"])
        for r in rows
    ]
    assert got == [
        ("gpt-4o-mini-2024-07-18", "input_uncached", 1_520_000, "standard", "tokens"),
        ("gpt-4o-mini-2024-07-18", "output", 310_000, "standard", "tokens"),
        ("gpt-4o-2024-08-06", "input_cache_read", 2_000_000, "standard", "tokens"),
        ("gpt-4o-2024-08-06", "input_uncached", 5_000_000, "batch", "tokens"),
        ("text-embedding-3-large", "embedding", 800_000, "standard", "tokens"),
        ("gpt-5.4-mini", "input_cache_read", 3_500_000, "standard", "tokens"),
        ("gpt-4o-mini-2024-07-18", "input_uncached", -20_000, "standard", "tokens"),  # reversal
        (None, None, None, None, "storage"),
        (None, None, None, "provisioned", "provisioned_throughput"),
    ]
    assert rows[0]["model_raw"] == "gpt-4o-mini-0718"  # the model as the meter writes it
    assert rows[0]["sku_meter"] == "gpt-4o-mini-0718-Inp-regnl Tokens"
    assert rows[0]["project_id"] == "rg-chatbot"  # x_ResourceGroupName
    assert rows[0]["pricing_currency"] == "EUR"  # x_PricingCurrency
    assert rows[0]["tags"] == {"workflow": "support-bot", "env": "prod"}
    # Microsoft's "-2" / "Unassigned" placeholders are nulls
    assert rows[7]["sku_price_id"] is None and rows[7]["sub_account_name"] is None


def test_azure_focus_10_meter_in_x_column(tmp_path: Path) -> None:
    # FocusCost 1.0 has no SkuMeter; the meter is x_SkuMeterName (focuscost_1.0.json)
    text = AZURE.read_text().replace(",SkuMeter,", ",x_SkuMeterName,", 1)
    p = tmp_path / "focus10.csv"
    p.write_text(text)
    rows = parse_file(p).table("charges")
    assert rows[2]["sku_meter"] == "gpt 4o 0806 cached Inp glbl Tokens"
    assert rows[2]["token_type"] == "input_cache_read"


# --- AWS FOCUS with Bedrock x_UsageType (constructed) -----------------------------------------


def test_aws_focus_bedrock_usage_types() -> None:
    parsed = parse_file(AWS)
    rows = parsed.table("charges")
    assert parsed.bad == [] and len(rows) == 11
    # python decimal over csv: sum(Decimal(r['BilledCost'])) = 111.40045 (USD)
    assert totals(rows, "billed_cost") == {"USD": Decimal("111.40045")}
    got = [
        (r["model"], r["token_type"], r["tokens"], r["service_tier"], r["compute_kind"])
        for r in rows
    ]
    assert got == [
        ("claude-sonnet-4-6", "input_uncached", 1_250_500, "standard", "tokens"),  # 1250.5 x 1K
        ("claude-sonnet-4-6", "output", 210_250, "standard", "tokens"),
        ("claude-sonnet-4-6", "input_cache_read", 4_000_000, "standard", "tokens"),
        ("claude-sonnet-4-6", "input_cache_write_5m", 300_000, "standard", "tokens"),
        ("claude-sonnet-4-6", "input_cache_write_1h", 100_000, "standard", "tokens"),
        ("claude-3-5-sonnet", "input_uncached", 50_000, "batch", "tokens"),
        ("claude-sonnet-4-5", "input_cache_write_1h", 20_000, "standard", "tokens"),
        (None, None, None, None, "gpu_hours"),
        (None, None, None, "provisioned", "provisioned_throughput"),
        (None, None, None, None, "other"),
        (None, None, None, None, "other"),
    ]
    assert rows[0]["model_raw"] == "Claude4.6Sonnet"  # the model part of the usage type
    # same dimensions but a different x_UsageType -> different lines
    assert len({r["row_key"] for r in rows[:5]}) == 5


# --- row key, bad rows, whole-file errors, replace scope, JSONL ------------------------------


def test_row_key_ignores_cost_version_and_spelling(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", MINI_HEADER, [mini_row(ChargeFrequency="Usage-based")])
    h13 = [
        {"ProviderName": "ServiceProviderName", "PublisherName": "HostProviderName"}.get(c, c)
        for c in MINI_HEADER
    ]
    b = write_csv(
        tmp_path / "b.csv",
        h13,
        [mini_row(BilledCost="9.99", EffectiveCost="9.00", ChargePeriodStart="2024-09-18T22:00:00Z",
                  ChargePeriodEnd="2024-09-18T23:00:00Z", ChargeCategory="usage")],
    )  # fmt: skip
    ka = parse_file(a).table("charges")[0]["row_key"]
    kb = parse_file(b).table("charges")[0]["row_key"]
    assert ka == kb
    c = write_csv(tmp_path / "c.csv", MINI_HEADER, [mini_row(ResourceId="i-2")])
    assert parse_file(c).table("charges")[0]["row_key"] != ka


def test_bad_rows_quarantined_others_kept(tmp_path: Path) -> None:
    rows = [
        mini_row(),
        mini_row()[:5],  # malformed: too few fields
        mini_row(BillingCurrency="US Dollar"),
        mini_row(BilledCost="12,5O"),
        mini_row(ChargePeriodStart="NULL"),
        mini_row(BilledCost="NULL", EffectiveCost=""),
        mini_row(BillingCurrency="EUR", BilledCost="$5"),
        mini_row(ChargePeriodStart="yesterday"),
        mini_row(Tags="{not json"),
        mini_row(BilledCost="-3.25", ChargeCategory="Credit"),
    ]
    p = write_csv(tmp_path / "bad.csv", MINI_HEADER, rows)
    parsed = parse_file(p)
    good = parsed.table("charges")
    assert [r["billed_cost"] for r in good] == [Decimal("1.50"), Decimal("-3.25")]
    reasons = [(b.location, b.reason) for b in parsed.bad]
    assert len(reasons) == 8
    assert reasons[0] == ("3", "expected 15 fields, found 5")
    assert "ISO 4217" in reasons[1][1]
    assert reasons[2][1] == "BilledCost: not a number: '12,5O'"
    assert reasons[3][1] == "ChargePeriodStart is null"
    assert reasons[4][1].startswith("no cost")
    assert "$ sign" in reasons[5][1]
    assert reasons[6][1] == "ChargePeriodStart: not a timestamp: 'yesterday'"
    assert "tags" in reasons[7][1]
    assert all(b.raw for b in parsed.bad[1:])


def test_whole_file_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "x.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError):
        parse_file(corrupt, source="focus")
    doc = tmp_path / "x.json"
    doc.write_text(json.dumps([{"BilledCost": 1}]))
    with pytest.raises(SourceError, match="CSV, Parquet or JSON Lines"):
        parse_file(doc, source="focus")
    nocost = write_csv(
        tmp_path / "n.csv", ["ChargePeriodStart", "BillingCurrency"], [["2024-01-01", "USD"]]
    )
    with pytest.raises(SourceError, match="BilledCost, EffectiveCost"):
        parse_file(nocost, source="focus")


def test_replace_scope_is_opt_in(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "s.csv",
        MINI_HEADER,
        [mini_row(), mini_row(ChargePeriodStart="2024-09-19 00:00:00")],
    )
    assert all(r.get("replace_scope") is None for r in parse_file(p).table("charges"))
    ctx = ParseContext(config={"focus": {"replace_scope": "billing_account_day"}})
    rows = parse_file(p, ctx=ctx).table("charges")
    assert [r["replace_scope"] for r in rows] == ["111|2024-09-18", "111|2024-09-19"]
    assert rows[0]["delivery"] == str(tmp_path.resolve())
    ctx = ParseContext(config={"focus": {"replace_scope": "sub_account_day"}})
    assert parse_file(p, ctx=ctx).table("charges")[0]["replace_scope"] == "111|222|2024-09-18"
    with pytest.raises(SourceError, match="replace_scope"):
        parse_file(p, ctx=ParseContext(config={"focus": {"replace_scope": "month"}}))


def test_jsonl_numbers_exact(tmp_path: Path) -> None:
    # FOCUS 1.3 JSON Lines (Vercel publishes FOCUS as JSONL); floats stay exact
    recs = [
        {"BilledCost": 0.1, "EffectiveCost": 0.1, "BillingCurrency": "USD", "ChargeCategory": "Usage",
         "ChargePeriodStart": "2025-01-01T00:00:00Z", "ChargePeriodEnd": "2025-01-02T00:00:00Z",
         "ServiceProviderName": "Vercel", "Tags": {"project": "web"}},
        {"BilledCost": 0.2, "EffectiveCost": 0.2, "BillingCurrency": "USD", "ChargeCategory": "Usage",
         "ChargePeriodStart": "2025-01-02T00:00:00Z", "ChargePeriodEnd": "2025-01-03T00:00:00Z",
         "ServiceProviderName": "Vercel", "Tags": None},
    ]  # fmt: skip
    p = tmp_path / "charges.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n{broken\n")
    assert detect(p).name == "focus"
    parsed = parse_file(p)
    rows = parsed.table("charges")
    assert totals(rows, "billed_cost") == {"USD": Decimal("0.3")}
    assert rows[0]["tags"] == {"project": "web"} and rows[0]["service_provider_name"] == "Vercel"
    assert len(parsed.bad) == 1 and parsed.bad[0].location == "3"


# --- end to end through the lake --------------------------------------------------------------


def test_sample_through_lake(tmp_path: Path) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")

    lake = tmp_path / "lake"
    res = pipeline.ingest([SAMPLE], lake=lake)
    assert not res.failed and res.rows_written == 1000
    sql = (
        "select billing_currency, sum(billed_cost), sum(effective_cost), count(*) "
        "from charges where source_format = 'focus' group by 1"
    )
    expected = [
        ("USD", SAMPLE_TOTALS["billed_cost"]["USD"], SAMPLE_TOTALS["effective_cost"]["USD"], 1000)
    ]
    assert Workspace(lake).rows(sql) == expected
    assert pipeline.ingest([SAMPLE], lake=lake).rows_written == 0
    assert Workspace(lake).rows(sql) == expected
    # forced re-read, and the same lines as Parquet (another file): replaced, never added
    assert pipeline.ingest([SAMPLE], lake=lake, force=True).rows_replaced == 1000
    assert (
        pipeline.ingest([_sample_as_parquet(tmp_path / "s.parquet")], lake=lake).rows_replaced
        == 1000
    )
    assert Workspace(lake).rows(sql) == expected


def test_parquet_map_tags_and_numeric_ids(tmp_path: Path) -> None:
    # GCP/AWS-style typed Parquet: Tags as MAP<string,string>, an integer account id, naive timestamps
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "BilledCost": pa.array([Decimal("0.10"), Decimal("-0.04")], pa.decimal128(20, 6)),
            "EffectiveCost": pa.array([Decimal("0.10"), Decimal("-0.04")], pa.decimal128(20, 6)),
            "BillingCurrency": ["EUR", "EUR"],
            "ChargePeriodStart": pa.array(
                [datetime(2025, 1, 1), datetime(2025, 1, 1, 1)], pa.timestamp("us")
            ),
            "ChargePeriodEnd": pa.array(
                [datetime(2025, 1, 1, 1), datetime(2025, 1, 1, 2)], pa.timestamp("us")
            ),
            "ChargeCategory": ["Usage", "Credit"],
            "BillingAccountId": pa.array([123456, 123456], pa.int64()),
            "Tags": pa.array([[("team", "a")], None], pa.map_(pa.string(), pa.string())),
        }
    )
    p = tmp_path / "gcp_focus.parquet"
    pq.write_table(table, p)
    parsed = parse_file(p)
    rows = parsed.table("charges")
    assert parsed.bad == []
    assert totals(rows, "billed_cost") == {"EUR": Decimal("0.06")}
    assert rows[0]["billing_account_id"] == "123456" and rows[0]["tags"] == {"team": "a"}
    assert rows[1]["tags"] is None and rows[1]["charge_period_start"] == datetime(
        2025, 1, 1, 1, tzinfo=UTC
    )


# --- AI token billing (issue 13 §4): model from SkuPriceDetails / provider conventions, token class
# from TokenCacheAction / meters, tokens from units; never a token word as the model -------------

AI = FIX / "ai_tokens"
D = Decimal
SPEC_AI = AI / "spec_examples"
#: names the old parser gave models ("cache-read" from "Cache Read Input Tokens", ...)
TOKEN_WORDS = {"cache-read", "cache-write", "input", "output", "prompt", "cached", "tokens"}


def ai_rows(path: Path) -> list[tuple[Any, ...]]:
    parsed = parse_file(path)
    assert parsed.bad == []
    return [
        (
            r["model"],
            r["token_type"],
            r["tokens"],
            r["service_tier"],
            r["compute_kind"],
            r["billed_cost"],
        )
        for r in parsed.table("charges")
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Scenario A (Solora AI, ai_prompt_caching_examples.md): SkuPriceDetails ModelId
        # "solora-reasoning-pro", TokenCacheAction Uncached / Write / Read, TokenDirection Output;
        # ConsumedQuantity in "Tokens": 500,000 x $3/M = 1.50; 2,000,000 x $3.75/M = 7.50;
        # 8,000,000 x $0.30/M = 2.40; 1,500,000 x $15/M = 22.50. A Write names no TTL -> 5m.
        ("ai_prompt_caching_a.csv", [
            ("solora-reasoning-pro", "input_uncached", 500_000, None, "tokens", D("1.5")),
            ("solora-reasoning-pro", "input_cache_write_5m", 2_000_000, None, "tokens", D("7.5")),
            ("solora-reasoning-pro", "input_cache_read", 8_000_000, None, "tokens", D("2.4")),
            ("solora-reasoning-pro", "output", 1_500_000, None, "tokens", D("22.5")),
        ]),
        # Scenario B (LatticeScale): input 2,500,000 x $3/M = 7.50 (TokenDirection Input, no
        # TokenCacheAction); "Cached Input Tokens" Read 8,000,000 x $0.30/M = 2.40; output 22.50;
        # "Context Cache Storage" 6,000,000 Token-Hours x $1/M = 6.00: storage, no tokens.
        ("ai_prompt_caching_b.csv", [
            ("latticescale.solora-reasoning-pro", "input_uncached", 2_500_000, None, "tokens", D("7.5")),
            ("latticescale.solora-reasoning-pro", "input_cache_read", 8_000_000, None, "tokens", D("2.4")),
            ("latticescale.solora-reasoning-pro", "output", 1_500_000, None, "tokens", D("22.5")),
            ("latticescale.solora-reasoning-pro", None, None, None, "storage", D("6.0")),
        ]),
        # the earlier draft's TokenType "Input" / "Output": 5,000,000 x $3/M, 1,500,000 x $15/M
        ("ai_model_identity_b.csv", [
            ("latticescale.solora-reasoning-pro", "input_uncached", 5_000_000, None, "tokens", D("15.0")),
            ("latticescale.solora-reasoning-pro", "output", 1_500_000, None, "tokens", D("22.5")),
        ]),
        # three models on one invoice; Venus also reads (100,000 x $0.10/M = 0.01) and writes
        # (80,000 x $1.25/M = 0.10) the cache
        ("multi_model_invoice_via_csp_marketplace.csv", [
            ("solora-atlas-5.6-jupiter", "input_uncached", 100_000_000, None, "tokens", D("500.00")),
            ("solora-atlas-5.6-jupiter", "output", 50_000_000, None, "tokens", D("1500.00")),
            ("solora-atlas-5.6-mars", "input_uncached", 5_000_000, None, "tokens", D("12.50")),
            ("solora-atlas-5.6-mars", "output", 1_500_000, None, "tokens", D("22.50")),
            ("solora-atlas-5.6-venus", "input_uncached", 750_000, None, "tokens", D("0.75")),
            ("solora-atlas-5.6-venus", "output", 250_000, None, "tokens", D("1.50")),
            ("solora-atlas-5.6-venus", "input_cache_read", 100_000, None, "tokens", D("0.01")),
            ("solora-atlas-5.6-venus", "input_cache_write_5m", 80_000, None, "tokens", D("0.10")),
        ]),
    ],
)  # fmt: skip
def test_spec_ai_examples(name: str, expected: list[tuple[Any, ...]]) -> None:
    assert ai_rows(SPEC_AI / name) == expected


def test_azure_focus_meters_in_units() -> None:
    # Azure writes 1K/1M meters as ConsumedUnit/PricingUnit "Units" with x_PricingBlockSize:
    # tokens = ConsumedQuantity (= PricingQuantity blocks x block size); cost = blocks x price.
    assert ai_rows(AI / "azure_focus_1.2_aoai_units_constructed.csv") == [
        ("gpt-4o-2024-08-06", "input_uncached", 2_500_000, "standard", "tokens", D("6.2500")),  # 2500 x 0.0025
        ("gpt-4o-2024-08-06", "input_cache_read", 800_000, "standard", "tokens", D("1.00000")),  # 800 x 0.00125
        ("gpt-4o-2024-08-06", "output", 300_000, "standard", "tokens", D("3.00")),  # 300 x 0.01
        ("gpt-5.4-mini", "input_uncached", 4_000_000, "standard", "tokens", D("1.00")),  # 4 x 1M, 4 x 0.25
        ("gpt-5.4-mini", "output", 500_000, "standard", "tokens", D("1.0")),  # "Opt": 0.5 x 1M, 0.5 x 2
        ("gpt-5.4-mini", "input_cache_read", 2_000_000, "standard", "tokens", D("0.050")),  # "cd"
        ("gpt-5.6-sol", "input_cache_write_5m", 200_000, "standard", "tokens", D("0.250")),  # "Cd Wr Std"
        ("gpt-5-codex", "input_cache_read", 1_000_000, "standard", "tokens", D("0.125000")),  # "ccchd"
        ("gpt-5-codex", "output", 100_000, "standard", "tokens", D("1.00")),  # "out"
        (None, None, None, "provisioned", "provisioned_throughput", D("24")),  # PTU hours
        ("gpt-4o-2024-08-06", "input_uncached", -100_000, "standard", "tokens", D("-0.2500")),  # reversal
        (None, None, None, None, "egress", D("0.870")),  # "Standard Data Transfer Out" is no output
    ]  # fmt: skip


def test_aws_focus_12_usage_type_in_sku_meter() -> None:
    # AWS FOCUS 1.2 drops x_UsageType: "This is now the SkuMeter column". 1K/1M token units scale.
    rows = parse_file(AI / "aws_focus_1.2_bedrock_skumeter_constructed.csv").table("charges")
    assert ai_rows(AI / "aws_focus_1.2_bedrock_skumeter_constructed.csv") == [
        ("claude-3-7-sonnet", "input_uncached", 1_500_000, "standard", "tokens", D("4.500")),  # 1500 x 1K
        ("claude-3-7-sonnet", "output", 200_000, "standard", "tokens", D("3.000")),
        ("claude-3-7-sonnet", "input_cache_read", 12_000_000, "standard", "tokens", D("3.6000")),
        ("claude-3-7-sonnet", "input_cache_write_5m", 800_000, "standard", "tokens", D("3.00000")),
        ("claude-3-7-sonnet", "input_cache_write_1h", 50_000, "standard", "tokens", D("0.300")),
        ("nova2.0lite", "input_uncached", 2_500_000, "flex", "tokens", D("0.075")),  # 2.5 x 1M tokens
        ("gpt-oss-120b", "output", 100_000, "priority", "tokens", D("0.07500")),
        # Marketplace: model from "Claude Opus 4.6 (Amazon Bedrock Edition)"; "Units" of an
        # MP usage type are undocumented (raw or per million?): tokens unknown, not guessed
        ("claude-opus-4-6", "input_cache_read", None, "standard", "tokens", D("23.0")),
        (None, None, None, None, "storage", D("2.760")),  # S3 TimedStorage, GB-Mo
        # a credit on a token SKU is the model's money, never tokens
        ("claude-3-7-sonnet", None, None, "standard", "tokens", D("-1.00")),
    ]  # fmt: skip
    assert rows[0]["model_raw"] == "Claude3.7Sonnet" and rows[7]["model_raw"] == "Claude Opus 4.6"


def test_gcp_focus_vertex_sku_names() -> None:
    # SKU descriptions in ChargeDescription, tokens counted in "count"; cost = count x $/M / 1M
    assert ai_rows(AI / "gcp_focus_vertex_constructed.csv") == [
        ("gemini-3-flash", "input_uncached", 3_000_000, "standard", "tokens", D("1.50")),  # x 0.50/M
        ("gemini-3-flash", "output", 400_000, "standard", "tokens", D("1.20")),  # x 3/M
        ("gemini-3-flash", "input_cache_read", 5_000_000, "standard", "tokens", D("0.25")),  # "Input Caching"
        ("gemini-3-flash", None, None, None, "storage", D("2.00")),  # "Caching Storage": no tokens
        ("gemini-2.5-flash", "output", 250_000, "standard", "tokens", D("0.625")),  # thinking is output
        ("gemini-2.0-flash", "input_uncached", 1_000_000, "standard", "tokens", D("0.30")),  # "(Long)"
        ("gemini-1.0-pro", None, None, "standard", "other", D("0.050")),  # in characters: no tokens
    ]  # fmt: skip


def test_skupricedetails_model_and_token_keys() -> None:
    rows = parse_file(AI / "saas_focus_1.3_skupricedetails_constructed.csv").table("charges")
    assert ai_rows(AI / "saas_focus_1.3_skupricedetails_constructed.csv") == [
        # ConsumedUnit "1K Tokens" x 12.5 = 12,500 tokens; 0.0125 x $2 per "1M Tokens" = 0.025
        ("acme-chat-2", "input_uncached", 12_500, None, "tokens", D("0.025")),
        ("acme-chat-2", "input_cache_read", 400_000, None, "tokens", D("0.08")),  # x_ModelId, TokenType
        ("acme-chat-2", "input_cache_write_1h", 100_000, None, "tokens", D("0.40")),  # x_CacheTtl "1h"
        ("acme-chat-2", "input_cache_write_5m", 300_000, None, "tokens", D("0.75")),
        ("acme-chat-2", "reasoning", 50_000, None, "tokens", D("0.40")),  # Output + "Reasoning Tokens"
        ("acme-chat-2", "output", 200_000, None, "tokens", D("1.60")),  # no ConsumedQuantity: 0.2 x 1M
        ("acme-voice-1", "input_audio", 60_000, None, "tokens", D("2.40")),
        ("acme-embed-3", "embedding", 1_000_000, None, "tokens", D("0.02")),
        ("acme-chat-2", None, None, None, "storage", D("3.00")),  # 3,000,000 Token-Hours
        ("acme-tts-1", None, None, None, "other", D("0.15")),  # 10,000 Characters are not tokens
    ]  # fmt: skip
    assert {r["model_raw"] for r in rows} == {
        "acme-chat-2",
        "acme-voice-1",
        "acme-embed-3",
        "acme-tts-1",
    }



def test_ai_tokens_reconcile_by_model(tmp_path: Path) -> None:
    """Through the CLI: ingest, `costlab sql` and `costlab reconcile` show the real model names with
    each model's billed money (no "cache-read" model, no cache tokens typed as uncached input)."""
    from typer.testing import CliRunner

    from costlab.cli import app

    lake = str(tmp_path / "lake")
    files = [AI / f for f in (
        "azure_focus_1.2_aoai_units_constructed.csv", "aws_focus_1.2_bedrock_skumeter_constructed.csv",
        "gcp_focus_vertex_constructed.csv", "saas_focus_1.3_skupricedetails_constructed.csv",
    )] + [SPEC_AI / "ai_prompt_caching_a.csv", SPEC_AI / "multi_model_invoice_via_csp_marketplace.csv"]  # fmt: skip
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", *map(str, files), "--lake", lake])
    assert r.exit_code == 0, r.output

    def cli_json(*args: str) -> list[dict[str, Any]]:
        out = runner.invoke(app, [*args, "--lake", lake, "-f", "json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout, parse_float=Decimal)

    cache = cli_json(
        "sql", "select model, token_type, sum(tokens) as tokens from charges "
        "where token_type like 'input_cache%' group by all order by all",
    )  # fmt: skip
    assert {(c["model"], c["token_type"]): c["tokens"] for c in cache} == {
        ("claude-3-7-sonnet", "input_cache_read"): 12_000_000,
        ("claude-3-7-sonnet", "input_cache_write_1h"): 50_000,
        ("claude-3-7-sonnet", "input_cache_write_5m"): 800_000,
        ("claude-opus-4-6", "input_cache_read"): None,  # Marketplace "Units": unknown, not 0
        ("gpt-4o-2024-08-06", "input_cache_read"): 800_000,
        ("gpt-5.4-mini", "input_cache_read"): 2_000_000,
        ("gpt-5-codex", "input_cache_read"): 1_000_000,
        ("gpt-5.6-sol", "input_cache_write_5m"): 200_000,
        ("gemini-3-flash", "input_cache_read"): 5_000_000,
        ("acme-chat-2", "input_cache_read"): 400_000,
        ("acme-chat-2", "input_cache_write_1h"): 100_000,
        ("acme-chat-2", "input_cache_write_5m"): 300_000,
        ("solora-reasoning-pro", "input_cache_read"): 8_000_000,
        ("solora-reasoning-pro", "input_cache_write_5m"): 2_000_000,
        ("solora-atlas-5.6-venus", "input_cache_read"): 100_000,
        ("solora-atlas-5.6-venus", "input_cache_write_5m"): 80_000,
    }
    summary = cli_json("reconcile")
    billed = {(s["provider"], s["model"]): s["billed"] for s in summary}
    # per model, the Usage lines of each file above (reconciliation keys drop snapshot dates)
    assert billed == {
        ("azure", "gpt-4o"): D("10.00"),  # 6.25 + 1.00 + 3.00 - 0.25 (reversal)
        ("azure", "gpt-5.4-mini"): D("2.05"),  # 1.00 + 1.00 + 0.05
        ("azure", "gpt-5.6-sol"): D("0.25"),
        ("azure", "gpt-5-codex"): D("1.125"),  # 0.125 + 1.00
        ("aws.bedrock", "claude-3-7-sonnet"): D("14.40"),  # 4.50 + 3.00 + 3.60 + 3.00 + 0.30
        ("aws.bedrock", "nova2.0lite"): D("0.075"),
        ("aws.bedrock", "gpt-oss-120b"): D("0.075"),
        ("aws.bedrock", "claude-opus-4-6"): D("23.0"),
        ("google", "gemini-3-flash"): D(
            "2.95"
        ),  # 1.50 + 1.20 + 0.25 (storage 2.00 is no token line)
        ("google", "gemini-2.5-flash"): D("0.625"),
        ("google", "gemini-2.0-flash"): D("0.30"),
        ("example model co.", "acme-chat-2"): D("3.255"),  # 0.025+0.08+0.40+0.75+0.40+1.60
        ("example model co.", "acme-voice-1"): D("2.40"),
        ("example model co.", "acme-embed-3"): D("0.02"),
        ("solora ai", "solora-reasoning-pro"): D("33.90"),  # 1.50 + 7.50 + 2.40 + 22.50
        ("latticescale", "solora-atlas-5.6-jupiter"): D("2000.00"),
        ("latticescale", "solora-atlas-5.6-mars"): D("35.00"),
        ("latticescale", "solora-atlas-5.6-venus"): D("2.36"),  # 0.75 + 1.50 + 0.01 + 0.10
    }
    credits = {
        (s["provider"], s["model"]): s["credits"] for s in summary if s["credits"] is not None
    }
    assert credits == {("aws.bedrock", "claude-3-7-sonnet"): D("-1.00")}
    assert not {m for _, m in billed} & TOKEN_WORDS


def test_skupricedetails_object_in_jsonl_and_malformed_text(tmp_path: Path) -> None:
    # JSON Lines carry SkuPriceDetails as an object (Vercel's FOCUS 1.3 JSONL); a detail that is
    # not JSON never costs the line its money, the meter still types it
    base = {
        "BilledCost": 0.9, "EffectiveCost": 0.9, "BillingCurrency": "USD", "ChargeCategory": "Usage",
        "ChargePeriodStart": "2025-10-01T00:00:00Z", "ChargePeriodEnd": "2025-10-02T00:00:00Z",
        "ServiceProviderName": "Example Gateway", "ServiceCategory": "AI and Machine Learning",
        "ConsumedQuantity": 300000, "ConsumedUnit": "Tokens", "SkuId": "gw-out",
    }  # fmt: skip
    lines = [
        {**base, "SkuMeter": "Output Tokens",
         "SkuPriceDetails": {"modelid": "anthropic/claude-sonnet-4.5", "tokendirection": "output"}},
        {**base, "SkuMeter": "Cache Read Input Tokens", "SkuId": "gw-read", "BilledCost": 0.09,
         "EffectiveCost": 0.09, "SkuPriceDetails": "ModelId=claude-sonnet-4.5"},
    ]  # fmt: skip
    p = tmp_path / "gateway.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    parsed = parse_file(p)
    rows = parsed.table("charges")
    assert parsed.bad == []
    # keys match case-insensitively; the router prefix "anthropic/" goes (costlab.names)
    assert (rows[0]["model"], rows[0]["model_raw"], rows[0]["token_type"], rows[0]["tokens"]) == (
        "claude-sonnet-4.5", "anthropic/claude-sonnet-4.5", "output", 300_000,
    )  # fmt: skip
    assert (rows[1]["model"], rows[1]["token_type"], rows[1]["billed_cost"]) == (
        None, "input_cache_read", Decimal("0.09"),
    )  # fmt: skip
