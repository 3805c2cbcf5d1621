-- Traced cost by provider and model.
-- purpose: which models the traced money goes to, with the cost of an average call.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per provider, model, currency. cost_per_call = cost / priced calls (DOUBLE
--   rounded to DECIMAL(38,12)).
-- notes:
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)'.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = coalesce(provider, '(none)') AS provider, coalesce(model, '(none)') AS model, * EXCLUDE (provider, model) | groups = g.provider, g.model | marks = false
SELECT
    g.provider,
    g.model,
    g.currency,
-- include: fragments/call_totals
    CAST(sum(g.cost) / nullif(sum(g.n_calls) FILTER (WHERE g.cost IS NOT NULL), 0) AS DECIMAL(38, 12)) AS cost_per_call
FROM c AS g
GROUP BY g.provider, g.model, g.currency
HAVING sum(g.n_calls) > 0  -- not a group of run or timing rows alone
ORDER BY cost DESC NULLS LAST, calls DESC, g.provider, g.model, g.currency NULLS LAST;
