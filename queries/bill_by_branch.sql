-- The whole bill by repository, branch and ticket: what a feature cost on the invoice, not only in the traces.
-- purpose: each workflow's share of the bill (queries/allocation.sql: a workspace or project mapped
--   in [attribution.projects], a tag, or the traced share of a model's tokens) split across the
--   repositories, branches and tickets of its traced calls (Claude Code, Codex: calls.repo, branch,
--   calls_attributed.ticket) in proportion to their traced cost in the same period and currency.
--   Money of a workflow without traced calls stays on a '(none)' row of that workflow; the bill's
--   'unattributed' bucket is its own row. The rows sum to the bill per currency.
-- parameters: $since, $until TIMESTAMPTZ or NULL; $grain, $policy, $token_policy as in
--   queries/allocation.sql (needs costlab.attribution.register()).
-- allowed: grain = month | day
-- allowed: policy = proportional | even | tag | none
-- allowed: token_policy = traced | proportional
-- grain: repo, branch, ticket, currency (repo 'unattributed' = the bill's unattributed bucket).
-- notes:
--   Exact: within a workflow, period and currency each share (billed x a DOUBLE ratio of traced
--     costs, about 16 significant digits) is rounded to 12 decimals and the largest share takes
--     the remainder, so each workflow's rows sum to its allocated money on both engines.
--   traced_cost: the priced calls' cost, beside the billed money, not in its sum.
WITH alloc AS (
    SELECT period, currency, workflow, sum(amount) AS billed
    FROM allocation_rows(CAST($since AS TIMESTAMPTZ), CAST($until AS TIMESTAMPTZ), CAST($grain AS VARCHAR),
                         CAST($policy AS VARCHAR), CAST($token_policy AS VARCHAR))
    GROUP BY ALL
),
branch_traced AS (
    SELECT
        CAST(CASE WHEN $grain = 'day' THEN date_trunc('day', timezone('UTC', start_time))
                  ELSE date_trunc('month', timezone('UTC', start_time)) END AS DATE) AS period,
        cost_currency AS currency,
        workflow,
        repo,
        branch,
        ticket,
        sum(cost) AS traced_cost
    FROM calls_attributed
    WHERE cost IS NOT NULL
      AND
-- include: fragments/in_period | at = start_time
    GROUP BY ALL
),
shares AS (
    SELECT
        a.period, a.currency, a.workflow, t.repo, t.branch, t.ticket, a.billed, t.traced_cost,
        CASE WHEN sum(t.traced_cost) OVER w > 0
             -- the ratio alone in DOUBLE: billed * traced_cost as DECIMAL(38,24) overflows past 1e14
             THEN
-- include: fragments/money_of_double | x = a.billed * (CAST(t.traced_cost AS DOUBLE) / CAST(sum(t.traced_cost) OVER w AS DOUBLE))
             ELSE a.billed END AS _part,
        row_number() OVER (PARTITION BY a.period, a.currency, a.workflow
                           ORDER BY t.traced_cost DESC NULLS LAST, t.repo, t.branch, t.ticket) AS _rank
    FROM alloc AS a
    LEFT JOIN branch_traced AS t
      ON t.period = a.period AND t.currency = a.currency AND t.workflow IS NOT DISTINCT FROM a.workflow
    WINDOW w AS (PARTITION BY a.period, a.currency, a.workflow)
),
exact AS (
    SELECT *,
           CASE WHEN _rank = 1
                THEN billed - (sum(_part) OVER (PARTITION BY period, currency, workflow) - _part)
                ELSE _part END AS amount
    FROM shares
),
named AS (
    SELECT
        CASE WHEN workflow = 'unattributed' THEN 'unattributed' ELSE coalesce(repo, '(none)') END AS r_repo,
        coalesce(branch, '(none)') AS r_branch,
        coalesce(ticket, '(none)') AS r_ticket,
        currency,
        amount,
        traced_cost
    FROM exact
)
SELECT
    r_repo AS repo,
    r_branch AS branch,
    r_ticket AS ticket,
    currency,
    CAST(sum(amount) AS DECIMAL(38, 12)) AS billed,
    CAST(sum(traced_cost) AS DECIMAL(38, 12)) AS traced_cost
FROM named
GROUP BY r_repo, r_branch, r_ticket, currency
ORDER BY currency, r_repo = 'unattributed', billed DESC, r_repo, r_branch, r_ticket;
