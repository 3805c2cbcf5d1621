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
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.azure import block_size, openai_meter
from costlab.ingest.base import ParseContext
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures" / "azure"
ACTUAL = FIX / "EA_ActualCost_Small.csv"
AMORTIZED = FIX / "EA_AmortizedCost_Small.csv"
NO_ROWS = FIX / "EA_NoRows.csv"
CAD = FIX / "focus_converters_ea_cad_excerpt.csv"
MCA = FIX / "mca_openai_meters_constructed.csv"
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


# -- Azure OpenAI meters (constructed from Azure Retail Prices) ---------------------------------------


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
        ("GPT 5.1 Cd Wr Inp Gl 1M Tokens", Decimal("0.1")): ("gpt-5.1", "input_cache_write_5m", "standard", 100000, "global"),
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
    audio = openai_meter("gpt-4o-realtime Aud Inp glbl Tokens")
    assert audio is not None and audio.token_type == "input_audio"
    out = openai_meter("gpt-4o-0806-Outp-glbl Tokens")
    assert out is not None and out.band is None


@pytest.mark.parametrize(
    ("meter", "expected"),
    [
        (
            "gpt-4o-mini-0718-Inp-regnl Tokens",
            ("gpt-4o-mini-2024-07-18", "input_uncached", "standard"),
        ),
        ("gpt-4o-0806-Outp-glbl Tokens", ("gpt-4o-2024-08-06", "output", "standard")),
        ("gpt 4o 0806 Inp Data Zone Tokens", ("gpt-4o-2024-08-06", "input_uncached", "standard")),
        ("gpt 4o 0513 Input regional", ("gpt-4o-2024-05-13", "input_uncached", "standard")),
        ("GPT 5.1 inp Rg 1M Tokens", ("gpt-5.1", "input_uncached", "standard")),
        ("5.4 inp Gl 1M Tokens", ("gpt-5.4", "input_uncached", "standard")),
        # a cache write names no TTL: the 5-minute kind (Anthropic's default, Bedrock's unmarked)
        ("gpt 5 cd wr inp gl 1M Tokens", ("gpt-5", "input_cache_write_5m", "standard")),
        ("gpt 5 pp inp gl 1M Tokens", ("gpt-5", "input_uncached", "priority")),
        ("gpt-4o-rt-1217-aud-inp-glbl Tokens", ("gpt-4o-rt-1217", "input_audio", "standard")),
        ("Input Tokens", (None, "input_uncached", None)),
        ("Hot LRS Data Stored", None),
        # spellings main's azure_cost parser missed (Azure Retail Prices meterName values; see
        # tests/fixtures/azure/PROVENANCE.md): "Opt"/"out" output, "cchd"/"ccchd" cached, "Inpt"
        ("5.4 mini Opt Gl 1M Tokens", ("gpt-5.4-mini", "output", "standard")),
        ("5.4 mini Batch Opt Gl 1M Tokens", ("gpt-5.4-mini", "output", "batch")),
        ("gpt-5-codex-ccchd-inp-glbl Tokens", ("gpt-5-codex", "input_cache_read", "standard")),
        ("gpt 5 cchd inp gl 1M Tokens", ("gpt-5", "input_cache_read", "standard")),
        ("gpt-5-codex-out-glbl Tokens", ("gpt-5-codex", "output", "standard")),
        ("GPT 5 Mini Inpt DZone 1M Tokens", ("gpt-5-mini", "input_uncached", "standard")),
        ("5.6 sol ShortCo Cd Wr Std Gl 1M Tokens", ("gpt-5.6-sol", "input_cache_write_5m", "standard")),
    ],
)
def test_azure_meter_parser(meter: str, expected: tuple[Any, ...] | None) -> None:
    assert _facts(openai_meter(meter)) == expected


def _facts(found: Any) -> tuple[Any, ...] | None:
    return None if found is None else (found.model, found.token_type, found.tier)


def test_bare_version_is_gpt_only_under_openai() -> None:
    # "4.3 Inp Glbl Tokens" is sold under "Azure Grok Models" (Retail Prices productName): the
    # bare version is no "gpt-4.3"; under "Azure OpenAI GPT5" "5.4" is gpt-5.4
    grok = openai_meter("4.3 Inp Glbl Tokens", "Azure Grok Models")
    assert grok is not None and (grok.model, grok.token_type) == (None, "input_uncached")
    gpt = openai_meter("5.4 inp Gl 1M Tokens", "Azure OpenAI GPT5")
    assert gpt is not None and gpt.model == "gpt-5.4"


FOUNDRY = FIX / "mca_foundry_meter_spellings_constructed.csv"


def test_foundry_meter_spellings_through_the_lake(tmp_path: Path) -> None:
    """Meter spellings the azure_cost parser got wrong on main (issue 13 §4): each line's model,
    token class and tokens, derived by hand from the fixture (tokens = quantity x the block of
    UnitOfMeasure; cost = quantity x effectivePrice, USD)."""
    rows = charges(FOUNDRY)
    got = [(r["sku_meter"], r["model"], r["token_type"], r["tokens"], r["service_tier"]) for r in rows]
    assert got == [
        # 0.5 x 1M = 500,000 output tokens (was: no model, no token type, not an LLM charge)
        ("5.4 mini Opt Gl 1M Tokens", "gpt-5.4-mini", "output", 500_000, "standard"),
        ("5.4 mini Batch Opt Gl 1M Tokens", "gpt-5.4-mini", "output", 200_000, "batch"),  # 0.2 x 1M
        ("5.4 mini pp Opt Gl 1M Tokens", "gpt-5.4-mini", "output", 100_000, "priority"),  # 0.1 x 1M
        # 1000 x 1K cached input (was: model "gpt-5-codex-ccchd", uncached input)
        ("gpt-5-codex-ccchd-inp-glbl Tokens", "gpt-5-codex", "input_cache_read", 1_000_000, "standard"),
        ("gpt-5-codex-out-glbl Tokens", "gpt-5-codex", "output", 100_000, "standard"),  # 100 x 1K
        # 0.2 x 1M cache writes, TTL not stated -> 5m (was: "input_cache_write", not a SCHEMA value)
        ("5.6 sol ShortCo Cd Wr Std Gl 1M Tokens", "gpt-5.6-sol", "input_cache_write_5m", 200_000, "standard"),
        ("GPT 5 Mini Inpt DZone 1M Tokens", "gpt-5-mini", "input_uncached", 2_000_000, "standard"),  # 2 x 1M
        # 400 x 1K Grok input tokens (was: model "gpt-4.3")
        ("4.3 Inp Glbl Tokens", None, "input_uncached", 400_000, "standard"),
    ]  # fmt: skip
    assert {r["compute_kind"] for r in rows} == {"tokens"}
    # 2.25 + 0.45 + 0.9 + 0.125 + 1.00 + 0.25 + 0.55 + 0.5 = 6.025 USD
    assert total(rows, "billed_cost") == Decimal("6.025")
    assert rows[5]["tags"]["costlab.context_band"] == "shortco"
    assert rows[6]["tags"]["costlab.deployment_scope"] == "data_zone"
    # through the lake: every line is an LLM charge of its model, output money under gpt-5.4-mini
    from costlab.ingest import run as pipeline

    lake = tmp_path / "lake"
    assert not pipeline.ingest([FOUNDRY], lake=lake).failed
    by_model = Workspace(lake).rows(
        "select model, sum(billed_cost) from charges_llm group by 1 order by 1 nulls last"
    )
    assert by_model == [
        ("gpt-5-codex", Decimal("1.125")), ("gpt-5-mini", Decimal("0.55")),
        ("gpt-5.4-mini", Decimal("3.6")), ("gpt-5.6-sol", Decimal("0.25")), (None, Decimal("0.5")),
    ]  # fmt: skip


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
        FIX.parent / "aws_cur" / "sample-anonymous-aws-export-dataset.csv",
        FIX.parent / "oci" / "reports_cost-csv_0000000030000269.csv",
        FIX / "PricingUnits.csv",
        FIX.parent / "aws_cur" / "bedrock_legacy_cur.csv",
        FIX.parent / "aws_cur" / "bedrock_cur2.csv",
        FIX.parent / "gcp" / "gcp_billing_export_v1_jpy.csv",
        FIX.parent / "openai" / "cost_export_2024-08-01_2024-08-05.csv",
    ],
)
def test_does_not_claim_other_exports(path: Path) -> None:
    assert path.exists(), path
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

    return Workspace(lake).rows(
        "select cost_dataset, billing_currency, count(*), sum(billed_cost), sum(effective_cost) "
        "from charges group by all order by all"
    )


def test_lake_money_equals_file_and_reingest_is_a_no_op(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest

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
    from costlab.ingest.run import ingest

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
    from costlab.ingest.run import ingest

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


# -- every published schema: legacy, EA portal, localized headers (issue 13 §4) ------------------
# Fixtures CONSTRUCTED from the documented header sets (PROVENANCE.md); costs are quantity x rate.
PAYG = FIX / "payg_usage_details_2019-11-01_constructed.csv"
EA_PORTAL = FIX / "ea_portal_usage_detail_constructed.csv"
DE = FIX / "de_payg_usage_details_constructed.csv"
DE_SHEET = FIX / "de_excel_semicolon_constructed.csv"
ES = FIX / "es_ea_usage_details_2019-10-01_constructed.csv"
EUR_CONFIG = ParseContext(config={"azure_cost": {"currency": "EUR"}})
# PAYG (USD), by day: 06-03 VM 24 x 0.096 = 2.304, gpt-4o in 1500 x 0.0025 = 3.75,
#   out 120.5 x 0.01 = 1.205, cached in 400 x 0.00125 = 0.5 -> 7.759;
#   06-04 VM 2.304, gpt-4o-mini in 2000 x 0.000165 = 0.33, out 250 x 0.00066 = 0.165,
#   storage 10.5 x 0.0184 = 0.1932 -> 2.9922; file 10.7512
PAYG_USD = Decimal("10.7512")
# EA portal (EUR by config): VM 24 x 0.0864 = 2.0736, gpt-4o-0513 in 800 x 0.005 = 4,
#   out 50 x 0.015 = 0.75, embedding 3000 x 0.00013 = 0.39 -> 7.2136
EA_PORTAL_EUR = Decimal("7.2136")
# German export (EUR): VM 24 x 0.2 = 4.8, gpt-4o in 1000 x 0.00231 = 2.31, out 100 x 0.00924
#   = 0.924, 07-02 in 500 x 0.00231 = 1.155 -> 9.189
DE_EUR = Decimal("9.189")
# German spreadsheet (EUR): VM 744 x 1,68 = "1.249,92", gpt-4o in "2.500" x 0,00231 = 5,775,
#   out 312,5 x 0,00924 = 2,8875 -> 1258.5825
DE_SHEET_EUR = Decimal("1258.5825")
# Spanish EA 2019-10-01 (EUR by config): VM 20 x 0.16 = 3.2, gpt-4o-mini in 4000 x 0.000152 =
#   0.608, out 300 x 0.000608 = 0.1824 -> 3.9904
ES_EUR = Decimal("3.9904")


def _meters(rows: list[dict]) -> dict[str, tuple]:
    return {
        r["sku_meter"] + "@" + r["charge_period_start"].date().isoformat(): (
            r["billed_cost"], r.get("model"), r.get("token_type"), r.get("tokens"),
        )
        for r in rows
    }  # fmt: skip


def test_legacy_payg_usage_details() -> None:
    """PreTaxCost / UsageDateTime / UsageQuantity / SubscriptionGuid / InstanceId / Currency."""
    assert detect(PAYG).name == "azure_cost"  # main: "not a recognised export"
    rows = charges(PAYG)
    assert len(rows) == 8 and {r["billing_currency"] for r in rows} == {"USD"}
    assert total(rows, "billed_cost") == PAYG_USD == total(rows, "effective_cost")
    by_day = {}
    for r in rows:
        day = r["charge_period_start"].date().isoformat()
        by_day[day] = by_day.get(day, 0) + r["billed_cost"]
    assert by_day == {"2024-06-03": Decimal("7.759"), "2024-06-04": Decimal("2.9922")}
    assert _meters(rows) == {
        "D2s v3@2024-06-03": (Decimal("2.304"), None, None, None),
        "gpt-4o-0806-Inp-glbl Tokens@2024-06-03": (Decimal("3.75"), "gpt-4o-2024-08-06", "input_uncached", 1500000),
        "gpt-4o-0806-Outp-glbl Tokens@2024-06-03": (Decimal("1.205"), "gpt-4o-2024-08-06", "output", 120500),
        "gpt 4o 0806 cached Inp glbl Tokens@2024-06-03": (Decimal("0.5"), "gpt-4o-2024-08-06", "input_cache_read", 400000),
        "D2s v3@2024-06-04": (Decimal("2.304"), None, None, None),
        "gpt-4o-mini-0718-Inp-regnl Tokens@2024-06-04": (Decimal("0.33"), "gpt-4o-mini-2024-07-18", "input_uncached", 2000000),
        "gpt-4o-mini-0718-Outp-regnl Tokens@2024-06-04": (Decimal("0.165"), "gpt-4o-mini-2024-07-18", "output", 250000),
        "Hot LRS Data Stored@2024-06-04": (Decimal("0.1932"), None, None, None),
    }  # fmt: skip
    vm = rows[0]
    assert vm["sub_account_id"] == "11111111-2222-3333-4444-555555555555"
    assert (vm["resource_type"], vm["resource_name"]) == (
        "microsoft.compute/virtualmachines",
        "vm-api",
    )
    assert (vm["consumed_quantity"], vm["consumed_unit"], vm["project_id"]) == (
        24,
        "Hours",
        "rg-app",
    )
    assert vm["tags"] == {"team": "api"} and vm["cost_dataset"] == "actual"
    assert vm["replace_scope"] == "11111111-2222-3333-4444-555555555555|2024-06-03"


def test_ea_portal_download_spaced_names_preamble_and_no_currency() -> None:
    assert detect(EA_PORTAL).name == "azure_cost"
    with pytest.raises(
        SourceError, match="no billing currency column .* costlab does not assume one"
    ):
        parse_file(EA_PORTAL)  # the download never says its currency: never assume USD
    rows = charges(EA_PORTAL, ctx=EUR_CONFIG)
    assert {r["billing_currency"] for r in rows} == {"EUR"}
    assert total(rows, "billed_cost") == EA_PORTAL_EUR
    assert [r["source_line"] for r in rows] == [4, 5, 6, 7]  # two preamble lines, header on line 3
    # SubscriptionId is the obsolete integer there; SubscriptionGuid is the subscription
    assert {r["sub_account_id"] for r in rows} == {"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}
    # Date 06/03/2024 is read from Year/Month/Day (2024, 6, 3), not guessed
    assert rows[0]["charge_period_start"] == datetime(2024, 6, 3, tzinfo=UTC)
    assert _meters(rows) == {
        "D2s v3@2024-06-03": (Decimal("2.0736"), None, None, None),
        "gpt 4o 0513 Input regional@2024-06-03": (Decimal("4"), "gpt-4o-2024-05-13", "input_uncached", 800000),
        "gpt 4o 0513 Output regional@2024-06-03": (Decimal("0.75"), "gpt-4o-2024-05-13", "output", 50000),
        "text-embedding-3-large-regional Tokens@2024-06-04": (Decimal("0.39"), "text-embedding-3-large", "embedding", 3000000),
    }  # fmt: skip
    assert rows[0]["project_id"] == "rg-batch" and rows[0]["consumed_unit"] == "Hours"


def test_german_headers_with_the_english_name_in_parentheses() -> None:
    """Azure's localized header: "Kategorie der Verbrauchseinheit (MeterCategory)"."""
    assert detect(DE).name == "azure_cost"
    rows = charges(DE)
    assert {r["billing_currency"] for r in rows} == {"EUR"}
    assert total(rows, "billed_cost") == DE_EUR
    tokens = {(r["model"], r["token_type"]): 0 for r in rows if r.get("model")}
    for r in rows:
        if r.get("model"):
            tokens[(r["model"], r["token_type"])] += r["tokens"]
    assert tokens == {
        ("gpt-4o-2024-08-06", "input_uncached"): 1500000,
        ("gpt-4o-2024-08-06", "output"): 100000,
    }
    vm = rows[0]
    assert (vm["sku_meter"], vm["pricing_unit"], vm["service_name"]) == (
        "D4s v3",
        "1 Hour",
        "Virtual Machines",
    )
    assert vm["sub_account_id"] == "cccccccc-1111-4222-8333-444444444444"


def test_german_spreadsheet_semicolons_decimal_comma_and_day_first_dates() -> None:
    """German names only, ';', cp1252, "1.249,92" and DD.MM.YYYY: one decimal separator for
    the whole file, proven by "1,68"; the ambiguous "2.500" then reads 2500, not 2.5."""
    assert DE_SHEET.read_bytes().count(b"Ma\xdfeinheit") == 1  # cp1252, as the spreadsheet saves it
    assert detect(DE_SHEET).name == "azure_cost"
    rows = charges(DE_SHEET)
    assert total(rows, "billed_cost") == DE_SHEET_EUR
    assert _meters(rows) == {
        "D4s v3@2024-08-05": (Decimal("1249.92"), None, None, None),
        "gpt-4o-0806-Inp-glbl Tokens@2024-08-05": (Decimal("5.775"), "gpt-4o-2024-08-06", "input_uncached", 2500000),
        "gpt-4o-0806-Outp-glbl Tokens@2024-08-06": (Decimal("2.8875"), "gpt-4o-2024-08-06", "output", 312500),
    }  # fmt: skip
    assert rows[0]["pricing_quantity"] == 744


def test_spanish_ea_2019_headers_trust_the_english_name() -> None:
    """The Spanish export labels SubscriptionGuid "Ubicación de los recursos" (the label of
    ResourceLocation): the English name in parentheses decides."""
    assert detect(ES).name == "azure_cost"
    with pytest.raises(SourceError, match="no billing currency column"):
        parse_file(ES)  # EA 2019-10-01 has no currency column
    rows = charges(ES, ctx=EUR_CONFIG)
    assert total(rows, "billed_cost") == ES_EUR
    assert {r["sub_account_id"] for r in rows} == {"eeeeeeee-1111-4222-8333-444444444444"}
    assert {r["region_id"] for r in rows} == {"westeurope"}
    assert [(r.get("model"), r.get("token_type"), r.get("tokens")) for r in rows] == [
        (None, None, None),
        ("gpt-4o-mini-2024-07-18", "input_uncached", 4000000),
        ("gpt-4o-mini-2024-07-18", "output", 300000),
    ]
    assert (
        rows[1]["charge_description"] == "Azure OpenAI - gpt-4o-mini-0718-Inp-regnl Tokens"
    )  # ProductName


def test_header_names_fold_across_languages_and_spellings() -> None:
    from costlab.ingest.azure import column_name

    assert {
        column_name(h) for h in ("Meter Sub-Category", "MeterSubcategory", "meterSubCategory")
    } == {"metersubcategory"}
    assert column_name("\ufeffAbonnement-GUID (SubscriptionGuid)") == "subscriptionguid"
    assert column_name("Abonnement-GUID") == "subscriptionguid"  # German alone
    assert column_name("Maßeinheit") == column_name("MASSEINHEIT") == "unitofmeasure"
    assert column_name("Ubicación de los recursos (SubscriptionGuid)") == "subscriptionguid"
    assert column_name("Ubicación de los recursos") == "resourcelocation"
    assert column_name("Quantité consommée (ConsumedQuantity)") == "consumedquantity"
    assert column_name("Coût") == "cost" and column_name("Kosten") == "cost"
    assert column_name("Cost (USD)") == "cost"  # a unit in parentheses is not an English name
    assert column_name("サブスクリプション名 (Subscription Name)") == "subscriptionname"


def test_french_ea_download_headers(tmp_path: Path) -> None:
    """French names (EA reporting download, read by an importer as "Coût (Cost)" ...): detected
    by the French header set, with or without the English part."""
    english = ["Date", "Coût (Cost)", "Quantité consommée (ConsumedQuantity)",
               "Catégorie du compteur (MeterCategory)", "Guid d'abonnement (SubscriptionGuid)",
               "MeterName (MeterName)", "Unit Of Measure (UnitOfMeasure)"]  # fmt: skip
    row = {"Date": "2024-09-02", "Coût (Cost)": "2.5", "Quantité consommée (ConsumedQuantity)": "500",
           "Catégorie du compteur (MeterCategory)": "Cognitive Services",
           "Guid d'abonnement (SubscriptionGuid)": "ffffffff-1111-4222-8333-444444444444",
           "MeterName (MeterName)": "gpt-4o-0806-Inp-glbl Tokens", "Unit Of Measure (UnitOfMeasure)": "1K"}  # fmt: skip
    for name, header in (
        ("paren.csv", english),
        ("local.csv", [h.split(" (")[0] for h in english]),
    ):
        path = write(tmp_path / name, header, [dict(zip(header, row.values(), strict=True))])
        assert detect(path).name == "azure_cost", name
        (r,) = charges(path, ctx=EUR_CONFIG)
        assert (r["billed_cost"], r["billing_currency"], r["pricing_quantity"]) == (
            Decimal("2.5"),
            "EUR",
            500,
        )
        assert r["sub_account_id"] == "ffffffff-1111-4222-8333-444444444444"


def test_a_repeated_localized_label_is_ambiguous(tmp_path: Path) -> None:
    """Without the English names the Spanish header has "Ubicación de los recursos" twice:
    the file cannot say which column is the subscription, so it fails instead of guessing."""
    with open(ES, encoding="utf-8-sig", newline="") as fh:
        lines = fh.read().splitlines()
    header = ",".join(h.rsplit(" (", 1)[0] for h in lines[0].split(","))
    path = tmp_path / "es.csv"
    path.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match="columns 4 and 7 both read as 'resourcelocation'"):
        parse_file(path, source="azure_cost", ctx=EUR_CONFIG)


def test_every_documented_header_set_is_read(tmp_path: Path) -> None:
    """A file with exactly each registered header set is detected and read (one row: cost 1.5,
    quantity 2, meter "D2s v3"); the Cost analysis download is recognised and refused."""
    from costlab.ingest.azure import _COST, _CURRENCY, _DATE, _QUANTITY, HEADER_SETS, _fold

    values = {**dict.fromkeys(_COST, "1.5"), **dict.fromkeys(_QUANTITY, "2"),
              **dict.fromkeys(_CURRENCY, "USD"), **dict.fromkeys(_DATE, "2024-06-03"),
              "metername": "D2s v3", "year": "2024", "month": "6", "day": "3"}  # fmt: skip
    assert len(HEADER_SETS) == 8
    for hs in HEADER_SETS:
        path = write(tmp_path / f"{hs.key}.csv", list(hs.columns),
                     [{c: values.get(_fold(c), "") for c in hs.columns}])  # fmt: skip
        assert detect(path).name == "azure_cost", hs.key
        if hs.refused:
            with pytest.raises(SourceError, match="aggregated Cost analysis view download"):
                parse_file(path)
            continue
        (r,) = charges(path, ctx=ParseContext(config={"azure_cost": {"currency": "USD"}}))
        assert (r["billed_cost"], r["pricing_quantity"], r["sku_meter"]) == (
            Decimal("1.5"),
            2,
            "D2s v3",
        ), hs.key
        assert (r["billing_currency"], r["charge_period_start"]) == (
            "USD",
            datetime(2024, 6, 3, tzinfo=UTC),
        )


def test_forced_source_names_the_closest_header_set(tmp_path: Path) -> None:
    with open(PAYG, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    no_cost = [h for h in header if h not in ("PreTaxCost", "UsageDateTime")]
    path = write(tmp_path / "usage.csv", no_cost, [])
    with pytest.raises(SourceError) as err:
        parse_file(path, source="azure_cost")
    msg = str(err.value)
    assert "no cost column (PreTaxCost), no date column (UsageDateTime)" in msg
    assert "closest documented header set: Pay-as-you-go" in msg and "22 of its 24 columns" in msg
    focus = write(tmp_path / "focus.csv", ["BilledCost", "ChargePeriodStart"], [])
    with pytest.raises(SourceError, match="a FOCUS export .* use --source focus"):
        parse_file(focus, source="azure_cost")


def test_decimal_separator_is_decided_once_per_file(tmp_path: Path) -> None:
    """'.' and ',' both proven in one file: the file fails, no row is guessed; ambiguous values
    alone follow Azure's '.' (',' in a ';' file) unless [ingest.azure_cost] decimal says."""
    header = [
        "SubscriptionGuid",
        "UsageDateTime",
        "MeterName",
        "UsageQuantity",
        "PreTaxCost",
        "Currency",
    ]
    base = dict(zip(header, ["s1", "2024-06-03", "D2s v3", "1", "0", "USD"], strict=True))
    mixed = write(
        tmp_path / "mixed.csv",
        header,
        [{**base, "PreTaxCost": "1,5"}, {**base, "PreTaxCost": "2.5"}],
    )
    with pytest.raises(
        SourceError, match=r"numbers use both '\.' \(line 3: '2\.5'\) and ',' \(line 2: '1,5'\)"
    ):
        parse_file(mixed)
    ambiguous = write(tmp_path / "ambiguous.csv", header, [{**base, "PreTaxCost": "1.234"}])
    assert charges(ambiguous)[0]["billed_cost"] == Decimal("1.234")
    comma = ParseContext(config={"azure_cost": {"decimal": ","}})
    assert charges(ambiguous, ctx=comma)[0]["billed_cost"] == Decimal("1234")
    grouped = write(tmp_path / "grouped.csv", header, [{**base, "PreTaxCost": "1,234.5"}])
    assert charges(grouped)[0]["billed_cost"] == Decimal("1234.5")
    junk = write(tmp_path / "junk.csv", header, [{**base, "PreTaxCost": "1.2.3"}, base])
    parsed = parse_file(junk)
    assert [b.reason for b in parsed.bad] == ["not a number: '1.2.3'"] and len(
        parsed.table("charges")
    ) == 1


def test_dates_in_each_documented_format(tmp_path: Path) -> None:
    header = [
        "SubscriptionGuid",
        "UsageDateTime",
        "MeterName",
        "UsageQuantity",
        "PreTaxCost",
        "Currency",
    ]
    days = {"2024-06-03T00:00:00.0000000Z": (2024, 6, 3), "2024/06/03": (2024, 6, 3),
            "03.06.2024": (2024, 6, 3), "6/3/2024 12:00:00 AM": (2024, 6, 3)}  # fmt: skip
    for i, (text, ymd) in enumerate(days.items()):
        path = write(
            tmp_path / f"d{i}.csv",
            header,
            [dict(zip(header, ["s", text, "m", "1", "1", "USD"], strict=True))],
        )
        assert charges(path)[0]["charge_period_start"] == datetime(*ymd, tzinfo=UTC), text
    dmy = ParseContext(config={"azure_cost": {"date_order": "dmy"}})
    assert charges(path, ctx=dmy)[0]["charge_period_start"] == datetime(2024, 3, 6, tzinfo=UTC)


def test_config_is_checked_and_a_currency_column_wins(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="azure_cost.currency must be a 3-letter ISO 4217 code"):
        parse_file(EA_PORTAL, ctx=ParseContext(config={"azure_cost": {"currency": "euro"}}))
    with pytest.raises(SourceError, match="azure_cost.decimal must be . or ,"):
        parse_file(DE, ctx=ParseContext(config={"azure_cost": {"decimal": "dot"}}))
    usd = ParseContext(config={"azure_cost": {"currency": "USD"}})
    assert {r["billing_currency"] for r in charges(DE, ctx=usd)} == {"EUR"}  # the file says EUR


def test_header_only_legacy_file_needs_no_currency(tmp_path: Path) -> None:
    """No rows, nothing to price: a header-only EA 2019-10-01 file is an empty export, not an
    error, even without a currency setting."""
    path = tmp_path / "empty.csv"
    path.write_bytes(ES.read_bytes().splitlines(keepends=True)[0])
    parsed = parse_file(path)
    assert parsed.source == "azure_cost" and parsed.table("charges") == [] and parsed.bad == []


def test_cost_analysis_download_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "DailyCosts.csv", ["UsageDate", "ServiceName", "CostUSD", "Cost", "Currency"],
                 [{"UsageDate": "2025-02-01", "ServiceName": "Storage", "CostUSD": "0.19",
                   "Cost": "0.28", "Currency": "CAD"}])  # fmt: skip
    assert detect(path).name == "azure_cost"
    with pytest.raises(
        SourceError, match="aggregated Cost analysis view download .* export cost details"
    ):
        parse_file(path)


def test_lake_totals_per_currency_and_model_across_every_schema(lake_dir: Path) -> None:
    """All five constructed files in one ingest (EA portal and Spanish EA take EUR from config):
    USD = PAYG 10.7512; EUR = 7.2136 + 9.189 + 1258.5825 + 3.9904 = 1278.9755 (see above)."""
    from costlab.ingest.run import ingest

    res = ingest(
        [PAYG, EA_PORTAL, DE, DE_SHEET, ES],
        lake=lake_dir,
        config={"azure_cost": {"currency": "EUR"}},
    )
    assert (res.rows_written, res.rows_quarantined, res.failed) == (22, 0, [])
    assert _lake_totals(lake_dir) == [
        ("actual", "EUR", 14, Decimal("1278.9755"), Decimal("1278.9755")),
        ("actual", "USD", 8, PAYG_USD, PAYG_USD),
    ]
    got = Workspace(lake_dir).rows(
        "select billing_currency, model, token_type, sum(billed_cost), sum(tokens) from charges"
        " where model is not null group by all order by all"
    )
    # EUR gpt-4o-2024-08-06: in DE 2.31 + 1.155 + sheet 5.775 = 9.24 (1,000,000 + 500,000 +
    # 2,500,000 tokens); out DE 0.924 + sheet 2.8875 = 3.8115 (100,000 + 312,500)
    assert got == [
        ("EUR", "gpt-4o-2024-05-13", "input_uncached", Decimal("4"), 800000),
        ("EUR", "gpt-4o-2024-05-13", "output", Decimal("0.75"), 50000),
        ("EUR", "gpt-4o-2024-08-06", "input_uncached", Decimal("9.24"), 4000000),
        ("EUR", "gpt-4o-2024-08-06", "output", Decimal("3.8115"), 412500),
        ("EUR", "gpt-4o-mini-2024-07-18", "input_uncached", Decimal("0.608"), 4000000),
        ("EUR", "gpt-4o-mini-2024-07-18", "output", Decimal("0.1824"), 300000),
        ("EUR", "text-embedding-3-large", "embedding", Decimal("0.39"), 3000000),
        ("USD", "gpt-4o-2024-08-06", "input_cache_read", Decimal("0.5"), 400000),
        ("USD", "gpt-4o-2024-08-06", "input_uncached", Decimal("3.75"), 1500000),
        ("USD", "gpt-4o-2024-08-06", "output", Decimal("1.205"), 120500),
        ("USD", "gpt-4o-mini-2024-07-18", "input_uncached", Decimal("0.33"), 2000000),
        ("USD", "gpt-4o-mini-2024-07-18", "output", Decimal("0.165"), 250000),
    ]


def test_redownload_of_a_legacy_month_replaces_it(lake_dir: Path, tmp_path: Path) -> None:
    """The re-downloaded PAYG file (storage line gone, 06-04 VM restated 2.304 -> 2.4) replaces
    the first download per subscription and day: 10.7512 - 0.1932 + 0.096 = 10.654."""
    from costlab.ingest.run import ingest

    ingest([PAYG], lake=lake_dir)
    header, rows = ea_rows(PAYG)
    rows = [r for r in rows if r["MeterCategory"] != "Storage"]
    rows[4] = {**rows[4], "PreTaxCost": "2.4", "UsageQuantity": "25"}
    assert rows[4]["UsageDateTime"] == "2024-06-04" and rows[4]["MeterName"] == "D2s v3"
    again = write(tmp_path / "payg-redownload.csv", header, rows)
    ingest([again], lake=lake_dir)
    assert _lake_totals(lake_dir) == [("actual", "USD", 7, Decimal("10.654"), Decimal("10.654"))]
    ingest([again], lake=lake_dir, force=True)  # the same file again: no change
    assert _lake_totals(lake_dir) == [("actual", "USD", 7, Decimal("10.654"), Decimal("10.654"))]
    # both downloads in one ingest: a download is one whole file (no ChargeType, no parts), so
    # per subscription and day the later file wins instead of both being kept
    both = tmp_path / "lake2"
    ingest([PAYG, again], lake=both)
    assert _lake_totals(both) == [("actual", "USD", 7, Decimal("10.654"), Decimal("10.654"))]
    assert {r["delivery"] for r in charges(PAYG)} == {None}


def test_cli_ingests_legacy_and_localized_files(tmp_path: Path) -> None:
    """Through the real entry point: auto-detected and forced --source azure_cost; the EA portal
    download takes its currency from [ingest.azure_cost] in costlab.toml."""
    from typer.testing import CliRunner

    from costlab.cli import app

    lake = tmp_path / "lake"
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", str(PAYG), str(DE), "--lake", str(lake)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", "--source", "azure_cost", str(DE_SHEET), "--lake", str(lake)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", str(EA_PORTAL), "--lake", str(lake)])
    assert r.exit_code != 0 and "no billing currency column" in r.output
    config = tmp_path / "costlab.toml"
    config.write_text('[ingest.azure_cost]\ncurrency = "EUR"\n')
    r = runner.invoke(app, ["--config", str(config), "ingest", str(EA_PORTAL), "--lake", str(lake)])
    assert r.exit_code == 0, r.output
    # EUR = DE 9.189 + sheet 1258.5825 + EA portal 7.2136 = 1274.9851; USD = PAYG 10.7512
    assert _lake_totals(lake) == [
        ("actual", "EUR", 11, Decimal("1274.9851"), Decimal("1274.9851")),
        ("actual", "USD", 8, PAYG_USD, PAYG_USD),
    ]
