"""Provider prompt-caching rules as effective-dated data (``provider_rules.toml`` beside this file).

Why data: docs/analyzers.md shows minimums, TTLs and write fees changing per model family
and over time, so a simulation must say which rule it used (``Rule.key``) and the numbers must be
fixable without touching code. ``lookup(provider, model, at)`` picks the rule whose provider
matches (``*`` is the fallback) and whose ``valid_from <= at < valid_to``, preferring the longest
``model_glob``.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from costlab.errors import CostlabError

RULES_FILE = "provider_rules.toml"
#: Providers served with another provider's caching rules (same models, same mechanics).
ALIASES = {"google.vertex": "google", "vertex": "google", "gemini": "google"}
#: Model families whose maker's rules apply when the provider has none for them (Claude on
#: Vertex, a gateway that logs no provider).
_FAMILY = {"claude*": "anthropic", "gpt-*": "openai", "o[1-9]*": "openai", "gemini*": "google"}


@dataclass(frozen=True)
class Rule:
    provider: str
    model_glob: str
    valid_from: datetime | None
    valid_to: datetime | None
    min_tokens: int
    granularity: int
    ttl_short: float
    ttl_typical: float
    ttl_long: float
    refresh_on_hit: bool
    write_mult_short: float
    write_mult_long: float
    read_mult: float
    max_breakpoints: int
    visibility_lag: float
    overflow_rpm: int
    guaranteed: bool
    source: str
    retrieved: str

    @property
    def key(self) -> str:
        """Names the rule version a simulation used (provider/glob@valid_from)."""
        since = self.valid_from.date().isoformat() if self.valid_from else "always"
        return f"{self.provider}/{self.model_glob}@{since}"

    @property
    def writes_priced(self) -> bool:
        return self.write_mult_short > 1.0 or self.write_mult_long > 1.0

    def covers(self, at: datetime | None) -> bool:
        if at is None:
            return True
        return (self.valid_from is None or at >= self.valid_from) and (
            self.valid_to is None or at < self.valid_to
        )


def _when(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        raise CostlabError(f"{where}: bad date {value!r}; use YYYY-MM-DD") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _typed(kind: type) -> Any:
    return lambda value, where: kind(value)


#: How each field of a rule is read from TOML.
_CONVERT: dict[str, Any] = {
    **{f.name: _typed({"str": str, "int": int, "float": float, "bool": bool}.get(str(f.type), str)) for f in fields(Rule)},
    "valid_from": _when,
    "valid_to": _when,
}


def parse_rules(data: dict[str, Any], where: str) -> list[Rule]:
    """Rules from parsed TOML (``[[rule]]`` tables); every field is required."""
    names = [f.name for f in fields(Rule)]
    out = []
    for i, raw in enumerate(data.get("rule", []), 1):
        here = f"{where} rule {i}"
        missing = [n for n in names if n not in raw]
        if missing:
            raise CostlabError(f"{here}: missing {', '.join(missing)}; every rule needs all fields")
        try:
            values = {n: _CONVERT[n](raw[n], here) for n in names}
            values["granularity"] = max(1, values["granularity"])
            out.append(Rule(**values))
        except (TypeError, ValueError) as ex:
            raise CostlabError(f"{here}: {ex}; fix the value") from None
        if not out[-1].source:
            raise CostlabError(f"{here}: empty source; every rule names where its numbers come from")
    if not any(r.provider == "*" for r in out):
        raise CostlabError(f"{where}: no fallback rule (provider = \"*\"); add one")
    return out


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> tuple[Rule, ...]:
    """The bundled rules, or those in ``path`` (config ``[analyze.caching] rules``)."""
    if path:
        where = path
        try:
            data = tomllib.loads(Path(path).expanduser().read_text())
        except OSError as ex:
            raise CostlabError(f"{path}: cannot read caching rules ({ex.strerror})") from None
        except tomllib.TOMLDecodeError as ex:
            raise CostlabError(f"{path}: not valid TOML ({ex})") from None
    else:
        where = RULES_FILE
        data = tomllib.loads(resources.files("costlab.analyze").joinpath(RULES_FILE).read_text())
    return tuple(parse_rules(data, where))


def lookup(
    provider: str | None,
    model: str | None,
    at: datetime | None = None,
    rules: tuple[Rule, ...] | None = None,
) -> Rule:
    """The rule for ``provider``/``model`` in force at ``at`` (fallback: the ``*`` rule)."""
    rules = rules if rules is not None else load_rules()
    prov = (provider or "").strip().lower()
    prov = ALIASES.get(prov, prov)
    name = (model or "").strip().lower()
    best: Rule | None = None
    for r in rules:
        if r.provider != prov or not r.covers(at) or not fnmatch.fnmatchcase(name, r.model_glob):
            continue
        if best is None or len(r.model_glob) > len(best.model_glob):
            best = r
    if best is None:
        family = next((p for pat, p in _FAMILY.items() if fnmatch.fnmatchcase(name, pat)), None)
        if family and family != prov:  # a known model behind another host or no provider: its maker's rules
            return lookup(family, model, at, rules)
    if best is None:
        fallback = [r for r in rules if r.provider == "*"]
        best = next((r for r in fallback if r.covers(at)), fallback[0])
    return best
