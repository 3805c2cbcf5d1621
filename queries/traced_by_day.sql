-- Traced call cost per day and currency: what the application logs explain, over time.
-- purpose: the traced line of the "cost over time" chart; unpriced calls are counted apart.
-- parameters: $since, $until TIMESTAMPTZ or NULL on calls.start_time, [since, until).
-- notes: a row of calls stands for n_calls calls (views/calls.sql): summed, never counted.
-- grain: day (UTC), currency (NULL currency = unpriced calls only: cost NULL, never 0).
SELECT
    CAST(timezone('UTC', start_time) AS DATE) AS day,
    cost_currency AS currency,
    sum(cost) AS cost,
    CAST(sum(n_calls) AS BIGINT) AS calls,
    CAST(coalesce(sum(n_calls) FILTER (WHERE cost IS NULL), 0) AS BIGINT) AS unpriced_calls
FROM calls
WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY day, currency NULLS LAST;
