-- call_winner: which of a call's spans counts, written once for every de-duplication of calls.
-- purpose: of the spans sharing a call_key the one with the highest output count wins (a streamed
--          reply's last line), then the latest ingested, then the last line of its file.
--          views/call_facts.sql keeps the whole winning rows; views/call_winners.sql only their
--          row_key, so the analyzers' de-duplication carries five columns through the window.
-- parameters: none. Substitutions: none (reads call_key, output_tokens, ingested_at, source_line).
-- grain: a boolean condition (follows QUALIFY).
row_number() OVER (
    PARTITION BY call_key
    ORDER BY output_tokens DESC NULLS LAST, ingested_at DESC, source_line DESC
) = 1
