"""Reconciliation: the bill vs provider usage priced vs traced calls priced, per provider and model.

A team trusts its traces for cost attribution only if they explain the bill. ``reconcile`` runs
``queries/reconciliation.sql`` (``grain='day'``) or ``queries/reconciliation_summary.sql``
(``grain='summary'``, with a verdict) over a lake; the keys, the model-name matching, the day a
charge is assigned to and the double-count rule are documented in those files and in
``queries/views/charges_llm.sql`` / ``reconciliation_facts.sql``.

>>> from costlab.lake import Lake                                          # doctest: +SKIP
>>> reconcile(Lake("~/costlab-lake"), since="2025-08-01", until="2025-09-01", grain="summary")
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import polars as pl

    from costlab.lake import Lake
    from costlab.pricing import PriceBook

Grain = Literal["day", "summary"]
QUERIES: dict[str, str] = {"day": "reconciliation", "summary": "reconciliation_summary"}


#: The documented reconciliation columns (report section, `costlab reconcile` table); the named
#: queries carry more (credits, exclusions, grain), kept in JSON/CSV from `reconcile`.
CORE_COLUMNS = (
    "provider", "model", "currency", "billed", "usage_priced", "traced", "coverage", "gap",
    "verdict", "traced_calls", "unpriced_calls", "billing_source",
)


def reconcile(
    lake: Lake,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    grain: Grain = "day",
    prices: PriceBook | None = None,
) -> pl.DataFrame:
    """Billed vs usage-priced vs traced money over ``[since, until)`` (UTC), per day or summed.

    ``since``/``until``: a datetime (naive means UTC), a date (its UTC midnight) or text that
    `costlab.periods.parse_date` reads (``2025-08-01``, ``yesterday``, ``7d``). ``prices``: the
    price book for usage and calls (default: genai-prices plus the configured overrides).
    Money columns are exact ``Decimal``; ``coverage`` is traced / billed.
    """
    from costlab.sql import load_sql

    if grain not in QUERIES:
        raise CostlabError(f"reconcile grain {grain!r}: use one of {', '.join(QUERIES)}")
    lo, hi = _moment(since, "since"), _moment(until, "until")
    if lo is not None and hi is not None and lo >= hi:
        raise CostlabError(f"reconcile: since {lo.isoformat()} is not before until {hi.isoformat()}")
    with lake.connect(prices=prices) as con:
        return con.sql(load_sql(QUERIES[grain]), params={"since": lo, "until": hi}).pl()


def _moment(value: str | date | datetime | None, name: str) -> datetime | None:
    from datetime import UTC

    from costlab.periods import parse_date

    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return parse_date(value)
    raise CostlabError(f"reconcile {name}: expected a date, got {value!r}")
