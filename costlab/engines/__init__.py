"""Where the SQL runs: DuckDB in-process (default) or Apache Spark (``--engine spark``).

Both engines get the same tables (the lake's Parquet by the committed manifest, the price tables
from `costlab.pricing.PriceBook`) and the same views, and run the same DuckDB-dialect queries in
``queries/``; on Spark they are transpiled by sqlglot (`costlab.engines.transpile`).
`costlab.workspace.Workspace.connect` returns a DuckDB connection or a `SparkConnection` of the
same shape (``execute`` -> cursor with ``description``/``fetchall``), so callers need not know
which.

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
from typing import Any

from costlab.errors import CostlabError

ENGINES = ("duckdb", "spark")


def settings(engine: str | None, cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The engine name (``engine``, else ``[engine] name`` of the parsed costlab.toml ``cfg``,
    else duckdb) and its ``[engine]`` table."""
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


def is_spark(con: Any) -> bool:
    return getattr(con, "name", None) == "spark"
