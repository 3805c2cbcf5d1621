-- Reconciliation over the period: the bill vs provider usage priced vs traced calls priced.
-- purpose: the same three amounts over the whole period, per provider and model, with a verdict
--   on whether the traces can be trusted.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive); each
--         source is filtered on its own time: charge_period_start, usage period_start, call start_time.
-- grain: provider, model (reconciliation key), currency over [$since, $until).
-- notes:
--   Columns are those of queries/reconciliation.sql (see its header) summed over the period, plus
--     first_day / last_day   the first and last UTC day with data from any of the three sources
--     billed_until           the end of the latest counted charge period
--     verdict                first match wins:
--       'only in superseded source' the only bill lines are in a billing source left out as a
--                                  double count: the two sources may not be the same bill after all
--       'no billing data'          usage or traces but no bill line in this currency
--       'different currency'       (either side) the other side exists only in another currency
--                                  for this provider and model: not comparable without a rate
--       'no traces'                billed, but no traced call at all
--       'nothing billed'           billed is 0 or negative (credits are in `credits`, not here)
--       'bill extends past period' a counted charge period ends after $until (a monthly bill cut
--                                  by the period): shorten the period to whole billing months
--       'unpriced calls'           coverage under 95% (or unknown) and some calls are unpriced:
--                                  price them (a [[model]] override) before judging the traces
--       'untraced spend'           coverage < 95%: calls the traces do not show
--       'traces exceed bill'       coverage > 105%: traces count calls twice, price above the
--                                  bill (discounts, credits, batch not marked) or run elsewhere
--       'traces explain the bill'  coverage within 95%-105% (inclusive)
--   Day assignment: a charge counts in the period when its charge period starts inside it
--   (charge_period_start's UTC day; monthly charges are not pro-rated). Over whole billing months
--   daily traces and monthly bills line up; for a part of a month the verdict says so.
WITH f AS (
    SELECT *
    FROM reconciliation_facts
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR starts_at >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR starts_at < CAST($until AS TIMESTAMPTZ))
),
priced AS (
    SELECT
        provider, model, currency,
        max(ends_at) FILTER (WHERE kind = 'billed' AND counted) AS billed_until,
        min(day) AS _first, max(day) AS _last,
-- include: fragments/reconciliation_amounts
    FROM f
    WHERE amount IS NOT NULL
    GROUP BY ALL
),
unpriced AS (
    SELECT
        provider, model,
        count(*) FILTER (WHERE kind = 'usage') AS usage_unpriced_rows,
        CAST(coalesce(sum(n_calls) FILTER (WHERE kind = 'traced'), 0) AS BIGINT) AS unpriced_calls,
        min(day) AS _first, max(day) AS _last
    FROM f
    WHERE amount IS NULL AND kind IN ('usage', 'traced')
    GROUP BY ALL
),
joined AS (
    SELECT
        coalesce(p.provider, u.provider) AS provider,
        coalesce(p.model, u.model) AS model,
        p.* EXCLUDE (provider, model, _first, _last),
        least(p._first, u._first) AS first_day,
        greatest(p._last, u._last) AS last_day,
        u.usage_unpriced_rows AS _usage_unpriced,
        u.unpriced_calls AS _unpriced_calls,
        row_number() OVER (
            PARTITION BY coalesce(p.provider, u.provider), coalesce(p.model, u.model)
            ORDER BY p.currency NULLS LAST) AS _nth
    FROM priced AS p
    FULL OUTER JOIN unpriced AS u
      ON p.provider IS NOT DISTINCT FROM u.provider
     AND p.model IS NOT DISTINCT FROM u.model
),
-- include: fragments/reconciliation_measures
, counted AS (
    SELECT
        *,
        count(billed) OVER (PARTITION BY provider, model) AS _billed_rows,
        count(traced) OVER (PARTITION BY provider, model) AS _traced_rows
    FROM measured
)
SELECT
    provider,
    model,
    currency,
    billed,
    usage_priced,
    traced,
    coverage,
    gap,
    CASE
        WHEN billed IS NULL AND traced IS NOT NULL AND _billed_rows > 0 THEN 'different currency'
        WHEN billed IS NULL AND billed_excluded IS NOT NULL THEN 'only in superseded source'
        WHEN billed IS NULL THEN 'no billing data'
        WHEN traced IS NULL AND unpriced_calls = 0 AND _traced_rows > 0 THEN 'different currency'
        WHEN traced_calls + unpriced_calls = 0 THEN 'no traces'
        WHEN billed <= 0 THEN 'nothing billed'
        WHEN CAST($until AS TIMESTAMPTZ) IS NOT NULL
             AND billed_until > CAST($until AS TIMESTAMPTZ) THEN 'bill extends past period'
        WHEN unpriced_calls > 0 AND (coverage IS NULL OR coverage < 0.95) THEN 'unpriced calls'
        WHEN coverage < 0.95 THEN 'untraced spend'
        WHEN coverage > 1.05 THEN 'traces exceed bill'
        ELSE 'traces explain the bill'
    END AS verdict,
    traced_calls,
    unpriced_calls,
    usage_unpriced_rows,
    usage_coverage,
    credits,
    billed_excluded,
    billing_source,
    superseded_sources,
    bill_grain,
    first_day,
    last_day,
    billed_until
FROM counted
ORDER BY provider NULLS LAST, currency NULLS LAST, billed DESC NULLS LAST, traced DESC NULLS LAST,
         model NULLS LAST;
