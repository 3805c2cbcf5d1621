-- analyze/batch_workflows: per workflow, the signals that its calls need no interactive latency.
-- purpose: input to the batch analyzer (costlab/analyze/batch.py): interactive share (calls with a
--          session or user id), calls already on a batch/flex tier, off-hours share (UTC hour
--          outside 08-20), the busiest UTC hour and how many calls/days fall within +-1 h of it
--          (cron-like runs), and daily volume steadiness (mean and sample stddev of calls per
--          active day).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive).
-- grain: one row per workflow (NULL workflow as '(none)'), over priced USD calls (analyze_calls).
WITH c AS (
    SELECT
        coalesce(workflow, '(none)') AS workflow,
        session_id, user_id, service_tier, cost,
        hour(timezone('UTC', start_time)) AS hr,
        CAST(timezone('UTC', start_time) AS DATE) AS d,
        start_time
    FROM analyze_calls
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
hours AS (SELECT workflow, hr, count(*) AS n FROM c GROUP BY ALL),
top AS (SELECT workflow, arg_max(hr, n) AS top_hour FROM hours GROUP BY workflow),
days AS (SELECT workflow, d, count(*) AS n FROM c GROUP BY ALL),
dstat AS (
    SELECT workflow, count(*) AS active_days, avg(n) AS mean_daily,
           coalesce(stddev_samp(n), 0) AS sd_daily
    FROM days GROUP BY workflow
),
flagged AS (
    SELECT c.*, t.top_hour,
           least(abs(c.hr - t.top_hour), 24 - abs(c.hr - t.top_hour)) <= 1 AS near_top
    FROM c JOIN top AS t USING (workflow)
)
SELECT
    f.workflow,
    count(*) AS calls,
    count(*) FILTER (WHERE f.session_id IS NOT NULL OR f.user_id IS NOT NULL) AS interactive_calls,
    count(*) FILTER (WHERE f.service_tier IN ('batch', 'flex')) AS batch_calls,
    count(*) FILTER (WHERE f.hr < 8 OR f.hr >= 20) AS off_hours_calls,
    any_value(f.top_hour) AS top_hour,
    count(*) FILTER (WHERE f.near_top) AS near_top_calls,
    count(DISTINCT f.d) FILTER (WHERE f.near_top) AS days_near_top,
    any_value(s.active_days) AS active_days,
    any_value(s.mean_daily) AS mean_daily,
    any_value(s.sd_daily) AS sd_daily,
    min(f.start_time) AS first_call,
    max(f.start_time) AS last_call
FROM flagged AS f JOIN dstat AS s USING (workflow)
GROUP BY f.workflow
ORDER BY f.workflow;
