-- Money drawn against monthly commitments: billed and traced LLM cost per provider, month, currency.
-- purpose: what a [[commitment]] of the price overrides file is drawn down by
--   (costlab.money.commitments.status): the provider's LLM usage on the bill (charges_llm), and
--   the priced traced calls, the fallback for a month the lake has no bill of.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on
--   charge_period_start and the calls' start_time (pass month bounds: a commitment is per month).
-- grain: one row per provider, month, currency.
-- columns: billed (sum of billed_cost of the counted Usage lines), bill_lines, traced (sum of
--   the calls' cost), traced_calls.
-- notes:
--   Bill: charges_llm (the bill's LLM token lines under the provider names calls carry), counted
--     rows only (one billing source per overlapping pair: views/charges_llm.sql), charge_category
--     'Usage' (a credit, refund or purchase line does not draw a commitment down).
--   Traces: calls with a cost (computed at the prices in force, volume tiers included, or the
--     reported cost), in their cost currency. Months are UTC calendar months.
WITH billed AS (
    SELECT
        provider,
        CAST(date_trunc('month', timezone('UTC', charge_period_start)) AS DATE) AS month,
        billing_currency AS currency,
        sum(billed_cost) AS billed,
        count(*) AS bill_lines
    FROM charges_llm
    WHERE counted
      AND charge_category = 'Usage'
      AND provider IS NOT NULL
      AND billing_currency IS NOT NULL
      AND
-- include: fragments/in_period | at = charge_period_start
    GROUP BY 1, 2, 3
),
traced AS (
    SELECT
        provider,
        CAST(date_trunc('month', timezone('UTC', start_time)) AS DATE) AS month,
        cost_currency AS currency,
        sum(cost) AS traced,
        CAST(sum(n_calls) AS BIGINT) AS traced_calls  -- a report's calls can be rollup groups
    FROM calls
    WHERE cost IS NOT NULL
      AND provider IS NOT NULL
      AND cost_currency IS NOT NULL
      AND
-- include: fragments/in_period | at = start_time
    GROUP BY 1, 2, 3
)
SELECT
    coalesce(b.provider, t.provider) AS provider,
    coalesce(b.month, t.month) AS month,
    coalesce(b.currency, t.currency) AS currency,
    b.billed,
    coalesce(b.bill_lines, 0) AS bill_lines,
    t.traced,
    coalesce(t.traced_calls, 0) AS traced_calls
FROM billed AS b
FULL OUTER JOIN traced AS t
    ON t.provider = b.provider AND t.month = b.month AND t.currency = b.currency
ORDER BY provider, month, currency
