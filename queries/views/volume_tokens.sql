-- volume_tokens: the calls' tokens per UTC day and price model, counted toward [[volume]] tiers.
-- purpose: what a price override file's volume tiers count (costlab.pricing.PriceBook.volume_factors,
--   called by costlab.views.volume_prices while the lake's prices are built): every token type of
--   the calls priced by one price model, summed per UTC day.
-- parameters: none (a view over `call_facts` and `model_prices`).
-- grain: one row per day, price_provider, price_model.
-- notes:
--   tokens = input_tokens (inclusive of cache reads and writes) + output_tokens (inclusive of
--     reasoning), as docs/schema.md defines them: each token counted once.
--   Only calls that can be token-priced count: usage present, a price model matched, not
--     'provisioned' (PTU is billed by the hour). call_facts, not the rollups: the same rows on
--     the per-call and the rollup path, so both price the same.
--   day is the call's UTC day (the lake's partition of start_time): the price rows are split at
--     UTC midnights, so a call meets the factor of the day counted here.
SELECT
    d.day,
    m.price_provider,
    m.price_model,
    sum(coalesce(d.input_tokens, 0) + coalesce(d.output_tokens, 0)) AS tokens
FROM call_facts AS d
JOIN model_prices AS m
    ON m.provider IS NOT DISTINCT FROM d.provider AND m.model = d.model
WHERE m.price_model IS NOT NULL
  AND coalesce(d.usage_source, 'missing') <> 'missing'
  AND coalesce(d.service_tier, 'standard') <> 'provisioned'
GROUP BY d.day, m.price_provider, m.price_model
ORDER BY d.day, m.price_provider, m.price_model
