-- call_marks: what sums cannot give, kept per day beside call_rollup: runs, sessions and durations.
-- purpose: what ingest stores as the lake's call_marks table (costlab/rollups.py). Two kinds of
--   row, both with n_calls = 0 when read (they add no call, token or money to any sum):
--   run rows: one per day, attribution inputs (workflow, user_id, repo, branch, tags) and distinct
--     (trace_id, session_id) pair of the calls; they give exact distinct runs and sessions per
--     workflow, team or user over any days (a run spanning days is counted once);
--   timed rows: one per call with an end time at or after its start (end_time set), with every
--     dimension, so latency percentiles stay exact (fragments/latency.sql).
--   tags, repo and branch as in views/call_rollup.sql.
-- parameters: $tag_keys VARCHAR[] (lower-case).
-- grain: one row per day, attribution inputs and (trace, session); plus one per timed call.
WITH f AS (
    SELECT
        *,
        CAST(timezone('UTC', start_time) AS DATE) AS _day,
-- include: fragments/call_scope
    FROM call_facts
)
SELECT
    min(start_time) AS start_time,
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
    _day AS day
FROM f
WHERE trace_id IS NOT NULL OR session_id IS NOT NULL
GROUP BY _day, workflow, user_id, _tags, _repo, _branch, trace_id, session_id
UNION ALL
SELECT
    start_time, end_time, workflow, step, user_id, span_kind, provider, model, model_raw,
    service_tier, usage_source, reported_cost_currency, source_format, _tags, _repo, _branch,
    CAST(NULL AS VARCHAR) AS trace_id,
    CAST(NULL AS VARCHAR) AS session_id,
    _day
FROM f
WHERE end_time >= start_time
