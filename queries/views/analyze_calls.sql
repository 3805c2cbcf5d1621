-- analyze_calls: the priced calls with the unit prices they were priced at, for the analyzers.
-- purpose: trimming, downgrade and batch need the price of each token part of a call (a trimmed
--          system-prompt token costs the cache-read price when it was read from cache), not just
--          the call's total. This view re-joins `calls` to the same `price_grid` cell the `calls`
--          view used (same tier, time, time of day and input band) and exposes the unit prices.
-- parameters: none (a view over `calls` and `price_grid`; analyzers filter $since/$until).
-- grain: one row per billable call with a computed USD cost (reported-only, unpriced and
--        non-USD calls are left out: unit prices are unknown for them; analyzers count them apart).
-- columns: the call's keys and tokens as in `calls` (NULL cache/reasoning parts as 0 in
--          read_tokens/write_tokens/write_1h_tokens/reasoning_tok), cost, and p_uncached,
--          p_cache_read, p_cache_write_5m, p_cache_write_1h, p_output, p_reasoning (per token).
--          No list or text columns: carrying them through the `calls` de-duplication costs more
--          than the rest of the view; `analyze_prompts` fetches them for the kept rows.
SELECT
    c.trace_id, c.span_id, c.workflow, c.step, c.session_id, c.user_id,
    c.start_time, c.provider, c.price_provider, c.price_model, c.price_tier,
    c.service_tier, c.input_tokens, c.output_tokens,
    coalesce(c.cache_read_tokens, 0) AS read_tokens,
    coalesce(c.cache_write_tokens,
             coalesce(c.cache_write_5m_tokens, 0) + coalesce(c.cache_write_1h_tokens, 0)) AS write_tokens,
    coalesce(c.cache_write_1h_tokens, 0) AS write_1h_tokens,
    coalesce(c.reasoning_tokens, 0) AS reasoning_tok,
    c.source_line,
    c.cost,
    g.p_uncached, g.p_cache_read, g.p_cache_write_5m, g.p_cache_write_1h, g.p_output, g.p_reasoning
FROM calls AS c
JOIN price_grid AS g
    ON g.price_provider = c.price_provider
   AND g.price_model = c.price_model
   AND g.price_tier = c.price_tier
   AND (g.valid_from IS NULL OR c.start_time >= g.valid_from)
   AND (g.valid_to IS NULL OR c.start_time < g.valid_to)
   AND (g.time_of_day_from IS NULL OR CAST(timezone('UTC', c.start_time) AS TIME) >= g.time_of_day_from)
   AND (g.time_of_day_to IS NULL OR CAST(timezone('UTC', c.start_time) AS TIME) < g.time_of_day_to)
   AND (g.input_tokens_above IS NULL OR c.input_tokens > g.input_tokens_above)
   AND (g.input_tokens_upto IS NULL OR c.input_tokens <= g.input_tokens_upto)
WHERE c.cost_source = 'computed' AND c.cost_currency = 'USD'
