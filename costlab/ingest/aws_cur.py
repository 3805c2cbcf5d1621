"""AWS Cost and Usage Report: legacy CUR (``aws_cur``) and CUR 2.0 Data Exports (``aws_cur2``).

Both are delivered to the customer's S3 bucket (Billing console > Data Exports) and re-delivered in
full several times a day until the month closes (docs/sources.md).

Detect: ``aws_cur``: CSV(.gz) with ``category/Name`` headers holding lineItem/UnblendedCost and
lineItem/UsageStartDate, or legacy Parquet (Athena-style snake_case with flattened
``product_product_name`` / ``resource_tags_user_*`` columns and none of the CUR 2.0-only columns).
``aws_cur2``: Parquet or CSV(.gz) with snake_case line_item_unblended_cost and
line_item_usage_start_date otherwise (map columns product/resource_tags/cost_category, or
bill_payer_account_name). FOCUS and Azure exports share none of these names.
Parse: CSV streamed with u.csv_rows; Parquet by record batches. Columns are looked up
case-insensitively by their legacy name, then AWS's snake_case of it (each capital gets a ``_``:
savingsPlan/SavingsPlanARN -> savings_plan_savings_plan_a_r_n), then, for product/* attributes
outside CUR 2.0's fixed schema, the ``product`` map (product/ProductName -> product['product_name']).
Map columns are Parquet MAPs or, in CSV, JSON text.
Normalise: (docs/sources.md) billed_cost = lineItem/UnblendedCost (discounts come as their own
negative lines, so the file's sum is the invoice; NetUnblendedCost is not used, it would count
them twice); effective_cost by lineItem/LineItemType as the FOCUS converter rule does
(SavingsPlanCoveredUsage -> savingsPlan/SavingsPlanEffectiveCost, DiscountedUsage ->
reservation/EffectiveCost, SavingsPlanNegation and SavingsPlanUpfrontFee -> 0,
SavingsPlanRecurringFee -> TotalCommitmentToDate - UsedCommitment (the unused part), RIFee ->
UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee, Fee with a ReservationARN (RI
upfront) -> 0, anything else -> unblended; NULL when the needed column is missing);
list_cost = pricing/publicOnDemandCost; charge_category Usage (Usage, DiscountedUsage, SP
covered/negation, discounts), Purchase (Fee, RIFee, SP fees), Tax, Credit, Adjustment (Refund and
unknown types). Tags: ``resourceTags/user:team`` and CUR 2.0 ``resource_tags['user_team']`` both
become ``team`` (user tags lose the ``user`` prefix, as the AWS rows of the real FOCUS sample
have them; CUR 2.0 and legacy Parquet keys are AWS's snake_case, the CSV's original spelling is
not recoverable from them); AWS tags
keep theirs (``aws:createdBy``); cost categories become ``costCategory/<name>``; CUR 2.0 ``tags``
keys (``iamPrincipal/team``) are kept; the ``discount`` map is not read. Bedrock lines (docs/sources.md): model from the usage type (``USE1-Claude3Sonnet-input-tokens`` -> claude-3-sonnet), else the
Marketplace product name, else a foundation-model/inference-profile ARN in lineItem/ResourceId;
service_tier from its markers; token_type and tokens = UsageAmount x the pricing unit
(``1K tokens`` -> x1000) only on usage lines (Usage, DiscountedUsage, SavingsPlanCoveredUsage), so
a credit or negation repeating a usage type adds no tokens; consumed_quantity is then in tokens,
pricing_quantity as billed. compute_kind (docs/sources.md): tokens, provisioned_throughput
(``ModelUnits``), gpu_hours (p/g/inf/trn/dl instance hours, EC2 or SageMaker ``ml.``), egress
(DataTransfer, ``-In/-Out-Bytes``), storage (``Storage``/``ByteHrs``, GB-Mo), else other.
Row key: identity/LineItemId + identity/TimeInterval + file name (AWS: ids are unique only within one
file of a delivery), else the identifying columns (accounts, type, period, product, usage type,
operation, resource, description). CUR re-delivers the whole month, so replace_scope =
"<payer>|<billing period start date>" and a newer delivery replaces the month; delivery = the
manifest's assemblyId/executionId when a ``*Manifest.json`` beside the file (or in CUR 2.0's
metadata/BILLING_PERIOD=.. folder) lists it, else the parent folder's name when it looks like an
assembly id, else the parent folder path (parts of one delivery sit in one folder).
Quirks:
- Dynamic legacy schema: columns come and go by month; a missing column is NULL (docs/sources.md).
- Money like "1.81E-8" in exponent notation (real sample) -> exact Decimal.
- Tax lines span the whole month; the real sample has 12 Tax lines of 1,281 (docs/sources.md).
- bill/InvoiceId is empty until the month is invoiced (docs/sources.md) -> invoice_id NULL.
- Bedrock quantities: ``1K tokens`` x1000, ``1M tokens`` x1e6, older Marketplace lines whose
  description's unit field says "Million tokens" are in millions (docs/sources.md); a fractional
  product is rounded half-even to whole tokens; other units leave tokens NULL. Marketplace
  ``Units`` leave tokens NULL too: public notes disagree on whether one Unit is a token or a
  million (docs/sources.md vs the focus source's reading), and a count off by 10^6 is worse than an
  unknown one; the focus source reads them the same way (`marketplace_block`).
- Usage types, token classes and units are read by `bedrock_usage_type` (shared with the focus
  source) over costlab.ingest.token_lines.
- Marketplace models (bill/BillingEntity "AWS Marketplace", ProductName "... (Amazon Bedrock
  Edition)"): model from the product name, token kind from the description; billed_cost stays the
  unblended cost because AWS invoices it (FOCUS's zero rule is for third-party invoices, docs/sources.md).
- Cache writes without ``1h``/``1-hour`` are the default 5-minute TTL; ``-batch``/``-priority``/
  ``-flex``/``cross-region``/``mantle``/``standard`` markers may sit before or after the kind.
- CUR 2.0 line_item_iam_principal -> principal (docs/sources.md, Apr-2026).
- Billing period start missing (custom CUR 2.0 column selection) -> the usage month's first day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import (
    TokenLine,
    cache_write,
    text_kind,
    token_block,
    tokens_of,
    unit_kind,
)

_MAPS = ("product", "resource_tags", "cost_category", "tags")  # read; "discount" is not needed
_CUR2_ONLY = frozenset(
    {*_MAPS, "discount", "bill_payer_account_name", "line_item_usage_account_name"}
)
_SNAKE_NEED = frozenset({"line_item_unblended_cost", "line_item_usage_start_date"})
_LEGACY_NEED = frozenset({"lineitem/unblendedcost", "lineitem/usagestartdate"})
_NEED = ("lineItem/UnblendedCost", "lineItem/UsageStartDate", "lineItem/CurrencyCode")

_CATEGORY = {
    **dict.fromkeys(("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
                     "BundledDiscount", "Discount", "EdpDiscount", "PrivateRateDiscount",
                     "SppDiscount", "DistributorDiscount"), "Usage"),
    **dict.fromkeys(("Fee", "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"), "Purchase"),
    "Tax": "Tax", "Credit": "Credit", "Refund": "Adjustment",
}  # fmt: skip
_FREQUENCY = {
    "RIFee": "Recurring",
    "SavingsPlanRecurringFee": "Recurring",
    "SavingsPlanUpfrontFee": "One-Time",
}
_SERVICE_CATEGORY = {
    "AmazonBedrock": ("AI and Machine Learning", "Generative AI"),
    "AmazonSageMaker": ("AI and Machine Learning", "Machine Learning"),
    "AmazonEC2": ("Compute", "Virtual Machines"),
    "AmazonS3": ("Storage", "Object Storage"),
    "AmazonEFS": ("Storage", "File Storage"),
    "AWSDataTransfer": ("Networking", "Network Connectivity"),
}


def _snake(field: str) -> str:
    """AWS's snake_case of a legacy column: lineItem/UnblendedCost -> line_item_unblended_cost."""
    return "_".join(re.sub(r"(?<!^)([A-Z])", r"_\1", part).lower() for part in field.split("/", 1))


def _legacy_snake(cols: frozenset[str]) -> bool:
    flat = "product_product_name" in cols or any(
        c.startswith(("resource_tags_", "cost_category_")) for c in cols
    )
    return flat and not (cols & _CUR2_ONLY)


def _as_map(value: Any) -> dict[str, str]:
    """A CUR 2.0 map column: Parquet MAP (list of pairs), dict, or JSON text in CSV."""
    if value is None or isinstance(value, dict | list):
        obj: Any = value or {}
    else:
        text = u.nullish(value) or "{}"
        try:
            obj = json.loads(text) or {}
        except (ValueError, RecursionError):
            raise ValueError(f"map column is not JSON: {text[:60]!r}") from None
    if isinstance(obj, list):
        try:
            obj = dict(obj)
        except (TypeError, ValueError):
            raise ValueError(f"map column is not key/value pairs: {str(value)[:60]!r}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"map column is not an object: {str(value)[:60]!r}")
    return {str(k): str(v) for k, v in obj.items() if u.nullish(v) is not None}


class _Columns:
    """Where each legacy field lives in this file: a column, a product-map key, or nowhere."""

    def __init__(self, names: list[str]) -> None:
        lower = {n.lower(): n for n in names}
        self.names = names
        self.lower = lower
        self.product_map = "product" in lower
        self._cache: dict[str, tuple[str, str] | None] = {}
        self.tag_cols: list[tuple[str, str]] = []
        for n in names:
            low = n.lower()
            if low.startswith("resourcetags/"):
                key = n.split("/", 1)[1]
                self.tag_cols.append((n, key[5:] if key.startswith("user:") else key))
            elif low.startswith("costcategory/"):
                self.tag_cols.append((n, "costCategory/" + n.split("/", 1)[1]))
            elif low.startswith("resource_tags_"):
                key = n[len("resource_tags_") :]
                self.tag_cols.append((n, key[5:] if key.startswith("user_") else key))
            elif low.startswith("cost_category_"):
                self.tag_cols.append((n, "costCategory/" + n[len("cost_category_") :]))
        missing = [f for f in _NEED if self.where(f) is None]
        if missing:
            raise ValueError(f"not a Cost and Usage Report: no {', '.join(missing)} column")

    def where(self, field: str) -> tuple[str, str] | None:
        if field not in self._cache:
            found: tuple[str, str] | None = None
            for cand in (field.lower(), _snake(field)):
                if cand in self.lower:
                    found = ("col", self.lower[cand])
                    break
            if found is None and field.startswith("product/") and self.product_map:
                found = ("map", _snake(field)[len("product_") :])
            self._cache[field] = found
        return self._cache[field]

    def get(self, row: dict[str, Any], field: str) -> Any:
        spot = self.where(field)
        if spot is None:
            return None
        if spot[0] == "col":
            value = row.get(spot[1])
            return u.nullish(value) if isinstance(value, str) else value
        return row["product"].get(spot[1])

    def tags(self, row: dict[str, Any]) -> dict[str, str] | None:
        out: dict[str, str] = {}
        for col, key in self.tag_cols:
            value = u.nullish(row.get(col))
            if value is not None:
                out[key] = str(value)
        for k, v in row.get("resource_tags", {}).items():
            out[k[5:] if k.startswith("user_") else k] = v
        for k, v in row.get("cost_category", {}).items():
            out["costCategory/" + k] = v
        out.update(row.get("tags", {}))
        return out or None


class _CurBase(Source):
    tables = ("charges",)
    row_key = (
        "identity/LineItemId + identity/TimeInterval + file name, else accounts, type, period, product, "
        "usage type, operation, resource, description; replace_scope payer|billing month (re-delivered whole)"
    )
    distinct_duplicates = True
    priority = 20

    #: True for the legacy CUR (``category/Name`` headers or its Athena-style Parquet)
    legacy: ClassVar[bool]

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        cs = sniff.column_set
        if cls.legacy and sniff.kind == "csv" and _LEGACY_NEED <= cs:
            return True
        snake = sniff.kind in ("csv", "parquet") and _SNAKE_NEED <= cs
        return snake and _legacy_snake(cs) == cls.legacy

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        delivery = _delivery(path)
        cols: _Columns | None = None
        for loc, row in _rows(path):
            if isinstance(row, str):
                yield Bad(loc, row)
                continue
            if cols is None:
                try:
                    cols = _Columns(list(row))
                except ValueError as ex:
                    raise SourceError(str(path), str(ex)) from None
            out = mapped(loc, row, _read_row, cols, row, path.name)
            if isinstance(out, Bad):
                yield out
                continue
            out["delivery"] = delivery
            out["source_line"] = int(loc.rsplit(" ", 1)[-1])
            yield "charges", out


@register_source
class AwsCur(_CurBase):
    name = "aws_cur"
    title = "AWS Cost and Usage Report, legacy (CSV/CSV.gz lineItem/... headers, or legacy Parquet)"
    legacy = True


@register_source
class AwsCur2(_CurBase):
    name = "aws_cur2"
    title = "AWS CUR 2.0 Data Export (Parquet or CSV.gz, snake_case with map columns)"
    legacy = False


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any] | str]]:
    if path.name.lower().endswith(".parquet"):
        for n, record in u.parquet_records(path):
            yield f"row {n}", record
        return
    try:
        for line, rec in u.csv_rows(path):
            yield f"line {line}", rec
    except (OSError, EOFError) as ex:
        raise SourceError(str(path), f"unreadable CSV: {ex}") from None


def _read_row(cols: _Columns, row: dict[str, Any], file_name: str) -> dict[str, Any]:
    for name in _MAPS:
        if name in cols.lower:
            row[name] = _as_map(row.get(cols.lower[name]))
    return _normalise(cols, row, file_name)


def _normalise(cols: _Columns, row: dict[str, Any], file_name: str) -> dict[str, Any]:
    def g(field: str) -> Any:
        return cols.get(row, field)

    def text(field: str) -> str | None:
        value = g(field)
        return value if value is None or isinstance(value, str) else u.nullish(str(value))

    billed = u.money(g("lineItem/UnblendedCost"))
    if billed is None:
        raise ValueError("no lineItem/UnblendedCost")
    currency = text("lineItem/CurrencyCode")
    if currency is None:
        raise ValueError("no lineItem/CurrencyCode")
    start, end = _ts(g("lineItem/UsageStartDate")), _ts(g("lineItem/UsageEndDate"))
    if start is None:
        raise ValueError("no lineItem/UsageStartDate")
    bp_start, bp_end = _ts(g("bill/BillingPeriodStartDate")), _ts(g("bill/BillingPeriodEndDate"))
    line_type = text("lineItem/LineItemType")
    payer, account = text("bill/PayerAccountId"), text("lineItem/UsageAccountId")
    product_code, usage_type = text("lineItem/ProductCode"), text("lineItem/UsageType")
    product_name = text("product/ProductName")
    unit, qty = text("pricing/unit"), u.money(g("lineItem/UsageAmount"))
    description = text("lineItem/LineItemDescription")
    sp_arn, ri_arn = text("savingsPlan/SavingsPlanARN"), text("reservation/ReservationARN")
    term = (text("pricing/term") or "").lower()
    category = _CATEGORY.get(line_type or "", "Adjustment" if line_type else None)
    freq = _FREQUENCY.get(line_type or "") or ("Usage-Based" if category == "Usage" else None)
    if line_type == "Fee" and ri_arn:
        freq = "One-Time"
    if (
        line_type in ("SavingsPlanCoveredUsage", "SavingsPlanNegation", "DiscountedUsage")
        or term == "reserved"
    ):
        pricing_category: str | None = "Committed"
    elif term == "ondemand":
        pricing_category = "Standard"
    elif term == "spot" or "SpotUsage" in (usage_type or ""):
        pricing_category = "Dynamic"
    else:
        pricing_category = None
    resource = text("lineItem/ResourceId")
    ident = text("identity/LineItemId")
    interval = text("identity/TimeInterval")
    if ident:
        key = u.key(ident, interval, file_name)
    else:
        key = u.key(payer, account, line_type, start, end, interval, product_code, usage_type,
                    text("lineItem/Operation"), resource, description, text("product/sku"))  # fmt: skip
    period = bp_start or datetime(start.year, start.month, 1, tzinfo=UTC)
    svc = _SERVICE_CATEGORY.get(product_code or "")
    if svc is None and product_code and product_code.startswith("AmazonBedrock"):
        svc = _SERVICE_CATEGORY["AmazonBedrock"]
    out: dict[str, Any] = {
        "billed_cost": billed,
        "effective_cost": _effective(line_type, billed, g, ri_arn),
        "list_cost": u.money(g("pricing/publicOnDemandCost")),
        "billing_currency": currency.upper(),
        "pricing_currency": (text("pricing/currency") or "").upper() or None,
        "charge_period_start": start,
        "charge_period_end": end,
        "billing_period_start": bp_start,
        "billing_period_end": bp_end,
        "charge_category": category,
        "charge_description": description,
        "charge_frequency": freq,
        "pricing_category": pricing_category,
        "service_provider_name": "AWS",
        "host_provider_name": text("lineItem/LegalEntity"),
        "invoice_issuer_name": text("bill/InvoicingEntity"),
        "invoice_id": text("bill/InvoiceId"),
        "billing_account_id": payer,
        "billing_account_name": text("bill/PayerAccountName"),
        "sub_account_id": account,
        "sub_account_name": text("lineItem/UsageAccountName"),
        "service_name": product_name or product_code,
        "service_category": svc[0] if svc else None,
        "service_subcategory": svc[1] if svc else None,
        "region_id": text("product/regionCode") or text("product/region"),
        "resource_id": resource,
        "sku_id": text("product/sku"),
        "sku_price_id": text("pricing/RateCode") or text("pricing/RateId"),
        "sku_meter": usage_type,
        "list_unit_price": u.money(g("pricing/publicOnDemandRate")),
        "consumed_quantity": qty,
        "consumed_unit": unit,
        "pricing_quantity": qty,
        "pricing_unit": unit,
        "commitment_discount_id": sp_arn or ri_arn,
        "commitment_discount_type": "Savings Plan"
        if sp_arn
        else "Reserved Instance"
        if ri_arn
        else None,
        "tags": cols.tags(row),
        "principal": text("lineItem/IamPrincipal"),
        "cost_dataset": "billed",
        **dict.fromkeys(("model", "model_raw", "token_type", "tokens", "service_tier")),
        "row_key": key,
        "replace_scope": f"{payer or account or ''}|{period.date().isoformat()}",
    }
    marketplace = (text("bill/BillingEntity") or "") == "AWS Marketplace"
    _llm(out, line_type, product_code, product_name, usage_type, description, marketplace)
    return out


def _ts(value: Any) -> datetime | None:
    """u.ts, memoised for text: a CUR repeats the same few hundred period bounds on every line."""
    return _ts_text(value) if isinstance(value, str) else u.ts(value)


@lru_cache(maxsize=8192)
def _ts_text(value: str) -> datetime | None:
    return u.ts(value)


def _effective(
    line_type: str | None, billed: Decimal, g: Any, ri_arn: str | None
) -> Decimal | None:
    """Amortised cost of one line (FOCUS EffectiveCost), per the focus_converters CUR rule."""
    if line_type == "SavingsPlanCoveredUsage":
        return u.money(g("savingsPlan/SavingsPlanEffectiveCost"))
    if line_type == "DiscountedUsage":
        return u.money(g("reservation/EffectiveCost"))
    if line_type in ("SavingsPlanNegation", "SavingsPlanUpfrontFee") or (
        line_type == "Fee" and ri_arn
    ):
        return Decimal(0)
    if line_type == "SavingsPlanRecurringFee":
        total, used = (
            u.money(g("savingsPlan/TotalCommitmentToDate")),
            u.money(g("savingsPlan/UsedCommitment")),
        )
        return None if total is None or used is None else total - used
    if line_type == "RIFee":
        parts = [u.money(g("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")),
                 u.money(g("reservation/UnusedRecurringFee"))]  # fmt: skip
        return (
            None
            if all(p is None for p in parts)
            else sum((p or Decimal(0) for p in parts), Decimal(0))
        )
    return billed


# --- Bedrock and compute kind ------------------------------------------------------------------

_KIND = re.compile(
    r"-(?:mantle-)?(?P<kind>cache-read(?:-input)?-tokens?(?:-count)?|cache-write(?:-input)?-tokens?(?:-count)?"
    r"|input-tokens?(?:-count)?|output-tokens?(?:-count)?)(?P<rest>(?:-[\w.]+)*)$",
    re.I,
)
_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d{0,2}-")
_MARKERS = re.compile(
    r"-(?:batch|priority|flex|standard|latency-optimized|cross-region(?:-global)?|crossregion|global|mantle)(?=-|$)",
    re.I,
)
_PROVISIONED = re.compile(r"-?(?:ProvisionedThroughput|ModelUnits?)\b.*$", re.I)
_MODEL_ARN = re.compile(r":(?:foundation-model|inference-profile)/(.+)$")
_MARKETPLACE = re.compile(r"^(?P<model>.+?)\s*\(Amazon Bedrock Edition\)\s*$", re.I)
_GPU = re.compile(r"(?:^|[:\-])(?:ml\.)?(?:p|g|gr|inf|trn|dl)\d+[a-z]*\.\w+", re.I)


def bedrock_usage_type(
    usage_type: str, product: str | None = None, description: str | None = None
) -> TokenLine | None:
    """Model, token class and tier of a Bedrock usage type (lineItem/UsageType; x_UsageType in AWS
    FOCUS 1.0, SkuMeter in 1.2): "USE1-Claude4.6Sonnet-input-tokens", "...-cache-read-input-token-
    count", "...-cache-write-input-token-count-1-hour", "USE1-Nova2.0Lite-input-tokens-flex",
    "USE1-anthropic.claude-sonnet-4-5-mantle-cache-write-tokens-1h-standard", "USE1-Claude3Haiku-
    ModelUnits" (provisioned). A Marketplace model (product "<model> (Amazon Bedrock Edition)")
    takes its model from the product and its class from the usage type or description
    ("USE1-MP:USE1_CacheReadInputTokenCount-Units"). None if not a Bedrock token or PT line."""
    low = usage_type.lower()
    if "provisionedthroughput" in low or "modelunits" in low:
        raw = _PROVISIONED.sub("", _REGION_PREFIX.sub("", usage_type)) or None
        return TokenLine(raw, _model(raw), tier="provisioned", provisioned=True)
    tier = next(
        (t for t in ("batch", "priority", "flex") if re.search(rf"(?:^|-){t}(?:-|$)", low)),
        "standard",
    )
    if market := _MARKETPLACE.match(product or ""):
        kinds = (text_kind(t) for t in (usage_type, description or "") if t)
        kind = next((k for k in kinds if k not in (None, "storage")), None)
        return TokenLine(market["model"], _model(market["model"]), kind, tier) if kind else None
    m = _KIND.search(usage_type)
    if not m:
        return None
    raw = _MARKERS.sub("", "-" + _REGION_PREFIX.sub("", usage_type[: m.start()]))[1:] or None
    model, kind = _model(raw), m["kind"].lower()
    if kind.startswith("cache-read"):
        token_type = "input_cache_read"
    elif kind.startswith("cache-write"):
        token_type = cache_write(m["rest"])  # unmarked: the 5-minute write (Bedrock marks 1 hour)
    elif kind.startswith("input"):
        token_type = "embedding" if model and "embed" in model else "input_uncached"
    else:
        token_type = "output"
    return TokenLine(raw, model, token_type, tier)


def marketplace_block(unit: str | None, description: str | None) -> Decimal | None:
    """Tokens per unit of a Bedrock Marketplace line: its token unit, else the pricing unit AWS
    writes as the description's third "|" field ("... | Output Tokens | Million tokens", where
    CUDOS reads it). "Units" (the newer Marketplace unit) is not read as tokens: whether one Unit
    is a token or a million, public notes disagree, so the count stays NULL (as in the focus
    source)."""
    fields = (description or "").split("|")
    for candidate in (unit, fields[2] if len(fields) > 2 else None):
        if (block := token_block(candidate)) is not None:
            return block
        if unit_kind(candidate) is not None:  # a stated unit that is not tokens
            return None
    return None


def _llm(out: dict[str, Any], line_type: str | None, code: str | None, name: str | None,
         usage_type: str | None, description: str | None, marketplace: bool) -> None:  # fmt: skip
    """Set model, token_type, tokens, service_tier and compute_kind on a charges row. Token counts
    only go on usage lines: a credit or SavingsPlanNegation repeating a usage type is money only."""
    ut = usage_type or ""
    bedrock = (code or "").startswith("AmazonBedrock") or "bedrock" in (name or "").lower()
    if not bedrock:
        out["compute_kind"] = _compute_kind(code, ut, out["pricing_unit"])
        return
    found = bedrock_usage_type(ut, name if marketplace else None, description) or TokenLine()
    if found.model_raw is None and (arn := _MODEL_ARN.search(out["resource_id"] or "")):
        found.model_raw, found.model = arn[1], _model(arn[1])
    out.update(model=found.model, model_raw=found.model_raw)
    if found.provisioned:
        out.update(service_tier="provisioned", compute_kind="provisioned_throughput")
        return
    if found.token_type is None:
        out["compute_kind"] = _compute_kind(code, ut, out["pricing_unit"])
        return
    out.update(service_tier=found.tier, compute_kind="tokens")
    if line_type not in ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"):
        return
    out["token_type"] = found.token_type
    unit = out["pricing_unit"]
    block = marketplace_block(unit, description) if marketplace else token_block(unit)
    qty = out["pricing_quantity"]
    if block is not None and qty is not None:
        out.update(consumed_quantity=qty * block, consumed_unit="Tokens")
        out["tokens"] = tokens_of(qty, block)


def _model(raw: str | None) -> str | None:
    """Normalised model id: Anthropic's API naming for Claude (claude-3-5-sonnet for 3.x,
    claude-sonnet-4-6 for 4 and later), else the Bedrock name lower-cased with spaces as hyphens
    (as the focus source does). A Bedrock id loses its geography prefix, and for Anthropic its
    ``anthropic.`` prefix and ``-v1:0`` suffix (the rules of costlab.names)."""
    if not raw:
        return None
    text = re.sub(r"^(?:us|eu|apac|global|us-gov|jp|au|ca)\.(?=[a-z0-9-]+\.)", "", raw.strip())
    m = re.fullmatch(r"anthropic\.(claude[a-z0-9.-]*?)(?:-v\d+(?::\d+)?)?", text)
    text = m[1] if m else text  # other vendors keep their Bedrock id, as costlab.names does
    spaced = re.sub(
        r"(?<=[a-z])(?=\d)|(?<=\d)(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", " ", text
    ).lower()
    m = re.fullmatch(
        r"claude[\s-]*(?P<major>\d+)(?:[.-](?P<minor>\d))?[\s-]*(?P<family>opus|sonnet|haiku)(?P<tail>.*)",
        spaced,
    ) or re.fullmatch(
        r"claude[\s-]*(?P<family>opus|sonnet|haiku)[\s-]*(?P<major>\d+)(?:[.-](?P<minor>\d)(?!\d))?(?P<tail>.*)",
        spaced,
    )
    if not m:
        return re.sub(r"\s+", "-", text.strip().lower())
    version = "-".join(p for p in (m["major"], m["minor"]) if p)
    family = m["family"]
    head = f"claude-{version}-{family}" if int(m["major"]) < 4 else f"claude-{family}-{version}"
    tail = re.sub(r"[\s_]+", "-", m["tail"].strip(" -"))
    return f"{head}-{tail}" if tail else head


def _compute_kind(code: str | None, usage_type: str, unit: str | None) -> str:
    """gpu_hours, storage, egress or other for non-token lines (docs/sources.md)."""
    unit_l = (unit or "").lower()
    if re.search(r"hr|hour", unit_l) and _GPU.search(usage_type):
        return "gpu_hours"
    if re.search(r"DataTransfer|-(?:In|Out)-Bytes", usage_type) or code == "AWSDataTransfer":
        return "egress"
    if re.search(r"Storage|ByteHrs", usage_type, re.I) or re.search(r"gb[\s-]*mo", unit_l):
        return "storage"
    return "other"


# --- delivery ----------------------------------------------------------------------------------

_ASSEMBLY_DIR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _delivery(path: Path) -> str:
    """The delivery (assembly) a CUR file belongs to; see the module doc."""
    parent = path.absolute().parent
    places = [parent]
    for up in (
        parent.parent,
        parent.parent.parent,
    ):  # CUR 2.0: <export>/data/BILLING_PERIOD=../[..]
        if up.name == "data":
            part = parent.name if parent.parent == up else parent.parent.name
            places.append(up.parent / "metadata" / part)
    for folder in places:
        try:
            manifests = sorted(folder.glob("*anifest.json"))
        except OSError:
            continue
        for manifest in manifests:
            found = _manifest_id(manifest, path.name)
            if found:
                return found
    if _ASSEMBLY_DIR.search(parent.name):
        return u.storable(parent.name)
    return u.storable(str(parent))  # a folder named in bytes that are not UTF-8: escaped


def _manifest_id(manifest: Path, file_name: str) -> str | None:
    try:
        if manifest.stat().st_size > 5_000_000:
            return None
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    keys = doc.get("reportKeys") or doc.get("dataFiles") or []
    listed = any(isinstance(k, str) and k.rsplit("/", 1)[-1] == file_name for k in keys)
    ident = doc.get("assemblyId") or doc.get("executionId")
    return str(ident) if listed and ident else None
