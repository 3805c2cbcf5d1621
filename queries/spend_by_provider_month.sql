-- Billed and effective money per provider, month and currency, from billing exports.
-- purpose: the monthly bill per provider as the billing exports state it (`costlab query` example).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive)
-- grain: service_provider_name, month, billing_currency
-- notes:
--   Currencies are never added together; negative lines (credits, refunds, reversals) net in.
SELECT
    coalesce(service_provider_name, '(unknown)') AS provider,
    strftime(timezone('UTC', charge_period_start), '%Y-%m') AS month,
    billing_currency AS currency,
    sum(billed_cost) AS billed_cost,
    sum(effective_cost) AS effective_cost,
    count(*) AS lines,
    list(DISTINCT source_format ORDER BY source_format) AS sources
FROM charges
WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR charge_period_start >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR charge_period_start < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY month, provider, currency;
