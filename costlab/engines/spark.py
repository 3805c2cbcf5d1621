"""Apache Spark as a costlab engine: the lake's Parquet and the named queries on a SparkSession.

`SparkConnection` is shaped like the DuckDB connection the rest of costlab uses (``execute``
returning a cursor with ``description`` / ``fetchall`` / ``fetchone``, ``cursor().sql(q).pl()``),
so the report builder and ``costlab sql`` / ``query`` run unchanged on it. Every statement is
DuckDB-dialect SQL transpiled by `costlab.engines.transpile`; parameters are bound as literals.

The session: ``[engine] spark_remote`` (a Spark Connect URL, e.g. ``sc://host:15002``, or a
Databricks Connect profile's URL) wins, else ``spark_master`` (``local[2]`` by default; a
``spark://`` or ``yarn`` master works the same). Its SQL settings are fixed because the answers
depend on them: UTC session time zone (the queries' days and months are UTC), the TIME type
(Spark >= 4.1; time-of-day prices), and exact decimal arithmetic
(``spark.sql.decimalOperations.allowPrecisionLoss=false``: DuckDB keeps the scale of a
DECIMAL(38,x) product and fails on overflow; Spark by default rounds it to 6 decimals).

The lake is read by path: the files the committed manifest lists (never a directory listing, so
a half-written ingest is invisible, as on DuckDB), under ``[engine] lake_uri`` when set (the same
lake copied to object storage: ``s3a://bucket/costlab-lake``), else the local lake directory.
Partition columns come from the hive paths (``source_format=.../day=...``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.engines.transpile import Macro, transpile
from costlab.errors import CostlabError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from costlab.lake import Lake, Manifest
    from costlab.pricing import PriceBook

#: SQL settings the answers depend on (see the module docstring).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timeType.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Launch settings for a local master (ignored by a remote session).
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # stage bars on stderr: noise in cron mail
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "4g",
    "spark.sql.warehouse.dir": "/tmp/costlab-spark-warehouse",
}


def spark_type(duck: str) -> str:
    """A DuckDB column type of `costlab.schema` in Spark SQL."""
    from sqlglot import exp

    from costlab.engines.transpile import Spark4

    return exp.DataType.build(duck, dialect="duckdb").sql(dialect=Spark4)


def session(settings: Mapping[str, Any] | None = None) -> SparkSession:
    """The process's Spark session for ``[engine]`` settings (created once, then reused)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CostlabError(
            "--engine spark needs pyspark; install it with: pip install 'costlab[spark]'"
        ) from None
    cfg = dict(settings or {})
    builder = SparkSession.builder.appName("costlab")
    if cfg.get("spark_remote"):
        builder = builder.remote(str(cfg["spark_remote"]))
    else:
        builder = builder.master(str(cfg.get("spark_master") or "local[2]"))
        for k, v in LOCAL_CONF.items():
            builder = builder.config(k, v)
    for k, v in dict(cfg.get("spark_conf") or {}).items():
        builder = builder.config(str(k), str(v))
    try:
        spark = builder.getOrCreate()
    except Exception as ex:  # JVM missing, cluster unreachable...
        raise CostlabError(f"cannot start Spark: {str(ex).splitlines()[0]}; check [engine] in costlab.toml and Java 17") from None
    for k, v in SESSION_CONF.items():
        try:
            spark.conf.set(k, v)
        except Exception:  # a static setting on a running session: checked by the queries
            pass
    spark.sparkContext.setLogLevel("ERROR") if hasattr(spark, "sparkContext") and not cfg.get("spark_remote") else None
    return spark


class _Cursor:
    """The result of one statement, shaped like a DuckDB cursor."""

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.description = [(c,) for c in columns]
        self._rows = rows
        self._at = 0

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def pl(self) -> pl.DataFrame:
        import polars as pl

        cols = [d[0] for d in self.description]
        return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in self._rows], infer_schema_length=None) if self._rows else pl.DataFrame({c: [] for c in cols})


def to_rows(df: DataFrame) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of a Spark result, through Arrow: exact Decimals, UTC-aware timestamps,
    maps as dicts (as DuckDB returns them)."""
    import pyarrow as pa

    table: pa.Table = df.toArrow()
    cols = []
    for field, col in zip(table.schema, table.columns, strict=True):
        values = col.to_pylist()
        if pa.types.is_map(field.type):
            values = [None if v is None else dict(v) for v in values]
        elif pa.types.is_timestamp(field.type) and field.type.tz is None:
            from datetime import UTC

            values = [None if v is None else v.replace(tzinfo=UTC) for v in values]
        cols.append(values)
    return list(table.column_names), list(zip(*cols, strict=True)) if cols else []


class SparkConnection:
    """The lake's tables, prices and views on a Spark session (see the module docstring)."""

    name = "spark"

    def __init__(
        self, lake: Lake, settings: Mapping[str, Any] | None = None, prices: PriceBook | None = None, fast: bool = False
    ) -> None:
        self.settings = dict(settings or {})
        self.spark = session(self.settings).newSession()
        for k, v in SESSION_CONF.items():
            try:
                self.spark.conf.set(k, v)
            except Exception:
                pass
        self.macros: dict[str, Macro] = {}
        self.lake = lake
        manifest = lake.manifest()
        self._create_tables(manifest)
        # fast: the lake's stored call_facts (as `costlab.lake.create_views`), not a window
        # over every span; lakes without the stored copy fall back to the full view
        stored = fast and "call_facts" in manifest.tables
        if stored:
            self._read_parquet("call_facts", schema.DERIVED_TABLES["call_facts"] + schema.DERIVED_PARTITIONS["call_facts"],
                               manifest.tables["call_facts"])  # fmt: skip
        from costlab.pricing import PriceBook
        from costlab.sql import load_sql
        from costlab.views import bill_rates, create_call_views, create_rollup_views, volume_prices

        self.execute(f"CREATE OR REPLACE VIEW charges_llm AS {load_sql('views/charges_llm')}")
        prices = bill_rates(self, prices or PriceBook.load(), manifest)  # as costlab.views.create_views
        self._register_prices(prices, "_stored_call_facts" if stored else "spans")

        create_call_views(self, "SELECT * FROM _stored_call_facts" if stored else None)
        volume = volume_prices(self, prices)  # [[volume]] tiers, as costlab.views.create_views
        if volume is not prices:
            prices = volume
            self._register_prices(prices, "_stored_call_facts" if stored else "spans")
            # a Spark temp view keeps the plan it was made with: made again over the new tables
            create_call_views(self, "SELECT * FROM _stored_call_facts" if stored else None)
        if stored:  # the rollups a report reads (costlab.rollups), as costlab.views does
            for table in ("call_rollup", "call_marks"):
                cols = schema.DERIVED_TABLES[table] + schema.DERIVED_PARTITIONS[table]
                self._read_parquet(table, cols, manifest.tables.get(table, []))
                self.execute(f"CREATE OR REPLACE VIEW {table}_rows AS SELECT * FROM _stored_{table}")
            create_rollup_views(self, manifest)
        for view in ("usage_priced", "charges_llm", "reconciliation_facts"):
            self.execute(f"CREATE OR REPLACE VIEW {view} AS {load_sql(f'views/{view}')}")

    # -- DuckDB-connection shape ----------------------------------------------------------
    def __enter__(self) -> SparkConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for t in self.spark.catalog.listTables():
            if t.isTemporary:
                self.spark.catalog.dropTempView(t.name)

    def cursor(self) -> SparkConnection:
        return self

    def sql(self, sql: str, params: Mapping[str, Any] | None = None) -> _Cursor:
        return self.execute(sql, params)

    def transpile(self, sql: str, params: Mapping[str, Any] | None = None) -> list[str]:
        return transpile(sql, "spark", params or {}, self.macros)

    def dataframe(self, sql: str, params: Mapping[str, Any] | None = None) -> DataFrame:
        """One SELECT (DuckDB dialect) as a lazy Spark DataFrame."""
        statements = self.transpile(sql, params)
        if len(statements) != 1:
            raise CostlabError(f"one SELECT statement expected, got {len(statements)}")
        return self.spark.sql(statements[0])

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> _Cursor:
        """Run DuckDB-dialect SQL: SELECTs return rows; CREATE VIEW / TABLE / MACRO define
        temp views (a TABLE is computed once and kept) or an inlined macro."""
        import sqlglot
        from sqlglot import exp

        if params is not None and not isinstance(params, Mapping):
            raise CostlabError("the Spark engine takes named parameters ($name) only")
        if "MACRO" in sql.upper() and "AS TABLE" in sql.upper():
            macro = Macro(sql)
            self.macros[macro.name] = macro
            return _Cursor([], [])
        cur = _Cursor([], [])
        for tree in sqlglot.parse(sql, read="duckdb"):
            if tree is None:
                continue
            if isinstance(tree, exp.Create) and tree.kind in ("VIEW", "TABLE"):
                name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
                query = tree.expression
                if query is None:
                    raise CostlabError(f"CREATE {tree.kind} {name}: only CREATE ... AS SELECT is supported on Spark")
                df = self.dataframe(query.sql(dialect="duckdb"), params or {})
                if tree.kind == "TABLE":
                    df = df.localCheckpoint(eager=True)
                df.createOrReplaceTempView(name)
                continue
            cols, rows = to_rows(self.dataframe(tree.sql(dialect="duckdb"), params or {}))
            cur = _Cursor(cols, rows)
        return cur

    def read_only(self, sql: str, params: Mapping[str, Any] | None = None) -> _Cursor:
        """User SQL or a named query (DuckDB dialect, already through
        `costlab.sql.check_read_only`): SQL on files switched off, and every transpiled
        statement checked by `costlab.engines.spark_guard.check_spark_sql` against the
        session's temporary views before any of them reaches Spark. Spark's errors are one line."""
        from costlab.engines.spark_guard import check_spark_sql

        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")
        views = {t.name for t in self.spark.catalog.listTables() if t.isTemporary}
        statements = self.transpile(sql, params)
        for statement in statements:
            check_spark_sql(statement, views)
        cur = _Cursor([], [])
        for statement in statements:
            try:
                cur = _Cursor(*to_rows(self.spark.sql(statement)))
            except Exception as ex:  # AnalysisException, Py4JJavaError, Spark Connect errors
                raise CostlabError(f"query failed on Spark: {str(ex).strip().splitlines()[0]}") from None
        return cur

    def register_arrow(self, name: str, table: pa.Table, types: Sequence[tuple[str, str]] | None = None) -> None:
        """``table`` as temp view ``name``, columns cast to ``types`` (DuckDB type names)."""
        from pyspark.sql import functions as F

        df = self.spark.createDataFrame(table) if table.num_rows else None
        if df is None:
            fields = ", ".join(f"CAST(NULL AS {spark_type(t)}) AS {n}" for n, t in (types or []))
            self.spark.sql(f"SELECT {fields} WHERE false").createOrReplaceTempView(name)
            return
        if types:
            df = df.select(*[F.col(n).cast(spark_type(t)).alias(n) for n, t in types])
        df.createOrReplaceTempView(name)

    def register_rows(self, name: str, types: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
        """Python rows as temp view ``name`` (small tables: attribution rules, metrics)."""
        import pyarrow as pa

        # DECIMAL goes over as text and is cast in Spark: exact, whatever the Arrow scale
        arrow = {"DATE": pa.date32(), "BIGINT": pa.int64()}
        cols = {n: pa.array([r[i] for r in rows], type=arrow.get(t, pa.string())) for i, (n, t) in enumerate(types)}
        self.register_arrow(name, pa.table(cols), types)

    # -- the lake --------------------------------------------------------------------------
    def _root(self, lake: Lake) -> str:
        uri = self.settings.get("lake_uri")
        return str(uri).rstrip("/") if uri else str(lake.path)

    def _create_tables(self, manifest: Manifest) -> None:
        for table in schema.TABLES:
            self._read_parquet(table, schema.TABLES[table] + schema.TABLE_PARTITIONS[table], manifest.tables.get(table, []))

    def _read_parquet(self, table: str, cols: Sequence[tuple[str, str]], files: Sequence[str]) -> None:
        """Temp view ``table`` (``_stored_<table>`` for a derived table) over the lake-relative
        ``files``, columns typed as ``cols``; a column a file lacks reads as NULL."""
        root = self._root(self.lake)
        view = table if table in schema.TABLES else f"_stored_{table}"
        if not files:
            nulls = ", ".join(f"CAST(NULL AS {spark_type(t)}) AS {n}" for n, t in cols)
            self.spark.sql(f"SELECT {nulls} WHERE false").createOrReplaceTempView(view)
            return
        df = (
            self.spark.read.option("basePath", f"{root}/{table}")
            .option("mergeSchema", "true")
            .parquet(*[f"{root}/{rel}" for rel in files])
        )
        present = set(df.columns)
        df.createOrReplaceTempView(f"_raw_{table}")
        select = ", ".join(f"CAST({n if n in present else 'NULL'} AS {spark_type(t)}) AS {n}" for n, t in cols)
        self.spark.sql(f"SELECT {select} FROM _raw_{table}").createOrReplaceTempView(view)

    def _register_prices(self, book: PriceBook | None, calls_from: str) -> None:
        """``prices``, ``model_prices``, ``price_grid`` as in `costlab.pricing.add_price_tables`, from the
        same Arrow tables."""
        from costlab.pricing import PriceBook, price_tables

        book = book or PriceBook.load()
        pairs = self.execute(
            f"SELECT DISTINCT provider, model FROM {calls_from} "
            "WHERE span_kind IN ('llm', 'embedding') AND usage_scope = 'self' AND model IS NOT NULL "
            "UNION SELECT DISTINCT provider, model FROM usage WHERE model IS NOT NULL"
        ).fetchall()
        for name, table, cols in price_tables(book, [(p, m) for p, m in pairs]):
            self.register_arrow(name, table, cols)

    def store(self, name: str, select: str, scratch: Path) -> None:
        """Temp view ``name`` over the rows of ``select`` (DuckDB dialect), computed once.

        A local session writes them as Parquet under ``scratch`` (columnar, compressed, and each
        query reads only its columns); a cluster keeps them in its executors (localCheckpoint:
        ``scratch`` is the driver's disk, which executors cannot read)."""
        local = not self.settings.get("spark_remote") and str(self.settings.get("spark_master") or "local").startswith("local")
        if not local:
            self.execute(f"CREATE TABLE {name} AS {select}")
            return
        path = (scratch / name).as_uri()
        self.dataframe(select).write.mode("overwrite").parquet(path)
        self.spark.read.parquet(path).createOrReplaceTempView(name)

    def finish_report(self, metric_rows: Sequence[Any]) -> None:
        """The Spark-only end of the report builder's ``_prepare``: the attributed charges
        stored, and the metrics table."""
        # Spark inlines every CTE and view (no MATERIALIZED): the allocation reads this about
        # ten times (tests/test_spark.py: 177 scans -> 39 on the demo with both stored)
        self.execute("CREATE TABLE _report_charges_attributed AS SELECT * FROM charges_attributed")
        self.execute("CREATE OR REPLACE VIEW charges_attributed AS SELECT * FROM _report_charges_attributed")
        self.register_rows(
            "metrics",
            [("day", "DATE"), ("metric", "VARCHAR"), ("value", "DECIMAL(38,12)"), ("workflow", "VARCHAR")],
            [(r.day, r.metric, str(r.value), r.workflow) for r in metric_rows],
        )

    def register_attribution(self, rules: Any) -> None:
        """`costlab.attribution.add_attributed_views` on Spark."""
        from costlab.sql import load_sql

        self.register_rows(
            "attribution_rules", [("kind", "VARCHAR"), ("key", "VARCHAR"), ("value", "VARCHAR")], rules.rows()
        )
        self.execute(f"CREATE OR REPLACE VIEW charges_attributed AS {load_sql('views/charges_attributed')}")
        self.execute(f"CREATE OR REPLACE VIEW calls_attributed AS {rules.bind(load_sql('views/calls_attributed'))}")
        self.execute("CREATE OR REPLACE VIEW call_marks AS SELECT * FROM calls WHERE false")
        self.execute("CREATE OR REPLACE VIEW call_marks_attributed AS SELECT * FROM calls_attributed WHERE false")
        self.execute(load_sql("views/allocation_rows"))

