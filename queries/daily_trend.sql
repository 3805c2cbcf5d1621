-- Billed and traced money per day and currency, for the trend chart.
-- purpose: the period's days in the context of the days before it (a one-day nightly report shows
--   its day against the trailing weeks the anomaly check uses, not one lonely bar).
-- parameters: $since, $until TIMESTAMPTZ or NULL: the context window, [since, until); the report
--   passes the anomaly look-back start (costlab.money.alerts.history_start) as $since.
-- grain: day (UTC; charges by charge_period_start, calls by start_time), currency. billed and
--   traced are NULL (unknown), not 0, on a day one side has no data for.
WITH billed AS (
    SELECT CAST(timezone('UTC', charge_period_start) AS DATE) AS day, billing_currency AS currency,
           sum(billed_cost) AS billed
    FROM charges
    WHERE billed_cost IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR charge_period_start >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR charge_period_start < CAST($until AS TIMESTAMPTZ))
    GROUP BY ALL
),
traced AS (
    SELECT CAST(timezone('UTC', start_time) AS DATE) AS day, cost_currency AS currency, sum(cost) AS traced
    FROM calls
    WHERE cost IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
    GROUP BY ALL
)
SELECT
    coalesce(b.day, t.day) AS day,
    coalesce(b.currency, t.currency) AS currency,
    CAST(b.billed AS DECIMAL(38, 12)) AS billed,
    CAST(t.traced AS DECIMAL(38, 12)) AS traced
FROM billed AS b
FULL OUTER JOIN traced AS t ON t.day = b.day AND t.currency = b.currency
ORDER BY day, currency;
