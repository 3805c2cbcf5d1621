-- call_rollup: the billable calls summed per day and group, ready to be priced as the calls would be.
-- purpose: what ingest stores as the lake's call_rollup table (costlab/rollups.py) for the days a
--   run touched. One row per UTC day and group: the dimensions reports read (docs/schema.md,
--   call_rollup) and price_shape, which holds everything that decides a call's price cell and
--   whether it can be priced, so every call of a row prices alike and the row's sums price exactly
--   (cost is linear in tokens within a cell: queries/views/call_groups.sql):
--     bits 0-5: which token parts are non-zero (uncached input, cache read, 5m write, 1h write,
--       output less reasoning, reasoning): a part of 0 tokens adds an exact 0 even without a price;
--     bit 6 input unknown, bit 7 output unknown (an embedding's unknown output is 0), bit 8 a part
--       larger than its total (never priced), bit 9 a reported cost (the fallback when unpriced);
--     bits 16-31: the input band: how many of $bands (every input_tokens_above/upto of the prices
--       the rollup was built for) the call's input exceeds;
--     bits 32-47: the time-of-day slot: how many of $cuts (every time of day at which a price
--       starts or ends, validity windows included) the call's UTC time of day has reached.
--   tags keeps only the entries attribution and pricing read ($tag_keys compared lower-case, and
--   'speed'); repo and branch are the calls' own, else from the cwd and git_branch tags, as
--   views/calls.sql does. Token sums keep NULL when every call's count is NULL.
-- parameters: $bands BIGINT[], $cuts TIME[], $tag_keys VARCHAR[] (lower-case), all sorted.
-- grain: one row per UTC day and group of calls.
WITH f AS (
    SELECT
        *,
        CAST(timezone('UTC', start_time) AS DATE) AS _day,
        coalesce(cache_read_tokens, 0) AS _read,
        coalesce(cache_write_tokens,
                 coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0)) AS _write,
        coalesce(cache_write_1h_tokens, 0) AS _write_1h,
        coalesce(reasoning_tokens, 0) AS _reasoning,
        CASE WHEN span_kind = 'embedding' THEN coalesce(output_tokens, 0) ELSE output_tokens END AS _output
    FROM call_facts
),
shaped AS (
    SELECT
        *,
        CAST(
              CASE WHEN coalesce(input_tokens, 0) - _read - _write <> 0 THEN 1 ELSE 0 END
            + CASE WHEN _read <> 0 THEN 2 ELSE 0 END
            + CASE WHEN _write - _write_1h <> 0 THEN 4 ELSE 0 END
            + CASE WHEN _write_1h <> 0 THEN 8 ELSE 0 END
            + CASE WHEN coalesce(_output, 0) - _reasoning <> 0 THEN 16 ELSE 0 END
            + CASE WHEN _reasoning <> 0 THEN 32 ELSE 0 END
            + CASE WHEN input_tokens IS NULL THEN 64 ELSE 0 END
            + CASE WHEN _output IS NULL THEN 128 ELSE 0 END
            + CASE WHEN input_tokens - _read - _write < 0 OR _write - _write_1h < 0
                     OR _output - _reasoning < 0 THEN 256 ELSE 0 END
            + CASE WHEN reported_cost IS NOT NULL THEN 512 ELSE 0 END
            + 65536 * len(list_filter(CAST($bands AS BIGINT[]), lambda b: coalesce(input_tokens, 0) > b))
            + 4294967296 * len(list_filter(CAST($cuts AS TIME[]),
                                           lambda t: CAST(timezone('UTC', start_time) AS TIME) >= t))
        AS BIGINT) AS _shape,
-- include: fragments/call_scope
    FROM f
)
SELECT
    min(start_time) AS start_time,
    max(start_time) AS last_start_time,
    workflow, step, user_id, span_kind, provider, model, model_raw, service_tier, usage_source,
    reported_cost_currency, source_format,
    _tags AS tags,
    _repo AS repo,
    _branch AS branch,
    _shape AS price_shape,
    count(*) AS n_calls,
    count(*) FILTER (WHERE trace_id IS NULL) AS n_untraced,
    sum(CAST(input_tokens AS DECIMAL(38, 0))) AS input_tokens,
    sum(CAST(cache_read_tokens AS DECIMAL(38, 0))) AS cache_read_tokens,
    sum(CAST(cache_write_tokens AS DECIMAL(38, 0))) AS cache_write_tokens,
    sum(CAST(cache_write_5m_tokens AS DECIMAL(38, 0))) AS cache_write_5m_tokens,
    sum(CAST(cache_write_1h_tokens AS DECIMAL(38, 0))) AS cache_write_1h_tokens,
    sum(CAST(output_tokens AS DECIMAL(38, 0))) AS output_tokens,
    sum(CAST(reasoning_tokens AS DECIMAL(38, 0))) AS reasoning_tokens,
    max(input_tokens) AS max_input_tokens,
    sum(CAST(_write AS DECIMAL(38, 0))) AS priced_write_tokens,
    sum(CAST(_output AS DECIMAL(38, 0))) AS priced_output_tokens,
    sum(reported_cost) AS reported_cost,
    count(reported_cost) AS n_reported,
    _day AS day
FROM shaped
GROUP BY ALL
