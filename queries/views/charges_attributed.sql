-- charges_attributed: every billed line with the workflow and team it belongs to.
-- purpose: resolve the attribution key of a charge (costlab/attribution.py has the rules):
--   alloc_workflow = charges.workflow, else the value of the first [attribution] tag_keys tag
--   present (keys compared lower-case; AWS 'user:' / 'resourceTags/user:' and 'tag:' prefixes
--   ignored; blank values skipped), else [attribution.projects][project_id], else
--   [attribution.projects][sub_account_id]; NULL when none applies.
--   alloc_source says which rule won: charge | tag | project | sub_account (NULL: none).
--   team = the first team_tag_keys tag, else [attribution.teams][alloc_workflow].
--   period_day = UTC date of charge_period_start; llm_model = the normalised model (charges.model).
-- parameters: none (a view over `charges` and the `attribution_rules` table).
-- grain: one row per charges row.
WITH keys AS (
    SELECT
        coalesce((SELECT list(key ORDER BY CAST(value AS INTEGER)) FROM attribution_rules
                  WHERE kind = 'tag_key'), []) AS wf_keys,
        coalesce((SELECT list(key ORDER BY CAST(value AS INTEGER)) FROM attribution_rules
                  WHERE kind = 'team_tag_key'), []) AS team_keys
),
tagged AS (
    SELECT
        c.*,
        nullif(trim(c.workflow), '') AS _own_workflow,
        -- include: fragments/first_tag | keys = k.wf_keys
        AS _tag_workflow,
        -- include: fragments/first_tag | keys = k.team_keys
        AS _tag_team
    FROM charges AS c
    CROSS JOIN keys AS k
),
resolved AS (
    SELECT
        t.*,
        coalesce(t._own_workflow, t._tag_workflow, pj.value, sa.value) AS alloc_workflow,
        CASE WHEN t._own_workflow IS NOT NULL THEN 'charge'
             WHEN t._tag_workflow IS NOT NULL THEN 'tag'
             WHEN pj.value IS NOT NULL THEN 'project'
             WHEN sa.value IS NOT NULL THEN 'sub_account' END AS alloc_source
    FROM tagged AS t
    LEFT JOIN attribution_rules AS pj ON pj.kind = 'project' AND pj.key = t.project_id
    LEFT JOIN attribution_rules AS sa ON sa.kind = 'project' AND sa.key = t.sub_account_id
)
SELECT
    r.* EXCLUDE (_own_workflow, _tag_workflow, _tag_team),
    coalesce(r._tag_team, tm.value) AS team,
    CAST(timezone('UTC', r.charge_period_start) AS DATE) AS period_day,
    r.model AS llm_model
FROM resolved AS r
LEFT JOIN attribution_rules AS tm ON tm.kind = 'team' AND tm.key = r.alloc_workflow
