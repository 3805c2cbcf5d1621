-- latency: the median and 95th percentile call duration of a group, as select-list items.
-- purpose: p50_seconds, p95_seconds of a group of calls `g` (`c AS g` of fragments/cost_groups.sql,
--   or analyze_base in analyze/step_latency), the last items of cost_by_workflow, cost_by_step
--   and analyze/step_latency (no comma after them). Duration = end_time -
--   start_time in seconds (DOUBLE: a time, not money), from microseconds, which both engines
--   store exactly; quantile_cont interpolates (Spark: percentile, exact). Calls without both
--   times, or ending before they start, are left out; NULL when no call of the group has them.
-- parameters: none
-- grain: select-list items of one group.
    quantile_cont(CASE WHEN g.end_time >= g.start_time
                       THEN CAST(date_diff('microsecond', g.start_time, g.end_time) AS DOUBLE) / 1000000 END,
                  0.5) AS p50_seconds,
    quantile_cont(CASE WHEN g.end_time >= g.start_time
                       THEN CAST(date_diff('microsecond', g.start_time, g.end_time) AS DOUBLE) / 1000000 END,
                  0.95) AS p95_seconds
