-- price_tier: the price model and tier a call (or a rollup group of calls) is priced at.
-- purpose: price_provider, price_model and price_tier of a row `d` joined to its `model_prices`
--   row `m`, as select-list items (each followed by a comma), shared by views/calls.sql and
--   views/call_groups.sql so both pick a tier by one rule: the call's tier (batch, flex, priority;
--   Anthropic speed=fast or OpenAI 'fast') when the price model has prices for it, else standard
--   (genai-prices' rule); 'provisioned' calls are not token-priced (PTU is billed by the hour).
-- parameters: none; the including query gives `d` and `m`.
-- grain: select-list items of one row.
        m.price_provider,
        m.price_model,
        CASE
            WHEN m.price_model IS NULL OR d.service_tier = 'provisioned' THEN NULL
            WHEN d.tags['speed'] = 'fast' AND list_contains(m.price_tiers, 'fast') THEN 'fast'
            WHEN list_contains(m.price_tiers, d.service_tier) THEN d.service_tier
            ELSE 'standard'
        END AS price_tier,
