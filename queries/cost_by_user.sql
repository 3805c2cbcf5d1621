-- Traced cost by end user (spans.user_id).
-- purpose: the cost of each end user, per run and per call.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per user, currency. sessions = distinct session_id (+ n_sessions: the sessions a
--   report's compacted rows stand for, views/report_marks.sql); runs = distinct trace_id.
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
-- include: fragments/cost_groups | columns = coalesce(user_id, '(none)') AS "user", * | groups = g."user" | marks = end_time IS NULL
SELECT
    g."user",
    g.currency,
    count(DISTINCT g.session_id) + coalesce(sum(g.n_sessions), 0) AS sessions,
-- include: fragments/run_totals
FROM c AS g
GROUP BY g."user", g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY cost DESC NULLS LAST, calls DESC, g."user", g.currency NULLS LAST;
