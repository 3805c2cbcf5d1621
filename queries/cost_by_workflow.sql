-- Traced cost by workflow (and its team): runs, calls, tokens, cost and unit costs.
-- purpose: the report's main table: what each workflow costs, in total, per run and per call.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per workflow, team, currency. runs = distinct trace_id (a call without one is
--   its own run).
--   cost_per_call = cost / priced calls; cost_per_run = cost / runs, NULL when any call of the
--   group is unpriced (the run total would be short). Ratios are DOUBLE rounded to DECIMAL(38,12).
--   p50_seconds / p95_seconds: the median and 95th percentile call duration (end_time -
--   start_time, DOUBLE seconds, interpolated), over the group's calls that have both times;
--   NULL when none has.
-- notes:
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)'.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = coalesce(workflow, '(none)') AS workflow, coalesce(team, '(none)') AS team, * EXCLUDE (workflow, team) | groups = g.workflow, g.team | marks = end_time IS NOT NULL OR trace_id IS NOT NULL OR n_untraced > 0
SELECT
    g.workflow,
    g.team,
    g.currency,
-- include: fragments/run_totals
    ,
-- include: fragments/latency
FROM c AS g
GROUP BY g.workflow, g.team, g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY cost DESC NULLS LAST, calls DESC, g.workflow, g.team, g.currency NULLS LAST;
