-- Kept prompt texts of LLM calls, oldest first (only present after `ingest --keep-text`).
-- purpose: evidence for the caching analyzer: where the prompts of a step stop being identical,
--          and near-duplicate prompts (response-cache candidates).
-- parameters: $limit BIGINT (most texts read), $since TIMESTAMPTZ or NULL (inclusive),
--         $until TIMESTAMPTZ or NULL (exclusive)
-- grain: one row per LLM span with prompt text.
SELECT
    coalesce(workflow, '(none)') AS wf,
    coalesce(step, '(none)') AS st,
    prompt_text,
    model
FROM analyze_spans
WHERE span_kind = 'llm'
  AND prompt_text IS NOT NULL
  AND (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
ORDER BY start_time
LIMIT $limit
