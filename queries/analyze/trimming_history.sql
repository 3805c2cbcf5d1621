-- analyze/trimming_history: conversation history replayed in full, per step.
-- purpose: the trimming analyzer's history-growth detector. Within a session (session_id, per
--          workflow step, by time) a call's input is about base + all earlier turns. Keeping only
--          the last $keep_turns turns would send input_t - input_(t-K) + base, so the tokens beyond
--          them are old = max(0, input_(t-K) - base) with base = the session's first input. They sit
--          at positions [base, base + old) of the prompt: the part already read from cache
--          (clamp(read - base, 0, old)) is priced at the cache-read price, the rest uncached.
--          Only sessions with more than $keep_turns calls whose input grew (>=) on >= 90% of turns.
-- parameters: $since, $until TIMESTAMPTZ or NULL; $keep_turns BIGINT.
-- grain: workflow, step, over priced USD calls that carry a session_id.
WITH c AS (
    SELECT coalesce(workflow, '(none)') AS workflow, coalesce(step, '(none)') AS step,
           session_id, start_time, input_tokens, read_tokens, p_uncached, p_cache_read
    FROM analyze_calls
    WHERE session_id IS NOT NULL AND input_tokens IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
t AS (
    SELECT c.*,
           first_value(input_tokens) OVER w AS base,
           lag(input_tokens, CAST($keep_turns AS BIGINT)) OVER w AS old_end,
           lag(input_tokens) OVER w AS prev
    FROM c
    WINDOW w AS (PARTITION BY workflow, step, session_id ORDER BY start_time, input_tokens)
),
sess AS (
    SELECT workflow, step, session_id, count(*) AS turns,
           count(*) FILTER (WHERE prev IS NOT NULL AND input_tokens >= prev) AS grew,
           count(*) FILTER (WHERE prev IS NOT NULL) AS pairs
    FROM t GROUP BY ALL
),
growing AS (
    SELECT * FROM sess WHERE turns > CAST($keep_turns AS BIGINT) AND grew >= 0.9 * pairs
),
o AS (
    SELECT t.*, greatest(coalesce(t.old_end, t.base) - t.base, 0) AS old
    FROM t JOIN growing USING (workflow, step, session_id)
),
agg AS (
    SELECT workflow, step,
           count(*) AS growing_calls,
           sum(old) AS old_tokens,
           sum(input_tokens) AS input_tokens,
           sum(least(greatest(read_tokens - base, 0), old) * p_cache_read
               + (old - least(greatest(read_tokens - base, 0), old)) * p_uncached) AS old_cost
    FROM o GROUP BY ALL
),
ss AS (
    SELECT workflow, step, count(*) AS sessions,
           count(*) FILTER (WHERE turns > CAST($keep_turns AS BIGINT) AND grew >= 0.9 * pairs)
               AS growing_sessions,
           max(turns) AS max_turns
    FROM sess GROUP BY ALL
)
SELECT ss.*, agg.growing_calls, agg.old_tokens, agg.input_tokens, agg.old_cost
FROM ss LEFT JOIN agg USING (workflow, step)
ORDER BY ss.workflow, ss.step;
