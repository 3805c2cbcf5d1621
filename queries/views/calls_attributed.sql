-- calls_attributed: the priced billable calls (`calls`) with the workflow, team and ticket each belongs to.
-- purpose: ticket = the first capture group of [attribution] ticket_pattern in the call's git
--   branch (default '([A-Z][A-Z0-9]+-\d+)': JIRA-like 'ABC-123'), NULL when the branch is NULL or
--   does not match. workflow = [attribution.tickets][ticket], else [attribution.branches][branch],
--   else [attribution.repos][repo], else the trace's own workflow (resolved at ingest).
--   team = the call's first [attribution] team_tag_keys tag (keys compared lower-case, blank
--   values skipped), else [attribution.teams][workflow]; NULL when neither applies.
-- parameters: $ticket_pattern VARCHAR, the [attribution] ticket_pattern: bound as a literal when
--   the view is created (costlab/attribution.py), so changing it needs no re-ingest.
-- grain: one row per billable call.
-- notes:
--   The pattern is a literal, not read from attribution_rules per row: DuckDB compiles a
--     constant pattern once, a per-row one for every row (about 100x slower, measured).
--   Columns: those of `calls` with `workflow` moved after them, then team and ticket.
WITH keys AS (
    SELECT coalesce((SELECT list(key ORDER BY CAST(value AS INTEGER)) FROM attribution_rules
                     WHERE kind = 'team_tag_key'), []) AS team_keys
),
tagged AS (
    SELECT
        c.*,
        list_filter(
            list_transform(k.team_keys, lambda t: nullif(trim(list_filter(
                map_entries(c.tags), lambda e: lower(trim(e.key)) = t
            )[1].value), '')),
            lambda x: x IS NOT NULL
        )[1] AS _tag_team,
        nullif(regexp_extract(c.branch, $ticket_pattern, 1), '') AS _ticket
    FROM calls AS c
    CROSS JOIN keys AS k
),
mapped AS (
    SELECT
        t.*,
        coalesce(tk.value, br.value, rp.value, t.workflow) AS _workflow
    FROM tagged AS t
    LEFT JOIN attribution_rules AS tk ON tk.kind = 'ticket' AND tk.key = t._ticket
    LEFT JOIN attribution_rules AS br ON br.kind = 'branch' AND br.key = t.branch
    LEFT JOIN attribution_rules AS rp ON rp.kind = 'repo' AND rp.key = t.repo
)
SELECT
    m.* EXCLUDE (_tag_team, _ticket, _workflow, workflow),
    m._workflow AS workflow,
    coalesce(m._tag_team, tm.value) AS team,
    m._ticket AS ticket
FROM mapped AS m
LEFT JOIN attribution_rules AS tm ON tm.kind = 'team' AND tm.key = m._workflow
