-- Calls for the caching analyzer: tokens, cache usage, cost and unit prices per call, in time order.
-- purpose: input of costlab.analyze.caching (replay of provider prompt caches, response repeats).
--          rid (the call's number in row_key order, 1..n; row_key is unique per call) lets
--          analyze/caching_hashes.sql's rows, numbered the same way, be matched to these by a
--          gather instead of a join. A window rather than DuckDB's rowid, which no other engine
--          has (the queries also run on Spark); it costs about 1 s of CPU per 1M calls. The
--          analyzer numbers the calls in time order itself (idx).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive)
-- grain: one row per billable LLM call with input tokens (the materialized `analyze_base`), in
--        replay order: start_time, then workflow and step ('(none)' for NULL), then rk =
--        hash(row_key), which breaks ties deterministically. Sorted here, where the sort spills
--        under the analyzers' memory cap: sorting the frame in polars held a second copy of it
--        (7 GB more at 10M calls).
-- notes:
--   prices: the call's price_grid cell (analyze_base joins it exactly as queries/views/calls.sql
--     does), so the simulation prices a call with the same effective-dated cell its cost came from.
--     NULL when the call is unpriced (then only tokens are simulated).
--   cache_reported: the cache-read count is known for this call. A NULL cache_read_tokens means 0
--     when other calls of the same provider and source format report reads (exporters such as the
--     OTel GenAI instrumentations omit a zero attribute), and "not logged" otherwise.
--   cache_scope: calls can only share a provider cache within one provider and model; Mooncake
--     hash ids are remapped per trace file, so their scope also includes the trace id. As a 64-bit
--     hash (scope_key), like prompt_hash (prompt_key): the analyzer only compares them, and numbers
--     convert to polars far faster than strings.
SELECT
    row_number() OVER (ORDER BY c.row_key) AS rid,
    hash(c.row_key) AS rk,
    c.workflow,
    c.step,
    c.session_id,
    c.provider,
    c.model,
    hash(coalesce(c.provider, '') || '|' || coalesce(c.model, '') || '|'
         || coalesce(CAST(c.prefix_block_tokens AS VARCHAR), '')
         || CASE WHEN c.source_format = 'mooncake_trace' THEN '|' || c.trace_id ELSE '' END)
        AS scope_key,
    c.start_time,
    c.input_tokens,
    c.output_tokens,
    c.cache_read_tokens,
    c.cache_read_tokens IS NOT NULL
        OR bool_or(c.cache_read_tokens IS NOT NULL)
           OVER (PARTITION BY c.provider, c.source_format) AS cache_reported,
    c.write_tokens AS cache_write_tokens,
    c.write_1h_tokens AS cache_write_1h_tokens,
    c.cost,
    c.cost_currency,
    CASE WHEN c.prompt_hash IS NOT NULL THEN hash(c.prompt_hash) END AS prompt_key,
    c.prefix_block_tokens,
    c.price_currency,
    c.p_uncached,
    c.p_cache_read,
    c.p_cache_write_5m,
    c.p_cache_write_1h
FROM analyze_base AS c
WHERE c.span_kind = 'llm'
  AND c.input_tokens IS NOT NULL
  AND (CAST($since AS TIMESTAMPTZ) IS NULL OR c.start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR c.start_time < CAST($until AS TIMESTAMPTZ))
ORDER BY c.start_time NULLS FIRST, coalesce(c.workflow, '(none)'), coalesce(c.step, '(none)'), rk
