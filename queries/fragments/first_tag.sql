-- first_tag: the value of the first of a list of tag keys that a charge carries.
-- purpose: how charges_attributed reads a workflow or a team from a billed line's tags: the
--   first key of `keys` (a list of lower-case tag names) present on `c.tags` with a non-blank
--   value; keys compare case-insensitively, with AWS `user:` / `resourceTags/user:` and GCP `tag:`
--   prefixes ignored. An expression: the including line is followed by its alias.
-- parameters: none. Substitutions: keys (a VARCHAR[] expression, e.g. k.wf_keys).
-- grain: one value per charge row (an expression, not a query).
list_filter(
    list_transform({{keys}}, lambda t: nullif(trim(list_filter(
        map_entries(c.tags),
        lambda e: lower(regexp_replace(trim(e.key), '^(resourcetags/)?(user:|tag:)', '', 'i')) = t
    )[1].value), '')),
    lambda x: x IS NOT NULL
)[1]
