-- Billed money per day, provider and currency: the bill over time.
-- purpose: the "cost over time" chart and table of the report (what the invoices say).
-- parameters: $since, $until TIMESTAMPTZ or NULL; a charge counts when its charge_period_start is
--   in [since, until). A charge spanning several days (a monthly line) is dated by its start.
-- grain: day (UTC date of charge_period_start), provider, currency.
SELECT
    CAST(timezone('UTC', charge_period_start) AS DATE) AS day,
    coalesce(service_provider_name, host_provider_name, '(none)') AS provider,
    billing_currency AS currency,
    sum(billed_cost) AS billed_cost,
    sum(effective_cost) AS effective_cost
FROM charges
WHERE
-- include: fragments/in_period | at = charge_period_start
GROUP BY ALL
ORDER BY day, provider, currency;
