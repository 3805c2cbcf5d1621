"""Azure Cost Management cost details in every published schema: the "actual" and "amortized"
exports (EA and MCA), the legacy usage details (PreTaxCost), the EA portal download, localized.

The daily cost-details files Cost Management exports to a storage account (or the portal
/ Cost Details API download): one row per subscription x resource x meter x day. The actual and
the amortized export have the same columns (finops-toolkit's actualcost/amortizedcost c360-2025-04
schemas are identical) but different money: never add them up (docs/sources.md). The FOCUS
export is the `focus` source.

Header sets (`HEADER_SETS`, each with its documentation URL): EA cost details 2020-01-01 ..
2024-08-01 (CostInBillingCurrency, BillingCurrencyCode), the EA c360 export (Cost,
BillingCurrency), MCA / MPA / CSP camelCase, MCA 2019-10-01 (SubscriptionGuid, InstanceName,
MarketPrice, ExchangeRate), legacy EA usage details 2019-10-01 (PreTaxCost, UsageDateTime,
UsageQuantity, InstanceId, no currency), legacy pay-as-you-go / MOSP / web direct / AIRS
2019-11-01 (the same plus Currency), the EA portal / Enterprise Reporting download ("Meter
Sub-Category", "Consumed Quantity", ExtendedCost, Year/Month/Day, no currency, two lines before
the header), and the Cost analysis view download (recognised and refused: one aggregated total
per date and grouping, no meter or quantity, so it cannot be reconciled or deduplicated).
Header names are compared folded (`column_name`: case, accents, spaces, hyphens, BOM ignored, so
"Meter Sub-Category" = "MeterSubCategory" = "meterSubCategory"); aliases (`_COST`, `_DATE`, ...)
map every schema's name onto the one the parser reads, first non-empty wins.
- Localized headers: the portal writes "<portal language> (<EnglishName>)", e.g. "Kategorie der
Verbrauchseinheit (MeterCategory)" (kubecost/kubecost#1526, opencost pkg/cloud/azure/resources/
billingexports/headersets/German.csv, project-koku/koku#2284). The English name decides: the
Spanish export labels SubscriptionGuid "Ubicación de los recursos", the label of ResourceLocation
(koku test_azure_report_processor). A header without the English part (a spreadsheet re-save) is
read through `_LOCALIZED_NAMES` (German, Spanish, French names seen in real headers and the code
that reads them), so a German file is detected by its German names; two columns that read as one
known name make the file fail (which is the subscription?) instead of one silently winning.

Detect: a CSV with, in one of its first 10 lines (the header; the EA portal download puts two
lines before it), a cost, a date, a quantity and a meter column under any alias and no FOCUS
BilledCost; delimiter "," or ";" (a spreadsheet saved in a decimal-comma locale) or tab. Azure
FOCUS exports, price sheets, AWS CUR and the OpenAI cost export lack these. Forced
``--source azure_cost`` on another CSV fails naming the missing columns as the closest
documented header set spells them ("no cost column (PreTaxCost)") and the set's URL.
Parse: two streaming passes. The first decides, for the whole file (never per row), which export
it is, the date order, the decimal separator and the currency; the second yields rows. A
header-only file (finops-toolkit EA_NoRows.csv) is a valid export of a scope with no charges.
- Which export: config ``[ingest.azure_cost] dataset``, else the export's manifest.json
(exportConfig.type ActualCost/AmortizedCost, as finops hubs read it), else content evidence, else
"actual"/"amortized" in the file or folder names. Content, as finops-toolkit ConvertTo-FinOpsSchema
reasons: a commitment (Reservation/SavingsPlan, benefit or reservation id, Microsoft.Capacity or
.BillingBenefits) *purchase* only appears in actual; commitment usage with a non-zero cost or an
Unused* charge only in amortized; commitment usage at cost 0 hints actual. No evidence (only
on-demand rows, identical in both exports, and every legacy file): "actual". Limit: a part file of
an amortized export with only on-demand rows and no manifest or telling name is taken as actual
(then the later file of a shared day wins); keep the manifest.json beside the parts (it is
registered as a no-row source, `azure_export_manifest`, so ingesting the export folder does not
report it as unknown).
- Dates: ISO (exports; UsageDateTime "yyyy-mm-dd", a time of day is ignored), MM/DD/YYYY (Azure's
US format, the real EA samples) or DD/MM/YYYY: a day > 12 in any date column proves the order;
both proven fails the file; nothing proven means MM/DD (Azure writes it), or DD/MM in a
";"-delimited file. DD.MM.YYYY (German) and YYYY/MM/DD (Japanese) are unambiguous. The EA portal's
Year/Month/Day columns give the day when present. Config ``date_order = "mdy" | "dmy"`` decides.
- Numbers: Azure writes invariant numbers ("1234.5", "5.64902E-05") even under localized headers
(opencost's German.csv), so the header language does not decide; the data does. Each number
column value either proves a separator ("1,68", "0.025", "1.249,92") or is ambiguous ("1.234":
1.234 or 1234); both separators proven fails the file, one proven decides every value, none
proven means "." ("," in a ";"-delimited file); config ``decimal = "." | ","`` decides. Values
are rewritten to plain ASCII ("1.249,92" -> "1249.92") here, before `util.money` (exact Decimal,
never float); one that does not read with the file's separator is quarantined.
- Currency: the BillingCurrency / BillingCurrencyCode / Currency column. The legacy EA file and
the EA portal download have none: config ``currency = "EUR"`` supplies it, else the file fails
with that one-line reason; costlab never assumes USD. A file's own currency column always wins.
Normalise: cost -> billed and effective as finops-toolkit does, except that unknown is NULL:
commitment usage carrying amortized cost is billed 0 (the cash went out with the purchase);
a commitment purchase (or its refund) has effective 0 (spread over usage); commitment usage at 0 in
an actual export has effective NULL (its amortized share is only in the amortized export).
- Everything else: billed = effective = cost. ChargeType Usage/Purchase/Tax keep their category,
Unused* is Usage, anything else (Refund, RoundingAdjustment) is Adjustment (finops-toolkit); no
ChargeType (legacy) is Usage. list = paygCostInBillingCurrency, else PayGPrice (MarketPrice) x
Quantity; contracted = UnitPrice x Quantity (prices in another pricing currency are converted with
exchangeRatePricingToBilling, else NULL); legacy ResourceRate is not used (its meaning differs by
agreement: list for PAYG, negotiated and blended for EA). Date is the charge day [date, date+1d);
the billing period end date is inclusive, so +1 day. pricing_quantity/unit = Quantity/UnitOfMeasure;
consumed_quantity = Quantity x block size of UnitOfMeasure ("10K" -> 10000, "100 Hours" -> 100).
Azure OpenAI / Foundry meters give model, token_type, service_tier and tokens in every schema
(MeterCategory "Cognitive Services" / "Foundry Models", MeterSubCategory or ProductName with
"OpenAI"); the deployment scope and context band go to tags ``costlab.deployment_scope`` /
``costlab.context_band``. Subscription = SubscriptionGuid, else SubscriptionId (the EA portal's
SubscriptionId is an obsolete integer); resource = ResourceId, else InstanceId / InstanceName.
Row key: day, billing account/profile, subscription, resource id, meter, product, charge type,
pricing model, frequency, commitment and order, unit, offer, plan, publisher, location, resource
group, invoice section, additional info; never cost, quantity or tags. replace_scope =
"<subscription (else billing profile, else billing account)>|<day>", the same for both exports and
every schema, so a later-ingested file of a day replaces the earlier one whichever kind or schema
it is (a re-downloaded month replaces, never adds); per subscription because exports can be
scoped to one subscription and must not wipe another's. delivery = the export kind: part files of
one export in one ingest are all kept, while an actual and an amortized file of the same day in
one ingest cannot both survive (the later file wins). A usage-details download (no ChargeType:
legacy schemas, EA portal) is one whole file, so its delivery is the file: of two downloads of
the same month in one ingest the later file wins per subscription and day.
Quirks:
- UTF-8 BOM and MM/DD/YYYY dates (real EA samples); M/D/YYYY (focus_converters EA sample);
  a spreadsheet re-save is cp1252, ";"-delimited, "1.234,56" and DD.MM.YYYY (all read).
- Tags without braces: ``"k": "v","k2": "v2"`` (docs/sources.md); unparsable tags are kept raw.
- Scientific notation costs "5.64902E-05" are exact Decimals (focus_converters sample).
- Older EA names CostInBillingCurrency/BillingCurrencyCode/ProductName and CAD billing (ibid.).
- Costs with up to 28 decimals (real amortized sample) round to the lake's 12 (sub-picocent).
- UnitOfMeasure is a block size (docs/sources.md; MS open-data PricingUnits.csv, incl. "10000s" = 1).
- PayGPrice is 0 on commitment rows that have a UnitPrice (real EA samples): list cost NULL.
- Azure OpenAI meter names vary by generation (docs/sources.md; Azure Retail Prices meterName):
  "gpt-4o-0806-Outp-glbl Tokens", "gpt 4o 0806 cached Inp glbl Tokens", "5.4 mini cd Inp Gl 1M
  Tokens", "5.4 mini Opt Gl 1M Tokens", "gpt-5-codex-ccchd-inp-glbl Tokens", "gpt-5-codex-out-glbl
  Tokens", "GPT 5 Mini Inpt DZone 1M Tokens", "Cd Wr" (cache write; no TTL stated, so
  input_cache_write_5m as for every billing source, costlab.ingest.token_lines), "Std", "Batch",
  "PP" (priority processing), "Provisioned Managed" (PTU hours); the resource is the account.
  `openai_meter` is shared with the focus source. The tier is the one named, else Standard when
  a deployment scope (Gl, Rg, DZ) is named, else NULL. A bare version ("5.4 mini") is a GPT model
  only under an OpenAI subcategory/product: "4.3 Inp Glbl Tokens" of "Azure Grok Models" has no
  model rather than a wrong "gpt-4.3".
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record
from costlab.ingest.registry import register_source
from costlab.ingest.token_lines import TokenLine, cache_write, is_model, tokens_of, with_modality

ACTUAL, AMORTIZED = "actual", "amortized"
# Header aliases (folded names, see `_fold`), first non-empty wins: finops-toolkit's Select-First
# order, then the legacy and EA portal names.
_COST = ("cost", "costinbillingcurrency", "pretaxcost", "extendedcost")
_CURRENCY = ("billingcurrency", "billingcurrencycode", "currency")
_DATE = ("date", "usagedate", "usagedatetime")
_QUANTITY = ("quantity", "consumedquantity", "usagequantity")
_METER = ("meterid", "metername", "metercategory")
#: the EA portal download has both: SubscriptionId there is an obsolete integer (Power BI mapping)
_SUBSCRIPTION = ("subscriptionguid", "subscriptionid")
_RESOURCE = ("resourceid", "instanceid", "instancename")
_PAYG_PRICE = ("paygprice", "marketprice")  # MarketPrice: MCA 2019-10-01
_FX = ("exchangeratepricingtobilling", "exchangerate")  # ExchangeRate: MCA 2019-10-01
_PRICING_CCY = ("pricingcurrency", "pricingcurrencycode")
_NUMERIC = (*_COST, *_QUANTITY, *_PAYG_PRICE, *_FX, "unitprice", "paygcostinbillingcurrency")
_ROLES = {"cost": _COST, "date": _DATE, "quantity": _QUANTITY, "meter": _METER}
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

_LEARN = "https://learn.microsoft.com/azure/cost-management-billing/dataset-schema/"


@dataclass(frozen=True)
class HeaderSet:
    """One documented header set of Azure cost details, in the file's own spelling."""

    key: str
    title: str
    url: str
    columns: tuple[str, ...]
    #: why a recognised shape is not ingested (None: ingested)
    refused: str | None = None


def _header_set(
    key: str, title: str, url: str, columns: str, refused: str | None = None
) -> HeaderSet:
    return HeaderSet(key, title, url, tuple(columns.split(",")), refused)


#: Every documented header set. Detection does not need a full match (exports may drop or add
#: columns between versions): a file is cost details when it has a cost, date, quantity and meter
#: column under any alias (`_ROLES`); the sets name the closest schema when a forced file is not.
HEADER_SETS = (
    _header_set(
        "ea",
        "EA cost details 2020-01-01 .. 2024-08-01 (exports, Cost Details API, portal download)",
        _LEARN + "cost-usage-details-ea",
        "InvoiceSectionName,AccountName,AccountOwnerId,SubscriptionId,SubscriptionName,ResourceGroup,"
        "ResourceLocation,Date,ProductName,MeterCategory,MeterSubCategory,MeterId,MeterName,MeterRegion,"
        "UnitOfMeasure,Quantity,EffectivePrice,CostInBillingCurrency,CostCenter,ConsumedService,"
        "ResourceId,Tags,OfferId,AdditionalInfo,ServiceInfo1,ServiceInfo2,ResourceName,ReservationId,"
        "ReservationName,UnitPrice,ProductOrderId,ProductOrderName,Term,PublisherType,PublisherName,"
        "ChargeType,Frequency,PricingModel,AvailabilityZone,BillingAccountId,BillingAccountName,"
        "BillingCurrencyCode,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,"
        "BillingProfileName,InvoiceSectionId,IsAzureCreditEligible,PartNumber,PayGPrice,PlanName,"
        "ServiceFamily,CostAllocationRuleName,benefitId,benefitName,AccountId,ResourceLocationNormalized",
    ),
    _header_set(
        "ea-c360",
        "EA actual/amortized export c360-2025-04 (finops-toolkit export schema)",
        "https://github.com/microsoft/finops-toolkit/tree/dev/src/templates/finops-hub/modules/"
        "Microsoft.CostManagement/Exports/schemas",
        "BillingAccountId,BillingAccountName,BillingPeriodStartDate,BillingPeriodEndDate,"
        "BillingProfileId,BillingProfileName,AccountOwnerId,AccountName,SubscriptionId,SubscriptionName,"
        "Date,Product,PartNumber,MeterId,ServiceFamily,MeterCategory,MeterSubCategory,MeterRegion,"
        "MeterName,Quantity,EffectivePrice,Cost,UnitPrice,BillingCurrency,ResourceLocation,"
        "AvailabilityZone,ConsumedService,ResourceId,ResourceName,ServiceInfo1,ServiceInfo2,"
        "AdditionalInfo,Tags,InvoiceSectionId,InvoiceSection,CostCenter,UnitOfMeasure,ResourceGroup,"
        "ReservationId,ReservationName,ProductOrderId,ProductOrderName,OfferId,IsAzureCreditEligible,"
        "Term,PublisherName,PlanName,ChargeType,Frequency,PublisherType,PayGPrice,PricingModel,"
        "CostAllocationRuleName,benefitId,benefitName",
    ),
    _header_set(
        "mca",
        "MCA / MPA / CSP cost details 2019-11-01 .. 2023-12-01-preview (camelCase)",
        _LEARN + "cost-usage-details-mca",
        "invoiceId,previousInvoiceId,billingAccountId,billingAccountName,billingProfileId,"
        "billingProfileName,invoiceSectionId,invoiceSectionName,resellerName,resellerMpnId,costCenter,"
        "billingPeriodEndDate,billingPeriodStartDate,servicePeriodEndDate,servicePeriodStartDate,date,"
        "serviceFamily,productOrderId,productOrderName,consumedService,meterId,meterName,meterCategory,"
        "meterSubCategory,meterRegion,ProductId,ProductName,SubscriptionId,subscriptionName,"
        "publisherType,publisherId,publisherName,resourceGroupName,ResourceId,resourceLocation,location,"
        "effectivePrice,quantity,unitOfMeasure,chargeType,billingCurrency,pricingCurrency,"
        "costInBillingCurrency,costInPricingCurrency,costInUsd,paygCostInBillingCurrency,paygCostInUsd,"
        "exchangeRatePricingToBilling,exchangeRateDate,isAzureCreditEligible,serviceInfo1,serviceInfo2,"
        "additionalInfo,tags,PayGPrice,frequency,term,reservationId,reservationName,pricingModel,"
        "unitPrice,costAllocationRuleName,benefitId,benefitName,provider",
    ),
    _header_set(
        "mca-2019-10-01",
        "MCA cost details 2019-10-01 (legacy PascalCase)",
        "https://github.com/MicrosoftDocs/azure-docs/blob/main/articles/cost-management-billing/"
        "dataset-schema/usage-details-mca-2019-10-01.md",
        "InvoiceID,PreviousInvoiceId,BillingAccountId,BillingAccountName,BillingProfileId,"
        "BillingProfileName,InvoiceSectionId,InvoiceSectionName,ResellerName,ResellerMPNId,CostCenter,"
        "BillingPeriodEndDate,BillingPeriodStartDate,ServicePeriodEndDate,ServicePeriodStartDate,Date,"
        "ServiceFamily,ProductOrderId,ProductOrderName,ConsumedService,MeterId,MeterName,MeterCategory,"
        "MeterSubcategory,MeterRegion,ProductId,Product,SubscriptionGuid,SubscriptionName,PublisherType,"
        "PublisherId,PublisherName,ResourceGroup,InstanceName,ResourceLocation,Location,EffectivePrice,"
        "Quantity,UnitOfMeasure,ChargeType,BillingCurrencyCode,PricingCurrencyCode,"
        "CostInBillingCurrency,CostInPricingCurrency,CostInUSD,PaygCostInBillingCurrency,PaygCostInUSD,"
        "ExchangeRate,ExchangeRateDate,IsAzureCreditEligible,ServiceInfo1,ServiceInfo2,AdditionalInfo,"
        "Tags,MarketPrice,Frequency,Term,ReservationId,ReservationName,UnitPrice",
    ),
    _header_set(
        "ea-2019-10-01",
        "EA usage details 2019-10-01 (legacy: PreTaxCost, UsageDateTime, no currency)",
        _LEARN + "cost-usage-details-ea#version-2019-10-01",
        "DepartmentName,AccountName,AccountOwnerId,SubscriptionGuid,SubscriptionName,ResourceGroup,"
        "ResourceLocation,UsageDateTime,ProductName,MeterCategory,MeterSubcategory,MeterId,MeterName,"
        "MeterRegion,UnitOfMeasure,UsageQuantity,ResourceRate,PreTaxCost,CostCenter,ConsumedService,"
        "ResourceType,InstanceId,Tags,OfferId,AdditionalInfo,ServiceInfo1,ServiceInfo2",
    ),
    _header_set(
        "payg-2019-11-01",
        "Pay-as-you-go (MOSP / web direct / AIRS) usage details 2019-11-01 (legacy)",
        _LEARN + "cost-usage-details-pay-as-you-go",
        "SubscriptionGuid,ResourceGroup,ResourceLocation,UsageDateTime,MeterCategory,MeterSubCategory,"
        "MeterId,MeterName,MeterRegion,UsageQuantity,ResourceRate,PreTaxCost,ConsumedService,"
        "ResourceType,InstanceId,Tags,OfferId,AdditionalInfo,ServiceInfo1,ServiceInfo2,ServiceName,"
        "ServiceTier,Currency,UnitOfMeasure",
    ),
    _header_set(
        "ea-portal",
        "EA portal / Enterprise Reporting usage details download (spaced names, no currency)",
        "https://learn.microsoft.com/power-bi/connect-data/desktop-connect-azure-consumption-insights",
        "AccountOwnerId,Account Name,ServiceAdministratorId,SubscriptionId,SubscriptionGuid,"
        "Subscription Name,Date,Month,Day,Year,Product,Meter ID,Meter Category,Meter Sub-Category,"
        "Meter Region,Meter Name,Consumed Quantity,ResourceRate,ExtendedCost,Resource Location,"
        "Consumed Service,Instance ID,ServiceInfo1,ServiceInfo2,AdditionalInfo,Tags,"
        "Store Service Identifier,Department Name,Cost Center,Unit Of Measure,Resource Group",
    ),
    _header_set(
        "cost-analysis",
        "Cost analysis view download (aggregated: no meters, no quantities)",
        "https://learn.microsoft.com/azure/cost-management-billing/costs/reporting-get-started",
        "UsageDate,ServiceName,CostUSD,Cost,Currency",
        refused="an aggregated Cost analysis view download (one total per date and grouping, no meter"
        " or quantity), not cost details; export cost details instead (Cost Management > Exports,"
        " or Download usage details)",
    ),
)

#: Portal-language header names, sourced from real files and the code that reads them (module
#: docstring, "Localized headers"). Azure writes "<localized> (<EnglishName>)"; the English name in
#: parentheses wins, this table reads headers whose English part was removed. Columns Azure leaves
#: untranslated (UsageDateTime, PreTaxCost, ...) need no entry.
_LOCALIZED_NAMES = {
    "de": {
        "Name der Abteilung": "DepartmentName", "Name des Kontos": "AccountName",
        "ID des Kontobesitzers": "AccountOwnerId", "Abonnement-GUID": "SubscriptionGuid",
        "Name des Abonnements": "SubscriptionName", "Ressourcengruppe": "ResourceGroup",
        "Ressourcenstandort": "ResourceLocation", "Kategorie der Verbrauchseinheit": "MeterCategory",
        "Unterkategorie der Verbrauchseinheit": "MeterSubCategory",
        "ID der Verbrauchseinheit": "MeterId", "Name der Verbrauchseinheit": "MeterName",
        "Region der Verbrauchseinheit": "MeterRegion", "Maßeinheit": "UnitOfMeasure",
        "Ressourcensatz": "ResourceRate", "Kostenstelle": "CostCenter",
        "Genutzter Dienst": "ConsumedService", "Zusätzliche Informationen": "AdditionalInfo",
        "Dienstinformation 1": "ServiceInfo1", "Dienstinformation 2": "ServiceInfo2",
        "Datum": "Date", "Kosten": "Cost", "ID der Instanz": "InstanceId", "Instanz-ID": "InstanceId",
        "Verbrauchte Menge": "ConsumedQuantity",
    },
    "es": {
        "Nombre de departamento": "DepartmentName", "Nombre de cuenta": "AccountName",
        "Id. del propietario de la cuenta": "AccountOwnerId",
        "Nombre de la suscripción": "SubscriptionName",
        "Ubicación de los recursos": "ResourceLocation", "Categoría del medidor": "MeterCategory",
        "Id. de medidor": "MeterId", "Nombre del medidor": "MeterName",
        "Región del medidor": "MeterRegion", "Unidad de medida": "UnitOfMeasure",
        "Tasa de recursos": "ResourceRate", "Centro de coste": "CostCenter",
        "Servicio consumido": "ConsumedService", "Etiquetas": "Tags",
        "Información adicional": "AdditionalInfo", "Información del servicio 1": "ServiceInfo1",
        "Información del servicio 2": "ServiceInfo2",
    },
    "fr": {
        "Nom de l'abonnement": "SubscriptionName", "Guid d'abonnement": "SubscriptionGuid",
        "Centre de coûts": "CostCenter", "Service consommé": "ConsumedService",
        "Catégorie du compteur": "MeterCategory", "Région du compteur": "MeterRegion",
        "Quantité consommée": "ConsumedQuantity", "Coût": "Cost", "Balises": "Tags",
        "ID d'instance": "InstanceId",
    },
}  # fmt: skip


def _fold(text: str) -> str:
    """A header name compared case-, accent-, space- and punctuation-blind: "Meter Sub-Category",
    "MeterSubcategory" and "meterSubCategory" all fold to "metersubcategory"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


_LOCALIZED = {
    _fold(local): _fold(en) for names in _LOCALIZED_NAMES.values() for local, en in names.items()
}
_KNOWN = frozenset(_fold(c) for s in HEADER_SETS for c in s.columns)
_PAREN = re.compile(r"^(.*?)\s*\(\s*([A-Za-z][A-Za-z0-9 _-]*?)\s*\)\s*$")


@lru_cache(maxsize=1024)
def column_name(cell: str) -> str:
    """The folded English name of a header cell: "Abonnement-GUID (SubscriptionGuid)",
    "Abonnement-GUID" and "SubscriptionGuid" all give "subscriptionguid". The English name in
    parentheses wins over the localized one (the Spanish export labels SubscriptionGuid
    "Ubicación de los recursos", the name of ResourceLocation)."""
    cell = cell.strip().lstrip("\ufeff")
    m = _PAREN.match(cell)
    if m:
        english, local = _fold(m[2]), _fold(m[1])
        if english in _KNOWN:
            return english
        return _LOCALIZED.get(local, local if local in _KNOWN else english)
    folded = _fold(cell)
    return _LOCALIZED.get(folded, folded)


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


_DETAILS, _AGGREGATED = "details", "aggregated"
#: columns that mark a UsageDate/Cost/Currency table as Azure's (the OpenAI cost export has
#: date, cost and currency too)
_AZURE_DIMENSIONS = frozenset({"costusd", "servicename", "resourcegroupname", "resourceid",
                               "resourcetype", "subscriptionname", "resourcelocation", "metercategory"})  # fmt: skip
_PREAMBLE_LINES = 10  # the EA portal download has two lines before its header
_DELIMITERS = (",", ";", "\t")  # ";": a spreadsheet saved in a decimal-comma locale


@dataclass(frozen=True)
class _Layout:
    """Where a file's header is and what its columns mean."""

    line: int  # 0-based line of the header (after any preamble)
    delimiter: str
    columns: tuple[str, ...]  # folded English names by position
    shape: str  # _DETAILS or _AGGREGATED


def _shape(cols: frozenset[str]) -> str | None:
    """_DETAILS for cost details (a cost, date, quantity and meter column under any alias),
    _AGGREGATED for a Cost analysis view download, None for anything else (FOCUS included)."""
    if "billedcost" in cols:  # FOCUS: the `focus` source
        return None
    if all(any(name in cols for name in names) for names in _ROLES.values()):
        return _DETAILS
    if (
        {"usagedate", "billingmonth"} & cols
        and {"cost", "costusd"} & cols
        and "currency" in cols
        and not {*_QUANTITY, *_METER} & cols
        and _AZURE_DIMENSIONS & cols
    ):
        return _AGGREGATED
    return None


def _find_layout(lines: list[str]) -> _Layout | None:
    """The first of the head lines that reads as an Azure header, with its delimiter."""
    for i, line in enumerate(lines[:_PREAMBLE_LINES]):
        for delimiter in _DELIMITERS:
            if delimiter not in line:
                continue
            cols = tuple(column_name(c) for c in _cells(line, delimiter))
            shape = _shape(frozenset(cols))
            if shape:
                return _Layout(i, delimiter, cols, shape)
    return None


def _cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])


def _mismatch(lines: list[str]) -> str:
    """Why a head is not Azure cost details: the missing columns, named as the closest
    documented header set spells them (the line with the most cells is taken as the header)."""
    cells = max((_cells(line, d) for line in lines for d in _DELIMITERS), key=len)
    cols = {column_name(c) for c in cells}
    if "billedcost" in cols:
        return "a FOCUS export (BilledCost), not Azure cost details; use --source focus"
    best = max(
        (s for s in HEADER_SETS if not s.refused),
        key=lambda s: len(cols & {_fold(c) for c in s.columns}),
    )
    missing = []
    for role, names in _ROLES.items():
        if not cols & set(names):
            spelled = next((c for c in best.columns if _fold(c) in names), names[0])
            missing.append(f"no {role} column ({spelled})")
    present = len(cols & {_fold(c) for c in best.columns})
    return (
        f"not an Azure cost export: {', '.join(missing)}; closest documented header set: "
        f"{best.title}, {present} of its {len(best.columns)} columns present ({best.url})"
    )


def _layout_of(path: Path) -> _Layout:
    """The layout of an Azure cost details file, else a `SourceError` saying what is missing."""
    try:
        with u.open_text(path) as fh:
            lines = [line for line in (fh.readline() for _ in range(_PREAMBLE_LINES)) if line]
    except (OSError, EOFError, UnicodeError) as ex:
        raise SourceError(str(path), f"cannot read as an Azure cost export: {ex}") from None
    if not any(line.strip() for line in lines):
        raise SourceError(str(path), "empty file; expected an Azure cost export CSV header")
    layout = _find_layout(lines)
    if layout is None:
        raise SourceError(str(path), _mismatch(lines))
    if layout.shape == _AGGREGATED:
        refused = next(s.refused for s in HEADER_SETS if s.refused)
        raise SourceError(str(path), refused or "not cost details")
    return _Layout(layout.line, layout.delimiter, _unique(path, layout.columns), layout.shape)


def _unique(path: Path, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Two columns that read as the same known name make the file ambiguous (a localized header
    whose English part was removed can repeat a label); unknown repeats are renamed."""
    first: dict[str, int] = {}
    out = []
    for i, name in enumerate(columns):
        if name in first and name in _KNOWN:
            raise SourceError(
                str(path),
                f"columns {first[name] + 1} and {i + 1} both read as {name!r}; cannot tell which holds it",
            )
        out.append(f"{name}#{i + 1}" if name in first else name)
        first.setdefault(name, i)
    return tuple(out)


def _head_lines(sniff: Sniff) -> list[str]:
    """The head's first lines, decoded as `u.open_text` would (cp1252 when not UTF-8)."""
    lines = sniff.head.splitlines()[:_PREAMBLE_LINES]
    if any("\ufffd" in line for line in lines):
        lines = sniff.head_bytes.decode("cp1252", errors="replace").splitlines()[:_PREAMBLE_LINES]
    return lines


def _records(path: Path, layout: _Layout) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Data rows as ``(line, {folded name: text})``, or ``(line, reason)`` for a malformed row;
    lines are the file's own (preamble and header counted)."""
    width, skip = len(layout.columns), layout.line + 1
    with u.open_text(path) as fh:
        for _ in range(skip):
            fh.readline()
        reader = csv.reader(fh, delimiter=layout.delimiter)
        while True:
            try:
                values = next(reader, None)
            except csv.Error as ex:
                yield skip + reader.line_num, f"malformed CSV: {ex}"
                continue
            if values is None:
                return
            if values in ([], [""]):
                continue
            if len(values) == width:
                yield skip + reader.line_num, dict(zip(layout.columns, values, strict=True))
            else:
                yield skip + reader.line_num, f"expected {width} fields, found {len(values)}"


# Numbers: one decimal separator per file (module docstring, "Numbers")
_GROUPS = "'\u00a0\u202f "  # apostrophe, no-break and narrow no-break space, space


def _number_pattern(mark: str) -> re.Pattern[str]:
    group = re.escape("," if mark == "." else ".") + _GROUPS
    return re.compile(
        rf"([-+]?)([1-9]\d{{0,2}}(?:[{group}]\d{{3}})+|\d+)(?:{re.escape(mark)}(\d+))?([eE][-+]?\d+)?"
    )


_NUMBER = {".": _number_pattern("."), ",": _number_pattern(",")}


@lru_cache(maxsize=65536)
def _ascii_number(text: str, mark: str) -> str | None:
    """``text`` as a plain ASCII decimal when its decimal separator is ``mark`` ("1.234,56" with
    "," -> "1234.56"), None when it does not read as a number that way."""
    m = _NUMBER[mark].fullmatch(text.strip())
    if not m:
        return None
    sign, whole, fraction, exponent = m.groups()
    digits = "".join(c for c in whole if c.isdigit())
    return f"{sign}{digits}{'.' + fraction if fraction else ''}{exponent or ''}"


@lru_cache(maxsize=65536)
def _reading(text: str) -> str | None:
    """The decimal separator a number proves ("." or ","), None when both or neither read it the
    same way ("12", "1 234") or it reads both ways differently ("1.234": 1.234 or 1234)."""
    point, comma = _ascii_number(text, "."), _ascii_number(text, ",")
    if (point is None) == (comma is None):
        return None
    return "." if point is not None else ","


def _ascii_numbers(r: dict[str, Any], mark: str) -> dict[str, Any]:
    """The row with its number columns as ASCII decimals (ValueError on one that is not)."""
    out = dict(r)
    for name in _NUMERIC:
        value = r.get(name)
        if value and value.strip().lower() not in u.NULLS:
            ascii_value = _ascii_number(value, mark)
            if ascii_value is None:
                raise ValueError(f"not a number: {value.strip()[:40]!r}")
            out[name] = ascii_value
    return out


def _zero(text: str | None) -> bool | None:
    """Whether a number is zero, whichever its decimal separator; None if it is not a number."""
    if not text or (_ascii_number(text, ".") is None and _ascii_number(text, ",") is None):
        return None
    mantissa = re.split(r"[eE]", text)[0]
    return set(c for c in mantissa if c.isdigit()) <= {"0"}


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


# Azure OpenAI / Foundry meter names (docs/sources.md; Azure Retail Prices meterName values)
_DIRECTION = {"inp": "in", "inpt": "in", "input": "in", "outp": "out", "output": "out",
              "opt": "out", "out": "out"}  # fmt: skip
_TIER = {"batch": "batch", "pp": "priority", "priority": "priority", "provisioned": "provisioned",
         "ptu": "provisioned", "std": "standard"}  # fmt: skip
_SCOPE = {"regnl": "regional", "regional": "regional", "rg": "regional", "glbl": "global",
          "global": "global", "gl": "global", "dzone": "data_zone", "dz": "data_zone"}  # fmt: skip
_CACHED = frozenset({"cache", "cached", "caching", "cd", "cchd", "ccchd"})
_MARKERS = frozenset({*_DIRECTION, *_TIER, *_SCOPE, *_CACHED, "wr", "write", "read", "uncached",
                      "tokens", "token", "1k", "1m", "shortco", "longco", "aud", "audio",
                      "managed"})  # fmt: skip
#: meter version (MMDD) -> OpenAI's dated id, for the documented meters
_VERSIONS = {("gpt-4o", "0513"): "2024-05-13", ("gpt-4o", "0806"): "2024-08-06",
             ("gpt-4o", "1120"): "2024-11-20", ("gpt-4o-mini", "0718"): "2024-07-18"}  # fmt: skip


def openai_meter(meter: str, subcategory: str | None = None) -> TokenLine | None:
    """Model, token class, tier, deployment scope and context band of an Azure OpenAI / Foundry
    meter: "gpt-4o-mini-0718-Inp-regnl Tokens", "gpt 4o 0806 cached Inp glbl Tokens", "5.4 mini cd
    Inp Gl 1M Tokens", "5.4 mini Opt Gl 1M Tokens", "gpt-5-codex-ccchd-inp-glbl Tokens", "5.6 sol
    ShortCo Cd Wr Std Gl 1M Tokens", "text-embedding-3-large-regional Tokens", "Provisioned Managed
    Global"; None if the meter is neither a token nor a provisioned meter. A bare version ("5.4
    mini") is a GPT model only under an OpenAI subcategory or product ("Azure OpenAI GPT5"; none
    given counts as OpenAI): "4.3 Inp Glbl Tokens" of "Azure Grok Models" is no GPT. The tier is
    the one named, else Standard when a deployment scope is named, else unknown."""
    sub = (subcategory or "openai").lower()
    found = _openai_meter(meter, "openai" in sub or "gpt" in sub)
    return replace(found) if found else None  # a copy: callers refine what they get


@lru_cache(maxsize=4096)
def _openai_meter(meter: str, gpt: bool) -> TokenLine | None:
    words = [w for w in re.split(r"[\s\-_]+", meter.lower().replace("data zone", "dzone")) if w]
    cut = next((i for i, w in enumerate(words) if w in _MARKERS), len(words))
    head, tail = words[:cut], words[cut:]
    scope = next((_SCOPE[w] for w in tail if w in _SCOPE), None)
    tier = next((_TIER[w] for w in tail if w in _TIER), "standard" if scope else None)
    direction = next((_DIRECTION[w] for w in tail if w in _DIRECTION), None)
    if head and gpt and re.fullmatch(r"\d+(\.\d+)?", head[0]):
        head = ["gpt", *head]
    model = None
    if head and is_model(" ".join(head)):
        base, version = "-".join(head[:-1]), head[-1]
        dated = _VERSIONS.get((base, version)) if re.fullmatch(r"\d{4}", version) else None
        model = f"{base}-{dated}" if dated else "-".join(head)
    spans = [m.start() for m in re.finditer(r"[^\s\-_]+", meter)]
    raw = (meter[: spans[cut]] if cut < len(spans) else meter).strip(" -_") or None
    found = TokenLine(model_raw=raw if model else None, model=model, tier=tier, scope=scope)
    found.band = next((w for w in tail if w in ("shortco", "longco")), None)
    if _CACHED & set(tail):
        found.token_type = cache_write(meter) if {"wr", "write"} & set(tail) else "input_cache_read"
    elif direction:
        kind = "input_uncached" if direction == "in" else "output"
        found.token_type = with_modality(kind, "audio" if {"aud", "audio"} & set(tail) else None)
    elif model and "embedding" in model:
        found.token_type = "embedding"
    found.provisioned = tier == "provisioned"
    if found.provisioned:
        found.model = found.model_raw = found.token_type = None
    elif found.token_type is None:
        return None
    return found


def _ai_product(r: dict[str, Any]) -> str | None:
    """MeterSubCategory and ProductName of an Azure OpenAI / Foundry Models row, None otherwise."""
    category = (_get(r, "metercategory") or "").lower()
    sub = " ".join(filter(None, (_get(r, "metersubcategory"), _get(r, "productname", "product"))))
    ai = category == "foundry models" or (
        category in ("cognitive services", "azure openai", "") and "openai" in sub.lower()
    )
    return sub if ai else None


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
        zero = _zero(_get(r, *_COST))
        if zero is not None:
            return (ACTUAL, False) if zero else (AMORTIZED, True)
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


@dataclass(frozen=True)
class _Plan:
    """What one file's rows mean, decided once from the whole file (never per row)."""

    kind: str  # ACTUAL or AMORTIZED
    day_first: bool  # A/B/YYYY dates are DD/MM
    mark: str  # decimal separator, "." or ","
    currency: str | None  # billing currency of a file without a currency column (config)
    #: a usage-details download (no ChargeType: legacy, EA portal): one file per download, so the
    #: later file of a subscription and day wins even within one ingest (delivery None)
    per_file: bool


_SETTINGS = {"dataset": (ACTUAL, AMORTIZED), "date_order": ("mdy", "dmy"), "decimal": (".", ",")}


def _settings(ctx: ParseContext) -> dict[str, Any]:
    """``[ingest.azure_cost]`` from costlab.toml, checked."""
    conf = ctx.config.get("azure_cost") if isinstance(ctx.config, dict) else None
    conf = conf if isinstance(conf, dict) else {}
    for key, allowed in _SETTINGS.items():
        if conf.get(key) not in (None, *allowed):
            raise SourceError(
                "config", f"azure_cost.{key} must be {' or '.join(allowed)}, not {conf[key]!r}"
            )
    currency = conf.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)
    ):
        raise SourceError(
            "config", f"azure_cost.currency must be a 3-letter ISO 4217 code, not {currency!r}"
        )
    return conf


def _file_currency(path: Path, layout: _Layout, conf: dict[str, Any]) -> str | None:
    """None when the file has a currency column, else the configured one, else a SourceError:
    the legacy EA file and the EA portal download do not say their currency."""
    if any(c in layout.columns for c in _CURRENCY):
        return None
    if conf.get("currency"):
        return str(conf["currency"]).upper()
    raise SourceError(
        str(path),
        "no billing currency column (BillingCurrency/BillingCurrencyCode/Currency) and no"
        ' [ingest.azure_cost] currency = "<ISO code>" in costlab.toml; this export does not say'
        " its currency and costlab does not assume one",
    )


def _survey(path: Path, layout: _Layout, ctx: ParseContext) -> _Plan:
    """The file's export kind, date order and decimal separator, from config, manifest, rows and
    path (first pass over the file)."""
    conf = _settings(ctx)
    rows = 0
    strong: set[str] = set()
    weak: str | None = None
    day_first = month_first = False
    marks: dict[str, tuple[int, str]] = {}  # separator -> first (line, value) proving it
    dates = [
        c for c in (*_DATE, "billingperiodstartdate", "billingperiodenddate") if c in layout.columns
    ]
    numbers = [c for c in _NUMERIC if c in layout.columns]
    for line, r in _records(path, layout):
        if isinstance(r, str):
            continue
        rows += 1
        kind, sure = _evidence(r)
        if kind and sure:
            strong.add(kind)
        elif kind:
            weak = kind
        for col in dates:
            m = _SLASH_DATE.match(r[col])
            if m:
                day_first |= int(m[1]) > 12
                month_first |= int(m[2]) > 12
        for col in numbers:
            proven = _reading(r[col]) if r[col] else None
            if proven and proven not in marks:
                marks[proven] = (line, r[col])
    if day_first and month_first and not conf.get("date_order"):
        raise SourceError(
            str(path), "dates are both month-first and day-first; expected one locale"
        )
    if len(marks) == 2 and not conf.get("decimal"):
        (l1, v1), (l2, v2) = marks["."], marks[","]
        raise SourceError(
            str(path),
            f"numbers use both '.' (line {l1}: {v1!r}) and ',' (line {l2}: {v2!r}) as the decimal"
            " separator; expected one locale",
        )
    # nothing proves it: a ';'-delimited file is a spreadsheet saved in a decimal-comma,
    # day-first locale; Azure itself writes '.' and MM/DD/YYYY
    semicolon = layout.delimiter == ";"
    order = conf.get("date_order") or (
        "dmy" if day_first or (semicolon and not month_first) else "mdy"
    )
    mark = conf.get("decimal") or next(iter(marks), "," if semicolon else ".")
    # both strong signals: amortized (only that export puts cost on commitment usage)
    by_rows = AMORTIZED if AMORTIZED in strong else ACTUAL if strong else None
    kind = (
        conf.get("dataset") or _manifest_kind(path) or by_rows or _name_kind(path) or weak or ACTUAL
    )
    currency = _file_currency(path, layout, conf) if rows else None  # header only: no rows to price
    return _Plan(kind, order == "dmy", mark, currency, "chargetype" not in layout.columns)


_DOT_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\b")  # DD.MM.YYYY (de)
_YMD_SLASH = re.compile(r"^\s*(\d{4})/(\d{1,2})/(\d{1,2})\b")  # YYYY/MM/DD (ja)


@lru_cache(maxsize=4096)
def _day(value: str | None, day_first: bool) -> datetime | None:
    """The charge day of a date cell; a time of day, if any, is ignored."""
    if not value:
        return None
    if m := _SLASH_DATE.match(value):
        y, mo, d = (m[3], m[2], m[1]) if day_first else (m[3], m[1], m[2])
    elif m := _DOT_DATE.match(value):
        y, mo, d = m[3], m[2], m[1]
    elif m := _YMD_SLASH.match(value):
        y, mo, d = m[1], m[2], m[3]
    else:
        dt = u.ts(value)
        return None if dt is None else datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    try:
        return datetime(int(y), int(mo), int(d), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"not a date: {value.strip()[:40]!r}") from None


def _ymd(r: dict[str, Any]) -> datetime | None:
    """The day from the EA portal's Year, Month and Day columns (unambiguous, unlike its Date)."""
    y, m, d = (_get(r, c) or "" for c in ("year", "month", "day"))
    if not (y.isdigit() and m.isdigit() and d.isdigit()):
        return None
    try:
        return datetime(int(y), int(m), int(d), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"not a date: Year/Month/Day {y}/{m}/{d}") from None


@register_source
class AzureCost(Source):
    name = "azure_cost"
    title = (
        "Azure Cost Management cost details, actual or amortized (EA / MCA / PAYG, current and "
        "legacy schemas, EA portal download, localized headers)"
    )
    tables = ("charges",)
    row_key = (
        "day, account, subscription, resource, meter, product, charge type, pricing model, "
        "commitment, unit, additional info; replace_scope subscription|day, delivery = export kind"
    )
    distinct_duplicates = True
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind == "csv" and _find_layout(_head_lines(sniff)) is not None

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        layout = _layout_of(path)
        plan = _survey(path, layout, ctx)
        def map_record(_line: int, row: dict[str, Any]) -> dict[str, Any]:
            return _charge(_ascii_numbers(row, plan.mark), plan)

        yield from each_record("charges", _records(path, layout), map_record)


@register_source
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


def _charge(r: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """One charge from a row whose numbers are ASCII decimals."""
    cost = u.money(_get(r, *_COST))
    if cost is None:
        raise ValueError("no cost")
    currency = (_get(r, *_CURRENCY) or plan.currency or "").upper()
    if not currency:
        raise ValueError("no billing currency")
    day = _ymd(r) or _day(_get(r, *_DATE), plan.day_first)
    if day is None:
        raise ValueError("no date")
    bp_start = _day(_get(r, "billingperiodstartdate"), plan.day_first)
    bp_end = _day(_get(r, "billingperiodenddate"), plan.day_first)
    charge = (_get(r, "chargetype") or "Usage").lower()
    model = (_get(r, "pricingmodel") or "").lower()
    commitment = _is_commitment(r)
    commit_usage = commitment and (charge == "usage" or charge in _UNUSED)
    billed = Decimal(0) if commit_usage and cost != 0 else cost
    effective: Decimal | None = cost
    if commitment and charge in ("purchase", "refund"):
        effective = Decimal(0)
    elif commit_usage and cost == 0 and plan.kind == ACTUAL:
        effective = None

    qty = u.dec(_get(r, *_QUANTITY))
    uom = _get(r, "unitofmeasure")
    block, unit = block_size(uom)
    pricing_ccy = (_get(r, *_PRICING_CCY) or currency).upper()
    fx = Decimal(1) if pricing_ccy == currency else u.dec(_get(r, *_FX))
    payg, unit_price = u.dec(_get(r, *_PAYG_PRICE)), u.dec(_get(r, "unitprice"))
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
    resource_id = _get(r, *_RESOURCE)
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
    subscription = _get(r, *_SUBSCRIPTION)
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
        "cost_dataset": plan.kind,
    }
    if (product := _ai_product(r)) is not None:
        _add_openai(row, meter_name, qty, block, product)
    scope = subscription or _get(r, "billingprofileid") or _get(r, "billingaccountid") or ""
    row["replace_scope"] = f"{scope}|{day.date().isoformat()}"
    row["delivery"] = None if plan.per_file else plan.kind
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
    row: dict[str, Any], meter: str | None, qty: Decimal | None, block: Decimal, product: str
) -> None:
    """Model, token type, tier and token count of an Azure OpenAI / Foundry Models meter."""
    parsed = openai_meter(meter, product) if meter else None
    if parsed is None:
        return
    row.update(model=parsed.model, model_raw=meter, service_tier=parsed.tier)
    extra = {"costlab.deployment_scope": parsed.scope, "costlab.context_band": parsed.band}
    if any(extra.values()):
        row["tags"] = {**(row["tags"] or {}), **{k: v for k, v in extra.items() if v}}
    if parsed.token_type:
        row["token_type"] = parsed.token_type
        row["compute_kind"] = "tokens"
        row["consumed_unit"] = "Tokens"
        row["tokens"] = tokens_of(qty, block)
    elif parsed.provisioned:
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
