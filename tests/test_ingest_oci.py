"""OCI cost report source (costlab/ingest/oci.py) on a real cost report."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest import oci as O
from costlab.ingest.base import Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
REPORT = FIX / "oci" / "reports_cost-csv_0000000030000269.csv"

# cost/myCost has up to 18 decimals; the lake keeps 12 (DECIMAL(38,12)). Computed independently:
#   python3 -c "import csv; from decimal import Decimal as D, ROUND_HALF_EVEN as H
#   rows=list(csv.DictReader(open('reports_cost-csv_0000000030000269.csv', newline='')))
#   print(sum(D(r['cost/myCost']) for r in rows),
#         sum(D(r['cost/myCost']).quantize(D('1e-12'), rounding=H) for r in rows))"
#   -> 2.523589325400648027 (file, full precision)  2.523589325430 (each line at 12 decimals)
REPORT_USD_12DP = Decimal("2.523589325430")
REPORT_USD_FULL = Decimal("2.523589325400648027")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    parsed = parse_file(REPORT)
    assert parsed.bad == []
    return parsed.table("charges")


def test_detect() -> None:
    assert detect(REPORT).name == "oci_cost_report"
    # the FOCUS sample (which has Oracle rows) is not an OCI cost report
    assert not O.OciCostReport.detect(Sniff(FIX / "focus" / "focus_sample_1.0.csv"))


def test_rows_and_money(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == 506
    total = sum((r["billed_cost"] for r in rows), Decimal(0))
    assert {r["billing_currency"] for r in rows} == {"USD"}
    assert total == REPORT_USD_12DP
    assert abs(total - REPORT_USD_FULL) < Decimal("506e-12") / 2  # only sub-picocent rounding
    assert all(r["effective_cost"] == r["billed_cost"] for r in rows)
    sci = next(r for r in rows if r["source_line"] == _line_of("4.81298076439E-7"))
    assert sci["billed_cost"] == Decimal("0.000000481298")


def _line_of(my_cost: str) -> int:
    with open(REPORT, newline="") as fh:
        for n, rec in enumerate(csv.DictReader(fh), 2):
            if rec["cost/myCost"] == my_cost:
                return n
    raise AssertionError(my_cost)


def test_periods_ids_and_keys(rows: list[dict[str, Any]]) -> None:
    first = rows[0]
    # "2023-11-13T10:00Z" (no seconds) -> "2023-11-13T11:00:00Z"
    assert first["charge_period_start"] == datetime(2023, 11, 13, 10, tzinfo=UTC)
    assert first["charge_period_end"] == datetime(2023, 11, 13, 11, tzinfo=UTC)
    assert first["billing_period_start"] == datetime(2023, 11, 1, tzinfo=UTC)
    assert first["billing_period_end"] == datetime(2023, 12, 1, tzinfo=UTC)
    assert first["sku_id"] == "B92911" and first["project_id"] == "platformpm2022"
    assert (
        first["pricing_quantity"] == Decimal("0.083333333333") and first["pricing_unit"] == "Hours"
    )
    assert len({r["row_key"] for r in rows}) == 506  # referenceNo is unique
    assert Counter(r["charge_period_start"].hour for r in rows)[10] == 84


def test_tags_columns_become_map(rows: list[dict[str, Any]]) -> None:
    assert rows[0]["tags"]["Oracle-Tags.CreatedBy"] == "default/phil.newman@oracle.com"
    odd = [
        r for r in rows if r["tags"] and "DevRel\\redbull-analytics-hol-4cb4.release" in r["tags"]
    ]
    assert len(odd) == 6 and odd[0]["tags"]["DevRel\\redbull-analytics-hol-4cb4.release"] == "1.0"
    # rows whose tags/* columns are all empty (python csv count over the file: 234) have no tags
    assert sum(r["tags"] is None for r in rows) == 234
    assert all("" not in (r["tags"] or {}).values() for r in rows)


def test_compute_kind(rows: list[dict[str, Any]]) -> None:
    kinds = Counter(r["compute_kind"] for r in rows)
    assert kinds["egress"] == 40  # "Outbound Data Transfer Zone 1"
    assert {r["charge_description"] for r in rows if r["compute_kind"] == "egress"} == {
        "Outbound Data Transfer Zone 1"
    }


def _variant(tmp_path: Path, **changes: str) -> Path:
    with open(REPORT, newline="") as fh:
        recs = list(csv.DictReader(fh))
    header = list(recs[0])
    out = tmp_path / "variant.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        w.writerow(recs[0])
        w.writerow({**recs[1], **changes})
    return out


def test_correction_kept_as_correction(tmp_path: Path) -> None:
    rows = parse_file(
        _variant(tmp_path, **{"lineItem/isCorrection": "true", "cost/myCost": "-0.5"})
    ).table("charges")
    assert rows[1]["charge_class"] == "Correction" and rows[1]["billed_cost"] == Decimal("-0.5")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"cost/myCostOverage": "0.25"}, "myCostOverage"),
        ({"cost/myCost": "twelve"}, "not a number"),
        ({"cost/currencyCode": ""}, "currencyCode"),
        ({"lineItem/intervalUsageStart": ""}, "intervalUsageStart"),
        ({"lineItem/referenceNo": ""}, "referenceNo"),
    ],
)
def test_bad_rows(tmp_path: Path, change: dict[str, str], reason: str) -> None:
    parsed = parse_file(_variant(tmp_path, **change))
    assert len(parsed.table("charges")) == 1
    assert len(parsed.bad) == 1 and reason in parsed.bad[0].reason and parsed.bad[0].location == "3"


def test_not_a_cost_report(tmp_path: Path) -> None:
    p = tmp_path / "usage.csv"
    p.write_text("lineItem/referenceNo,lineItem/intervalUsageStart\nabc,2023-11-13T10:00Z\n")
    with pytest.raises(SourceError, match="cost/mycost"):
        parse_file(p, source="oci_cost_report")


def test_through_lake(tmp_path: Path) -> None:
    pipeline = pytest.importorskip("costlab.ingest.run")

    lake = tmp_path / "lake"
    res = pipeline.ingest([REPORT], lake=lake)
    assert not res.failed and res.rows_written == 506
    sql = "select billing_currency, sum(billed_cost), count(*) from charges group by 1"
    assert Workspace(lake).rows(sql) == [("USD", REPORT_USD_12DP, 506)]
    assert pipeline.ingest([REPORT], lake=lake).rows_written == 0
    assert Workspace(lake).rows(sql) == [("USD", REPORT_USD_12DP, 506)]
