"""Anthropic Admin API reports: Messages usage report and cost report (JSON pages).

Users fetch them with an Admin key (``sk-ant-admin…``) from ``GET /v1/organizations/usage_report/messages``
(token counts per 1m/1h/1d bucket) and ``GET /v1/organizations/cost_report`` (USD per day) and save
the responses: one page, a JSON array of pages, or JSONL with one page per line
[docs/sources.md; platform.claude.com/docs/en/api/admin/usage_report, …/cost_report].
The console's CSV export is not supported: its columns are not documented publicly.

Detect: JSON/JSONL pages ``{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more"}``;
a usage result has ``uncached_input_tokens``/``cache_read_input_tokens``/``cache_creation``, a cost
result a scalar ``amount`` (OpenAI's Costs API has ``start_time`` buckets and an ``amount`` object).
A report with no results at all is claimed by file name (``usage``/``cost``).
Parse: whole document (pages are small), numbers read as exact Decimals.
Normalise: usage → ``usage``: Anthropic's token fields are disjoint, so ``input_tokens`` = uncached +
cache read + 5m write + 1h write and ``cache_write_tokens`` = 5m + 1h; a total is NULL when any part
is missing (NULL = unknown). ``server_tool_use`` counts, context_window, inference_geo and speed go to
``attributes``; workspace_id → project_id, account_id (else service_account_id) → principal.
Cost → ``charges``: ``amount`` is a decimal string in cents, billed = effective = amount / 100 exactly;
token_type mapped to canonical names (a value outside the documented five is read by its words, else
NULL with the raw value in tags ``costlab.token_type_raw``); web_search/code_execution → compute_kind
tool_calls.
Row key: the bucket and every group-by dimension (amounts excluded). Each bucket is a complete
re-delivery of that bucket (a re-pull, possibly with other group_by, supersedes an older one), so
``replace_scope`` = ``"<org>|<starting_at>|<ending_at>"``; ``<org>`` is config
``[anthropic] organization_id`` (set it when one lake holds several organisations). Inside one file the
last page carrying a bucket wins, like across files.
Quirks:
- cost ``amount`` is in cents as a decimal string: "123.45" USD = $1.2345.
- dimensions are null unless grouped by them; workspace_id null also means the default workspace.
- batch is ``service_tier: "batch"``; Priority Tier never appears in the cost report (cookbook).
- reasoning (thinking) tokens are inside ``output_tokens``: reasoning_tokens stays NULL.
- currency is "currently always USD" (cost_report doc): a missing currency is read as USD.
- newer dimensions (inference_geo, speed, account_id, service_account_id) may be absent.
- the report has no invoice period: billing_period_* stay NULL.
- do not mix bucket widths (1d and 1h pulls of the same hours are different scopes and both count).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import ALLOWED_TOKEN_TYPES, text_kind

_USAGE_KEYS = frozenset({"uncached_input_tokens", "cache_read_input_tokens", "cache_creation"})
_DIMS = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
)
_COST_DIMS = (
    "workspace_id",
    "description",
    "cost_type",
    "model",
    "service_tier",
    "token_type",
    "context_window",
    "inference_geo",
    "speed",
)
TOKEN_TYPES = {
    "uncached_input_tokens": "input_uncached",
    "output_tokens": "output",
    "cache_read_input_tokens": "input_cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "input_cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "input_cache_write_1h",
}
COMPUTE_KINDS = {
    "tokens": "tokens",
    "web_search": "tool_calls",
    "code_execution": "tool_calls",
    "session_usage": "other",
}


def _token_type(raw: str | None) -> str | None:
    """The documented token_type values by table; another value by its words (the Messages API's
    "cache_creation_input_tokens" is a cache write), never written through raw: a value outside
    costlab's token classes is NULL (kept in tags ``costlab.token_type_raw``), the line still a
    token charge."""
    if raw is None:
        return None
    kind = TOKEN_TYPES.get(raw) or text_kind(raw)
    return kind if kind in ALLOWED_TOKEN_TYPES else None


def _first_result(sniff: Sniff) -> dict[str, Any] | None:
    """The first result object of a report page ({} when the report has buckets but no results)."""
    obj = sniff.first_object
    pages = obj if isinstance(obj, list) else [obj]
    if not pages:
        return None
    for page in pages[:100]:
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            return None
        for bucket in page["data"]:
            if not isinstance(bucket, dict) or "starting_at" not in bucket:
                return None
            results = bucket.get("results")
            if not isinstance(results, list):
                return None
            for r in results:
                if isinstance(r, dict):
                    return r
    return {}


def _read_pages(path: Path) -> Iterator[tuple[str, Any]]:
    """``(location, page)`` for each page: a document, an array of pages, or JSONL lines.
    A JSONL line that is not JSON yields ``(location, ValueError)``."""
    with u.open_text(path) as fh:
        text = fh.read()
    try:
        doc = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as whole:  # RecursionError: nested deeper than Python reads
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        parsed: list[tuple[str, Any]] = []
        for n, line in lines:
            try:
                parsed.append((f"line {n}", json.loads(line, parse_float=Decimal)))
            except (ValueError, RecursionError) as ex:
                parsed.append((f"line {n}", ValueError(str(ex))))
        objects = sum(isinstance(v, dict) for _, v in parsed)
        if len(lines) < 2 or 2 * objects < len(lines):  # not JSONL (most lines): a broken document
            raise SourceError(str(path), f"not a JSON report page: {whole}") from None
        yield from parsed
        return
    if isinstance(doc, list):
        yield from ((f"page {i}", p) for i, p in enumerate(doc))
    else:
        yield "", doc


def _tokens(value: Any, name: str) -> int | None:
    n = u.integer(value)
    if n is not None and n < 0:
        raise ValueError(f"{name} is negative: {n}")
    return n


def _sum(*parts: int | None) -> int | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)



def _bucket(b: dict[str, Any]) -> tuple[datetime, datetime, list[Any]]:
    """A bucket's window and results; a bucket without them is bad."""
    start, end = u.ts(b.get("starting_at")), u.ts(b.get("ending_at"))
    if start is None or end is None:
        raise ValueError("bucket has no starting_at/ending_at")
    results = b.get("results")
    if not isinstance(results, list):
        raise ValueError("bucket has no 'results' list")
    return start, end, results


class _Report(Source):
    """Walks the pages and buckets of a report; subclasses turn one result into a row."""

    table: str
    distinct_duplicates = False  # aggregates: a repeated key in one file is the same bucket re-sent
    priority = 10

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.tables = (cls.table,)

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind not in ("json", "jsonl"):
            return False
        r = _first_result(sniff)
        return r is not None and cls.recognises(r, sniff.name)

    @staticmethod
    def recognises(r: dict[str, Any], file_name: str) -> bool:
        """Whether the first result (``{}`` for an empty first page) is this report's."""
        raise NotImplementedError

    def row(self, start: datetime, end: datetime, r: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        cfg = ctx.config.get("anthropic") if isinstance(ctx.config, dict) else None
        org = str(cfg.get("organization_id") or "") if isinstance(cfg, dict) else ""
        pages: list[tuple[str, list[tuple[str, Any]]]] = []
        for loc, page in _read_pages(path):
            if isinstance(page, ValueError):
                yield Bad(loc, f"not JSON: {page}")
                continue
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                if loc == "":
                    raise SourceError(str(path), "expected a report page with a 'data' list")
                yield Bad(loc, "not a report page (no 'data' list)", u.raw_text(page))
                continue
            prefix = f"{loc} " if loc else ""
            pages.append((prefix, [(f"{prefix}data[{i}]", b) for i, b in enumerate(page["data"])]))
        # the last page that carries a bucket is the latest pull of it (same rule as the lake)
        last: dict[tuple[Any, Any], int] = {}
        for p, (_, buckets) in enumerate(pages):
            for _, b in buckets:
                if isinstance(b, dict):
                    last[(str(b.get("starting_at")), str(b.get("ending_at")))] = p
        n = 0
        for p, (_, buckets) in enumerate(pages):
            for loc, b in buckets:
                if not isinstance(b, dict):
                    yield Bad(loc, "bucket is not an object", u.raw_text(b))
                    continue
                if last[(str(b.get("starting_at")), str(b.get("ending_at")))] != p:
                    continue
                window = mapped(loc, b, _bucket, b)
                if isinstance(window, Bad):
                    yield window
                    continue
                start, end, results = window
                scope = f"{org}|{start.isoformat()}|{end.isoformat()}"
                for i, r in enumerate(results):
                    n += 1
                    if not isinstance(r, dict):
                        yield Bad(f"{loc}.results[{i}]", "result is not an object", u.raw_text(r))
                        continue
                    row = mapped(f"{loc}.results[{i}]", r, self.row, start, end, r)
                    if isinstance(row, Bad):
                        yield row
                        continue
                    row.update(source_line=n, replace_scope=scope)
                    yield self.table, row


@register_source
class AnthropicUsage(_Report):
    name = "anthropic_usage"
    title = "Anthropic Admin API Messages usage report (JSON)"
    table = "usage"
    row_key = "bucket start/end + api_key, workspace, model, service_tier, context_window, inference_geo, speed, account"

    @staticmethod
    def recognises(r: dict[str, Any], file_name: str) -> bool:
        if not r:  # an empty first page: the file's name says which report it is
            return "usage" in file_name and "cost" not in file_name
        return bool(_USAGE_KEYS & r.keys()) and "amount" not in r

    def row(self, start: datetime, end: datetime, r: dict[str, Any]) -> dict[str, Any]:
        dims = {d: u.text(r.get(d)) for d in _DIMS}
        uncached = _tokens(r.get("uncached_input_tokens"), "uncached_input_tokens")
        read = _tokens(r.get("cache_read_input_tokens"), "cache_read_input_tokens")
        output = _tokens(r.get("output_tokens"), "output_tokens")
        cc = r.get("cache_creation")
        if cc is None:
            w5 = w1h = None
        elif isinstance(cc, dict):
            w5 = _tokens(cc.get("ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens")
            w1h = _tokens(cc.get("ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens")
        else:
            raise ValueError("cache_creation is not an object")
        attrs: dict[str, str] = {
            k: v
            for k in (
                "context_window",
                "inference_geo",
                "speed",
                "account_id",
                "service_account_id",
            )
            if (v := dims[k]) is not None
        }
        tools = r.get("server_tool_use")
        if isinstance(tools, dict):
            for k, v in tools.items():
                count = _tokens(v, f"server_tool_use.{k}")
                if count is not None:
                    attrs[k] = str(count)
        elif tools is not None:
            raise ValueError("server_tool_use is not an object")
        tier = dims["service_tier"].lower() if dims["service_tier"] else None
        return {
            "period_start": start,
            "period_end": end,
            "provider": "anthropic",
            "usage_kind": "messages",
            "model": dims["model"],
            "model_raw": dims["model"],
            "project_id": dims["workspace_id"],
            "api_key_id": dims["api_key_id"],
            "principal": dims["account_id"] or dims["service_account_id"],
            "service_tier": tier,
            "batch": None if tier is None else tier == "batch",
            "input_tokens": _sum(uncached, read, w5, w1h),
            "cache_read_tokens": read,
            "cache_write_tokens": _sum(w5, w1h),
            "cache_write_5m_tokens": w5,
            "cache_write_1h_tokens": w1h,
            "output_tokens": output,
            "attributes": attrs or None,
            "row_key": u.key(start.isoformat(), end.isoformat(), *dims.values()),
        }


@register_source
class AnthropicCost(_Report):
    name = "anthropic_cost"
    title = "Anthropic Admin API cost report (JSON; amounts in cents)"
    table = "charges"
    row_key = "bucket start/end + workspace, description, cost_type, model, service_tier, token_type, context_window, currency"

    @staticmethod
    def recognises(r: dict[str, Any], file_name: str) -> bool:
        if not r:
            return "cost" in file_name
        return "amount" in r and not isinstance(r["amount"], (dict, list))

    def row(self, start: datetime, end: datetime, r: dict[str, Any]) -> dict[str, Any]:
        dims = {d: u.text(r.get(d)) for d in _COST_DIMS}
        amount = r.get("amount")
        if isinstance(amount, (dict, list)):
            raise ValueError("amount is not a number")
        cents = u.dec(amount)
        if cents is None:
            raise ValueError("amount is missing")
        billed = u.money(cents.scaleb(-2))  # lowest currency unit (cents) -> dollars, exact
        currency = (u.text(r.get("currency")) or "USD").upper()
        token_type = _token_type(dims["token_type"])
        cost_type = dims["cost_type"].lower() if dims["cost_type"] else None
        kind = COMPUTE_KINDS.get(cost_type, "other") if cost_type else None
        if kind is None and token_type is not None:
            kind = "tokens"
        tier = dims["service_tier"].lower() if dims["service_tier"] else None
        tags = {k: v for k in ("context_window", "inference_geo", "speed") if (v := dims[k])}
        if dims["token_type"] and token_type is None:
            tags["costlab.token_type_raw"] = dims["token_type"]
        return {
            "billed_cost": billed,
            "effective_cost": billed,
            "billing_currency": currency,
            "charge_period_start": start,
            "charge_period_end": end,
            "charge_category": "Usage",
            "charge_description": dims["description"],
            "charge_frequency": "Usage-Based",
            "service_provider_name": "Anthropic",
            "host_provider_name": "Anthropic",
            "invoice_issuer_name": "Anthropic",
            "sub_account_id": dims["workspace_id"],
            "service_name": "Claude API",
            "service_category": "AI and Machine Learning",
            "sku_meter": dims["description"],
            "tags": tags or None,
            "model": dims["model"],
            "model_raw": dims["model"],
            "token_type": token_type,
            "service_tier": tier,
            "project_id": dims["workspace_id"],
            "compute_kind": kind,
            "cost_dataset": "api",
            "row_key": u.key(start.isoformat(), end.isoformat(), *dims.values(), currency),
        }
