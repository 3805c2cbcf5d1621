-- Traced call cost per UTC day for each alert scope: the input of budgets and anomaly detection.
-- purpose: costlab.money.alerts (check_budgets, detect_anomalies) read this frame; one row per scope
--          member, day and currency, so a series is (scope, name, currency).
-- parameters: $since, $until TIMESTAMPTZ or NULL on calls.start_time, [since, until). For alerts,
--          start at costlab.money.alerts.history_start(since, window): the month start (month-to-date
--          budgets) or the anomaly look-back, whichever is earlier.
-- grain: scope ('total' | 'workflow' | 'team'), name, day (UTC), currency.
--   total: name NULL. workflow: calls.workflow, NULL as '(none)' (as cost_by_workflow).
--   team: calls_attributed.team (the [attribution] team_tag_keys tag, default tags['team'], else
--   the [attribution.teams] map of the workflow: the same team as cost_by_team); calls without a
--   team are left out of this scope (they stay in total and workflow).
-- notes:
--   Needs costlab.attribution.register() (view calls_attributed), as cost_by_team does.
--     Unpriced calls (cost NULL) are left out: unknown money is never summed as 0; days without
--     priced calls have no row (costlab.money.alerts fills them with 0 inside a series' date range).
WITH priced AS (
    SELECT
        CAST(timezone('UTC', start_time) AS DATE) AS day,
        coalesce(workflow, '(none)') AS workflow,
        team,
        cost_currency AS currency,
        cost
    FROM calls_attributed
    WHERE cost IS NOT NULL
      AND cost_currency IS NOT NULL
      AND start_time IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
)
SELECT 'total' AS scope, CAST(NULL AS VARCHAR) AS name, day, currency,
       CAST(sum(cost) AS DECIMAL(38, 12)) AS cost
FROM priced
GROUP BY day, currency
UNION ALL
SELECT 'workflow', workflow, day, currency, CAST(sum(cost) AS DECIMAL(38, 12))
FROM priced
GROUP BY workflow, day, currency
UNION ALL
SELECT 'team', team, day, currency, CAST(sum(cost) AS DECIMAL(38, 12))
FROM priced
WHERE team IS NOT NULL
GROUP BY team, day, currency
ORDER BY scope, name NULLS FIRST, currency, day;
