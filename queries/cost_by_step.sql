-- Traced cost by workflow step and model: where inside a workflow the money goes.
-- purpose: the steps of a workflow that cost the most, and with which model.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per workflow, step, model, currency. cost_per_call = cost / priced calls
--   (DOUBLE rounded to DECIMAL(38,12)). p50_seconds / p95_seconds: the median and 95th
--   percentile call duration (end_time - start_time, DOUBLE seconds, interpolated), over the
--   group's calls that have both times; NULL when none has.
-- notes:
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)'.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = coalesce(workflow, '(none)') AS workflow, coalesce(step, '(none)') AS step, coalesce(model, '(none)') AS model, * EXCLUDE (workflow, step, model) | groups = g.workflow, g.step, g.model | marks = end_time IS NOT NULL
SELECT
    g.workflow,
    g.step,
    g.model,
    g.currency,
-- include: fragments/call_totals
    CAST(sum(g.cost) / nullif(sum(g.n_calls) FILTER (WHERE g.cost IS NOT NULL), 0) AS DECIMAL(38, 12)) AS cost_per_call,
-- include: fragments/latency
FROM c AS g
GROUP BY g.workflow, g.step, g.model, g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY cost DESC NULLS LAST, calls DESC, g.workflow, g.step, g.model, g.currency NULLS LAST;
