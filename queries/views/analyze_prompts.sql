-- analyze_prompts: prompt features of the analyzed calls (per-message tokens, template hash, text).
-- purpose: the trimming and downgrade analyzers need message_tokens, one prefix hash and (when
--          kept) the prompt text. They are fetched from `analyze_spans` for the rows `analyze_calls` kept,
--          by row_key, instead of being carried through the
--          `calls` de-duplication. m0_hash = the chained prefix hash of the last full block inside
--          the first message (equal across calls iff their first messages' leading full blocks
--          are equal); est = sum(message_tokens) + 3 (costlab's own count of the whole prompt).
-- parameters: none (over the `analyze_calls` view of the materialized `analyze_base` table and
--             the `analyze_spans` view).
-- grain: one row per analyzed call that has message_tokens.
SELECT
    a.trace_id, a.span_id, a.source_line,
    s.message_tokens,
    array_length(s.message_tokens) AS n_msgs,  -- array_length, not len: portable (Spark: size)
    s.message_tokens[1] AS m0_raw,
    list_sum(s.message_tokens) + 3 AS est,
    CASE WHEN s.message_tokens[1] >= s.prefix_block_tokens AND s.prefix_block_tokens > 0
         THEN s.prefix_hashes[CAST(s.message_tokens[1] // s.prefix_block_tokens AS BIGINT)] END AS m0_hash,
    s.prompt_text
FROM analyze_calls AS a
JOIN analyze_spans AS s USING (row_key)  -- row_key is unique in the lake
WHERE s.message_tokens IS NOT NULL
