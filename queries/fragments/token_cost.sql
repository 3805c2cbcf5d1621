-- token_cost: the money of one priced row, shared by views/calls.sql and views/usage_priced.sql
-- purpose: tokens of each kind times the matched price_grid cell's price for that kind, plus the
--   per-request fee, as DECIMAL(38,12) in the cell's currency.
-- parameters: none; the including query gives `p` (input_tokens and the parts _read, _write,
--   _write_1h, _output, _reasoning, NULL parts already 0) and `g` (the joined price_grid cell).
--   Substitution: requests, the number of requests the row stands for (1 for a call; a rollup
--   group's call count in views/call_groups.sql), times the per-request fee.
-- grain: an expression over one row.
-- notes:
--     (included in their text by costlab.sql.load_sql, so the formula exists once).
--   NULL (unpriced, never zero) when no cell matched or the token split is impossible (a part
--     larger than the total it is part of). A part of 0 tokens adds an exact 0, not 0 x price.
CASE
    WHEN g.price_model IS NULL
      OR p.input_tokens IS NULL OR p._output IS NULL
      OR p.input_tokens - p._read - p._write < 0
      OR p._write - p._write_1h < 0
      OR p._output - p._reasoning < 0
    THEN NULL
    ELSE CAST(
          CASE WHEN p.input_tokens - p._read - p._write = 0 THEN 0
               ELSE (p.input_tokens - p._read - p._write) * g.p_uncached END
        + CASE WHEN p._read = 0 THEN 0 ELSE p._read * g.p_cache_read END
        + CASE WHEN p._write - p._write_1h = 0 THEN 0
               ELSE (p._write - p._write_1h) * g.p_cache_write_5m END
        + CASE WHEN p._write_1h = 0 THEN 0 ELSE p._write_1h * g.p_cache_write_1h END
        + CASE WHEN p._output - p._reasoning = 0 THEN 0
               ELSE (p._output - p._reasoning) * g.p_output END
        + CASE WHEN p._reasoning = 0 THEN 0 ELSE p._reasoning * g.p_reasoning END
        + g.p_request * {{requests}}
        AS DECIMAL(38, 12))
END
