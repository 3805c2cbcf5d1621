"""Any currency, with dated rates (costlab/money/currency.py): rates files, the rate of a day,
and the report and reconciliation converted, with what has no rate left apart and listed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import CostlabError
from costlab.lake import Lake
from costlab.money.currency import Rates, convert_money
from costlab.money.reconcile import reconcile
from costlab.report.build import build_report
from costlab.workspace import Workspace

D = Decimal


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_ecb_history_file_as_published(tmp_path: Path) -> None:
    p = _write(tmp_path, "eurofxref-hist.csv", "Date,USD,JPY,CYP,\n2026-10-02,1.1000,160.00,N/A,\n2026-10-01,1.2500,,N/A,\n")
    r = Rates.load(p)
    assert r.rate(date(2026, 10, 2), "EUR", "USD") == (D("1.1000"), date(2026, 10, 2))
    assert r.rate(date(2026, 10, 1), "USD", "EUR") == (D("0.8"), date(2026, 10, 1))  # 1 / 1.25
    # across the euro: 1 USD = 160 / 1.1 JPY
    rate, _ = r.rate(date(2026, 10, 2), "USD", "JPY") or (None, None)
    assert rate is not None and abs(rate - D(160) / D("1.1")) < D("1e-20")
    assert r.rate(date(2026, 10, 1), "USD", "JPY") is None  # no JPY that day
    assert r.rate(date(2026, 10, 1), "EUR", "CYP") is None  # N/A is no rate


def test_ecb_daily_file_with_spaced_cells(tmp_path: Path) -> None:
    p = _write(tmp_path, "eurofxref.csv", "Date, USD, JPY, \n02 October 2026, 1.1000, 160.00, \n")
    assert Rates.load(p).rate(date(2026, 10, 2), "EUR", "JPY") == (D("160.00"), date(2026, 10, 2))


def test_a_day_without_a_rate_takes_the_last_of_six_days_before(tmp_path: Path) -> None:
    p = _write(tmp_path, "r.csv", "date,from,to,rate\n2026-10-02,USD,EUR,0.9\n")
    r = Rates.load(p)
    assert r.rate(date(2026, 10, 4), "USD", "EUR") == (D("0.9"), date(2026, 10, 2))  # Sunday: Friday's
    assert r.rate(date(2026, 10, 8), "USD", "EUR") == (D("0.9"), date(2026, 10, 2))  # 6 days on
    assert r.rate(date(2026, 10, 9), "USD", "EUR") is None  # 7 days on: none
    assert r.rate(date(2026, 10, 1), "USD", "EUR") is None  # never from a later day
    assert r.rate(date(2020, 1, 1), "EUR", "EUR") == (D(1), date(2020, 1, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,cur\n2026-10-01,USD\n", "not a rates file"),
        ("date,from,to,rate\n2026-13-01,USD,EUR,0.9\n", r"r.csv:2: date '2026-13-01' is not YYYY-MM-DD"),
        ("date,from,to,rate\n2026-10-01,USD,EUR,0\n", r"r.csv:2: rate '0' must be a number above 0"),
        ("date,from,to,rate\n2026-10-01,USD,EURO,0.9\n", r"r.csv:2: 'EURO' is not a three-letter currency code"),
        ("date,from,to,rate\n2026-10-01,USD,EUR,abc\n", r"r.csv:2: rate 'abc' is not a number"),
        ("date,from,to,rate\n", "no rates in the file"),
    ],
)
def test_bad_rates_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CostlabError, match=message):
        Rates.load(_write(tmp_path, "r.csv", text))


def test_money_is_rounded_half_up_to_twelve_decimals() -> None:
    assert convert_money(D("0.000000000001"), D("0.5")) == D("0.000000000001")  # 0.5e-12 rounds up
    assert convert_money(D("10"), D("0.9132")) == D("9.132")


def _charges_by_day(lake: Path) -> dict[date, Decimal]:
    files = [str(lake / f) for f in Lake(lake).manifest().tables["charges"]]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT CAST(timezone('UTC', charge_period_start) AS DATE), billed_cost, billing_currency "
        f"FROM read_parquet({files!r}) WHERE billed_cost IS NOT NULL"
    ).fetchall()
    out: dict[date, Decimal] = {}
    for day, cost, cur in rows:
        assert cur == "USD"
        out[day] = out.get(day, D(0)) + cost
    return out


def _half_rates(tmp_path: Path, gap: set[date]) -> Path:
    """EUR -> USD = 2 (so USD -> EUR = 0.5) on every day of October 2026 but ``gap``, and no
    earlier day, so a gap day has no rate to carry."""
    lines = ["date,from,to,rate"]
    d = date(2026, 10, 1)
    while d < date(2026, 11, 1):
        if d not in gap:
            lines.append(f"{d},EUR,USD,2")
        d += timedelta(days=1)
    return _write(tmp_path, "rates.csv", "\n".join(lines) + "\n")


def test_demo_report_in_euros_converts_each_day_and_lists_the_rest(demo_lake: Path, tmp_path: Path) -> None:
    """Hand-derived from the demo's bill lines: every day of October at 0.5 EUR per USD but the
    first, which has no rate (and none before it): its lines stay in USD, listed, not summed."""
    first = date(2026, 10, 1)
    rates = _half_rates(tmp_path, {first})
    by_day = _charges_by_day(demo_lake)
    in_month = {d: v for d, v in by_day.items() if first <= d < date(2026, 11, 1)}
    want_eur = sum((v for d, v in in_month.items() if d != first), D(0)) * D("0.5")
    want_usd = in_month.get(first, D(0))
    r = build_report(Workspace(demo_lake), since="2026-10-01", until="2026-11-01", findings=False,
                     currency="EUR", rates=rates)  # fmt: skip
    billed = {h.currency: h.billed for h in r.headline}
    assert billed["EUR"] == want_eur
    assert billed.get("USD", D(0)) == want_usd
    assert sum(in_month.values()) == D("191.1971095795")  # the demo's October bill, in USD
    for h in r.headline:  # conservation holds in each currency
        assert h.attributed is not None and h.unattributed is not None
        assert h.attributed + h.unattributed == h.billed
    conv = r.section("currency_conversion")
    assert conv is not None
    billed_row = next(x for x in conv.records() if x["amounts"] == "billed")
    assert billed_row["original_amount"] * D("0.5") == billed_row["converted_amount"] == want_eur
    if want_usd:
        assert billed_row["unconverted_amount"] == want_usd
        assert billed_row["unconverted_days"] == "2026-10-01"
    assert r.options["currency"] == "EUR"


def test_reconcile_in_euros(demo_lake: Path, tmp_path: Path) -> None:
    rates = _half_rates(tmp_path, set())
    usd = reconcile(Workspace(demo_lake), "2026-10-02", "2026-11-01", grain="summary")
    eur = reconcile(Workspace(demo_lake), "2026-10-02", "2026-11-01", grain="summary", currency="EUR", rates=rates)
    assert set(eur["currency"].drop_nulls()) == {"EUR"}
    total = lambda df, c: sum((v for v in df[c].to_list() if v is not None), D(0))  # noqa: E731
    assert total(eur, "billed") == total(usd, "billed") * D("0.5")
    assert total(eur, "traced") == total(usd, "traced") * D("0.5")


def test_cli_currency_needs_rates_and_says_so(demo_lake: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["report", "--lake", str(demo_lake), "--month", "2026-10", "--currency", "EUR"])
    assert r.exit_code != 0 and "--currency EUR needs a rates file" in r.output
    rates = _half_rates(tmp_path, set())
    r = CliRunner().invoke(
        app,
        ["report", "--lake", str(demo_lake), "--month", "2026-10", "--currency", "eur", "--rates", str(rates),
         "-f", "json", "--no-findings", "--no-fail"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout, parse_float=Decimal)
    assert [h["currency"] for h in out["headline"]] == ["EUR"]
    assert out["headline"][0]["billed"] == D("191.1971095795") * D("0.5")
