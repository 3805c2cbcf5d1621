-- reconciliation_facts: bill lines, provider usage and traced calls in one long table with the
-- purpose: input of queries/reconciliation.sql and queries/reconciliation_summary.sql.
-- parameters: none (a view over `charges_llm`, `usage_priced` and `calls`).
-- grain: one row per LLM token charge (kind 'billed'), per token usage bucket ('usage'), per
--        billable call ('traced').
--
-- notes:
--            shared (day, provider, model, currency) key, so each reconciliation query is one
--            GROUP BY and a reader can drill from a number to the rows behind it.
--   starts_at / ends_at: charge_period_start/end, period_start/end, start_time/end_time.
--   n_calls: the calls a traced row stands for (1, or a report's rollup group: views/calls.sql);
--     NULL on bill and usage rows. Calls are summed, never counted.
--   day: the UTC calendar day of starts_at. A charge is assigned whole to the day its charge period
--     starts: a monthly line (some exports bill LLM use per month) lands on the month's first day,
--     not spread over the month (that split is not in the bill). bill_period_hours (charge period
--     length) lets the queries flag such rows; compare them over whole months (the summary).
--   amount / currency: billed_cost + billing_currency; usage_priced cost + cost_currency; calls
--     cost + cost_currency (computed, else reported). NULL amount = unpriced (currency NULL).
--   Usage rows without any token count (images, audio, vector storage, tool calls) are left out:
--     they are not token usage and no trace token count can match them.
--   model: a reconciliation key, because the three sources name one model differently (OpenAI's
--     Costs API 'gpt-4o-mini-2024-07-18' vs its dashboard CSV 'gpt-4o-mini'; traces of Bedrock
--     'claude-3-5-sonnet-20240620' (normalise_model of 'anthropic.claude-3-5-sonnet-20240620-v1:0')
--     vs the CUR usage type 'Claude3.5Sonnet' -> 'claude-3-5-sonnet'). From the normalised model:
--     lower-cased; a Bedrock vendor prefix ('amazon.', 'meta.', 'mistral.', 'cohere.', ...) and a
--     Bedrock version suffix '-v<n>:<m>' dropped; then a snapshot suffix dropped: '-YYYYMMDD',
--     '-YYYY-MM-DD', '-MMDD' ('gpt-4-0613'), Gemini '-00n' ('gemini-2.0-flash-001'), '-latest'.
--     So snapshots of one model family reconcile together (a bill rarely tells them apart).
--     model_raw keeps the normalised model as the source had it.
--     Known limits: names that differ in more than that do not meet ('titanembedtextv2' from the
--     CUR vs 'amazon.titan-embed-text-v2:0' from traces; Claude 3.5 Sonnet v2 if its usage type
--     is 'Claude3.5SonnetV2' while traces say 'claude-3-5-sonnet-20241022').
WITH facts AS (
    SELECT
        'billed' AS kind,
        charge_period_start AS starts_at,
        charge_period_end AS ends_at,
        provider,
        model AS model_raw,
        billing_currency AS currency,
        billed_cost AS amount,
        charge_category,
        counted,
        billing_source,
        superseded_by,
        billing_account_id,
        source_format,
        CAST(NULL AS BIGINT) AS n_calls
    FROM charges_llm
    UNION ALL  -- positional (same columns, same order): portable beyond DuckDB's BY NAME
    SELECT
        'usage' AS kind,
        period_start AS starts_at,
        period_end AS ends_at,
        provider,
        model AS model_raw,
        cost_currency AS currency,
        cost AS amount,
        CAST(NULL AS VARCHAR) AS charge_category,
        CAST(NULL AS BOOLEAN) AS counted,
        CAST(NULL AS VARCHAR) AS billing_source,
        CAST(NULL AS VARCHAR) AS superseded_by,
        CAST(NULL AS VARCHAR) AS billing_account_id,
        source_format,
        CAST(NULL AS BIGINT) AS n_calls
    FROM usage_priced
    WHERE input_tokens IS NOT NULL OR output_tokens IS NOT NULL
    UNION ALL  -- positional (same columns, same order): portable beyond DuckDB's BY NAME
    SELECT
        'traced' AS kind,
        start_time AS starts_at,
        end_time AS ends_at,
        provider,
        model AS model_raw,
        cost_currency AS currency,
        cost AS amount,
        CAST(NULL AS VARCHAR) AS charge_category,
        CAST(NULL AS BOOLEAN) AS counted,
        CAST(NULL AS VARCHAR) AS billing_source,
        CAST(NULL AS VARCHAR) AS superseded_by,
        CAST(NULL AS VARCHAR) AS billing_account_id,
        source_format,
        n_calls
    FROM calls
)
SELECT
    kind,
    starts_at,
    ends_at,
    CAST(timezone('UTC', starts_at) AS DATE) AS day,
    provider,
-- include: fragments/reconciliation_key | model = model_raw
    AS model,
    model_raw,
    currency,
    amount,
    charge_category,
    counted,
    billing_source,
    superseded_by,
    billing_account_id,
    source_format,
    CASE WHEN kind = 'billed' THEN date_diff('hour', starts_at, ends_at) END AS bill_period_hours,
    n_calls
FROM facts
