-- Traced cost by UTC day and workflow: the series behind cost-over-time charts.
-- purpose: the report's cost-over-time chart and any daily trend of traced spend per workflow.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per day (DATE, UTC), workflow, currency.
-- notes:
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)'.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = CAST(timezone('UTC', start_time) AS DATE) AS _day, coalesce(workflow, '(none)') AS workflow, * EXCLUDE (workflow) | groups = g._day, g.workflow | marks = false
SELECT
    g._day AS day,
    g.workflow,
    g.currency,
    sum(g.cost) AS cost,
    count(*) AS calls,
    count(*) FILTER (WHERE g.cost IS NULL) AS unpriced_calls,
    sum(CAST(g.input_tokens AS DECIMAL(38, 0))) AS input_tokens,
    sum(CAST(g.output_tokens AS DECIMAL(38, 0))) AS output_tokens
FROM c AS g
GROUP BY g._day, g.workflow, g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY g._day, g.workflow, g.currency NULLS LAST;
