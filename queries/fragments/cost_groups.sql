-- cost_groups: the traced calls of the period, each with the currency of its group.
-- purpose: the shared start of the cost_by_* queries, which include it after `WITH` and then
--   aggregate `FROM c AS g`. CTE g: the calls of `calls_attributed` that started in
--   [$since, $until), selected as `columns` (the group's dimensions with NULL shown as '(none)',
--   then the other columns). CTE c: g plus `currency`, the call's cost_currency; an unpriced call
--   (cost and cost_currency NULL) takes its group's currency when the group (`groups`: the
--   dimension columns of g, each named as in g and never NULL) has exactly one, so it is counted
--   with the group and never costed.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on
--   start_time. Substitutions: columns (the select list of g), groups (the PARTITION BY of c),
--   marks (which run and timing rows the query needs: a condition on call_marks_attributed,
--   e.g. `end_time IS NOT NULL` for the timing rows only, `false` for none).
--   g also holds the run, session and timing rows of a report read from the rollups
--   (call_marks_attributed, n_calls = 0; empty otherwise): they add no call, token or money, and
--   give the distinct runs and sessions and the latency; a query keeps only groups with calls
--   (HAVING sum(g.n_calls) > 0).
-- grain: one row per billable call (or rollup group, or run/timing row) of the period (CTEs
--   calls_g: the calls alone; g and c).
calls_g AS (
    SELECT {{columns}}
    FROM calls_attributed
    WHERE
-- include: fragments/in_period | at = start_time
),
g AS (
    SELECT * FROM calls_g
    UNION ALL
    SELECT {{columns}}
    FROM call_marks_attributed
    WHERE ({{marks}})
      AND
-- include: fragments/in_period | at = start_time
),
c AS (
    -- each group's currencies, from its calls (the run and timing rows have none), joined back: a
    -- join, not a window, since the run and timing rows can be millions and a window sorts them
    -- all. The group columns are never NULL (the includers coalesce them, start_time is
    -- required), so the natural join meets every row of a group that has calls; the rows of a
    -- group without calls drop out, as the queries' HAVING would drop them
    SELECT g.*, CASE WHEN g.cost_currency IS NULL AND k._lo = k._hi THEN k._lo ELSE g.cost_currency END AS currency
    FROM g
    NATURAL JOIN (SELECT {{groups}}, min(g.cost_currency) AS _lo, max(g.cost_currency) AS _hi
                  FROM calls_g AS g GROUP BY {{groups}}) AS k
)
