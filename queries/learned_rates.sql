-- What the bill itself charged per token: billed money over billed tokens, per model and token type.
-- purpose: the input of `costlab prices learn`: prices for models the catalogue does not know and
--   the effective discount on the ones it does, learned from the bill's own token lines.
-- parameters: $since, $until TIMESTAMPTZ or NULL on charge_period_start, [since, until).
-- grain: provider, model, token_type, service_tier, currency.
-- notes:
--   Only Usage lines counted by the reconciliation's double-count rule (charges_llm.counted),
--     with a model, a token type, a known billed_cost and tokens > 0: a line without its token
--     count gives no unit price (Anthropic's cost report, OpenAI costs without quantities).
--   list_cost is summed only where every line has one (else NULL: unknown, not 0).
SELECT
    provider,
    model,
    token_type,
    coalesce(service_tier, 'standard') AS service_tier,
    billing_currency AS currency,
    CAST(sum(tokens) AS DECIMAL(38, 0)) AS tokens,
    CAST(sum(billed_cost) AS DECIMAL(38, 12)) AS billed,
    CASE WHEN count(list_cost) = count(*) THEN CAST(sum(list_cost) AS DECIMAL(38, 12)) END AS list_cost,
    count(*) AS lines,
    min(source_format) AS source_format,
    min(CAST(timezone('UTC', charge_period_start) AS DATE)) AS first_day,
    max(CAST(timezone('UTC', charge_period_start) AS DATE)) AS last_day
FROM charges_llm
WHERE counted
  AND charge_category = 'Usage'
  AND model IS NOT NULL AND token_type IS NOT NULL
  AND billed_cost IS NOT NULL AND tokens > 0
  AND (CAST($since AS TIMESTAMPTZ) IS NULL OR charge_period_start >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR charge_period_start < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY provider, model, token_type, service_tier, currency;
