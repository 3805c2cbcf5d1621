"""Monthly committed-use contracts (``[[commitment]]`` in the price overrides file), drawn down.

A commitment is money promised to a provider per UTC calendar month: what the month's usage
costs is drawn from it, and a month that spends less still pays the whole amount (the true-up).
`status` sets each committed month's amount beside what it was drawn down by: the provider's LLM
usage on the lake's bill (``queries/commitment_spend.sql``, the bill's counted Usage lines in the
commitment's currency), or, for a month the lake has no such bill line of, the priced traced
calls of the provider (``basis`` says which; ``none`` when neither has a row)::

    committed  = the commitment's amount
    drawn_down = min(spent, committed)
    remaining  = committed - drawn_down
    shortfall  = committed - spent when spent < committed (money paid for nothing), else 0
    overage    = spent - committed when spent > committed, else 0

Months are whole: the month's spend is read for the whole month, whatever part of it the period
covers, as the contract settles per month. A month not over yet has a shortfall that is not final.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.periods import When, next_month
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    from costlab.lake import Lake
    from costlab.pricing import Commitment, PriceBook


@dataclass(frozen=True)
class CommitmentMonth:
    """One committed month of one commitment (see the module docstring for each amount)."""

    provider: str
    month: str  # YYYY-MM (UTC)
    currency: str
    committed: Decimal
    spent: Decimal
    basis: str  # 'bill', 'traces' or 'none'
    drawn_down: Decimal
    remaining: Decimal
    shortfall: Decimal
    overage: Decimal

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One line for people: ``openai 2026-10: committed 10.00 USD, spent 5.50 (bill), ...``."""
        from costlab.money_text import money_text

        spent = {"bill": "on the bill", "traces": "priced from the traces: no bill", "none": "no bill or traces"}
        text = (
            f"{self.provider} {self.month}: committed {money_text(self.committed)} {self.currency}, "
            f"spent {money_text(self.spent)} ({spent.get(self.basis, self.basis)}), "
            f"drawn down {money_text(self.drawn_down)}, remaining {money_text(self.remaining)}"
        )
        if self.shortfall:
            text += f", shortfall {money_text(self.shortfall)}"
        if self.overage:
            text += f", overage {money_text(self.overage)}"
        return text


def status(
    source: Workspace | Lake | str | None,
    since: When = None,
    until: When = None,
    book: PriceBook | None = None,
    con: Any = None,
) -> list[CommitmentMonth]:
    """Every committed month of ``book``'s commitments (default: the workspace's prices) that
    overlaps ``[since, until)`` (default: the workspace's period; open ends run to the
    commitment's bounds and the last month the lake has spend of for its provider), in file
    order, then month. ``con``: a connection with the lake's views (`Workspace.connect`) to reuse;
    else one is opened with ``book``."""
    ws = workspace(source)
    book = book or ws.prices()
    commitments = book.commitments
    if not commitments:
        return []
    period = ws.period_of(since, until)
    lo = _month_start(period.since) if period.since is not None else None
    hi = next_month(_month_start(period.until - _TICK)) if period.until is not None else None
    params = {"since": _instant(lo), "until": _instant(hi)}
    from costlab.sql import load_sql

    sql = load_sql("commitment_spend")
    if con is None:
        if not ws.lake.exists():
            rows: list[tuple[Any, ...]] = []
        else:
            with ws.connect(prices=book, fast=True) as own:
                rows = own.execute(sql, params).fetchall()
    else:
        rows = con.execute(sql, params).fetchall()
    spend: dict[tuple[str, date, str], tuple[Any, ...]] = {}
    for provider, month, currency, billed, lines, traced, calls in rows:
        if isinstance(month, datetime):
            month = month.date()
        spend[(str(provider), month, str(currency))] = (billed, lines, traced, calls)
    out = []
    for c in commitments:
        for month in _months(c, lo, hi, [m for (p, m, _cur) in spend if p == c.provider]):
            billed, lines, traced, calls = spend.get((c.provider, month, c.currency), (None, 0, None, 0))
            if lines:
                spent, basis = Decimal(billed or 0), "bill"
            elif calls:
                spent, basis = Decimal(traced or 0), "traces"
            else:
                spent, basis = Decimal(0), "none"
            out.append(_month(c, month, spent, basis))
    return out


def _month(c: Commitment, month: date, spent: Decimal, basis: str) -> CommitmentMonth:
    committed = c.amount
    drawn = min(max(spent, Decimal(0)), committed)
    return CommitmentMonth(
        provider=c.provider,
        month=month.strftime("%Y-%m"),
        currency=c.currency,
        committed=committed,
        spent=spent,
        basis=basis,
        drawn_down=drawn,
        remaining=committed - drawn,
        shortfall=committed - spent if spent < committed else Decimal(0),
        overage=spent - committed if spent > committed else Decimal(0),
    )


_TICK = timedelta(microseconds=1)  # the last instant before ``until`` is in its last month


def _months(c: Commitment, lo: date | None, hi: date | None, seen: list[date]) -> list[date]:
    """The committed months of ``c`` in [lo, hi); an open end is bounded by the commitment's own
    bounds, else by the months the lake has spend in (``seen``)."""
    start = lo
    if c.valid_from is not None:
        first = c.valid_from.date()
        start = first if start is None or first > start else start
    if start is None:
        start = min(seen) if seen else None
    end = hi
    if c.valid_to is not None:
        stop = c.valid_to.date()
        end = stop if end is None or stop < end else end
    if end is None:
        end = next_month(max(seen)) if seen else None
    months: list[date] = []
    if start is None or end is None:
        return months
    month = start
    while month < end:
        if c.covers(month):
            months.append(month)
        month = next_month(month)
    return months


def _month_start(at: datetime) -> date:
    d = at.astimezone(UTC).date()
    return d.replace(day=1)




def _instant(d: date | None) -> datetime | None:
    return datetime.combine(d, time(0), UTC) if d is not None else None
