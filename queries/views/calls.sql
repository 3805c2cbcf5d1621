-- calls: the billable LLM calls, each counted once, priced at the prices valid when they ran.
-- purpose: `call_facts` (the de-duplicated billable calls: views/call_facts.sql, or the copy
--          ingest keeps in the lake) priced with the effective-dated price tables.
-- parameters: none (a view over `call_facts`, `model_prices` and `price_grid`; see costlab/pricing.py).
-- grain: one row per billable call.
-- notes:
--   cost precedence: cost = computed_cost when the call can be priced, else reported_cost, else NULL.
--     cost_source is 'computed', 'billed_rate' (computed at the rates the lake's own bill charged for
--     a model no catalogue or override knows: costlab.pricing.PriceBook.with_bill_rates; its
--     price_source names the bill lines), 'reported' or 'unpriced' (cost NULL: listed, never
--     costed at zero).
--     Computed wins because re-pricing history is the point: the same tokens priced with one
--     effective-dated table (and the user's negotiated discounts) are comparable across sources and
--     time, while trace-reported costs come from each SDK's own, possibly stale, price list. The
--     reported cost stays beside it in reported_cost / reported_cost_currency.
--   computed_cost (DECIMAL(38,12), currency of the prices; genai-prices is USD):
--     model_prices maps the call's (provider, model) to a price model (matched in Python over the
--     DISTINCT pairs); price_grid holds that model's disjoint cells (valid_from <= start_time <
--     valid_to, UTC time of day, input band), so each call joins at most one cell.
--     Tokens follow docs/schema.md: input_tokens is inclusive, output_tokens includes reasoning.
--       uncached input = input_tokens - cache_read - cache_write       x p_uncached
--       cache read                                                      x p_cache_read
--       cache write 1h = cache_write_1h_tokens                          x p_cache_write_1h
--       cache write 5m = cache_write - 1h (a write without a split is 5m) x p_cache_write_5m
--       output - reasoning                                              x p_output
--       reasoning (only priced apart when the model has a reasoning price) x p_reasoning
--       + p_request (per-request fee, usually 0)
--     A missing cache/reasoning part (NULL) counts as 0, i.e. priced as plain input/output.
--     Long-context tiers: the cell's input band is chosen on the inclusive input_tokens (cliff
--     pricing: crossing the threshold prices every token at the tier rate, as genai-prices does).
--     Service tier: price_tier is the call's tier (batch, flex, priority; Anthropic speed=fast or
--     OpenAI 'fast') when the price model has prices for it, else standard (genai-prices' rule);
--     'provisioned' calls are not token-priced (PTU is billed by the hour).
--     computed_cost is NULL (unpriced) when: no usage (usage_source 'missing' or NULL input/output
--     tokens; an embedding's NULL output counts as 0), no matching model or cell, a part with tokens has no price, or the parts are
--     inconsistent (cache tokens exceeding input, reasoning exceeding output).
--   n_calls (1), n_untraced (1 when trace_id is NULL), n_sessions (0), max_input_tokens
--     (input_tokens) and last_start_time (start_time), the last columns: what a rollup group's
--     row holds for its calls (views/call_groups.sql), so the report's SQL reads per-call and
--     grouped rows alike; a report's compacted run and session rows count their runs in
--     n_untraced and their sessions in n_sessions (views/report_marks.sql).
--   repo and branch: the call's own, else, for rows an older costlab ingested,
--     the basename of tags['cwd'] and tags['git_branch'] (Claude Code, Codex), so a lake
--     needs no re-ingest (session logs may be gone) to be costed per branch.
WITH parts AS (
    SELECT
        d.*,
-- include: fragments/price_tier
        coalesce(d.cache_read_tokens, 0) AS _read,
        coalesce(d.cache_write_tokens,
                 coalesce(d.cache_write_5m_tokens, 0) + coalesce(d.cache_write_1h_tokens, 0)) AS _write,
        coalesce(d.cache_write_1h_tokens, 0) AS _write_1h,
        coalesce(d.reasoning_tokens, 0) AS _reasoning,
        -- an embedding has no output: NULL output tokens there mean zero
        CASE WHEN d.span_kind = 'embedding' THEN coalesce(d.output_tokens, 0)
             ELSE d.output_tokens END AS _output
    FROM call_facts AS d
    LEFT JOIN model_prices AS m
        ON m.provider IS NOT DISTINCT FROM d.provider AND m.model = d.model
),
priced AS (
    SELECT
        p.*,
        g.currency AS _price_currency,
        g.source AS price_source,
        CASE WHEN coalesce(p.usage_source, 'missing') = 'missing' THEN NULL ELSE (
-- include: fragments/token_cost | requests = 1
        ) END AS computed_cost
    FROM parts AS p
    -- include: fragments/price_join | row = p | at = start_time | tokens = input_tokens
)
SELECT
    * EXCLUDE (_read, _write, _write_1h, _reasoning, _output, _price_currency, price_source, repo, branch),
    CASE WHEN computed_cost IS NOT NULL THEN price_source END AS price_source,
-- include: fragments/cost_precedence | source = price_source
    ,
    -- rows ingested before repo/branch were columns: from the tags Claude Code and Codex carried
    coalesce(repo, nullif(regexp_extract(tags['cwd'], '([^/\\]+)[/\\]*$', 1), '')) AS repo,
    coalesce(branch, tags['git_branch']) AS branch,
    -- what a rollup row of the report holds for its group (views/call_groups.sql); one call here
    CAST(1 AS BIGINT) AS n_calls,
    CAST(CASE WHEN trace_id IS NULL THEN 1 ELSE 0 END AS BIGINT) AS n_untraced,
    CAST(0 AS BIGINT) AS n_sessions,
    input_tokens AS max_input_tokens,
    start_time AS last_start_time
FROM priced
