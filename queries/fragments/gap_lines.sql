-- gap_lines: the bill lines and traced calls of the period, each bill line in one gap class.
-- purpose: the shared start of queries/gap_causes.sql and queries/gap_evidence.sql, included after
--   `WITH`; the classes, their order and their amounts are documented in gap_causes.sql.
--   CTEs: gap_charges (every charge of the period with billed_cost, as allocation_check sums it,
--   with the LLM facts of charges_llm joined on row_key, unique in a lake), gap_calls (the calls
--   of the period), gap_models / gap_providers (what the traces say per reconciliation key and per
--   provider), gap_twins (token lines identical to a counted line of a better-ranked source),
--   gap_classed (each line's class, sub-cause and amounts), gap_billed_keys (where the bill has a
--   token usage line), gap_unbilled (priced calls no bill line covers).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive): bill
--   lines on charge_period_start, calls on start_time.
-- grain: CTEs (see purpose).
gap_charges AS (
    SELECT
        a.row_key AS rk,
        a.billing_currency AS currency,
        a.billed_cost,
        a.list_cost,
        a.charge_category,
        a.token_type,
        a.tokens,
        a.project_id,
        a.api_key_id,
        a.alloc_workflow AS workflow,
        a.service_name,
        a.compute_kind,
        a.model,
        a.source_format,
        a.period_day AS day,
        l.row_key IS NOT NULL AS is_token,
        coalesce(l.counted, TRUE) AS counted,
        l.billing_source,
        l.source_rank,
        coalesce(l.provider, nullif(lower(trim(coalesce(a.service_provider_name, a.host_provider_name))), ''))
            AS provider,
-- include: fragments/reconciliation_key | model = a.model
            AS model_key,
        -- what the line says about its context band (see long_context below)
        lower(concat_ws(' ', a.charge_description, a.sku_meter, a.sku_id, a.token_type,
                        a.tags['context_window'])) AS _band_text
    FROM charges_attributed AS a
    LEFT JOIN charges_llm AS l ON l.row_key = a.row_key
    WHERE a.billed_cost IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR a.charge_period_start >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR a.charge_period_start < CAST($until AS TIMESTAMPTZ))
),
gap_calls AS (
    SELECT
        provider,
        model,
-- include: fragments/reconciliation_key | model = model
            AS model_key,
        workflow,
        cost,
        cost_currency,
        cache_write_1h_tokens,
        reasoning_tokens,
        max_input_tokens,
        n_calls
    FROM calls
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
gap_models AS (
    -- per reconciliation key; calls without one form a NULL-key row that no equality join meets
    SELECT provider, model_key,
           CAST(sum(n_calls) AS BIGINT) AS calls,
           CAST(coalesce(sum(n_calls) FILTER (WHERE cost IS NOT NULL), 0) AS BIGINT) AS priced_calls,
           sum(coalesce(cache_write_1h_tokens, 0)) AS w1h_tokens,
           sum(coalesce(reasoning_tokens, 0)) AS reasoning_tokens,
           max(coalesce(max_input_tokens, 0)) AS max_input
    FROM gap_calls
    GROUP BY ALL
),
gap_providers AS (
    -- a bill line without a model (a Costs API pull not grouped by line item) meets its provider
    SELECT provider, sum(calls) AS calls, sum(priced_calls) AS priced_calls, sum(w1h_tokens) AS w1h_tokens,
           sum(reasoning_tokens) AS reasoning_tokens, max(max_input) AS max_input
    FROM gap_models
    GROUP BY ALL
),
gap_workflows AS (
    SELECT DISTINCT workflow FROM gap_calls WHERE workflow IS NOT NULL
),
gap_twins AS (
    SELECT DISTINCT x.rk
    FROM gap_charges AS x
    JOIN gap_charges AS y
      ON x.is_token AND y.is_token AND y.counted
     AND y.source_format <> x.source_format
     AND y.currency IS NOT DISTINCT FROM x.currency
     AND y.provider IS NOT DISTINCT FROM x.provider
     AND y.day = x.day
     AND y.model_key IS NOT DISTINCT FROM x.model_key
     AND y.token_type IS NOT DISTINCT FROM x.token_type
     AND y.tokens IS NOT DISTINCT FROM x.tokens
     AND y.billed_cost = x.billed_cost
     AND (y.source_rank < x.source_rank
          OR (y.source_rank = x.source_rank AND y.billing_source < x.billing_source))
),
gap_met AS (
    SELECT
        c.*,
        t.rk IS NOT NULL AS is_twin,
        w.workflow IS NOT NULL AS workflow_traced,
        CASE WHEN c.model_key IS NULL THEN p.calls ELSE m.calls END AS m_calls,
        CASE WHEN c.model_key IS NULL THEN p.priced_calls ELSE m.priced_calls END AS m_priced,
        CASE WHEN c.model_key IS NULL THEN p.w1h_tokens ELSE m.w1h_tokens END AS m_w1h,
        CASE WHEN c.model_key IS NULL THEN p.reasoning_tokens ELSE m.reasoning_tokens END AS m_reasoning,
        CASE WHEN c.model_key IS NULL THEN p.max_input ELSE m.max_input END AS m_max_input
    FROM gap_charges AS c
    LEFT JOIN gap_twins AS t ON t.rk = c.rk
    LEFT JOIN gap_workflows AS w ON w.workflow = c.workflow
    LEFT JOIN gap_models AS m ON m.provider IS NOT DISTINCT FROM c.provider AND m.model_key = c.model_key
    LEFT JOIN gap_providers AS p ON p.provider IS NOT DISTINCT FROM c.provider
),
gap_class AS (
    SELECT
        *,
        CASE
            WHEN coalesce(charge_category, 'Usage') <> 'Usage' OR billed_cost < 0 THEN 'credits_and_adjustments'
            WHEN NOT is_token THEN 'non_token_charges'
            WHEN NOT counted OR is_twin THEN 'duplicate_exports'
            WHEN (workflow IS NOT NULL AND NOT workflow_traced)
              OR (workflow IS NULL AND coalesce(project_id, api_key_id) IS NOT NULL) THEN 'untraced_projects'
            WHEN coalesce(m_calls, 0) = 0 THEN 'models_never_traced'
            WHEN m_priced = 0 THEN 'unpriced_calls'
            ELSE 'matched'
        END AS line_class,
        coalesce(list_cost, billed_cost) AS _list,
        -- a long-context band named by the line: Anthropic's context_window '200k-1M', OpenAI's
        -- ', long context' line items, Azure's 'longco' meters, '>200k' SKUs
        (_band_text LIKE '%long%context%' OR _band_text LIKE '%longco%'
         OR _band_text LIKE '%200k-%' OR _band_text LIKE '%>%200k%') AS long_context
    FROM gap_met
),
gap_classed AS (
    SELECT
        *,
        CASE WHEN line_class = 'matched' AND list_cost IS NOT NULL THEN billed_cost - list_cost
             ELSE CAST(0 AS DECIMAL(38, 12)) END AS discount,
        CASE WHEN line_class <> 'matched' THEN NULL
             WHEN token_type = 'input_cache_write_1h' AND m_w1h = 0 THEN 'cache_write_ttl'
             WHEN long_context AND m_max_input <= 200000 THEN 'long_context'
             WHEN token_type = 'reasoning' AND m_reasoning = 0 THEN 'reasoning_tokens'
        END AS sub_cause,
        CAST(CASE WHEN line_class <> 'matched' THEN 0
                  WHEN token_type = 'input_cache_write_1h' AND m_w1h = 0 THEN _list * 0.375
                  WHEN long_context AND m_max_input <= 200000 THEN
                      CASE WHEN token_type IN ('output', 'reasoning', 'output_audio') THEN _list * 0.333333333333
                           ELSE _list * 0.5 END
                  WHEN token_type = 'reasoning' AND m_reasoning = 0 THEN _list
                  ELSE 0 END AS DECIMAL(38, 12)) AS sub_amount
    FROM gap_class
),
gap_billed_keys AS (
    -- where the bill has a token usage line (any class but credits), per currency
    SELECT DISTINCT currency, provider, model_key
    FROM gap_classed
    WHERE is_token AND line_class <> 'credits_and_adjustments'
),
gap_unbilled AS (
    -- priced calls in a currency no bill line of their provider and model is in
    SELECT k.*
    FROM gap_calls AS k
    LEFT JOIN gap_billed_keys AS b
      ON b.currency = k.cost_currency
     AND b.provider IS NOT DISTINCT FROM k.provider
     AND (b.model_key IS NULL OR b.model_key = k.model_key)
    WHERE k.cost IS NOT NULL AND b.currency IS NULL
)
