-- calls_attributed: the priced billable calls (`calls`) with the team each belongs to.
-- purpose: team = the call's first [attribution] team_tag_keys tag (keys compared lower-case,
--   blank values skipped), else [attribution.teams][workflow]; NULL when neither applies.
--   The workflow is the trace's own (resolved at ingest).
-- parameters: none (a view over `calls` and the `attribution_rules` table).
-- grain: one row per billable call.
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
        )[1] AS _tag_team
    FROM calls AS c
    CROSS JOIN keys AS k
)
SELECT
    t.* EXCLUDE (_tag_team),
    coalesce(t._tag_team, tm.value) AS team
FROM tagged AS t
LEFT JOIN attribution_rules AS tm ON tm.kind = 'team' AND tm.key = t.workflow
