-- usage_priced: provider-side token usage (the `usage` table) priced with the prices valid when it
-- purpose: every `usage` row with cost, cost_currency and cost_source ('computed' or 'unpriced';
--          usage carries no money of its own, so there is no 'reported').
-- parameters: none (a view over `usage`, `model_prices` and `price_grid`; see costlab/pricing.py).
-- grain: one row per `usage` row (a provider's bucket: hour or day, per model / project / key / tier).
-- notes:
--            happened, so a bill can be checked against "what this usage should have cost".
--   The cost formula is queries/fragments/token_cost.sql, included in views/calls.sql too
--     (tests/test_reconciliation.py::test_usage_priced_equals_calls_for_same_tokens):
--       uncached input = input_tokens - cache_read - cache_write       x p_uncached
--       cache read                                                      x p_cache_read
--       cache write 1h = cache_write_1h_tokens                          x p_cache_write_1h
--       cache write 5m = cache_write - 1h (a write without a split is 5m) x p_cache_write_5m
--       output - reasoning                                              x p_output
--       reasoning (only priced apart when the model has a reasoning price) x p_reasoning
--       + p_request (per-request fee, usually 0), here once per bucket row: usage rows are
--         aggregates and genai-prices 0.2.3 has no per-request token-model fee, so this is 0.
--     Price time: period_start, the bucket's start (buckets are 1h or 1d): a price change inside a
--     bucket prices the whole bucket at the earlier price, and a time-of-day price (DeepSeek
--     off-peak) is the one at period_start, so a daily bucket gets the 00:00 UTC price.
--     Long-context tiers: a bucket's summed input says nothing about its requests (a day of small
--     calls is not one long call), so buckets price in the base band, except those the provider
--     marks as long-context usage (Anthropic: attributes['context_window'] = '200k-1M'), which
--     price at the tier rate.
--     Service tier: batch = TRUE or service_tier 'batch' prices as batch, 'fast' speed
--     (attributes['speed']) as fast, else the row's service_tier when the price model has it,
--     else standard; 'provisioned' is not token-priced.
--     cost is NULL (unpriced) when: no model or no matching price, no input or output count
--     (an embeddings/moderations bucket's NULL output counts as 0), a part with tokens has no
--     price, or the parts are inconsistent (cache tokens exceeding input, reasoning exceeding output).
--     Non-token usage (images, audio seconds, vector storage, tool calls) is listed unpriced.
WITH parts AS (
    SELECT
        u.*,
        m.price_provider,
        m.price_model,
        CASE WHEN u.batch THEN 'batch' ELSE u.service_tier END AS _tier,
        coalesce(u.cache_read_tokens, 0) AS _read,
        coalesce(u.cache_write_tokens,
                 coalesce(u.cache_write_5m_tokens, 0) + coalesce(u.cache_write_1h_tokens, 0)) AS _write,
        coalesce(u.cache_write_1h_tokens, 0) AS _write_1h,
        coalesce(u.reasoning_tokens, 0) AS _reasoning,
        -- embeddings and moderations have no output: NULL output tokens there mean zero
        CASE WHEN u.usage_kind IN ('embeddings', 'moderations') THEN coalesce(u.output_tokens, 0)
             ELSE u.output_tokens END AS _output,
        m.price_tiers AS _price_tiers,
        -- the long-context band is chosen per request, not on a bucket's summed input: a bucket
        -- is priced in the base band unless the provider marks it as long-context usage
        CASE WHEN u.attributes['context_window'] IS NOT NULL
                  AND u.attributes['context_window'] NOT IN ('0-200k', '')
             THEN CAST(9223372036854775807 AS BIGINT) ELSE 0 END AS _band_tokens
    FROM usage AS u
    LEFT JOIN model_prices AS m
        ON m.provider IS NOT DISTINCT FROM u.provider AND m.model = u.model
),
tiered AS (
    SELECT
        p.*,
        CASE
            WHEN p.price_model IS NULL OR p._tier = 'provisioned' THEN NULL
            WHEN p.attributes['speed'] = 'fast' AND list_contains(p._price_tiers, 'fast') THEN 'fast'
            WHEN list_contains(p._price_tiers, p._tier) THEN p._tier
            ELSE 'standard'
        END AS price_tier
    FROM parts AS p
),
priced AS (
    SELECT
        p.*,
        g.currency AS _price_currency,
        g.source AS _price_source,
        (
-- include: fragments/token_cost | requests = 1
        ) AS cost
    FROM tiered AS p
    -- include: fragments/price_join | row = p | at = period_start | tokens = _band_tokens
)
SELECT
    * EXCLUDE (_tier, _read, _write, _write_1h, _reasoning, _output, _price_tiers, _band_tokens,
               _price_currency, _price_source, cost),
    CASE WHEN cost IS NOT NULL THEN _price_source END AS price_source,
    cost,
    CASE WHEN cost IS NOT NULL THEN _price_currency END AS cost_currency,
    CASE WHEN cost IS NOT NULL THEN 'computed' ELSE 'unpriced' END AS cost_source
FROM priced
