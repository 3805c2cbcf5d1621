-- call_groups: the lake's call_rollup rows priced as their calls would be, one row per group.
-- purpose: the report's calls when the rollups can answer (costlab/rollups.py decides): each row
--   stands for n_calls calls of one day that share every dimension and price_shape
--   (views/call_rollup.sql), so they meet the same price_grid cell and the same unpriced rules.
--   Joined at the group's first call (start_time) and largest input (max_input_tokens): real
--   values of its slot and band. Cost is linear in tokens within a cell, so the token sums times
--   the cell's prices, plus n_calls times the per-request fee, is exactly the sum of the calls'
--   costs (fragments/token_cost.sql, the formula views/calls.sql uses). A group the calls would
--   leave unpriced (price_shape bits 6-8, usage missing, provisioned) has input NULL here.
--   cost falls back to the reported cost as a call's does: a group either all reported
--   (price_shape bit 9) or none.
-- parameters: none (a view over call_rollup_rows, model_prices and price_grid).
-- grain: one row per day and group of calls.
WITH parts AS (
    SELECT
        d.* EXCLUDE (input_tokens),
        d.input_tokens AS _input_sum,
        CASE WHEN coalesce(d.usage_source, 'missing') = 'missing' OR (d.price_shape & 448) <> 0
             THEN NULL ELSE d.input_tokens END AS input_tokens,
-- include: fragments/price_tier
        coalesce(d.cache_read_tokens, 0) AS _read,
        coalesce(d.priced_write_tokens, 0) AS _write,
        coalesce(d.cache_write_1h_tokens, 0) AS _write_1h,
        coalesce(d.reasoning_tokens, 0) AS _reasoning,
        d.priced_output_tokens AS _output
    FROM call_rollup_rows AS d
    LEFT JOIN model_prices AS m
        ON m.provider IS NOT DISTINCT FROM d.provider AND m.model = d.model
),
priced AS (
    SELECT
        p.*,
        g.currency AS _price_currency,
        g.source AS _source,
        CASE WHEN p.input_tokens IS NULL THEN NULL ELSE (
-- include: fragments/token_cost | requests = p.n_calls
        ) END AS computed_cost
    FROM parts AS p
    -- include: fragments/price_join | row = p | at = start_time | tokens = max_input_tokens
)
SELECT
    * EXCLUDE (input_tokens, _input_sum, _read, _write, _write_1h, _reasoning, _output, _price_currency, _source),
    _input_sum AS input_tokens,
    CASE WHEN computed_cost IS NOT NULL THEN _source END AS price_source,
-- include: fragments/cost_precedence | source = _source
FROM priced
