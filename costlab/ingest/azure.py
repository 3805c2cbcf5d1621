"""Azure Cost Management cost details: the "actual" and "amortized" exports (EA and MCA, CSV).

What: the daily cost-details files Cost Management exports to a storage account (or the portal
/ Cost Details API download): one row per subscription x resource x meter x day. The actual and
the amortized export have the same columns (finops-toolkit's actualcost/amortizedcost c360-2025-04
schemas are identical) but different money: never add them up (research 4.1, 9.1).

Detect: CSV whose header (case-insensitive: EA PascalCase, MCA camelCase) has a cost column (Cost,
CostInBillingCurrency, PreTaxCost), a day (Date, UsageDate), Quantity and a meter column (MeterId,
MeterName, MeterCategory), and no FOCUS BilledCost. Azure FOCUS exports, price sheets and AWS CUR
lack these.
Parse: two streaming passes. The first reads ChargeType/PricingModel/cost and the dates to decide
which export the file is and whether dates are day-first; the second yields rows. A header-only
file (finops-toolkit EA_NoRows.csv) is a valid export of a scope with no charges: zero rows.
Which export: config ``[azure_cost] dataset``, else the export's manifest.json (exportConfig.type
ActualCost/AmortizedCost, as finops hubs read it), else content evidence, else "actual"/"amortized"
in the file or folder names. Content, as finops-toolkit ConvertTo-FinOpsSchema reasons: a
commitment (Reservation/SavingsPlan, benefit or reservation id, Microsoft.Capacity or
.BillingBenefits) *purchase* only appears in actual; commitment usage with a non-zero cost or an
Unused* charge only in amortized; commitment usage at cost 0 hints actual. No evidence (only
on-demand rows, identical in both exports): "actual". Limit: a part file of an amortized export
with only on-demand rows and no manifest or telling name is taken as actual (then the later file
of a shared day wins); keep the manifest.json beside the parts (it is registered as a no-row
source, `azure_export_manifest`, so ingesting the export folder does not report it as unknown).
Normalise: cost -> billed and effective as finops-toolkit does, except that unknown is NULL:
commitment usage carrying amortized cost is billed 0 (the cash went out with the purchase);
a commitment purchase (or its refund) has effective 0 (spread over usage); commitment usage at 0 in
an actual export has effective NULL (its amortized share is only in the amortized export).
Everything else: billed = effective = cost. ChargeType Usage/Purchase/Tax keep their category,
Unused* is Usage, anything else (Refund, RoundingAdjustment) is Adjustment (finops-toolkit). list = paygCostInBillingCurrency, else PayGPrice x
Quantity; contracted = UnitPrice x Quantity (prices in another pricing currency are converted with
exchangeRatePricingToBilling, else NULL). Date is the charge day [date, date+1d); the billing
period end date is inclusive, so +1 day. pricing_quantity/unit = Quantity/UnitOfMeasure;
consumed_quantity = Quantity x block size of UnitOfMeasure ("10K" -> 10000, "100 Hours" -> 100).
Azure OpenAI / Foundry meters give model, token_type, service_tier and tokens; the deployment
scope and context band go to tags ``costlab.deployment_scope`` / ``costlab.context_band``.
Row key: day, billing account/profile, subscription, resource id, meter, product, charge type,
pricing model, frequency, commitment and order, unit, offer, plan, publisher, location, resource
group, invoice section, additional info; never cost, quantity or tags. replace_scope =
"<subscription (else billing profile, else billing account)>|<day>", the same for both exports,
so a later-ingested export of a day replaces the earlier one whichever kind it is; per
subscription because exports can be scoped to one subscription and must not wipe another's.
delivery = the export kind: part files of one export in one ingest are all kept, while an actual
and an amortized file of the same day in one ingest cannot both survive (the later file wins).
Quirks:
- UTF-8 BOM and MM/DD/YYYY dates (real EA samples); M/D/YYYY (focus_converters EA sample);
  day-first dates are recognised when a day > 12 shows up in a date column (research 9.8).
- Tags without braces: ``"k": "v","k2": "v2"`` (research 9.10); unparsable tags are kept raw.
- Scientific notation costs "5.64902E-05" are exact Decimals (focus_converters sample).
- Older EA names CostInBillingCurrency/BillingCurrencyCode/ProductName and CAD billing (ibid.).
- Costs with up to 28 decimals (real amortized sample) round to the lake's 12 (sub-picocent).
- UnitOfMeasure is a block size (research 4.1; MS open-data PricingUnits.csv, incl. "10000s" = 1).
- PayGPrice is 0 on commitment rows that have a UnitPrice (real EA samples): list cost NULL.
- Azure OpenAI meter names vary by generation (research 4.2): "gpt-4o-0806-Outp-glbl Tokens",
  "gpt 4o 0806 cached Inp glbl Tokens", "5.4 mini cd Inp Gl 1M Tokens", "Cd Wr", "Batch", "PP"
  (priority processing), "Provisioned Managed" (PTU hours); the resource is the account.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import register
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source

ACTUAL, AMORTIZED = "actual", "amortized"
_COST = ("cost", "costinbillingcurrency", "pretaxcost")  # finops-toolkit's Select-First order
_CURRENCY = ("billingcurrency", "billingcurrencycode", "currency")
_DATE = ("date", "usagedate")
_METER = ("meterid", "metername", "metercategory")
_COMMIT_MODELS = frozenset({"reservation", "savingsplan"})
_COMMIT_SERVICES = frozenset({"microsoft.capacity", "microsoft.billingbenefits"})
_UNUSED = frozenset({"unusedreservation", "unusedsavingsplan"})
_CATEGORY = {"usage": "Usage", "purchase": "Purchase", "tax": "Tax"}
_FREQUENCY = {"onetime": "One-Time", "recurring": "Recurring", "usagebased": "Usage-Based"}
_PRICING = {"ondemand": "Standard", "spot": "Dynamic", "reservation": "Committed",
            "savingsplan": "Committed"}  # fmt: skip
_SLASH_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\b", re.ASCII)
_BLOCK = re.compile(r"^\s*(\d+(?:\.\d+)?)(?!\d)\s*([KMB])?(?![A-Za-z])\s*(.*)$", re.ASCII)
_MULT = {"K": 1000, "M": 10**6, "B": 10**9}
_PLURAL = {"hour": "Hours", "hours": "Hours", "hrs": "Hours", "day": "Days", "days": "Days",
           "month": "Months", "months": "Months", "minute": "Minutes", "minutes": "Minutes",
           "second": "Seconds", "seconds": "Seconds", "unit": "Units", "units": "Units"}  # fmt: skip
#: ConsumedService -> (ServiceCategory, ServiceSubcategory) from MS open-data Services.csv (subset)
_SERVICES = {
    "microsoft.cognitiveservices": ("AI and Machine Learning", "AI Platforms"),
    "microsoft.machinelearningservices": ("AI and Machine Learning", "Machine Learning"),
    "microsoft.botservice": ("AI and Machine Learning", "Bots"),
    "microsoft.search": ("Analytics", "Search"), "microsoft.databricks": ("Analytics", "Data Processing"),
    "microsoft.compute": ("Compute", None), "microsoft.containerservice": ("Compute", "Containers"),
    "microsoft.web": ("Web", "Application Platforms"), "microsoft.storage": ("Storage", "Storage Platforms"),
    "microsoft.sql": ("Databases", "Relational Databases"),
    "microsoft.dbformysql": ("Databases", "Relational Databases"),
    "microsoft.dbforpostgresql": ("Databases", "Relational Databases"),
    "microsoft.documentdb": ("Databases", "NoSQL Databases"), "microsoft.cache": ("Databases", "Caching"),
    "microsoft.network": ("Networking", None), "microsoft.keyvault": ("Security", "Secret Management"),
    "microsoft.eventhub": ("Integration", "Messaging"),
    "microsoft.datafactory": ("Integration", "Workflow Orchestration"),
    "microsoft.operationalinsights": ("Management and Governance", "Observability"),
    "microsoft.capacity": ("Management and Governance", "Cost Management"),
}  # fmt: skip


def _get(r: dict[str, Any], *names: str) -> str | None:
    """The first non-empty value among header aliases (r has lower-case keys; u.nullish, inlined
    because it runs ~50 times a row)."""
    for name in names:
        value = r.get(name)
        if value:
            value = value.strip()
            if value and value.lower() not in u.NULLS:
                return value  # type: ignore[no-any-return]
    return None


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """u.csv_rows with lower-case keys (the header is already lower-cased)."""
    for line, row in u.csv_rows(path):
        if isinstance(row, dict):
            row = (
                dict(zip(header, row.values(), strict=True))
                if len(row) == len(header)
                else u.lower_keys(row)
            )
        yield line, row


@lru_cache(maxsize=4096)
def _tags(text: str | None) -> dict[str, str] | None:
    try:
        return u.tags(text)
    except ValueError:
        return {"costlab.raw_tags": text or ""}


@lru_cache(maxsize=4096)
def block_size(uom: str | None) -> tuple[Decimal, str | None]:
    """(block size, unit) of an Azure UnitOfMeasure: "10K" -> (10000, "Units"),
    "100 Hours" -> (100, "Hours"), "1/Month" -> (1, "Units/Month"); no number -> block 1."""
    text = u.nullish(uom)
    if text is None:
        return Decimal(1), None
    if text == "10000s":  # PricingUnits.csv: block 1, Transactions
        return Decimal(1), "Transactions"
    m = _BLOCK.match(text)
    if not m:
        return Decimal(1), text
    number, mult, rest = m.groups()
    block = Decimal(number) * _MULT.get(mult or "", 1)
    rest = rest.strip()
    if not rest:
        return block, "Units"
    if rest.startswith("/"):
        return block, "Units/" + rest[1:].strip()
    head, sep, per = rest.partition("/")
    words = head.split()
    if words and words[-1].lower() in _PLURAL:
        words[-1] = _PLURAL[words[-1].lower()]
    return block, " ".join(words) + (sep + per.strip() if sep else "")


# Azure OpenAI / Foundry meter names (research 4.2)
_DIRECTION = {"inp": "in", "input": "in", "outp": "out", "output": "out"}
_TIER = {"batch": "batch", "pp": "priority", "provisioned": "provisioned", "ptu": "provisioned"}
_SCOPE = {"regnl": "regional", "regional": "regional", "rg": "regional", "glbl": "global",
          "global": "global", "gl": "global", "dzone": "data_zone", "dz": "data_zone"}  # fmt: skip
_MARKERS = frozenset({*_DIRECTION, *_TIER, *_SCOPE, "cached", "cd", "wr", "write", "tokens", "token",
                      "1k", "1m", "shortco", "longco", "aud", "audio", "managed"})  # fmt: skip
#: meter version (MMDD) -> OpenAI's dated id, for the documented meters
_VERSIONS = {("gpt-4o", "0513"): "2024-05-13", ("gpt-4o", "0806"): "2024-08-06",
             ("gpt-4o", "1120"): "2024-11-20", ("gpt-4o-mini", "0718"): "2024-07-18"}  # fmt: skip


@lru_cache(maxsize=4096)
def openai_meter(meter: str) -> dict[str, str | None] | None:
    """model, token_type, service_tier, scope, band of an Azure OpenAI meter name such as
    "gpt-4o-mini-0718-Inp-regnl Tokens" or "5.4 mini cd Inp Gl 1M Tokens"; None if not a token
    or provisioned meter."""
    words = [w for w in re.split(r"[\s\-_]+", meter.lower().replace("data zone", "dzone")) if w]
    cut = next((i for i, w in enumerate(words) if w in _MARKERS), len(words))
    head, tail = words[:cut], words[cut:]
    tier = next((_TIER[w] for w in tail if w in _TIER), "standard")
    direction = next((_DIRECTION[w] for w in tail if w in _DIRECTION), None)
    model = None
    if head:
        if re.fullmatch(
            r"\d+(\.\d+)?", head[0]
        ):  # "5.4 mini" under MeterSubCategory "Azure OpenAI GPT5"
            head = ["gpt", *head]
        base, version = "-".join(head[:-1]), head[-1]
        dated = _VERSIONS.get((base, version)) if re.fullmatch(r"\d{4}", version) else None
        model = f"{base}-{dated}" if dated else "-".join(head)
    token_type = None
    if {"cached", "cd"} & set(tail):
        token_type = "input_cache_write" if {"wr", "write"} & set(tail) else "input_cache_read"
    elif direction and {"aud", "audio"} & set(tail):
        token_type = "input_audio" if direction == "in" else "output_audio"
    elif direction:
        token_type = "input_uncached" if direction == "in" else "output"
    elif model and "embedding" in model:
        token_type = "embedding"
    if token_type is None and tier != "provisioned":
        return None
    return {
        "model": model,
        "token_type": None if tier == "provisioned" else token_type,
        "service_tier": tier,
        "scope": next((_SCOPE[w] for w in tail if w in _SCOPE), None),
        "band": next((w for w in tail if w in ("shortco", "longco")), None),
    }


def _is_ai(r: dict[str, Any]) -> bool:
    category = (_get(r, "metercategory") or "").lower()
    sub = " ".join(filter(None, (_get(r, "metersubcategory"), _get(r, "productname", "product"))))
    return category == "foundry models" or (
        category in ("cognitive services", "azure openai", "") and "openai" in sub.lower()
    )


def _is_commitment(r: dict[str, Any]) -> bool:
    return bool(
        (_get(r, "pricingmodel") or "").lower() in _COMMIT_MODELS
        or (_get(r, "consumedservice") or "").lower() in _COMMIT_SERVICES
        or _get(r, "reservationid", "benefitid")
    )


def _evidence(r: dict[str, Any]) -> tuple[str | None, bool]:
    """(export kind this row proves, whether the proof is strong)."""
    charge = (_get(r, "chargetype") or "").lower()
    if charge in _UNUSED:
        return AMORTIZED, True
    if not _is_commitment(r):
        return None, False
    if charge == "purchase":
        return ACTUAL, True
    if charge == "usage":
        try:
            cost = u.dec(_get(r, *_COST))
        except ValueError:
            return None, False
        if cost is not None:
            return (AMORTIZED, True) if cost != 0 else (ACTUAL, False)
    return None, False


def _manifest_kind(path: Path) -> str | None:
    """ActualCost/AmortizedCost from the export run's manifest.json beside the file."""
    try:
        doc = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8-sig"))
        blobs = [str(b.get("blobName", "")).rsplit("/", 1)[-1] for b in doc.get("blobs") or []]
        if blobs and path.name not in blobs:
            return None
        kind = str(doc["exportConfig"]["type"]).lower()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {"actualcost": ACTUAL, "amortizedcost": AMORTIZED}.get(kind)


def _name_kind(path: Path) -> str | None:
    for part in [path.name, *(p.name for p in path.resolve().parents)][:4]:
        low = part.lower()
        if "amortiz" in low or "amortis" in low:
            return AMORTIZED
        if "actual" in low:
            return ACTUAL
    return None


def _survey(path: Path, header: list[str], ctx: ParseContext) -> tuple[str, bool]:
    """(export kind, day-first dates) from config, manifest, the rows and the path."""
    strong: set[str] = set()
    weak: str | None = None
    day_first = month_first = False
    for _, r in _rows(path, header):
        if isinstance(r, str):
            continue
        kind, sure = _evidence(r)
        if kind and sure:
            strong.add(kind)
        elif kind:
            weak = kind
        for col in (*_DATE, "billingperiodstartdate", "billingperiodenddate"):
            m = _SLASH_DATE.match(r.get(col) or "")
            if m:
                day_first |= int(m[1]) > 12
                month_first |= int(m[2]) > 12
    if day_first and month_first:
        raise SourceError(
            str(path), "dates are both month-first and day-first; expected one locale"
        )
    conf = ctx.config.get("azure_cost") if isinstance(ctx.config, dict) else None
    forced = conf.get("dataset") if isinstance(conf, dict) else None
    if forced not in (None, ACTUAL, AMORTIZED):
        raise SourceError(
            "config", f"azure_cost.dataset must be actual or amortized, not {forced!r}"
        )
    # both strong signals: amortized (only that export puts cost on commitment usage)
    by_rows = AMORTIZED if AMORTIZED in strong else ACTUAL if strong else None
    kind = forced or _manifest_kind(path) or by_rows or _name_kind(path) or weak or ACTUAL
    return kind, day_first


@lru_cache(maxsize=4096)
def _day(value: str | None, day_first: bool) -> datetime | None:
    if value and day_first:
        value = _SLASH_DATE.sub(lambda m: f"{m[2]}/{m[1]}/{m[3]}", value)
    dt = u.ts(value)
    return None if dt is None else datetime(dt.year, dt.month, dt.day, tzinfo=UTC)


def _header(path: Path) -> list[str]:
    try:
        with u.open_text(path) as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, EOFError, UnicodeError, csv.Error) as ex:
        raise SourceError(str(path), f"cannot read as an Azure cost export: {ex}") from None


@register
class AzureCost(Source):
    name = "azure_cost"
    title = "Azure Cost Management cost details, actual or amortized (EA / MCA CSV)"
    tables = ("charges",)
    row_key = (
        "day, account, subscription, resource, meter, product, charge type, pricing model, "
        "commitment, unit, additional info; replace_scope subscription|day, delivery = export kind"
    )
    distinct_duplicates = True
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        cols = sniff.column_set
        return (
            sniff.kind == "csv"
            and "billedcost" not in cols
            and "quantity" in cols
            and any(c in cols for c in _COST)
            and any(c in cols for c in _DATE)
            and any(c in cols for c in _METER)
        )

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        header = _header(path)
        if not header:
            raise SourceError(str(path), "empty file; expected an Azure cost export CSV header")
        for need, names in (("cost", _COST), ("date", _DATE), ("billing currency", _CURRENCY)):
            if not any(n in header for n in names):
                raise SourceError(
                    str(path), f"no {need} column ({'/'.join(names)}); not an Azure cost export"
                )
        kind, day_first = _survey(path, header, ctx)
        for line, row in _rows(path, header):
            if isinstance(row, str):
                yield Bad(str(line), row)
                continue
            try:
                yield (
                    "charges",
                    {**_charge(row, kind, day_first), "source_line": line},
                )
            except ValueError as ex:
                yield Bad(str(line), str(ex), u.raw_text(row))


@register
class AzureExportManifest(Source):
    """The manifest.json Cost Management writes beside each export run (exportConfig, runInfo,
    blobs). It holds no charges; `AzureCost` reads its dataset type. Registered so that ingesting
    an export folder does not report the manifest as an unknown file."""

    name = "azure_export_manifest"
    title = "Azure Cost Management export manifest (metadata only, no rows)"
    tables = ("charges",)
    row_key = "none: yields no rows"
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        obj = sniff.first_object if sniff.kind in ("json", "jsonl") else None
        return (
            isinstance(obj, dict)
            and isinstance(obj.get("exportConfig"), dict)
            and "type" in obj["exportConfig"]
        )

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        return iter(())


def _charge(r: dict[str, Any], kind: str, day_first: bool) -> dict[str, Any]:
    cost = u.money(_get(r, *_COST))
    if cost is None:
        raise ValueError("no cost")
    currency = (_get(r, *_CURRENCY) or "").upper()
    if not currency:
        raise ValueError("no billing currency")
    day = _day(_get(r, *_DATE), day_first)
    if day is None:
        raise ValueError("no date")
    bp_start = _day(_get(r, "billingperiodstartdate"), day_first)
    bp_end = _day(_get(r, "billingperiodenddate"), day_first)
    charge = (_get(r, "chargetype") or "Usage").lower()
    model = (_get(r, "pricingmodel") or "").lower()
    commitment = _is_commitment(r)
    commit_usage = commitment and (charge == "usage" or charge in _UNUSED)
    billed = Decimal(0) if commit_usage and cost != 0 else cost
    effective: Decimal | None = cost
    if commitment and charge in ("purchase", "refund"):
        effective = Decimal(0)
    elif commit_usage and cost == 0 and kind == ACTUAL:
        effective = None

    qty = u.dec(_get(r, "quantity"))
    uom = _get(r, "unitofmeasure")
    block, unit = block_size(uom)
    pricing_ccy = (_get(r, "pricingcurrency") or currency).upper()
    fx = Decimal(1) if pricing_ccy == currency else u.dec(_get(r, "exchangeratepricingtobilling"))
    payg, unit_price = u.dec(_get(r, "paygprice")), u.dec(_get(r, "unitprice"))
    if payg == 0 and unit_price:  # not populated on commitment rows (real EA samples)
        payg = None
    list_unit = payg * fx if payg is not None and fx is not None else None
    contracted_unit = unit_price * fx if unit_price is not None and fx is not None else None
    list_cost = u.money(_get(r, "paygcostinbillingcurrency"))
    if list_cost is None and list_unit is not None and qty is not None:
        list_cost = u.money(list_unit * qty)

    benefit = _get(r, "benefitid") or _get(r, "reservationid")
    low_benefit = (benefit or "").lower()
    discount_type = (
        "Reservation" if "/microsoft.capacity/" in low_benefit or (benefit and model == "reservation")
        else "Savings Plan" if "/microsoft.billingbenefits/" in low_benefit or (benefit and model == "savingsplan")
        else None
    )  # fmt: skip
    resource_id = _get(r, "resourceid", "instancename")
    resource_type = resource_name = None
    if resource_id and "/providers/" in resource_id.lower():  # .../providers/<ns>/<type>/<name>/...
        ns, _, rest = resource_id[resource_id.lower().rindex("/providers/") + 11 :].partition("/")
        parts = rest.split("/")
        resource_type = "/".join([ns, *filter(None, parts[0::2])]).lower()
        resource_name = next((n for n in reversed(parts[1::2]) if n), None)
    consumed = _get(r, "consumedservice")
    category, subcategory = _SERVICES.get((consumed or "").lower(), (None, None))
    publisher = _get(r, "publishername")
    if publisher is None and (_get(r, "publishertype") or "azure").lower() in (
        "azure",
        "microsoft",
    ):
        publisher = "Microsoft"
    cached_tags = _tags(_get(r, "tags"))
    tags = dict(cached_tags) if cached_tags else None
    subscription = _get(r, "subscriptionid", "subscriptionguid")
    location = _get(r, "resourcelocation", "location")
    meter_name, meter_category = _get(r, "metername"), _get(r, "metercategory")

    row: dict[str, Any] = {
        "billed_cost": billed,
        "effective_cost": effective,
        "list_cost": list_cost,
        "contracted_cost": u.money(contracted_unit * qty)
        if contracted_unit is not None and qty is not None
        else None,
        "billing_currency": currency,
        "pricing_currency": pricing_ccy,
        "charge_period_start": day,
        "charge_period_end": day + timedelta(days=1),
        "billing_period_start": bp_start,
        "billing_period_end": bp_end + timedelta(days=1) if bp_end else None,
        "charge_category": "Usage" if charge in _UNUSED else _CATEGORY.get(charge, "Adjustment"),
        "charge_description": _get(r, "product", "productname") or meter_name,
        "charge_frequency": _FREQUENCY.get(
            (_get(r, "frequency") or "").lower(), _get(r, "frequency")
        ),
        "pricing_category": _PRICING.get(model, "Other") if model else None,
        "service_provider_name": "Microsoft",
        "host_provider_name": publisher,
        "invoice_issuer_name": _get(r, "partnername") or "Microsoft",
        "invoice_id": _get(r, "invoiceid"),
        "billing_account_id": _get(r, "billingaccountid"),
        "billing_account_name": _get(r, "billingaccountname"),
        "sub_account_id": subscription,
        "sub_account_name": _get(r, "subscriptionname"),
        "service_name": meter_category or consumed,
        "service_category": category,
        "service_subcategory": subcategory,
        "region_id": location.replace(" ", "").lower() if location else None,
        "resource_id": resource_id,
        "resource_name": _get(r, "resourcename") or resource_name,
        "resource_type": resource_type,
        "sku_id": _get(r, "meterid"),
        "sku_meter": meter_name,
        "list_unit_price": u.money(list_unit),
        "contracted_unit_price": u.money(contracted_unit),
        "consumed_quantity": u.money(qty * block) if qty is not None else None,
        "consumed_unit": unit,
        "pricing_quantity": u.money(qty),
        "pricing_unit": uom,
        "commitment_discount_id": benefit,
        "commitment_discount_type": discount_type,
        "tags": tags,
        "project_id": _get(r, "resourcegroup", "resourcegroupname"),
        "compute_kind": _compute_kind(meter_category, _get(r, "metersubcategory"), meter_name),
        "cost_dataset": kind,
    }
    if _is_ai(r):
        _add_openai(row, meter_name, qty, block)
    scope = subscription or _get(r, "billingprofileid") or _get(r, "billingaccountid") or ""
    row["replace_scope"] = f"{scope}|{day.date().isoformat()}"
    row["delivery"] = kind
    row["row_key"] = u.key(
        day.date(), *(_get(r, c) for c in ("billingaccountid", "billingprofileid")), subscription,
        (resource_id or "").lower(), row["sku_id"], meter_name, row["charge_description"], charge, model,
        *(_get(r, c) for c in ("frequency", "benefitid", "reservationid", "productorderid")), uom,
        *(_get(r, c) for c in ("offerid", "planname", "partnumber", "publishername", "invoicesectionid",
                               "costallocationrulename", "additionalinfo")),
        location, row["project_id"], currency,
    )  # fmt: skip
    return row


def _add_openai(
    row: dict[str, Any], meter: str | None, qty: Decimal | None, block: Decimal
) -> None:
    """Model, token type, tier and token count of an Azure OpenAI / Foundry Models meter."""
    parsed = openai_meter(meter) if meter else None
    if parsed is None:
        return
    row.update(model=parsed["model"], model_raw=meter, service_tier=parsed["service_tier"])
    extra = {"costlab.deployment_scope": parsed["scope"], "costlab.context_band": parsed["band"]}
    if any(extra.values()):
        row["tags"] = {**(row["tags"] or {}), **{k: v for k, v in extra.items() if v}}
    if parsed["token_type"]:
        row["token_type"] = parsed["token_type"]
        row["compute_kind"] = "tokens"
        row["consumed_unit"] = "Tokens"
        if qty is not None:
            row["tokens"] = int((qty * block).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    elif parsed["service_tier"] == "provisioned":
        row["compute_kind"] = "provisioned_throughput"


def _compute_kind(category: str | None, sub: str | None, meter: str | None) -> str:
    cat, text = (category or "").lower(), f"{sub or ''} {meter or ''}"
    if cat == "virtual machines" and re.search(r"\bN[CDVG]", text):
        return "gpu_hours"  # N-series (GPU) virtual machines
    if cat == "storage":
        return "storage"
    if cat == "bandwidth" or "data transfer out" in text.lower():
        return "egress"
    if "search" in cat:
        return "vector_db"
    return "other"
