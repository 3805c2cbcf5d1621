"""`costlab export focus` (costlab/money/focus_export.py, queries/export_focus.sql): FOCUS 1.2 columns and
formatting, exact round trip through the focus ingestor, filled/cleared columns, errors, the CLI,
and (slow, opt-in) the FinOps Foundation's focus-validator."""

from __future__ import annotations

import csv
import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import focusval
import pytest
from typer.testing import CliRunner

import costlab
from costlab.cli import app
from costlab.errors import CostlabError
from costlab.lake import Lake
from costlab.money.focus_export import export_focus
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
FOCUS = FIX / "focus"
SAMPLE = FOCUS / "focus_sample_1.0.csv"
FOCUS_FILES = [
    SAMPLE,
    FOCUS / "azure_focus_1.2_openai_constructed.csv",
    FOCUS / "aws_focus_1.2_bedrock_constructed.csv",
    FOCUS / "focus_1.3_constructed.csv",
]
# The 57 FOCUS 1.2 cost-and-usage columns, as listed by focus-validator 2.2.1's rule model
# (focus_validator/rules/model-1.2.0.1.json, EntityType "Column"), sorted.
FOCUS_12 = """AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingAccountType
BillingCurrency BillingPeriodEnd BillingPeriodStart CapacityReservationId CapacityReservationStatus
ChargeCategory ChargeClass ChargeDescription ChargeFrequency ChargePeriodEnd ChargePeriodStart
CommitmentDiscountCategory CommitmentDiscountId CommitmentDiscountName CommitmentDiscountQuantity
CommitmentDiscountStatus CommitmentDiscountType CommitmentDiscountUnit ConsumedQuantity ConsumedUnit
ContractedCost ContractedUnitPrice EffectiveCost InvoiceId InvoiceIssuerName ListCost ListUnitPrice
PricingCategory PricingCurrency PricingCurrencyContractedUnitPrice PricingCurrencyEffectiveCost
PricingCurrencyListUnitPrice PricingQuantity PricingUnit ProviderName PublisherName RegionId
RegionName ResourceId ResourceName ResourceType ServiceCategory ServiceName ServiceSubcategory SkuId
SkuMeter SkuPriceDetails SkuPriceId SubAccountId SubAccountName SubAccountType Tags""".split()
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def focus_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    path = tmp_path_factory.mktemp("focus") / "lake"
    result = costlab.ingest(FOCUS_FILES, lake=path, source="focus")
    assert not result.failed
    return Lake(path)


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    path = tmp_path_factory.mktemp("sample") / "lake"
    assert not costlab.ingest([SAMPLE], lake=path).failed
    return Lake(path)


def read_csv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        return list(csv.DictReader(fh))


def totals(lake: Lake) -> dict[str, tuple[Decimal, Decimal, int]]:
    rows = Workspace(lake).rows(
        "SELECT billing_currency, sum(billed_cost), sum(effective_cost), count(*) FROM charges GROUP BY 1"
    )
    return {cur: (billed, effective, n) for cur, billed, effective, n in rows}


def test_columns_are_focus_12_then_x_extensions(sample_lake: Lake, tmp_path: Path) -> None:
    result = export_focus(sample_lake, tmp_path / "f.csv")
    header = next(csv.reader(open(tmp_path / "f.csv", newline="")))
    assert header == result.columns
    assert header[:57] == FOCUS_12  # every FOCUS 1.2 column, alphabetical, first (ColumnHandling-A-012)
    extensions = header[57:]
    assert all(c.startswith("x_") for c in extensions)
    for name in ("x_Model", "x_TokenType", "x_Tokens", "x_ServiceTier", "x_ProjectId", "x_ApiKeyId",
                 "x_Principal", "x_ComputeKind", "x_Workflow", "x_CostlabDerived", "x_SourceFile",
                 "x_RunId", "x_RowKey"):  # fmt: skip
        assert name in extensions


def test_sample_values_exact_and_formatted(sample_lake: Lake, tmp_path: Path) -> None:
    result = export_focus(sample_lake, tmp_path / "f.csv")
    rows = read_csv(tmp_path / "f.csv")
    assert result.rows == len(rows) == 1000
    # Independent total (tests/test_ingest_focus.py SAMPLE_TOTALS: Decimal sum over the source CSV)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("20.52022672899")
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == Decimal("14.97651418586")
    # ContractedCost: 7 source rows are the string NULL; FOCUS forbids NULL, so they get BilledCost
    filled = [r for r in rows if "ContractedCost" in r["x_CostlabDerived"].split()]
    assert len(filled) == 7 and all(r["ContractedCost"] == r["BilledCost"] for r in filled)
    for r in rows:
        for col in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
            assert ISO.match(r[col]), (col, r[col])
        if r["Tags"]:
            assert isinstance(json.loads(r["Tags"]), dict)
    # first source row: SQS, 2024-09-18 22:00 (source text "2024-09-18 22:00:00", BilledCost 0.00000080000)
    sqs = [r for r in rows if r["SkuPriceId"] == "G95FST5FTYV3JSRX.JRTCKXETXF.VXGXCWQKTY"
           and r["ChargePeriodStart"] == "2024-09-18T22:00:00Z"]  # fmt: skip
    assert len(sqs) == 1
    assert Decimal(sqs[0]["BilledCost"]) == Decimal("0.0000008")
    assert sqs[0]["ProviderName"] == "AWS" and sqs[0]["PublisherName"] == "Amazon Web Services, Inc."
    assert sqs[0]["ChargePeriodEnd"] == "2024-09-18T23:00:00Z"


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_round_trip_through_focus_ingestor(focus_lake: Lake, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    result = export_focus(focus_lake, out)
    again = Lake(tmp_path / "again")
    r = costlab.ingest([out], lake=again.path, source="focus")
    assert not r.failed and r.rows_quarantined == 0
    before, after = totals(focus_lake), totals(again)
    assert after == before  # exact Decimal sums and row counts per currency
    assert set(before) == {"USD", "EUR"}
    assert sum(n for *_, n in before.values()) == result.rows


def test_since_until_select_charge_period_start(sample_lake: Lake, tmp_path: Path) -> None:
    # python: sum(r['ChargePeriodStart'].startswith('2024-09-18') for r in csv.DictReader(SAMPLE)) == 40
    result = export_focus(sample_lake, tmp_path / "day.csv", since="2024-09-18", until="2024-09-19")
    rows = read_csv(tmp_path / "day.csv")
    assert result.rows == len(rows) == 40
    assert all(r["ChargePeriodStart"].startswith("2024-09-18T") for r in rows)


def test_filled_and_cleared_columns(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    costlab.ingest([FIX / "anthropic" / "cost_report_ungrouped.json", FOCUS / "aws_focus_1.2_bedrock_constructed.csv"], lake=lake.path)
    rows = read_csv(export_focus(lake, tmp_path / "f.csv").path)
    anthropic = [r for r in rows if r["x_SourceFormat"] == "anthropic_cost"]
    assert len(anthropic) == 2
    for r in anthropic:  # the cost report has no billing period or list cost: the month and BilledCost
        assert (r["BillingPeriodStart"], r["BillingPeriodEnd"]) == ("2025-08-01T00:00:00Z", "2025-09-01T00:00:00Z")
        assert r["ListCost"] == r["ContractedCost"] == r["BilledCost"]
        assert {"BillingPeriodStart", "BillingPeriodEnd", "ListCost", "ContractedCost"} <= set(r["x_CostlabDerived"].split())
    assert sorted(Decimal(r["BilledCost"]) for r in anthropic) == [Decimal("3.025"), Decimal("47.13519375001")]
    taxes = [r for r in rows if r["ChargeCategory"] == "Tax"]
    assert taxes
    for r in taxes:  # FOCUS 1.2: MUST be null on Tax rows
        assert r["PricingQuantity"] == r["SkuId"] == r["ListUnitPrice"] == r["PricingCategory"] == ""
    for r in rows:
        assert r["ChargeFrequency"] and r["ServiceCategory"] and r["ServiceSubcategory"]
        if r["ChargeCategory"] != "Usage":
            assert r["ConsumedQuantity"] == ""


def test_errors_are_one_line_and_keep_the_old_file(
    tmp_path: Path, sample_lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(CostlabError, match="unknown output format"):
        export_focus(sample_lake, tmp_path / "f.xlsx")
    with pytest.raises(CostlabError, match="does not exist"):
        export_focus(sample_lake, tmp_path / "missing" / "f.csv")
    old = tmp_path / "f.csv"
    old.write_text("previous export\n")
    with pytest.raises(CostlabError, match="no costlab lake"):
        export_focus(tmp_path / "typo", old)
    empty = Lake(tmp_path_factory.mktemp("empty") / "lake")
    empty.create()
    with pytest.raises(CostlabError, match="no charges"):
        export_focus(empty, old)
    with pytest.raises(CostlabError, match="no charges in the chosen period"):
        export_focus(sample_lake, old, since="2030-01-01")
    assert old.read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]  # no temp files left
    with pytest.raises(CostlabError, match="cannot read date"):
        export_focus(sample_lake, old, since="last tuesday")


def test_cli_export_focus(tmp_path: Path, sample_lake: Lake) -> None:
    runner = CliRunner()
    out = tmp_path / "focus.csv.gz"
    r = runner.invoke(app, ["export", "focus", "-o", str(out), "--lake", str(sample_lake.path)])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"1000 rows written to {out} (FOCUS 1.2, 76 columns)"
    assert len(read_csv(out)) == 1000
    r = runner.invoke(app, ["export", "focus", "-o", str(tmp_path / "f.txt"), "--lake", str(sample_lake.path)])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("Error: ")
    r = runner.invoke(app, ["export", "focus", "--help"])
    assert r.exit_code == 0 and "Example" in r.stdout and "--output" in r.stdout
    assert runner.invoke(app, ["export", "focus", "--lake", str(sample_lake.path)]).exit_code == 2


# focus-validator failures of this lake that are the source files' own, on top of
# focusval.VALIDATOR_DEFECTS (README "Exporting FOCUS"):
SOURCE_DATA = {
    "ServiceName-C-005-C": "the constructed FOCUS 1.3 file gives 'Example Model API' three categories",
    "ServiceName-C-003-M": "2 rows of the constructed FOCUS files have no ServiceName",
}


@pytest.mark.slow
def test_focus_validator_accepts_the_export(focus_lake: Lake, tmp_path: Path) -> None:
    focusval.executable()  # skips without COSTLAB_FOCUS_VALIDATOR
    report = focusval.validate(export_focus(focus_lake, tmp_path / "focus.csv").path)
    unexpected = {k: v for k, v in report.mandatory_failures().items()
                  if k not in focusval.VALIDATOR_DEFECTS and k not in SOURCE_DATA}  # fmt: skip
    assert not unexpected, unexpected
    # the mandatory presence rules (CostAndUsage-D-0xx-M) all pass
    presence = [r for r in report.checked if re.fullmatch(r"CostAndUsage-D-\d+-M", r)]
    assert presence and not set(presence) & set(report.failed)


def _first_focus_row() -> dict[str, str]:
    """The first row of the constructed AWS FOCUS 1.2 file, to vary one column at a time."""
    with open(FOCUS / "aws_focus_1.2_bedrock_constructed.csv", newline="", encoding="utf-8") as fh:
        return next(csv.DictReader(fh))


def _focus_lake(path: Path, rows: list[dict[str, str]]) -> Path:
    """``rows`` written as the FOCUS CSV ``path`` and ingested into a lake beside it."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lake = path.parent / "lake"
    assert not costlab.ingest([path], lake=lake, source="focus").failed
    return lake


def test_list_cost_from_a_unit_price_and_a_quantity_past_14_digits(tmp_path: Path) -> None:
    """ListCost = ListUnitPrice x PricingQuantity when the file has no ListCost. Both factors
    pass ingest's limits (below 1e15), but their product, $9.9e14, overflowed DECIMAL(38,24)
    and failed the export. Hand-computed: 123456.789012345678 x 8000000000.123456789012 =
    987654312114007.002753196160232056090136, to 12 places ...160; 0.000001 x 0.0000005 =
    5e-13 exactly, half a unit of the 12th place, rounded away from zero as before."""
    first = _first_focus_row()
    big = {**first, "BilledCost": "987654312114007", "EffectiveCost": "987654312114007", "ListCost": "",
           "ContractedCost": "", "ListUnitPrice": "123456.789012345678", "ContractedUnitPrice": "-2.5",
           "PricingQuantity": "8000000000.123456789012", "ChargePeriodStart": "2025-06-03T10:00:00.000Z"}
    tie = {**first, "BilledCost": "0", "EffectiveCost": "0", "ListCost": "", "ContractedCost": "",
           "ListUnitPrice": "0.000001", "ContractedUnitPrice": "-0.000001", "PricingQuantity": "0.0000005",
           "SkuPriceId": "tie", "ChargePeriodStart": "2025-06-03T11:00:00.000Z", "ChargePeriodEnd": "2025-06-03T12:00:00.000Z"}
    lake = _focus_lake(tmp_path / "big_focus.csv", [big, tie])
    rows = sorted(read_csv(export_focus(lake, tmp_path / "f.csv").path), key=lambda r: r["ChargePeriodStart"])
    assert [(Decimal(r["ListCost"]), Decimal(r["ContractedCost"])) for r in rows] == [
        (Decimal("987654312114007.002753196160"), Decimal("-20000000000.308641972530")),
        (Decimal("0.000000000001"), Decimal("-0.000000000001")),
    ]


def test_a_list_cost_past_focus_money_names_its_line_and_keeps_the_old_file(tmp_path: Path) -> None:
    """Each factor passes ingest's limit (below 1e15), but 999999999999999 x 999999999999999 =
    9.99999999999998e29 is past the 26 digits before the point that FOCUS money,
    DECIMAL(38,12), holds. The export failed with DuckDB's own cast message, which names no
    charge; it now names the file and line (line 3: the header, a good row, then this one)."""
    first = _first_focus_row()
    huge = {**first, "ListCost": "", "ContractedCost": "", "ListUnitPrice": "999999999999999",
            "PricingQuantity": "999999999999999", "ChargePeriodStart": "2025-06-03T10:00:00.000Z"}  # fmt: skip
    path = tmp_path / "huge_focus.csv"
    lake = _focus_lake(path, [first, huge])
    old = tmp_path / "f.csv"
    old.write_text("previous export\n")
    with pytest.raises(CostlabError) as err:
        export_focus(lake, old)
    assert str(err.value) == (
        f"{old}: export failed: {path} line 3: unit price 999999999999999.000000000000 x quantity "
        "999999999999999.000000000000 = 1e+30, more than FOCUS money (DECIMAL(38,12), 26 digits before "
        "the point) holds; check that line's unit price and quantity, or export a period without it "
        "(--since/--until)"
    )
    assert old.read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "huge_focus.csv", "lake"]


def test_the_line_named_for_an_overflow_is_one_the_period_exports(tmp_path: Path) -> None:
    """Two lines past FOCUS money: line 3 charged in May, line 4 in June. Exporting June fails
    on line 4 only, so the error names line 4, not the first such line of the lake."""
    first = _first_focus_row()
    huge = {**first, "ListCost": "", "ContractedCost": "", "ListUnitPrice": "999999999999999",
            "PricingQuantity": "999999999999999"}  # fmt: skip
    may = {**huge, "BillingPeriodStart": "2025-05-01T00:00:00.000Z", "BillingPeriodEnd": "2025-06-01T00:00:00.000Z",
           "ChargePeriodStart": "2025-05-10T10:00:00.000Z", "ChargePeriodEnd": "2025-05-10T11:00:00.000Z"}  # fmt: skip
    june = {**huge, "ChargePeriodStart": "2025-06-03T10:00:00.000Z"}
    path = tmp_path / "huge_focus.csv"
    lake = _focus_lake(path, [first, may, june])
    with pytest.raises(CostlabError, match=f"export failed: {re.escape(str(path))} line 4: unit price"):
        export_focus(lake, tmp_path / "f.csv", since="2025-06-01")
    with pytest.raises(CostlabError, match=f"export failed: {re.escape(str(path))} line 3: unit price"):
        export_focus(lake, tmp_path / "f.csv", until="2025-06-01")
