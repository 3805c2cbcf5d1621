"""FinOps FOCUS cost-and-usage export, versions 1.0 to 1.3 (AWS Data Exports "FOCUS with AWS
columns", Azure Cost Management "FocusCost", GCP and OCI FOCUS exports, SaaS vendors' FOCUS files).

Detect: CSV (optionally .gz), Parquet or JSON Lines whose header holds BilledCost,
ChargePeriodStart, ChargePeriodEnd and ChargeCategory (names matched case-insensitively), the
columns no other billing export shares.
Parse: rows are streamed (csv reader, Parquet record batches, JSONL lines with exact decimals).
A file without BilledCost, EffectiveCost, BillingCurrency or ChargePeriodStart is rejected whole:
money must travel with its currency (this rejects the FOCUS 1.2 spec's commitment-discount
example tables, which omit BillingCurrency).
Normalise: FOCUS columns map 1:1 to `charges` (snake_case); ProviderName/PublisherName (1.0-1.2)
and ServiceProviderName/HostProviderName (1.3) both fill service_provider_name/host_provider_name.
Money and quantities are exact Decimals; enumeration values get the spec's spelling. LLM token
lines (a token unit, an Azure OpenAI meter in SkuMeter/x_SkuMeterName, a Bedrock x_UsageType)
get model, token_type, tokens, service_tier; compute_kind comes from units and ServiceCategory.
Row key: FOCUS has no line id, so the key is the identifying dimensions (accounts, charge period,
category, class, frequency, description, provider, issuer, service, region, resource, SKU, SKU
price, meter, commitment discount id/status, pricing category, currency, tags and the x_/1.3
columns that split lines: x_UsageType, x_Operation, x_SkuMeterId, x_AmortizationClass,
CapacityReservation*, Allocated*), never cost or quantity, so a restated line replaces the old.
replace_scope is NULL by default: a FOCUS file may be a partial, daily or filtered extract, and
scope replacement would then delete rows it never re-sent. Users whose exports are complete
re-deliveries opt in with config ``[focus] replace_scope = "billing_account_day"`` (or
``"sub_account_day"``); ``delivery`` is then the file's folder, so parts of one export are kept.
Quirks:
- Literal "NULL" strings stand for null (research 1 "Null handling", real sample) -> u.nullish.
- Datetimes without T/Z ("2024-09-18 22:00:00") and mixed hourly/daily grains (research 9.8).
- ChargeFrequency "Usage-based" next to "Usage-Based" in one file (research 9.9) -> u.enum.
- Negative Usage rows (Microsoft reversals) and Credits are kept, they net (research 9.6).
- Spec example tables: "$10,000.00 " amounts and M/D/YY dates (FOCUS_Spec v1.2 specification/data).
- Microsoft writes "-2" or "Unassigned" for missing ids; they become null (learn.microsoft.com
  cloud-computing/finops/focus/conformance-summary, "Incorrect data").
- Azure FOCUS 1.0 has the meter in x_SkuMeterName, 1.2 in SkuMeter; x_InvoiceId before InvoiceId;
  x_ResourceGroupName is the project (research 1.3, SCHEMA.md project_id).
- Token counts come from ConsumedQuantity in ConsumedUnit, else PricingQuantity x the block in
  PricingUnit ("1000 Tokens", "1K tokens"; research 1 UnitFormat, 9.3).
- Parquet doubles (AWS FOCUS types BilledCost as double) are read through their shortest repr.
- Quantities with more than 12 decimals (the sample has 15) round to the column's 12.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import register
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source

_DETECT = frozenset({"billedcost", "chargeperiodstart", "chargeperiodend", "chargecategory"})
_REQUIRED = ("BilledCost", "EffectiveCost", "BillingCurrency", "ChargePeriodStart")

#: canonical column <- FOCUS columns (lower-case); the first non-null one wins
_TEXT: dict[str, tuple[str, ...]] = {
    "charge_description": ("chargedescription",),
    "service_provider_name": ("serviceprovidername", "providername"),
    "host_provider_name": ("hostprovidername", "publishername"),
    "invoice_issuer_name": ("invoiceissuername",), "invoice_id": ("invoiceid", "x_invoiceid"),
    "billing_account_id": ("billingaccountid",), "billing_account_name": ("billingaccountname",),
    "sub_account_id": ("subaccountid",), "sub_account_name": ("subaccountname",),
    "service_name": ("servicename",), "service_subcategory": ("servicesubcategory",),
    "region_id": ("regionid",), "resource_id": ("resourceid",), "resource_name": ("resourcename",),
    "resource_type": ("resourcetype",), "sku_id": ("skuid",), "sku_price_id": ("skupriceid",),
    "sku_meter": ("skumeter", "x_skumetername"), "consumed_unit": ("consumedunit",),
    "pricing_unit": ("pricingunit",), "commitment_discount_id": ("commitmentdiscountid",),
    "commitment_discount_type": ("commitmentdiscounttype",),
    "project_id": ("x_resourcegroupname",),
}  # fmt: skip
_DECIMALS = {
    "billed_cost": "BilledCost",
    "effective_cost": "EffectiveCost",
    "list_cost": "ListCost",
    "contracted_cost": "ContractedCost",
    "list_unit_price": "ListUnitPrice",
    "contracted_unit_price": "ContractedUnitPrice",
    "consumed_quantity": "ConsumedQuantity",
    "pricing_quantity": "PricingQuantity",
}
_TIMES = {
    "charge_period_start": "ChargePeriodStart",
    "charge_period_end": "ChargePeriodEnd",
    "billing_period_start": "BillingPeriodStart",
    "billing_period_end": "BillingPeriodEnd",
}
#: allowed values per FOCUS 1.2 (research 1 "Allowed values")
_ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "charge_category": ("chargecategory", ("Usage", "Purchase", "Tax", "Credit", "Adjustment")),
    "charge_class": ("chargeclass", ("Correction",)),
    "charge_frequency": ("chargefrequency", ("One-Time", "Recurring", "Usage-Based")),
    "pricing_category": ("pricingcategory", ("Standard", "Dynamic", "Committed", "Other")),
    "service_category": (
        "servicecategory",
        (
            "AI and Machine Learning", "Analytics", "Business Applications", "Compute",
            "Databases", "Developer Tools", "Multicloud", "Identity", "Integration",
            "Internet of Things", "Management and Governance", "Media", "Migration", "Mobile",
            "Networking", "Security", "Storage", "Web", "Other",
        ),
    ),
}  # fmt: skip
#: extra columns that split otherwise identical lines (x_ extensions, 1.1 capacity, 1.3 allocation)
_KEY_EXTRA = (
    "commitmentdiscountstatus", "capacityreservationid", "capacityreservationstatus",
    "x_usagetype", "x_operation", "x_skumeterid", "x_amortizationclass",
    "allocatedmethodid", "allocatedresourceid",
)  # fmt: skip
_MS_NULLS = frozenset({"-2", "unassigned"})
_SHORT_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$", re.ASCII)


@register
class FocusExport(Source):
    name = "focus"
    title = "FinOps FOCUS 1.0-1.3 cost and usage export (CSV, CSV.gz, Parquet, JSONL)"
    tables = ("charges",)
    row_key = (
        "billing/sub account, charge period, category/class/frequency, description, provider, "
        "service, region, resource, SKU/price/meter, commitment, tags, x_UsageType... (no cost)"
    )
    distinct_duplicates = True
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind in ("csv", "parquet", "jsonl") and _DETECT <= sniff.column_set

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        sniff = Sniff(path)
        if sniff.kind not in ("csv", "parquet", "jsonl") or not sniff.columns:
            raise SourceError(str(path), "expected a FOCUS CSV, Parquet or JSON Lines file")
        missing = [c for c in _REQUIRED if c.lower() not in sniff.column_set]
        if missing:
            raise SourceError(
                str(path),
                f"not a usable FOCUS cost file: mandatory column(s) {', '.join(missing)} missing",
            )
        scope = _scope_mode(ctx)
        for line, rec in _records(path, sniff.kind):
            if isinstance(rec, str):
                yield Bad(str(line), rec)
                continue
            try:
                row = _row(rec)
            except (ValueError, TypeError, ArithmeticError) as ex:
                yield Bad(str(line), str(ex), u.raw_text(rec))
                continue
            row["source_line"] = line
            if scope:
                day = u.day_of(row["charge_period_start"])
                parts = [row["billing_account_id"]]
                if scope == "sub_account_day":
                    parts.append(row["sub_account_id"])
                row["replace_scope"] = "|".join(str(p) for p in [*parts, day])
                row["delivery"] = str(path.resolve().parent)
            yield "charges", row


def _scope_mode(ctx: ParseContext) -> str | None:
    conf = ctx.config.get("focus") if isinstance(ctx.config, dict) else None
    mode = conf.get("replace_scope") if isinstance(conf, dict) else None
    if mode in (None, "none"):
        return None
    if mode not in ("billing_account_day", "sub_account_day"):
        raise SourceError(
            "config",
            f"focus.replace_scope must be none, billing_account_day or sub_account_day, not {mode!r}",
        )
    return str(mode)


def _records(path: Path, kind: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(record number, {lower-case column: value}) or (number, reason) for unreadable records."""
    if kind == "csv":
        for line, rec in u.csv_rows(path):
            yield line, rec if isinstance(rec, str) else u.lower_keys(rec)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
            n = 0
            for batch in pf.iter_batches(batch_size=8192):
                for rec in batch.to_pylist():
                    n += 1
                    yield n, u.lower_keys(rec)
        except (OSError, ValueError) as ex:  # pyarrow's ArrowInvalid is a ValueError
            raise SourceError(str(path), f"unreadable Parquet: {ex}") from None
    else:
        for n, obj in u.json_lines(path, exact=True):
            if isinstance(obj, Exception):
                yield n, f"invalid JSON: {obj}"
            else:
                yield n, u.lower_keys(obj) if isinstance(obj, dict) else "not a JSON object"


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    provider = u.nullish(rec.get("serviceprovidername")) or u.nullish(rec.get("providername"))
    microsoft = (provider or "").lower() == "microsoft"
    row: dict[str, Any] = {name: _text(rec, cols, microsoft) for name, cols in _TEXT.items()}
    currency = u.nullish(rec.get("billingcurrency"))
    if currency is None or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError(f"BillingCurrency is not an ISO 4217 code: {currency!r}")
    row["billing_currency"] = currency.upper()
    pricing_currency = _text(rec, ("pricingcurrency", "x_pricingcurrency"), microsoft)
    if pricing_currency and re.fullmatch(r"[A-Za-z]{3}", pricing_currency):
        pricing_currency = pricing_currency.upper()  # else a virtual currency such as "Token"
    row["pricing_currency"] = pricing_currency
    for name, col in _DECIMALS.items():
        row[name] = _amount(rec.get(col.lower()), row["billing_currency"], col)
    if row["billed_cost"] is None and row["effective_cost"] is None:
        raise ValueError("no cost: BilledCost and EffectiveCost are both null")
    for name, col in _TIMES.items():
        try:
            row[name] = _when(rec.get(col.lower()))
        except ValueError as ex:
            raise ValueError(f"{col}: {ex}") from None
    if row["charge_period_start"] is None:
        raise ValueError("ChargePeriodStart is null")
    for name, (col, allowed) in _ENUMS.items():
        row[name] = u.enum(rec.get(col), allowed)
    row["tags"] = u.tags(rec.get("tags"))
    row["cost_dataset"] = "focus"
    _llm(row, rec)
    extra = [f"{c}={v}" for c in _KEY_EXTRA if (v := _text(rec, (c,), microsoft)) is not None]
    row["row_key"] = u.key(
        row["billing_account_id"], row["sub_account_id"],
        _iso(row["charge_period_start"]), _iso(row["charge_period_end"]),
        row["charge_category"], row["charge_class"], row["charge_frequency"],
        row["charge_description"], row["service_provider_name"], row["invoice_issuer_name"],
        row["service_name"], row["region_id"], row["resource_id"], row["sku_id"],
        row["sku_price_id"], row["sku_meter"], row["commitment_discount_id"],
        row["pricing_category"], row["billing_currency"], row["tags"], *extra,
    )  # fmt: skip
    return row


def _text(rec: dict[str, Any], cols: tuple[str, ...], microsoft: bool) -> str | None:
    for col in cols:
        value = u.nullish(rec.get(col))
        if value is not None and not (microsoft and value.lower() in _MS_NULLS):
            return value
    return None


def _amount(value: Any, currency: str, col: str) -> Decimal | None:
    """Exact amount; a leading "$" (spreadsheet-formatted spec examples) only in a USD file."""
    if isinstance(value, str) and "$" in value:
        if currency != "USD":
            raise ValueError(f"{col} {value.strip()!r} has a $ sign but the currency is {currency}")
        value = value.replace("$", "", 1)
    try:
        return u.money(value)
    except ValueError as ex:
        raise ValueError(f"{col}: {ex}") from None


def _when(value: Any) -> Any:
    """u.ts plus the two-digit-year M/D/YY dates of the spreadsheet-authored spec examples."""
    if isinstance(value, str):
        m = _SHORT_DATE.match(value.strip())
        if m:
            value = f"{m[1]}/{m[2]}/20{m[3]}"
    return u.ts(value)


def _iso(dt: Any) -> str | None:
    return dt.isoformat() if dt is not None else None


# --- LLM token lines -------------------------------------------------------------------------

_TOKEN_UNIT = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*([km]|thousand|million)?\s+|([km])\s*)?tokens?\s*$", re.I | re.ASCII
)
_SCALE = {"k": 1000, "thousand": 1000, "m": 1_000_000, "million": 1_000_000}


def _token_block(unit: str | None) -> Decimal | None:
    """Tokens per unit for "Tokens", "1000 Tokens", "1K tokens", "1M Tokens"; None otherwise."""
    m = _TOKEN_UNIT.match(unit or "")
    if not m:
        return None
    number, scale, bare_scale = m.groups()
    return Decimal(number or 1) * _SCALE.get((scale or bare_scale or "").lower(), 1)


def _llm(row: dict[str, Any], rec: dict[str, Any]) -> None:
    row.update(model=None, model_raw=None, token_type=None, tokens=None, service_tier=None)
    usage_type = u.nullish(rec.get("x_usagetype"))
    meter = row["sku_meter"]
    found = _bedrock_usage_type(usage_type) if usage_type else None
    raw = usage_type if found else meter
    c_block, p_block = _token_block(row["consumed_unit"]), _token_block(row["pricing_unit"])
    token_unit = c_block is not None or p_block is not None
    is_meter_tokens = bool(meter and re.search(r"\btokens?\b", meter, re.I))
    if not found and meter and (token_unit or is_meter_tokens or "provisioned" in meter.lower()):
        found = _meter(meter)
    usage = row["charge_category"] == "Usage"
    if found and usage:
        row["model"], row["token_type"], row["service_tier"] = found
        row["model_raw"] = raw
    tokens_line = usage and (token_unit or is_meter_tokens or bool(found and found[1]))
    if tokens_line and row["service_tier"] != "provisioned":
        row["tokens"] = _tokens(row, c_block, p_block, rec)
        row["compute_kind"] = "tokens"
    else:
        row["compute_kind"] = _compute_kind(row, usage_type)


def _tokens(
    row: dict[str, Any], c_block: Decimal | None, p_block: Decimal | None, rec: dict[str, Any]
) -> int | None:
    qty: Decimal | None = None
    if c_block is not None and row["consumed_quantity"] is not None:
        qty = row["consumed_quantity"] * c_block
    elif p_block is not None and row["pricing_quantity"] is not None:
        explicit = bool(re.match(r"\s*\d|\s*[km]\s", row["pricing_unit"], re.I))
        size = u.dec(rec.get("x_pricingblocksize"))
        if explicit or size in (None, 1):  # a plain "Tokens" unit with a block size is ambiguous
            qty = row["pricing_quantity"] * p_block
    return None if qty is None else int(qty.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


_AZ_DIRECTION = {"inp": "in", "input": "in", "outp": "out", "output": "out"}
_AZ_TIER = {"batch": "batch", "pp": "priority", "priority": "priority", "provisioned": "provisioned", "ptu": "provisioned"}  # fmt: skip
_AZ_SCOPE = frozenset({"regnl", "regional", "rg", "glbl", "global", "gl", "data", "dzone", "dz"})
_AZ_MARKERS = frozenset(
    {*_AZ_DIRECTION, *_AZ_TIER, *_AZ_SCOPE, "cached", "cd", "wr", "tokens", "token", "1k", "1m",
     "shortco", "longco", "aud", "audio"}
)  # fmt: skip
#: Azure OpenAI meter versions (MMDD) of the documented meters -> OpenAI's dated model ids
_AZ_VERSIONS = {
    ("gpt-4o", "0513"): "2024-05-13",
    ("gpt-4o", "0806"): "2024-08-06",
    ("gpt-4o", "1120"): "2024-11-20",
    ("gpt-4o-mini", "0718"): "2024-07-18",
}


def _meter(meter: str) -> tuple[str | None, str | None, str | None] | None:
    """(model, token_type, service_tier) from an Azure OpenAI meter name such as
    "gpt-4o-mini-0718-Inp-regnl Tokens", "gpt 4o 0806 cached Inp glbl Tokens",
    "5.4 mini cd Inp Gl 1M Tokens" or "text-embedding-3-large-regional Tokens" (research 4.2)."""
    words = [w for w in re.split(r"[\s\-_]+", meter.lower()) if w]
    cut = next((i for i, w in enumerate(words) if w in _AZ_MARKERS), len(words))
    head, tail = words[:cut], set(words[cut:])
    # no tier word: a deployment-scope word (regional, global, data zone) means a Standard deployment
    scoped = "standard" if tail & _AZ_SCOPE else None
    tier = next((_AZ_TIER[w] for w in words[cut:] if w in _AZ_TIER), scoped)
    direction = next((_AZ_DIRECTION[w] for w in words[cut:] if w in _AZ_DIRECTION), None)
    model = None
    if head:
        if re.fullmatch(r"\d+(\.\d+)?", head[0]):  # "5.4 mini" (MeterSubCategory Azure OpenAI GPT5)
            head = ["gpt", *head]
        if len(head) > 1 and re.fullmatch(r"\d{4}", head[-1]):
            base = "-".join(head[:-1])
            dated = _AZ_VERSIONS.get((base, head[-1]))
            model = f"{base}-{dated}" if dated else "-".join(head)
        else:
            model = "-".join(head)
    token_type: str | None = None
    if tail & {"cached", "cd"}:
        token_type = "input_cache_write" if tail & {"wr", "write"} else "input_cache_read"
    elif model and "embedding" in model:
        token_type = "embedding"
    elif tail & {"aud", "audio"} and direction:
        token_type = "input_audio" if direction == "in" else "output_audio"
    elif direction:
        token_type = "input_uncached" if direction == "in" else "output"
    if token_type is None and tier != "provisioned":
        return None
    return model, token_type, tier


_BEDROCK = re.compile(
    r"^(?:[A-Z]{2,4}\d{0,2}-)?(?P<model>.+?)-(?:mantle-)?"
    r"(?P<kind>cache-read-input-token-count|cache-write-input-token-count|cache-read(?:-input)?-tokens?"
    r"|cache-write(?:-input)?-tokens?|input-tokens?(?:-count)?|output-tokens?(?:-count)?)"
    r"(?P<rest>(?:-[\w.]+)*)$"
)
_BEDROCK_KIND = {"cache-read": "input_cache_read", "cache-write": "input_cache_write_5m", "input": "input_uncached", "output": "output"}  # fmt: skip


def _bedrock_usage_type(usage_type: str) -> tuple[str | None, str | None, str | None] | None:
    """(model, token_type, service_tier) from a Bedrock usage type such as
    "USE1-Claude4.6Sonnet-input-tokens" or "USE1-anthropic.claude-sonnet-4-5-mantle-cache-write-
    tokens-1h-standard" (research 2.3). Cache writes without "1h"/"1-hour" are Bedrock's default
    5-minute TTL."""
    low = usage_type.lower()
    tier = next(
        (t for t in ("batch", "priority", "flex") if re.search(rf"(^|-){t}(-|$)", low)), "standard"
    )
    if "provisionedthroughput" in low or "modelunits" in low:
        return None, None, "provisioned"
    m = _BEDROCK.match(usage_type)
    if not m:
        return None
    kind = m["kind"].lower()
    token_type = _BEDROCK_KIND[next(k for k in _BEDROCK_KIND if kind.startswith(k))]
    if token_type == "input_cache_write_5m" and re.search(r"-(1h|1-hour)\b", m["rest"].lower()):
        token_type = "input_cache_write_1h"
    return _bedrock_model(m["model"]), token_type, tier


def _bedrock_model(text: str) -> str:
    text = re.sub(
        r"^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai)\.", "", text, flags=re.I
    )
    m = re.fullmatch(r"Claude(\d+)(?:\.(\d+))?(Sonnet|Opus|Haiku)", text, re.I)
    if m:  # Anthropic ids: claude-3-5-sonnet (3.x) but claude-sonnet-4-5 (4 and later)
        version = "-".join(p for p in (m[1], m[2]) if p)
        family = m[3].lower()
        return f"claude-{version}-{family}" if int(m[1]) < 4 else f"claude-{family}-{version}"
    return text.lower()


_GPU = re.compile(
    r"\bgpu\b|\b(?:p[2-6]\w*|g[3-6]\w*|trn[12]\w*|inf[12])\.\d*x?large\b|\bN[CDV]\d+\w*", re.I
)


def _compute_kind(row: dict[str, Any], usage_type: str | None) -> str:
    """gpu_hours, provisioned_throughput, storage, egress or other, only where units/category are
    unambiguous (SCHEMA.md compute_kind)."""
    if row["service_tier"] == "provisioned" or (usage_type and "modelunits" in usage_type.lower()):
        return "provisioned_throughput"
    unit = (row["consumed_unit"] or row["pricing_unit"] or "").lower()
    text = " ".join(filter(None, (row["charge_description"], row["sku_meter"], usage_type)))
    if re.search(r"hour|hrs", unit) and _GPU.search(text):
        return "gpu_hours"
    if row["service_category"] == "Storage" or re.search(r"gb[\s\-/]*(mo|month)", unit):
        return "storage"
    if re.search(r"data transfer (out|to)\b|egress|internet outbound", text, re.I):
        return "egress"
    return "other"
