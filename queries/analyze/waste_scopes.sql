-- analyze/waste_scopes: what each workflow step costs, the base the waste findings are measured on.
-- purpose: the waste analyzer states each finding as a share of its scope's cost (a step, or the
--          whole workflow for failed runs) and scales the window to 30 days from these rows.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on
--   start_time; $session_formats VARCHAR[] (as in analyze/waste_runs.sql).
-- grain: workflow, step (NULL as '(none)'), over every billable call (analyze_base).
-- columns: calls, priced_calls and cost (calls with a USD cost, DECIMAL), unpriced_calls (no USD
--   cost: counted, never costed), session_calls (calls of session sources: not runs, so not
--   checked for loops, tool loops or failed runs), first_call, last_call.
SELECT
    coalesce(workflow, '(none)') AS workflow,
    coalesce(step, '(none)') AS step,
    count(*) AS calls,
    count(CASE WHEN cost_currency = 'USD' THEN cost END) AS priced_calls,
    sum(CASE WHEN cost_currency = 'USD' THEN cost END) AS cost,
    count(*) - count(CASE WHEN cost_currency = 'USD' THEN cost END) AS unpriced_calls,
    count(*) FILTER (WHERE list_contains(CAST($session_formats AS VARCHAR[]), source_format)) AS session_calls,
    min(start_time) AS first_call,
    max(start_time) AS last_call
FROM analyze_base
WHERE
-- include: fragments/in_period | at = start_time
GROUP BY ALL
ORDER BY workflow, step;
