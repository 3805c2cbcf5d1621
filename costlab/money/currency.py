"""Any currency, with dated rates: a report or reconciliation converted into one currency.

A rates file is a CSV in one of two shapes, told apart by its header:

    date,from,to,rate            one rate per line: 1 <from> = <rate> <to> on <date>
    2026-10-01,USD,EUR,0.9132

    Date,USD,JPY,GBP,...         the ECB reference rates as published (eurofxref-hist.csv, or
    2026-10-01,1.1134,160.21,... the daily eurofxref.csv with dates like "01 October 2026"):
                                 1 EUR = <value> <currency>; "N/A" and empty cells are no rate

Every amount is converted with the rate of its own UTC day (a charge's period start, a call's
start, a usage bucket's start). Reference rates are published on working days only, so a day
without one takes the latest rate of the 6 days before it (a weekend or holiday takes Friday's);
a day with no rate that near stays in its own currency, is listed in the report's
``currency_conversion`` section, and is never summed with converted money. Rates are used
directly, inverted (a file giving EUR->USD converts USD->EUR), or across the ECB's euro.
Converted money is rounded half-up to 12 decimals, the lake's scale.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from costlab.errors import CostlabError

#: How far back a day without a published rate looks for one (a long weekend plus holidays).
CARRY_DAYS = 6
_SCALE = Decimal("1e-12")


@dataclass
class Rates:
    """Dated rates from one file: (day, from, to) -> units of ``to`` per unit of ``from``."""

    source: str
    pairs: dict[tuple[date, str, str], Decimal] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Rates:
        """Read a rates file (either shape, see the module docstring); errors name the line."""
        from costlab.config import regular_file

        path = Path(path)
        try:
            fh = open(regular_file(path, "rates file"), encoding="utf-8-sig", newline="")
        except OSError as ex:
            raise CostlabError(f"{path}: cannot read rates file ({ex.strerror})") from None
        rates = cls(source=path.name)
        with fh:
            rows = csv.reader(fh)
            header = [h.strip() for h in next(rows, [])]
            names = [h.lower() for h in header]
            if names[:4] == ["date", "from", "to", "rate"]:
                rates._pairs(rows, path)
            elif names[:1] == ["date"] and len(names) > 1:
                rates._ecb(header, rows, path)
            else:
                raise CostlabError(
                    f"{path}: not a rates file; the header must be date,from,to,rate or the ECB's Date,USD,JPY,..."
                )
        if not rates.pairs:
            raise CostlabError(f"{path}: no rates in the file")
        return rates

    def _pairs(self, rows: Any, path: Path) -> None:
        for n, rec in enumerate(rows, start=2):
            if not any(c.strip() for c in rec):
                continue
            if len(rec) < 4:
                raise CostlabError(f"{path}:{n}: needs date,from,to,rate")
            day = _day(rec[0], f"{path}:{n}")
            src, dst = _code(rec[1], f"{path}:{n}"), _code(rec[2], f"{path}:{n}")
            self.pairs[(day, src, dst)] = _rate(rec[3], f"{path}:{n}")

    def _ecb(self, header: list[str], rows: Any, path: Path) -> None:
        codes = [_code(h, f"{path}:1") if h else "" for h in header[1:]]
        for n, rec in enumerate(rows, start=2):
            if not any(c.strip() for c in rec):
                continue
            day = _day(rec[0], f"{path}:{n}")
            for code, cell in zip(codes, rec[1:], strict=False):
                cell = cell.strip()
                if code and cell and cell.upper() != "N/A":
                    self.pairs[(day, "EUR", code)] = _rate(cell, f"{path}:{n} {code}")

    def rate(self, day: date, src: str, dst: str) -> tuple[Decimal, date] | None:
        """Units of ``dst`` per unit of ``src`` on ``day`` (or the latest of the `CARRY_DAYS`
        before it) and the day the rate is of; None when there is none that near."""
        if src == dst:
            return Decimal(1), day
        for back in range(CARRY_DAYS + 1):
            d = day - timedelta(days=back)
            found = self._on(d, src, dst)
            if found is not None:
                return found, d
        return None

    def _on(self, d: date, src: str, dst: str) -> Decimal | None:
        with localcontext() as ctx:
            ctx.prec = 38
            direct = self.pairs.get((d, src, dst))
            if direct is not None:
                return direct
            inverse = self.pairs.get((d, dst, src))
            if inverse is not None:
                return 1 / inverse
            to_src, to_dst = self.pairs.get((d, "EUR", src)), self.pairs.get((d, "EUR", dst))
            if src == "EUR" or dst == "EUR" or to_src is None or to_dst is None:
                return None
            return to_dst / to_src  # across the euro: (EUR->dst) / (EUR->src)


def _day(raw: str, where: str) -> date:
    text = raw.strip()
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d %B %Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    raise CostlabError(f"{where}: date {raw!r} is not YYYY-MM-DD")


def _code(raw: str, where: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise CostlabError(f"{where}: {raw!r} is not a three-letter currency code")
    return code


def _rate(raw: str, where: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise CostlabError(f"{where}: rate {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise CostlabError(f"{where}: rate {raw!r} must be a number above 0")
    return value


def check_currency(code: str) -> str:
    return _code(code, "--currency")


def convert_money(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` x ``rate`` rounded half-up to the lake's 12 decimals."""
    with localcontext() as ctx:
        ctx.prec = 60
        return (amount * rate).quantize(_SCALE, rounding=ROUND_HALF_UP)


def add_rates_table(con: Any, rates: Rates, target: str, days: list[tuple[date, str]]) -> None:
    """Table ``fx_rates`` (day, currency, rate, rate_day) on a DuckDB connection: the rate that
    turns one ``currency`` into ``target`` on each of ``days``' (day, currency) pairs that has
    one. The SQL joins it on (day, currency); a pair without a row stays unconverted."""
    con.execute(
        "CREATE OR REPLACE TABLE fx_rates (day DATE, currency VARCHAR, rate DECIMAL(18, 10), rate_day DATE)"
    )
    rows = []
    for day, cur in sorted(set(days)):
        if cur is None or cur == target:
            continue
        found = rates.rate(day, cur, target)
        if found is not None:
            rate, rate_day = found
            rows.append((day, cur, rate.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP), rate_day))
    if rows:
        con.executemany("INSERT INTO fx_rates VALUES (?, ?, ?, ?)", rows)


#: Money columns of ``charges`` in its billing currency (FOCUS): converted with it.
CHARGE_MONEY = ("billed_cost", "effective_cost", "list_cost", "contracted_cost", "list_unit_price", "contracted_unit_price")


def _source_sql(con: Any, view: str) -> str:
    """The SELECT a DuckDB view was created with (to wrap it under another name)."""
    row = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ? AND NOT internal", [view]).fetchone()
    if row is None:
        raise CostlabError(f"internal: no view {view} to convert")
    sql = str(row[0]).strip().rstrip(";")
    head = sql.upper().find(" AS ")
    return sql[head + 4 :]


def convert_views(con: Any, rates: Rates, target: str, calls_view: str) -> None:
    """Convert the money of ``charges``, ``usage_priced`` and ``calls_view`` (the report's calls)
    into ``target`` with each row's own day's rate, on a DuckDB connection. A row converted keeps
    its amounts in ``original_*`` columns; a row without a rate keeps its currency."""
    from costlab import engines

    if engines.is_spark(con):
        raise CostlabError("--currency works on the DuckDB engine only; run without --engine spark")
    days: list[tuple[date, str]] = []
    for view, day, cur in (
        ("charges", "charge_period_start", "billing_currency"),
        ("usage_priced", "period_start", "cost_currency"),
        (calls_view, "start_time", "cost_currency"),
    ):
        days += con.execute(
            f"SELECT DISTINCT CAST(timezone('UTC', {day}) AS DATE), {cur} FROM {view} "
            f"WHERE {cur} IS NOT NULL AND {day} IS NOT NULL"
        ).fetchall()
    add_rates_table(con, rates, target, days)
    lit = "'" + target.replace("'", "''") + "'"
    for view, day, cur, money in (
        ("charges", "charge_period_start", "billing_currency", CHARGE_MONEY),
        ("usage_priced", "period_start", "cost_currency", ("cost",)),
        (calls_view, "start_time", "cost_currency", ("cost",)),
    ):
        src = f"_fx_src_{view}"
        con.execute(f"CREATE OR REPLACE VIEW {src} AS {_source_sql(con, view)}")
        replaced = ", ".join(
            f"CASE WHEN fx.rate IS NULL THEN s.{m} ELSE CAST(round(s.{m} * fx.rate, 12) AS DECIMAL(38, 12)) END AS {m}"
            for m in money
        )
        con.execute(
            f"""CREATE OR REPLACE VIEW {view} AS
                SELECT s.* REPLACE ({replaced},
                                    CASE WHEN fx.rate IS NULL THEN s.{cur} ELSE {lit} END AS {cur}),
                       s.{cur} AS original_currency,
                       {", ".join(f"s.{m} AS original_{m}" for m in money)},
                       fx.rate AS fx_rate, fx.rate_day AS fx_rate_day
                FROM {src} AS s
                LEFT JOIN fx_rates AS fx
                  ON fx.day = CAST(timezone('UTC', s.{day}) AS DATE) AND fx.currency = s.{cur}"""
        )


def conversion_rows(
    con: Any, target: str, since: datetime | None, until: datetime | None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """What was converted and what was not, per kind of amount and original currency, over
    ``[since, until)``: the report's ``currency_conversion`` section (after `convert_views`)."""
    parts = []
    for kind, view, day, money, weight in (
        ("billed", "charges", "charge_period_start", "billed_cost", "1"),
        ("provider usage", "usage_priced", "period_start", "cost", "1"),
        ("traced calls", "calls", "start_time", "cost", "n_calls"),
    ):
        parts.append(
            f"""SELECT '{kind}' AS amounts, original_currency AS currency,
                   CAST(sum({weight}) FILTER (WHERE fx_rate IS NOT NULL) AS BIGINT) AS converted_rows,
                   sum(original_{money}) FILTER (WHERE fx_rate IS NOT NULL) AS original_amount,
                   sum({money}) FILTER (WHERE fx_rate IS NOT NULL) AS converted_amount,
                   min(fx_rate_day) AS first_rate_day, max(fx_rate_day) AS last_rate_day,
                   CAST(coalesce(sum({weight}) FILTER (WHERE fx_rate IS NULL), 0) AS BIGINT) AS unconverted_rows,
                   sum(original_{money}) FILTER (WHERE fx_rate IS NULL) AS unconverted_amount,
                   string_agg(DISTINCT CAST(CAST(timezone('UTC', {day}) AS DATE) AS VARCHAR), ', '
                              ORDER BY CAST(CAST(timezone('UTC', {day}) AS DATE) AS VARCHAR))
                       FILTER (WHERE fx_rate IS NULL) AS unconverted_days
            FROM {view}
            WHERE original_currency IS NOT NULL AND original_currency <> $target
              AND (CAST($since AS TIMESTAMPTZ) IS NULL OR {day} >= CAST($since AS TIMESTAMPTZ))
              AND (CAST($until AS TIMESTAMPTZ) IS NULL OR {day} < CAST($until AS TIMESTAMPTZ))
              AND {money} IS NOT NULL
            GROUP BY original_currency"""
        )
    cur = con.execute(
        " UNION ALL ".join(parts) + " ORDER BY amounts, currency",
        {"target": target, "since": since, "until": until},
    )
    return [d[0] for d in cur.description], cur.fetchall()
