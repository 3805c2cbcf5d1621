-- Reconciliation by day: the bill (charges) vs provider usage priced (usage x prices) vs traced
-- calls priced (calls), per provider and model, so a team sees whether its traces explain its bill.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive); each
--         source is filtered on its own time: charge_period_start, usage period_start, call start_time.
-- grain: day (UTC), provider, model (reconciliation key), currency. A (day, provider, model) seen
--        in any of the three sources appears (full outer join over reconciliation_facts).
-- Keys, model names, day assignment and double-count handling: queries/views/reconciliation_facts.sql
-- and queries/views/charges_llm.sql.
-- Columns:
--   billed               sum of billed_cost of the counted LLM token charges in charge_category
--                        'Usage' (the traffic; NULL = no bill line)
--   credits              the counted token charges in other categories (Credit, Adjustment,
--                        Tax, Purchase), kept apart so a promotional credit does not read as
--                        untraced spend; NULL when none
--   billed_excluded      token charges NOT counted because a preferred billing source holds
--                        the same bill (double counting); NULL when none
--   billing_source       the billing source(s) counted; superseded_sources the ones left out
--   bill_grain           'hour', 'day' or 'multi-day' (longest charge period of the row): on a
--                        'multi-day' row the whole period's bill sits on its first day, so
--                        coverage that day means nothing; use the summary over whole months
--   usage_priced         sum of usage_priced.cost (token usage buckets); usage_unpriced_rows the
--                        buckets that could not be priced
--   traced / traced_calls  sum and count of calls costed in this currency; unpriced_calls the
--                        calls without a cost (listed, never costed at zero)
--   coverage             traced / billed, a ratio rounded to DECIMAL(18,6) (DuckDB divides
--                        decimals in DOUBLE; the money columns stay exact); NULL when billed is
--                        NULL or 0, or when every traced call is unpriced; 0 when nothing was
--                        traced. Unpriced calls make it a lower bound.
--   usage_coverage       usage_priced / billed: near 1 means the price list matches the bill,
--                        so a low coverage is missing traces, not wrong prices
--   gap                  billed - traced (money; NULL when billed is NULL; equals billed when
--                        nothing was traced; NULL when every traced call is unpriced)
-- Unpriced usage buckets and calls have no currency: their counts sit on the (day, provider,
-- model)'s first currency row (alphabetically), or on a row with currency NULL when there is none.
WITH f AS (
    SELECT *
    FROM reconciliation_facts
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR starts_at >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR starts_at < CAST($until AS TIMESTAMPTZ))
),
priced AS (
    SELECT
        day, provider, model, currency,
        sum(amount) FILTER (WHERE kind = 'billed' AND counted AND charge_category = 'Usage') AS billed,
        sum(amount) FILTER (WHERE kind = 'billed' AND counted
                            AND charge_category IS DISTINCT FROM 'Usage') AS credits,
        sum(amount) FILTER (WHERE kind = 'billed' AND NOT counted) AS billed_excluded,
        string_agg(DISTINCT billing_source, ', ' ORDER BY billing_source)
            FILTER (WHERE kind = 'billed' AND counted) AS billing_source,
        string_agg(DISTINCT billing_source, ', ' ORDER BY billing_source)
            FILTER (WHERE kind = 'billed' AND NOT counted) AS superseded_sources,
        max(bill_period_hours) FILTER (WHERE kind = 'billed' AND counted) AS _bill_hours,
        sum(amount) FILTER (WHERE kind = 'usage') AS usage_priced,
        sum(amount) FILTER (WHERE kind = 'traced') AS traced,
        count(*) FILTER (WHERE kind = 'traced') AS traced_calls
    FROM f
    WHERE amount IS NOT NULL
    GROUP BY ALL
),
unpriced AS (
    SELECT
        day, provider, model,
        count(*) FILTER (WHERE kind = 'usage') AS usage_unpriced_rows,
        count(*) FILTER (WHERE kind = 'traced') AS unpriced_calls
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
tidy AS (
    SELECT
        * EXCLUDE (_bill_hours, _usage_unpriced, _unpriced_calls, _nth, traced_calls),
        coalesce(traced_calls, 0) AS traced_calls,
        CASE WHEN _nth = 1 THEN coalesce(_unpriced_calls, 0) ELSE 0 END AS unpriced_calls,
        CASE WHEN _nth = 1 THEN coalesce(_usage_unpriced, 0) ELSE 0 END AS usage_unpriced_rows,
        CASE WHEN _bill_hours IS NULL THEN NULL
             WHEN _bill_hours <= 1 THEN 'hour'
             WHEN _bill_hours <= 24 THEN 'day'
             ELSE 'multi-day' END AS bill_grain
    FROM joined
)
SELECT
    day,
    provider,
    model,
    currency,
    billed,
    usage_priced,
    traced,
    CASE WHEN billed IS NULL OR billed = 0 THEN NULL
         WHEN traced IS NULL AND unpriced_calls > 0 THEN NULL
         ELSE CAST(CAST(coalesce(traced, 0) AS DOUBLE) / CAST(billed AS DOUBLE) AS DECIMAL(18, 6))
    END AS coverage,
    CASE WHEN traced IS NULL AND unpriced_calls > 0 THEN NULL
         ELSE billed - coalesce(traced, 0) END AS gap,
    traced_calls,
    unpriced_calls,
    usage_unpriced_rows,
    CASE WHEN billed IS NULL OR billed = 0 OR usage_priced IS NULL THEN NULL
         ELSE CAST(CAST(usage_priced AS DOUBLE) / CAST(billed AS DOUBLE) AS DECIMAL(18, 6))
    END AS usage_coverage,
    credits,
    billed_excluded,
    billing_source,
    superseded_sources,
    bill_grain
FROM tidy
ORDER BY day, provider NULLS LAST, model NULLS LAST, currency NULLS LAST;
