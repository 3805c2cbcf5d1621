-- call_marks: what sums cannot give, kept per day beside call_rollup: runs, sessions and durations.
-- purpose: what ingest stores as the lake's call_marks table (costlab/rollups.py), so a report
--   counts distinct runs and sessions exactly without a row per run. Rows (all read with
--   n_calls = 0: they add no call, token or money to any sum):
--   counted runs: one per day and set of attribution inputs (workflow, user_id, tags, repo,
--     branch), n_runs = the runs whose every call in the lake is on that day with those inputs
--     (trace_id and session_id NULL);
--   counted sessions: one per day and user_id, n_sessions = the sessions whose every call in the
--     lake is on that day for that user (every other input NULL);
--   kept rows: one per day, inputs and distinct (trace_id, session_id) pair of the calls whose
--     run or session is not counted (a run spanning days or inputs; a session spanning days or
--     users), the counted one of the pair NULL: they give exact distinct counts over any days (a
--     run spanning days is counted once), as views/report_marks.sql reads them;
--   timed rows: one per call with an end time at or after its start (end_time set), with every
--     dimension, so latency percentiles stay exact (fragments/latency.sql).
--   tags, repo and branch as in views/call_rollup.sql. "Every call in the lake" is read from
--   all_call_facts: a counted run lies wholly inside any whole-day period or wholly outside it,
--   which is what lets its day count it. Ingest derives again every day holding a run or session
--   of the days it changes (costlab/rollups.py), so a run that later gains a call on another day
--   becomes kept rows on both.
-- parameters: $tag_keys VARCHAR[] (lower-case). Reads call_facts (the calls of the days being
--   derived) and all_call_facts (the lake's calls of every day: day, trace_id, session_id).
-- grain: one row per day and inputs (counted runs), per day and user (counted sessions), per
--   day, inputs and kept (trace, session); plus one per timed call.
WITH f AS (
    SELECT
        *,
        CAST(timezone('UTC', start_time) AS DATE) AS _day,
-- include: fragments/call_scope
    FROM call_facts
),
pairs AS (
    SELECT min(start_time) AS start_time, workflow, user_id, _tags, _repo, _branch, trace_id, session_id, _day
    FROM f
    WHERE trace_id IS NOT NULL OR session_id IS NOT NULL
    GROUP BY _day, workflow, user_id, _tags, _repo, _branch, trace_id, session_id
),
lone_runs AS (
    -- runs on one day of the whole lake with one set of inputs (a struct counts NULL as a value)
    SELECT p.trace_id
    FROM pairs AS p
    WHERE p.trace_id IS NOT NULL
    GROUP BY p.trace_id
    HAVING count(DISTINCT {'w': p.workflow, 'u': p.user_id, 't': to_json(p._tags), 'r': p._repo, 'b': p._branch}) = 1
       AND p.trace_id NOT IN (
           SELECT a.trace_id FROM all_call_facts AS a
           WHERE a.trace_id IN (SELECT trace_id FROM pairs)
           GROUP BY a.trace_id HAVING count(DISTINCT a.day) > 1)
),
lone_sessions AS (
    SELECT p.session_id
    FROM pairs AS p
    WHERE p.session_id IS NOT NULL
    GROUP BY p.session_id
    HAVING count(DISTINCT {'u': p.user_id}) = 1
       AND p.session_id NOT IN (
           SELECT a.session_id FROM all_call_facts AS a
           WHERE a.session_id IN (SELECT session_id FROM pairs)
           GROUP BY a.session_id HAVING count(DISTINCT a.day) > 1)
),
marked AS (
    SELECT
        p.*,
        r.trace_id IS NOT NULL AS _run_counted,
        s.session_id IS NOT NULL AS _session_counted
    FROM pairs AS p
    LEFT JOIN lone_runs AS r ON r.trace_id = p.trace_id
    LEFT JOIN lone_sessions AS s ON s.session_id = p.session_id
),
-- the three kinds of run and session row, then the timed rows, in one column list
rows AS (
    SELECT
        min(start_time) AS start_time, workflow, user_id, _tags, _repo, _branch,
        CAST(NULL AS VARCHAR) AS trace_id, CAST(NULL AS VARCHAR) AS session_id,
        count(DISTINCT trace_id) AS n_runs, CAST(0 AS BIGINT) AS n_sessions, _day
    FROM marked
    WHERE _run_counted
    GROUP BY _day, workflow, user_id, _tags, _repo, _branch
    UNION ALL
    SELECT
        min(start_time), CAST(NULL AS VARCHAR), user_id, CAST(NULL AS MAP(VARCHAR, VARCHAR)),
        CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
        CAST(0 AS BIGINT), count(DISTINCT session_id), _day
    FROM marked
    WHERE _session_counted
    GROUP BY _day, user_id
    UNION ALL
    SELECT
        min(start_time), workflow, user_id, _tags, _repo, _branch,
        CASE WHEN _run_counted THEN NULL ELSE trace_id END,
        CASE WHEN _session_counted THEN NULL ELSE session_id END,
        CAST(0 AS BIGINT), CAST(0 AS BIGINT), _day
    FROM marked
    WHERE (trace_id IS NOT NULL AND NOT _run_counted) OR (session_id IS NOT NULL AND NOT _session_counted)
    GROUP BY _day, workflow, user_id, _tags, _repo, _branch,
             CASE WHEN _run_counted THEN NULL ELSE trace_id END,
             CASE WHEN _session_counted THEN NULL ELSE session_id END
)
SELECT
    start_time,
    CAST(NULL AS TIMESTAMPTZ) AS end_time,
    workflow,
    CAST(NULL AS VARCHAR) AS step,
    user_id,
    CAST(NULL AS VARCHAR) AS span_kind,
    CAST(NULL AS VARCHAR) AS provider,
    CAST(NULL AS VARCHAR) AS model,
    CAST(NULL AS VARCHAR) AS model_raw,
    CAST(NULL AS VARCHAR) AS service_tier,
    CAST(NULL AS VARCHAR) AS usage_source,
    CAST(NULL AS VARCHAR) AS reported_cost_currency,
    CAST(NULL AS VARCHAR) AS source_format,
    _tags AS tags,
    _repo AS repo,
    _branch AS branch,
    trace_id,
    session_id,
    n_runs,
    n_sessions,
    _day AS day
FROM rows
UNION ALL
SELECT
    start_time, end_time, workflow, step, user_id, span_kind, provider, model, model_raw,
    service_tier, usage_source, reported_cost_currency, source_format, _tags, _repo, _branch,
    CAST(NULL AS VARCHAR) AS trace_id,
    CAST(NULL AS VARCHAR) AS session_id,
    CAST(0 AS BIGINT) AS n_runs,
    CAST(0 AS BIGINT) AS n_sessions,
    _day
FROM f
WHERE end_time >= start_time
