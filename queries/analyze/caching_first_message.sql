-- First-message sizes per workflow step, for the caching analyzer's "block 0 differs" finding.
-- purpose: chained prefix hashes cannot show what follows a block that differs per call. A first
--          message (system prompt) of the same size on every call is a template with something
--          volatile (a timestamp, an id) in its first block; its size estimates the stable part.
--          m0 is costlab's own count of message 1, calibrated to the provider's input count
--          (x input_tokens / (sum(message_tokens) + 3), clamped to 0.5..2), as in
--          analyze/trimming_prefix.sql.
-- parameters: $steps VARCHAR[]: workflow || chr(31) || step of the steps wanted (NULL as '(none)');
--         $since, $until TIMESTAMPTZ or NULL: the filter of analyze/caching_calls.sql.
-- grain: workflow, step over the LLM calls of the materialized `analyze_base` table that have
--        message_tokens (joined to `analyze_spans` by row_key).
WITH m AS (
    SELECT
        coalesce(c.workflow, '(none)') AS wf, coalesce(c.step, '(none)') AS st,
        c.input_tokens, array_length(s.message_tokens) AS n_msgs,
        s.message_tokens[1] * CASE WHEN list_sum(s.message_tokens) + 3 > 0 AND c.input_tokens > 0
            THEN least(greatest(c.input_tokens / (list_sum(s.message_tokens) + 3), 0.5), 2.0)
            ELSE 1.0 END AS m0
    FROM analyze_base AS c
    JOIN analyze_spans AS s USING (row_key)
    WHERE c.span_kind = 'llm' AND c.input_tokens IS NOT NULL AND s.message_tokens IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR c.start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR c.start_time < CAST($until AS TIMESTAMPTZ))
      AND list_contains(CAST($steps AS VARCHAR[]),
                        coalesce(c.workflow, '(none)') || chr(31) || coalesce(c.step, '(none)'))
)
SELECT wf, st, count(*) AS calls, count(*) FILTER (WHERE n_msgs >= 2) AS multi,
       quantile_cont(m0, 0.1) AS m0_p10, quantile_cont(m0, 0.5) AS m0_p50,
       quantile_cont(m0, 0.9) AS m0_p90, quantile_cont(input_tokens, 0.5) AS input_p50
FROM m
GROUP BY ALL
ORDER BY wf, st
