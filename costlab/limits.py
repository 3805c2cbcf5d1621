"""Plausibility limits on ingested values, and why the report's sums cannot overflow.

A value past these limits is not a measurement: it is an "unknown" sentinel (INT64_MAX, or -1
read as unsigned), a unit slip (nanodollars read as dollars) or a hostile file. Such a row goes to
quarantine with a reason naming the column, the value and the limit, instead of reaching a report,
where one INT64_MAX span made every token sum of its day overflow and two bill lines near 1e26
overflowed the money sum. The pipeline checks every row of every source (`pipeline._check_row`).

Defaults, each configurable in ``costlab.toml`` under ``[ingest]``:

- ``max_tokens_per_call = 1e12``: each token count of a span (one call). The longest context
  windows hold about 1e7 tokens: five orders of magnitude of room. A negative count is refused
  in spans and usage; a billing line's may be negative (a reversal).
- ``max_tokens_per_line = 1e15``: token and request counts of a usage bucket or a billing line,
  which add up many calls (1e15 tokens is over $100M at the cheapest prices).
- ``max_money_per_line = 1e15``: the absolute value of every money column of a row (costs, unit
  prices, a span's reported cost; credits are negative and allowed). Quantities are not money
  (GCP bills storage in byte-seconds: 1 TB for a day is 8.6e16) and keep only their type's range.
- ``max_line_bytes = 64 MiB``: the longest line (JSONL record, CSV row) read from a line-oriented
  file. Twice the largest request the Anthropic Messages API accepts (32 MB), so a Claude Code
  record with pasted images or a PDF fits, while a corrupt or hostile line (300 MB in a small
  ``.gz``) is skipped in bounded chunks and quarantined with its line number instead of costing
  gigabytes. Text readers count decoded characters, which never exceed the bytes.

A row is also placed in time only between 2000-01-01 and 2100-01-01 (`EARLIEST`, `LATEST`): no
LLM API or cloud bill is older, and epoch 0 (1970-01-01) is how many exporters write "unset".

Why sums cannot overflow: money is DECIMAL(38,12), so up to 1e26. With every amount below 1e15 a
sum reaches 1e26 only after 1e11 lines at the limit; the largest configurable limit, 1e18, still
needs 1e8 such lines. Token sums are taken in DECIMAL(38,0) (queries/cost_by_*.sql), exact to
1e38 for any number of rows. Inside one row the token parts (at most seven) are added and
subtracted in BIGINT: 7 x 1e17 (the largest configurable token limit) < 9.2e18.

Stdlib only: imported by the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from costlab.errors import CostlabError

#: The times a row may be placed at (its day column), ``[EARLIEST, LATEST)``.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

#: The largest value each limit may be configured to (see "Why sums cannot overflow").
_CEILING: dict[str, int] = {
    "max_tokens_per_call": 10**17,
    "max_tokens_per_line": 10**17,
    "max_money_per_line": 10**18,
    "max_line_bytes": 1 << 40,
}


@dataclass(frozen=True)
class Limits:
    """Plausibility limits for one ingest (see the module docstring)."""

    max_tokens_per_call: int = 10**12
    max_tokens_per_line: int = 10**15
    max_money_per_line: Decimal = Decimal(10) ** 15
    max_line_bytes: int = 64 << 20

    @classmethod
    def from_config(cls, ingest: Mapping[str, Any]) -> Limits:
        """Limits from the ``[ingest]`` table of costlab.toml; a bad value is a one-line error."""
        given = {f.name: _setting(f.name, ingest[f.name]) for f in fields(cls) if f.name in ingest}
        return cls(**given)


def _setting(name: str, raw: Any) -> Any:
    where = f"costlab.toml: ingest.{name}"
    try:
        value = Decimal(str(raw)) if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 1 <= value <= _CEILING[name]:
        raise CostlabError(f"{where} = {raw!r}: use a number from 1 to {_CEILING[name]:.0e}")
    if name == "max_money_per_line":
        return value
    if value != value.to_integral_value():
        raise CostlabError(f"{where} = {raw!r}: use a whole number")
    return int(value)
