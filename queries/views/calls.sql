-- calls: the billable LLM calls, each counted once.
-- purpose: spans that are LLM or embedding calls carrying their own usage (usage_scope = 'self'),
--          de-duplicated across files and sources: one row per provider request id (a streamed
--          Claude Code reply written as several lines sharing message.id is one call; the row with
--          the highest output count wins), else per (source_format, trace_id, span_id).
-- parameters: none (a view over `spans`).
-- grain: one row per billable call.
-- cost: the trace's reported cost when present (cost_source = 'reported'); otherwise the call is
--       'unpriced' and its cost is NULL, never zero, until prices are joined.
SELECT
    s.*,
    s.reported_cost AS cost,
    s.reported_cost_currency AS cost_currency,
    CASE WHEN s.reported_cost IS NOT NULL THEN 'reported' ELSE 'unpriced' END AS cost_source
FROM spans AS s
WHERE s.span_kind IN ('llm', 'embedding')
  AND s.usage_scope = 'self'
QUALIFY row_number() OVER (
    PARTITION BY coalesce(s.provider, ''),
                 coalesce(s.request_id, s.source_format || '/' || s.trace_id || '/' || s.span_id)
    ORDER BY s.output_tokens DESC NULLS LAST, s.ingested_at DESC, s.source_line DESC
) = 1
