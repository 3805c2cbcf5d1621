-- analyze_calls: the priced USD calls of `analyze_base`, for trimming, downgrade and batch.
-- purpose: those analyzers price each token part of a call (a trimmed system-prompt token costs the
--          cache-read price when it was read from cache), so they need calls with a computed USD
--          cost and the unit prices it was computed with.
-- parameters: none (a view over the materialized `analyze_base` table; the analyzer queries
--             filter the period).
-- grain: one row per billable call with a computed USD cost (reported-only, unpriced and
--        non-USD calls are left out: unit prices are unknown for them; analyzers count them apart).
-- columns: see views/analyze_base.sql (keys, tokens, read_tokens / write_tokens / write_1h_tokens /
--          reasoning_tok with NULL as 0, cost, p_uncached, p_cache_read, p_cache_write_5m,
--          p_cache_write_1h, p_output, p_reasoning per token).
SELECT
    row_key, trace_id, span_id, workflow, step, session_id, user_id,
    start_time, provider, price_provider, price_model, price_tier,
    service_tier, input_tokens, output_tokens,
    read_tokens, write_tokens, write_1h_tokens, reasoning_tok,
    source_line, cost,
    p_uncached, p_cache_read, p_cache_write_5m, p_cache_write_1h, p_output, p_reasoning
FROM analyze_base
WHERE cost_source = 'computed' AND cost_currency = 'USD' AND price_currency IS NOT NULL
