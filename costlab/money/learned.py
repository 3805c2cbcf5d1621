"""Prices learned from the bill: what each model's tokens really cost, from the bill's own lines.

A new or private model is on the bill days before any catalogue prices it, and a negotiated
discount is on every line of it. `learn_prices` divides billed money by billed tokens per
provider, model, token type, tier and currency (``queries/learned_rates.sql``), and sets each
rate beside the pinned catalogue's list price. `prices_toml` writes the result as a prices file in
the overrides format (docs/pricing.md) for a person to review and then name in ``[prices]
overrides``: a ``[[model]]`` for a model the catalogue does not know, a ``[[discount]]`` for a
known model billed below (or above) list. Nothing is applied without that step.

A self-hosted model has no token lines, but its GPUs are on the bill: `learn_compute_prices`
divides the compute billed to the workflows that run only that model by its tokens
(``queries/compute_rates.sql``), one blended price per token (`ComputeRate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from costlab.periods import When
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    from costlab.lake import Lake
    from costlab.pricing import PriceBook, PriceMatch

MTOK = Decimal(1_000_000)
#: a learned rate this close to the list price (as a fraction) is the list price
TOLERANCE = Decimal("0.005")
#: bill token type -> the overrides file's price key and the catalogue price type it compares with
KEYS: dict[str, tuple[str, str]] = {
    "input_uncached": ("input_per_mtok", "input_uncached"),
    "embedding": ("input_per_mtok", "input_uncached"),
    "output": ("output_per_mtok", "output"),
    "input_cache_read": ("cache_read_per_mtok", "input_cache_read"),
    "input_cache_write_5m": ("cache_write_5m_per_mtok", "input_cache_write_5m"),
    "input_cache_write_1h": ("cache_write_1h_per_mtok", "input_cache_write_1h"),
    "input_cache_write": ("cache_write_per_mtok", "input_cache_write_5m"),
    "reasoning": ("reasoning_per_mtok", "reasoning"),
    "input_audio": ("input_audio_per_mtok", "input_audio"),
    "output_audio": ("output_audio_per_mtok", "output_audio"),
}


@dataclass(frozen=True)
class LearnedRate:
    """One model's token type as the bill charged it, beside the catalogue's list price."""

    provider: str
    model: str
    token_type: str
    service_tier: str
    currency: str
    tokens: Decimal
    billed: Decimal
    lines: int
    source_format: str
    first_day: date
    last_day: date
    catalogue_model: str | None  # the catalogue's id for the model, None when it does not know it
    list_per_mtok: Decimal | None  # the catalogue's list price valid on first_day (None: unknown)

    @property
    def per_mtok(self) -> Decimal:
        """Billed money per million tokens (to a millionth of the currency unit)."""
        with localcontext(prec=60):
            return (self.billed / self.tokens * MTOK).quantize(Decimal("0.000001"))

    @property
    def discount(self) -> Decimal | None:
        """1 - billed / (tokens x list): 0.15 is 15 % under list, negative is above it."""
        if not self.list_per_mtok:
            return None
        with localcontext(prec=60):
            return (1 - self.billed / (self.tokens * self.list_per_mtok / MTOK)).quantize(Decimal("0.0001"))

    @property
    def evidence(self) -> str:
        return (
            f"{self.lines} {self.source_format} bill lines {self.first_day}..{self.last_day}: "
            f"{self.billed.normalize():f} {self.currency} for {self.tokens:,} {self.token_type} tokens"
        )


@dataclass(frozen=True)
class ComputeRate:
    """A self-hosted model's blended price per token: the compute billed to the workflows that
    run only that model, over its tokens. The field names `LearnedRate` shares are the same."""

    provider: str
    model: str
    workflows: tuple[str, ...]
    currency: str
    calls: int
    input_tokens: Decimal  # inclusive of cache reads and writes
    cache_tokens: Decimal
    output_tokens: Decimal
    billed: Decimal
    lines: int
    source_format: str
    services: str
    first_day: date
    last_day: date
    token_type: str = "all"
    service_tier: str = "standard"
    catalogue_model: None = None
    list_per_mtok: None = None
    discount: None = None

    @property
    def tokens(self) -> Decimal:
        return self.input_tokens + self.output_tokens

    @property
    def per_mtok(self) -> Decimal:
        """Billed compute per million tokens, every token alike (to a millionth)."""
        with localcontext(prec=60):
            return (self.billed / self.tokens * MTOK).quantize(Decimal("0.000001"))

    @property
    def per_call(self) -> Decimal:
        with localcontext(prec=60):
            return (self.billed / self.calls).quantize(Decimal("0.000001"))

    @property
    def evidence(self) -> str:
        return (
            f"{self.lines} {self.source_format} compute lines ({self.services}) "
            f"{self.first_day}..{self.last_day} attributed to {', '.join(self.workflows)}: "
            f"{self.billed.normalize():f} {self.currency} for {self.calls:,} calls and {self.tokens:,} tokens "
            f"({self.input_tokens:,} input, {self.output_tokens:,} output)"
        )


def learn_compute_prices(source: Workspace | Lake | str | None, since: When = None,
                         until: When = None) -> list[ComputeRate]:  # fmt: skip
    """A blended price per token for each self-hosted model over ``[since, until)``: the Compute
    lines attributed to the workflows whose every call is that one unpriced model, over the
    model's tokens there (``queries/compute_rates.sql``). A model sole in several workflows
    takes their compute and tokens together; one billed in two currencies gets one rate each."""
    from costlab.sql import load_sql

    ws = workspace(source)
    period = ws.period_of(since, until)
    with ws.connect(engine="duckdb") as con:
        rows = con.sql(load_sql("compute_rates"), params=period.params()).fetchall()
    grouped: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for r in rows:
        grouped.setdefault((str(r[0]), str(r[1]), str(r[3])), []).append(r)
    out = []
    for (provider, model, currency), group in sorted(grouped.items()):
        out.append(ComputeRate(
            provider, model, tuple(sorted(str(r[2]) for r in group)), currency,
            sum(int(r[4]) for r in group),
            sum((Decimal(r[5]) for r in group), Decimal(0)),
            sum((Decimal(r[6]) for r in group), Decimal(0)),
            sum((Decimal(r[7]) for r in group), Decimal(0)),
            sum((Decimal(r[8]) for r in group), Decimal(0)),
            sum(int(r[9]) for r in group),
            ", ".join(sorted({str(r[10]) for r in group})),
            ", ".join(sorted({s for r in group for s in str(r[11]).split(", ")})),
            min(r[12] for r in group),
            max(r[13] for r in group),
        ))  # fmt: skip
    return out


def learn_prices(source: Workspace | Lake | str | None, since: When = None, until: When = None,
                 book: PriceBook | None = None) -> list[LearnedRate]:  # fmt: skip
    """Every (provider, model, token type, tier, currency) the bill prices per token over
    ``[since, until)``, with the catalogue's list price beside it (``book``: the workspace's
    price book by default, overrides included for the match, list prices for the comparison)."""
    from costlab.sql import load_sql

    ws = workspace(source)
    period = ws.period_of(since, until)
    book = book or ws.prices()
    with ws.connect(prices=book, engine="duckdb") as con:
        rows = con.sql(load_sql("learned_rates"), params=period.params()).fetchall()
        traced = con.sql("SELECT DISTINCT provider, model FROM calls WHERE price_model IS NOT NULL").fetchall()
    out = []
    for provider, model, ttype, tier, currency, tokens, billed, _list, lines, fmt, first, last in rows:
        hit = book.match(provider, model) or _via_calls(book, provider, model, traced)
        price = _list_price(book, hit.provider, hit.model, KEYS.get(ttype, ("", ttype))[1], tier, currency, first) if hit else None
        out.append(LearnedRate(provider, model, ttype, tier, currency, Decimal(tokens), billed, int(lines), fmt,
                               first, last, hit.model if hit else None, price))  # fmt: skip
    return out


def _via_calls(book: PriceBook, provider: str, model: str, traced: list[tuple[str, str]]) -> PriceMatch | None:
    """A bill names a model without its date or region (Bedrock's 'claude-haiku-4-5'); the traces
    name the same model in full ('claude-haiku-4-5-20251001'): the catalogue entry of the traced
    model of the same provider whose id extends the bill's, when there is exactly one."""
    hits = {book.match(p, m) for p, m in traced if p == provider and m.lower().startswith(model.lower())}
    hits.discard(None)
    return hits.pop() if len(hits) == 1 else None


def _list_price(book: PriceBook, provider: str, model: str, price_type: str, tier: str, currency: str,
                day: date) -> Decimal | None:  # fmt: skip
    """The base-band, all-day list price per MTok valid at ``day``'s start, or None."""
    at = datetime.combine(day, time(0), UTC)
    for r in book.rows_for(provider, model):
        if (r.price_type == price_type and r.service_tier == tier and r.currency == currency and r.unit == "token"
                and r.covers(at) and r.input_tokens_above is None and r.time_of_day_from is None):  # fmt: skip
            return r.list_unit_price * MTOK
    return None


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def prices_toml(rates: list[LearnedRate], compute: list[ComputeRate] | None = None) -> str:
    """The learned prices as a prices file to review (module doc); a rate within `TOLERANCE` of
    the list price is listed in a comment only. ``compute``: self-hosted models' blended rates,
    written as ``[[model]]`` entries with the same price for every token type."""
    lines = [
        "# Prices learned from the bill by `costlab prices learn`: review, then name this file in",
        "# costlab.toml ([prices] overrides = \"...\"). Nothing here is applied until then.",
        "",
    ]
    unknown: dict[tuple[str, str, str, str], list[LearnedRate]] = {}
    known: dict[tuple[str, str, str, str], list[LearnedRate]] = {}
    for r in rates:
        key = (r.provider, r.catalogue_model or r.model, r.service_tier, r.currency)
        (known if r.catalogue_model and r.list_per_mtok is not None else unknown).setdefault(key, []).append(r)
    for (provider, model, tier, currency), group in sorted(unknown.items()):
        lines += [f"# {model}: not in the catalogue; priced as the bill charged it"]
        lines += [f"#   {r.evidence}" for r in group]
        lines += ["[[model]]", f"provider = {_toml_string(provider)}", f"model = {_toml_string(model)}",
                  f"service_tier = {_toml_string(tier)}", f"currency = {_toml_string(currency)}",
                  f"valid_from = {min(r.first_day for r in group).isoformat()}"]  # fmt: skip
        for r in group:
            if r.token_type in KEYS:
                lines.append(f"{KEYS[r.token_type][0]} = {r.per_mtok.normalize():f}")
        lines.append("")
    for (provider, model, tier, currency), group in sorted(known.items()):
        with localcontext(prec=60):
            billed = sum((r.billed for r in group), Decimal(0))
            listed = sum((r.tokens * (r.list_per_mtok or 0) / MTOK for r in group), Decimal(0))
            off = (1 - billed / listed) if listed else Decimal(0)
        detail = [f"#   {r.evidence}: {r.per_mtok.normalize():f} per MTok against list {r.list_per_mtok:.6f}"
                  for r in group]  # fmt: skip
        if abs(off) < TOLERANCE:
            lines += [f"# {model} ({tier}, {currency}): billed at list price", *detail, ""]
            continue
        percent = (off * 100).quantize(Decimal("0.01"))
        lines += [f"# {model} ({tier}, {currency}): billed {abs(percent)}% {'under' if off > 0 else 'over'} list",
                  *detail, "[[discount]]", f"provider = {_toml_string(provider)}", f"model = {_toml_string(model)}",
                  f"service_tier = {_toml_string(tier)}", f"percent = {percent.normalize():f}",
                  f"valid_from = {min(r.first_day for r in group).isoformat()}", ""]  # fmt: skip
    for c in compute or []:
        rate = f"{c.per_mtok.normalize():f}"
        lines += [
            f"# {c.model} ({c.provider}, self-hosted, {c.currency}): the compute its workflow is billed, per token",
            f"#   {c.evidence}: {rate} per MTok, {c.per_call.normalize():f} per call",
            "#   One rate for every token: GPUs bill time, not tokens, so this makes the calls sum to their compute.",
            "#   Applied, it prices these calls for unit costs and what-ifs; the compute lines stay on the bill,",
            "#   and the calls have no token line there (the reconciliation shows them as traced, not billed).",
            "[[model]]", f"provider = {_toml_string(c.provider)}", f"model = {_toml_string(c.model)}",
            f"currency = {_toml_string(c.currency)}", f"valid_from = {c.first_day.isoformat()}",
            f"input_per_mtok = {rate}", f"output_per_mtok = {rate}",
        ]  # fmt: skip
        if c.cache_tokens:
            lines += [f"cache_read_per_mtok = {rate}", f"cache_write_per_mtok = {rate}"]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
