"""Explain the gap: billed minus traced, per currency, broken into named causes.

"The bill says $191.20, the traces explain $106.56: where is the other $84.64?" The rules (which
bill line falls in which cause, in which order, and how each amount is computed) live in the
header of ``queries/gap_causes.sql``; ``queries/gap_evidence.sql`` lists the lines behind each
cause. This module runs both, adds each cause's share of the gap and a one-line explanation with
what to do, and leaves out causes without lines. ``unexplained`` is always there, so per currency
the amounts add up to billed - traced exactly (Decimal).

>>> explain_gap("lake/", since="2026-10-01", until="2026-11-01").frames()   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from costlab.periods import When
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    import polars as pl

    from costlab.lake import Lake

CAUSE_COLUMNS = ["currency", "cause", "amount", "share_of_gap", "lines", "detail"]
EVIDENCE_COLUMNS = ["currency", "cause", "provider", "model", "project_id", "workflow", "service", "amount"]
#: The causes in the order of queries/gap_causes.sql (line classes first, unexplained last).
CAUSES = (
    "credits_and_adjustments", "non_token_charges", "duplicate_exports", "untraced_projects",
    "models_never_traced", "unpriced_calls", "traced_not_billed", "discounts", "cache_write_ttl",
    "long_context", "reasoning_tokens", "unexplained",
)  # fmt: skip


@dataclass
class GapResult:
    """The causes (`CAUSE_COLUMNS`) and their evidence (`EVIDENCE_COLUMNS`) as row tuples."""

    causes: list[tuple[Any, ...]] = field(default_factory=list)
    evidence: list[tuple[Any, ...]] = field(default_factory=list)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(causes, evidence) as polars DataFrames; money stays Decimal."""
        import polars as pl

        money = pl.Decimal(38, 12)
        causes = pl.DataFrame(
            self.causes, orient="row",
            schema={"currency": pl.String, "cause": pl.String, "amount": money,
                    "share_of_gap": pl.Decimal(38, 6), "lines": pl.Int64, "detail": pl.String},
        )  # fmt: skip
        evidence = pl.DataFrame(
            self.evidence, orient="row",
            schema={**{c: pl.String for c in EVIDENCE_COLUMNS[:-1]}, "amount": money},
        )
        return causes, evidence


def explain_gap(source: Workspace | Lake | str | None, since: When = None, until: When = None) -> GapResult:
    """Billed - traced over ``[since, until)`` (UTC) per currency, in named causes.

    ``source``: a `Workspace` (its period when ``since``/``until`` are not given), a `Lake` or a
    folder. The bill is the report's headline bill (every charge of the period), traced its traced
    cost (priced calls of the period): see queries/gap_causes.sql."""
    ws = workspace(source)
    period = ws.period_of(since, until)
    with ws.connect(engine="duckdb") as con:
        (_, causes), (_, evidence) = gap_sections(con, period.params())
    return GapResult(causes, evidence)


def gap_sections(
    con: Any, params: Mapping[str, Any]
) -> tuple[tuple[list[str], list[tuple[Any, ...]]], tuple[list[str], list[tuple[Any, ...]]]]:
    """``((columns, rows), (columns, rows))`` of the causes and the evidence on a prepared
    connection (DuckDB or Spark, with ``charges_attributed``, ``charges_llm`` and ``calls``), for
    the report to call inside its own connection. ``params``: ``since``, ``until``."""
    from costlab.sql import load_sql

    values = {"since": params.get("since"), "until": params.get("until")}
    cause_rows = _rows(con, load_sql("gap_causes"), values)
    evidence_rows = _rows(con, load_sql("gap_evidence"), values)
    evidence = [tuple(r[c] for c in EVIDENCE_COLUMNS) for r in evidence_rows]
    causes = []
    for r in cause_rows:
        if r["cause"] != "unexplained" and not r["lines"] and not r["calls"] and not r["amount"]:
            continue
        mine = [e for e in evidence_rows if e["cause"] == r["cause"] and e["currency"] == r["currency"]]
        causes.append(
            (r["currency"], r["cause"], r["amount"], share(r["amount"], r["gap"]), r["lines"] or r["calls"],
             detail(r, mine))
        )  # fmt: skip
    return (list(CAUSE_COLUMNS), causes), (list(EVIDENCE_COLUMNS), evidence)


def _rows(con: Any, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, dict(params))
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def share(amount: Decimal | None, gap: Decimal | None) -> Decimal | None:
    """``amount / gap`` to 6 places (None when the gap is 0: a share of nothing)."""
    if amount is None or not gap:
        return None
    with localcontext(prec=80):
        return (Decimal(amount) / Decimal(gap)).quantize(Decimal("0.000001"))


def _money(value: Decimal, currency: str | None) -> str:
    from costlab.money_text import money_text

    return f"{money_text(value)} {currency or ''}".rstrip()


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _names(rows: list[dict[str, Any]], key: str, limit: int = 3) -> str:
    seen: list[str] = []
    for r in rows:
        v = r.get(key)
        if v is not None and v not in seen:
            seen.append(str(v))
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more if seen else "(none named)"


def detail(cause: Mapping[str, Any], evidence: list[dict[str, Any]]) -> str:
    """One plain-English line: what the cause is here, and what to do about it."""
    name, cur, n = cause["cause"], cause["currency"], cause["lines"]
    top = ", ".join(
        f"{r.get('workflow') or r.get('project_id') or r.get('service') or r.get('model') or r.get('provider') or '?'} "
        f"{_money(r['amount'], cur)}"
        for r in evidence[:3]
    )
    fields = {
        "lines": _count(n, "line"), "top": top, "cur": cur or "-", "models": _names(evidence, "model"),
        "calls": _count(cause.get("calls") or 0, "call"),
        "who": ", ".join(f"{r.get('project_id') or '-'} ({r.get('workflow') or 'unmapped'})" for r in evidence[:3]),
    }  # fmt: skip
    if name in DETAILS:
        return DETAILS[name].format(**fields)
    if not cause["amount"]:
        return "nothing left: the causes above explain the whole gap"
    return (f"{_money(cause['amount'], cur)} of the matched bill lines the traces do not explain "
            f"(by model: {top or 'rounding'}): compare the reconciliation for those models")


#: What each cause means here and what to do, filled from its evidence (`detail`).
DETAILS = {
    "credits_and_adjustments": "{lines} of credit, tax or adjustment ({top}): not usage, no trace shows them; "
    "nothing to instrument",
    "non_token_charges": "{lines} that are not LLM tokens ({top}): GPU hours, storage, search and other services; "
    "see the allocation for who they belong to",
    "duplicate_exports": "{lines} of tokens the lake holds from two billing sources: the bill counts them twice; "
    "ingest one source per bill or keep the preferred one",
    "untraced_projects": "bills in {who} have no traces: instrument them, or map the project in [attribution.projects]",
    "models_never_traced": "models {models} are billed but no call of them is traced: instrument the code that calls them",
    "unpriced_calls": "{calls} of {models} unpriced, so their bill has no traced counterpart: add a [[model]] price "
    "override",
    "traced_not_billed": "{calls} of {models} priced without a bill line in {cur}: ingest that provider's bill, or "
    "check the model is the one billed",
    "discounts": "the bill differs from the list price on {lines} (discounts, commitments): the traces price at list; "
    "add the discount as a price override to trace at what you pay",
    "cache_write_ttl": "{lines} bill 1-hour cache writes that the traces price as 5-minute writes (2x vs 1.25x input): "
    "record cache_write_1h tokens in the traces",
    "long_context": "{lines} billed at the long-context rate (>200k input) while no trace shows a call that long: "
    "check the traces record the whole input",
    "reasoning_tokens": "{lines} of reasoning tokens while the traces report no reasoning tokens: record reasoning "
    "(thinking) tokens in the traces",
}
