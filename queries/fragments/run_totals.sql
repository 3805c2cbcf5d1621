-- run_totals: runs, the call totals and the unit costs of a cost_by_* group, as select-list items.
-- purpose: the columns cost_by_team, cost_by_user and cost_by_workflow end with: runs = distinct
--   trace_id (a call without one is its own run), fragments/call_totals.sql, cost_per_run = cost /
--   runs (NULL when any call of the group is unpriced: the run total would be short) and
--   cost_per_call = cost / priced calls; ratios DOUBLE rounded to DECIMAL(38,12).
-- parameters: none
-- grain: select-list items of one group (the last one, no comma after it).
    CAST(count(DISTINCT g.trace_id) + sum(g.n_untraced) AS BIGINT) AS runs,
-- include: fragments/call_totals
    CASE WHEN coalesce(sum(g.n_calls) FILTER (WHERE g.cost IS NULL), 0) = 0
         THEN CAST(sum(g.cost) / (count(DISTINCT g.trace_id) + sum(g.n_untraced)) AS DECIMAL(38, 12)) END AS cost_per_run,
    CAST(sum(g.cost) / nullif(sum(g.n_calls) FILTER (WHERE g.cost IS NOT NULL), 0) AS DECIMAL(38, 12)) AS cost_per_call
