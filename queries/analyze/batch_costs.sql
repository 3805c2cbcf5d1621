-- analyze/batch_costs: the cost of each token part, per workflow step and price model.
-- purpose: the batch analyzer re-prices each part at the model's batch/standard price ratio
--          (genai-prices batch tier), so cache reads that a provider does not discount again in
--          batch (OpenAI before GPT-5, Vertex) are not counted as saved. Calls already on a batch
--          or flex tier are counted apart (not eligible). pattern_cost is the cost of calls in the
--          batch-like pattern: off hours (UTC hour outside 08-20) or within +-1 h of the
--          workflow's busiest UTC hour.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive).
-- grain: workflow, step, provider (as the calls carry it, e.g. aws.bedrock), price_provider,
--        price_model (NULL workflow/step as '(none)').
WITH c AS (
    SELECT
        coalesce(workflow, '(none)') AS workflow, coalesce(step, '(none)') AS step,
        provider, price_provider, price_model, service_tier, cost,
        hour(timezone('UTC', start_time)) AS hr,
        (input_tokens - read_tokens - write_tokens) * p_uncached AS c_uncached,
        read_tokens * p_cache_read AS c_read,
        (write_tokens - write_1h_tokens) * p_cache_write_5m AS c_write_5m,
        write_1h_tokens * p_cache_write_1h AS c_write_1h,
        (output_tokens - reasoning_tok) * p_output AS c_output,
        reasoning_tok * p_reasoning AS c_reasoning
    FROM analyze_calls
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
top AS (
    SELECT workflow, arg_max(hr, n) AS top_hour
    FROM (SELECT workflow, hr, count(*) AS n FROM c GROUP BY ALL) GROUP BY workflow
),
eligible AS (
    SELECT c.*,
           (c.hr < 8 OR c.hr >= 20
            OR least(abs(c.hr - t.top_hour), 24 - abs(c.hr - t.top_hour)) <= 1) AS in_pattern
    FROM c JOIN top AS t USING (workflow)
)
SELECT
    workflow, step, provider, price_provider, price_model,
    count(*) AS calls,
    sum(cost) AS cost,
    sum(cost) FILTER (WHERE service_tier IN ('batch', 'flex')) AS batch_cost,
    sum(cost) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                        AND service_tier IS DISTINCT FROM 'flex') AS eligible_cost,
    sum(cost) FILTER (WHERE in_pattern AND service_tier IS DISTINCT FROM 'batch'
                        AND service_tier IS DISTINCT FROM 'flex') AS pattern_cost,
    sum(c_uncached) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                              AND service_tier IS DISTINCT FROM 'flex') AS c_uncached,
    sum(c_read) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                          AND service_tier IS DISTINCT FROM 'flex') AS c_read,
    sum(c_write_5m) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                              AND service_tier IS DISTINCT FROM 'flex') AS c_write_5m,
    sum(c_write_1h) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                              AND service_tier IS DISTINCT FROM 'flex') AS c_write_1h,
    sum(c_output) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                            AND service_tier IS DISTINCT FROM 'flex') AS c_output,
    sum(c_reasoning) FILTER (WHERE service_tier IS DISTINCT FROM 'batch'
                               AND service_tier IS DISTINCT FROM 'flex') AS c_reasoning
FROM eligible
GROUP BY ALL
ORDER BY workflow, step, provider, price_provider, price_model;
