"""Azure Cost Management actual / amortized exports (costlab/ingest/azure.py).

Expected numbers were computed outside costlab with one-off commands, quoted next to each value.
The real EA files carry costs with up to 28 decimals; the lake stores DECIMAL(38,12), so per row
they round half-even to 12 places and the sums are compared both ways: exactly against the
12-place per-row values, and within n x 0.5e-12 of the file's exact sum.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest._parse import parse_file
from costlab.ingest.azure import block_size, openai_meter
from costlab.ingest.base import ParseContext

FIX = Path(__file__).parent / "fixtures" / "azure"
ACTUAL = FIX / "EA_ActualCost_Small.csv"
AMORTIZED = FIX / "EA_AmortizedCost_Small.csv"
NO_ROWS = FIX / "EA_NoRows.csv"
CAD = FIX / "focus_converters_ea_cad_excerpt.csv"
MCA = FIX / "mca_openai_meters_constructed.csv"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "billing"
HALF_PICO = Decimal("0.5e-12")

# sums: python -c "import csv,decimal;decimal.getcontext().prec=60;from decimal import Decimal as D;
#   r=list(csv.DictReader(open(F,encoding='utf-8-sig')));print(len(r),sum(D(x[C]) for x in r),
#   sum(D(x[C]).quantize(D('1e-12')) for x in r))"   (cross-checked with duckdb sum(C::DECIMAL(38,28)))
ACTUAL_EXACT, ACTUAL_12 = Decimal("8.5450077867419368"), Decimal("8.545007786742")
AMORT_EXACT, AMORT_12 = Decimal("16.2969321366366446274854190000"), Decimal("16.296932136637")
CAD_EXACT, CAD_12 = Decimal("1.03804122835779"), Decimal("1.038041228358")
MCA_EUR = Decimal("345.861269737")


def charges(path: Path, **kw: object) -> list[dict]:
    parsed = parse_file(path, **kw)  # type: ignore[arg-type]
    assert parsed.bad == []
    return parsed.table("charges")


def total(rows: list[dict], col: str) -> Decimal:
    return sum((r[col] for r in rows if r[col] is not None), Decimal(0))


def write(path: Path, header: list[str], rows: list[dict], bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def ea_rows(path: Path = ACTUAL) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


# -- real samples ------------------------------------------------------------------------------


def test_actual_export_money_rows_and_dataset() -> None:
    rows = charges(ACTUAL)
    assert len(rows) == 11
    assert {r["billing_currency"] for r in rows} == {"USD"}
    assert {r["cost_dataset"] for r in rows} == {"actual"}
    assert total(rows, "billed_cost") == ACTUAL_12
    assert abs(total(rows, "billed_cost") - ACTUAL_EXACT) <= 11 * HALF_PICO
    purchase = next(r for r in rows if r["charge_category"] == "Purchase")
    # the reservation purchase: billed in cash, its effective cost is spread over usage (FOCUS)
    assert purchase["billed_cost"] == Decimal("3.25") and purchase["effective_cost"] == 0
    assert purchase["commitment_discount_type"] == "Reservation"
    assert (
        purchase["charge_frequency"] == "Recurring" and purchase["pricing_category"] == "Committed"
    )
    assert total(rows, "effective_cost") == ACTUAL_12 - Decimal("3.25")
    assert all(r["billed_cost"] == r["effective_cost"] for r in rows if r is not purchase)


def test_amortized_export_money_rows_and_dataset() -> None:
    rows = charges(AMORTIZED)
    assert len(rows) == 28
    assert {r["cost_dataset"] for r in rows} == {"amortized"}
    assert {r["billing_currency"] for r in rows} == {"USD"}
    assert total(rows, "effective_cost") == AMORT_12
    assert abs(total(rows, "effective_cost") - AMORT_EXACT) <= 28 * HALF_PICO
    # commitment usage carries its amortized share; the cash went out with the purchase -> billed 0
    ri = next(r for r in rows if r["commitment_discount_type"] == "Reservation")
    sp = next(r for r in rows if r["commitment_discount_type"] == "Savings Plan")
    assert (ri["billed_cost"], ri["effective_cost"]) == (0, Decimal("0.493152"))
    assert (sp["billed_cost"], sp["effective_cost"]) == (0, Decimal("0.006000000468"))
    assert total(rows, "billed_cost") == AMORT_12 - Decimal("0.493152") - Decimal("0.006000000468")
    # PayGPrice is 0 on the reservation row although UnitPrice is 0.146: list cost unknown, not 0
    assert ri["list_cost"] is None and ri["contracted_cost"] == Decimal("1.168")
    assert sp["list_cost"] == Decimal("0.013347594624")  # 0.0416 x 0.32085564
    # 28-decimal cost rounds half-even to the lake's 12 places
    tiny = next(r for r in rows if r["pricing_quantity"] == Decimal("0.00000008"))
    assert tiny["billed_cost"] == Decimal("0.000000007292")


def test_no_rows_export_is_empty_not_an_error() -> None:
    assert detect(NO_ROWS).name == "azure_cost"
    parsed = parse_file(NO_ROWS)
    assert parsed.table("charges") == [] and parsed.bad == []


def test_bom_header_and_fields() -> None:
    assert ACTUAL.read_bytes()[:3] == b"\xef\xbb\xbf"
    rows = charges(ACTUAL)
    assert {r["billing_account_id"] for r in rows} == {"8611537"}  # first column, behind the BOM
    disk = next(r for r in rows if r["sku_meter"] == "P4 LRS Disk")
    assert disk["sub_account_id"] == "1caaa5a3-2b66-438e-8ab4-bce37d518c5d"
    assert disk["project_id"] == "COSTMANAGEMENT-REST-RG"
    assert disk["region_id"] == "ukwest" and disk["service_name"] == "Storage"
    assert disk["resource_type"] == "microsoft.compute/disks"
    assert disk["service_category"] == "Compute" and disk["host_provider_name"] == "Microsoft"


def test_dates_are_days_and_billing_period_end_is_inclusive() -> None:
    rows = charges(ACTUAL)
    r = next(r for r in rows if r["sku_meter"] == "P4 LRS Disk")  # Date 09/05/2023
    assert r["charge_period_start"] == datetime(2023, 9, 5, tzinfo=UTC)
    assert r["charge_period_end"] == datetime(2023, 9, 6, tzinfo=UTC)
    assert r["billing_period_start"] == datetime(2023, 9, 1, tzinfo=UTC)
    assert r["billing_period_end"] == datetime(2023, 10, 1, tzinfo=UTC)  # 09/30/2023 inclusive
    cad = charges(CAD)  # M/D/YYYY: 9/2/2023
    assert {r["charge_period_start"] for r in cad} == {datetime(2023, 9, 2, tzinfo=UTC)}


def test_day_first_dates_are_recognised(tmp_path: Path) -> None:
    header, rows = ea_rows()
    base = {**rows[1], "BillingPeriodStartDate": "01/09/2023", "BillingPeriodEndDate": "30/09/2023"}
    path = write(tmp_path / "export.csv", header, [{**base, "Date": "04/09/2023"}])
    (r,) = charges(path)
    assert r["charge_period_start"] == datetime(2023, 9, 4, tzinfo=UTC)
    assert r["billing_period_end"] == datetime(2023, 10, 1, tzinfo=UTC)
    mixed = write(
        tmp_path / "mixed.csv",
        header,
        [{**rows[1], "Date": "09/21/2023"}, {**base, "Date": "21/09/2023"}],
    )
    with pytest.raises(SourceError, match="month-first and day-first"):
        parse_file(mixed)


def test_braceless_tags_and_json_tags() -> None:
    rows = charges(ACTUAL)
    disk = next(r for r in rows if r["sku_meter"] == "P4 LRS Disk")
    assert disk["tags"] == {"CostCenter": "SubACM", "org": ""}  # "CostCenter": "SubACM","org": ""
    assert next(r for r in rows if r["charge_category"] == "Purchase")["tags"] is None
    assert {frozenset(r["tags"].items()) for r in charges(CAD)} == {
        frozenset({("tagA", "valueA"), ("tagB", "valueB"), ("tagC", "valueC")})
    }
    mca = charges(MCA)
    assert mca[0]["tags"]["team"] == "search"  # {"team":"search","env":"prod"}


def test_unparsable_tags_keep_the_row(tmp_path: Path) -> None:
    header, rows = ea_rows()
    path = write(tmp_path / "export.csv", header, [{**rows[1], "Tags": '"k": v-without-quotes'}])
    (r,) = charges(path)
    assert r["tags"] == {"costlab.raw_tags": '"k": v-without-quotes'}
    assert r["billed_cost"] == Decimal("0.00004")


def test_block_sizes_in_quantities() -> None:
    rows = charges(ACTUAL)
    blob = next(r for r in rows if r["sku_meter"] == "GRS List and Create Container Operations")
    assert (blob["pricing_quantity"], blob["pricing_unit"]) == (Decimal("0.0004"), "10K")
    assert (blob["consumed_quantity"], blob["consumed_unit"]) == (
        Decimal("4"),
        "Units",
    )  # 4 operations
    disk = next(r for r in rows if r["sku_meter"] == "P4 LRS Disk")
    assert (disk["consumed_quantity"], disk["consumed_unit"]) == (
        Decimal("0.033336"),
        "Units/Month",
    )
    adf = next(r for r in charges(CAD) if r["pricing_unit"] == "1K")
    assert adf["consumed_quantity"] == Decimal("428")  # 0.428 x 1K activity runs


def test_block_sizes_match_microsoft_pricing_units() -> None:
    """Every UnitOfMeasure in MS open-data PricingUnits.csv gets its PricingBlockSize."""
    with open(FIX / "PricingUnits.csv", encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 383  # csv.DictReader row count
    wrong = [
        r["UnitOfMeasure"]
        for r in table
        if block_size(r["UnitOfMeasure"])[0] != Decimal(r["PricingBlockSize"])
    ]
    assert wrong == []
    common = {
        "1 Hour",
        "100 Hours",
        "10K",
        "1M",
        "1/Month",
        "1 GB/Month",
        "1 GB",
        "10000s",
        "1 /Day",
    }
    for r in table:
        if r["UnitOfMeasure"] in common:
            assert block_size(r["UnitOfMeasure"])[1] == r["DistinctUnits"], r
    assert block_size("100 Hours") == (Decimal(100), "Hours")
    assert block_size("1M") == (Decimal(1000000), "Units")


def test_service_categories_agree_with_microsoft_services_csv() -> None:
    from costlab.ingest.azure import _SERVICES

    with open(FIX / "Services.csv", encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    for service, (category, subcategory) in _SERVICES.items():
        found = {
            (r["ServiceCategory"], r["ServiceSubcategory"])
            for r in table
            if r["ConsumedService"].lower() == service
        }
        assert found and {c for c, _ in found} == {category}, service
        assert subcategory is None or found == {(category, subcategory)}, service


def test_cad_scientific_notation_export() -> None:
    assert detect(CAD).name == "azure_cost"
    rows = charges(CAD)
    assert len(rows) == 10
    assert {r["billing_currency"] for r in rows} == {"CAD"}
    assert total(rows, "billed_cost") == CAD_12
    assert abs(total(rows, "billed_cost") - CAD_EXACT) <= 10 * HALF_PICO
    queue = next(r for r in rows if r["sku_meter"] == "Class 2 Operations")
    assert queue["billed_cost"] == Decimal("0.0000564902")  # 5.64902E-05, exact
    assert next(r for r in rows if r["pricing_quantity"] == Decimal("0.0000142949"))[
        "billed_cost"
    ] == Decimal("0.000000160101")  # 1.42949E-05 GB at 1.60101E-07
    spot = next(r for r in rows if r["sku_meter"] == "DS4 v2 Spot")
    assert spot["pricing_category"] == "Dynamic"
    assert {r["cost_dataset"] for r in rows} == {"actual"}  # on-demand only: no evidence, default
    assert (
        queue["charge_description"] == "Queues v2 - Class 2 Operations - US Central"
    )  # ProductName


# -- Azure OpenAI meters (constructed from research 4.2) -----------------------------------------


def test_openai_meters() -> None:
    rows = charges(MCA)
    assert len(rows) == 16
    assert {r["billing_currency"] for r in rows} == {"EUR"}
    assert total(rows, "billed_cost") == MCA_EUR
    got = {
        (r["sku_meter"], r["pricing_quantity"]): (
            r.get("model"),
            r.get("token_type"),
            r.get("service_tier"),
            r.get("tokens"),
            (r["tags"] or {}).get("costlab.deployment_scope"),
        )
        for r in rows
    }
    assert got == {
        ("gpt-4o-mini-0718-Inp-regnl Tokens", Decimal("1234.567")): ("gpt-4o-mini-2024-07-18", "input_uncached", "standard", 1234567, "regional"),
        ("gpt-4o-0806-Outp-glbl Tokens", Decimal("250.5")): ("gpt-4o-2024-08-06", "output", "standard", 250500, "global"),
        ("gpt 4o 0806 cached Inp glbl Tokens", Decimal("800")): ("gpt-4o-2024-08-06", "input_cache_read", "standard", 800000, "global"),
        ("gpt 4o 0806 Inp Data Zone Tokens", Decimal("100")): ("gpt-4o-2024-08-06", "input_uncached", "standard", 100000, "data_zone"),
        ("gpt-4o-0806-Batch-Inp-glbl Tokens", Decimal("3000")): ("gpt-4o-2024-08-06", "input_uncached", "batch", 3000000, "global"),
        ("gpt 4o 0513 Input regional", Decimal("10")): ("gpt-4o-2024-05-13", "input_uncached", "standard", 10000, "regional"),
        ("text-embedding-3-large-regional Tokens", Decimal("5000.001")): ("text-embedding-3-large", "embedding", "standard", 5000001, "regional"),
        ("5.4 inp Gl 1M Tokens", Decimal("2.5")): ("gpt-5.4", "input_uncached", "standard", 2500000, "global"),
        ("5.4 mini cd Inp Gl 1M Tokens", Decimal("0.75")): ("gpt-5.4-mini", "input_cache_read", "standard", 750000, "global"),
        ("GPT 5.1 inp Rg 1M Tokens", Decimal("1.2")): ("gpt-5.1", "input_uncached", "standard", 1200000, "regional"),
        ("GPT 5.1 Cd Wr Inp Gl 1M Tokens", Decimal("0.1")): ("gpt-5.1", "input_cache_write", "standard", 100000, "global"),
        ("5.4 Outp Gl LongCo 1M Tokens", Decimal("0.05")): ("gpt-5.4", "output", "standard", 50000, "global"),
        ("5.4 PP Outp Gl 1M Tokens", Decimal("0.02")): ("gpt-5.4", "output", "priority", 20000, "global"),
        ("Provisioned Managed Global", Decimal("360")): (None, None, "provisioned", None, "global"),
        ("gpt-4o-0806-Outp-glbl Tokens", Decimal("-10")): ("gpt-4o-2024-08-06", "output", "standard", -10000, "global"),
        ("Hot LRS Write Operations", Decimal("0.5")): (None, None, None, None, None),
    }  # fmt: skip
    by_meter = {r["sku_meter"]: r for r in rows}
    out = by_meter["gpt-4o-0806-Outp-glbl Tokens"]
    assert out["model_raw"] == "gpt-4o-0806-Outp-glbl Tokens"
    assert (out["consumed_unit"], out["compute_kind"], out["project_id"]) == (
        "Tokens",
        "tokens",
        "rg-llm",
    )
    assert out["service_category"] == "AI and Machine Learning"
    assert (
        out["resource_type"] == "microsoft.cognitiveservices/accounts"
    )  # the account, not the deployment
    assert by_meter["5.4 Outp Gl LongCo 1M Tokens"]["tags"]["costlab.context_band"] == "longco"
    ptu = by_meter["Provisioned Managed Global"]
    assert (ptu["compute_kind"], ptu["consumed_unit"]) == ("provisioned_throughput", "Hours")
    storage = by_meter["Hot LRS Write Operations"]
    assert (storage["compute_kind"], storage["consumed_quantity"]) == ("storage", Decimal("5000"))
    # MCA prices are in USD (pricingCurrency); list cost converts with exchangeRatePricingToBilling
    mini = by_meter["gpt-4o-mini-0718-Inp-regnl Tokens"]
    assert mini["pricing_currency"] == "USD" and mini["billing_currency"] == "EUR"
    assert mini["list_cost"] == Decimal("0.000165") * Decimal("0.92") * Decimal("1234.567")
    assert mini["list_unit_price"] == Decimal("0.0001518")
    assert by_meter["5.4 inp Gl 1M Tokens"]["list_cost"] == Decimal(
        "2.875"
    )  # paygCostInBillingCurrency


def test_openai_meter_parser_edge_cases() -> None:
    assert openai_meter("Standard Transactions") is None
    assert openai_meter("gpt-4o-realtime Aud Inp glbl Tokens")["token_type"] == "input_audio"  # type: ignore[index]
    assert openai_meter("gpt-4o-0806-Outp-glbl Tokens")["band"] is None  # type: ignore[index]


# -- which export is it ------------------------------------------------------------------------


def _commitment_usage(cost: str) -> tuple[list[str], list[dict]]:
    header, rows = ea_rows(AMORTIZED)
    ri = next(r for r in rows if r["PricingModel"] == "Reservation")
    return header, [{**ri, "Cost": cost}, rows[5]]


def test_dataset_from_content(tmp_path: Path) -> None:
    header, rows = _commitment_usage("0.493152")
    strong = charges(write(tmp_path / "a.csv", header, rows))
    assert {r["cost_dataset"] for r in strong} == {"amortized"}
    header, rows = _commitment_usage("0")  # actual export: covered usage at cost 0
    weak = charges(write(tmp_path / "b.csv", header, rows))
    assert {r["cost_dataset"] for r in weak} == {"actual"}
    covered = weak[0]
    assert covered["billed_cost"] == 0 and covered["effective_cost"] is None  # share unknown here
    header, rows = ea_rows(AMORTIZED)
    unused = charges(
        write(tmp_path / "c.csv", header, [{**rows[0], "ChargeType": "UnusedReservation"}])
    )
    assert unused[0]["cost_dataset"] == "amortized" and unused[0]["charge_category"] == "Usage"
    assert unused[0]["billed_cost"] == 0 and unused[0]["effective_cost"] == Decimal("0.493152")


def test_commitment_refund_has_no_effective_cost(tmp_path: Path) -> None:
    header, rows = ea_rows()
    refund = {**rows[0], "ChargeType": "Refund", "Cost": "-3.25", "Quantity": "-1"}
    r = charges(write(tmp_path / "export.csv", header, [rows[0], refund]))[1]
    assert (r["billed_cost"], r["effective_cost"], r["charge_category"]) == (
        Decimal("-3.25"),
        0,
        "Adjustment",
    )


def test_dataset_from_manifest_name_and_config(tmp_path: Path) -> None:
    header, rows = ea_rows()
    on_demand = [r for r in rows if r["PricingModel"] == "OnDemand"]
    run = tmp_path / "run1"
    run.mkdir()
    part = write(run / "part_0_0001.csv", header, on_demand)
    assert {r["cost_dataset"] for r in charges(part)} == {"actual"}  # no evidence at all
    manifest = {
        "exportConfig": {"type": "AmortizedCost"},
        "blobs": [{"blobName": "x/run1/part_0_0001.csv"}],
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert {r["cost_dataset"] for r in charges(part)} == {"amortized"}
    assert {r["delivery"] for r in charges(part)} == {"amortized"}
    named = write(tmp_path / "daily-amortized-cost.csv", header, on_demand)
    assert {r["cost_dataset"] for r in charges(named)} == {"amortized"}
    ctx = ParseContext(config={"azure_cost": {"dataset": "actual"}})
    assert {r["cost_dataset"] for r in charges(named, ctx=ctx)} == {"actual"}
    with pytest.raises(SourceError, match="azure_cost.dataset"):
        parse_file(named, ctx=ParseContext(config={"azure_cost": {"dataset": "blended"}}))


def test_replace_scope_and_delivery() -> None:
    act, amo = charges(ACTUAL), charges(AMORTIZED)
    purchase = next(r for r in act if r["charge_category"] == "Purchase")
    assert purchase["replace_scope"] == "1caaa5a3-2b66-438e-8ab4-bce37d518c5d|2023-09-21"
    assert {r["delivery"] for r in act} == {"actual"} and {r["delivery"] for r in amo} == {
        "amortized"
    }
    # the same line in both exports has the same scope and key, so one replaces the other
    a = next(r for r in act if r["sku_meter"] == "P4 LRS Disk")
    m = next(r for r in amo if r["sku_meter"] == "P4 LRS Disk")
    assert (a["replace_scope"], a["row_key"]) == (m["replace_scope"], m["row_key"])
    assert len({r["row_key"] for r in act}) == 11 and len({r["row_key"] for r in amo}) == 28


# -- detection, bad rows, bad files ------------------------------------------------------------


def test_detects_every_fixture() -> None:
    for path in (ACTUAL, AMORTIZED, NO_ROWS, CAD, MCA):
        assert detect(path).name == "azure_cost", path


@pytest.mark.parametrize(
    "path",
    [
        FIX.parent / "focus" / "focus_sample_1.0.csv",
        FIX.parent / "focus" / "azure_focus_1.2_openai_constructed.csv",
        SHARED / "focus" / "focus_sample_1.0.csv",
        SHARED / "aws_cur" / "focus_converters" / "sample-anonymous-aws-export-dataset.csv",
        SHARED / "oci" / "focus_converters" / "reports_cost-csv_0000000030000269.csv",
        FIX / "PricingUnits.csv",
        FIX.parent / "aws_cur" / "bedrock_legacy_cur.csv",
        FIX.parent / "aws_cur" / "bedrock_cur2.csv",
        FIX.parent / "gcp" / "gcp_billing_export_v1_jpy.csv",
        FIX.parent / "openai" / "cost_export_2024-08-01_2024-08-05.csv",
    ],
)
def test_does_not_claim_other_exports(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not available")
    from costlab.ingest import sources
    from costlab.ingest.base import Sniff

    assert not sources()["azure_cost"].detect(Sniff(path))


def test_manifest_source_claims_only_export_manifests(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"exportConfig": {"type": "ActualCost"}, "blobs": []}, indent=2))
    assert detect(manifest).name == "azure_export_manifest"
    assert parse_file(manifest).rows == {} and parse_file(manifest).bad == []
    from costlab.ingest import sources
    from costlab.ingest.base import Sniff

    for other in (FIX.parent / "openai").glob("*.json"):
        assert not sources()["azure_export_manifest"].detect(Sniff(other)), other


def test_malformed_rows_go_to_quarantine(tmp_path: Path) -> None:
    src = ACTUAL.read_text(encoding="utf-8-sig").splitlines()
    header, rows = ea_rows()
    lines = [src[0], src[1], "8611537,short,row", *src[2:]]
    bad_cost = dict(rows[3], Cost="12,5,x")
    no_date = dict(rows[4], Date="")
    buf = tmp_path / "export.csv"
    buf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(buf, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        w.writerow(bad_cost)
        w.writerow(no_date)
    parsed = parse_file(buf)
    assert len(parsed.table("charges")) == 11
    assert [b.location for b in parsed.bad] == ["3", "14", "15"]
    assert "expected 55 fields" in parsed.bad[0].reason
    assert "not a number" in parsed.bad[1].reason and parsed.bad[2].reason == "no date"
    assert total(parsed.table("charges"), "billed_cost") == ACTUAL_12


def test_corrupt_files_raise_source_error(tmp_path: Path) -> None:
    junk = tmp_path / "export.csv"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SourceError):
        parse_file(junk, source="azure_cost")
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress(ACTUAL.read_bytes())[:200])
    with pytest.raises(SourceError):
        parse_file(gz, source="azure_cost")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceError):
        parse_file(empty, source="azure_cost")
    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(SourceError, match="no cost column"):
        parse_file(other, source="azure_cost")


def test_gzipped_export(tmp_path: Path) -> None:
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress(ACTUAL.read_bytes()))
    assert detect(gz).name == "azure_cost"
    assert total(charges(gz), "billed_cost") == ACTUAL_12


def test_mca_lowercase_headers_with_bom(tmp_path: Path) -> None:
    header, rows = ea_rows()
    lower = {h: h[0].lower() + h[1:] for h in header}
    path = write(
        tmp_path / "export.csv",
        list(lower.values()),
        [{lower[k]: v for k, v in r.items()} for r in rows],
        bom=True,
    )
    assert detect(path).name == "azure_cost"
    assert total(charges(path), "billed_cost") == ACTUAL_12


# -- end to end through the lake ---------------------------------------------------------------


def _lake_totals(lake: Path) -> list[tuple]:
    from costlab.lake import Lake

    return Lake(lake).query(
        "select cost_dataset, billing_currency, count(*), sum(billed_cost), sum(effective_cost) "
        "from charges group by all order by all"
    )


def test_lake_money_equals_file_and_reingest_is_a_no_op(lake_dir: Path) -> None:
    from costlab.pipeline import ingest

    res = ingest([ACTUAL], lake=lake_dir)
    assert (res.rows_written, res.rows_quarantined, res.failed) == (11, 0, [])
    expected = [("actual", "USD", 11, ACTUAL_12, ACTUAL_12 - Decimal("3.25"))]
    assert _lake_totals(lake_dir) == expected
    again = ingest([ACTUAL], lake=lake_dir)
    assert again.rows_written == 0 and _lake_totals(lake_dir) == expected
    forced = ingest([ACTUAL], lake=lake_dir, force=True)  # same keys: replaced, not added
    assert forced.rows_written == 11 and _lake_totals(lake_dir) == expected
    ingest([CAD, NO_ROWS], lake=lake_dir)
    assert ("actual", "CAD", 10, CAD_12, CAD_12) in _lake_totals(lake_dir)


def test_lake_never_sums_actual_and_amortized(lake_dir: Path, tmp_path: Path) -> None:
    """One ingest with both exports keeps, per subscription and day, only the later file's rows;
    across ingests the later ingest of a day replaces the other export.

    Expected (python over the two CSVs, scope = (SubscriptionId, Date)): with amortized last only
    the actual reservation purchase (3.25, 09/21) has a scope the amortized file lacks; with actual
    last, 14 amortized rows survive, cost 4.338561674000 of which 0.493152 + 0.006000000468 is
    commitment usage (billed 0)."""
    from costlab.pipeline import ingest

    billed_amo = AMORT_12 - Decimal("0.493152") - Decimal("0.006000000468")
    ingest([ACTUAL, AMORTIZED], lake=lake_dir)
    assert _lake_totals(lake_dir) == [
        ("actual", "USD", 1, Decimal("3.25"), Decimal(0)),
        ("amortized", "USD", 28, billed_amo, AMORT_12),
    ]
    other = tmp_path / "lake2"
    ingest([AMORTIZED, ACTUAL], lake=other)
    kept = Decimal("4.338561674000")
    assert _lake_totals(other) == [
        ("actual", "USD", 11, ACTUAL_12, ACTUAL_12 - Decimal("3.25")),
        ("amortized", "USD", 14, kept - Decimal("0.493152") - Decimal("0.006000000468"), kept),
    ]
    # separate ingests: amortized after actual replaces every day it covers
    third = tmp_path / "lake3"
    ingest([ACTUAL], lake=third)
    ingest([AMORTIZED], lake=third)
    assert _lake_totals(third) == _lake_totals(lake_dir)


def test_lake_keeps_all_parts_of_one_export(lake_dir: Path, tmp_path: Path) -> None:
    """Part files of one export (same kind) share days; all parts are kept."""
    from costlab.pipeline import ingest

    header, rows = ea_rows(AMORTIZED)
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "part_0_0001.csv", header, rows[:14])
    write(folder / "part_0_0002.csv", header, rows[14:])
    manifest = {
        "manifestVersion": "2024-04-01",
        "exportConfig": {
            "exportName": "daily",
            "type": "AmortizedCost",
            "dataVersion": "2023-12-01-preview",
        },
        "runInfo": {
            "runId": "00000000-0000-0000-0000-000000000001",
            "startDate": "2023-09-01T00:00:00",
        },
        "blobs": [
            {"blobName": f"exports/daily/20230901-20230930/run/part_0_000{i}.csv"}
            for i in (1, 2, 3)
        ],
    }  # shape as finops hubs read it (exportConfig.type, runInfo.startDate, blobs[].blobName)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.copy(NO_ROWS, folder / "part_0_0003.csv")
    res = ingest([folder], lake=lake_dir)
    assert res.failed == [] and len(res.ingested) == 4  # the manifest is recognised, no rows
    assert _lake_totals(lake_dir) == [
        (
            "amortized",
            "USD",
            28,
            AMORT_12 - Decimal("0.493152") - Decimal("0.006000000468"),
            AMORT_12,
        )
    ]
