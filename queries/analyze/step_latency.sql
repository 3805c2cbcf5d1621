-- analyze/step_latency: the median and 95th percentile call duration of each workflow step.
-- purpose: the downgrade and batch analyzers show a step's current latency beside their advice
--          (a cheaper model or the batch API changes it): the same measure as cost_by_step's
--          p50_seconds / p95_seconds (queries/fragments/latency.sql).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive).
-- grain: workflow, step (NULL as '(none)'), over every billable call (analyze_base); DOUBLE
--   seconds, NULL when no call of the step has both times.
SELECT
    coalesce(g.workflow, '(none)') AS workflow,
    coalesce(g.step, '(none)') AS step,
-- include: fragments/latency
FROM analyze_base AS g
WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR g.start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR g.start_time < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY workflow, step;
