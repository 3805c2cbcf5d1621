"""Where the SQL runs: DuckDB in-process (default) or Apache Spark (``--engine spark``).

Both engines get the same tables (the lake's Parquet by the committed manifest, the price tables
from `costlab.pricing.PriceBook`) and the same views, and run the same DuckDB-dialect queries in
``queries/``; on Spark they are transpiled by sqlglot (`costlab.engines.transpile`). `connect`
returns a DuckDB connection or a `SparkConnection` of the same shape (``execute`` -> cursor with
``description``/``fetchall``), so callers need not know which.

``costlab.toml``::

    [engine]
    name = "spark"                      # default "duckdb"
    spark_master = "local[2]"           # or spark://host:7077, yarn ...
    spark_remote = "sc://host:15002"    # Spark Connect (wins over spark_master)
    lake_uri = "s3a://bucket/lake"      # where Spark reads the lake's files (default: the lake dir)
    [engine.spark_conf]                 # any Spark setting, e.g.
    "spark.executor.memory" = "8g"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    from costlab.lake import Lake
    from costlab.pricing import PriceBook

ENGINES = ("duckdb", "spark")


def settings(engine: str | None = None, cfg: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The engine name (``engine``, else ``[engine] name``, else duckdb) and its ``[engine]`` table."""
    if cfg is None:
        from costlab.config import load_config

        cfg = load_config()
    section = cfg.get("engine", {})
    if not isinstance(section, Mapping):
        raise CostlabError("costlab.toml: [engine] must be a table")
    unknown = set(section) - {"name", "spark_master", "spark_remote", "lake_uri", "spark_conf"}
    if unknown:
        raise CostlabError(
            f"costlab.toml: unknown key(s) in [engine]: {', '.join(sorted(unknown))}; "
            "use name, spark_master, spark_remote, lake_uri, spark_conf"
        )
    name = (engine or str(section.get("name", "duckdb"))).lower()
    if name not in ENGINES:
        raise CostlabError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
    return name, dict(section)


def connect(lake: Lake, engine: str | None = None, prices: PriceBook | None = None, fast: bool = False) -> Any:
    """A connection with the lake's views on ``engine`` (see `settings`); ``fast``: ``calls``
    reads the lake's stored call_facts (`costlab.lake.Lake.connect`), on either engine. Not
    restricted: for costlab's own SQL (user SQL goes through `run_named` / `run_read_only_spark`
    or `costlab.sql.run_read_only`)."""
    name, section = settings(engine)
    if name == "duckdb":
        return lake.connect(prices=prices, fast=fast)
    from costlab.engines.spark import SparkConnection

    return SparkConnection(lake, section, prices, fast=fast)


def is_spark(con: Any) -> bool:
    return getattr(con, "name", None) == "spark"


def register_attribution(con: Any, rules: Any) -> None:
    """`costlab.attribution.register` on either engine."""
    if is_spark(con):
        con.register_attribution(rules)
    else:
        from costlab import attribution

        attribution.register(con, rules)


def run_named(lake: Lake, name: str, params: Mapping[str, Any] | None, engine: str | None) -> Any:
    """A named query (from the catalogue) as a polars DataFrame on ``engine``, with its
    parameters checked by `costlab.sql.bind_parameters` and the same read-only guard as
    ``costlab sql`` on either engine. Attributed queries get the ``[attribution]`` rules."""
    from costlab.attribution import AttributionRules
    from costlab.config import load_config
    from costlab.sql import prepare_query, run_query

    if settings(engine)[0] == "duckdb":
        return run_query(lake, name, params)
    sql, bound = prepare_query(name, params)
    with connect(lake, engine) as con:
        register_attribution(con, AttributionRules.from_config(load_config()))
        return con.read_only(sql, bound).pl()


def run_read_only_spark(lake: Lake, sql: str, engine: str | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`costlab sql` on Spark: the same read-only check, then `SparkConnection.read_only` (SQL on
    files off; reflection, unknown functions and tables outside the lake refused before Spark
    sees the query)."""
    from costlab.sql import check_read_only

    check_read_only(sql)
    with connect(lake, engine) as con:
        cur = con.read_only(sql)
        return [d[0] for d in cur.description], cur.fetchall()
