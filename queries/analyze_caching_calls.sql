-- Calls for the caching analyzer: tokens, cache usage, cost and unit prices per call, with the
-- prompt's prefix-block hashes as 64-bit integers (DuckDB hash of each chained block hash).
-- purpose: input of costlab.analyze.caching (replay of provider prompt caches, response repeats).
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive)
-- grain: one row per billable LLM call (the calls view), ordered by start_time.
-- prices: the call's price_grid cell, joined exactly as queries/views/calls.sql does, so the
--   simulation prices a call with the same effective-dated cell its cost came from. NULL when
--   the call is unpriced (then only tokens are simulated).
-- cache_scope: calls can only share a provider cache within one provider and model; Mooncake
--   hash ids are remapped per trace file, so their scope also includes the trace id.
SELECT
    c.workflow,
    c.step,
    c.session_id,
    c.provider,
    c.model,
    coalesce(c.provider, '') || '|' || coalesce(c.model, '') || '|'
        || coalesce(CAST(c.prefix_block_tokens AS VARCHAR), '')
        || CASE WHEN c.source_format = 'mooncake_trace' THEN '|' || c.trace_id ELSE '' END
        AS cache_scope,
    c.start_time,
    c.input_tokens,
    c.output_tokens,
    c.cache_read_tokens,
    c.cache_write_tokens,
    c.cache_write_1h_tokens,
    c.cost,
    c.cost_currency,
    c.prompt_hash,
    c.prefix_block_tokens,
    list_transform(c.prefix_hashes, lambda x: hash(x)) AS prefix_hashes,
    g.currency AS price_currency,
    g.p_uncached,
    g.p_cache_read,
    g.p_cache_write_5m,
    g.p_cache_write_1h
FROM calls AS c
LEFT JOIN price_grid AS g
    ON g.price_provider = c.price_provider
   AND g.price_model = c.price_model
   AND g.price_tier = c.price_tier
   AND (g.valid_from IS NULL OR c.start_time >= g.valid_from)
   AND (g.valid_to IS NULL OR c.start_time < g.valid_to)
   AND (g.time_of_day_from IS NULL
        OR CAST(timezone('UTC', c.start_time) AS TIME) >= g.time_of_day_from)
   AND (g.time_of_day_to IS NULL
        OR CAST(timezone('UTC', c.start_time) AS TIME) < g.time_of_day_to)
   AND (g.input_tokens_above IS NULL OR c.input_tokens > g.input_tokens_above)
   AND (g.input_tokens_upto IS NULL OR c.input_tokens <= g.input_tokens_upto)
WHERE c.span_kind = 'llm'
  AND c.input_tokens IS NOT NULL
  AND (CAST($since AS TIMESTAMPTZ) IS NULL OR c.start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR c.start_time < CAST($until AS TIMESTAMPTZ))
ORDER BY c.start_time, c.workflow, c.step
