-- Provider-reported token usage (no money) per provider and model.
-- params: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive)
-- grain: provider, model
-- input_tokens is inclusive of cache reads and writes (see SCHEMA.md); NULL sums stay NULL.
SELECT
    coalesce(provider, '(unknown)') AS provider,
    coalesce(model, '(unknown)') AS model,
    sum(requests) AS requests,
    sum(input_tokens) AS input_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(output_tokens) AS output_tokens
FROM usage
WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR period_start >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR period_start < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY input_tokens DESC NULLS LAST, provider, model;
