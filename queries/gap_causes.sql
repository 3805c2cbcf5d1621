-- Explain the gap: billed minus traced, per currency, broken into named causes.
-- purpose: answer "the bill says X, the traces explain Y: where is the rest?". billed is the
--   report's headline bill (allocation_check: every charge with billed_cost whose
--   charge_period_start is in the period, superseded sources included), traced its traced total
--   (traced_by_day: calls.cost by cost_currency, start_time in the period). Every bill line falls
--   in exactly one class (first match wins, in this order), so nothing is counted twice, and the
--   row `unexplained` closes the sum exactly: the amounts of a currency add up to billed - traced.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive): bill
--   lines on charge_period_start, calls on start_time.
-- grain: currency, cause (causes of a currency without lines left out; unexplained always there).
-- columns: currency; cause; cause_order (the order below); amount (DECIMAL(38,12), signed: what the
--   cause adds to billed - traced); lines (bill lines of the cause); calls (traced_not_billed: the
--   calls; unpriced_calls: the unpriced calls of those models; else 0); billed, traced, gap (= billed - traced) of the currency, repeated
--   on each row.
-- notes:
--   Line classes, first match wins:
--     1 credits_and_adjustments  charge_category other than Usage (Credit, Adjustment, Tax,
--                                Purchase...), or a negative line: not usage any trace can show.
--     2 non_token_charges        not an LLM token line (a line charges_llm leaves out: GPU hours,
--                                storage, vector DB, other services).
--     3 duplicate_exports        a token line of a billing source charges_llm marks superseded
--                                (counted = FALSE: the same bill from a better source), or identical
--                                (provider, UTC day, reconciliation key, token_type, tokens,
--                                billed_cost, currency) to a counted line of another source_format
--                                ranked before it (charges_llm's source_rank): the headline's
--                                billed counts both. Credits and non-token duplicates are not looked for.
--     4 untraced_projects        a token line whose resolved workflow (charges_attributed) has no
--                                call in the period, or that names a project / API key (project_id,
--                                api_key_id; not a cloud account, which holds traced work too) but
--                                resolves to no workflow.
--     5 models_never_traced      a token line whose (provider, reconciliation key) has no call in the
--                                period (a line without a model: its provider has no call).
--     6 unpriced_calls           a token line whose model has calls in the period, none priced.
--     7 matched                  the rest; split below, never shown itself.
--   Credits come first: a tax or credit line is neither usage nor tokens whatever its kind.
--   Duplicates come before the trace checks: the second copy of a line is explained by the copy,
--   whatever the first copy's class.
--   Keys: provider and model key as queries/views/charges_llm.sql and the reconciliation
--     (fragments/reconciliation_key) have them; a non-token line's provider is its lower-cased
--     provider name. "Has a call" counts every call of the period, priced or not, any currency.
--   traced_not_billed (negative): the cost of priced calls whose (provider, model key) has no
--     token line (other than credits) in the period in their currency; a token line without a model
--     covers every model of its provider.
--   Matched lines, split where the data says so (one sub-cause a line, first match wins; each
--   computed on the line's list price coalesce(list_cost, billed_cost), which the traces use):
--     discounts        billed_cost - list_cost where list_cost is known (any matched line; adds to
--                      the sub-cause below).
--     cache_write_ttl  an input_cache_write_1h line while the model's calls carry no 1h write
--                      tokens (traces price them as 5m writes): Anthropic's 1h write is 2x base
--                      input, the 5m write 1.25x, so the extra is list x (1 - 1.25/2) = 0.375 x list.
--     long_context     a line naming a long-context band while no call of the model had more than
--                      200,000 input tokens (the traces priced none at the long-context tier):
--                      Anthropic's >200k rates are 2x input and 1.5x output, so the extra is
--                      list x 1/2 (input kinds) or list x 1/3 (output, reasoning; multiplied by
--                      0.333333333333, the rounding left to unexplained).
--     reasoning_tokens a reasoning line while the model's calls report no reasoning tokens: the
--                      whole line.
--     unexplained      billed - traced - every other cause of the currency: what is left of the
--                      matched lines against the calls they meet, plus any rounding. Always shown.
WITH
-- include: fragments/gap_lines
,
totals AS (
    SELECT coalesce(b.currency, t.currency) AS currency,
           coalesce(b.billed, CAST(0 AS DECIMAL(38, 12))) AS billed,
           coalesce(t.traced, CAST(0 AS DECIMAL(38, 12))) AS traced
    FROM (SELECT currency, sum(billed_cost) AS billed FROM gap_charges GROUP BY ALL) AS b
    FULL JOIN (SELECT cost_currency AS currency, sum(cost) AS traced
               FROM gap_calls WHERE cost IS NOT NULL GROUP BY ALL) AS t
      ON t.currency IS NOT DISTINCT FROM b.currency
),
found AS (
    SELECT currency, line_class AS cause, sum(billed_cost) AS amount, count(*) AS lines,
           CAST(0 AS BIGINT) AS calls
    FROM gap_classed
    WHERE line_class <> 'matched'
    GROUP BY ALL
    UNION ALL
    SELECT currency, 'discounts', sum(discount), count(*), CAST(0 AS BIGINT)
    FROM gap_classed
    WHERE line_class = 'matched' AND discount <> 0
    GROUP BY ALL
    UNION ALL
    SELECT currency, sub_cause, sum(sub_amount), count(*), CAST(0 AS BIGINT)
    FROM gap_classed
    WHERE sub_cause IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT cost_currency, 'traced_not_billed', -sum(cost), CAST(0 AS BIGINT), CAST(sum(n_calls) AS BIGINT)
    FROM gap_unbilled
    GROUP BY ALL
),
unpriced_keys AS (
    SELECT DISTINCT currency, provider, model_key FROM gap_classed WHERE line_class = 'unpriced_calls'
),
unpriced_calls_n AS (
    -- the unpriced calls behind the unpriced_calls lines, per currency of the lines
    SELECT k.currency, sum(CASE WHEN k.model_key IS NULL THEN p.calls ELSE m.calls END) AS n
    FROM unpriced_keys AS k
    LEFT JOIN gap_models AS m ON m.provider IS NOT DISTINCT FROM k.provider AND m.model_key = k.model_key
    LEFT JOIN gap_providers AS p ON p.provider IS NOT DISTINCT FROM k.provider
    GROUP BY ALL
),
named AS (
    SELECT f.currency, f.cause, f.amount, f.lines,
           CASE WHEN f.cause = 'unpriced_calls' THEN coalesce(u.n, 0) ELSE f.calls END AS calls
    FROM found AS f
    LEFT JOIN unpriced_calls_n AS u ON u.currency IS NOT DISTINCT FROM f.currency
),
rest AS (
    SELECT t.currency, 'unexplained' AS cause,
           t.billed - t.traced - coalesce(sum(n.amount), 0) AS amount,
           CAST(0 AS BIGINT) AS lines, CAST(0 AS BIGINT) AS calls
    FROM totals AS t
    LEFT JOIN named AS n ON n.currency IS NOT DISTINCT FROM t.currency
    GROUP BY t.currency, t.billed, t.traced
),
causes AS (
    SELECT currency, cause, amount, CAST(lines AS BIGINT) AS lines, CAST(calls AS BIGINT) AS calls FROM named
    UNION ALL
    SELECT currency, cause, amount, lines, calls FROM rest
)
SELECT
    c.currency,
    c.cause,
    CASE c.cause
        WHEN 'credits_and_adjustments' THEN 1
        WHEN 'non_token_charges' THEN 2
        WHEN 'duplicate_exports' THEN 3
        WHEN 'untraced_projects' THEN 4
        WHEN 'models_never_traced' THEN 5
        WHEN 'unpriced_calls' THEN 6
        WHEN 'traced_not_billed' THEN 7
        WHEN 'discounts' THEN 8
        WHEN 'cache_write_ttl' THEN 9
        WHEN 'long_context' THEN 10
        WHEN 'reasoning_tokens' THEN 11
        ELSE 12
    END AS cause_order,
    CAST(c.amount AS DECIMAL(38, 12)) AS amount,
    c.lines,
    c.calls,
    CAST(t.billed AS DECIMAL(38, 12)) AS billed,
    CAST(t.traced AS DECIMAL(38, 12)) AS traced,
    CAST(t.billed - t.traced AS DECIMAL(38, 12)) AS gap
FROM causes AS c
JOIN totals AS t ON t.currency IS NOT DISTINCT FROM c.currency
ORDER BY currency NULLS LAST, cause_order;
