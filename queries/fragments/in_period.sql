-- in_period: a row's time inside the period [$since, $until), a NULL bound being open.
-- purpose: the period filter of the named queries, written once (queries that predate it still
--   spell it out; each is the same condition).
-- parameters: $since, $until TIMESTAMPTZ or NULL. Substitutions: at (the time column compared).
-- grain: a boolean condition (follows WHERE or AND).
(CAST($since AS TIMESTAMPTZ) IS NULL OR {{at}} >= CAST($since AS TIMESTAMPTZ))
  AND (CAST($until AS TIMESTAMPTZ) IS NULL OR {{at}} < CAST($until AS TIMESTAMPTZ))
