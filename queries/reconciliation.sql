-- Reconciliation by day: the bill vs provider usage priced vs traced calls priced.
-- purpose: per day, provider and model, whether the traces explain the bill: the bill (charges)
--   vs provider usage priced (usage x prices) vs traced calls priced (calls).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive); each
--         source is filtered on its own time: charge_period_start, usage period_start, call start_time.
-- grain: day (UTC), provider, model (reconciliation key), currency. A (day, provider, model) seen
--        in any of the three sources appears (full outer join over reconciliation_facts).
-- notes:
--   Keys, model names, day assignment and double-count handling: queries/views/reconciliation_facts.sql
--   and queries/views/charges_llm.sql.
--   Columns:
--     billed               sum of billed_cost of the counted LLM token charges in charge_category
--                          'Usage' (the traffic; NULL = no bill line)
--     credits              the counted token charges in other categories (Credit, Adjustment,
--                          Tax, Purchase), kept apart so a promotional credit does not read as
--                          untraced spend; NULL when none
--     billed_excluded      token charges NOT counted because a preferred billing source holds
--                          the same bill (double counting); NULL when none
--     billing_source       the billing source(s) counted; superseded_sources the ones left out
--     bill_grain           'hour', 'day' or 'multi-day' (longest charge period of the row): on a
--                          'multi-day' row the whole period's bill sits on its first day, so
--                          coverage that day means nothing; use the summary over whole months
--     usage_priced         sum of usage_priced.cost (token usage buckets); usage_unpriced_rows the
--                          buckets that could not be priced
--     traced / traced_calls  sum and count of calls costed in this currency; unpriced_calls the
--                          calls without a cost (listed, never costed at zero)
--     coverage             traced / billed, a ratio rounded to DECIMAL(18,6) (DuckDB divides
--                          decimals in DOUBLE; the money columns stay exact); NULL when billed is
--                          NULL or 0, or when every traced call is unpriced; 0 when nothing was
--                          traced. Unpriced calls make it a lower bound.
--     usage_coverage       usage_priced / billed: near 1 means the price list matches the bill,
--                          so a low coverage is missing traces, not wrong prices
--     gap                  billed - traced (money; NULL when billed is NULL; equals billed when
--                          nothing was traced; NULL when every traced call is unpriced)
--   Unpriced usage buckets and calls have no currency: their counts sit on the (day, provider,
--   model)'s first currency row (alphabetically), or on a row with currency NULL when there is none.
WITH f AS (
    SELECT *
    FROM reconciliation_facts
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR starts_at >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR starts_at < CAST($until AS TIMESTAMPTZ))
),
priced AS (
    SELECT
        day, provider, model, currency,
-- include: fragments/reconciliation_amounts
    FROM f
    WHERE amount IS NOT NULL
    GROUP BY ALL
),
unpriced AS (
    SELECT
        day, provider, model,
        count(*) FILTER (WHERE kind = 'usage') AS usage_unpriced_rows,
        CAST(coalesce(sum(n_calls) FILTER (WHERE kind = 'traced'), 0) AS BIGINT) AS unpriced_calls
    FROM f
    WHERE amount IS NULL AND kind IN ('usage', 'traced')
    GROUP BY ALL
),
joined AS (
    SELECT
        coalesce(p.day, u.day) AS day,
        coalesce(p.provider, u.provider) AS provider,
        coalesce(p.model, u.model) AS model,
        p.* EXCLUDE (day, provider, model),
        u.usage_unpriced_rows AS _usage_unpriced,
        u.unpriced_calls AS _unpriced_calls,
        row_number() OVER (
            PARTITION BY coalesce(p.day, u.day), coalesce(p.provider, u.provider),
                         coalesce(p.model, u.model)
            ORDER BY p.currency NULLS LAST) AS _nth
    FROM priced AS p
    FULL OUTER JOIN unpriced AS u
      ON p.day = u.day
     AND p.provider IS NOT DISTINCT FROM u.provider
     AND p.model IS NOT DISTINCT FROM u.model
),
-- include: fragments/reconciliation_measures
SELECT
    day,
    provider,
    model,
    currency,
    billed,
    usage_priced,
    traced,
    coverage,
    gap,
    traced_calls,
    unpriced_calls,
    usage_unpriced_rows,
    usage_coverage,
    credits,
    billed_excluded,
    billing_source,
    superseded_sources,
    bill_grain
FROM measured
ORDER BY day, provider NULLS LAST, model NULLS LAST, currency NULLS LAST;
