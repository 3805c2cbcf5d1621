-- money_of_double: a DOUBLE amount as DECIMAL(38,12), to the same digits on every engine.
-- purpose: a proportional share is computed in DOUBLE (about 16 significant digits). Cast to
--   DECIMAL, the digits past those differ by engine: DuckDB scales the DOUBLE by 1e12 in
--   DOUBLE (past 2^53, so rounded), Spark takes the DOUBLE's exact value; the 100M-call
--   benchmark's allocation differed in the 12th decimal. The whole part and the fraction
--   x 1e12 are each a whole number below 2^53, which every engine converts exactly, and IEEE
--   arithmetic makes the same DOUBLEs everywhere: the same DECIMAL on every engine.
-- parameters: none. Substitution: x, a DOUBLE expression (|x| below 2^53, about 9.0e15; NULL
--   gives NULL).
-- grain: an expression over one row.
CAST(CAST(floor({{x}}) AS DECIMAL(38, 0))
     + CAST(round(({{x}} - floor({{x}})) * CAST(1000000000000 AS DOUBLE)) AS DECIMAL(38, 0))
       * CAST(0.000000000001 AS DECIMAL(13, 12)) AS DECIMAL(38, 12))
