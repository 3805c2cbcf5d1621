-- Traced cost by team ([attribution] team tag on the call, else the teams map of its workflow).
-- purpose: showback of traced spend per team.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per team, currency. workflows = distinct workflows; runs = distinct trace_id.
--   cost_per_call = cost / priced calls; cost_per_run = cost / runs, NULL when any call of the
--   group is unpriced (the run total would be short). Ratios are DOUBLE rounded to DECIMAL(38,12).
-- notes:
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)'.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = coalesce(team, '(none)') AS team, * EXCLUDE (team) | groups = g.team | marks = end_time IS NULL AND (trace_id IS NOT NULL OR n_untraced > 0)
SELECT
    g.team,
    g.currency,
    count(DISTINCT g.workflow) AS workflows,
-- include: fragments/run_totals
FROM c AS g
GROUP BY g.team, g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY cost DESC NULLS LAST, calls DESC, g.team, g.currency NULLS LAST;
