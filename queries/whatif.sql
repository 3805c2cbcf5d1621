-- What-if: the recorded calls re-priced under a change (another model, batch, a cache TTL, capped input).
-- purpose: before / after / difference of a change on real traffic, with the same price grid and
--   cost formula as every call (fragments/price_join, fragments/token_cost), for `costlab whatif`.
-- parameters: $since, $until TIMESTAMPTZ or NULL on start_time; $scope_workflow, $scope_step VARCHAR or NULL
--   (the calls changed; NULL = all); $to_provider, $to_model VARCHAR or NULL (the price_grid key of
--   the new model; NULL keeps each call's own); $to_tier VARCHAR or NULL (e.g. 'batch'; NULL keeps
--   the call's); $cache_ttl VARCHAR or NULL ('1h': cache writes priced as 1-hour writes, '5m' as
--   5-minute ones); $max_input BIGINT or NULL (input capped at this many tokens, uncached tokens cut
--   first).
-- grain: workflow, month (UTC, DATE of its first day), currency.
-- notes:
--   Calls outside the change keep their recorded cost on both sides. A changed call the new price
--     grid cannot price is counted in unpriced_after and left out of both sides (never costed at
--     zero), so before and after compare the same calls. Output tokens are kept as recorded: a
--     different model writes differently (the downgrade analyzer's tokenizer and verbosity bands).
WITH c AS (
    SELECT
        k.*,
        ($scope_workflow IS NULL OR k.workflow = $scope_workflow) AND ($scope_step IS NULL OR k.step = $scope_step) AS changed
    FROM calls_attributed AS k
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR k.start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR k.start_time < CAST($until AS TIMESTAMPTZ))
),
parts AS (
    SELECT
        c.workflow, c.start_time, c.changed, c.cost, c.cost_currency,
        CASE WHEN c.changed THEN coalesce(CAST($to_provider AS VARCHAR), c.price_provider) ELSE c.price_provider END AS price_provider,
        CASE WHEN c.changed THEN coalesce(CAST($to_model AS VARCHAR), c.price_model) ELSE c.price_model END AS price_model,
        CASE WHEN c.changed THEN coalesce(CAST($to_tier AS VARCHAR), c.price_tier, 'standard') ELSE c.price_tier END AS price_tier,
        least(c.input_tokens, coalesce(CAST($max_input AS BIGINT), c.input_tokens)) AS input_tokens,
        -- capped input: the uncached part is cut first, then cache reads
        least(coalesce(c.cache_read_tokens, 0),
              greatest(least(c.input_tokens, coalesce(CAST($max_input AS BIGINT), c.input_tokens))
                       - coalesce(c.cache_write_tokens, coalesce(c.cache_write_5m_tokens, 0) + coalesce(c.cache_write_1h_tokens, 0)), 0)) AS _read,
        coalesce(c.cache_write_tokens, coalesce(c.cache_write_5m_tokens, 0) + coalesce(c.cache_write_1h_tokens, 0)) AS _write,
        CASE CAST($cache_ttl AS VARCHAR)
            WHEN '1h' THEN coalesce(c.cache_write_tokens, coalesce(c.cache_write_5m_tokens, 0) + coalesce(c.cache_write_1h_tokens, 0))
            WHEN '5m' THEN 0
            ELSE coalesce(c.cache_write_1h_tokens, 0)
        END AS _write_1h,
        coalesce(c.reasoning_tokens, 0) AS _reasoning,
        coalesce(c.output_tokens, 0) AS _output
    FROM c
),
priced AS (
    SELECT
        p.*,
        CASE WHEN NOT p.changed THEN p.cost ELSE (
-- include: fragments/token_cost | requests = 1
        ) END AS after_cost,
        CASE WHEN p.changed THEN g.currency ELSE p.cost_currency END AS after_currency
    FROM parts AS p
    -- include: fragments/price_join | row = p | at = start_time | tokens = input_tokens
)
SELECT
    workflow,
    CAST(date_trunc('month', timezone('UTC', start_time)) AS DATE) AS month,
    cost_currency AS currency,
    count(*) FILTER (WHERE changed) AS calls_changed,
    count(*) FILTER (WHERE changed AND (after_cost IS NULL OR after_currency IS DISTINCT FROM cost_currency)) AS unpriced_after,
    CAST(sum(cost) FILTER (WHERE after_cost IS NOT NULL AND after_currency IS NOT DISTINCT FROM cost_currency) AS DECIMAL(38, 12)) AS before,
    CAST(sum(after_cost) FILTER (WHERE after_currency IS NOT DISTINCT FROM cost_currency) AS DECIMAL(38, 12)) AS after
FROM priced
WHERE cost IS NOT NULL
GROUP BY ALL
HAVING count(*) FILTER (WHERE changed) > 0
ORDER BY workflow, month, currency;
