-- price_join: the price_grid row that prices a row: its provider, model and tier, valid at its time of day and for its input size.
-- purpose: the one join of priced rows to `price_grid` (calls, provider usage, the analyzers'
--   base), so every priced token in costlab picks its price by the same rule: validity window
--   [valid_from, valid_to), time-of-day window in UTC, and the input-size band
--   (input_tokens_above, input_tokens_upto].
-- parameters: none. Substitutions: row (the alias of the rows priced), at (their timestamp
--   column), tokens (the input size compared with the band).
-- grain: a LEFT JOIN clause giving `g`, at most one price_grid row per priced row.
LEFT JOIN price_grid AS g
    ON g.price_provider = {{row}}.price_provider
   AND g.price_model = {{row}}.price_model
   AND g.price_tier = {{row}}.price_tier
   AND (g.valid_from IS NULL OR {{row}}.{{at}} >= g.valid_from)
   AND (g.valid_to IS NULL OR {{row}}.{{at}} < g.valid_to)
   AND (g.time_of_day_from IS NULL OR CAST(timezone('UTC', {{row}}.{{at}}) AS TIME) >= g.time_of_day_from)
   AND (g.time_of_day_to IS NULL OR CAST(timezone('UTC', {{row}}.{{at}}) AS TIME) < g.time_of_day_to)
   AND (g.input_tokens_above IS NULL OR {{row}}.{{tokens}} > g.input_tokens_above)
   AND (g.input_tokens_upto IS NULL OR {{row}}.{{tokens}} <= g.input_tokens_upto)
