-- analyze/trimming_tools: tool schemas sent with a step's calls, per workflow step and tool block.
-- purpose: the trimming analyzer's oversized-tool-schema detector. Ingest summarises the tools an
--          llm call declares as one object, spans.attributes."costlab.tools" (count, tokens, hash,
--          ids, tool_tokens, names, called; costlab/ingest/_tools.py), so the attributes document
--          is parsed once per call. Per call: t = the block's tokens (costlab's tiktoken count,
--          capped at input_tokens). Tools sit at the start of the prompt (tools -> system ->
--          messages), so the block takes positions [0, t): the part read from cache,
--          r = least(read, t), is priced at the cache-read price, cache writes next,
--          w = least(write, max(t - read, 0)), at the 5m write price, the rest uncached ->
--          block_cost. block_read_cost = t x cache-read price (the block fully cached). Grouped by
--          the block's hash (identical definitions); `block` = one call's summary object (its
--          per-tool ids / tokens / names), called_lists = the distinct `called` lists of its calls.
--          observed_calls: calls whose tool use is visible (the response is in the trace, or the
--          trace has tool spans). trace_tools: names (step, else name) of the tool spans in the
--          traces of the step's calls, so a tool that was executed counts as used.
-- parameters: $since, $until TIMESTAMPTZ or NULL. Reads the materialized analyze_calls table and
--             the analyze_spans view (attributes fetched by row_key, as views/analyze_prompts.sql
--             does) and the spans view (tool spans of the calls' traces, on any day).
-- grain: workflow, step (NULL as '(none)'), tools_hash; over priced USD calls that declare tools.
WITH raw AS (
    SELECT
        a.trace_id,
        coalesce(a.workflow, '(none)') AS workflow, coalesce(a.step, '(none)') AS step,
        a.start_time, a.input_tokens, a.read_tokens, a.write_tokens,
        a.p_uncached, coalesce(a.p_cache_read, a.p_uncached) AS p_read,
        coalesce(a.p_cache_write_5m, a.p_uncached) AS p_write,
        json_extract_string(s.attributes, '$."costlab.tools"') AS block
    FROM analyze_calls AS a
    JOIN analyze_spans AS s USING (row_key)  -- row_key is unique in the lake
    WHERE s.attributes LIKE '%"costlab.tools"%'
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR a.start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR a.start_time < CAST($until AS TIMESTAMPTZ))
),
blocks AS (  -- few distinct summaries (definitions x called lists): parse each once, not per call
    SELECT block,
           json_extract_string(block, '$.hash') AS tools_hash,
           CAST(json_extract_string(block, '$.tokens') AS BIGINT) AS raw_tokens,
           json_extract_string(block, '$.called') AS called
    FROM (SELECT DISTINCT block FROM raw WHERE block IS NOT NULL) AS d
),
c AS (
    SELECT raw.*, blocks.tools_hash, blocks.raw_tokens, blocks.called
    FROM raw
    JOIN blocks USING (block)
),
tool_spans AS (
    SELECT DISTINCT trace_id, coalesce(step, name) AS tool
    FROM spans
    WHERE span_kind = 'tool' AND trace_id IN (SELECT trace_id FROM c)
),
used AS (
    SELECT t.workflow, t.step, list_sort(list(DISTINCT ts.tool)) AS trace_tools
    FROM (SELECT DISTINCT workflow, step, trace_id FROM c) AS t
    JOIN tool_spans AS ts USING (trace_id)
    WHERE ts.tool IS NOT NULL
    GROUP BY ALL
),
p AS (
    SELECT c.*,
           c.called IS NOT NULL OR c.trace_id IN (SELECT trace_id FROM tool_spans) AS observed,
           least(c.raw_tokens, coalesce(c.input_tokens, c.raw_tokens)) AS t
    FROM c
),
q AS (
    SELECT p.*,
           least(p.read_tokens, p.t) AS r,
           least(p.write_tokens, greatest(p.t - p.read_tokens, 0)) AS w
    FROM p
),
agg AS (
    SELECT
        workflow, step, tools_hash,
        count(*) AS calls,
        count(*) FILTER (WHERE observed) AS observed_calls,
        min(block) AS block,  -- min, not any_value: the same row on every engine
        CASE WHEN count(*) FILTER (WHERE called IS NOT NULL AND called <> '[]') > 0  -- NULL, not []
             THEN list_sort(list(DISTINCT called) FILTER (WHERE called IS NOT NULL AND called <> '[]'))
        END AS called_lists,
        sum(raw_tokens) AS raw_tokens,
        sum(t) AS tokens,
        sum(r) AS cached_tokens,
        sum(input_tokens) AS input_tokens,
        sum(r * p_read + w * p_write + (t - r - w) * p_uncached) AS block_cost,
        sum(t * p_read) AS block_read_cost,
        min(start_time) AS first_call,
        max(start_time) AS last_call
    FROM q
    GROUP BY ALL
)
SELECT agg.*, used.trace_tools
FROM agg
LEFT JOIN used USING (workflow, step)
ORDER BY workflow, step, calls DESC, tools_hash;
