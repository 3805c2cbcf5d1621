"""Effective-dated unit prices: genai-prices' bundled snapshot plus the user's override file.

Source: the installed, pinned ``genai-prices`` package, **bundled data only**. We read
``genai_prices.data.providers`` (a Python literal shipped in the wheel) through our own
``DataSnapshot``; ``UpdatePrices`` is never started and any process-wide custom snapshot is ignored,
so nothing is fetched and a report is reproducible from the package version alone (pydantic/genai-prices
issue #703: the fetched data is a second, separately maintained path).

Flattening (``prices`` table): per (provider, model) we cut time at every ``StartDateConstraint``
(price history and scheduled changes) and the day at every ``TimeOfDateConstraint`` (DeepSeek
off-peak), and resolve the prices at each piece with genai-prices' own ``ModelInfo.get_prices``,
once per service tier: ``standard`` (no context), ``batch`` (``processing=batch``), ``flex`` /
``priority`` / ``fast`` (``service_tier=...``; Anthropic ``speed=fast`` is ``fast``). Other variant
contexts (OpenRouter ``route``, Perplexity ``search_type``) are skipped. Tiered prices (cliff
model: crossing the threshold prices *all* tokens at the tier rate) become one row per band with
``input_tokens_above`` / ``input_tokens_upto`` on the *inclusive* input count, as genai-prices does.

Money: ``unit_price`` is the price of ONE unit (token, request, GPU hour) as ``DECIMAL(38,18)``.
genai-prices quotes per million tokens with up to 6 decimals (12 per token), but 25 values are
float artefacts or thirds (``0.18000000000000002``, ``0.0833333333333333``) that need up to 24
decimals per token: 18 keeps every real price exact and those within 1e-12 $/MTok. Costs are
``tokens x unit_price`` (exact) cast to ``DECIMAL(38,12)`` money in the ``calls`` view.

Price types: input_uncached, input_cache_read, input_cache_write_5m (genai ``cache_write`` without a
TTL is the 5-minute write), input_cache_write_1h, output, reasoning, input_audio, output_audio, ...,
request, gpu_hour (overrides only). Where a model has no price for a part, genai-prices prices it as
its parent (cache read at the input price; 1h write at the 5m write price; reasoning at output) —
``price_grid`` resolves that so SQL needs one join.

Overrides (TOML; ``[prices] overrides = "file"`` in costlab.toml or a path): see ``load_overrides``.

Caveats, from the 0.2.3 data: batch variants carry a start date of 2026-10-14, so earlier batch
calls get standard prices, exactly as ``calc_price`` gives them (a ``[[discount]]`` with
``service_tier = "batch"`` and ``valid_to`` fixes history); models with no price at all (``:free``,
GitHub Copilot) and models without an input or output token price are left unpriced here where
``calc_price`` would count those tokens as $0.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from costlab.price_cache import CachedPrices

GENAI_PRICES_VERSION = _pkg_version("genai-prices")
SOURCE = f"genai-prices {GENAI_PRICES_VERSION}"
#: A bill line's token type -> the price type it sets (`PriceBook.with_bill_rates`).
BILL_PRICE_TYPES = {
    "input_uncached": "input_uncached", "embedding": "input_uncached", "output": "output",
    "input_cache_read": "input_cache_read", "input_cache_write_5m": "input_cache_write_5m",
    "input_cache_write_1h": "input_cache_write_1h", "input_cache_write": "input_cache_write_5m",
    "reasoning": "reasoning", "input_audio": "input_audio", "output_audio": "output_audio",
}  # fmt: skip
TIERS = ("standard", "batch", "flex", "priority", "fast")
PRICE_SCALE = 18
_Q = Decimal(1).scaleb(-PRICE_SCALE)
_MTOK = Decimal(1_000_000)

#: genai-prices price key -> costlab price_type (token keys; others are derived generically)
_TOKEN_KEYS = {
    "input_mtok": "input_uncached",
    "cache_read_mtok": "input_cache_read",
    "cache_write_mtok": "input_cache_write_5m",
    "cache_write_5m_mtok": "input_cache_write_5m",  # unused in 0.2.3; beats the generic key
    "cache_write_1h_mtok": "input_cache_write_1h",
    "output_mtok": "output",
    "output_reasoning_mtok": "reasoning",
    "input_audio_mtok": "input_audio",
    "output_audio_mtok": "output_audio",
}
#: grid column -> price types tried in order (genai-prices' parent-unit fallback)
_GRID = {
    "p_uncached": ("input_uncached",),
    "p_cache_read": ("input_cache_read", "input_uncached"),
    "p_cache_write_5m": ("input_cache_write_5m", "input_uncached"),
    "p_cache_write_1h": ("input_cache_write_1h", "input_cache_write_5m", "input_uncached"),
    "p_output": ("output",),
    "p_reasoning": ("reasoning", "output"),
    "p_request": ("request",),
}


@dataclass(frozen=True)
class PriceRow:
    """One row of the ``prices`` table (NULL bounds are open)."""

    provider: str
    model: str
    service_tier: str
    price_type: str
    unit: str
    unit_price: Decimal
    list_unit_price: Decimal
    currency: str = "USD"
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    time_of_day_from: time | None = None
    time_of_day_to: time | None = None
    input_tokens_above: int | None = None
    input_tokens_upto: int | None = None
    source: str = SOURCE

    @property
    def tier_condition(self) -> str | None:
        lo, hi = self.input_tokens_above, self.input_tokens_upto
        if lo is None and hi is None:
            return None
        parts = ([f"input_tokens > {lo}"] if lo is not None else []) + (
            [f"input_tokens <= {hi}"] if hi is not None else []
        )
        return " and ".join(parts)

    def covers(self, at: datetime) -> bool:
        return _within(at, self.valid_from, self.valid_to)


class PriceMatch(NamedTuple):
    """Where a (provider, model) seen in traces gets its prices."""

    provider: str  # price provider id (genai-prices provider, or the override's)
    model: str  # canonical price model id
    tiers: tuple[str, ...]  # service tiers with their own prices (others use standard)
    rule: str  # 'override', 'genai-prices', 'genai-prices via <provider>'


# -- genai-prices --------------------------------------------------------------------------------
def _bundled() -> Any:
    """A private DataSnapshot over the wheel's data (never the auto-updated or custom one)."""
    from genai_prices.data import providers
    from genai_prices.data_snapshot import DataSnapshot

    return DataSnapshot(providers=providers, from_auto_update=False)


def _unit_of(price_key: str) -> tuple[str, str, Decimal] | None:
    """(price_type, unit, divisor to get the price of one unit) for a genai-prices price key."""
    from genai_prices.units import _get_registry

    if price_key in _TOKEN_KEYS:
        return _TOKEN_KEYS[price_key], "token", _MTOK
    try:
        unit = _get_registry().unit_for_price_key(price_key)
    except KeyError:
        return None
    name = unit.usage_key
    if unit.dimensions.get("family") == "tokens":
        return name.removesuffix("_tokens"), "token", Decimal(unit.per)
    if name == "requests":
        return "request", "request", Decimal(unit.per)
    if unit.per == 3600:  # durations are quoted per hour: keep them exact per hour
        return name.removesuffix("_seconds") + "_hour", "hour", Decimal(1)
    if unit.per == 60:
        return name.removesuffix("_seconds") + "_minute", "minute", Decimal(1)
    one = name[:-2] if name.endswith(("ches", "shes")) else name.removesuffix("s")
    return one, one, Decimal(unit.per)  # web_searches -> web_search, per search


def _per_unit(value: Decimal, divisor: Decimal) -> Decimal:
    return (value / divisor).quantize(_Q, rounding=ROUND_HALF_EVEN)


def _tier_of(when: Mapping[str, str]) -> str | None:
    if when == {"processing": "batch"}:
        return "batch"
    if set(when) == {"service_tier"} and when["service_tier"] in ("flex", "priority", "fast"):
        return when["service_tier"]
    if when == {"speed": "fast"}:
        return "fast"
    return None  # 'default' (= standard, empty), route, search_type: not a costlab tier


def _utc_time(t: time) -> time:
    if t.tzinfo is None:
        return t
    return datetime.combine(date(2000, 1, 1), t).astimezone(UTC).time()


def _model_rows(provider_id: str, model: Any) -> list[PriceRow]:
    from genai_prices import types as gt

    conds = list(model.prices) if isinstance(model.prices, list) else []
    variants = list(model.price_variants or [])
    constraints = [c.constraint for c in conds] + [v.constraint for v in variants]
    days = sorted({c.start_date for c in constraints if isinstance(c, gt.StartDateConstraint)})
    cuts = sorted(
        {
            _utc_time(t)
            for c in constraints
            if isinstance(c, gt.TimeOfDateConstraint)
            for t in (c.start_time, c.end_time)
        }
        - {time(0)}
    )
    tods: list[tuple[time | None, time | None]] = list(
        zip([None, *cuts], [*cuts, None], strict=True)
    )
    contexts: dict[str, dict[str, str]] = {"standard": {}}
    for v in variants:
        tier = _tier_of(v.when)
        if tier and tier not in contexts:
            contexts[tier] = dict(v.when)

    rows: list[PriceRow] = []
    for tier, ctx in contexts.items():
        # one entry per day-interval: [lo, hi) and its per-time-of-day price sets
        spans: list[tuple[date | None, date | None, list[tuple[Any, Any, dict[str, Any]]]]] = []
        for lo, hi in zip([None, *days], [*days, None], strict=True):
            day = lo or (hi - timedelta(days=1) if hi else date(2000, 1, 1))
            segs: list[tuple[Any, Any, dict[str, Any]]] = []
            for a, b in tods:
                at = datetime.combine(day, a or time(0), UTC)
                values = {
                    k: v
                    for k, v in model.get_prices(at, ctx or None).__dict__.items()
                    if v is not None and not k.startswith("_")
                }
                if "cache_write_5m_mtok" in values:  # our writes are all 5m or 1h
                    values.pop("cache_write_mtok", None)
                if segs and segs[-1][2] == values:
                    segs[-1] = (segs[-1][0], b, values)
                else:
                    segs.append((a, b, values))
            if spans and spans[-1][2] == segs:
                spans[-1] = (spans[-1][0], hi, segs)
            else:
                spans.append((lo, hi, segs))
        for lo, hi, segs in spans:
            for a, b, values in segs:
                for key, value in values.items():
                    rows.extend(_rows_for(provider_id, model.id, tier, key, value, lo, hi, a, b))
    return rows


def _midnight(d: date | None) -> datetime | None:
    return _midnight_of(d) if d else None


def _midnight_of(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def _within(at: datetime, lo: datetime | None, hi: datetime | None) -> bool:
    """``at`` in [lo, hi), a None bound being open."""
    return (lo is None or at >= lo) and (hi is None or at < hi)


def _rows_for(
    provider: str,
    model: str,
    tier: str,
    key: str,
    value: Any,
    lo: date | None,
    hi: date | None,
    a: time | None,
    b: time | None,
) -> Iterator[PriceRow]:
    from genai_prices.types import TieredPrices

    unit = _unit_of(key)
    if unit is None:
        return
    price_type, unit_name, divisor = unit
    if isinstance(value, TieredPrices):
        starts = [t.start for t in value.tiers]
        bands = [(None, starts[0] if starts else None, value.base)] + [
            (t.start, nxt, t.price) for t, nxt in zip(value.tiers, [*starts[1:], None], strict=True)
        ]
    else:
        bands = [(None, None, value)]
    for above, upto, price in bands:
        p = _per_unit(Decimal(price), divisor)
        yield PriceRow(
            provider, model, tier, price_type, unit_name, p, p, "USD",
            _midnight(lo), _midnight(hi), a, b, above, upto,
        )  # fmt: skip


# -- overrides -----------------------------------------------------------------------------------
_OVERRIDE_FIELDS = {
    "input_per_mtok": ("input_uncached", "token", _MTOK),
    "output_per_mtok": ("output", "token", _MTOK),
    "cache_read_per_mtok": ("input_cache_read", "token", _MTOK),
    "cache_write_per_mtok": ("input_cache_write_5m", "token", _MTOK),
    "cache_write_5m_per_mtok": ("input_cache_write_5m", "token", _MTOK),
    "cache_write_1h_per_mtok": ("input_cache_write_1h", "token", _MTOK),
    "reasoning_per_mtok": ("reasoning", "token", _MTOK),
    "input_audio_per_mtok": ("input_audio", "token", _MTOK),
    "output_audio_per_mtok": ("output_audio", "token", _MTOK),
    "per_request": ("request", "request", Decimal(1)),
    "per_gpu_hour": ("gpu_hour", "gpu_hour", Decimal(1)),
}


@dataclass(frozen=True)
class CustomModel:
    provider: str  # normalised as calls carry it (costlab.names.normalise_provider)
    model: str
    prices: dict[str, tuple[str, Decimal]]  # price_type -> (unit, price per unit)
    match: tuple[str, ...] = ()
    currency: str = "USD"
    service_tier: str = "standard"
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    provider_raw: str = ""

    def matches(self, provider: str | None, model: str) -> bool:
        if provider is not None and self.provider not in (provider, "*"):
            return False
        ref = model.lower()
        return ref == self.model or any(fnmatch.fnmatchcase(ref, g) for g in self.match)


@dataclass(frozen=True)
class Discount:
    percent: Decimal
    provider: str | None = None  # as written; matches the normalised and the genai-prices id
    model: str | None = None  # glob over the canonical price model id
    service_tier: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@dataclass(frozen=True)
class VolumeTier:
    from_tokens: int  # the tier starts after this many tokens of the month
    percent: Decimal  # off the price otherwise in force


@dataclass(frozen=True)
class Volume:
    """A graduated volume discount (``[[volume]]``): each tier's percent off the tokens of the
    UTC calendar month that fall in it (`PriceBook.volume_factors`)."""

    provider: str  # as written; matches the normalised and the genai-prices id
    tiers: tuple[VolumeTier, ...]
    model: str | None = None  # glob over the canonical price model id; None: every model
    valid_from: datetime | None = None  # UTC midnights
    valid_to: datetime | None = None

    def covers(self, day: date) -> bool:
        return _within(_midnight_of(day), self.valid_from, self.valid_to)

    def discounted(self, before: int, tokens: int) -> Decimal:
        """Tokens ``before + 1 .. before + tokens`` of the month weighted by their tiers' share of
        the price: sum over tiers of (tokens in the tier) x (100 - percent) / 100."""
        total = Decimal(0)
        lo, hi = before, before + tokens
        for tier, nxt in zip(self.tiers, [*self.tiers[1:], None], strict=True):
            top = hi if nxt is None else min(hi, nxt.from_tokens)
            inside = top - max(lo, tier.from_tokens)
            if inside > 0:
                total += inside * (Decimal(100) - tier.percent)
        return total / Decimal(100)


@dataclass(frozen=True)
class Commitment:
    """A monthly committed spend with a provider (``[[commitment]]``; `costlab.money.commitments`)."""

    provider: str  # normalised as calls and charges_llm carry it
    amount: Decimal  # per UTC calendar month
    currency: str = "USD"
    valid_from: datetime | None = None  # the first day of a month
    valid_to: datetime | None = None  # exclusive; the first day of a month

    def covers(self, month: date) -> bool:
        """True when ``month`` (its first day) is a committed month."""
        return _within(_midnight_of(month), self.valid_from, self.valid_to)


@dataclass
class Overrides:
    path: str
    models: list[CustomModel] = field(default_factory=list)
    discounts: list[Discount] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    commitments: list[Commitment] = field(default_factory=list)


def _when(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    if isinstance(value, str):
        try:
            return _when(datetime.fromisoformat(value.replace("Z", "+00:00")), where)
        except ValueError:
            pass
    raise CostlabError(f"{where}: not a date or date-time: {value!r}")


def _num(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise CostlabError(f"{where}: not a number: {value!r}")
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        raise CostlabError(f"{where}: not a number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise CostlabError(f"{where}: must be a non-negative number, got {value!r}")
    return d


def _provider_name(raw: Any) -> str:
    from costlab.names import normalise_provider

    return normalise_provider(str(raw)) or "*"


def load_overrides(path: str | os.PathLike[str]) -> Overrides:
    """Parse a price override file. Numbers are read as exact decimals (write ``0.15`` freely).

    ``[[model]]`` custom, fine-tuned or self-hosted model, or your own price for a listed one::

        provider = "openai"                         # required
        model = "ft:gpt-4o-mini:acme::abc123"       # the id calls carry (case-insensitive)
        match = ["ft:gpt-4o-mini:acme:*"]           # optional extra globs
        input_per_mtok = 0.30                       # per million tokens; also output_,
        output_per_mtok = 1.20                      #   cache_read_, cache_write_(5m_|1h_), reasoning_
        per_request = 0.0                           # optional; per_gpu_hour = 2.50 for self-hosted
        currency = "USD"; service_tier = "standard"; valid_from = 2025-01-01; valid_to = 2026-01-01

    An entry whose (provider, model) is a genai-prices model *replaces* that model's prices for the
    tier during its window (genai-prices applies outside it); entries later in the file win.

    ``[[discount]]`` negotiated discount on the list price: ``percent = 15`` with optional
    ``provider``, ``model`` (glob over the canonical model id), ``service_tier``, ``valid_from``,
    ``valid_to`` (exclusive). The last matching discount wins; discounts never compound.

    ``[[volume]]`` graduated volume tiers: ``provider`` (required), optional ``model`` (glob over
    the canonical model id; absent: every model of the provider), ``valid_from``/``valid_to``
    (dates), ``tiers = [{ from_mtok = 0, percent = 0 }, { from_mtok = 1000, percent = 10 }]``:
    each tier's percent off the price otherwise in force, for the tokens of the UTC calendar
    month (all token types summed) that fall in it (`PriceBook.volume_factors`).

    ``[[commitment]]`` a monthly committed spend: ``provider``, ``amount`` (per month),
    ``currency`` (default USD), ``valid_from`` and optional ``valid_to`` (first days of months);
    `costlab.money.commitments.status` reports it drawn down.
    """
    from costlab.config import regular_file

    p = Path(path).expanduser()
    try:
        with open(regular_file(p, "price override file"), "rb") as fh:
            data = tomllib.load(fh, parse_float=Decimal)
    except tomllib.TOMLDecodeError as ex:
        raise CostlabError(f"{p}: not valid TOML ({ex})") from None
    out = Overrides(path=str(p))
    unknown = set(data) - {"model", "discount", "volume", "commitment"}
    if unknown:
        raise CostlabError(
            f"{p}: unknown section(s) {sorted(unknown)}; use [[model]], [[discount]], [[volume]] or [[commitment]]"
        )
    for section in ("model", "discount", "volume", "commitment"):
        if not isinstance(data.get(section, []), list):
            raise CostlabError(f"{p}: {section} must be written [[{section}]] (a list of entries)")
    for i, m in enumerate(data.get("model", [])):
        where = f"{p}: [[model]] #{i + 1}"
        if not isinstance(m, dict) or not m.get("provider") or not m.get("model"):
            raise CostlabError(f"{where}: needs provider and model")
        extra = set(m) - set(_OVERRIDE_FIELDS) - {
            "provider", "model", "match", "currency", "service_tier", "valid_from", "valid_to",
        }  # fmt: skip
        if extra:
            raise CostlabError(f"{where}: unknown key(s) {sorted(extra)}")
        prices = {
            _OVERRIDE_FIELDS[k][0]: (
                _OVERRIDE_FIELDS[k][1],
                _per_unit(_num(v, f"{where} {k}"), _OVERRIDE_FIELDS[k][2]),
            )
            for k, v in m.items()
            if k in _OVERRIDE_FIELDS
        }
        if not prices:
            raise CostlabError(f"{where}: no prices (e.g. input_per_mtok, output_per_mtok)")
        globs = m.get("match", [])
        out.models.append(
            CustomModel(
                provider=_provider_name(m["provider"]),
                provider_raw=str(m["provider"]),
                model=str(m["model"]).lower(),
                prices=prices,
                match=tuple(str(g).lower() for g in ([globs] if isinstance(globs, str) else globs)),
                currency=str(m.get("currency", "USD")).upper(),
                service_tier=_tier_name(m.get("service_tier"), where),
                **_window(m, where),
            )
        )
    for i, d in enumerate(data.get("discount", [])):
        where = f"{p}: [[discount]] #{i + 1}"
        if not isinstance(d, dict) or "percent" not in d:
            raise CostlabError(f"{where}: needs percent")
        pct = _num(d["percent"], f"{where} percent")
        if pct > 100:
            raise CostlabError(f"{where}: percent must be between 0 and 100")
        out.discounts.append(
            Discount(
                percent=pct,
                provider=str(d["provider"]) if d.get("provider") else None,
                model=str(d["model"]).lower() if d.get("model") else None,
                service_tier=_tier_name(d.get("service_tier"), where)
                if d.get("service_tier")
                else None,
                **_window(d, where),
            )
        )
    out.volumes = [_volume(v, f"{p}: [[volume]] #{i + 1}") for i, v in enumerate(data.get("volume", []))]
    out.commitments = [
        _commitment(c, f"{p}: [[commitment]] #{i + 1}") for i, c in enumerate(data.get("commitment", []))
    ]
    return out


def _day_window(entry: dict[str, Any], where: str, month: bool = False) -> dict[str, datetime | None]:
    """`_window` whose bounds are UTC midnights (``month``: first days of months)."""
    window = _window(entry, where)
    for key, at in window.items():
        if at is not None and at.time() != time(0):
            raise CostlabError(f"{where}: {key} must be a date (UTC midnight), got {entry[key]!r}")
        if at is not None and month and at.day != 1:
            raise CostlabError(f"{where}: {key} must be the first day of a month, got {entry[key]!r}")
    return window


def _volume(v: Any, where: str) -> Volume:
    if not isinstance(v, dict) or not v.get("provider"):
        raise CostlabError(f"{where}: needs provider and tiers")
    extra = set(v) - {"provider", "model", "tiers", "valid_from", "valid_to"}
    if extra:
        raise CostlabError(f"{where}: unknown key(s) {sorted(extra)}")
    raw = v.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise CostlabError(f"{where}: needs tiers = [{{ from_mtok = 0, percent = 0 }}, ...]")
    tiers: list[VolumeTier] = []
    for j, t in enumerate(raw):
        at = f"{where} tier #{j + 1}"
        if not isinstance(t, dict) or set(t) != {"from_mtok", "percent"}:
            raise CostlabError(f"{at}: write {{ from_mtok = N, percent = P }}")
        tokens = _num(t["from_mtok"], f"{at} from_mtok") * _MTOK
        pct = _num(t["percent"], f"{at} percent")
        if tokens != tokens.to_integral_value():
            raise CostlabError(f"{at}: from_mtok must be a whole number of tokens, got {t['from_mtok']!r}")
        if pct >= 100:
            raise CostlabError(f"{at}: percent must be at least 0 and under 100, got {t['percent']!r}")
        if not tiers and tokens != 0:
            raise CostlabError(f"{at}: the first tier must start at from_mtok = 0")
        if tiers and tokens <= tiers[-1].from_tokens:
            raise CostlabError(f"{at}: tiers must be sorted by from_mtok, each above the one before")
        tiers.append(VolumeTier(int(tokens), pct))
    return Volume(
        provider=str(v["provider"]),
        tiers=tuple(tiers),
        model=str(v["model"]).lower() if v.get("model") else None,
        **_day_window(v, where),
    )


def _commitment(c: Any, where: str) -> Commitment:
    from costlab.names import normalise_provider

    if not isinstance(c, dict) or not c.get("provider") or "amount" not in c or "valid_from" not in c:
        raise CostlabError(f"{where}: needs provider, amount and valid_from")
    extra = set(c) - {"provider", "amount", "currency", "valid_from", "valid_to"}
    if extra:
        raise CostlabError(f"{where}: unknown key(s) {sorted(extra)}")
    currency = str(c.get("currency", "USD")).strip().upper()
    if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        raise CostlabError(f"{where}: currency must be a three-letter code such as USD, got {c.get('currency')!r}")
    return Commitment(
        provider=normalise_provider(str(c["provider"])) or str(c["provider"]).lower(),
        amount=_num(c["amount"], f"{where} amount"),
        currency=currency,
        **_day_window(c, where, month=True),
    )


def _window(entry: dict[str, Any], where: str) -> dict[str, datetime | None]:
    lo, hi = _when(entry.get("valid_from"), where), _when(entry.get("valid_to"), where)
    if lo is not None and hi is not None and hi <= lo:
        raise CostlabError(f"{where}: valid_to must be after valid_from")
    return {"valid_from": lo, "valid_to": hi}


def _tier_name(value: Any, where: str) -> str:
    tier = str(value or "standard").lower()
    if tier not in TIERS:
        raise CostlabError(f"{where}: service_tier must be one of {', '.join(TIERS)}")
    return tier


def _clip(rows: list[PriceRow], lo: datetime | None, hi: datetime | None) -> Iterator[PriceRow]:
    """The rows cut at ``lo`` and ``hi``: every piece then lies wholly inside or outside."""
    for r in rows:
        yield from _split(r, lo, hi)


def _split(r: PriceRow, lo: datetime | None, hi: datetime | None) -> list[PriceRow]:
    """Row ``r`` cut at lo and hi (pieces keep their order; empty pieces dropped)."""
    cuts = [c for c in (lo, hi) if c is not None and r.covers(c) and c != r.valid_from]
    pieces, start = [], r.valid_from
    for c in cuts:
        pieces.append(replace(r, valid_from=start, valid_to=c))
        start = c
    pieces.append(replace(r, valid_from=start))
    return pieces


def _day_runs(days: Mapping[date, Decimal]) -> Iterator[tuple[datetime, datetime, Decimal]]:
    """[start, end) UTC midnights of the runs of consecutive days that share a factor."""
    run: list[Any] = []
    for day in sorted(days):
        if run and run[1] == day and run[2] == days[day]:
            run[1] = day + timedelta(days=1)
            continue
        if run:
            yield _midnight_of(run[0]), _midnight_of(run[1]), run[2]
        run = [day, day + timedelta(days=1), days[day]]
    if run:
        yield _midnight_of(run[0]), _midnight_of(run[1]), run[2]


def _inside(r: PriceRow, lo: datetime | None, hi: datetime | None) -> bool:
    """True when a piece made by `_split` lies in [lo, hi)."""
    start_ok = lo is None or (r.valid_from is not None and r.valid_from >= lo)
    end_ok = hi is None or (r.valid_to is not None and r.valid_to <= hi)
    return start_ok and end_ok


# -- the price book ------------------------------------------------------------------------------
class PriceBook:
    """All prices (bundled genai-prices rows with overrides layered on top) and model matching.

    >>> book = PriceBook.load()                                  # doctest: +SKIP
    >>> book.match("openai", "gpt-4o-mini-2024-07-18").model     # doctest: +SKIP
    'gpt-4o-mini'
    """

    def __init__(self, overrides: Overrides | None = None) -> None:
        self.overrides = overrides
        self._snapshot: Any = None
        self._table: pa.Table | None = None  # prices_table(), once built or read from the cache
        #: the cache file's rows while the book is read from it: rows become PriceRows only for
        #: the models a report needs (`costlab.price_cache`)
        self._cached: CachedPrices | None = None
        self._cache_file: Path | None = None
        self._new_matches = False
        self._build()

    def _build(self) -> None:
        rows: list[PriceRow] = []
        for prov in self._snap.providers:
            for model in prov.models:
                rows.extend(_model_rows(prov.id, model))
        self._by_key: dict[tuple[str, str], list[PriceRow]] = {}
        self._custom: list[tuple[CustomModel, tuple[str, str]]] = []
        self._match_cache: dict[tuple[str | None, str], PriceMatch | None] = {}
        self._table, self._cached = None, None
        for r in rows:
            self._by_key.setdefault((r.provider, r.model), []).append(r)
        if self.overrides:
            self._apply(self.overrides)
        self._match_cache.clear()  # discounts may have matched before every override was in

    @property
    def _snap(self) -> Any:
        """genai-prices' data, loaded on first use (a book read from the cache may never need it)."""
        if self._snapshot is None:
            self._snapshot = _bundled()
        return self._snapshot

    @classmethod
    def _from_cache(
        cls, overrides: Overrides | None, cached: CachedPrices, matches: dict[tuple[str | None, str], PriceMatch | None]
    ) -> PriceBook:
        book = cls.__new__(cls)
        book.overrides, book._snapshot, book._cache_file, book._new_matches = overrides, None, None, False
        book._by_key, book._custom, book._match_cache = {}, [], matches
        book._table, book._cached = None, cached
        return book

    @property
    def from_cache(self) -> bool:
        """True while the book's rows are read from its cache file (not built from genai-prices)."""
        return self._cached is not None

    def _hydrate(self) -> None:
        """Build the whole book from genai-prices (a match the cache has not seen needs it); the
        matches already known stay, as the built book gives the same ones."""
        known = self._match_cache
        self._build()
        self._match_cache.update(known)

    def _rows_of(self, key: tuple[str, str]) -> list[PriceRow]:
        if self._cached is not None and key not in self._by_key:
            self._by_key[key] = _price_rows(self._cached.rows(key)) if key in self._cached.keys else []
        return self._by_key.get(key, [])

    def _keys(self) -> Iterable[tuple[str, str]]:
        return self._cached.keys.keys() if self._cached is not None else self._by_key.keys()

    @classmethod
    def load(
        cls,
        overrides: str | os.PathLike[str] | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        base: Path | None = None,
    ) -> PriceBook:
        """The book for ``overrides``, else for ``[prices] overrides`` of ``settings`` (a parsed
        costlab.toml whose folder is ``base``), else list prices; cached per process until the
        file changes. Settings are read by `costlab.workspace.Workspace`, never here."""
        path = Path(overrides).expanduser().absolute() if overrides else overrides_path(settings, base)
        if path is None:
            return _cached_book(None, 0, 0)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise CostlabError(f"{path}: price override file not found") from None
        return _cached_book(str(path), st.st_mtime_ns, st.st_size)

    @property
    def source(self) -> str:
        return SOURCE

    def rows(self) -> Iterator[PriceRow]:
        if self._cached is not None and any(k not in self._by_key for k in self._cached.keys):
            by_key: dict[tuple[str, str], list[PriceRow]] = {}
            for r in _price_rows(self._cached.rows()):  # every row in one query, not one per model
                by_key.setdefault((r.provider, r.model), []).append(r)
            self._by_key = by_key
        for key in list(self._keys()):
            yield from self._rows_of(key)

    def rows_for(self, provider: str, model: str) -> list[PriceRow]:
        return list(self._rows_of((provider, model)))

    def with_bill_rates(self, rates: Iterable[Sequence[Any]]) -> PriceBook:
        """This book plus prices for the models it does not know, at the rates their own bill
        charged (``queries/learned_rates.sql`` rows: provider, model, token_type, service_tier,
        currency, tokens, billed, list_cost, lines, source_format, first_day, last_day).

        Each such model is priced billed / tokens per token type, valid from its first billed
        day, with a source naming the bill lines (``billed rate: ...``); calls priced so say
        ``cost_source = 'billed_rate'``. A model billed in more than one currency, or whose
        lines carry no token type costlab prices, stays unpriced. Known models keep their prices
        (a bill's discount on them is `costlab prices learn`'s to propose, never applied here).
        """
        by_model: dict[tuple[str, str, str], list[Sequence[Any]]] = {}
        for r in rates:
            provider, model, token_type, tier = r[0], r[1], r[2], r[3]
            if not provider or not model or token_type not in BILL_PRICE_TYPES or not r[5]:
                continue
            if self.match(str(provider), str(model)) is not None:
                continue
            by_model.setdefault((str(provider), str(model).lower(), str(tier)), []).append(r)
        if not by_model:
            return self
        book = self._detached()
        book._match_cache = {}
        for (provider, model, tier), rows in sorted(by_model.items()):
            if len({r[4] for r in rows}) != 1:
                continue  # never one price from two currencies
            prices = {}
            for r in rows:
                prices[BILL_PRICE_TYPES[r[2]]] = ("token", (Decimal(r[6]) / Decimal(r[5])).quantize(_Q))
            first, last = min(r[10] for r in rows), max(r[11] for r in rows)
            lines = sum(int(r[8]) for r in rows)
            formats = ", ".join(sorted({str(r[9]) for r in rows}))
            custom = CustomModel(provider, model, prices, currency=str(rows[0][4]), service_tier=tier,
                                 valid_from=_midnight(first), provider_raw=provider)  # fmt: skip
            book._apply(Overrides(path=f"billed rate: {lines} bill lines ({formats}) {first}..{last}", models=[custom]))
        book._match_cache.clear()
        return book

    def _detached(self) -> PriceBook:
        """A copy to add prices to: every row in memory, and no cache file, so its prices (which
        depend on a lake's bill or calls, not only on the override file) are never saved under
        this book's cache key nor read from it. A book read from the cache is built first: the
        copy must match new models as the built book would (the overrides' custom models)."""
        if self._cached is not None:
            self._hydrate()
        book = copy.copy(self)
        book._by_key = {key: list(rows) for key, rows in self._by_key.items()}
        book._custom = list(self._custom)
        book._match_cache = dict(self._match_cache)
        book._table, book._cached, book._cache_file, book._new_matches = None, None, None, False
        return book

    @property
    def volumes(self) -> list[Volume]:
        return self.overrides.volumes if self.overrides else []

    @property
    def commitments(self) -> list[Commitment]:
        return self.overrides.commitments if self.overrides else []

    def volume_factors(self, day_tokens: Iterable[Sequence[Any]]) -> dict[tuple[str, str], dict[date, Decimal]]:
        """Per price model and UTC day, the factor its prices take under the ``[[volume]]`` tiers
        (only factors other than 1). ``day_tokens``: (day, price_provider, price_model, tokens)
        rows of the calls (``queries/views/volume_tokens.sql``).

        A (price model, day) counts toward the last ``[[volume]]`` entry that matches the model
        and covers the day, and takes that entry's factor. Per entry, the days are walked in
        order within each UTC calendar month: a day's tokens fill the tiers from the month's
        count before it to the count after it, so its factor is sum(tokens in tier x (1 -
        percent)) / day tokens, and the month's cost is the graduated sum exactly. Which calls
        within the day that crosses a tier got the cheaper tokens is not known: every call of
        the day takes the same factor (the day and month totals are exact)."""
        import decimal

        volumes = self.volumes
        if not volumes:
            return {}
        applies: dict[tuple[int, tuple[str, str]], bool] = {}
        per_entry: dict[int, dict[date, int]] = {}
        governed: list[tuple[tuple[str, str], date, int]] = []
        for row in day_tokens:
            day, provider, model, tokens = row[0], row[1], row[2], row[3]
            if day is None or not provider or not model or not tokens or int(tokens) <= 0:
                continue
            key = (str(provider), str(model))
            day = day.date() if isinstance(day, datetime) else day
            entry = None
            for i in reversed(range(len(volumes))):
                if (i, key) not in applies:
                    v = volumes[i]
                    applies[(i, key)] = self._applies(v.provider, v.model, key)
                if applies[(i, key)] and volumes[i].covers(day):
                    entry = i
                    break
            if entry is None:
                continue
            days = per_entry.setdefault(entry, {})
            days[day] = days.get(day, 0) + int(tokens)
            governed.append((key, day, entry))
        factor: dict[tuple[int, date], Decimal] = {}
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            for entry, days in per_entry.items():
                month: tuple[int, int] | None = None
                before = 0
                for day in sorted(days):
                    if (day.year, day.month) != month:
                        month, before = (day.year, day.month), 0
                    n = days[day]
                    factor[(entry, day)] = volumes[entry].discounted(before, n) / n
                    before += n
        out: dict[tuple[str, str], dict[date, Decimal]] = {}
        for key, day, entry in governed:
            f = factor[(entry, day)]
            if f != 1:
                out.setdefault(key, {})[day] = f
        return out

    def with_volume(self, day_factors: Mapping[tuple[str, str], Mapping[date, Decimal]]) -> PriceBook:
        """A copy whose rows of each price model are split at the UTC midnights of the days in
        ``day_factors`` (`volume_factors`) and scaled by that day's factor there (consecutive days
        of one factor stay one row); every other row is unchanged. No factor other than 1: this
        book itself. The copy is never cached (`_detached`)."""
        import decimal

        todo = {key: {d: f for d, f in days.items() if f != 1} for key, days in day_factors.items()}
        todo = {key: days for key, days in todo.items() if days}
        if not todo:
            return self
        book = self._detached()
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            for key, days in sorted(todo.items()):
                rows = book._rows_of(key)
                for lo, hi, f in _day_runs(days):
                    out = []
                    for r in _clip(rows, lo, hi):
                        if _inside(r, lo, hi):
                            price = (r.unit_price * f).quantize(_Q, rounding=ROUND_HALF_EVEN)
                            r = replace(r, unit_price=price, source=f"{r.source}; volume tiers")
                        out.append(r)
                    rows = out
                book._by_key[key] = rows
        return book

    # -- overrides
    def _apply(self, ov: Overrides) -> None:
        for m in ov.models:
            key = self._custom_key(m)
            self._custom.append((m, key))
            kept = [
                r
                for r in _clip(self._by_key.get(key, []), m.valid_from, m.valid_to)
                if r.service_tier != m.service_tier or not _inside(r, m.valid_from, m.valid_to)
            ]
            new = [
                PriceRow(
                    *key,
                    m.service_tier,
                    ptype,
                    unit,
                    price,
                    price,
                    m.currency,
                    valid_from=m.valid_from,
                    valid_to=m.valid_to,
                    source=ov.path,
                )  # fmt: skip
                for ptype, (unit, price) in m.prices.items()
            ]
            self._by_key[key] = kept + new
        for d in ov.discounts:
            factor = (Decimal(100) - d.percent) / Decimal(100)
            for key, rows in self._by_key.items():
                if not self._discount_applies(d, key):
                    continue
                out = []
                for r in _clip(rows, d.valid_from, d.valid_to):
                    if d.service_tier in (None, r.service_tier) and _inside(
                        r, d.valid_from, d.valid_to
                    ):
                        price = (r.list_unit_price * factor).quantize(_Q, rounding=ROUND_HALF_EVEN)
                        r = replace(r, unit_price=price, source=ov.path)
                    out.append(r)
                self._by_key[key] = out

    def _custom_key(self, m: CustomModel) -> tuple[str, str]:
        """A genai-prices model when provider and model id name one exactly (then the override
        replaces its prices in the window), else the override's own (provider, model)."""
        from genai_prices.data_snapshot import find_provider_by_id

        prov = find_provider_by_id(self._snap.providers, m.provider_raw)
        if prov is not None:
            for info in prov.models:
                if info.id.lower() == m.model:
                    return prov.id, info.id
        return m.provider, m.model

    def _provider_ids(self, raw: str) -> set[str]:
        from genai_prices.data_snapshot import find_provider_by_id

        prov = find_provider_by_id(self._snap.providers, raw)
        return {_provider_name(raw)} | ({prov.id} if prov else set())

    def _discount_applies(self, d: Discount, key: tuple[str, str]) -> bool:
        return self._applies(d.provider, d.model, key)

    def _applies(self, provider: str | None, model: str | None, key: tuple[str, str]) -> bool:
        """An entry naming ``provider`` and ``model`` (glob or id) applies to price model ``key``."""
        if provider is not None and key[0] not in self._provider_ids(provider):
            return False
        if model is None or fnmatch.fnmatchcase(key[1].lower(), model):
            return True
        if not any(ch in model for ch in "*?["):  # an alias such as a dated snapshot id
            hit = self._genai_match(provider or key[0], model)
            return hit is not None and (hit.provider, hit.model) == key
        return False

    # -- matching
    def match(self, provider: str | None, model: str | None) -> PriceMatch | None:
        """Where ``model`` as written by ``provider`` gets its prices, or None (unpriced).

        Override models first (exact id or glob; later entries win), then genai-prices' own match
        rules within the provider and its documented fallback providers (Azure -> OpenAI, ...). A
        provider genai-prices does not know is never guessed from the model name (a self-hosted
        Llama is not priced as Together's); a NULL provider lets genai-prices pick by model name.
        """
        if not model:
            return None
        key = (provider.lower() if provider else None, model)
        if key not in self._match_cache:
            if self._cached is not None:
                self._hydrate()
            if key not in self._match_cache:
                self._match_cache[key] = self._match(*key)
                self._new_matches = True
        return self._match_cache[key]

    def _match(self, provider: str | None, model: str) -> PriceMatch | None:
        for m, key in reversed(self._custom):
            if m.matches(provider, model):
                return PriceMatch(key[0], key[1], self._tiers(key), "override")
        return self._genai_match(provider, model)

    def _genai_match(self, provider: str | None, model: str) -> PriceMatch | None:
        from genai_prices.data_snapshot import find_provider_by_id

        ref = model.lower()
        try:
            if provider is None:
                prov, info = self._snap.find_provider_model(ref, None, None, None)
            else:
                prov = find_provider_by_id(self._snap.providers, provider)
                if prov is None:
                    return None
                info = prov.find_model(ref, all_providers=self._snap.providers)
                if info is None:
                    return None
        except (LookupError, ValueError):
            return None
        owner = next((p for p in self._snap.providers if any(m is info for m in p.models)), prov)
        if owner is prov:
            return PriceMatch(owner.id, info.id, self._tiers((owner.id, info.id)), "genai-prices")
        # genai-prices ignores the request context for a fallback provider's model
        return PriceMatch(owner.id, info.id, ("standard",), f"genai-prices via {owner.id}")

    def _tiers(self, key: tuple[str, str]) -> tuple[str, ...]:
        have = {r.service_tier for r in self._rows_of(key)}
        return tuple(t for t in TIERS if t in have) or ("standard",)

    # -- tables
    @property
    def cache_path(self) -> Path | None:
        """The Parquet file holding exactly this book's ``prices`` table, while it is read from
        its cache (DuckDB copies it from there); None for a built or changed book."""
        return self._cached.path if self._cached is not None else None

    def price_columns(self) -> dict[str, list[Any]]:
        """The ``prices`` table as one Python list per column (`PRICE_COLUMNS`)."""
        cols: dict[str, list[Any]] = {name: [] for name, _ in PRICE_COLUMNS}
        for r in self.rows():
            for name, _ in PRICE_COLUMNS:
                cols[name].append(getattr(r, name))
        return cols

    def prices_table(self) -> pa.Table:
        import pyarrow as pa

        if self._table is None:
            schema = pa.schema(list(_arrow(PRICE_COLUMNS)))
            if self._cached is not None:
                self._table = self._cached.arrow(schema)
            else:
                cols = self.price_columns()
                self._table = pa.table({n: pa.array(cols[n], type=t) for n, t in _arrow(PRICE_COLUMNS)})
        return self._table

    def distinct_values(self, names: tuple[str, ...]) -> dict[str, list[Any]]:
        """The distinct non-NULL values of each ``prices`` column in ``names`` (the price bounds
        the rollups split at), without a PriceRow per row when the book is read from its cache."""
        if self._cached is not None:
            return self._cached.distinct(names)
        seen: dict[str, dict[Any, None]] = {n: {} for n in names}
        for r in self.rows():
            for n in names:
                v = getattr(r, n)
                if v is not None:
                    seen[n][v] = None
        return {n: list(vs) for n, vs in seen.items()}

    def grid_rows(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """The ``price_grid``: per price model and tier, disjoint cells (time x time of day x
        input band) with one resolved price per token part, ready for a single equality join."""
        out: list[dict[str, Any]] = []
        for key in sorted(set(keys)):
            by_tier: dict[str, list[PriceRow]] = {}
            for r in self._rows_of(key):
                by_tier.setdefault(r.service_tier, []).append(r)
            for tier, rows in sorted(by_tier.items()):
                out.extend(_grid_cells(key, tier, rows))
        return out

    def grid_table(self, keys: Iterable[tuple[str, str]]) -> pa.Table:
        """`grid_rows` as an Arrow table."""
        return _arrow_table(self.grid_rows(keys), GRID_COLUMNS)

    def mapping_rows(self, pairs: Iterable[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
        """The ``model_prices`` rows: where each (provider, model) of ``pairs`` gets its prices
        (NULL price model: unpriced). Saves the cache when new matches were made."""
        rows = []
        for provider, model in sorted(set(pairs), key=lambda p: (p[0] or "", p[1] or "")):
            hit = self.match(provider, model)
            rows.append(
                {
                    "provider": provider,
                    "model": model,
                    "price_provider": hit.provider if hit else None,
                    "price_model": hit.model if hit else None,
                    "price_tiers": list(hit.tiers) if hit else None,
                    "match_rule": hit.rule if hit else None,
                }
            )
        if self._new_matches:
            _save(self)
        return rows


def _grid_cells(key: tuple[str, str], tier: str, rows: list[PriceRow]) -> list[dict[str, Any]]:
    moments = sorted({t for r in rows for t in (r.valid_from, r.valid_to) if t is not None})
    cuts = sorted({t for r in rows for t in (r.time_of_day_from, r.time_of_day_to) if t})
    marks = sorted(
        {n for r in rows for n in (r.input_tokens_above, r.input_tokens_upto) if n is not None}
    )
    cells: list[dict[str, Any]] = []
    last: dict[tuple[Any, ...], dict[str, Any]] = {}  # latest cell per (time of day, band)
    for lo, hi in zip([None, *moments], [*moments, None], strict=True):
        at = lo or ((hi - timedelta(microseconds=1)) if hi else datetime(2000, 1, 1, tzinfo=UTC))
        live = [r for r in rows if r.covers(at)]
        for a, b in zip([None, *cuts], [*cuts, None], strict=True):
            clock = a or time(0)
            now = [
                r
                for r in live
                if (r.time_of_day_from is None or clock >= r.time_of_day_from)
                and (r.time_of_day_to is None or clock < r.time_of_day_to)
            ]
            for above, upto in zip([None, *marks], [*marks, None], strict=True):
                n = 0 if above is None else above + 1
                here = {
                    r.price_type: r
                    for r in now
                    if (r.input_tokens_above is None or n > r.input_tokens_above)
                    and (r.input_tokens_upto is None or n <= r.input_tokens_upto)
                }
                if not here:
                    continue
                currencies = {r.currency for r in here.values()}
                if len(currencies) != 1:
                    continue  # never add amounts in two currencies: leave the cell unpriced
                cell: dict[str, Any] = {
                    "price_provider": key[0], "price_model": key[1], "price_tier": tier,
                    "valid_from": lo, "valid_to": hi, "time_of_day_from": a, "time_of_day_to": b,
                    "input_tokens_above": above, "input_tokens_upto": upto,
                    "currency": currencies.pop(),
                    "source": ", ".join(sorted({r.source for r in here.values()})),
                }  # fmt: skip
                for col, types in _GRID.items():
                    cell[col] = next((here[t].unit_price for t in types if t in here), None)
                if cell["p_request"] is None:
                    cell["p_request"] = Decimal(0)  # no per-request fee
                prev = last.get((a, above))
                if prev and prev["valid_to"] == lo and _same_cell(prev, cell):
                    prev["valid_to"] = hi  # same prices as the previous period: one cell
                else:
                    cells.append(cell)
                    last[(a, above)] = cell
    return cells


def _same_cell(a: dict[str, Any], b: dict[str, Any]) -> bool:
    skip = {"valid_from", "valid_to"}
    return all(a[k] == b[k] for k in a if k not in skip)


_PRICE = f"DECIMAL(38,{PRICE_SCALE})"
#: When a price applies: its validity, time of day and input-size band (both price tables).
WINDOW_COLUMNS: list[tuple[str, str]] = [
    ("valid_from", "TIMESTAMPTZ"),
    ("valid_to", "TIMESTAMPTZ"),
    ("time_of_day_from", "TIME"),
    ("time_of_day_to", "TIME"),
    ("input_tokens_above", "BIGINT"),
    ("input_tokens_upto", "BIGINT"),
]
PRICE_COLUMNS: list[tuple[str, str]] = [
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("service_tier", "VARCHAR"),
    ("price_type", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("unit_price", _PRICE),
    ("list_unit_price", _PRICE),
    ("currency", "VARCHAR"),
    *WINDOW_COLUMNS,
    ("tier_condition", "VARCHAR"),
    ("source", "VARCHAR"),
]
GRID_COLUMNS: list[tuple[str, str]] = [
    ("price_provider", "VARCHAR"),
    ("price_model", "VARCHAR"),
    ("price_tier", "VARCHAR"),
    *WINDOW_COLUMNS,
    ("currency", "VARCHAR"),
    *[(c, _PRICE) for c in _GRID],
    ("source", "VARCHAR"),
]
MAP_COLUMNS: list[tuple[str, str]] = [
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("price_provider", "VARCHAR"),
    ("price_model", "VARCHAR"),
    ("price_tiers", "VARCHAR[]"),
    ("match_rule", "VARCHAR"),
]


def _arrow_table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> pa.Table:
    import pyarrow as pa

    return pa.table({n: pa.array([r[n] for r in rows], type=t) for n, t in _arrow(cols)})


def _arrow(cols: list[tuple[str, str]]) -> Iterator[tuple[str, pa.DataType]]:
    import pyarrow as pa

    simple = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "TIME": pa.time64("us"),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        _PRICE: pa.decimal128(38, PRICE_SCALE),
        "VARCHAR[]": pa.list_(pa.string()),
    }
    for name, typ in cols:
        yield name, simple[typ]


def overrides_path(settings: Mapping[str, Any] | None, base: Path | None = None) -> Path | None:
    """``[prices] overrides`` of a parsed costlab.toml, relative to its folder ``base``."""
    section = (settings or {}).get("prices")
    if not isinstance(section, Mapping) or not section.get("overrides"):
        return None
    path = Path(str(section["overrides"])).expanduser()
    return (path if base is None else base / path).absolute()


@functools.lru_cache(maxsize=4)
def _cached_book(path: str | None, mtime_ns: int, size: int) -> PriceBook:
    overrides = load_overrides(path) if path else None
    file = _cache_file(path)
    book = _read_cache(file, overrides) if file else None
    if book is None:
        book = PriceBook(overrides)
        book._cache_file = file
        _save(book)
    book._cache_file = file  # where matches made later are kept
    return book


# -- the price book cache ---------------------------------------------------------------------------
# Why: building the book (importing genai-prices' data, flattening every model, applying the
# overrides) is a fixed ~0.3 s that every report paid, more than a nightly report's own queries.
# The book depends only on the genai-prices version, this module's code and the override file, so
# it is built once per (version, code, overrides) and kept as a Parquet file: the ``prices``
# table plus, in the file's metadata, every (provider, model) match made so far
# (`costlab.price_cache`). A report whose models were all matched before imports neither
# genai-prices nor pyarrow. A file that cannot be read or written is ignored (the book is built
# as before): the cache is never a reason to fail.
CACHE_ENV = "COSTLAB_CACHE_DIR"


def cache_dir() -> Path:
    """``$COSTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/costlab``, else ``~/.cache/costlab``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "costlab"


def _cache_file(path: str | None) -> Path | None:
    """The cache file of the book for the override file ``path`` (None: list prices), named by
    a digest of everything the book is built from; None when that cannot be read."""
    import hashlib

    from costlab import price_cache

    h = hashlib.sha256(f"{price_cache.FORMAT}\0{GENAI_PRICES_VERSION}\0{path}\0".encode())
    try:
        h.update(Path(__file__).read_bytes())  # the flattening rules are this module's code
        if path:
            h.update(Path(path).read_bytes())
        return cache_dir() / f"prices-{h.hexdigest()[:32]}{price_cache.SUFFIX}"
    except (OSError, RuntimeError):  # RuntimeError: no home folder to find ~/.cache in
        return None


def _read_cache(file: Path, overrides: Overrides | None) -> PriceBook | None:
    from costlab import price_cache

    cached = price_cache.read(file, PRICE_COLUMNS)
    if cached is None:
        return None
    try:
        matches: dict[tuple[str | None, str], PriceMatch | None] = {}
        for provider, model, hit in cached.matches:
            matches[(provider, model)] = PriceMatch(hit[0], hit[1], tuple(hit[2]), hit[3]) if hit else None
    except (TypeError, ValueError, IndexError):  # a file of another shape is a miss
        return None
    return PriceBook._from_cache(overrides, cached, matches)


def _save(book: PriceBook) -> None:
    """Write ``book`` (its prices and matches) to its cache file, atomically; errors are ignored."""
    from costlab import price_cache

    book._new_matches = False
    if book._cache_file is None:
        return
    matches = [[p, m, list(hit[:2]) + [list(hit.tiers), hit.rule] if hit else None] for (p, m), hit in book._match_cache.items()]
    price_cache.write(book._cache_file, book.prices_table(), matches)


def _price_rows(rows: list[dict[str, Any]]) -> list[PriceRow]:
    """PriceRows from rows of the ``prices`` table (``tier_condition`` is derived, not stored)."""
    return [PriceRow(**{k: v for k, v in r.items() if k != "tier_condition"}) for r in rows]


# -- DuckDB ---------------------------------------------------------------------------------------
def price_tables(
    book: PriceBook, pairs: Iterable[tuple[str | None, str | None]]
) -> list[tuple[str, pa.Table, tuple[tuple[str, str], ...]]]:
    """(name, Arrow table, columns) of ``prices``, ``model_prices`` for the (provider, model)
    ``pairs`` and the ``price_grid`` cells their price models need: what Spark loads (DuckDB
    makes the same tables in `add_price_tables`)."""
    mapping, grid = _pair_rows(book, pairs)
    return [
        ("prices", book.prices_table(), tuple(PRICE_COLUMNS)),
        ("model_prices", _arrow_table(mapping, MAP_COLUMNS), tuple(MAP_COLUMNS)),
        ("price_grid", _arrow_table(grid, GRID_COLUMNS), tuple(GRID_COLUMNS)),
    ]


def _pair_rows(
    book: PriceBook, pairs: Iterable[tuple[str | None, str | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``model_prices`` rows of ``pairs`` and the ``price_grid`` rows of the price models
    they match: both engines' tables, whatever form each loads them in."""
    mapping = book.mapping_rows(pairs)
    keys = {(r["price_provider"], r["price_model"]) for r in mapping if r["price_model"] is not None}
    return mapping, book.grid_rows(keys)


def add_price_tables(con: duckdb.DuckDBPyConnection, book: PriceBook | None = None, calls_from: str = "spans") -> None:
    """Create ``prices``, ``model_prices`` (the (provider, model) pairs of the lake's calls and
    provider usage, and where each gets its prices) and ``price_grid`` (the cells those models
    need) on ``con``. Needs the ``spans`` and ``usage`` views; call before creating ``calls`` and
    ``usage_priced``. ``calls_from``: where the calls' models are read (``call_facts`` when
    the lake's stored copy is registered: fewer rows than ``spans``)."""
    book = book or PriceBook.load()
    found = con.execute(
        "SELECT count(*) FROM (SELECT view_name AS n FROM duckdb_views() "
        "UNION ALL SELECT table_name FROM duckdb_tables()) WHERE n = 'usage'"
    ).fetchone()
    usage = (  # a connection with only ``spans`` (tests, notebooks) has no usage to price
        " UNION SELECT DISTINCT provider, model FROM usage WHERE model IS NOT NULL"
        if found and found[0]
        else ""
    )
    pairs = con.execute(
        f"SELECT DISTINCT provider, model FROM {calls_from} "
        "WHERE span_kind IN ('llm', 'embedding') AND usage_scope = 'self' AND model IS NOT NULL"
        + usage
    ).fetchall()
    from costlab.price_cache import create_table_of_columns

    # Python lists bound as parameters, or the cache file read by DuckDB: no pyarrow (Spark loads
    # `price_tables`, the same tables as Arrow)
    mapping, grid = _pair_rows(book, pairs)
    if book.cache_path is not None:
        select = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in PRICE_COLUMNS)
        con.execute(
            f"CREATE OR REPLACE TABLE prices AS SELECT {select} FROM read_parquet($path)",
            {"path": str(book.cache_path)},
        )
    else:
        create_table_of_columns(con, "prices", PRICE_COLUMNS, book.price_columns())
    for name, rows, cols in (("model_prices", mapping, MAP_COLUMNS), ("price_grid", grid, GRID_COLUMNS)):
        create_table_of_columns(con, name, cols, {n: [r[n] for r in rows] for n, _ in cols})


# -- costlab prices MODEL [--at DATE] --------------------------------------------------------------
def describe(
    model: str,
    at: datetime | date | None = None,
    provider: str | None = None,
    book: PriceBook | None = None,
) -> list[dict[str, Any]]:
    """Prices of ``model`` (as calls name it), one dict per row, ready for ``render.rows``.

    ``at``: only rows valid then (a date means its UTC midnight); None lists the whole history.
    Token prices are shown per million tokens (``per = 'MTok'``), others per unit. Raises
    `CostlabError` naming close model ids when nothing matches.
    """
    book = book or PriceBook.load()
    hit = book.match(provider, model)
    if hit is None:
        raise CostlabError(_no_match(book, provider, model))
    when = _when(at, "at") if at is not None else None
    rows = [r for r in book.rows_for(hit.provider, hit.model) if when is None or r.covers(when)]
    if when is not None:
        clock = when.timetz().replace(tzinfo=None)
        rows = [
            r
            for r in rows
            if (r.time_of_day_from is None or clock >= r.time_of_day_from)
            and (r.time_of_day_to is None or clock < r.time_of_day_to)
        ]
    order = {t: i for i, t in enumerate(TIERS)}
    kinds = list(dict.fromkeys([*_TOKEN_KEYS.values(), "request", "gpu_hour"]))
    rows.sort(
        key=lambda r: (
            order.get(r.service_tier, 99),
            r.valid_from or datetime.min.replace(tzinfo=UTC),
            r.time_of_day_from or time(0),
            kinds.index(r.price_type) if r.price_type in kinds else 99,
            r.price_type,
            r.input_tokens_above or -1,
        )
    )
    standard = [r for r in rows if r.service_tier == "standard"]
    out = []
    for r in rows:
        if r.service_tier != "standard" and any(_same_as(r, s) for s in standard):
            continue  # a tier priced as standard then (genai-prices' fallback): not worth a line
        scale = _MTOK if r.unit == "token" else Decimal(1)
        out.append(
            {
                "provider": r.provider,
                "model": r.model,
                "service_tier": r.service_tier,
                "price_type": r.price_type,
                "price": _plain(r.unit_price * scale),
                "per": "MTok" if r.unit == "token" else r.unit,
                "list_price": _plain(r.list_unit_price * scale),
                "currency": r.currency,
                "valid_from": r.valid_from,
                "valid_to": r.valid_to,
                "condition": _condition(r),
                "source": r.source,
            }
        )
    return out


def _same_as(r: PriceRow, s: PriceRow) -> bool:
    """``r`` has ``s``'s price and conditions, and ``s`` is valid for all of ``r``'s window."""
    keys = ("price_type", "unit_price", "currency", "time_of_day_from", "time_of_day_to",
            "input_tokens_above", "input_tokens_upto")  # fmt: skip
    if any(getattr(r, k) != getattr(s, k) for k in keys):
        return False
    starts = s.valid_from is None or (r.valid_from is not None and r.valid_from >= s.valid_from)
    ends = s.valid_to is None or (r.valid_to is not None and r.valid_to <= s.valid_to)
    return starts and ends


def _plain(d: Decimal) -> Decimal:
    """``d`` without trailing zeros and never in exponent form (10, not 1E+1)."""
    d = d.normalize()
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def _condition(r: PriceRow) -> str | None:
    parts = [r.tier_condition] if r.tier_condition else []
    if r.time_of_day_from or r.time_of_day_to:
        a = (r.time_of_day_from or time(0)).strftime("%H:%M")
        b = r.time_of_day_to.strftime("%H:%M") if r.time_of_day_to else "24:00"
        parts.append(f"{a}-{b} UTC")
    return " and ".join(parts) or None


def _no_match(book: PriceBook, provider: str | None, model: str) -> str:
    import difflib

    names = sorted({m for (_, m) in book._keys()})
    close = difflib.get_close_matches(model.lower(), names, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    who = f" from provider {provider!r}" if provider else ""
    return f"no price for model {model!r}{who} in {SOURCE} or the overrides{hint}"
