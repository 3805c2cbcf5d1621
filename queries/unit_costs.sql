-- Unit costs: cost per workflow run, per call, and per business unit from the metrics file.
-- purpose: turn "we spent $X" into "$Y per ticket resolved" (costlab/money/metrics.py: the CSV format).
-- parameters: $since, $until TIMESTAMPTZ or NULL ([since, until) on start_time / day).
--   Needs the `metrics` table (day, metric, value, workflow); empty when no file is given.
-- grain: metric (or '(per run)' / '(per call)'), workflow, currency.
-- notes:
--   basis: a metric tied to a workflow divides that workflow's traced call cost on the metric's
--     days; a metric without a workflow divides all traced call cost on its days ('(all)').
--     Only days the metric covers count, so a metric kept since mid-month is not diluted.
--     Unpriced calls add no cost (they are listed in the `unpriced` section), so a unit cost with
--     unpriced calls behind it is a lower bound: `unpriced_calls` says how many.
WITH k AS (
    SELECT
        coalesce(workflow, '(none)') AS workflow,
        CAST(timezone('UTC', start_time) AS DATE) AS day,
        trace_id,
        CASE WHEN n_calls = 0 THEN n_untraced ELSE 0 END AS _runs,  -- runs a compacted run row counts
        cost,
        cost_currency,
        n_calls
    FROM (SELECT * FROM calls UNION ALL SELECT * FROM call_marks WHERE trace_id IS NOT NULL OR n_untraced > 0) AS k  -- + run rows (rollups)
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
c AS (
    -- an unpriced call counts in its workflow's currency (it adds no cost, only the count)
    SELECT k.workflow, k.day, k.trace_id, k._runs, k.cost, coalesce(k.cost_currency, w._currency) AS currency, k.n_calls
    FROM k
    JOIN (SELECT workflow, max(cost_currency) AS _currency FROM k WHERE n_calls > 0 GROUP BY workflow) AS w
      ON w.workflow = k.workflow  -- the calls' currencies (run rows have none); a workflow has calls
),
per_workflow AS (
    SELECT '(per run)' AS metric, workflow, currency,
           CAST(count(DISTINCT trace_id) + coalesce(sum(_runs), 0) AS DECIMAL(38, 12)) AS units,
           sum(cost) AS cost, CAST(coalesce(sum(n_calls) FILTER (WHERE cost IS NULL), 0) AS BIGINT) AS unpriced_calls
    FROM c
    GROUP BY ALL
    UNION ALL
    -- per call divides by priced calls only: an unpriced call is not a $0 call
    SELECT '(per call)', workflow, currency,
           CAST(coalesce(sum(n_calls) FILTER (WHERE cost IS NOT NULL), 0) AS DECIMAL(38, 12)), sum(cost),
           CAST(coalesce(sum(n_calls) FILTER (WHERE cost IS NULL), 0) AS BIGINT)
    FROM c
    WHERE n_calls > 0  -- calls only: run rows add nothing here
    GROUP BY ALL
),
m AS (
    SELECT metric, workflow, day, sum(value) AS value
    FROM metrics
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL
           OR day >= CAST(timezone('UTC', CAST($since AS TIMESTAMPTZ)) AS DATE))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL
           OR day < CAST(timezone('UTC', CAST($until AS TIMESTAMPTZ)) AS DATE))
    GROUP BY ALL
),
u AS (SELECT metric, workflow, sum(value) AS units FROM m GROUP BY ALL),
per_metric AS (
    SELECT
        m.metric,
        coalesce(m.workflow, '(all)') AS workflow,
        c.currency,
        any_value(u.units) AS units,
        sum(c.cost) AS cost,
        CAST(coalesce(sum(c.n_calls) FILTER (WHERE c.cost IS NULL), 0) AS BIGINT) AS unpriced_calls
    FROM m
    JOIN u ON u.metric = m.metric AND u.workflow IS NOT DISTINCT FROM m.workflow
    JOIN c ON c.day = m.day AND (m.workflow IS NULL OR c.workflow = m.workflow) AND c.n_calls > 0
    GROUP BY m.metric, m.workflow, c.currency
)
SELECT
    metric,
    workflow,
    currency,
    units,
    cost,
    CASE WHEN units > 0 AND cost IS NOT NULL THEN CAST(cost / units AS DECIMAL(38, 6)) END
        AS cost_per_unit,
    unpriced_calls
FROM (SELECT * FROM per_workflow UNION ALL SELECT * FROM per_metric)
WHERE currency IS NOT NULL
ORDER BY metric = '(per call)', metric = '(per run)', metric, workflow, currency;
