"""What-if on real traffic: the recorded calls re-priced under a change, before / after / difference.

`whatif` re-prices the calls of a step (or workflow, or all) over a period with another model,
the batch tier, a cache-write TTL or capped input, through the same price grid and cost formula
as every call (``queries/whatif.sql``), so its "after" is what costlab would have computed had the
change been live. Output tokens are kept as recorded: a different model writes differently, which
is what the downgrade analyzer's shadow evaluation measures; the result says so.

>>> whatif("lake/", since="30d", step="support-chat/answer", model="gpt-4.1-mini")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError, UsageError
from costlab.periods import When
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    from costlab.lake import Lake

COLUMNS = ["workflow", "month", "currency", "calls_changed", "unpriced_after", "before", "after", "difference"]
TTLS = ("5m", "1h")
MAX_TOKENS = 2**63 - 1  # a token count is a BIGINT


@dataclass
class WhatIf:
    """The change, its rows (`COLUMNS`) and the totals per currency."""

    change: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    #: for a change of model: the downgrade analyzer's evidence tier for it
    #: (`costlab.analyze.downgrade.whatif` fills it; this layer cannot run analyzers)
    evidence: str | None = None

    def totals(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """Per currency: (before, after, difference) over every row."""
        out: dict[str, list[Decimal]] = {}
        with localcontext(prec=80):
            for r in self.rows:
                t = out.setdefault(r[2], [Decimal(0), Decimal(0)])
                t[0] += r[5] or 0
                t[1] += r[6] or 0
        return {cur: (b, a, a - b) for cur, (b, a) in out.items()}

    def frame(self) -> Any:
        import polars as pl

        return pl.DataFrame({c: [r[i] for r in self.rows] for i, c in enumerate(COLUMNS)}, strict=False)

    def markdown(self) -> str:
        """A comment fit for a pull request: the change, what it costs a month, per workflow."""
        from costlab.money_text import money_text

        months = len({r[1] for r in self.rows}) or 1
        lines = []
        for cur, (before, after, diff) in sorted(self.totals().items()):
            with localcontext(prec=80):
                monthly = diff / months
            verb = (f"costs +{money_text(monthly)}" if monthly > 0 else
                    f"saves {money_text(-monthly)}" if monthly < 0 else "changes nothing:")  # fmt: skip
            lines.append(f"**{self.change}** {verb} {cur}/month on the recorded traffic ({money_text(before)} -> "
                         f"{money_text(after)} {cur} over {months} month{'s' if months > 1 else ''}).")  # fmt: skip
        if not lines:
            lines.append(f"**{self.change}**: no recorded priced call matches it in this period.")
        lines += ["", "| workflow | month | before | after | difference |", "| --- | --- | ---: | ---: | ---: |"]
        lines += [f"| {r[0]} | {r[1]:%Y-%m} | {money_text(r[5] or Decimal(0))} | {money_text(r[6] or Decimal(0))} | "
                  f"{money_text(r[7] or Decimal(0))} {r[2]} |" for r in self.rows]  # fmt: skip
        lines += [""] + ([f"- Evidence: {self.evidence}"] if self.evidence else []) + [f"- {c}" for c in self.caveats]
        return "\n".join(lines).rstrip() + "\n"


def whatif(
    source: Workspace | Lake | str | None,
    since: When = None,
    until: When = None,
    step: str | None = None,
    model: str | None = None,
    batch: bool = False,
    cache_ttl: str | None = None,
    max_input_tokens: int | None = None,
) -> WhatIf:
    """Re-price the calls of ``step`` ('workflow/step', 'workflow', or None for all) over
    ``[since, until)`` under the change: ``model`` (any id `costlab prices` knows), ``batch`` (the
    batch tier), ``cache_ttl`` ('5m' or '1h' cache writes), ``max_input_tokens`` (input capped)."""
    from costlab.sql import load_sql

    if not (model or batch or cache_ttl) and max_input_tokens is None:
        raise UsageError("what change? give --model, --batch, --cache-ttl or --max-input-tokens")
    if cache_ttl is not None and cache_ttl not in TTLS:
        raise UsageError(f"--cache-ttl {cache_ttl!r}: use {' or '.join(TTLS)}")
    if max_input_tokens is not None and not 0 <= max_input_tokens <= MAX_TOKENS:
        raise UsageError(f"--max-input-tokens must be between 0 and {MAX_TOKENS:,}")
    workflow, _, step_name = (step or "").partition("/")
    ws = workspace(source)
    period = ws.period_of(since, until)
    book = ws.prices()
    to_provider = to_model = None
    if model:
        hit = book.match(None, model)
        if hit is None:
            raise CostlabError(f"no price for model {model!r}: see `costlab prices {model}`, or add a [[model]] override")
        to_provider, to_model = hit.provider, hit.model
        if batch and "batch" not in hit.tiers:
            raise CostlabError(f"{model} has no batch price in the price book")
    params = {
        **period.params(), "scope_workflow": workflow or None, "scope_step": step_name or None, "to_provider": to_provider,
        "to_model": to_model, "to_tier": "batch" if batch else None, "cache_ttl": cache_ttl,
        "max_input": max_input_tokens,
    }  # fmt: skip
    with ws.connect(prices=book, engine="duckdb") as con:
        if to_model is not None:  # the grid holds the lake's models: add the new one's cells
            con.register("whatif_grid", book.grid_table({(str(to_provider), to_model)}))
            con.execute("CREATE OR REPLACE TEMP TABLE price_grid AS SELECT * FROM price_grid UNION ALL "
                        "SELECT * FROM whatif_grid WHERE (price_provider, price_model) NOT IN "
                        "(SELECT (price_provider, price_model) FROM price_grid)")  # fmt: skip
        raw = con.sql(load_sql("whatif"), params=params).fetchall()
    rows = [(*r, (r[6] or Decimal(0)) - (r[5] or Decimal(0))) for r in raw]
    change = ", ".join(p for p in (
        f"{step or 'all calls'} on {model}" if model else step or "all calls",
        "batch" if batch else "", f"{cache_ttl} cache writes" if cache_ttl else "",
        f"input capped at {max_input_tokens:,} tokens" if max_input_tokens is not None else "",
    ) if p)  # fmt: skip
    caveats = ["Output tokens are kept as recorded; a different model writes differently: shadow-evaluate it "
               "(costlab analyze downgrade) before switching."] if model else []  # fmt: skip
    if any(r[4] for r in rows):
        caveats.append(f"{sum(r[4] for r in rows)} changed calls cannot be priced after the change and are left "
                       "out of both sides.")  # fmt: skip
    return WhatIf(change, rows, caveats)
