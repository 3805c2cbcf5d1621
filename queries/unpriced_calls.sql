-- Calls costlab could not price, with their tokens: listed in every report, never costed at zero.
-- purpose: show what the totals leave out and why, so a price override can fix it.
-- parameters: $since, $until TIMESTAMPTZ or NULL on calls.start_time, [since, until).
-- grain: provider, model, reason.
-- notes:
--   reason: 'no usage' (the source gave no token counts), 'no price' (no price model or cell for the
--     model at that time: add an override), 'provisioned' (PTU calls are billed by the hour, not per
--     token), 'inconsistent tokens' (cache or reasoning parts larger than their total).
SELECT
    coalesce(provider, '(none)') AS provider,
    coalesce(model, '(none)') AS model,
    CASE
        WHEN coalesce(usage_source, 'missing') = 'missing' OR input_tokens IS NULL THEN 'no usage'
        WHEN service_tier = 'provisioned' THEN 'provisioned'
        WHEN price_model IS NOT NULL
         AND (input_tokens < coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)
              OR coalesce(output_tokens, 0) < coalesce(reasoning_tokens, 0)) THEN 'inconsistent tokens'
        ELSE 'no price'
    END AS reason,
    CAST(sum(n_calls) AS BIGINT) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    min(start_time) AS first_seen,
    max(last_start_time) AS last_seen
FROM calls
WHERE cost_source = 'unpriced'
  AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
GROUP BY ALL
ORDER BY calls DESC, provider, model, reason;
