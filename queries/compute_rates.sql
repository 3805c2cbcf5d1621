-- What a self-hosted model costs per token: the compute its workflow is billed, over its tokens.
-- purpose: the self-hosted half of `costlab prices learn`. A model no catalogue prices and no
--   token line bills (vLLM, TGI or Ollama on rented GPUs) still runs on compute the bill charges.
--   When every traced call of a workflow in the period is that one unpriced model, the Compute
--   (and AI and Machine Learning) usage lines attributed to the workflow, divided by the model's
--   tokens, is one blended price per token at which its calls sum to that compute bill.
-- parameters: $since, $until TIMESTAMPTZ or NULL, [since, until), on the calls' start_time and
--   the charges' charge_period_start.
-- grain: provider, model, workflow, currency.
-- notes:
--   A workflow that also calls a priced model is skipped: its compute cannot be split by model.
--   Storage, network and other lines tagged to the workflow are not compute and are left out.
--   input_tokens is inclusive of cache reads and writes (docs/schema.md), so tokens = input +
--   output counts every token once.
WITH period_calls AS (
    SELECT workflow, provider, model, cost_source, input_tokens, cache_read_tokens,
           cache_write_tokens, output_tokens
    FROM calls
    WHERE workflow IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
sole_model AS (
    SELECT
        workflow,
        min(provider) AS provider,
        min(model) AS model,
        count(*) AS calls,
        CAST(sum(coalesce(input_tokens, 0)) AS DECIMAL(38, 0)) AS input_tokens,
        CAST(sum(coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS DECIMAL(38, 0))
            AS cache_tokens,
        CAST(sum(coalesce(output_tokens, 0)) AS DECIMAL(38, 0)) AS output_tokens
    FROM period_calls
    GROUP BY workflow
    HAVING count(DISTINCT provider) = 1 AND count(DISTINCT model) = 1
       AND count(provider) = count(*) AND count(model) = count(*)
       AND bool_and(cost_source = 'unpriced')
),
compute AS (
    SELECT
        alloc_workflow AS workflow,
        billing_currency AS currency,
        CAST(sum(billed_cost) AS DECIMAL(38, 12)) AS billed,
        count(*) AS lines,
        min(source_format) AS source_format,
        string_agg(DISTINCT service_name, ', ' ORDER BY service_name) AS services,
        min(period_day) AS first_day,
        max(period_day) AS last_day
    FROM charges_attributed
    WHERE token_type IS NULL
      AND charge_category = 'Usage'
      AND service_category IN ('Compute', 'AI and Machine Learning')
      AND billed_cost IS NOT NULL
      AND alloc_workflow IS NOT NULL
      AND (CAST($since AS TIMESTAMPTZ) IS NULL OR charge_period_start >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR charge_period_start < CAST($until AS TIMESTAMPTZ))
    GROUP BY ALL
)
SELECT
    s.provider, s.model, s.workflow, c.currency, s.calls, s.input_tokens, s.cache_tokens,
    s.output_tokens, c.billed, c.lines, c.source_format, c.services, c.first_day, c.last_day
FROM sole_model AS s
JOIN compute AS c USING (workflow)
WHERE s.input_tokens + s.output_tokens > 0 AND c.billed > 0
ORDER BY s.provider, s.model, s.workflow, c.currency;
