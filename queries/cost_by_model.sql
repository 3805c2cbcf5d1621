-- Traced cost by provider and model.
-- grain: provider, model, currency. cost_per_call = cost / priced calls (DOUBLE rounded to
--   DECIMAL(38,12)).
-- Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--   they join their group's currency when the group has exactly one, else form a row with a NULL
--   currency and NULL cost. NULL dimensions show as '(none)'.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- Needs costlab.attribution.register() (view calls_attributed).
-- Tokens are summed in DECIMAL(38, 0): exact for any number of calls (costlab/limits.py).
WITH g AS (
    SELECT coalesce(provider, '(none)') AS provider, coalesce(model, '(none)') AS model,
           * EXCLUDE (provider, model)
    FROM calls_attributed
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
c AS (
    SELECT g.*, CASE WHEN g.cost_currency IS NULL AND min(g.cost_currency) OVER w = max(g.cost_currency) OVER w
             THEN min(g.cost_currency) OVER w ELSE g.cost_currency END AS currency
    FROM g WINDOW w AS (PARTITION BY g.provider, g.model)
)
SELECT
    g.provider,
    g.model,
    g.currency,
    count(*) AS calls,
    sum(CAST(g.input_tokens AS DECIMAL(38, 0))) AS input_tokens,
    sum(CAST(g.output_tokens AS DECIMAL(38, 0))) AS output_tokens,
    sum(g.cost) AS cost,
    count(*) FILTER (WHERE g.cost IS NULL) AS unpriced_calls,
    CAST(sum(g.cost) / nullif(count(g.cost), 0) AS DECIMAL(38, 12)) AS cost_per_call
FROM c AS g
GROUP BY g.provider, g.model, g.currency
ORDER BY cost DESC NULLS LAST, calls DESC, g.provider, g.model, g.currency NULLS LAST;
