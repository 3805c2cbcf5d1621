-- allocation_rows: table macro behind queries/allocation.sql and queries/allocation_check.sql.
-- purpose: allocate every billed line (charges_attributed.billed_cost) to a workflow or to the
--   literal 'unattributed' bucket; the rules, bases and the exactness argument are documented in
--   the header of queries/allocation.sql.
-- grain: period, currency, workflow, compute_kind, basis (zero amounts left out).
-- parameters: none; the macro takes arguments instead: p_since, p_until TIMESTAMPTZ or NULL on
--   charge_period_start (and on calls' start_time for the weights); p_grain 'day' | 'month';
--   p_policy 'proportional' | 'even' | 'tag' | 'none'; p_token_policy 'traced' | 'proportional'.
CREATE OR REPLACE MACRO allocation_rows(p_since, p_until, p_grain, p_policy, p_token_policy) AS TABLE
WITH ch AS MATERIALIZED (
    -- billed lines in range, classified; NULL billed_cost is unknown money and is left out
    SELECT
        CAST(CASE WHEN p_grain = 'day' THEN date_trunc('day', timezone('UTC', c.charge_period_start))
                  ELSE date_trunc('month', timezone('UTC', c.charge_period_start)) END AS DATE) AS period,
        c.billing_currency AS currency,
        c.alloc_workflow AS workflow,
        CASE WHEN c.compute_kind = 'tokens' OR c.token_type IS NOT NULL THEN 'tokens'
             ELSE coalesce(c.compute_kind, 'unknown') END AS compute_kind,
        c.llm_model AS model,
        c.billed_cost AS amount
    FROM charges_attributed AS c
    WHERE c.billed_cost IS NOT NULL
      AND (CAST(p_since AS TIMESTAMPTZ) IS NULL OR c.charge_period_start >= CAST(p_since AS TIMESTAMPTZ))
      AND (CAST(p_until AS TIMESTAMPTZ) IS NULL OR c.charge_period_start < CAST(p_until AS TIMESTAMPTZ))
),
tc AS MATERIALIZED (
    -- traced calls in range (any currency, priced or not; weights filter further)
    SELECT
        CAST(CASE WHEN p_grain = 'day' THEN date_trunc('day', timezone('UTC', k.start_time))
                  ELSE date_trunc('month', timezone('UTC', k.start_time)) END AS DATE) AS period,
        k.cost_currency AS currency,
        k.workflow,
        k.model,
        k.cost
    FROM calls_attributed AS k
    WHERE (CAST(p_since AS TIMESTAMPTZ) IS NULL OR k.start_time >= CAST(p_since AS TIMESTAMPTZ))
      AND (CAST(p_until AS TIMESTAMPTZ) IS NULL OR k.start_time < CAST(p_until AS TIMESTAMPTZ))
),
model_keys AS MATERIALIZED (
    -- one matching key per model name, the same function on both sides (see allocation.sql)
    SELECT
        name,
        nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
            regexp_replace(regexp_replace(lower(trim(name)),
                '^.*/', ''),
                '^(us|eu|apac|global|us-gov|jp|au|ca)\.([a-z0-9-]+\.)', '\2'),
                '^(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer)\.', ''),
                '(:[0-9]+k?)+$', ''),
                '-(v1|latest)$', ''),
                '[-@_]([0-9]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4})$', ''),
                '[^a-z0-9]', '', 'g'), '') AS model_key
    FROM (SELECT model AS name FROM ch WHERE model IS NOT NULL
          UNION SELECT model FROM tc WHERE model IS NOT NULL)
),
-- 1. lines with a resolved workflow -------------------------------------------------------
direct AS (
    SELECT period, currency, workflow, compute_kind, 'tag' AS basis, amount
    FROM ch WHERE workflow IS NOT NULL
),
-- 2. token lines without a workflow: pools per (period, currency, model key) ---------------
tok_pool AS (
    SELECT ch.period, ch.currency, mk.model_key, sum(ch.amount) AS amount
    FROM ch LEFT JOIN model_keys AS mk ON mk.name = ch.model
    WHERE ch.workflow IS NULL AND ch.compute_kind = 'tokens'
    GROUP BY ALL
),
traced AS (
    -- traced cost per workflow (NULL: calls without a workflow, a share that stays unattributed)
    SELECT tc.period, tc.currency, mk.model_key, tc.workflow, sum(tc.cost) AS traced
    FROM tc JOIN model_keys AS mk ON mk.name = tc.model
    WHERE tc.cost IS NOT NULL AND mk.model_key IS NOT NULL
    GROUP BY ALL
    HAVING sum(tc.cost) > 0
),
tok_w AS (
    SELECT p.period, p.currency, p.model_key, p.amount, t.workflow, t.traced,
           sum(t.traced) OVER (PARTITION BY p.period, p.currency, p.model_key) AS total
    FROM tok_pool AS p
    JOIN traced AS t
      ON t.period = p.period AND t.currency = p.currency AND t.model_key = p.model_key
),
tok_share AS (
    SELECT *,
           -- 'traced' and the traces fit in the pool: each workflow gets its traced cost, exactly
           (p_token_policy = 'traced' AND total <= abs(amount)) AS exact_fit,
           -- the sign by CASE, not sign(): Spark's sign() is DOUBLE and made the share DOUBLE
           CASE WHEN p_token_policy = 'traced' AND total <= abs(amount)
                THEN CASE WHEN amount < 0 THEN -traced ELSE traced END
                ELSE
-- include: fragments/money_of_double | x = amount * (CAST(traced AS DOUBLE) / CAST(total AS DOUBLE))
                END AS share,
           row_number() OVER (PARTITION BY period, currency, model_key
                              ORDER BY abs(traced) DESC, workflow NULLS LAST) AS rk
    FROM tok_w
),
tok_fix AS (
    SELECT *, amount - sum(share) OVER (PARTITION BY period, currency, model_key) AS rest
    FROM tok_share
),
tok_alloc AS (
    -- shares; when scaled, the rounding remainder goes to the largest share
    SELECT period, currency,
           coalesce(workflow, 'unattributed') AS workflow,
           'tokens' AS compute_kind,
           CASE WHEN workflow IS NULL THEN 'workflow_unknown' ELSE p_token_policy END AS basis,
           share + CASE WHEN rk = 1 AND NOT exact_fit THEN rest ELSE 0 END AS amount
    FROM tok_fix
    UNION ALL
    -- 'traced': the pool beyond the traced cost
    SELECT period, currency, 'unattributed', 'tokens', 'untraced', rest
    FROM tok_fix WHERE rk = 1 AND exact_fit
    UNION ALL
    -- pools no trace explains (or without a model name)
    SELECT p.period, p.currency, 'unattributed', 'tokens',
           CASE WHEN p.model_key IS NULL THEN 'no_model' ELSE 'untraced' END, p.amount
    FROM tok_pool AS p
    WHERE NOT EXISTS (SELECT 1 FROM tok_w AS w
                      WHERE w.period = p.period AND w.currency = p.currency
                        AND w.model_key = p.model_key)
),
-- 3. other lines without a workflow: pools per (period, currency, compute_kind) -------------
token_money AS (
    -- attributed token money per workflow, the 'proportional' weight (positive only)
    SELECT period, currency, workflow, sum(amount) AS weight
    FROM (SELECT period, currency, workflow, amount FROM direct WHERE compute_kind = 'tokens'
          UNION ALL
          SELECT period, currency, workflow, amount FROM tok_alloc WHERE workflow <> 'unattributed'
                                                                     AND basis <> 'workflow_unknown')
    GROUP BY ALL
    HAVING sum(amount) > 0
),
nt_pool AS (
    SELECT period, currency, compute_kind, sum(amount) AS amount
    FROM ch WHERE workflow IS NULL AND compute_kind <> 'tokens'
    GROUP BY ALL
),
active AS (
    -- workflows with calls in the period, the 'even' participants
    SELECT DISTINCT period, workflow FROM tc WHERE workflow IS NOT NULL
),
weights AS (
    SELECT period, currency, workflow, weight FROM token_money WHERE p_policy = 'proportional'
    UNION ALL
    SELECT a.period, q.currency, a.workflow, CAST(1 AS DECIMAL(38, 12))
    FROM active AS a
    JOIN (SELECT DISTINCT period, currency FROM nt_pool) AS q ON q.period = a.period
    WHERE p_policy = 'even'
),
nt_w AS (
    SELECT p.period, p.currency, p.compute_kind, p.amount, w.workflow, w.weight,
           sum(w.weight) OVER (PARTITION BY p.period, p.currency, p.compute_kind) AS total
    FROM nt_pool AS p
    JOIN weights AS w
      ON w.period IS NOT DISTINCT FROM p.period AND w.currency IS NOT DISTINCT FROM p.currency
),
nt_share AS (
    SELECT *,
-- include: fragments/money_of_double | x = amount * (CAST(weight AS DOUBLE) / CAST(total AS DOUBLE))
           AS share,
           row_number() OVER (PARTITION BY period, currency, compute_kind
                              ORDER BY weight DESC, workflow) AS rk
    FROM nt_w
),
nt_fix AS (
    SELECT *, amount - sum(share) OVER (PARTITION BY period, currency, compute_kind) AS rest
    FROM nt_share
),
nt_alloc AS (
    SELECT period, currency, workflow, compute_kind, p_policy AS basis,
           share + CASE WHEN rk = 1 THEN rest ELSE 0 END AS amount
    FROM nt_fix
    UNION ALL
    SELECT p.period, p.currency, 'unattributed', p.compute_kind,
           CASE WHEN p_policy IN ('proportional', 'even') THEN 'no_workflows' ELSE 'no_policy' END,
           p.amount
    FROM nt_pool AS p
    WHERE NOT EXISTS (SELECT 1 FROM nt_w AS w
                      WHERE w.period IS NOT DISTINCT FROM p.period
                        AND w.currency IS NOT DISTINCT FROM p.currency
                        AND w.compute_kind = p.compute_kind)
),
all_rows AS (
    SELECT * FROM direct
    UNION ALL SELECT * FROM tok_alloc
    UNION ALL SELECT * FROM nt_alloc
)
SELECT period, currency, workflow, compute_kind, basis,
       CAST(sum(amount) AS DECIMAL(38, 12)) AS amount
FROM all_rows
GROUP BY period, currency, workflow, compute_kind, basis
HAVING sum(amount) <> 0
