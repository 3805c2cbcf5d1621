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
lines get model, model_raw, token_type, tokens, service_tier (section "LLM token lines" below;
the words, units and token classes are costlab.ingest.token_lines, shared by every billing
source, and each provider's naming is read by its own source's parser: azure.openai_meter,
aws_cur.bedrock_usage_type, gcp.sku_facts):
- model: SkuPriceDetails ModelId (FOCUS-defined; also Model/ModelName and x_ variants, keys
  matched case-insensitively), else the provider's convention: the Bedrock usage type (x_UsageType
  in AWS FOCUS 1.0, SkuMeter in 1.2) or "<model> (Amazon Bedrock Edition)" for Marketplace lines,
  the Azure OpenAI meter, "Gemini 2.5 Pro ..."/"Claude ..." SKU names (Vertex), else a SkuId
  "<model>-<token class>" or a ChargeDescription that starts with a model id. Normalised with
  costlab.names (Claude on Bedrock as costlab.ingest.aws_cur names it); model_raw as found. A
  word that names a token class, tier or unit ("cache-read", "input") is never a model.
- token_type: SkuPriceDetails TokenCacheAction (Read, Write, Uncached) and TokenDirection (Input,
  Output) or the earlier draft's TokenType (Input, Output, CacheRead, CacheWrite), else the
  usage type / meter, else the words of SkuMeter, x_SkuDescription, ChargeDescription: cache
  read/cached/"Input Caching" -> input_cache_read; cache write/creation -> input_cache_write_1h
  when 1 hour is stated, else _5m (Anthropic's default TTL; Bedrock marks only its 1-hour usage
  types); output/completion -> output ("Thinking ... Output" too: thinking is billed as output);
  reasoning/thinking tokens on a SKU of their own -> reasoning; audio in/out; embedding; input.
- tokens = ConsumedQuantity x the block of ConsumedUnit ("1K Tokens" x 12.5 = 12,500), else
  PricingQuantity x the block of PricingUnit ("1000000 Tokens"), else a plain count ("count",
  "Units" with x_PricingBlockSize) when the line names a token class. The spec defines
  ConsumedQuantity as the volume in ConsumedUnit and PricingQuantity as the priced volume, so
  either times its own unit's block is the token count.
- Not tokens: Token-Hours (context-cache storage) and "Caching Storage"/"Context Cache Storage"
  SKUs -> compute_kind storage; characters, requests, hours, GB -> their compute_kind (other,
  gpu_hours, egress ...), token_type and tokens NULL; PTU / Bedrock model units / Vertex
  provisioned throughput -> provisioned_throughput. Token classes, model and token counts go on
  Usage lines only; a credit or refund on a token SKU keeps the model (compute_kind tokens) but
  adds no tokens.
compute_kind of other lines comes from units and ServiceCategory.
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
- Literal "NULL" strings stand for null (docs/sources.md, real sample) -> u.nullish.
- Datetimes without T/Z ("2024-09-18 22:00:00") and mixed hourly/daily grains (docs/sources.md).
- ChargeFrequency "Usage-based" next to "Usage-Based" in one file (docs/sources.md) -> u.enum.
- Negative Usage rows (Microsoft reversals) and Credits are kept, they net (docs/sources.md).
- Spec example tables: "$10,000.00 " amounts and M/D/YY dates (FOCUS_Spec v1.2 specification/data).
- Microsoft writes "-2" or "Unassigned" for missing ids; they become null (learn.microsoft.com
  cloud-computing/finops/focus/conformance-summary, "Incorrect data").
- Azure FOCUS 1.0 has the meter in x_SkuMeterName, 1.2 in SkuMeter; x_InvoiceId before InvoiceId;
  x_ResourceGroupName is the project (docs/sources.md, docs/schema.md project_id).
- Token counts come from ConsumedQuantity in ConsumedUnit, else PricingQuantity x the block in
  PricingUnit ("1000 Tokens", "1K tokens"; docs/sources.md). A plain "Tokens"
  PricingUnit next to an x_PricingBlockSize is ambiguous (per token or per block?) and not used.
- AI token properties: FOCUS_Spec (github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec)
  specification/datasets/cost_and_usage/columns/skupricedetails.md (ModelId, TokenDirection,
  TokenCacheAction "Uncached"/"Read"/"Write"/"Other"; keys are PascalCase, custom ones x_),
  consumedquantity.md (cache reads/writes are never also counted on the uncached row), the
  appendix ai_prompt_caching_examples.md / ai_model_identity_examples.md and their CSVs under
  specification/data/ai_prompt_caching, ai_model_identity, ai_billing (TokenType in an earlier
  draft). Both spellings are read.
- AWS FOCUS 1.2 has no x_UsageType: "x_UsageType (This is now the SkuMeter column)"
  (docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-migrating.html). Bedrock
  usage types: docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html
  (``*-input-tokens``, ``*-cache-read-input-token-count``, ``*-cache-write-input-token-count``,
  tier suffixes ``-flex``/``-priority``). Marketplace models bill as "USE1-MP:USE1_<Kind>TokenCount-
  Units" under "<model> (Amazon Bedrock Edition)"; what one of those Units is (a token or a
  million) is undocumented, so their tokens stay NULL (aws_cur does the same).
- Azure writes 1K/1M meters with x_PricingBlockSize (open-data PricingUnits.csv of
  github.com/microsoft/finops-toolkit: "1K" -> block 1000, unit "Units"); meter spellings vary
  by generation: Inp/inp/Input, Outp/Opt/out, cached/cd/cchd/ccchd, Cd Wr, Std, Gl/glbl, Rg/regnl,
  DZ/DZone/Data Zone (Azure Retail Prices meterName values, docs/sources.md).
- Vertex SKUs (cloud.google.com/skus/sku-groups/gen-ai-v2): "... Text Input Caching" is the
  discounted cache read, "... Text Input Caching Storage" is storage (token-hours), never tokens.
- Parquet doubles (AWS FOCUS types BilledCost as double) are read through their shortest repr.
- Quantities with more than 12 decimals (the sample has 15) round to the column's 12.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.aws_cur import bedrock_usage_type
from costlab.ingest.azure import openai_meter
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record
from costlab.ingest.gcp import sku_facts
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import (
    TokenLine,
    cache_write,
    is_model,
    text_kind,
    token_block,
    tokens_of,
    unit_kind,
    words,
)
from costlab.names import normalise_model

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
#: allowed values per FOCUS 1.2 (docs/sources.md)
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


@register_source
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
        for item in each_record("charges", _records(path, sniff.kind), _map_record):
            if isinstance(item, Bad):
                yield item
                continue
            row = item[1]
            if scope:
                day = u.day_of(row["charge_period_start"])
                parts = [row["billing_account_id"]]
                if scope == "sub_account_day":
                    parts.append(row["sub_account_id"])
                row["replace_scope"] = "|".join(str(p) for p in [*parts, day])
                row["delivery"] = u.storable(str(path.resolve().parent))
            yield "charges", row


def _map_record(line: int, rec: dict[str, Any]) -> dict[str, Any]:
    return _row(rec)


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
        for n, rec in u.parquet_records(path):
            yield n, u.lower_keys(rec)
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


# --- LLM token lines (sources and their order: module docstring, Normalise) -------------------


_TOKEN_WORD = re.compile(r"tokens?\b", re.I)
_AI_SUBCATEGORIES = frozenset({"generative ai", "ai platforms"})


def _llm(row: dict[str, Any], rec: dict[str, Any]) -> None:
    row.update(model=None, model_raw=None, token_type=None, tokens=None, service_tier=None)
    found = _read_llm(row, rec)
    units = {unit_kind(row["consumed_unit"]), unit_kind(row["pricing_unit"])}
    storage = found.storage or "token_time" in units
    if found.provisioned or storage:
        tokens_line = False
    elif "tokens" in units:
        tokens_line = True
    else:  # no token unit: the line must name a token class and no other unit may contradict it
        tokens_line = found.token_type is not None and not units & {"other"}
    usage = row["charge_category"] == "Usage"
    # a credit or refund on a token SKU is that model's money but never tokens (as in aws_cur)
    tokens_line = tokens_line and (usage or found.token_type is not None)
    if tokens_line or storage or found.provisioned or found.model:
        row.update(model=found.model, model_raw=found.model_raw, service_tier=found.tier)
        if tokens_line and usage:
            row.update(token_type=found.token_type, tokens=_tokens(row, rec))
    if found.provisioned:
        row["compute_kind"] = "provisioned_throughput"
    elif tokens_line:
        row["compute_kind"] = "tokens"
    elif storage:
        row["compute_kind"] = "storage"
    else:
        row["compute_kind"] = _compute_kind(row, u.nullish(rec.get("x_usagetype")))


def _read_llm(row: dict[str, Any], rec: dict[str, Any]) -> TokenLine:
    """Model, token class, tier, storage and provisioned flags of one line, each from the most
    specific source that states it."""
    meter, vendor, ai = row["sku_meter"], _vendor(row), _ai_context(row, rec)
    usage_type = u.nullish(rec.get("x_usagetype")) or (meter if vendor == "aws" else None)
    texts = [
        t for t in (meter, u.nullish(rec.get("x_skudescription")), row["charge_description"]) if t
    ]
    found, bedrock = TokenLine(), None
    if usage_type and ai:
        bedrock = bedrock_usage_type(usage_type, row["service_name"], row["charge_description"])
    if bedrock:
        found = bedrock
    elif meter and vendor == "azure" and (ai or _TOKEN_WORD.search(meter)):
        found = openai_meter(meter, u.nullish(rec.get("x_skumetersubcategory"))) or found
    _from_details(found, _price_details(rec.get("skupricedetails")), " ".join(texts))
    for text in texts:
        if found.token_type or found.storage or found.provisioned:
            break
        if ai or _TOKEN_WORD.search(text):
            _from_text(found, text)
    ai = ai or bool(found.token_type or found.storage or found.provisioned)
    if found.tier is None and ai:
        found.tier = _tier_words(" ".join(texts))
        if found.tier is None and vendor == "google" and found.token_type:
            found.tier = "standard"  # Vertex bills batch, priority and flex on SKUs of their own
    if found.model is None and ai:
        _model_fallback(found, row, texts)
    return found


def _ai_context(row: dict[str, Any], rec: dict[str, Any]) -> bool:
    """An AI service by FOCUS category/subcategory, Azure meter category or service name."""
    category = (u.nullish(rec.get("x_skumetercategory")) or "").lower()
    service = (row["service_name"] or "").lower()
    return (
        row["service_category"] == "AI and Machine Learning"
        or (row["service_subcategory"] or "").lower() in _AI_SUBCATEGORIES
        or category in ("cognitive services", "foundry models", "azure openai")
        or any(w in service for w in ("bedrock", "vertex ai", "gemini", "openai"))
    )


def _vendor(row: dict[str, Any]) -> str | None:
    """aws, azure or google, from the provider and the invoice issuer (not the host: a SaaS
    running on a cloud keeps its own names)."""
    names = f"{row['service_provider_name'] or ''} {row['invoice_issuer_name'] or ''}".lower()
    if re.search(r"\b(aws|amazon)\b", names):
        return "aws"
    if re.search(r"\b(microsoft|azure)\b", names):
        return "azure"
    if re.search(r"\bgoogle\b", names):
        return "google"
    return None


def _price_details(value: Any) -> dict[str, str]:
    """SkuPriceDetails as {lower-case key without x_: value}; {} when absent or not an object
    (a malformed detail never costs the line its money)."""
    try:
        obj = u.tags(value) or {}
    except ValueError:
        return {}
    return {
        re.sub(r"^x_", "", k.strip().lower()): v.strip() for k, v in obj.items() if v is not None
    }


#: SkuPriceDetails TokenType (FOCUS working-draft examples: Input, Output, CacheRead, CacheWrite)
_DETAIL_TYPE = {
    "input": "input_uncached", "uncached": "input_uncached", "uncachedinput": "input_uncached",
    "output": "output", "cacheread": "input_cache_read", "cachedinput": "input_cache_read",
    "cachehit": "input_cache_read", "cachewrite": "input_cache_write_5m",
    "cachecreation": "input_cache_write_5m", "reasoning": "reasoning", "thinking": "reasoning",
    "audioinput": "input_audio", "inputaudio": "input_audio", "audiooutput": "output_audio",
    "outputaudio": "output_audio", "embedding": "embedding",
}  # fmt: skip
_OUTPUT_SIDE = frozenset({"output", "output_audio", "reasoning"})
_MODEL_KEYS = ("modelid", "model", "modelname")
_TTL_KEYS = ("cachettl", "ttl", "cacheretention", "cacheduration", "cachewriteduration")


def _from_details(found: TokenLine, details: dict[str, str], text: str) -> None:
    """FOCUS-defined SkuPriceDetails properties (ModelId, TokenDirection, TokenCacheAction; the
    draft's TokenType) and x_ equivalents win over anything read from names."""
    model = next((details[k] for k in _MODEL_KEYS if details.get(k)), None)
    if model and is_model(model):
        found.model_raw, found.model = model, normalise_model(None, model)
    flat = {k: re.sub(r"[^a-z]", "", v.lower()) for k, v in details.items()}
    action, direction = flat.get("tokencacheaction"), flat.get("tokendirection")
    kind = _DETAIL_TYPE.get(flat.get("tokentype", ""))
    if action == "read":
        kind = "input_cache_read"
    elif action == "write":
        kind = "input_cache_write_5m"
    elif action == "uncached":
        kind = "input_uncached"
    elif action == "other":
        kind = None
    elif direction in ("input", "output") and kind is None:
        kind = text_kind(text)  # the meter may still say cached, audio, embedding or reasoning
        if kind in (None, "storage") or (kind in _OUTPUT_SIDE) != (direction == "output"):
            kind = "input_uncached" if direction == "input" else "output"
    if kind == "input_cache_write_5m":
        kind = cache_write(" ".join([text, *(details.get(k, "") for k in _TTL_KEYS)]))
    if kind is not None:
        found.token_type, found.storage = kind, False


def _from_text(found: TokenLine, text: str) -> None:
    kind = text_kind(text)
    if kind == "storage":
        found.storage = True
    elif kind:
        found.token_type = kind
    if not kind and re.search(
        r"provisioned (?:throughput|managed)|\bptu\b|model ?units", text, re.I
    ):
        found.provisioned, found.tier = True, "provisioned"


def _tier_words(text: str) -> str | None:
    t = words(text)
    return next((tier for tier in ("batch", "priority", "flex") if f" {tier} " in t), None)


_SKU_MODEL = re.compile(
    r"^(?P<model>.+?)[-_.](?:cache[-_]?read|cache[-_]?write|cached[-_]?input|uncached[-_]?input"
    r"|input|output|prompt|completion|reasoning)(?:[-_]tokens?)?$",
    re.I,
)
_DESC_MODEL = re.compile(r"^(?P<model>[A-Za-z][\w.:/@-]*[\d.-][\w.:/@-]*)[,:]?\s+\S", re.I)


def _model_fallback(found: TokenLine, row: dict[str, Any], texts: list[str]) -> None:
    """Model from a "Gemini 2.5 Pro ..." / "Claude Sonnet 4.5 ..." SKU name, a SkuId
    "<model>-<token class>" (the FOCUS AI examples' shape) or a description starting with an id."""
    for text in texts:
        if model := sku_facts(row["service_name"], text)["model"]:
            found.model_raw, found.model = text, model
            return
    sku = row["sku_id"] or ""
    m = _SKU_MODEL.match(sku)
    if m and is_model(m["model"]):
        found.model_raw, found.model = m["model"], normalise_model(None, m["model"])
        return
    desc = row["charge_description"] or ""
    m = _DESC_MODEL.match(desc)
    if m and is_model(m["model"]) and text_kind(desc) not in (None, "storage"):
        found.model_raw, found.model = m["model"], normalise_model(None, m["model"])


def _tokens(row: dict[str, Any], rec: dict[str, Any]) -> int | None:
    """Tokens of a token line: ConsumedQuantity x its unit's block, else PricingQuantity x its
    block ("1K tokens" x 12.5 = 12,500), else a plain count ("Units") consistent with
    PricingQuantity x x_PricingBlockSize. NULL when the unit leaves the count unknown."""
    size = u.dec(rec.get("x_pricingblocksize"))
    consumed, priced = row["consumed_quantity"], row["pricing_quantity"]
    qty: Decimal | None = None
    c_block, p_block = token_block(row["consumed_unit"]), token_block(row["pricing_unit"])
    if c_block is not None and consumed is not None:
        qty = consumed * c_block
    elif p_block is not None and priced is not None:
        unit = row["pricing_unit"]
        explicit = bool(re.match(r"\s*(?:\d|[km]\s|(?:thousand|million)\b)", unit, re.I))
        if explicit or size in (None, 1):  # a plain "Tokens" unit with a block size is ambiguous
            qty = priced * p_block
    elif unit_kind(row["consumed_unit"]) == "count" and consumed is not None:
        consistent = size is None or priced is None or priced * size == consumed
        qty = consumed if consistent and not _bedrock_marketplace(row, rec) else None
    return tokens_of(qty, 1)


def _bedrock_marketplace(row: dict[str, Any], rec: dict[str, Any]) -> bool:
    """A Bedrock Marketplace line, whose "Units" count is not read as tokens (see
    aws_cur.marketplace_block: one token or a million, public notes disagree)."""
    usage_type = u.nullish(rec.get("x_usagetype")) or row["sku_meter"] or ""
    service = (row["service_name"] or "").lower()
    return re.search(r"(?:^|-)MP:", usage_type) is not None or "amazon bedrock edition" in service


_GPU = re.compile(
    r"\bgpu\b|\b(?:p[2-6]\w*|g[3-6]\w*|trn[12]\w*|inf[12])\.\d*x?large\b|\bN[CDV]\d+\w*", re.I
)


def _compute_kind(row: dict[str, Any], usage_type: str | None) -> str:
    """gpu_hours, storage, egress or other for lines that are not LLM tokens, only where
    units/category are unambiguous (docs/schema.md compute_kind)."""
    unit = (row["consumed_unit"] or row["pricing_unit"] or "").lower()
    text = " ".join(filter(None, (row["charge_description"], row["sku_meter"], usage_type)))
    if re.search(r"hour|hrs", unit) and _GPU.search(text):
        return "gpu_hours"
    if row["service_category"] == "Storage" or re.search(r"gb[\s\-/]*(mo|month)", unit):
        return "storage"
    if re.search(r"data transfer (out|to)\b|egress|internet outbound", text, re.I):
        return "egress"
    return "other"
