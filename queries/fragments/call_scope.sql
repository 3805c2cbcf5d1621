-- call_scope: the repository, branch and kept tags of a call, as the rollups store them.
-- purpose: `_tags` (only the entries attribution and pricing read: the keys in $tag_keys, compared
--   trimmed and lower-case, and 'speed'), `_repo` (the call's own, else the basename of its cwd
--   tag) and `_branch` (its own, else its git_branch tag), as select-list items (the last one
--   without a comma), shared by views/call_rollup.sql and views/call_marks.sql; views/calls.sql
--   derives repo and branch by the same rule.
-- parameters: $tag_keys VARCHAR[] (lower-case).
-- grain: select-list items of one row.
        CASE WHEN tags IS NOT NULL THEN map_from_entries(list_filter(map_entries(tags),
            lambda e: e.key = 'speed' OR list_contains(CAST($tag_keys AS VARCHAR[]), lower(trim(e.key)))))
        END AS _tags,
        coalesce(repo, nullif(regexp_extract(tags['cwd'], '([^/\\]+)[/\\]*$', 1), '')) AS _repo,
        coalesce(branch, tags['git_branch']) AS _branch
