-- Workflows whose traced cost moved most between two windows of equal length.
-- purpose: "what changed": the report compares the last window of its period with the one before.
-- parameters: $prev_start, $cur_start, $cur_end TIMESTAMPTZ: previous = [prev_start, cur_start),
--   current = [cur_start, cur_end).
-- grain: workflow, currency. change_pct is NULL when the previous window had no cost (new spend).
WITH w AS (
    SELECT
        coalesce(workflow, '(none)') AS workflow,
        cost_currency AS currency,
        sum(cost) FILTER (WHERE start_time < CAST($cur_start AS TIMESTAMPTZ)) AS previous,
        sum(cost) FILTER (WHERE start_time >= CAST($cur_start AS TIMESTAMPTZ)) AS current
    FROM calls
    WHERE cost IS NOT NULL
      AND start_time >= CAST($prev_start AS TIMESTAMPTZ)
      AND start_time < CAST($cur_end AS TIMESTAMPTZ)
    GROUP BY ALL
)
SELECT
    workflow,
    currency,
    coalesce(previous, 0) AS previous,
    coalesce(current, 0) AS current,
    coalesce(current, 0) - coalesce(previous, 0) AS change,
    CASE WHEN coalesce(previous, 0) = 0 THEN NULL
         ELSE CAST(round(100 * (coalesce(current, 0) - previous) / previous, 1) AS DECIMAL(18, 1))
    END AS change_pct
FROM w
ORDER BY abs(coalesce(current, 0) - coalesce(previous, 0)) DESC, workflow, currency;
