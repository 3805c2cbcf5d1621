-- analyze/trimming_prefix: the repeated leading message (system / template prompt) per step.
-- purpose: the trimming analyzer's oversized-prompt detector. For each call with per-message
--          token counts: m0 = tokens of the first message, calibrated to the provider's count
--          (x input_tokens / (sum(message_tokens) + 3), clamped to 0.5..2); its "template hash" =
--          the chained prefix hash of the last full block inside it. The step's template is the
--          most common hash among calls with >= 2 messages; calls carrying it are `tpl_calls`.
--          excess_cost = sum over template calls of max(0, m0 - $target_tokens) x the effective
--          unit price of the first-message positions (prefix order: cache-read tokens first, then
--          cache writes (5m price), then uncached input), so a token that was read from cache
--          saves only the cache-read price.
-- parameters: $since, $until TIMESTAMPTZ or NULL; $target_tokens BIGINT (size a template is
--             trimmed towards). Reads the materialized analyze_calls and analyze_prompts tables.
-- grain: workflow, step (NULL as '(none)'), over priced USD calls.
WITH c AS (
    SELECT
        coalesce(a.workflow, '(none)') AS workflow, coalesce(a.step, '(none)') AS step,
        a.start_time, a.cost, a.input_tokens, a.read_tokens, a.write_tokens,
        a.p_uncached, a.p_cache_read, a.p_cache_write_5m,
        p.message_tokens IS NOT NULL AS featured,
        p.n_msgs, p.m0_raw, p.est, p.m0_hash,
        p.prompt_text IS NOT NULL AS has_text,
        CASE WHEN p.prompt_text IS NOT NULL
             THEN json_extract_string(p.prompt_text, '$[0].role') END AS first_role
    FROM analyze_calls AS a
    LEFT JOIN analyze_prompts AS p USING (trace_id, span_id, source_line)
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR a.start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR a.start_time < CAST($until AS TIMESTAMPTZ))
),
modes AS (
    SELECT workflow, step, mode(m0_hash) AS tpl_hash
    FROM c WHERE n_msgs >= 2 AND m0_hash IS NOT NULL GROUP BY ALL
),
k AS (
    SELECT c.*,
           coalesce(c.n_msgs >= 2 AND c.m0_hash = m.tpl_hash, false) AS in_tpl,
           CAST(c.m0_raw * CASE WHEN c.est > 0 AND c.input_tokens > 0
                                THEN least(greatest(c.input_tokens / c.est, 0.5), 2.0)
                                ELSE 1.0 END AS DECIMAL(18, 3)) AS m0
    FROM c LEFT JOIN modes AS m USING (workflow, step)
),
p AS (
    SELECT k.*,
           CAST(least(k.read_tokens, k.m0) AS DECIMAL(18, 3)) AS r0,
           CAST(least(k.write_tokens, greatest(k.m0 - k.read_tokens, 0)) AS DECIMAL(18, 3)) AS w0
    FROM k
)
SELECT
    workflow, step,
    count(*) AS calls,
    sum(cost) AS cost,
    count(*) FILTER (WHERE featured) AS featured_calls,
    count(*) FILTER (WHERE in_tpl) AS tpl_calls,
    -- cast: DuckDB keeps the DECIMAL(18,3) of m0, other engines return DOUBLE (portable)
    CAST(median(m0) FILTER (WHERE in_tpl) AS DECIMAL(18, 3)) AS tpl_tokens,
    count(*) FILTER (WHERE in_tpl AND has_text) AS text_calls,
    count(*) FILTER (WHERE in_tpl AND first_role IN ('system', 'developer')) AS system_calls,
    sum(r0) FILTER (WHERE in_tpl) AS tpl_cached_tokens,
    sum(m0) FILTER (WHERE in_tpl) AS tpl_total_tokens,
    sum(CASE WHEN m0 > 0 THEN greatest(m0 - CAST($target_tokens AS BIGINT), 0)
                              * (r0 * p_cache_read + w0 * p_cache_write_5m + (m0 - r0 - w0) * p_uncached)
                              / m0
             ELSE 0 END) FILTER (WHERE in_tpl) AS excess_cost,
    min(start_time) AS first_call,
    max(start_time) AS last_call
FROM p
GROUP BY ALL
ORDER BY workflow, step;
