"""`charges` written as a FinOps FOCUS 1.2 dataset (CSV, CSV.gz or Parquet) for FinOps tools.

The mapping is the named query ``queries/export_focus.sql``: every FOCUS 1.2 column in PascalCase
(alphabetical), then costlab's LLM extensions and lineage as ``x_`` columns. This module only picks
the file format, formats values the way FOCUS writes them and replaces the output atomically, so a
reader never sees half a file and a failed export leaves the previous file in place.

BillingAccountId is never NULL (FOCUS forbids it): the query takes it from the row, else from the
lake (the account of the row's sub account or of its file's other rows), else from ``costlab.toml``,
else a deterministic ``costlab:<source_format>:<folder hash>`` id (queries/export_focus.sql)::

    [export.focus]                      # for every source whose rows carry no account
    billing_account_id = "acme"
    billing_account_name = "Acme Corp"
    [export.focus.openai_costs]         # per source format (wins over the above)
    billing_account_id = "org-Xyz123"
    billing_account_name = "Acme Labs"

Formatting (FOCUS 1.2 attributes): date/times are UTC ``YYYY-MM-DDTHH:MM:SSZ`` text in CSV and
UTC timestamps in Parquet; money and quantities stay DECIMAL(38,12), so CSV digits are exact and
never pass through a float; Tags are JSON object text; NULL is an empty CSV field.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    from costlab.lake import Lake

#: The FOCUS 1.2 cost-and-usage columns (FOCUS_Spec v1.2; focus-validator model-1.2.0.1.json).
FOCUS_1_2_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingAccountType", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
    "CapacityReservationId", "CapacityReservationStatus", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType",
    "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName",
    "SubAccountType", "Tags",
)  # fmt: skip

FORMATS = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet"}
VERSIONS = ("1.2",)
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class ExportResult:
    rows: int
    path: Path
    columns: list[str] = field(default_factory=list)


def output_format(path: Path) -> str:
    """csv, csv.gz or parquet from the file name; anything else is a one-line error."""
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    raise CostlabError(
        f"{path}: unknown output format; name the file .csv, .csv.gz or .parquet"
    )


def export_focus(
    lake: Workspace | Lake | str | os.PathLike[str] | None,
    output: Path | str,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    version: str = "1.2",
    config: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write the lake's `charges` (ChargePeriodStart in [since, until)) to ``output`` as FOCUS.

    ``config``: the parsed ``costlab.toml`` (default: the workspace's settings), for the
    ``[export.focus]`` billing account settings."""
    import duckdb

    from costlab.sql import load_sql

    if version not in VERSIONS:
        raise CostlabError(f"FOCUS version {version!r} is not supported; use {', '.join(VERSIONS)}")
    out = Path(output).expanduser()
    fmt = output_format(out)
    if out.is_dir():
        raise CostlabError(f"{out}: is a directory; give a file name such as focus.csv")
    ws = workspace(lake, config=config)
    lk = ws.lake
    period = ws.period_of(since, until)
    params = {**period.params(), "billing_accounts": billing_account_settings(ws.settings)}
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CostlabError(f"{out}: folder {parent} does not exist; create it first")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as ex:
        raise CostlabError(f"{out}: cannot write there ({ex.strerror}); choose another path") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with ws.connect(engine="duckdb") as con:
            try:
                con.execute(f"CREATE TEMP TABLE focus_export AS {load_sql('export_focus')}", params)
                rows = con.execute("SELECT count(*) FROM focus_export").fetchone()[0]  # type: ignore[index]
                if rows == 0:
                    window = "" if since is None and until is None else " in the chosen period"
                    raise CostlabError(
                        f"lake {lk.path}: no charges{window} to export; ingest billing exports first "
                        "(`costlab ingest`) or widen --since/--until"
                    )
                columns = [d[0] for d in con.execute("SELECT * FROM focus_export LIMIT 0").description or []]
                con.execute(_copy_sql(con, fmt, str(tmp)))
            except duckdb.Error as ex:
                overflow = isinstance(ex, duckdb.ConversionException | duckdb.OutOfRangeException)
                too_big = _too_big(con, period.since, period.until) if overflow else None
                raise CostlabError(f"{out}: export failed: {too_big or str(ex).splitlines()[0]}") from None
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(rows=int(rows), path=out, columns=columns)


#: FOCUS money is DECIMAL(38,12): at most 26 digits before the point.
_MONEY_MAX = 10**26


def _too_big(con: Any, since: datetime | None, until: datetime | None) -> str | None:
    """What a failed cast means when a charge's unit price x quantity cannot be written as FOCUS
    money: the first such charge of the exported period (charge_period_start in [since, until),
    as queries/export_focus.sql selects), by file and line (None: no such charge, the error is
    another)."""
    from costlab.sql import expand_includes

    sql = expand_includes(
        "SELECT source_file, source_line, unit, quantity FROM ("
        " SELECT source_file, source_line, charge_period_start, list_unit_price AS unit, pricing_quantity AS quantity FROM charges"
        " UNION ALL SELECT source_file, source_line, charge_period_start, contracted_unit_price, pricing_quantity FROM charges)"
        " WHERE abs(CAST(unit AS DOUBLE) * CAST(quantity AS DOUBLE)) >= $max AND\n"
        "-- include: fragments/in_period | at = charge_period_start\n"
        "ORDER BY source_file, source_line LIMIT 1",
        "focus export overflow",
    )
    row = con.execute(sql, {"max": float(_MONEY_MAX), "since": since, "until": until}).fetchone()
    if row is None:
        return None
    file, line, unit, quantity = row
    return (
        f"{file} line {line}: unit price {unit} x quantity {quantity} = {float(unit) * float(quantity):.3g}, "
        "more than FOCUS money (DECIMAL(38,12), 26 digits before the point) holds; check that line's "
        "unit price and quantity, or export a period without it (--since/--until)"
    )


_ACCOUNT_KEYS = {"billing_account_id": "id", "billing_account_name": "name"}


def billing_account_settings(config: Mapping[str, Any]) -> str | None:
    """``[export.focus]`` as the query's ``$billing_accounts`` JSON (``{"default" | "<source
    format>": {"id": ..., "name": ...}}``), None when unset; a wrong key is a one-line error."""
    from costlab.ingest import sources

    export = config.get("export", {})
    section = export.get("focus", {}) if isinstance(export, Mapping) else None
    if not isinstance(section, Mapping):
        raise CostlabError("costlab.toml: [export.focus] must be a table")
    formats = {name for name, cls in sources().items() if "charges" in cls.tables}
    out: dict[str, dict[str, str]] = {}
    default = {k: v for k, v in section.items() if k in _ACCOUNT_KEYS}
    tables = {k: v for k, v in section.items() if k not in _ACCOUNT_KEYS}
    for name, table in [("default", default), *tables.items()]:
        where = "[export.focus]" if name == "default" else f"[export.focus.{name}]"
        if name != "default" and (name not in formats or not isinstance(table, Mapping)):
            raise CostlabError(
                f"costlab.toml: {where}: not a billing source; use billing_account_id, "
                f"billing_account_name or a table named after one of: {', '.join(sorted(formats))}"
            )
        entry = _account_entry(where, table)
        if entry:
            out[name] = entry
    return json.dumps(out, sort_keys=True) if out else None


def _account_entry(where: str, table: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(table) - set(_ACCOUNT_KEYS))
    if unknown:
        raise CostlabError(f"costlab.toml: {where}: unknown key(s) {', '.join(unknown)}; use billing_account_id, billing_account_name")
    entry = {}
    for key, short in _ACCOUNT_KEYS.items():
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise CostlabError(f"costlab.toml: {where}: {key} must be a non-empty string")
        if value is not None:
            entry[short] = value
    if entry and "id" not in entry:
        raise CostlabError(f"costlab.toml: {where}: billing_account_name needs billing_account_id")
    return entry


def _copy_sql(con: object, fmt: str, target: str) -> str:
    """COPY statement for the temp table: CSV gets ISO 8601 'Z' text for every timestamp."""
    quoted = "'" + target.replace("'", "''") + "'"
    if fmt == "parquet":
        return f"COPY focus_export TO {quoted} (FORMAT parquet, COMPRESSION zstd)"
    types = con.execute("DESCRIBE focus_export").fetchall()  # type: ignore[attr-defined]
    stamps = [name for name, typ, *_ in types if str(typ).startswith("TIMESTAMP")]
    replace = ", ".join(f'strftime("{c}" AT TIME ZONE \'UTC\', \'{_ISO}\') AS "{c}"' for c in stamps)
    select = f"SELECT * REPLACE ({replace}) FROM focus_export" if stamps else "SELECT * FROM focus_export"
    gzip = ", COMPRESSION gzip" if fmt == "csv.gz" else ""
    return f"COPY ({select}) TO {quoted} (FORMAT csv, HEADER true{gzip})"
