-- Explain the gap, the evidence: the bill lines and calls behind each cause of gap_causes.
-- purpose: drill from a cause of queries/gap_causes.sql to what makes it: its bill lines (or
--   calls) summed per provider, model, project, workflow and service, the largest first.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive): bill
--   lines on charge_period_start, calls on start_time.
-- grain: currency, cause, provider, model, project_id, workflow, service; at most 10 rows per
--   currency and cause (the largest |amount|), rows of amount 0 left out.
-- columns: currency, cause, provider, model (the bill's normalised model; for traced_not_billed the
--   call's model; for unexplained the reconciliation key), project_id (the line's project_id, else
--   api_key_id), workflow (the line's resolved workflow, or the call's), service (service_name; for a
--   line that is not tokens 'service_name / compute_kind', e.g. 'Amazon OpenSearch Service / storage'),
--   amount (what the rows add to the cause), lines (bill lines or calls summed), pos (1 = largest).
-- notes:
--   The classes, their order and the amounts are those of queries/gap_causes.sql (same
--     fragments/gap_lines). unexplained is shown per (provider, reconciliation key): the matched
--     lines, less their discounts and sub-causes, less the cost of the calls of that key a bill
--     line covers.
WITH
-- include: fragments/gap_lines
,
line_rows AS (
    SELECT currency, line_class AS cause, provider, model, coalesce(project_id, api_key_id) AS project_id,
           workflow,
           CASE WHEN is_token THEN service_name
                ELSE concat_ws(' / ', service_name, coalesce(compute_kind, 'unknown')) END AS service,
           billed_cost AS amount, CAST(1 AS BIGINT) AS n
    FROM gap_classed
    WHERE line_class <> 'matched'
    UNION ALL
    SELECT currency, 'discounts', provider, model, coalesce(project_id, api_key_id), workflow,
           service_name, discount, CAST(1 AS BIGINT)
    FROM gap_classed
    WHERE line_class = 'matched' AND discount <> 0
    UNION ALL
    SELECT currency, sub_cause, provider, model, coalesce(project_id, api_key_id), workflow,
           service_name, sub_amount, CAST(1 AS BIGINT)
    FROM gap_classed
    WHERE sub_cause IS NOT NULL
    UNION ALL
    SELECT cost_currency, 'traced_not_billed', provider, model, CAST(NULL AS VARCHAR), workflow,
           CAST(NULL AS VARCHAR), -cost, n_calls
    FROM gap_unbilled
),
matched_keys AS (
    SELECT currency, provider, model_key, sum(billed_cost - discount - sub_amount) AS amount, count(*) AS n
    FROM gap_classed
    WHERE line_class = 'matched'
    GROUP BY ALL
),
billed_calls AS (
    -- the priced calls a bill line covers (the rest are traced_not_billed)
    SELECT k.cost_currency AS currency, k.provider, k.model_key, -sum(k.cost) AS amount,
           CAST(sum(k.n_calls) AS BIGINT) AS n
    FROM gap_calls AS k
    WHERE k.cost IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM gap_unbilled AS u
                      WHERE u.cost_currency = k.cost_currency
                        AND u.provider IS NOT DISTINCT FROM k.provider
                        AND u.model_key IS NOT DISTINCT FROM k.model_key)
    GROUP BY ALL
),
rest_rows AS (
    SELECT currency, 'unexplained' AS cause, provider, model_key AS model, CAST(NULL AS VARCHAR) AS project_id,
           CAST(NULL AS VARCHAR) AS workflow, CAST(NULL AS VARCHAR) AS service, sum(amount) AS amount,
           sum(n) AS lines
    FROM (SELECT * FROM matched_keys UNION ALL SELECT * FROM billed_calls) AS r
    GROUP BY ALL
),
grouped AS (
    SELECT currency, cause, provider, model, project_id, workflow, service, sum(amount) AS amount,
           CAST(sum(n) AS BIGINT) AS lines  -- bill lines, or calls (n_calls) for traced_not_billed
    FROM line_rows
    GROUP BY ALL
    UNION ALL
    SELECT * FROM rest_rows
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY currency, cause
                              ORDER BY abs(amount) DESC, provider NULLS LAST, model NULLS LAST,
                                       project_id NULLS LAST, workflow NULLS LAST, service NULLS LAST) AS pos
    FROM grouped
    WHERE amount <> 0
)
SELECT currency, cause, provider, model, project_id, workflow, service,
       CAST(amount AS DECIMAL(38, 12)) AS amount, CAST(lines AS BIGINT) AS lines, pos
FROM ranked
WHERE pos <= 10
ORDER BY currency NULLS LAST, cause, pos;
