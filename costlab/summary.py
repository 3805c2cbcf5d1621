"""The terminal summary of a lake: billed money, provider usage and traced calls.

Plain data (`Summary`) built from named queries; `costlab.render` turns it into text or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from costlab.periods import parse_date
from costlab.sql import load_sql

if TYPE_CHECKING:
    from costlab.lake import Lake


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class Summary:
    lake: str
    since: datetime | None
    until: datetime | None
    sections: list[Section] = field(default_factory=list)
    quarantined: int = 0
    runs: int = 0


SECTIONS = (
    ("Billed money by provider and month", "spend_by_provider_month"),
    ("Provider-reported usage", "usage_by_provider_model"),
    ("Traced calls by workflow", "calls_by_workflow"),
)


def build_summary(lake: Lake, since: str | None = None, until: str | None = None) -> Summary:
    start, end = parse_date(since), parse_date(until)
    out = Summary(str(lake.path), start, end)
    params = {"since": start, "until": end}
    with lake.connect() as con:
        for title, name in SECTIONS:
            cur = con.execute(load_sql(name), params)
            cols = [d[0] for d in cur.description or []]
            out.sections.append(Section(title, cols, cur.fetchall()))
        out.quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]  # type: ignore[index]
        out.runs = con.execute("SELECT count(DISTINCT run_id) FROM runs").fetchone()[0]  # type: ignore[index]
    return out
