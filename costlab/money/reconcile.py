"""Reconciliation: the bill vs provider usage priced vs traced calls priced, per provider and model.

A team trusts its traces for cost attribution only if they explain the bill. ``reconcile`` runs
``queries/reconciliation.sql`` (``grain='day'``) or ``queries/reconciliation_summary.sql``
(``grain='summary'``, with a verdict) over a lake; the keys, the model-name matching, the day a
charge is assigned to and the double-count rule are documented in those files and in
``queries/views/charges_llm.sql`` / ``reconciliation_facts.sql``.

>>> reconcile("~/costlab-lake", since="2025-08-01", until="2025-09-01", grain="summary")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from costlab.errors import CostlabError
from costlab.periods import When
from costlab.workspace import Workspace, workspace

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
    lake: Workspace | Lake | str | None,
    since: When = None,
    until: When = None,
    grain: Grain = "day",
    prices: PriceBook | None = None,
    currency: str | None = None,
    rates: str | os.PathLike[str] | None = None,
) -> pl.DataFrame:
    """Billed vs usage-priced vs traced money over ``[since, until)`` (UTC), per day or summed.

    ``lake``: a `Workspace` (its period when ``since``/``until`` are not given), a `Lake` or a
    folder. ``since``/``until``: read by `costlab.periods.as_instant` (a datetime, naive means
    UTC; a date; ``2025-08-01``, ``yesterday``, ``7d``). ``prices``: the price book for usage and
    calls (default: genai-prices plus the configured overrides). Money columns are exact
    ``Decimal``; ``coverage`` is traced / billed. ``currency`` with ``rates`` (a rates file,
    `costlab.money.currency`): every amount converted with its own day's rate; amounts without
    one stay in their currency, on rows of their own.
    """
    from costlab.sql import load_sql

    if grain not in QUERIES:
        raise CostlabError(f"reconcile grain {grain!r}: use one of {', '.join(QUERIES)}")
    ws = workspace(lake)
    period = ws.period_of(since, until)
    with ws.connect(prices=prices, engine="duckdb") as con:
        if currency:
            from costlab.money.currency import Rates, check_currency, convert_views

            if rates is None:
                raise CostlabError(f"--currency {currency} needs a rates file: --rates FILE or [currency] rates")
            convert_views(con, Rates.load(rates), check_currency(currency), "calls")
        return con.sql(load_sql(QUERIES[grain]), params=period.params()).pl()
