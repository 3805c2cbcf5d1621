-- Traced cost by session (spans.session_id) and its user.
-- purpose: the cost of a conversation or session, and who ran it.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per session, user, currency. workflows = distinct workflows; first_call /
--   last_call = earliest and latest start_time.
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
-- include: fragments/cost_groups | columns = coalesce(session_id, '(none)') AS session, coalesce(user_id, '(none)') AS "user", * | groups = g.session, g."user" | marks = false
SELECT
    g.session,
    g."user",
    g.currency,
    count(DISTINCT g.workflow) AS workflows,
    count(DISTINCT g.trace_id) + count(*) FILTER (WHERE g.trace_id IS NULL) AS runs,
    count(*) AS calls,
    min(g.start_time) AS first_call,
    max(g.start_time) AS last_call,
    sum(CAST(g.input_tokens AS DECIMAL(38, 0))) AS input_tokens,
    sum(CAST(g.output_tokens AS DECIMAL(38, 0))) AS output_tokens,
    sum(g.cost) AS cost,
    count(*) FILTER (WHERE g.cost IS NULL) AS unpriced_calls,
    CASE WHEN count(*) FILTER (WHERE g.cost IS NULL) = 0
         THEN CAST(sum(g.cost) / (count(DISTINCT g.trace_id) + count(*) FILTER (WHERE g.trace_id IS NULL)) AS DECIMAL(38, 12)) END AS cost_per_run
FROM c AS g
GROUP BY g.session, g."user", g.currency
ORDER BY cost DESC NULLS LAST, calls DESC, g.session, g."user", g.currency NULLS LAST;
