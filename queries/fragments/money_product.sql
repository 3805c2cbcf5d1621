-- money_product: a x b, two DECIMAL(38,12) amounts, as DECIMAL(38,12) without overflowing.
-- purpose: DECIMAL(38,12) x DECIMAL(38,12) is DECIMAL(38,24), which holds 14 integer digits:
--   a list cost of $1e14 (a unit price and a quantity that each pass ingest's limits) failed the
--   query. Each factor is split into its whole part and its fraction; the three products with a
--   whole part are exact at scale 12 (up to 26 integer digits), and only fraction x fraction
--   (below 1) is rounded. Every non-zero part has the sign of a x b, so rounding that one part
--   rounds the sum the same way: the result equals CAST(a * b AS DECIMAL(38,12)) wherever that
--   fits.
-- parameters: none. Substitution: a, b, DECIMAL(38,12) expressions (NULL gives NULL).
-- grain: an expression over one row.
(CAST(CAST(trunc({{a}}) AS DECIMAL(38, 0)) * CAST(trunc({{b}}) AS DECIMAL(38, 0)) AS DECIMAL(38, 12))
 + CAST(trunc({{a}}) AS DECIMAL(38, 0)) * CAST({{b}} - trunc({{b}}) AS DECIMAL(38, 12))
 + CAST({{a}} - trunc({{a}}) AS DECIMAL(38, 12)) * CAST(trunc({{b}}) AS DECIMAL(38, 0))
 + CAST(CAST({{a}} - trunc({{a}}) AS DECIMAL(38, 12)) * CAST({{b}} - trunc({{b}}) AS DECIMAL(38, 12)) AS DECIMAL(38, 12)))
