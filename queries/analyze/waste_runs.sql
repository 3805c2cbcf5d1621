-- analyze/waste_runs: money spent on errored calls, retries, loops and failed runs, per run.
-- purpose: input to the waste analyzer (costlab/analyze/waste.py). Each call of the period is
--          flagged by four rules (docs/analyzers.md, Waste):
--            error: its status is not OK (anything but ok, unset, success or empty; NULL is not
--              an error: most sources leave it unset on success);
--            retry: it follows, within $retry_window_seconds of the end of the previous call of
--              the same workflow, step and request (prompt_hash, else provider + model + input
--              tokens), a call that failed;
--            loop: its step ran more than $loop_threshold times in the run (trace_id) with the
--              input growing on every call (the model is fed its own previous turns, as an agent
--              or validator loop does; a fan-out over different items does not grow), and it is
--              not the step's first call in the run;
--            failed_run: its run ended in failure (the run's root span, or its last call, failed).
--          tool_loop rows: a tool span name repeated more than $loop_threshold times in a run;
--          its calls are the run's LLM calls from the tool's second use to its last (the turns
--          that drove the repeats). Rule any: every flagged call once (for the summary total).
--          A trace of a session source (a coding agent's transcript: the whole conversation a
--          person drives, where every turn resends the history and tools repeat by design) is
--          not a run: loop, tool_loop and failed_run skip its calls; error and retry still apply.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on
--   start_time; $retry_window_seconds DOUBLE (seconds from a failed call's end to its retry);
--   $loop_threshold INTEGER (repeats of a step in one run before it is a loop);
--   $session_formats VARCHAR[] (the source_format of session sources, `Source.sessions`).
-- grain: rule, workflow, step, run (trace_id; a call without one is its own run, 'call:' ||
--   row_key). NULL workflow/step as '(none)'; failed_run and any rows have step '(all)';
--   tool_loop rows name the tool as step.
-- columns: calls (flagged calls), priced_calls and cost (calls with a USD cost, DECIMAL), unpriced_calls
--   (no cost, or not in USD: counted, never costed), repeats (loop/tool_loop: how many times the
--   step or tool ran in the run), first_call, last_call.
WITH c AS (
    SELECT
        row_key,
        trace_id,
        coalesce(trace_id, 'call:' || row_key) AS run,
        coalesce(workflow, '(none)') AS workflow,
        coalesce(step, '(none)') AS step,
        start_time,
        coalesce(end_time, start_time) AS end_at,
        input_tokens,
        CASE WHEN cost_currency = 'USD' THEN cost END AS usd,
        coalesce(lower(trim(status)) NOT IN ('ok', 'unset', 'success', ''), false) AS failed,
        coalesce(prompt_hash, concat_ws('|', provider, model, CAST(input_tokens AS VARCHAR))) AS shape,
        coalesce(list_contains(CAST($session_formats AS VARCHAR[]), source_format), false) AS in_session
    FROM analyze_base
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
seq AS (
    SELECT
        c.*,
        lag(failed) OVER (PARTITION BY workflow, step, shape ORDER BY start_time, row_key) AS prev_failed,
        lag(end_at) OVER (PARTITION BY workflow, step, shape ORDER BY start_time, row_key) AS prev_end,
        lag(input_tokens) OVER (PARTITION BY run, workflow, step ORDER BY start_time, row_key) AS prev_input,
        row_number() OVER (PARTITION BY run, workflow, step ORDER BY start_time, row_key) AS turn,
        count(*) OVER (PARTITION BY run, workflow, step) AS step_calls
    FROM c
),
loops AS (
    SELECT run, workflow, step
    FROM seq
    WHERE trace_id IS NOT NULL AND NOT in_session AND step_calls > $loop_threshold
    GROUP BY run, workflow, step
    HAVING count(*) FILTER (WHERE turn > 1 AND (input_tokens IS NULL OR prev_input IS NULL
                                                OR input_tokens <= prev_input)) = 0
),
roots AS (
    SELECT trace_id AS run,
           max(CASE WHEN coalesce(lower(trim(status)) NOT IN ('ok', 'unset', 'success', ''), false)
                    THEN 1 ELSE 0 END) AS root_failed
    FROM spans
    WHERE (parent_span_id IS NULL OR parent_span_id = '')
      AND trace_id IN (SELECT trace_id FROM c WHERE trace_id IS NOT NULL AND NOT in_session)
    GROUP BY trace_id
),
last_call AS (
    SELECT run, max_by(failed, start_time) AS last_failed FROM c WHERE NOT in_session GROUP BY run
),
failed_runs AS (
    SELECT l.run
    FROM last_call AS l LEFT JOIN roots AS r ON r.run = l.run
    WHERE l.last_failed OR coalesce(r.root_failed, 0) = 1
),
tools AS (
    SELECT trace_id AS run, coalesce(step, name, '(none)') AS tool, start_time,
           row_number() OVER (PARTITION BY trace_id, coalesce(step, name, '(none)') ORDER BY start_time, span_id) AS turn,
           count(*) OVER (PARTITION BY trace_id, coalesce(step, name, '(none)')) AS uses
    FROM spans
    WHERE span_kind = 'tool'
      AND trace_id IN (SELECT trace_id FROM c WHERE trace_id IS NOT NULL AND NOT in_session)
),
tool_loops AS (
    SELECT run, tool, max(uses) AS uses,
           min(CASE WHEN turn = 2 THEN start_time END) AS from_t, max(start_time) AS to_t
    FROM tools
    WHERE uses > $loop_threshold
    GROUP BY run, tool
),
flagged AS (
    SELECT
        s.*,
        s.retry_gap IS NOT NULL AS is_retry,
        (lp.run IS NOT NULL AND s.turn > 1) AS is_loop,
        fr.run IS NOT NULL AS is_failed_run
    FROM (
        SELECT seq.*,
               CASE WHEN prev_failed
                         AND date_diff('microsecond', prev_end, start_time) <= $retry_window_seconds * 1000000
                    THEN date_diff('microsecond', prev_end, start_time) END AS retry_gap
        FROM seq
    ) AS s
    LEFT JOIN loops AS lp ON lp.run = s.run AND lp.workflow = s.workflow AND lp.step = s.step
    LEFT JOIN failed_runs AS fr ON fr.run = s.run
),
tool_calls AS (
    SELECT f.*, t.tool, t.uses
    FROM flagged AS f JOIN tool_loops AS t ON t.run = f.run
    WHERE f.start_time >= t.from_t AND f.start_time <= t.to_t
),
tagged AS (
    SELECT 'error' AS rule, workflow, step, run, usd, start_time, CAST(NULL AS BIGINT) AS repeats
    FROM flagged WHERE failed
    UNION ALL
    SELECT 'retry', workflow, step, run, usd, start_time, NULL FROM flagged WHERE is_retry
    UNION ALL
    SELECT 'loop', workflow, step, run, usd, start_time, step_calls FROM flagged WHERE is_loop
    UNION ALL
    SELECT 'failed_run', workflow, '(all)', run, usd, start_time, NULL FROM flagged WHERE is_failed_run
    UNION ALL
    SELECT 'tool_loop', workflow, tool, run, usd, start_time, uses FROM tool_calls
    UNION ALL
    SELECT 'any', workflow, '(all)', run, usd, start_time, NULL
    FROM flagged
    WHERE failed OR is_retry OR is_loop OR is_failed_run
       OR row_key IN (SELECT row_key FROM tool_calls)
)
SELECT
    rule, workflow, step, run,
    count(*) AS calls,
    count(usd) AS priced_calls,
    sum(usd) AS cost,
    count(*) - count(usd) AS unpriced_calls,
    max(repeats) AS repeats,
    min(start_time) AS first_call,
    max(start_time) AS last_call
FROM tagged
GROUP BY rule, workflow, step, run
ORDER BY rule, workflow, step, run;
