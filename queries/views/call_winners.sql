-- call_winners: the row_key of each billable call's winning span, and nothing else.
-- purpose: the same choice as views/call_facts.sql (fragments/call_winner), made on the five
--          columns that decide it. The analyzers keep the spans these keys name
--          (costlab.workspace.Workspace.analysis_connection): a window carrying every span column
--          over a month of 10M calls needs about 5 GB and cannot spill, this one fits the
--          analyzers' 1 GB cap. row_key is unique in `spans` (each stored row's md5 of its
--          format and natural key: ingest's merge keeps one row per key).
-- parameters: none (a view over `call_keys`).
-- grain: one row per billable call.
SELECT row_key
FROM (SELECT call_key, row_key, output_tokens, ingested_at, source_line FROM call_keys)
QUALIFY
-- include: fragments/call_winner
