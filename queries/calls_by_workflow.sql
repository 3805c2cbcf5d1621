-- Traced billable calls per workflow: count, tokens, and cost where known.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive)
-- grain: workflow, cost_currency
-- unpriced_calls counts calls without a cost: they are listed, never costed at zero.
SELECT
    coalesce(workflow, '(none)') AS workflow,
    count(*) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens,
    cost_currency AS currency,
    sum(cost) AS cost,
    count(*) FILTER (WHERE cost IS NULL) AS unpriced_calls
FROM calls
WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY calls DESC, workflow;
