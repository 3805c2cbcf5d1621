-- call_keys: the spans that are billable calls, each with the key that identifies its call.
-- purpose: LLM and embedding spans carrying their own usage (usage_scope = 'self'). call_key is
--          the provider plus the provider's request id (a streamed Claude Code reply written as
--          several lines sharing message.id, or the same request seen by two sources, is one call),
--          else the span itself (source_format / trace_id / span_id). chr(31) separates the parts.
--          Kept apart from call_facts so ingest can select the spans of given keys before the
--          de-duplication window (costlab/calls_store.py).
-- parameters: none (a view over `spans`).
-- grain: one row per call span (duplicates included).
SELECT
    s.*,
    coalesce(s.provider, '') || chr(31)
        || coalesce(s.request_id, s.source_format || '/' || s.trace_id || '/' || s.span_id, '') AS call_key
FROM spans AS s
WHERE s.span_kind IN ('llm', 'embedding')
  AND s.usage_scope = 'self'
