"""The report as plain data: what every renderer (terminal, JSON, Markdown, CSV, HTML) and the
notebook API share.

A `Report` is a list of `Section` tables with stable keys (the JSON shape is documented in the
README and pinned by golden files), the headline totals per currency, the alerts (budgets,
anomalies) and the analyzers' findings. Values are plain Python: str, int, Decimal (money, exact),
date/datetime (UTC) or None (unknown; never rendered as 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.money.alerts import Alert

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Alert", "Headline", "PARTS", "Report", "Section", "SCHEMA_ID", "rank_findings"]

SCHEMA_ID = "costlab.report/1"

#: The report's reading order after the headline and "what to change": part key and heading.
#: Every section belongs to one part; "details" is collapsed in HTML and behind --full in the
#: terminal.
PARTS: tuple[tuple[str, str], ...] = (
    ("bill", "Where the whole bill went"),
    ("trends", "Trends and anomalies"),
    ("gap", "Explain the gap: billed minus traced"),
    ("details", "Details"),
)


@dataclass
class Section:
    """One table of the report. ``key`` is stable (JSON, CSV file names, HTML anchors)."""

    key: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    note: str | None = None
    part: str = "details"  # one of PARTS

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def frame(self) -> pl.DataFrame:
        import polars as pl

        data = {c: [r[i] for r in self.rows] for i, c in enumerate(self.columns)}
        return pl.DataFrame(data, strict=False)


@dataclass
class Headline:
    """Totals for one currency over the report period."""

    currency: str
    billed: Decimal | None  # sum of charges.billed_cost (None when no billing data)
    attributed: Decimal | None  # billed money allocated to a workflow
    unattributed: Decimal | None  # billed - attributed (explicit bucket, never hidden)
    traced_cost: Decimal | None  # sum of calls.cost (computed or reported)
    traced_calls: int
    unpriced_calls: int  # calls with no cost: listed in the `unpriced` section
    coverage: Decimal | None  # share of billed LLM money the traces explain (0..1), None if unknown
    previous_billed: Decimal | None = None  # billed in the previous period of the same length
    change: Decimal | None = None  # billed - previous_billed (None when either is unknown)
    change_pct: Decimal | None = None  # change / previous_billed * 100, one decimal


@dataclass
class Report:
    lake: str
    generated_at: datetime
    since: datetime | None
    until: datetime | None
    headline: list[Headline] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    # validated monthly savings of all findings, combined on the remaining cost (never a sum)
    savings: dict[str, Decimal] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # policy, budgets, metrics file, ...
    version: str = ""
    # the period the headline's change compares with: [previous_since, previous_until)
    previous_since: datetime | None = None
    previous_until: datetime | None = None
    notice: str | None = None  # one line when the period holds no data (names the period)
    #: why the report priced every call instead of reading the lake's rollups (None: rollups,
    #: or the period has no calls); costlab.rollups
    rollups_note: str | None = None
    #: why findings may be missing: the analyzers were not run (--no-findings) or ran out of
    #: memory (no findings), or one was skipped (the caching replay would not fit: the others'
    #: findings are listed); None: every analyzer ran, and ``findings`` is all they found
    findings_note: str | None = None
    #: the analyzers read fewer days than the report: without --since, the lake's last
    #: ``[analyze] default_days`` days with calls (`costlab.analyze.base.recent`); None: the report's period
    findings_scope: str | None = None

    def __repr__(self) -> str:
        """One short line in a plain Python shell (Jupyter shows `_repr_html_`)."""
        period = f"{self.since.date() if self.since else 'start'}..{self.until.date() if self.until else 'end'}"
        return (
            f"<Report {period} of {self.lake}: {len(self.sections)} sections, {len(self.alerts)} alerts, "
            f"{len(self.findings)} findings>"
        )

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def part(self, key: str) -> list[Section]:
        """The sections of one part (`PARTS`), in reading order."""
        return [s for s in self.sections if s.part == key]

    @property
    def frames(self) -> dict[str, pl.DataFrame]:
        """Every section as a polars DataFrame, by key (for notebooks)."""
        return {s.key: s.frame() for s in self.sections}

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape (schema ``costlab.report/1``)."""
        return {
            "schema": SCHEMA_ID,
            "costlab_version": self.version,
            "lake": self.lake,
            "generated_at": self.generated_at,
            "period": {"since": self.since, "until": self.until},
            "previous_period": {"since": self.previous_since, "until": self.previous_until},
            "notice": self.notice,
            "rollups_note": self.rollups_note,
            "options": self.options,
            "headline": [vars(h) for h in self.headline],
            "alerts": [vars(a) for a in self.alerts],
            "sections": {
                s.key: {"title": s.title, "part": s.part, "note": s.note, "columns": s.columns, "rows": s.records()}
                for s in self.sections
            },
            "findings": [stable(f) for f in self.findings],
            "findings_note": self.findings_note,
            "findings_scope": self.findings_scope,
            "savings_usd": self.savings,
        }

    # -- notebooks -----------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        return DISPLAY["html"](self)

    def _repr_markdown_(self) -> str:
        return DISPLAY["markdown"](self)


#: How a report shows itself in Jupyter, by format: filled by the renderers when
#: ``costlab.report`` is imported (the data model never imports its renderers).
DISPLAY: dict[str, Callable[[Report], str]] = {}


def _band(f: dict[str, Any], key: str) -> Decimal:
    band = f.get(key)
    high = band.get("high") if isinstance(band, dict) else None
    return Decimal(str(high)) if high is not None else Decimal(0)


def validated_saving(f: dict[str, Any]) -> bool:
    """A finding whose monthly saving is validated and above zero (else its band to show is the
    potential one): the one test `rank_findings` and the renderers' "what to change" share."""
    return bool(f.get("validated")) and _band(f, "monthly_savings_usd") > 0


def tier_text(f: dict[str, Any], confidence: bool = True) -> str:
    """The evidence tier a "what to change" line shows: validated, potential, or no saving at all
    (an ``info`` finding such as "already well cached: nothing to change" has none, and calling it
    "potential, needs validation" promised one). ``confidence``: name it for potential ones too."""
    level = str(f.get("confidence") or "—")
    if validated_saving(f):
        return f"validated, {level} confidence"
    if _band(f, "potential_savings_usd") > 0:
        return f"potential, needs validation ({level} confidence)" if confidence else "potential, needs validation"
    return "no saving claimed"


def rank_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What to change first: validated findings by their monthly saving (high end of the band,
    then low), then the potential ones by their potential saving; ties keep the analyzers' order."""

    def key(f: dict[str, Any]) -> tuple[int, Decimal, Decimal]:
        if validated_saving(f):
            saving = f["monthly_savings_usd"]
            return (0, -_band(f, "monthly_savings_usd"), -Decimal(str(saving.get("low") or 0)))
        return (1, -_band(f, "potential_savings_usd"), -_band(f, "monthly_savings_usd"))

    return sorted(findings, key=key)


def stable(value: Any, depth: int = 0) -> Any:
    """A finding made reproducible: nested dicts with sorted keys (evidence built from group-bys
    has no inherent order) and floats (ratios, never money) rounded to 6 decimals."""
    if isinstance(value, dict):
        items = value.items() if depth == 0 else sorted(value.items(), key=lambda kv: str(kv[0]))
        return {k: stable(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [stable(v, depth + 1) for v in value]
    if isinstance(value, float):
        # ratios from parallel float sums differ in the last bits between runs; money is Decimal
        return round(value, 6)
    return value
