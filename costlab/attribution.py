"""Who a cost belongs to: the ``[attribution]`` rules and the attributed views.

Traces name their workflow; bills mostly do not. A billed line (``charges``) is given a workflow
by, in order: its own ``workflow`` column, the first tag key of ``tag_keys`` present on it
(keys compare case-insensitively, AWS ``user:`` / ``resourceTags/user:`` and GCP ``tag:``
prefixes ignored), then ``projects`` (``project_id`` first, then ``sub_account_id`` -> workflow).
A team comes from the first ``team_tag_keys`` tag, else ``teams`` (workflow -> team).

``costlab.toml``::

    [attribution]
    tag_keys = ["workflow", "costlab.workflow", "app"]
    team_tag_keys = ["team"]
    [attribution.projects]          # OpenAI project, Anthropic workspace, GCP project, Azure RG,
    proj_abc = "support-bot"        # AWS account id ...
    [attribution.teams]
    support-bot = "customer-care"

Coding agents' calls (Claude Code, Codex) carry their ``repo`` and git ``branch``; the ticket is
the first capture group of ``ticket_pattern`` in the branch (``feature/ABC-123-login`` ->
``ABC-123``), applied when the views are created, so a new pattern needs no re-ingest. A call's
workflow may be mapped by ``[attribution.tickets]``, then ``.branches``, then ``.repos`` (name ->
workflow); its team then follows ``[attribution.teams]`` as for any workflow::

    [attribution]
    ticket_pattern = "((?:ABC|OPS)-\\d+)"
    [attribution.repos]
    payments-api = "payments"

`add_attributed_views` writes the rules to a small table ``attribution_rules(kind, key, value)`` and creates
the views ``charges_attributed`` and ``calls_attributed`` (queries/views/) and the table macro
``allocation_rows`` behind queries/allocation.sql. Stdlib only at import time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import duckdb

DEFAULT_TAG_KEYS = ("workflow", "costlab.workflow", "app")
DEFAULT_TEAM_TAG_KEYS = ("team",)
#: A JIRA-like key (``ABC-123``) anywhere in the branch name; its first group is the ticket.
DEFAULT_TICKET_PATTERN = r"([A-Z][A-Z0-9]+-\d+)"
#: The ``[attribution]`` tables that map a call's ticket, branch or repository to a workflow, with
#: the ``attribution_rules`` kind each becomes (the order is their precedence).
CALL_MAPS = {"tickets": "ticket", "branches": "branch", "repos": "repo"}

#: Named queries that read the attributed views (run them with `query`).
ATTRIBUTED_QUERIES = (
    "cost_by_workflow",
    "cost_by_step",
    "cost_by_model",
    "cost_by_team",
    "cost_by_user",
    "cost_by_session",
    "cost_by_day",
    "cost_by_branch",
    "allocation",
    "allocation_check",
)


@dataclass(frozen=True)
class AttributionRules:
    """How bills and calls map to workflows and teams (see the module docstring)."""

    tag_keys: tuple[str, ...] = DEFAULT_TAG_KEYS
    projects: Mapping[str, str] = field(default_factory=dict)
    teams: Mapping[str, str] = field(default_factory=dict)
    team_tag_keys: tuple[str, ...] = DEFAULT_TEAM_TAG_KEYS
    ticket_pattern: str = DEFAULT_TICKET_PATTERN
    #: kind ("ticket", "branch", "repo") -> {name: workflow}
    call_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> AttributionRules:
        """Rules from a parsed costlab.toml (its ``[attribution]`` table; absent keys default)."""
        section = cfg.get("attribution", {})
        if not isinstance(section, Mapping):
            raise CostlabError("costlab.toml: [attribution] must be a table")
        known = {"tag_keys", "projects", "teams", "team_tag_keys", "ticket_pattern", *CALL_MAPS}
        unknown = set(section) - known
        if unknown:
            raise CostlabError(
                f"costlab.toml: unknown key(s) in [attribution]: {', '.join(sorted(unknown))}; "
                "use tag_keys, team_tag_keys, projects, teams, ticket_pattern, tickets, branches, repos"
            )
        return cls(
            tag_keys=_keys(section, "tag_keys", DEFAULT_TAG_KEYS),
            projects=_mapping(section, "projects"),
            teams=_mapping(section, "teams"),
            team_tag_keys=_keys(section, "team_tag_keys", DEFAULT_TEAM_TAG_KEYS),
            ticket_pattern=_pattern(section.get("ticket_pattern", DEFAULT_TICKET_PATTERN)),
            call_maps={kind: m for name, kind in CALL_MAPS.items() if (m := _mapping(section, name))},
        )

    def rows(self) -> list[tuple[str, str, str]]:
        """The rules as ``(kind, key, value)`` rows; tag keys carry their precedence as value."""
        out = [("tag_key", k.lower(), str(i)) for i, k in enumerate(self.tag_keys)]
        out += [("team_tag_key", k.lower(), str(i)) for i, k in enumerate(self.team_tag_keys)]
        out += [("project", k, v) for k, v in sorted(self.projects.items())]
        out += [("team", k, v) for k, v in sorted(self.teams.items())]
        for kind in CALL_MAPS.values():
            out += [(kind, k, v) for k, v in sorted(self.call_maps.get(kind, {}).items())]
        return out

    def bind(self, sql: str) -> str:
        """``sql`` (a view: it cannot take prepared parameters) with ``$ticket_pattern`` written
        as a string literal in its SQL lines (comments untouched); a constant pattern is
        compiled once, not per row."""
        literal = "'" + self.ticket_pattern.replace("'", "''") + "'"
        return "\n".join(
            line if line.lstrip().startswith("--") else line.replace("$ticket_pattern", literal)
            for line in sql.splitlines()
        )


def _pattern(value: Any) -> str:
    """A ticket pattern: a regular expression with a capture group (its first is the ticket)."""
    if not isinstance(value, str) or not value or any(ord(c) < 32 for c in value):
        raise CostlabError(
            "costlab.toml: [attribution] ticket_pattern must be a regular expression on one line"
        )
    try:
        groups = re.compile(value).groups
    except re.error as ex:
        raise CostlabError(f"costlab.toml: [attribution] ticket_pattern {value!r} is not a regular expression: {ex}") from None
    if groups < 1:
        raise CostlabError(
            f"costlab.toml: [attribution] ticket_pattern {value!r} has no capture group; "
            f"the first group is the ticket, e.g. {DEFAULT_TICKET_PATTERN!r}"
        )
    return value


def _keys(section: Mapping[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = section.get(name, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CostlabError(f"costlab.toml: [attribution] {name} must be a list of tag names")
    return tuple(v.strip() for v in value)


def _mapping(section: Mapping[str, Any], name: str) -> dict[str, str]:
    value = section.get(name, {})
    if not isinstance(value, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in value.values()
    ):
        raise CostlabError(
            f'costlab.toml: [attribution.{name}] must map names to names, e.g. "key" = "workflow"'
        )
    return {str(k): v.strip() for k, v in value.items()}


def add_attributed_views(con: duckdb.DuckDBPyConnection | Any, rules: AttributionRules | None = None) -> None:
    """Create ``attribution_rules``, the attributed views and the ``allocation_rows`` macro on a
    connection with the lake's views (``charges`` and ``calls``): DuckDB, or Spark, whose
    connection registers them its own way (`costlab.engines.spark.SparkConnection`)."""
    from costlab.sql import load_sql

    rules = rules or AttributionRules()
    if getattr(con, "name", None) == "spark":  # duck-typed: this layer never imports engines
        con.register_attribution(rules)  # type: ignore[union-attr]
        return
    con.execute(
        "CREATE OR REPLACE TABLE attribution_rules (kind VARCHAR, key VARCHAR, value VARCHAR)"
    )
    rows = rules.rows()
    if rows:
        con.executemany("INSERT INTO attribution_rules VALUES (?, ?, ?)", rows)
    con.execute(
        f"CREATE OR REPLACE VIEW charges_attributed AS {load_sql('views/charges_attributed')}"
    )
    con.execute(f"CREATE OR REPLACE VIEW calls_attributed AS {rules.bind(load_sql('views/calls_attributed'))}")
    # the run, session and timing rows only a report over the rollups has: none here
    con.execute("CREATE OR REPLACE VIEW call_marks AS SELECT * FROM calls WHERE false")
    con.execute("CREATE OR REPLACE VIEW call_marks_attributed AS SELECT * FROM calls_attributed WHERE false")
    con.execute(load_sql("views/allocation_rows"))
