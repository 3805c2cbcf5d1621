-- The whole bill by workflow: every billed dollar of the period, the unattributed bucket included.
-- purpose: "where did the money go" at the level a lead reads: the allocation of queries/allocation.sql
--   summed per workflow, split into token and other money, beside the traced cost of the same
--   workflow; its amounts sum to the bill (allocation_check's billed) per currency.
-- parameters: $since, $until TIMESTAMPTZ or NULL; $grain, $policy, $token_policy as in
--   queries/allocation.sql (needs costlab.attribution.register()).
-- allowed: grain = month | day
-- allowed: policy = proportional | even | tag | none
-- allowed: token_policy = traced | proportional
-- grain: workflow ('unattributed' = the explicit bucket), currency.
-- notes:
--   team: [attribution.teams] of the workflow, NULL for the unattributed bucket and for workflows
--     without a team. traced_cost: priced calls of the workflow in the same currency and period
--     (NULL when none); it is not part of the bill's sum, only beside it.
WITH alloc AS (
    SELECT
        workflow,
        currency,
        sum(amount) AS billed,
        sum(amount) FILTER (WHERE compute_kind = 'tokens') AS token_cost,
        sum(amount) FILTER (WHERE compute_kind <> 'tokens') AS other_cost
    FROM allocation_rows(CAST($since AS TIMESTAMPTZ), CAST($until AS TIMESTAMPTZ), CAST($grain AS VARCHAR),
                         CAST($policy AS VARCHAR), CAST($token_policy AS VARCHAR))
    GROUP BY ALL
),
wf_traced AS (
    SELECT workflow, cost_currency AS currency, sum(cost) AS traced_cost
    FROM calls_attributed
    WHERE cost IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
    GROUP BY ALL
)
SELECT
    a.workflow,
    CASE WHEN a.workflow = 'unattributed' THEN NULL ELSE tm.value END AS team,
    a.currency,
    CAST(a.billed AS DECIMAL(38, 12)) AS billed,
    CAST(a.token_cost AS DECIMAL(38, 12)) AS token_cost,
    CAST(a.other_cost AS DECIMAL(38, 12)) AS other_cost,
    CAST(t.traced_cost AS DECIMAL(38, 12)) AS traced_cost
FROM alloc AS a
LEFT JOIN wf_traced AS t ON t.workflow = a.workflow AND t.currency = a.currency
LEFT JOIN attribution_rules AS tm ON tm.kind = 'team' AND tm.key = a.workflow
ORDER BY a.currency, a.workflow = 'unattributed', a.billed DESC, a.workflow;
