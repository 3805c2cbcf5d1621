"""Canonical lake tables: column names and types (the contract in docs/schema.md).

Types are written as DuckDB type names; `arrow_schema(table)` derives the pyarrow schema used to
write Parquet. Money is DECIMAL(38,12), tokens BIGINT, times TIMESTAMPTZ (UTC). `source_format` and
`day` are hive partition columns: they live in the directory names, not inside the files.

No heavy imports at module level: this module is imported by the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

MONEY = "DECIMAL(38,12)"
MONEY_SCALE = 12
TS = "TIMESTAMPTZ"
TAGS = "MAP(VARCHAR, VARCHAR)"

#: Lineage written on every row of every data table.
LINEAGE: list[tuple[str, str]] = [
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("ingested_at", TS),
    ("row_key", "VARCHAR"),
    # A complete re-delivery unit (e.g. "account|day"): a later ingest that brings rows with the
    # same scope replaces every earlier row of that scope, not just matching keys (restated CUR
    # months, Azure month-to-date exports, actual vs amortized). NULL: key replacement only.
    ("replace_scope", "VARCHAR"),
    # Files of one run sharing a scope are one delivery when this matches (CUR parts of one
    # assembly); otherwise the later file wins that scope. NULL means "this file".
    ("delivery", "VARCHAR"),
]

#: Hive partition columns (directory levels under each table).
PARTITIONS: list[tuple[str, str]] = [("source_format", "VARCHAR"), ("day", "DATE")]

CHARGES: list[tuple[str, str]] = [
    ("billed_cost", MONEY),
    ("effective_cost", MONEY),
    ("list_cost", MONEY),
    ("contracted_cost", MONEY),
    ("billing_currency", "VARCHAR"),
    ("pricing_currency", "VARCHAR"),
    ("charge_period_start", TS),
    ("charge_period_end", TS),
    ("billing_period_start", TS),
    ("billing_period_end", TS),
    ("charge_category", "VARCHAR"),
    ("charge_class", "VARCHAR"),
    ("charge_description", "VARCHAR"),
    ("charge_frequency", "VARCHAR"),
    ("pricing_category", "VARCHAR"),
    ("service_provider_name", "VARCHAR"),
    ("host_provider_name", "VARCHAR"),
    ("invoice_issuer_name", "VARCHAR"),
    ("invoice_id", "VARCHAR"),
    ("billing_account_id", "VARCHAR"),
    ("billing_account_name", "VARCHAR"),
    ("sub_account_id", "VARCHAR"),
    ("sub_account_name", "VARCHAR"),
    ("service_name", "VARCHAR"),
    ("service_category", "VARCHAR"),
    ("service_subcategory", "VARCHAR"),
    ("region_id", "VARCHAR"),
    ("resource_id", "VARCHAR"),
    ("resource_name", "VARCHAR"),
    ("resource_type", "VARCHAR"),
    ("sku_id", "VARCHAR"),
    ("sku_price_id", "VARCHAR"),
    ("sku_meter", "VARCHAR"),
    ("list_unit_price", MONEY),
    ("contracted_unit_price", MONEY),
    ("consumed_quantity", MONEY),
    ("consumed_unit", "VARCHAR"),
    ("pricing_quantity", MONEY),
    ("pricing_unit", "VARCHAR"),
    ("commitment_discount_id", "VARCHAR"),
    ("commitment_discount_type", "VARCHAR"),
    ("tags", TAGS),
    # LLM extensions
    ("model", "VARCHAR"),
    ("model_raw", "VARCHAR"),
    ("token_type", "VARCHAR"),
    ("tokens", "BIGINT"),
    ("service_tier", "VARCHAR"),
    ("project_id", "VARCHAR"),
    ("api_key_id", "VARCHAR"),
    ("principal", "VARCHAR"),
    ("compute_kind", "VARCHAR"),
    ("workflow", "VARCHAR"),
    # which flavour of export the row came from: billed (actual), amortized, focus, api
    ("cost_dataset", "VARCHAR"),
    ("export_time", TS),
]

#: The token counts of a usage row and a span, in their column order (docs/schema.md: tokens).
TOKEN_COLUMNS: list[tuple[str, str]] = [
    ("input_tokens", "BIGINT"),
    ("cache_read_tokens", "BIGINT"),
    ("cache_write_tokens", "BIGINT"),
    ("cache_write_5m_tokens", "BIGINT"),
    ("cache_write_1h_tokens", "BIGINT"),
    ("output_tokens", "BIGINT"),
    ("reasoning_tokens", "BIGINT"),
]

USAGE: list[tuple[str, str]] = [
    ("period_start", TS),
    ("period_end", TS),
    ("provider", "VARCHAR"),
    ("usage_kind", "VARCHAR"),
    ("model", "VARCHAR"),
    ("model_raw", "VARCHAR"),
    ("project_id", "VARCHAR"),
    ("api_key_id", "VARCHAR"),
    ("principal", "VARCHAR"),
    ("service_tier", "VARCHAR"),
    ("batch", "BOOLEAN"),
    ("requests", "BIGINT"),
    *TOKEN_COLUMNS,
    ("input_audio_tokens", "BIGINT"),
    ("output_audio_tokens", "BIGINT"),
    ("quantity", MONEY),
    ("quantity_unit", "VARCHAR"),
    ("attributes", TAGS),
]

SPANS: list[tuple[str, str]] = [
    ("trace_id", "VARCHAR"),
    ("span_id", "VARCHAR"),
    ("parent_span_id", "VARCHAR"),
    ("workflow", "VARCHAR"),
    ("step", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("span_kind", "VARCHAR"),
    ("operation", "VARCHAR"),
    ("name", "VARCHAR"),
    ("start_time", TS),
    ("end_time", TS),
    ("status", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("model_raw", "VARCHAR"),
    ("request_model", "VARCHAR"),
    ("service_tier", "VARCHAR"),
    *TOKEN_COLUMNS,
    ("usage_scope", "VARCHAR"),
    ("usage_source", "VARCHAR"),
    ("reported_cost", MONEY),
    ("reported_cost_currency", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("prompt_hash", "VARCHAR"),
    ("prefix_hashes", "VARCHAR[]"),
    ("prefix_block_tokens", "BIGINT"),
    ("message_tokens", "BIGINT[]"),
    ("prompt_text", "VARCHAR"),
    ("completion_text", "VARCHAR"),
    ("tags", TAGS),
    ("attributes", "VARCHAR"),
    # the repository (its name, not a path) and git branch a coding agent's call worked in
    ("repo", "VARCHAR"),
    ("branch", "VARCHAR"),
]

QUARANTINE: list[tuple[str, str]] = [
    ("run_id", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("location", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("raw", "VARCHAR"),
    ("ingested_at", TS),
]

RUNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR"),
    ("source_format", "VARCHAR"),
    ("started_at", TS),
    ("finished_at", TS),
    ("files", "VARCHAR[]"),
    ("rows_read", "BIGINT"),
    ("rows_written", "BIGINT"),
    ("rows_duplicate", "BIGINT"),
    ("rows_quarantined", "BIGINT"),
    ("rows_replaced", "BIGINT"),
    ("files_failed", "BIGINT"),
    ("status", "VARCHAR"),
    ("message", "VARCHAR"),
]

#: Data tables written by ingestors (lineage appended).
DATA_TABLES: dict[str, list[tuple[str, str]]] = {
    "charges": CHARGES,
    "usage": USAGE,
    "spans": SPANS,
}

#: Every stored table and its full column list (without partition columns).
TABLES: dict[str, list[tuple[str, str]]] = {
    **{name: cols + LINEAGE for name, cols in DATA_TABLES.items()},
    "quarantine": QUARANTINE,
    "runs": RUNS,
}

#: The column each table's `day` partition is derived from.
DAY_COLUMN: dict[str, str] = {
    "charges": "charge_period_start",
    "usage": "period_start",
    "spans": "start_time",
    "quarantine": "ingested_at",
    "runs": "started_at",
}

#: Partition columns per table (runs has no source_format level: one run spans formats).
TABLE_PARTITIONS: dict[str, list[tuple[str, str]]] = {
    "charges": PARTITIONS,
    "usage": PARTITIONS,
    "spans": PARTITIONS,
    "quarantine": PARTITIONS,
    "runs": [("day", "DATE")],
}


#: Count columns held to the token limits of `costlab.limits` (token and request counts).
COUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(n for n, t in cols if t == "BIGINT" and (n.endswith("tokens") or n == "requests"))
    for table, cols in DATA_TABLES.items()
}

#: DECIMAL columns that count units, not money: held to their type's range only.
QUANTITY_COLUMNS = frozenset({"consumed_quantity", "pricing_quantity", "quantity"})

#: Money columns (amounts and unit prices) held to `costlab.limits` max_money_per_line.
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(n for n, t in cols if t == MONEY and n not in QUANTITY_COLUMNS)
    for table, cols in DATA_TABLES.items()
}

#: Periods ``[start, end)`` whose end may not come before the start (the row is quarantined).
#: Spans are not held to this: a span's end before its start is clock skew between the
#: processes that stamped them; its tokens and cost are still real, and costlab computes no
#: durations from spans (``start_time`` places and prices the call).
PERIOD_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "charges": (("charge_period_start", "charge_period_end"), ("billing_period_start", "billing_period_end")),
    "usage": (("period_start", "period_end"),),
    "spans": (),
}


#: Columns of the spans kept out of the lake's copy of ``call_facts``: text and per-block detail
#: (the analyzers read them from ``spans``), and the per-span ids and lineage, which reports
#: never read and which are most of the bytes (random ids do not compress).
CALL_FACTS_DROPPED = (
    "prompt_text", "completion_text", "prefix_hashes", "message_tokens", "attributes",
    "span_id", "parent_span_id", "request_id", "prompt_hash", "prefix_block_tokens",
    "source_file", "source_line", "run_id", "ingested_at", "row_key", "replace_scope", "delivery",
)  # fmt: skip

#: Tables ingest derives from the data tables and keeps in step with them in the same commit.
#: ``call_facts``: one row per billable call (queries/views/call_facts.sql), partitioned by day
#: only (a call's duplicates may come from several formats).
DERIVED_TABLES: dict[str, list[tuple[str, str]]] = {
    "call_facts": [c for c in TABLES["spans"] if c[0] not in CALL_FACTS_DROPPED]
    + [("source_format", "VARCHAR"), ("call_key", "VARCHAR")],
}
#: ``call_rollup``: the calls summed per day and group (queries/views/call_rollup.sql): every
#: column a report groups, filters or attributes by, plus what decides a call's price cell
#: (``price_shape``: time-of-day slot, input band, which token parts are non-zero), so the sums
#: price exactly as the calls would (queries/views/call_groups.sql). ``call_marks``: what sums
#: cannot give, per day: the runs and sessions seen on that day alone counted per set of inputs,
#: a row per distinct run and session for the others (exact distinct counts), and a row per
#: timed call (exact latency percentiles). See costlab/rollups.py and docs/lake.md.
ROLLUP_DIMENSIONS: list[tuple[str, str]] = [
    ("workflow", "VARCHAR"),
    ("step", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("span_kind", "VARCHAR"),
    ("provider", "VARCHAR"),
    ("model", "VARCHAR"),
    ("model_raw", "VARCHAR"),
    ("service_tier", "VARCHAR"),
    ("usage_source", "VARCHAR"),
    ("reported_cost_currency", "VARCHAR"),
    ("source_format", "VARCHAR"),
    ("tags", TAGS),
    ("repo", "VARCHAR"),
    ("branch", "VARCHAR"),
]
#: A sum of token counts: exact past BIGINT (a day of calls at the configurable limits).
TOKEN_SUM = "DECIMAL(38, 0)"
DERIVED_TABLES["call_rollup"] = [
    ("start_time", TS),
    ("last_start_time", TS),
    *ROLLUP_DIMENSIONS,
    ("price_shape", "BIGINT"),
    ("n_calls", "BIGINT"),
    ("n_untraced", "BIGINT"),
    *[(name, TOKEN_SUM) for name, _ in TOKEN_COLUMNS],
    ("max_input_tokens", "BIGINT"),
    ("priced_write_tokens", TOKEN_SUM),
    ("priced_output_tokens", TOKEN_SUM),
    ("reported_cost", MONEY),
    ("n_reported", "BIGINT"),
]
DERIVED_TABLES["call_marks"] = [
    ("start_time", TS),
    ("end_time", TS),
    *ROLLUP_DIMENSIONS,
    ("trace_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("n_runs", "BIGINT"),
    ("n_sessions", "BIGINT"),
]
DERIVED_PARTITIONS: dict[str, list[tuple[str, str]]] = {
    "call_facts": [("day", "DATE")],
    "call_rollup": [("day", "DATE")],
    "call_marks": [("day", "DATE")],
}


def columns(table: str) -> list[str]:
    """Column names of `table` as stored in Parquet (partition columns excluded)."""
    return [name for name, _ in TABLES[table]]


def arrow_type(duck: str) -> pa.DataType:
    """pyarrow type for a DuckDB type name used in this module."""
    import pyarrow as pa

    simple = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        TS: pa.timestamp("us", tz="UTC"),
        MONEY: pa.decimal128(38, MONEY_SCALE),
        TAGS: pa.map_(pa.string(), pa.string()),
    }
    if duck in simple:
        return simple[duck]
    if duck.endswith("[]"):
        return pa.list_(arrow_type(duck[:-2]))
    raise ValueError(f"no arrow type for {duck}")


def arrow_schema(table: str, extra: list[tuple[str, str]] | None = None) -> pa.Schema:
    """pyarrow schema of `table` (plus `extra` columns, e.g. partition columns)."""
    import pyarrow as pa

    cols = TABLES[table] + (extra or [])
    return pa.schema([pa.field(name, arrow_type(typ)) for name, typ in cols])
