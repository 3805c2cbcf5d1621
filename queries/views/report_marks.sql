-- report_marks: the report's run, session and timing rows (call_marks), compacted exactly.
-- purpose: a report read from the rollups counts distinct runs and sessions from the mark rows
--   (views/call_marks.sql): one row per day, attribution inputs and (trace, session), millions
--   over a month of traffic. The report's periods start and end at midnight UTC when it reads the
--   rollups, so a run or session seen on one UTC day only is in a period exactly when its day is.
--   Runs: a run whose rows all fall on one day with one set of attribution inputs (workflow,
--   user_id, tags, repo, branch) lands in one group of any query that counts runs (they group by
--   those inputs, by what attribution derives from them, or by day). Such runs are counted, not
--   listed: one row per day and inputs with trace_id NULL and n_untraced = how many
--   (fragments/run_totals.sql adds sum(n_untraced) to count(DISTINCT trace_id), as for calls
--   without a trace). Any other run keeps a row per day and inputs, so count(DISTINCT trace_id)
--   still counts it once.
--   Sessions: only cost_by_user counts them, by user, so they are kept per day and user_id (the
--   other inputs NULL): those seen on one day by one user are counted in n_sessions, the others
--   keep a row per day and user. Timing rows (end_time set) pass unchanged.
-- parameters: none; reads the view _mark_rows (the period's call_marks rows: the columns of
--   costlab.report.build.MARK_COLUMNS and day), made by costlab/report/build.py.
-- grain: one row per day and attribution inputs for the runs seen only there, and one per day and
--   user for such sessions; one per other (run, day, inputs) and (session, day, user); one per
--   timed call.
WITH m AS (
    SELECT *, to_json(tags) AS _tk FROM _mark_rows WHERE end_time IS NULL
),
trace_slots AS (
    SELECT DISTINCT trace_id, day, workflow, user_id, _tk, repo, branch FROM m WHERE trace_id IS NOT NULL
),
single_traces AS (
    SELECT trace_id, true AS _single FROM trace_slots GROUP BY trace_id HAVING count(*) = 1
),
session_slots AS (
    SELECT DISTINCT session_id, day, user_id FROM m WHERE session_id IS NOT NULL
),
single_sessions AS (
    SELECT session_id, true AS _single FROM session_slots GROUP BY session_id HAVING count(*) = 1
),
traces AS (
    SELECT m.*, coalesce(s._single, false) AS _single
    FROM m LEFT JOIN single_traces AS s ON s.trace_id = m.trace_id
    WHERE m.trace_id IS NOT NULL
),
sessions AS (
    SELECT m.*, coalesce(s._single, false) AS _single
    FROM m LEFT JOIN single_sessions AS s ON s.session_id = m.session_id
    WHERE m.session_id IS NOT NULL
),
compact AS (
    SELECT
        min(start_time) AS start_time, workflow, user_id, repo, branch, any_value(tags) AS tags,
        CASE WHEN _single THEN NULL ELSE trace_id END AS trace_id,
        CAST(NULL AS VARCHAR) AS session_id,
        CAST(CASE WHEN _single THEN count(DISTINCT trace_id) ELSE 0 END AS BIGINT) AS n_untraced,
        CAST(0 AS BIGINT) AS n_sessions
    FROM traces
    GROUP BY day, workflow, user_id, _tk, repo, branch, _single, CASE WHEN _single THEN NULL ELSE trace_id END
    UNION ALL
    SELECT
        min(start_time), CAST(NULL AS VARCHAR), user_id, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
        CAST(NULL AS MAP(VARCHAR, VARCHAR)),
        CAST(NULL AS VARCHAR),
        CASE WHEN _single THEN NULL ELSE session_id END,
        CAST(0 AS BIGINT),
        CAST(CASE WHEN _single THEN count(DISTINCT session_id) ELSE 0 END AS BIGINT)
    FROM sessions
    GROUP BY day, user_id, _single, CASE WHEN _single THEN NULL ELSE session_id END
)
SELECT
    start_time, CAST(NULL AS TIMESTAMPTZ) AS end_time, workflow, CAST(NULL AS VARCHAR) AS step, user_id,
    CAST(NULL AS VARCHAR) AS provider, CAST(NULL AS VARCHAR) AS model, repo, branch, tags, trace_id,
    session_id, CAST(0 AS BIGINT) AS n_calls, n_untraced, n_sessions
FROM compact
UNION ALL
SELECT
    start_time, end_time, workflow, step, user_id, provider, model, repo, branch, tags, trace_id,
    session_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
FROM _mark_rows
WHERE end_time IS NOT NULL
