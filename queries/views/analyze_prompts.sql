-- analyze_prompts: prompt features of the analyzed calls (per-message tokens, template hash, text).
-- purpose: the trimming and downgrade analyzers need message_tokens, one prefix hash and (when
--          kept) the prompt text. They are fetched from `spans` for the rows `analyze_calls` kept,
--          by (trace, span, source line), instead of being carried through the
--          `calls` de-duplication. m0_hash = the chained prefix hash of the last full block inside
--          the first message (equal across calls iff their first messages' leading full blocks
--          are equal); est = sum(message_tokens) + 3 (costlab's own count of the whole prompt).
-- parameters: none (over the materialized `analyze_calls` table and the `spans` view).
-- grain: one row per analyzed call that has message_tokens.
SELECT
    a.trace_id, a.span_id, a.source_line,
    s.message_tokens,
    len(s.message_tokens) AS n_msgs,
    s.message_tokens[1] AS m0_raw,
    list_sum(s.message_tokens) + 3 AS est,
    CASE WHEN s.message_tokens[1] >= s.prefix_block_tokens AND s.prefix_block_tokens > 0
         THEN s.prefix_hashes[CAST(s.message_tokens[1] // s.prefix_block_tokens AS BIGINT)] END AS m0_hash,
    s.prompt_text
FROM analyze_calls AS a
JOIN spans AS s
  ON s.trace_id = a.trace_id AND s.span_id = a.span_id
 AND s.source_line IS NOT DISTINCT FROM a.source_line
WHERE s.message_tokens IS NOT NULL
