-- reconciliation_measures: the CTEs tidy and measured shared by both reconciliation queries.
-- purpose: from their CTE `joined` (the priced sums of fragments/reconciliation_amounts.sql full
--   outer joined with the counts of unpriced usage rows and calls, numbered _nth per group by
--   currency): tidy gives the unpriced counts to the group's first currency row only (they have no
--   currency, so they are counted once), NULL counts as 0, and bill_grain from the longest charge
--   period ('hour', 'day', 'multi-day'); measured adds coverage = traced / billed, gap = billed -
--   traced, usage_coverage = usage_priced / billed (ratios DOUBLE rounded to DECIMAL(18, 6); NULL
--   where nothing is billed, and coverage and gap NULL where only unpriced calls are traced).
-- parameters: none
-- grain: one row per row of `joined`.
tidy AS (
    SELECT
        * EXCLUDE (_bill_hours, _usage_unpriced, _unpriced_calls, _nth, traced_calls),
        coalesce(traced_calls, 0) AS traced_calls,
        CASE WHEN _nth = 1 THEN coalesce(_unpriced_calls, 0) ELSE 0 END AS unpriced_calls,
        CASE WHEN _nth = 1 THEN coalesce(_usage_unpriced, 0) ELSE 0 END AS usage_unpriced_rows,
        CASE WHEN _bill_hours IS NULL THEN NULL
             WHEN _bill_hours <= 1 THEN 'hour'
             WHEN _bill_hours <= 24 THEN 'day'
             ELSE 'multi-day' END AS bill_grain
    FROM joined
),
measured AS (
    SELECT
        *,
        CASE WHEN billed IS NULL OR billed = 0 THEN NULL
             WHEN traced IS NULL AND unpriced_calls > 0 THEN NULL
             ELSE CAST(CAST(coalesce(traced, 0) AS DOUBLE) / CAST(billed AS DOUBLE) AS DECIMAL(18, 6))
        END AS coverage,
        CASE WHEN traced IS NULL AND unpriced_calls > 0 THEN NULL
             ELSE billed - coalesce(traced, 0) END AS gap,
        CASE WHEN billed IS NULL OR billed = 0 OR usage_priced IS NULL THEN NULL
             ELSE CAST(CAST(usage_priced AS DOUBLE) / CAST(billed AS DOUBLE) AS DECIMAL(18, 6))
        END AS usage_coverage
    FROM tidy
)
