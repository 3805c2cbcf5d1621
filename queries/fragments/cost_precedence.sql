-- cost_precedence: a priced row's cost, its currency and where it came from.
-- purpose: cost = computed_cost when the row could be priced, else the reported cost, else NULL
--   (unpriced: listed, never costed at zero); cost_source 'billed_rate' (computed at the rates a
--   bill charged for a model no catalogue knows), 'computed', 'reported' or 'unpriced'. Shared by
--   views/calls.sql and views/call_groups.sql, so a call and a rollup group follow one rule.
-- parameters: none; the row gives computed_cost, reported_cost, reported_cost_currency and
--   _price_currency. Substitutions: source (the matched price cell's source column).
-- grain: select-list items of one row (the last one without a comma).
    coalesce(computed_cost, reported_cost) AS cost,
    CASE WHEN computed_cost IS NOT NULL THEN _price_currency
         WHEN reported_cost IS NOT NULL THEN reported_cost_currency END AS cost_currency,
    CASE WHEN computed_cost IS NOT NULL AND starts_with({{source}}, 'billed rate') THEN 'billed_rate'
         WHEN computed_cost IS NOT NULL THEN 'computed'
         WHEN reported_cost IS NOT NULL THEN 'reported'
         ELSE 'unpriced' END AS cost_source
