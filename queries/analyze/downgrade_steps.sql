-- analyze/downgrade_steps: tokens by part and cost per workflow step, model and UTC day.
-- purpose: the downgrade analyzer re-prices the current model's tokens at a cheaper candidate's
--          prices valid on each day (costlab/analyze/downgrade.py); output stats (mean, p90)
--          feed the verbosity ratio and the candidate heuristics.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive).
-- grain: workflow, step, provider, price_provider, price_model, day (UTC), over priced USD calls.
SELECT
    coalesce(workflow, '(none)') AS workflow,
    coalesce(step, '(none)') AS step,
    provider, price_provider, price_model,
    CAST(timezone('UTC', start_time) AS DATE) AS day,
    count(*) AS calls,
    sum(cost) AS cost,
    sum(input_tokens - read_tokens - write_tokens) AS uncached_tokens,
    sum(read_tokens) AS read_tokens,
    sum(write_tokens - write_1h_tokens) AS write_5m_tokens,
    sum(write_1h_tokens) AS write_1h_tokens,
    sum(output_tokens - reasoning_tok) AS visible_output_tokens,
    sum(reasoning_tok) AS reasoning_tokens,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    quantile_cont(output_tokens, 0.9) AS output_p90,
    min(start_time) AS first_call,
    max(start_time) AS last_call
FROM analyze_calls
WHERE
-- include: fragments/in_period | at = start_time
GROUP BY ALL
ORDER BY workflow, step, price_model, day;
