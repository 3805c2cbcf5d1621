"""Google Cloud Billing export to BigQuery (standard and detailed usage cost tables), as files.

Users enable Billing → Billing export → BigQuery and extract ``gcp_billing_export_v1_<ACCOUNT>`` or
``gcp_billing_export_resource_v1_<ACCOUNT>`` with ``bq extract`` (JSONL, Parquet), ``bq query
--format=json`` (a JSON array) or a SELECT saved as CSV [docs/sources.md].

Detect: rows with ``billing_account_id``, ``cost``, ``usage_start_time`` and a ``sku`` record (CSV:
``sku.id``/``sku.description`` or ``sku_id``/``sku_description``).
Parse: JSONL and CSV stream; Parquet by record batches; a JSON array is loaded whole. JSON numbers
are read as exact Decimals. CSV: ``a.b`` (or ``a_b`` for known records) columns are re-nested;
``credits``/``labels`` hold JSON text (``credits`` may also be a pre-summed number).
Normalise: billed = effective = ``cost`` + SUM(``credits[].amount``) (credits are negative), one
rounding at 12 dp; contracted_cost = ``cost`` (GCP prices after negotiated discounts, before credits);
list_cost = ``cost_at_list``; invoice.month → billing period; project.id → sub_account_id and
project_id; labels + project.labels + system_labels + tags → tags; location.region (else location) →
region_id; usage.amount/unit → consumed_*, usage.amount_in_pricing_units/pricing_unit → pricing_*;
cost_type → charge category. Vertex AI / Gemini API SKU descriptions (``Gemini 2.5 Pro Text Input -
Predictions``, ``… Input Text Caching``, ``… Output … - Batch Predictions``, Claude's ``… Cache Write
Input Tokens``) give model, token_type (costlab.ingest.token_lines.text_kind, as every billing source
reads it: a cache write is never a read) and service_tier; tokens = usage.amount when usage.unit is
``count``/tokens, rounded half-even (NULL for ``characters``, the Gemini 1.x unit: characters are not
tokens, and for tokens x time such as ``count-seconds``: context-cache storage).
Row key: billing account, project, service, SKU, usage start/end, resource (detailed), all labels/tags,
cost_type, location, invoice month, adjustment id, currency, seller, and ``export_time``. Google
appends rows: a row with a newer export_time for an hour already exported is additional usage or a
correction, not a restatement, and both count. So export_time is part of the key and
``replace_scope`` stays NULL: re-extracting an overlapping range replaces rows key by key (latest
ingest wins) while incremental extracts (by export_time/_PARTITIONTIME) simply add up.
Quirks:
- credits are a repeated field of negative amounts; UNNEST-ing them duplicates rows: summed per row.
  A CSV/JSON without a ``credits`` column is read as having no credits (billed = cost).
- ``cost`` is a FLOAT; the digits written in the file are taken literally (no binary-float noise added).
- invoice.month is a Pacific-time month (focus_converters gcp.csv: ASSIGN_TIMEZONE America/Los_Angeles).
- cost_type regular→Usage, tax→Tax, adjustment/rounding_error→Adjustment, credit→Credit (converters);
  adjustment_info.type ``*_CORRECTION`` → charge_class Correction.
- thinking tokens are billed inside the output SKU ("Text and Thinking Output") → token_type output.
- "Caching" input SKUs are discounted cache reads; "Caching Storage" SKUs are storage hours, not tokens.
  The SKU's context band ("(Long)", "(≤200k)") stays in sku_meter only (no column for it).
- ``bq`` JSON writes every scalar as a string and TIMESTAMPs as ``2025-06-01 10:00:00 UTC`` (extract)
  or epoch seconds such as ``1.7487648E9`` (the BigQuery REST form; unverified for ``bq``): all accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import text_kind, token_block, tokens_of, unit_kind
from costlab.periods import next_month

_PACIFIC = ZoneInfo("America/Los_Angeles")
#: nested records and their fields, for CSV columns flattened as ``record_field``
_RECORDS: dict[str, tuple[str, ...]] = {
    "service": ("id", "description"),
    "sku": ("id", "description"),
    "project": ("id", "number", "name", "labels", "ancestry_numbers"),
    "location": ("location", "country", "region", "zone"),
    "usage": ("amount", "unit", "amount_in_pricing_units", "pricing_unit"),
    "invoice": ("month", "publisher_type"),
    "resource": ("name", "global_name"),
    "adjustment_info": ("id", "description", "mode", "type"),
    "price": ("effective_price", "tier_start_amount", "unit", "pricing_unit_quantity"),
}
_FLAT = {f"{rec}_{f}": (rec, f) for rec, fields in _RECORDS.items() for f in fields}
_CATEGORY = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
    "credit": "Credit",
}
_AI_CATEGORY = ("vertex ai", "gemini api", "generative language api", "gemini")
_GEMINI = re.compile(
    r"\bgemini\s+(\d+(?:\.\d+)?)\s+(pro|flash|ultra|nano)(?:[\s-]+(lite|8b))?\b", re.I
)
_CLAUDE = re.compile(
    r"\bclaude\s+(?:(\d+(?:\.\d+)?)\s+)?(opus|sonnet|haiku)(?:\s+(\d+(?:\.\d+)?))?\b", re.I
)
_COUNT_TIME = re.compile(r"^\s*count[\s\-.*x]*(?:seconds?|s|hours?|hrs?|h)\s*$", re.I | re.ASCII)
_SCI = re.compile(r"^-?\d+(\.\d+)?[eE][+-]?\d+$", re.ASCII)


def _dec_json(text: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:  # nested deeper than Python reads: bad input, not a crash
        raise ValueError("JSON nested too deeply") from None


def _get(rec: dict[str, Any], *path: str) -> Any:
    """A nested value (None when absent); a non-record in the middle of the path is an error."""
    cur: Any = rec
    for i, k in enumerate(path):
        if cur is None:
            return None
        if not isinstance(cur, dict):
            raise ValueError(f"{'.'.join(path[:i])} is not a record")
        cur = cur.get(k)
    return cur


def _text(rec: dict[str, Any], *path: str) -> str | None:
    value = _get(rec, *path)
    if isinstance(value, (dict, list)):
        raise ValueError(f"{'.'.join(path)} is not a scalar")
    return u.nullish(value)


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = value.strip()
        if _SCI.match(value):
            return u.epoch(Decimal(value))  # bq's float epoch seconds, e.g. 1.7487648E9
        # "2025-06-01 10:00:00 UTC": u.ts sees the T of "UTC" and skips its space-to-T step
        value = re.sub(r"\s*UTC$", "Z", value)
    return u.ts(value)


def _credits(value: Any) -> Decimal:
    """SUM(credits.amount): a list of credit records, JSON text of one, or a pre-summed number."""
    if isinstance(value, str):
        text = u.nullish(value)
        if text is None or text == "[]":
            return Decimal(0)
        if not text.startswith("["):
            return u.dec(text) or Decimal(0)
        try:
            value = _dec_json(text)
        except ValueError:
            raise ValueError(f"credits are not JSON: {text[:60]!r}") from None
    if value is None:
        return Decimal(0)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return u.dec(value) or Decimal(0)
    if not isinstance(value, list):
        raise ValueError("credits are not a list")
    total = Decimal(0)
    for c in value:
        amount = u.dec(c.get("amount")) if isinstance(c, dict) else None
        if amount is None:
            raise ValueError(f"credit without an amount: {u.raw_text(c, 80)}")
        total += amount
    return total


def _labels(value: Any, what: str) -> dict[str, str]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = _dec_json(value)
        except ValueError:
            raise ValueError(f"{what} are not JSON: {value[:60]!r}") from None
    if what == "tags" and isinstance(value, list):  # resource-manager tags: {key, value, namespace}
        value = [
            {
                "key": f"{t['namespace']}/{t['key']}" if t.get("namespace") else t["key"],
                "value": t.get("value"),
            }
            if isinstance(t, dict) and "key" in t
            else t
            for t in value
        ]
    return u.tags(value) or {}


def _invoice_period(month: str | None) -> tuple[datetime | None, datetime | None]:
    if month is None:
        return None, None
    m = re.fullmatch(r"(\d{4})-?(\d{2})", month, re.ASCII)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"invoice.month is not YYYYMM: {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=_PACIFIC)
    nxt = next_month(start.date())
    end = datetime(nxt.year, nxt.month, 1, tzinfo=_PACIFIC)
    return start.astimezone(UTC), end.astimezone(UTC)


def sku_facts(
    service: str | None, sku: str | None, unit: str | None = None
) -> dict[str, Any]:
    """model, token_type, service_tier and compute_kind read from a SKU description and its usage
    unit. The token class is token_lines.text_kind of the SKU, as for every billing source:
    "... Input Caching" is a cache read, "... Cache Write ..." a cache write (1h when stated),
    "... Caching Storage" storage; on an AI SKU a tokens x time unit is storage whatever the
    name says, never tokens."""
    d = (sku or "").lower()
    facts: dict[str, Any] = {"model": None, "token_type": None, "service_tier": None}
    if m := _GEMINI.search(d):
        facts["model"] = "-".join(p for p in ("gemini", *m.groups()) if p)
    elif m := _CLAUDE.search(d):
        ver, family, ver_after = m.groups()
        parts = ["claude", ver, family] if ver else ["claude", family, ver_after]
        facts["model"] = "-".join(p.replace(".", "-") for p in parts if p)
    ai = facts["model"] is not None or (service or "").lower() in _AI_CATEGORY
    storage = "storage" in d or (ai and _token_time(unit))
    if ai and not storage and (kind := text_kind(sku or "")) != "storage":
        facts["token_type"] = kind
    for word, tier in (("batch", "batch"), ("priority", "priority"), ("flex", "flex")):
        if word in d:
            facts["service_tier"] = tier
            break
    else:
        if "provisioned throughput" in d:
            facts["service_tier"] = "provisioned"
        elif facts["token_type"]:
            facts["service_tier"] = "standard"
    facts["compute_kind"] = _compute_kind(d, facts["token_type"], storage)
    return facts


def _token_time(unit: str | None) -> bool:
    """Tokens x time: "Token-Hours", or the catalog's "count-seconds" / "count-hour" (``count`` is
    its token unit) that context-cache storage is metered in."""
    return unit_kind(unit) == "token_time" or bool(_COUNT_TIME.match(unit or ""))


def _compute_kind(d: str, token_type: str | None, storage: bool) -> str:
    if token_type:
        return "tokens"
    if "provisioned throughput" in d:
        return "provisioned_throughput"
    if re.search(r"\b(gpu|tpu|nvidia|accelerator|a100|h100|h200|b200|l4|t4|v100|p100)\b", d):
        return "gpu_hours"
    if any(w in d for w in ("vector search", "matching engine", "index serving")):
        return "vector_db"
    if storage:
        return "storage"
    if any(w in d for w in ("egress", "data transfer", "internet", "network inter")):
        return "egress"
    return "other"


def _token_count(token_type: str | None, amount: Decimal | None, unit: str | None) -> int | None:
    """Tokens of a token SKU's usage: amount x the block of a token unit ("1k tokens"), or the
    amount itself in ``count`` (the billing catalog's unit for token SKUs); NULL for
    ``characters`` (Gemini 1.x: characters are not tokens) and any other unit."""
    if token_type is None:
        return None
    block = token_block(unit) or (1 if unit_kind(unit) == "count" else None)
    return tokens_of(amount, block)


def _renest(flat: dict[str, Any]) -> dict[str, Any]:
    """A CSV row with ``a.b`` / ``a_b`` columns as nested records; JSON-text columns parsed."""
    rec: dict[str, Any] = {}
    for col, value in flat.items():
        name = col.strip().lower()
        parts = name.split(".", 1) if "." in name else list(_FLAT.get(name, (name,)))
        if len(parts) == 2:
            sub = rec.setdefault(parts[0], {})
            if isinstance(sub, dict):
                sub[parts[1]] = value
        else:
            rec[name] = value
    return rec


@register_source
class GcpBilling(Source):
    name = "gcp_billing"
    title = "Google Cloud Billing export to BigQuery, standard/detailed (JSONL, JSON, CSV, Parquet)"
    tables = ("charges",)
    row_key = (
        "billing account, project, service, SKU, usage window, resource, labels, cost_type, "
        "location, invoice month, export_time (cost excluded; Google appends, never restates)"
    )
    distinct_duplicates = True
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind in ("csv", "parquet"):
            cols = sniff.column_set
        elif sniff.kind in ("json", "jsonl"):
            obj = sniff.first_object
            if isinstance(obj, list):
                obj = obj[0] if obj else None
            cols = frozenset(k.lower() for k in obj) if isinstance(obj, dict) else frozenset()
        else:
            return False
        has_sku = bool({"sku", "sku.id", "sku.description", "sku_id", "sku_description"} & cols)
        return has_sku and {"billing_account_id", "cost", "usage_start_time"} <= cols

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        yield from each_record("charges", self._records(path), lambda _line, rec: self._row(rec))

    def _records(self, path: Path) -> Iterator[tuple[int, Any]]:
        kind = Sniff(path).kind
        if kind == "parquet":
            yield from u.parquet_records(path)
        elif kind == "csv":
            for line, row in u.csv_rows(path):
                yield line, row if isinstance(row, str) else _renest(row)
        elif kind == "jsonl":
            for n, obj in u.json_lines(path, exact=True):
                yield n, f"not JSON: {obj}" if isinstance(obj, Exception) else obj
        elif kind == "json":
            doc = u.json_document(path)
            rows = doc if isinstance(doc, list) else [doc]
            yield from enumerate(rows, 1)
        else:
            raise SourceError(
                str(path), "expected billing export rows as JSON, JSONL, CSV or Parquet"
            )

    def _row(self, rec: dict[str, Any]) -> dict[str, Any]:
        start, end = _time(_get(rec, "usage_start_time")), _time(_get(rec, "usage_end_time"))
        if start is None:
            raise ValueError("usage_start_time is missing")
        cost = u.dec(_get(rec, "cost"))
        if cost is None:
            raise ValueError("cost is missing")
        billed = u.money(cost + _credits(rec.get("credits")))
        currency = _text(rec, "currency")
        if currency is None:
            raise ValueError("currency is missing")
        cost_type = (_text(rec, "cost_type") or "regular").lower().replace(" ", "_")
        adj_type = _text(rec, "adjustment_info", "type")
        bp_start, bp_end = _invoice_period(_text(rec, "invoice", "month"))
        tags: dict[str, str] = {}
        tags.update(_labels(_get(rec, "project", "labels"), "project.labels"))
        tags.update(_labels(rec.get("tags"), "tags"))
        tags.update(_labels(rec.get("system_labels"), "system_labels"))
        tags.update(_labels(rec.get("labels"), "labels"))
        service, sku = _text(rec, "service", "description"), _text(rec, "sku", "description")
        amount, unit = u.money(_get(rec, "usage", "amount")), _text(rec, "usage", "unit")
        taxed = cost_type in ("tax", "rounding_error")
        facts = sku_facts(service, sku, unit) if not taxed else {}
        project = _text(rec, "project", "id")
        seller = _text(rec, "seller_name")
        export_time = _time(_get(rec, "export_time"))
        region = _text(rec, "location", "region") or _text(rec, "location", "location")
        key = u.key(
            _text(rec, "billing_account_id"),
            project,
            _text(rec, "service", "id"),
            _text(rec, "sku", "id"),
            start.isoformat(),
            end.isoformat() if end else None,
            _text(rec, "resource", "global_name"),
            _text(rec, "resource", "name"),
            tags,
            cost_type,
            region,
            _text(rec, "location", "zone"),
            _text(rec, "invoice", "month"),
            _text(rec, "adjustment_info", "id"),
            currency.upper(),
            seller,
            _text(rec, "transaction_type"),
            export_time.isoformat() if export_time else None,
        )
        return {
            "billed_cost": billed,
            "effective_cost": billed,
            "list_cost": u.money(_get(rec, "cost_at_list")),
            "contracted_cost": u.money(cost),
            "billing_currency": currency.upper(),
            "charge_period_start": start,
            "charge_period_end": end,
            "billing_period_start": bp_start,
            "billing_period_end": bp_end,
            "charge_category": u.enum(
                _CATEGORY.get(cost_type, cost_type), tuple(_CATEGORY.values())
            ),
            "charge_class": "Correction" if adj_type and "CORRECTION" in adj_type.upper() else None,
            "charge_description": sku or _text(rec, "adjustment_info", "description"),
            "charge_frequency": "Usage-Based" if cost_type == "regular" else None,
            "service_provider_name": "Google Cloud",
            "host_provider_name": seller or "Google Cloud",
            "invoice_issuer_name": "Google Cloud",
            "billing_account_id": _text(rec, "billing_account_id"),
            "sub_account_id": project,
            "sub_account_name": _text(rec, "project", "name"),
            "service_name": service,
            "service_category": "AI and Machine Learning"
            if (service or "").lower() in _AI_CATEGORY
            else None,
            "region_id": region,
            "resource_id": _text(rec, "resource", "global_name"),
            "resource_name": _text(rec, "resource", "name"),
            "sku_id": _text(rec, "sku", "id"),
            "sku_meter": sku,
            "consumed_quantity": amount,
            "consumed_unit": unit,
            "pricing_quantity": u.money(_get(rec, "usage", "amount_in_pricing_units")),
            "pricing_unit": _text(rec, "usage", "pricing_unit"),
            "tags": tags or None,
            "model": facts.get("model"),
            "model_raw": sku if facts.get("model") else None,
            "token_type": facts.get("token_type"),
            "tokens": _token_count(facts.get("token_type"), amount, unit),
            "service_tier": facts.get("service_tier"),
            "project_id": project,
            "compute_kind": facts.get("compute_kind"),
            "cost_dataset": "billed",
            "export_time": export_time,
            "row_key": key,
        }
