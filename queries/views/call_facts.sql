-- call_facts: the billable calls, each counted once (unpriced; `calls` prices them).
-- purpose: one row per call_key (views/call_keys.sql). Of a key's spans the one with the highest
--          output count wins (fragments/call_winner: a streamed reply's last line, then the latest
--          ingested, then the last line of its file). Ingest keeps a copy of these rows in the lake (table
--          call_facts, without text, per-block detail, span ids and lineage: schema.CALL_FACTS_DROPPED), so
--          reports need not redo this window over every span; the lake reads that copy when
--          asked for the fast path (Lake.connect(fast=True)).
-- parameters: none (a view over `call_keys`).
-- grain: one row per billable call.
SELECT *
FROM call_keys
QUALIFY
-- include: fragments/call_winner
