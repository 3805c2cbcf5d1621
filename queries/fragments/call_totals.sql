-- call_totals: the counts and sums every cost_by_* row carries, as select-list items.
-- purpose: calls, input_tokens, output_tokens, cost, unpriced_calls of a group of `c AS g`
--   (fragments/cost_groups.sql), in that order, each followed by a comma. Tokens are summed in
--   DECIMAL(38, 0), exact for any number of calls (costlab/limits.py); cost is the sum of the
--   known costs (NULL when none is known), the unpriced calls are counted apart. A row stands
--   for n_calls calls (1 for a call; a rollup group's count; 0 for a run or timing row:
--   views/calls.sql, costlab/report/build.py), so calls are summed, never counted.
-- parameters: none
-- grain: select-list items of one group.
    CAST(sum(g.n_calls) AS BIGINT) AS calls,
    sum(CAST(g.input_tokens AS DECIMAL(38, 0))) AS input_tokens,
    sum(CAST(g.output_tokens AS DECIMAL(38, 0))) AS output_tokens,
    sum(g.cost) AS cost,
    CAST(coalesce(sum(g.n_calls) FILTER (WHERE g.cost IS NULL), 0) AS BIGINT) AS unpriced_calls,
