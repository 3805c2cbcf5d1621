"""The views over a lake's committed files: one typed view per stored table, the price tables,
the de-duplicated priced ``calls`` and the reconciliation inputs.

Built only through `costlab.workspace.Workspace.connect` (and its Spark twin, which reuses
`create_call_views`), so "what does ``calls`` contain?" has one answer: these functions over
the manifest the connection was opened on. Column types are the contract of ``docs/schema.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.sql import load_sql, parquet_scan

if TYPE_CHECKING:
    import duckdb

    from costlab.lake import Manifest
    from costlab.pricing import PriceBook

VIEWS = ("charges", "usage", "spans", "calls", "prices", "quarantine", "runs", "usage_priced", "charges_llm")


def create_call_views(con: Any, stored: str | None = None) -> None:
    """``call_keys``, ``call_facts`` and the priced ``calls`` on ``con`` (DuckDB or Spark), over
    its ``spans`` and price tables; ``call_facts`` is ``stored`` (a SELECT) when given."""
    if stored is None:
        con.execute(f"CREATE OR REPLACE VIEW call_keys AS {load_sql('views/call_keys')}")
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {load_sql('views/call_facts')}")
    else:
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {stored}")
    con.execute(f"CREATE OR REPLACE VIEW calls AS {load_sql('views/calls')}")


def stored_select(con: Any, root: Path, manifest: Manifest, table: str) -> str:
    """A typed SELECT over the lake's files of derived ``table`` (``call_facts``, ``call_rollup``,
    ``call_marks``); empty when there are none; a column older files lack reads as NULL."""
    cols = schema.DERIVED_TABLES[table] + schema.DERIVED_PARTITIONS[table]
    files = [str(root / rel) for rel in manifest.tables.get(table, [])]
    if not files:
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in cols) + " WHERE false"
    scan, present = parquet_scan(con, files, "hive_partitioning = true, hive_types = {'day': DATE}")
    typed = ", ".join(f"CAST({n if n in present else 'NULL'} AS {t}) AS {n}" for n, t in cols)
    return f"SELECT {typed} FROM {scan}"


def create_rollup_views(con: Any, manifest: Manifest) -> None:
    """``call_groups`` (the priced rollup rows) over ``call_rollup_rows`` and
    ``call_marks_rows``, and ``rollup_keys`` (the manifest's `costlab.rollups.RollupKeys`, as
    JSON text, NULL without rollups), on DuckDB or Spark."""
    import json

    from costlab.rollups import stored_keys

    keys = stored_keys(manifest)
    text = "NULL" if keys is None else "'" + json.dumps(keys.to_json()).replace("'", "''") + "'"
    con.execute(f"CREATE OR REPLACE VIEW rollup_keys AS SELECT CAST({text} AS VARCHAR) AS keys")
    con.execute(f"CREATE OR REPLACE VIEW call_groups AS {load_sql('views/call_groups')}")


def table_select(con: duckdb.DuckDBPyConnection, table: str, files: list[str], file_column: str | None = None) -> str:
    """A typed SELECT of ``table``'s columns over ``files`` (absolute paths; columns a file lacks
    read as NULL; no files: no rows), plus each row's file path as ``file_column`` if given."""
    if not files:
        extra = f", CAST(NULL AS VARCHAR) AS {file_column}" if file_column else ""
        return f"SELECT {_typed_select(table, None)}{extra} WHERE false"
    hive = ", ".join(f"'{n}': {t}" for n, t in schema.TABLE_PARTITIONS[table])
    options = f"hive_partitioning = true, hive_types = {{{hive}}}{', filename = true' if file_column else ''}"
    scan, present = parquet_scan(con, files, options)
    extra = f", filename AS {file_column}" if file_column else ""
    return f"SELECT {_typed_select(table, present)}{extra} FROM {scan}"


def _typed_select(table: str, present: set[str] | None) -> str:
    cols = schema.TABLES[table] + schema.TABLE_PARTITIONS[table]
    parts = []
    for name, typ in cols:
        if present is None or name not in present:
            parts.append(f"CAST(NULL AS {typ}) AS {name}")
        else:
            parts.append(f"CAST({name} AS {typ}) AS {name}")
    return ", ".join(parts)


def bill_rates(con: Any, book: PriceBook, manifest: Manifest | None = None, root: Path | None = None) -> PriceBook:
    """``book`` plus the bill's own rates for the models it does not know: the rows ingest kept in
    ``manifest`` for its charges (`costlab.learned_rates`), else queried from ``charges_llm``,
    which ``root`` (the lake's folder) asks to be made here (`create_charges_views`) only then."""
    from costlab import learned_rates

    rows = learned_rates.stored(manifest)
    if rows is None:
        if root is not None and manifest is not None:
            create_charges_views(con, root, manifest)
        rows = learned_rates.query(con)
    return book.with_bill_rates(rows)


def create_charges_views(con: Any, root: Path, manifest: Manifest) -> None:
    """``charges`` over ``manifest``'s charges files and ``charges_llm`` over it: what the bill's
    learned rates are queried from (`costlab.learned_rates.query`)."""
    files = [str(root / rel) for rel in manifest.tables.get("charges", [])]
    con.execute(f"CREATE OR REPLACE TEMP VIEW charges AS {table_select(con, 'charges', files)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW charges_llm AS {load_sql('views/charges_llm')}")


def volume_prices(con: Any, book: PriceBook) -> PriceBook:
    """``book`` with its ``[[volume]]`` tiers applied to the lake's calls
    (`costlab.pricing.PriceBook.volume_factors`, then ``with_volume``); needs ``call_facts`` and
    ``model_prices``. A book without volume tiers is returned as it is."""
    if not book.volumes:
        return book
    rows = con.execute(load_sql("views/volume_tokens")).fetchall()
    return book.with_volume(book.volume_factors(rows))


def create_views(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: Manifest,
    prices: PriceBook | None = None,
    fast: bool = False,
) -> PriceBook:
    """Create the stored-table views, the price tables, then the derived views (``calls``).
    Returns the prices the tables hold: ``prices`` with the bill's rates for the models no
    catalogue knows, then the override file's volume tiers over the lake's calls.

    ``fast``: ``call_facts`` reads the lake's stored copy (kept by ingest; without the columns in
    `costlab.schema.CALL_FACTS_DROPPED`) instead of de-duplicating every span again. Lakes
    written before that copy existed fall back to the full view.
    """
    for table in schema.TABLES:
        files = [str(root / rel) for rel in manifest.tables.get(table, [])]
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {table_select(con, table, files)}")
    from costlab.pricing import PriceBook, add_price_tables

    # models no catalogue knows take the rates their own bill charged (pricing.with_bill_rates)
    con.execute(f"CREATE OR REPLACE VIEW charges_llm AS {load_sql('views/charges_llm')}")
    prices = bill_rates(con, prices or PriceBook.load(), manifest)
    stored = fast and "call_facts" in manifest.tables
    facts = None
    if stored:  # the prices read the calls' models from it
        facts = stored_select(con, root, manifest, "call_facts")
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {facts}")
        for table in ("call_rollup", "call_marks"):
            con.execute(f"CREATE OR REPLACE VIEW {table}_rows AS {stored_select(con, root, manifest, table)}")
    # the calls' models: from the rollups when the lake has them (thousands of rows, the same
    # models as call_facts: written in the same commit), else call_facts, else every span
    calls_from = "spans"
    if stored:
        calls_from = "call_facts"
        if all(t in manifest.tables for t in ("call_rollup", "call_marks")):
            calls_from = "(SELECT provider, model, span_kind, 'self' AS usage_scope FROM call_rollup_rows)"
    add_price_tables(con, prices, calls_from=calls_from)  # prices, model_prices, price_grid
    create_call_views(con, facts)
    # [[volume]] tiers: counted over the calls just priced, then the same models priced again
    volume = volume_prices(con, prices)
    if volume is not prices:
        prices = volume
        add_price_tables(con, prices, calls_from=calls_from)
        create_call_views(con, facts)
    if stored:
        create_rollup_views(con, manifest)
    for view in ("usage_priced", "charges_llm", "reconciliation_facts"):  # reconciliation inputs
        con.execute(f"CREATE OR REPLACE VIEW {view} AS {load_sql(f'views/{view}')}")
    return prices
