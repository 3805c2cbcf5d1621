"""Oracle Cloud Infrastructure (OCI) cost report: the CSV(.gz) files OCI writes daily to the
``bling`` Object Storage bucket of a tenancy (Billing > Cost and Usage Reports), one row per
resource, SKU and hour.

Detect: CSV with lineItem/referenceNo, lineItem/intervalUsageStart and cost/myCost (usage reports,
which lack the cost columns, are not claimed).
Parse: streamed with the csv reader; header names matched case-insensitively.
Normalise: cost/myCost is both billed_cost and effective_cost (OCI cost reports carry no
amortization); cost/unitPrice is the customer's (contracted) unit price; usage/billedQuantity in
cost/skuUnitDescription is the pricing and consumed quantity; charge period = intervalUsage
start/end, billing period = the calendar month of the charge; billing account =
cost/subscriptionId, sub account = lineItem/tenantId, project = the compartment (as the finops
focus_converters OCI mapping does); ``tags/<namespace>.<key>`` columns become tags
``{"<namespace>.<key>": value}``; provider, host and invoice issuer are Oracle.
Row key: lineItem/referenceNo, OCI's unique id of a cost line (with the tenancy), so a report
that re-sends a line replaces it; for the same reason distinct_duplicates is False. Cost
reports are incremental daily files, not re-deliveries of a period, so replace_scope is NULL.
Quirks:
- lineItem/intervalUsageStart has no seconds (``2023-11-13T10:00Z``) but intervalUsageEnd has
  (data/billing/oci PROVENANCE) -> u.ts accepts both.
- cost/myCost has up to 18 decimals and scientific notation (``4.81298076439E-7``): kept exact
  up to the lake's 12 decimals (rounded half-even beyond).
- A tag column name may hold a backslash (``tags/DevRel\\redbull-...release``): kept verbatim.
- lineItem/isCorrection ``true`` rows are kept as ChargeClass Correction; they are new lines
  that point at the corrected one through lineItem/backreferenceNo (OCI docs), not restatements.
- cost/myCostOverage: how it combines with cost/myCost is not documented in our sources, so a
  row with a non-zero overage goes to quarantine rather than being summed wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from costlab import periods
from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record
from costlab.ingest.registry import register_source

_NEED = frozenset({"lineitem/referenceno", "lineitem/intervalusagestart", "cost/mycost"})
_REQUIRED = ("lineitem/intervalusagestart", "cost/mycost", "cost/currencycode")
#: product/service -> FOCUS ServiceCategory, only where the service is unambiguous
_CATEGORY = {
    "COMPUTE": "Compute", "DATABASE": "Databases", "MYSQL": "Databases", "NETWORK": "Networking",
    "BLOCK_STORAGE": "Storage", "OBJECTSTORE": "Storage", "FILE_STORAGE": "Storage",
    "TELEMETRY": "Management and Governance",
}  # fmt: skip


@register_source
class OciCostReport(Source):
    name = "oci_cost_report"
    title = "Oracle Cloud (OCI) cost report (CSV)"
    tables = ("charges",)
    row_key = "tenancy + lineItem/referenceNo (OCI's unique cost line id)"
    distinct_duplicates = False
    priority = 10

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind == "csv" and _NEED <= sniff.column_set

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        missing = [c for c in _REQUIRED if c not in Sniff(path).column_set]
        if missing:
            raise SourceError(
                str(path), f"not an OCI cost report: column(s) {', '.join(missing)} missing"
            )
        yield from each_record("charges", u.csv_rows(path), _map_record)


def _map_record(line: int, rec: dict[str, Any]) -> dict[str, Any]:
    return _row(u.lower_keys(rec), rec)


def _row(rec: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    def text(col: str) -> str | None:
        return u.nullish(rec.get(col))

    ref = text("lineitem/referenceno")
    if ref is None:
        raise ValueError("lineItem/referenceNo is empty")
    currency = text("cost/currencycode")
    if currency is None or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError(f"cost/currencyCode is not an ISO 4217 code: {currency!r}")
    cost = u.money(rec.get("cost/mycost"))
    if cost is None:
        raise ValueError("cost/myCost is empty")
    overage = u.money(rec.get("cost/mycostoverage"))
    if overage:
        raise ValueError(
            f"cost/myCostOverage {overage} set: its relation to cost/myCost is undocumented"
        )
    start = u.ts(rec.get("lineitem/intervalusagestart"))
    if start is None:
        raise ValueError("lineItem/intervalUsageStart is empty")
    service = text("product/service")
    unit = text("cost/skuunitdescription")
    quantity = u.money(rec.get("usage/billedquantity"))
    description = text("product/description")
    correction = (text("lineitem/iscorrection") or "").lower() == "true"
    tenant = text("lineitem/tenantid")
    month = datetime(start.year, start.month, 1, tzinfo=UTC)
    nxt = periods.next_month(month.date())
    next_month = datetime(nxt.year, nxt.month, 1, tzinfo=UTC)
    tags = {
        key[len("tags/") :]: value
        for key, raw in original.items()
        if key.lower().startswith("tags/") and (value := u.nullish(raw)) is not None
    }
    return {
        "billed_cost": cost,
        "effective_cost": cost,
        "billing_currency": currency.upper(),
        "charge_period_start": start,
        "charge_period_end": u.ts(rec.get("lineitem/intervalusageend")),
        "billing_period_start": month,
        "billing_period_end": next_month,
        "charge_category": "Usage",
        "charge_class": "Correction" if correction else None,
        "charge_description": description,
        "charge_frequency": "Usage-Based",
        "service_provider_name": "Oracle",
        "host_provider_name": "Oracle",
        "invoice_issuer_name": "Oracle",
        "billing_account_id": text("cost/subscriptionid"),
        "sub_account_id": tenant,
        "project_id": text("product/compartmentname") or text("product/compartmentid"),
        "service_name": service,
        "service_category": _CATEGORY.get((service or "").upper()),
        "region_id": text("product/region"),
        "resource_id": text("product/resourceid"),
        "sku_id": text("cost/productsku"),
        "contracted_unit_price": u.money(rec.get("cost/unitprice")),
        "consumed_quantity": quantity,
        "consumed_unit": unit,
        "pricing_quantity": quantity,
        "pricing_unit": unit,
        "tags": tags or None,
        "compute_kind": _compute_kind(service, description, unit),
        "cost_dataset": "billed",
        "row_key": u.key(tenant, ref),
    }


def _compute_kind(service: str | None, description: str | None, unit: str | None) -> str:
    desc = (description or "").lower()
    if "gpu" in desc and "hour" in (unit or "").lower():
        return "gpu_hours"
    if "outbound data transfer" in desc:
        return "egress"
    if _CATEGORY.get((service or "").upper()) == "Storage" or "storage" in desc:
        return "storage"
    return "other"
