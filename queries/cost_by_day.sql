-- Traced cost by UTC day and workflow: the series behind cost-over-time charts.
-- grain: day (DATE, UTC), workflow, currency.
-- Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--   they join their group's currency when the group has exactly one, else form a row with a NULL
--   currency and NULL cost. NULL dimensions show as '(none)'.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- Needs costlab.attribution.register() (view calls_attributed).
-- Tokens are summed in DECIMAL(38, 0): exact for any number of calls (costlab/limits.py).
WITH g AS (
    SELECT CAST(timezone('UTC', start_time) AS DATE) AS _day, coalesce(workflow, '(none)') AS workflow,
           * EXCLUDE (workflow)
    FROM calls_attributed
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
c AS (
    SELECT g.*, CASE WHEN g.cost_currency IS NULL AND min(g.cost_currency) OVER w = max(g.cost_currency) OVER w
             THEN min(g.cost_currency) OVER w ELSE g.cost_currency END AS currency
    FROM g WINDOW w AS (PARTITION BY g._day, g.workflow)
)
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
ORDER BY g._day, g.workflow, g.currency NULLS LAST;
