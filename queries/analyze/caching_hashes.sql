-- Prefix-block hashes of the caching analyzer's calls, as 64-bit cache keys.
-- purpose: the replay's input (costlab.analyze.replay): block i of a call is key_i =
--          hash(scope, prefix_hashes[i]) (DuckDB's 64-bit hash), so equal keys mean the same
--          chained prefix within one provider cache (scope as in analyze/caching_calls.sql).
--          Fetched from `analyze_spans` by row_key for the rows of the materialized `analyze_base` table
--          instead of being carried through the `calls` de-duplication.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive): the same
--         filter as analyze/caching_calls.sql.
-- grain: one row per call with at least one prefix hash, in no particular order; rid = the call's
--        number in row_key order among the filtered calls, as in analyze/caching_calls.sql;
--        key = list of UBIGINT in prefix order.
WITH c AS (
    SELECT
        row_number() OVER (ORDER BY row_key) AS rid, row_key,
        coalesce(provider, '') || '|' || coalesce(model, '') || '|'
            || coalesce(CAST(prefix_block_tokens AS VARCHAR), '')
            || CASE WHEN source_format = 'mooncake_trace' THEN '|' || trace_id ELSE '' END AS scope
    FROM analyze_base
    WHERE span_kind = 'llm'
      AND input_tokens IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
)
SELECT c.rid, list_transform(s.prefix_hashes, lambda x: hash(c.scope, x)) AS key
FROM c
JOIN analyze_spans AS s USING (row_key)
WHERE array_length(s.prefix_hashes) > 0
