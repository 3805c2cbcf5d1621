"""OpenAI Costs API, Usage API and the dashboard cost CSV (docs/sources.md).

`openai_costs`: saved `/v1/organization/costs` responses (daily buckets of dollar amounts).
`openai_usage`: saved `/v1/organization/usage/<kind>` responses (token and unit counts, no money).
`openai_cost_csv`: the usage dashboard "Export" of the Cost view (daily cost per line-item name).

Detect: JSON document, JSON array of pages or JSONL (one page a line) whose page has
`"object": "page"` and whose first result is `organization.costs.result` (costs) or
`organization.usage.<kind>.result` (usage); CSV with `timestamp,currency,name,cost` plus one of
`cost_in_major` / `organization_id` / `project_id`. A page whose buckets are all empty names no result
object and is not recognised (it holds nothing; pass --source to read it anyway).
Parse: JSON numbers are read as Decimal (`parse_float=Decimal`) so dollar amounts never pass through
float; pages -> buckets -> results; a bucket or result of the wrong shape is a Bad row, an unreadable
JSON document a SourceError. CSV is streamed row by row.
Normalise: charge period = the bucket (API) or [date, date+1d) (CSV); billing period = the calendar
month; currency upper-cased; provider "OpenAI", service "OpenAI API"; BilledCost =
EffectiveCost = amount.value / cost_in_major (dollars), else `cost` / 100 (cents). Costs `line_item`
("[tier | ]<model>[ text|audio|image], <input|cached input|cache writes|output|batch input|…>[, long
context]") gives model, token_type (the words read by costlab.ingest.token_lines; "cache writes"
state no TTL, so input_cache_write_5m) and service_tier; non-model items (web/file search tool calls,
vector storage, code interpreter) get compute_kind tool_calls/storage. Usage results keep OpenAI's
inclusive `input_tokens` (SCHEMA rule), `input_cached_tokens` -> cache_read_tokens,
`input_cache_write_tokens` -> cache_write_tokens; non-token counts go to quantity + quantity_unit;
the modality breakdowns and unknown fields go to `attributes`. Dimensions stay NULL unless grouped.
Row key: API: bucket start/end + every group-by dimension (+ currency for costs), not the amount, so
a re-fetched bucket replaces the earlier fetch; a repeated key inside one file is a re-fetched page
(later wins). No replace_scope (a filtered fetch must not delete other projects' rows).
CSV: (date, project_id, user_id, name, currency) — the same for both column sets of the export, so a
later export re-keys the same line; replace_scope = "<project_id or ''>|<date>" (by-user export:
"user:<id>|<date>") so a later export covering a day replaces that day's earlier rows.
Quirks:
- Costs amount.value is dollars; CSV `cost` is CENTS, `cost_in_major` dollars.
- Currency is lowercase "usd".
- CSV `timestamp` is a float epoch at UTC midnight ("1722902400.0") and must agree with `date`.
- CSV `name` is a display name ("GPT-4o mini"): mapped with _DISPLAY_MODELS; another name shaped
  like a model ("GPT-5 nano") becomes its slug ("gpt-5-nano", a guess), any other name model NULL;
  model_raw always keeps the name.
- A second CSV download lacks organization_id/organization_name; a legacy by-user export has
  user_id/user_email instead of project columns (third-party tap, unverified).
- Group-by dims are null unless grouped; empty CSV project_id is the Default Project.
- Usage fields added later (cache writes, uncached, service_tier) are NULL when absent, not 0.
- `input_audio_tokens` included cached audio until the 2026 spec, which made it uncached-only and
  added `input_cached_audio_tokens`; canonical input_audio_tokens = audio + cached audio (schema file).
- line_item is free text; its grammar is from third-party code, unverified: parsed defensively.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record, mapped
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import text_kind, with_modality

PROVIDER = "OpenAI"
SERVICE = "OpenAI API"
_COMMON = {
    "service_provider_name": PROVIDER,
    "host_provider_name": PROVIDER,
    "invoice_issuer_name": PROVIDER,
    "service_name": SERVICE,
    "service_category": "AI and Machine Learning",
    "service_subcategory": "Generative AI",
    "charge_category": "Usage",
    "charge_frequency": "Usage-Based",
}
_RESULT_NAME = re.compile(r'"(organization\.(?:costs|usage\.[a-z_]+)\.result)"')
_NOT_A_PAGE = 'expected an OpenAI API page ({"object": "page", "data": [...]})'
_PAGE_TEXT = re.compile(r'"object"\s*:\s*"page"')


# ---------------------------------------------------------------------------- shared helpers
def _first_result(sniff: Sniff) -> str:
    """The first result object name of a saved API page ('' when the file is not one)."""
    if sniff.kind not in ("json", "jsonl"):
        return ""
    obj = sniff.first_object
    if obj is not None:
        page = obj[0] if isinstance(obj, list) and obj else obj
        if not (isinstance(page, dict) and page.get("object") == "page"):
            return ""
        if not isinstance(page.get("data"), list):
            return ""
    elif not _PAGE_TEXT.search(sniff.head):
        return ""
    m = _RESULT_NAME.search(sniff.head)
    return m.group(1) if m else ""


def _pages(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, page) for a JSON page, a JSON array of pages, or JSONL with one page a line.

    Numbers with a fraction become Decimal. An unreadable document raises SourceError; in JSONL
    an unreadable line is yielded as (location, ValueError) so the other lines are kept."""
    if Sniff(path).kind == "jsonl":
        yield from ((f"line {n}", obj) for n, obj in u.json_lines(path, exact=True))
        return
    doc = u.json_document(path)
    if isinstance(doc, list):
        for i, page in enumerate(doc, 1):
            yield f"page {i}", page
    elif isinstance(doc, dict) and doc.get("object") == "page":
        yield "page 1", doc
    else:
        raise SourceError(str(path), _NOT_A_PAGE)


def _bucket_time(bucket: dict[str, Any], name: str) -> datetime:
    value = bucket.get(name)
    if value is None:
        value = bucket.get(f"{name}_iso")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ValueError(f"bucket {name} missing or not a unix time: {value!r}")
    when = u.ts(value)
    if when is None:
        raise ValueError(f"bucket {name} is empty")
    return when


def _results(path: Path) -> Iterator[Bad | tuple[str, int, datetime, datetime, dict[str, Any]]]:
    """Every result of every bucket as (location, ordinal, start, end, result), or Bad."""
    ordinal, first = 0, True
    for loc, page in _pages(path):
        if isinstance(page, Exception):
            yield Bad(loc, f"not valid JSON: {page}")
            continue
        if not (isinstance(page, dict) and page.get("object") == "page"):
            if first:  # the file is something else, not one stray line
                raise SourceError(str(path), f"{loc}: {_NOT_A_PAGE}")
            yield Bad(loc, _NOT_A_PAGE, u.raw_text(page))
            continue
        first = False
        data = page.get("data")
        if not isinstance(data, list):
            yield Bad(loc, "page has no data list", u.raw_text(page))
            continue
        for b, bucket in enumerate(data, 1):
            bloc = f"{loc} bucket {b}"
            window = mapped(bloc, bucket, _bucket, bucket)
            if isinstance(window, Bad):
                yield window
                continue
            start, end, results = window
            for r, result in enumerate(results, 1):
                ordinal += 1
                if not isinstance(result, dict):
                    yield Bad(f"{bloc} result {r}", "result is not an object", u.raw_text(result))
                    continue
                yield f"{bloc} result {r}", ordinal, start, end, result


def _bucket(bucket: Any) -> tuple[datetime, datetime, list[Any]]:
    """A bucket's window and results; a bucket without them is bad."""
    if not isinstance(bucket, dict):
        raise ValueError("bucket is not an object")
    start, end = _bucket_time(bucket, "start_time"), _bucket_time(bucket, "end_time")
    if end <= start:
        raise ValueError("bucket end_time is not after start_time")
    results = bucket.get("results")
    if not isinstance(results, list):
        raise ValueError("bucket has no results list")
    return start, end, results



def _result_rows(
    path: Path, table: str, build: Callable[[datetime, datetime, dict[str, Any], int], dict[str, Any]]
) -> Iterator[Row | Bad]:
    """The per-result loop of both APIs: ``build(start, end, result, ordinal)`` a row."""
    for item in _results(path):
        if isinstance(item, Bad):
            yield item
            continue
        loc, ordinal, start, end, res = item
        row = mapped(loc, res, build, start, end, res, ordinal)
        yield row if isinstance(row, Bad) else (table, row)


def _charge(
    cost: Decimal | None, currency: str, start: datetime, end: datetime, description: str | None
) -> dict[str, Any]:
    """The columns every OpenAI charge row fills alike: money, periods, description."""
    bill_start, bill_end = _month(start)
    return {
        **_COMMON,
        "billed_cost": cost,
        "effective_cost": cost,
        "billing_currency": currency,
        "charge_period_start": start,
        "charge_period_end": end,
        "billing_period_start": bill_start,
        "billing_period_end": bill_end,
        "charge_description": description,
    }


def _month(when: datetime) -> tuple[datetime, datetime]:
    start = datetime(when.year, when.month, 1, tzinfo=UTC)
    days = calendar.monthrange(when.year, when.month)[1]
    return start, start + timedelta(days=days)


def _tier(value: str | None) -> str | None:
    """Service tier in costlab's spelling: the API's "default" tier is standard."""
    if value is None:
        return None
    low = value.lower()
    return "standard" if low == "default" else low


def _currency(value: Any) -> str:
    cur = u.text(value)
    if cur is None:
        raise ValueError("currency missing")
    return cur.upper()


# ---------------------------------------------------------------------------- line items
_TIERS = ("standard", "batch", "priority", "flex", "scale", "provisioned")
_MODALITIES = ("text", "audio", "image")
#: (substring of the lower-cased line item, compute_kind), first match wins
_NON_TOKEN_KINDS = (
    ("storage", "storage"),
    ("tool call", "tool_calls"),
    ("web search", "tool_calls"),
    ("file search", "tool_calls"),
    ("code interpreter", "tool_calls"),
    ("container", "tool_calls"),
)
#: Costs API quantity_unit -> (FOCUS unit, multiplier to that unit)
_UNITS = {
    "tokens": ("Tokens", 1),
    "1000_tokens": ("Tokens", 1000),
    "duration_seconds": ("Seconds", 1),
    "duration_minutes": ("Minutes", 1),
    "duration_hours": ("Hours", 1),
    "gibibyte_hours": ("GiB-Hours", 1),
    "images": ("Images", 1),
    "characters": ("Characters", 1),
}
_PRICING_UNITS = {"1000_tokens": "1000 Tokens"}


def parse_line_item(line_item: str | None) -> dict[str, Any]:
    """model, token_type, service_tier, sku_meter and compute_kind from a Costs API line_item,
    e.g. ``"priority | gpt-4o-mini-2024-07-18 audio, cached input, long context"``."""
    out: dict[str, Any] = {"model": None, "token_type": None, "service_tier": None}
    out["sku_meter"] = out["compute_kind"] = None
    if line_item is None:
        return out
    text = " ".join(line_item.split())
    tier = None
    head, bar, rest = text.partition("|")
    if bar and head.strip().lower() in _TIERS:
        tier, text = head.strip().lower(), rest.strip()
    model_part, comma, meter = text.partition(",")
    if comma and model_part.strip():
        words = model_part.split()
        modality = None
        if len(words) > 1 and words[-1].lower() in _MODALITIES:
            modality = words.pop().lower()
        pieces = [p.strip() for p in meter.split(",")]
        kind_words = pieces[0].lower().split()
        if "batch" in kind_words:
            kind_words.remove("batch")
            tier = tier or "batch"
        for m in _MODALITIES:
            if m in kind_words and len(kind_words) > 1:
                kind_words.remove(m)
                modality = modality or m
        base = text_kind(" ".join(kind_words))  # "cached input", "cache writes", "output", ...
        model = " ".join(words).strip()
        out["model"] = model
        out["sku_meter"] = ", ".join(pieces)
        if base not in (None, "storage"):
            base = with_modality(base, modality)
            if model.lower().startswith("text-embedding") and base == "input_uncached":
                base = "embedding"
            out["token_type"] = base
            out["service_tier"] = tier or "standard"
        else:
            out["service_tier"] = tier
    else:
        out["service_tier"] = tier
    low = line_item.lower()
    for needle, kind in _NON_TOKEN_KINDS:
        if needle in low:
            out["compute_kind"] = kind
            break
    else:
        out["compute_kind"] = "tokens" if out["token_type"] else "other"
    return out


# ---------------------------------------------------------------------------- Costs API
@register_source
class OpenAICosts(Source):
    name = "openai_costs"
    title = "OpenAI Costs API pages (/v1/organization/costs, JSON or JSONL)"
    tables = ("charges",)
    row_key = "bucket start/end, project_id, api_key_id, line_item, currency (amount excluded)"
    distinct_duplicates = False  # one bucket lists each group once; a repeat is a re-fetched page
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return _first_result(sniff) == "organization.costs.result"

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        yield from _result_rows(path, "charges", self._row)

    @staticmethod
    def _row(start: datetime, end: datetime, res: dict[str, Any], ordinal: int) -> dict[str, Any]:
        obj = res.get("object")
        if obj is not None and obj != "organization.costs.result":
            raise ValueError(f"not a costs result: {obj!r}")
        amount = res.get("amount")
        if not isinstance(amount, dict):
            raise ValueError("amount missing or not an object")
        value = u.money(amount.get("value"))
        if value is None:
            raise ValueError("amount.value missing")
        currency = _currency(amount.get("currency"))
        line_item = u.text(res.get("line_item"))
        project, api_key = u.text(res.get("project_id")), u.text(res.get("api_key_id"))
        unit_raw = u.text(res.get("quantity_unit"))
        quantity = u.dec(res.get("quantity"))
        parsed = parse_line_item(line_item)
        unit, mult = _UNITS.get(unit_raw or "", (unit_raw, 1))
        consumed = quantity * mult if quantity is not None else None
        tokens = None
        if unit == "Tokens" and consumed is not None and consumed == consumed.to_integral_value():
            tokens = int(consumed)
        if unit_raw in ("tokens", "1000_tokens") and parsed["compute_kind"] == "other":
            parsed["compute_kind"] = "tokens"
        elif unit_raw == "gibibyte_hours" and parsed["compute_kind"] == "other":
            parsed["compute_kind"] = "storage"
        return {
            **_charge(value, currency, start, end, line_item),
            "sub_account_id": project,
            "project_id": project,
            "api_key_id": api_key,
            "sku_id": line_item,
            "sku_meter": parsed["sku_meter"],
            "consumed_quantity": u.money(consumed),
            "consumed_unit": unit if consumed is not None else None,
            "pricing_quantity": u.money(quantity),
            "pricing_unit": _PRICING_UNITS.get(unit_raw or "", unit)
            if quantity is not None
            else None,
            "model": parsed["model"],
            "model_raw": line_item,
            "token_type": parsed["token_type"],
            "tokens": tokens,
            "service_tier": parsed["service_tier"],
            "compute_kind": parsed["compute_kind"] if line_item is not None else None,
            "cost_dataset": "api",
            "row_key": u.key(start, end, project, api_key, line_item, currency),
            "source_line": ordinal,
        }


# ---------------------------------------------------------------------------- Usage API
#: kind -> fields the schema requires (usage_and_costs_schemas.json)
_REQUIRED = {
    "completions": ("input_tokens", "output_tokens", "num_model_requests"),
    "embeddings": ("input_tokens", "num_model_requests"),
    "moderations": ("input_tokens", "num_model_requests"),
    "images": ("images", "num_model_requests"),
    "audio_speeches": ("characters", "num_model_requests"),
    "audio_transcriptions": ("seconds", "num_model_requests"),
    "vector_stores": ("usage_bytes",),
    "code_interpreter_sessions": ("num_sessions",),
    "file_searches": ("num_requests",),
    "web_searches": ("num_model_requests", "num_requests"),
}
#: kind -> (field holding the non-token quantity, unit)
_QUANTITY = {
    "images": ("images", "images"),
    "audio_speeches": ("characters", "characters"),
    "audio_transcriptions": ("seconds", "seconds"),
    "vector_stores": ("usage_bytes", "bytes"),
    "code_interpreter_sessions": ("num_sessions", "sessions"),
    "file_searches": ("num_requests", "calls"),
    "web_searches": ("num_requests", "calls"),
}
_TOKENS = {
    "input_tokens": "input_tokens",
    "input_cached_tokens": "cache_read_tokens",
    "input_cache_write_tokens": "cache_write_tokens",
    "output_tokens": "output_tokens",
    "output_audio_tokens": "output_audio_tokens",
    "num_model_requests": "requests",
}
_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
_EXTRA_DIMS = ("source", "size", "vector_store_id", "context_level")


@register_source
class OpenAIUsage(Source):
    name = "openai_usage"
    title = "OpenAI Usage API pages (/v1/organization/usage/*, JSON or JSONL)"
    tables = ("usage",)
    row_key = "usage kind, bucket start/end and every group-by dimension (counts excluded)"
    distinct_duplicates = False  # a repeated key in one file is a re-fetched page
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return _first_result(sniff).startswith("organization.usage.")

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        yield from _result_rows(path, "usage", self._row)

    @staticmethod
    def _row(start: datetime, end: datetime, res: dict[str, Any], ordinal: int) -> dict[str, Any]:
        obj = res.get("object")
        m = re.fullmatch(r"organization\.usage\.([a-z_]+)\.result", obj or "")
        if not m:
            raise ValueError(f"not a usage result: {obj!r}")
        kind = m.group(1)
        for name in _REQUIRED.get(kind, ()):
            if res.get(name) is None:
                raise ValueError(f"{kind} result without {name}")
        row: dict[str, Any] = {"period_start": start, "period_end": end, "provider": "openai"}
        row["usage_kind"] = kind
        for field, column in _TOKENS.items():
            row[column] = u.integer(res.get(field))
        audio, cached_audio = (
            u.integer(res.get(f)) for f in ("input_audio_tokens", "input_cached_audio_tokens")
        )
        if audio is not None and "input_cached_audio_tokens" in res:
            audio = audio + (cached_audio or 0)  # 2026 spec: input_audio_tokens is uncached only
        row["input_audio_tokens"] = audio
        if kind in _QUANTITY:
            field, unit = _QUANTITY[kind]
            row["quantity"], row["quantity_unit"] = u.money(u.integer(res.get(field))), unit
        project, user, api_key, model = (u.text(res.get(k)) for k in _DIMS[:4])
        batch = res.get("batch")
        if batch is not None and not isinstance(batch, bool):
            raise ValueError(f"batch is not a boolean: {batch!r}")
        tier = u.text(res.get("service_tier"))
        row.update(
            project_id=project, principal=user, api_key_id=api_key, model=model, model_raw=model
        )
        row["batch"], row["service_tier"] = batch, _tier(tier)
        known = {"object", *_TOKENS, *_DIMS, "input_audio_tokens"}
        if kind in _QUANTITY:
            known.add(_QUANTITY[kind][0])
        attrs = {
            k: v if isinstance(v, str) else json.dumps(v, default=str)
            for k, v in res.items()
            if k not in known and v is not None
        }
        if audio is not None and "input_cached_audio_tokens" in res:
            attrs["input_audio_tokens_uncached"] = str(res["input_audio_tokens"])
        row["attributes"] = attrs or None
        extra = tuple(u.text(res.get(k)) for k in _EXTRA_DIMS)
        row["row_key"] = u.key(kind, start, end, project, user, api_key, model, batch, tier, *extra)
        row["source_line"] = ordinal
        return row


# ---------------------------------------------------------------------------- dashboard CSV
#: dashboard display name (lower-cased) -> (model id or None, compute_kind). The documented names
#: first, then names a slug gets wrong, then category names (no single model). Other names shaped
#: like a model ("GPT-4.1 nano", "o3 mini") are slugged by `display_model`.
_DISPLAY_MODELS: dict[str, tuple[str | None, str]] = {
    "gpt-4 turbo": ("gpt-4-turbo", "tokens"),
    "gpt-4o": ("gpt-4o", "tokens"),
    "gpt-4o mini": ("gpt-4o-mini", "tokens"),
    "gpt-3.5 turbo": ("gpt-3.5-turbo", "tokens"),
    "dall·e 3": ("dall-e-3", "other"),
    "dall·e 2": ("dall-e-2", "other"),
    "whisper": ("whisper-1", "other"),
    "tts": ("tts-1", "other"),
    "tts hd": ("tts-1-hd", "other"),
    "chat models": (None, "tokens"),
    "instruct models": (None, "tokens"),
    "embedding models": (None, "tokens"),
    "fine-tuned models": (None, "tokens"),
    "fine-tuning models": (None, "other"),
    "fine-tuning": (None, "other"),
    "image models": (None, "other"),
    "audio models": (None, "other"),
}
_MODEL_SHAPED = re.compile(r"(gpt-|chatgpt-|o\d|text-embedding-|dall-e|davinci|babbage)[\w.\- ]*")


def display_model(name: str) -> tuple[str | None, str | None]:
    """(model id, compute_kind) for a dashboard line-item name; see the module docstring."""
    folded = " ".join(name.split()).lower()
    if folded in _DISPLAY_MODELS:
        return _DISPLAY_MODELS[folded]
    if _MODEL_SHAPED.fullmatch(folded):
        return folded.replace(" ", "-"), "other" if folded.startswith("dall-e") else "tokens"
    kinds = [kind for needle, kind in _NON_TOKEN_KINDS if needle in folded]
    return None, kinds[0] if kinds else None


@register_source
class OpenAICostCsv(Source):
    name = "openai_cost_csv"
    title = "OpenAI usage dashboard cost export (CSV)"
    tables = ("charges",)
    row_key = "date, project_id, user_id, name, currency; replace_scope project|date"
    distinct_duplicates = True
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        cols = sniff.column_set
        return (
            sniff.kind == "csv"
            and {"timestamp", "currency", "name", "cost"} <= cols
            and bool({"cost_in_major", "organization_id", "project_id"} & cols)
        )

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        yield from each_record("charges", u.csv_rows(path), lambda line, raw: self._row(u.lower_keys(raw), line))

    @staticmethod
    def _row(row: dict[str, Any], line: int) -> dict[str, Any]:
        stamp = u.ts(row.get("timestamp"))
        date = u.nullish(row.get("date"))
        day = u.ts(date) if date else stamp
        if day is None:
            raise ValueError("no timestamp or date")
        if stamp is not None and stamp.date() != day.date():
            raise ValueError(f"timestamp {row.get('timestamp')} is not on date {date}")
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        cost = u.money(row.get("cost_in_major"))
        if cost is None:
            cents = u.dec(row.get("cost"))
            if cents is None:
                raise ValueError("no cost_in_major or cost")
            cost = u.money(cents.scaleb(-2))  # `cost` is in cents
        currency = _currency(row.get("currency"))
        name = u.nullish(row.get("name"))
        if name is None:
            raise ValueError("line-item name missing")
        model, kind = display_model(name)
        project, user = u.nullish(row.get("project_id")), u.nullish(row.get("user_id"))
        if "project_id" in row or user is None:
            scope = f"{project or ''}|{start.date()}"
        else:
            scope = f"user:{user}|{start.date()}"
        return {
            **_charge(cost, currency, start, start + timedelta(days=1), name),
            "billing_account_id": u.nullish(row.get("organization_id")),
            "billing_account_name": u.nullish(row.get("organization_name")),
            "sub_account_id": project,
            "sub_account_name": u.nullish(row.get("project_name")),
            "project_id": project,
            "principal": user,
            "sku_id": name,
            "model": model,
            "model_raw": name,
            "compute_kind": kind,
            "cost_dataset": "billed",
            "row_key": u.key(start.date(), project, user, name, currency),
            "replace_scope": scope,
            "source_line": line,
        }
