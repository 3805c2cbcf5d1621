-- Conservation check of the allocation: billed = attributed + unattributed, per period and currency.
-- purpose: prove the allocation conserves money; billed is summed straight from `charges` (not
--   from the allocation), so a non-zero difference means the allocation lost or invented money;
--   it must be 0 for every row.
-- parameters: $since, $until TIMESTAMPTZ or NULL on charge_period_start; $grain 'day' | 'month';
--   $policy, $token_policy as in queries/allocation.sql (needs costlab.attribution.register()).
-- allowed: grain = month | day
-- allowed: policy = proportional | even | tag | none
-- allowed: token_policy = traced | proportional
-- grain: period (DATE), currency.
WITH billed AS (
    SELECT
        CAST(CASE WHEN CAST($grain AS VARCHAR) = 'day'
                  THEN date_trunc('day', timezone('UTC', charge_period_start))
                  ELSE date_trunc('month', timezone('UTC', charge_period_start)) END AS DATE) AS period,
        billing_currency AS currency,
        sum(billed_cost) AS billed
    FROM charges
    WHERE billed_cost IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR charge_period_start >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR charge_period_start < CAST($until AS TIMESTAMPTZ))
    GROUP BY ALL
),
alloc AS (
    SELECT period, currency,
           sum(amount) FILTER (WHERE workflow <> 'unattributed') AS attributed,
           sum(amount) FILTER (WHERE workflow = 'unattributed') AS unattributed
    FROM allocation_rows(CAST($since AS TIMESTAMPTZ), CAST($until AS TIMESTAMPTZ), CAST($grain AS VARCHAR),
                         CAST($policy AS VARCHAR), CAST($token_policy AS VARCHAR))
    GROUP BY ALL
)
SELECT
    coalesce(b.period, a.period) AS period,
    coalesce(b.currency, a.currency) AS currency,
    CAST(coalesce(b.billed, 0) AS DECIMAL(38, 12)) AS billed,
    CAST(coalesce(a.attributed, 0) AS DECIMAL(38, 12)) AS attributed,
    CAST(coalesce(a.unattributed, 0) AS DECIMAL(38, 12)) AS unattributed,
    CAST(coalesce(b.billed, 0) - coalesce(a.attributed, 0) - coalesce(a.unattributed, 0)
         AS DECIMAL(38, 12)) AS difference
FROM billed AS b
FULL JOIN alloc AS a
  ON a.period IS NOT DISTINCT FROM b.period AND a.currency IS NOT DISTINCT FROM b.currency
ORDER BY period, currency NULLS LAST;
