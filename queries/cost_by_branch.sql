-- Traced cost by repository, git branch and ticket (coding agents: Claude Code, Codex).
-- purpose: what the coding-agent work on each repository, branch and ticket cost, and over how
--   many sessions and days.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive), $until TIMESTAMPTZ or NULL (exclusive), on start_time.
-- grain: one row per repo, branch, ticket, currency. sessions = distinct session_id (a call
--   without one is its own session); first_day / last_day = UTC dates of the earliest and latest
--   start_time.
-- notes:
--   repo and branch are the call's (docs/schema.md); ticket is the first capture group of
--     [attribution] ticket_pattern in the branch (default JIRA-like 'ABC-123'), applied by the
--     view calls_attributed when it is created, so a new pattern needs no re-ingest.
--   Unpriced calls (cost NULL) are counted in calls and unpriced_calls and never costed at zero:
--     they join their group's currency when the group has exactly one, else form a row with a NULL
--     currency and NULL cost. NULL dimensions show as '(none)': calls that are not a coding
--     agent's, or that ran outside a git repository.
--   Needs costlab.attribution.register() (view calls_attributed). The period filter and the
--     group currency are queries/fragments/cost_groups.sql; tokens are summed in DECIMAL(38, 0),
--     exact for any number of calls (costlab/limits.py).
WITH
-- include: fragments/cost_groups | columns = coalesce(repo, '(none)') AS repo, coalesce(branch, '(none)') AS branch, coalesce(ticket, '(none)') AS ticket, * EXCLUDE (repo, branch, ticket) | groups = g.repo, g.branch, g.ticket | marks = false
SELECT
    g.repo,
    g.branch,
    g.ticket,
    g.currency,
-- include: fragments/call_totals
    sum(CAST(g.cache_read_tokens AS DECIMAL(38, 0))) AS cache_read_tokens,
    count(DISTINCT g.session_id) + count(*) FILTER (WHERE g.session_id IS NULL) AS sessions,
    CAST(timezone('UTC', min(g.start_time)) AS DATE) AS first_day,
    CAST(timezone('UTC', max(g.start_time)) AS DATE) AS last_day
FROM c AS g
GROUP BY g.repo, g.branch, g.ticket, g.currency
ORDER BY cost DESC NULLS LAST, calls DESC, g.repo, g.branch, g.ticket, g.currency NULLS LAST;
