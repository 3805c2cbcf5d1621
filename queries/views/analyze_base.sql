-- analyze_base: every billable LLM/embedding call with the unit prices of its price cell, scalar
-- purpose: building the priced, de-duplicated `calls` view is most of an analyzer's cost on a large
--          lake (~3-4 s CPU per 1M calls); doing it once instead of four times is what keeps
--          `costlab analyze all` inside its budget. The call is re-joined to the same `price_grid`
--          cell the `calls` view priced it with (same tier, time, time of day and input band), so
--          an analyzer can price each token part on its own (a trimmed token that was read from
--          cache saves only the cache-read price). LEFT JOIN: unpriced calls stay (their unit
--          prices are NULL), because the caching analyzer still simulates their tokens.
-- parameters: none (a view over `calls` and `price_grid`; the analyzer queries filter the period).
-- grain: one row per billable call (the `calls` view).
-- columns: the call's keys, times, status and tokens as in `calls`; the raw (nullable) cache columns and, NULL as
--          0, read_tokens / write_tokens (5m + 1h when only the split is logged) / write_1h_tokens /
--          reasoning_tok; cost, cost_currency, cost_source; the cell's currency (price_currency)
--          and unit prices per token. No list or text columns: carrying them through the `calls`
--          de-duplication costs more than the rest; they are fetched by row_key for kept rows
--          (views/analyze_prompts.sql, analyze/caching_hashes.sql).
-- notes:
--                 columns only. Materialized once per process and lake version by
--                 costlab.analyze.stats.connect() and shared by all four analyzers.
SELECT
    c.row_key, c.trace_id, c.span_id, c.source_line, c.source_format, c.span_kind,
    c.workflow, c.step, c.session_id, c.user_id, c.start_time, c.end_time, c.status,
    c.provider, c.model, c.price_provider, c.price_model, c.price_tier, c.service_tier,
    c.input_tokens, c.output_tokens,
    c.cache_read_tokens, c.cache_write_tokens, c.cache_write_1h_tokens,
    coalesce(c.cache_read_tokens, 0) AS read_tokens,
    coalesce(c.cache_write_tokens,
             coalesce(c.cache_write_5m_tokens, 0) + coalesce(c.cache_write_1h_tokens, 0)) AS write_tokens,
    coalesce(c.cache_write_1h_tokens, 0) AS write_1h_tokens,
    coalesce(c.reasoning_tokens, 0) AS reasoning_tok,
    c.prompt_hash, c.prefix_block_tokens,
    c.cost, c.cost_currency, c.cost_source,
    g.currency AS price_currency,
    g.p_uncached, g.p_cache_read, g.p_cache_write_5m, g.p_cache_write_1h, g.p_output, g.p_reasoning
FROM calls AS c
-- include: fragments/price_join | row = c | at = start_time | tokens = input_tokens
