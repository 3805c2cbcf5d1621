-- analyze/downgrade_scores: quality scores per workflow step, model and score name.
-- purpose: the evidence for a model downgrade (docs/analyzers.md, the downgrade analyzer: scores
--          for both models on the same step). A score is read from any span whose `attributes`
--          JSON carries OTel GenAI evaluation keys:
--          * a `gen_ai.evaluation.result` event (attributes gen_ai.evaluation.name and
--            gen_ai.evaluation.score.value) scores the span it is attached to;
--          * `gen_ai.evaluation.name`/`gen_ai.evaluation.score.value` in a span's own attributes
--            (`$.attributes` for OTLP, `$.otel` for Langfuse) score that span when it is a call,
--            else its parent (an evaluation span under the call);
--          a score whose target is not a call is a trace-level score and is credited to every
--          call of that trace. Langfuse scores and LangSmith feedback are ingested as such
--          evaluation spans (`$.attributes`, span_kind 'other', parent = the scored observation
--          or run). An aggregate row (`$.score_aggregate_n` set: LangSmith feedback_stats, an
--          average of n scores counted here as one) is dropped where individual scores with the
--          same trace, target and name exist. Direction: raw values; the analyzer flips the
--          names configured as lower-is-better (costlab/analyze/downgrade.py).
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive);
--             the window applies to the scored calls.
-- grain: workflow, step, price_model, score_name (n, mean, sample variance, all-binary flag).
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, span_kind, attributes
    FROM spans
    WHERE attributes LIKE '%gen_ai.evaluation.score%'
),
ev AS (
    SELECT s.trace_id, s.span_id AS target,
           e ->> '$.attributes."gen_ai.evaluation.name"' AS score_name,
           TRY_CAST(e ->> '$.attributes."gen_ai.evaluation.score.value"' AS DOUBLE) AS score,
           FALSE AS agg
    FROM s, unnest(from_json(coalesce(json_extract(s.attributes, '$.events'), '[]'), '["json"]')) AS t(e)
    WHERE e ->> '$.name' = 'gen_ai.evaluation.result'
),
own AS (
    SELECT trace_id,
           CASE WHEN span_kind IN ('llm', 'embedding') THEN span_id
                ELSE coalesce(parent_span_id, span_id) END AS target,
           coalesce(attributes ->> '$.attributes."gen_ai.evaluation.name"',
                    attributes ->> '$.otel."gen_ai.evaluation.name"') AS score_name,
           TRY_CAST(coalesce(attributes ->> '$.attributes."gen_ai.evaluation.score.value"',
                             attributes ->> '$.otel."gen_ai.evaluation.score.value"') AS DOUBLE) AS score,
           (attributes ->> '$.score_aggregate_n') IS NOT NULL AS agg
    FROM s
),
scored AS (
    SELECT trace_id, target, coalesce(score_name, 'score') AS score_name, score, agg
    FROM (SELECT * FROM ev UNION ALL SELECT * FROM own)
    WHERE score IS NOT NULL AND isfinite(score)
),
scores AS (
    SELECT a.trace_id, a.target, a.score_name, a.score
    FROM scored AS a
    WHERE NOT a.agg OR NOT EXISTS (
        SELECT 1 FROM scored AS b
        WHERE NOT b.agg AND b.trace_id = a.trace_id AND b.target = a.target
          AND b.score_name = a.score_name
    )
),
c AS (
    SELECT trace_id, span_id, coalesce(workflow, '(none)') AS workflow,
           coalesce(step, '(none)') AS step, price_model
    FROM analyze_calls
    WHERE (CAST($since AS TIMESTAMPTZ) IS NULL OR start_time >= CAST($since AS TIMESTAMPTZ))
      AND (CAST($until AS TIMESTAMPTZ) IS NULL OR start_time < CAST($until AS TIMESTAMPTZ))
),
direct AS (
    SELECT c.workflow, c.step, c.price_model, sc.score_name, sc.score
    FROM scores AS sc JOIN c ON c.trace_id = sc.trace_id AND c.span_id = sc.target
),
trace_level AS (
    SELECT c.workflow, c.step, c.price_model, sc.score_name, sc.score
    FROM scores AS sc JOIN c ON c.trace_id = sc.trace_id
    WHERE NOT EXISTS (
        SELECT 1 FROM analyze_calls AS k WHERE k.trace_id = sc.trace_id AND k.span_id = sc.target
    )
)
SELECT workflow, step, price_model, score_name,
       count(*) AS n, avg(score) AS mean, coalesce(var_samp(score), 0) AS var,
       bool_and(score IN (0, 1)) AS binary
FROM (SELECT * FROM direct UNION ALL SELECT * FROM trace_level)
GROUP BY ALL
ORDER BY workflow, step, price_model, score_name;
