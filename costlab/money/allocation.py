"""Allocate the bill to workflows, with an explicit ``unattributed`` bucket that closes exactly.

The rules live in queries/allocation.sql (its header is the reference); this module validates the
options, resolves them from ``costlab.toml`` and runs the queries::

    [allocation]
    policy = "proportional"   # non-token lines without a workflow: proportional | even | tag | none
    tokens = "traced"         # token lines without a workflow: traced | proportional
    grain = "month"           # conservation period: month | day

>>> from costlab.money.allocation import allocate, check           # doctest: +SKIP
>>> allocate("lake/", since="2025-06-01", policy="even")      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError
from costlab.periods import Period, When
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    import polars as pl

    from costlab.attribution import AttributionRules
    from costlab.lake import Lake

POLICIES = ("proportional", "even", "tag", "none")
TOKEN_POLICIES = ("traced", "proportional")
GRAINS = ("month", "day")

@dataclass(frozen=True)
class AllocationSettings:
    """Validated allocation options (see the module docstring)."""

    policy: str = "proportional"
    token_policy: str = "traced"
    grain: str = "month"

    def __post_init__(self) -> None:
        validate(self.policy, self.token_policy, self.grain)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **given: str | None) -> AllocationSettings:
        """``[allocation]`` of a parsed costlab.toml, overridden by every ``given`` not None."""
        section = cfg.get("allocation", {})
        if not isinstance(section, Mapping):
            raise CostlabError("costlab.toml: [allocation] must be a table")
        values = {
            "policy": str(section.get("policy", cls.policy)),
            "token_policy": str(section.get("tokens", cls.token_policy)),
            "grain": str(section.get("grain", cls.grain)),
        }
        values.update({k: v for k, v in given.items() if v is not None})
        return cls(**values)


def validate(policy: str, token_policy: str, grain: str) -> None:
    """Raise `CostlabError` naming the valid values for any unknown option."""
    for name, value, allowed in (
        ("policy", policy, POLICIES),
        ("token policy", token_policy, TOKEN_POLICIES),
        ("grain", grain, GRAINS),
    ):
        if value not in allowed:
            raise CostlabError(
                f"unknown allocation {name} {value!r}; use one of {', '.join(allowed)}"
            )


def params(
    since: When = None,
    until: When = None,
    grain: str | None = None,
    policy: str | None = None,
    token_policy: str | None = None,
    cfg: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``$params`` of queries/allocation.sql; options not given come from ``cfg`` (a parsed
    costlab.toml), then the built-in defaults."""
    s = AllocationSettings.from_config(cfg or {}, policy=policy, token_policy=token_policy, grain=grain)
    period = Period.of(since, until)
    return {**period.params(), "grain": s.grain, "policy": s.policy, "token_policy": s.token_policy}


def allocate(
    lake: Workspace | Lake | str | None,
    since: When = None,
    until: When = None,
    grain: str | None = None,
    policy: str | None = None,
    token_policy: str | None = None,
    rules: AttributionRules | None = None,
    *,
    query: str = "allocation",
) -> pl.DataFrame:
    """The bill per (period, currency, workflow, compute_kind, basis); ``workflow`` is
    ``'unattributed'`` for what no rule can place. ``lake``: a `Workspace` (its period and
    settings), a `Lake` or a folder. Options default to costlab.toml, then grain month, policy
    proportional, token policy traced. ``query``: ``allocation_check`` for `check`."""
    ws = workspace(lake)
    period = ws.period_of(since, until)
    values = params(period.since, period.until, grain, policy, token_policy, ws.settings)
    return ws.query(query, values, rules=rules)


def check(lake: Workspace | Lake | str | None, **options: Any) -> pl.DataFrame:
    """Per period and currency: billed, attributed, unattributed and difference (always 0);
    options as `allocate`'s."""
    return allocate(lake, query="allocation_check", **options)
