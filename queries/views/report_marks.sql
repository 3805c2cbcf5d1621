-- report_marks: the report's run, session and timing rows (call_marks) for its period, compacted.
-- purpose: a report read from the rollups counts distinct runs and sessions from the mark rows
--   (views/call_marks.sql): ingest has counted the runs and sessions that lie on one day
--   (n_runs, n_sessions: summed here per set of inputs and per user); the others are a row per
--   day, attribution inputs and (trace, session), compacted here. The report counts them over its own period only (cost_by_workflow,
--   cost_by_team, cost_by_user, unit_costs run with the report's since and until), so each run
--   or session needs to be counted once per group over that period, not listed:
--   Runs: a run whose rows in the period share one set of attribution inputs (workflow, user_id,
--   tags, repo, branch) lands in exactly one group of any query that counts runs (they group by
--   those inputs or by what attribution derives from them). Such runs become one row per set of
--   inputs with trace_id NULL and n_untraced = how many (a set is found by a hash of its inputs,
--   checked: a hash shared by two sets keeps their runs as rows) (fragments/run_totals.sql adds
--   sum(n_untraced) to count(DISTINCT trace_id), as for calls without a trace). A run with more
--   than one set keeps a row per set, so count(DISTINCT trace_id) counts it once per group.
--   Sessions: only cost_by_user counts them, by user: one row per user_id with n_sessions = its
--   distinct sessions in the period (the other inputs NULL).
--   Timing rows (end_time set) pass unchanged.
--   So the rows are exact for the period they were made for and for no narrower one.
-- parameters: none; reads the view _mark_rows (the call_marks rows of the report's period: the
--   columns of costlab.report.build.MARK_COLUMNS), made by costlab/report/build.py.
-- grain: one row per set of attribution inputs for its single-set runs, one per (run, set) for
--   the others, one per user for the sessions, one per timed call.
WITH sets AS (
    -- the inputs behind each hash; a hash that two different sets share is never trusted (_one),
    -- so a collision costs rows, never a count (a nullable column is one value when it is NULL on
    -- every row, or set on every row with min = max)
    SELECT
        hash(workflow, user_id, to_json(tags), repo, branch) AS _h,
        min(workflow) AS workflow, min(user_id) AS user_id, min(repo) AS repo, min(branch) AS branch,
        any_value(tags) AS tags,
        (count(workflow) = 0 OR (count(workflow) = count(*) AND min(workflow) = max(workflow)))
        AND (count(user_id) = 0 OR (count(user_id) = count(*) AND min(user_id) = max(user_id)))
        AND (count(tags) = 0 OR (count(tags) = count(*) AND min(to_json(tags)) = max(to_json(tags))))
        AND (count(repo) = 0 OR (count(repo) = count(*) AND min(repo) = max(repo)))
        AND (count(branch) = 0 OR (count(branch) = count(*) AND min(branch) = max(branch))) AS _one
    FROM _mark_rows
    WHERE end_time IS NULL AND trace_id IS NOT NULL
    GROUP BY hash(workflow, user_id, to_json(tags), repo, branch)
),
runs AS (
    -- per run: one hash on every row, and that hash stands for one set of inputs
    SELECT u.trace_id, u.start_time, u._h, (u._lo = u._h AND b._h IS NULL) AS _single
    FROM (
        SELECT trace_id, min(start_time) AS start_time, max(_h) AS _h, min(_h) AS _lo
        FROM (SELECT trace_id, start_time, hash(workflow, user_id, to_json(tags), repo, branch) AS _h
              FROM _mark_rows WHERE end_time IS NULL AND trace_id IS NOT NULL) AS r
        GROUP BY trace_id
    ) AS u
    LEFT JOIN (SELECT _h FROM sets WHERE NOT _one) AS b ON b._h = u._h
),
counted AS (
    SELECT _h, min(start_time) AS start_time, count(*) AS n FROM runs WHERE _single GROUP BY _h
),
mixed AS (
    SELECT m.*
    FROM _mark_rows AS m JOIN (SELECT trace_id FROM runs WHERE NOT _single) AS x ON x.trace_id = m.trace_id
    WHERE m.end_time IS NULL
)
SELECT
    c.start_time, CAST(NULL AS TIMESTAMPTZ) AS end_time, s.workflow, CAST(NULL AS VARCHAR) AS step, s.user_id,
    CAST(NULL AS VARCHAR) AS provider, CAST(NULL AS VARCHAR) AS model, s.repo, s.branch, s.tags,
    CAST(NULL AS VARCHAR) AS trace_id, CAST(NULL AS VARCHAR) AS session_id,
    CAST(0 AS BIGINT) AS n_calls, CAST(c.n AS BIGINT) AS n_untraced, CAST(0 AS BIGINT) AS n_sessions
FROM counted AS c
JOIN sets AS s ON s._h = c._h
UNION ALL
SELECT
    min(start_time), CAST(NULL AS TIMESTAMPTZ), workflow, CAST(NULL AS VARCHAR), user_id,
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), repo, branch, any_value(tags), trace_id,
    CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
FROM mixed
GROUP BY workflow, user_id, to_json(tags), repo, branch, trace_id
UNION ALL
SELECT
    min(start_time), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), user_id,
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
    CAST(NULL AS MAP(VARCHAR, VARCHAR)), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(0 AS BIGINT),
    CAST(0 AS BIGINT), CAST(count(DISTINCT session_id) AS BIGINT)
FROM _mark_rows
WHERE end_time IS NULL AND session_id IS NOT NULL
GROUP BY user_id
UNION ALL
-- the runs and sessions ingest already counted on their one day (views/call_marks.sql)
SELECT
    min(start_time), CAST(NULL AS TIMESTAMPTZ), workflow, CAST(NULL AS VARCHAR), user_id,
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), repo, branch, any_value(tags), CAST(NULL AS VARCHAR),
    CAST(NULL AS VARCHAR), CAST(0 AS BIGINT), CAST(sum(n_runs) AS BIGINT), CAST(0 AS BIGINT)
FROM _mark_rows
WHERE end_time IS NULL AND n_runs > 0
GROUP BY workflow, user_id, to_json(tags), repo, branch
UNION ALL
SELECT
    min(start_time), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), user_id,
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
    CAST(NULL AS MAP(VARCHAR, VARCHAR)), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(0 AS BIGINT),
    CAST(0 AS BIGINT), CAST(sum(n_sessions) AS BIGINT)
FROM _mark_rows
WHERE end_time IS NULL AND n_sessions > 0
GROUP BY user_id
UNION ALL
SELECT
    start_time, end_time, workflow, step, user_id, provider, model, repo, branch, tags, trace_id,
    session_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
FROM _mark_rows
WHERE end_time IS NOT NULL
