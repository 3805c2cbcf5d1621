"""``costlab export sql``: the queries and the lake's table definitions in another dialect.

For teams whose billing data already lives in a warehouse (CUR in Athena, billing exports in
BigQuery, Snowflake, Databricks): the same views and named queries, transpiled from DuckDB's
dialect by sqlglot, with the table macro behind the allocation inlined. A construct sqlglot
cannot carry over exactly is exported with a ``/* costlab: review: ... */`` comment naming it
(BigQuery: DuckDB's NULLS LAST inside an ordered ``first()``). ``$name`` parameters
stay placeholders in the target's syntax (``@since`` in BigQuery, ``:since`` in Spark...).
The files, in the order to run them: ``00_tables.sql`` (the stored tables' columns, the price
and rule tables costlab fills from Python: load them with your own pipeline),
``10_views.sql``, then one file per named query (the catalogue, then the analyzers' inputs).
"""

from __future__ import annotations

from pathlib import Path

from costlab import schema
from costlab.attribution import AttributionRules
from costlab.engines.transpile import DIALECTS, Macro, transpile
from costlab.errors import CostlabError

VIEWS = (
    "call_keys",
    "call_facts",
    "calls",
    "usage_priced",
    "charges_llm",
    "reconciliation_facts",
    "charges_attributed",
    "calls_attributed",
    "analyze_calls",
    "analyze_spans",
    "analyze_prompts",
)
EXPORT_DIALECTS = tuple(d for d in DIALECTS if d != "duckdb")


def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Every table the views read, with DuckDB types: the lake's (partition columns included),
    the price tables (`costlab.pricing`), the attribution rules and the metrics."""
    from costlab.pricing import GRID_COLUMNS, MAP_COLUMNS, PRICE_COLUMNS

    out = {t: schema.TABLES[t] + schema.TABLE_PARTITIONS[t] for t in schema.TABLES}
    out["prices"] = list(PRICE_COLUMNS)
    out["model_prices"] = list(MAP_COLUMNS)
    out["price_grid"] = list(GRID_COLUMNS)
    out["attribution_rules"] = [("kind", "VARCHAR"), ("key", "VARCHAR"), ("value", "VARCHAR")]
    out["metrics"] = [("day", "DATE"), ("metric", "VARCHAR"), ("value", "DECIMAL(38,12)"), ("workflow", "VARCHAR")]
    return out


def export_sql(dialect: str, output: Path | None = None) -> dict[str, str]:
    """File name -> SQL text in ``dialect``; written under ``output`` when given."""
    from costlab.sql import analyzer_queries, list_queries, load_sql

    dialect = dialect.lower()
    if dialect not in EXPORT_DIALECTS:
        raise CostlabError(f"unknown dialect {dialect!r}; use one of {', '.join(EXPORT_DIALECTS)}")
    macros = {"allocation_rows": Macro(load_sql("views/allocation_rows"))}
    head = f"-- costlab queries for {dialect}, transpiled from DuckDB SQL by sqlglot (costlab export sql)\n"
    tables = []
    for name, cols in table_columns().items():
        body = ", ".join(f"{c} {t}" for c, t in cols)
        tables += transpile(f"CREATE TABLE IF NOT EXISTS {name} ({body})", dialect, pretty=True)
    files = {"00_tables.sql": head + ";\n\n".join(tables) + ";\n"}
    views = []
    default = AttributionRules()  # calls_attributed: the default ticket pattern, edit it there
    for view in VIEWS:
        views += transpile(
            f"CREATE OR REPLACE VIEW {view} AS {_body(default.bind(load_sql('views/' + view)))}",
            dialect, macros=macros, pretty=True, strict=False,
        )  # fmt: skip
    files["10_views.sql"] = head + ";\n\n".join(views) + ";\n"
    for i, name in enumerate(list_queries() + analyzer_queries()):
        text = load_sql(name)
        header = "".join(line + "\n" for line in text.splitlines() if line.startswith("--"))
        try:
            stmts = transpile(_body(text), dialect, macros=macros, pretty=True, strict=False)
        except CostlabError as ex:
            raise CostlabError(f"queries/{name}.sql: {ex}") from None
        files[f"{20 + i:02d}_{name.replace('/', '_')}.sql"] = head + header + ";\n".join(stmts) + ";\n"
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for fname, text in files.items():
            (output / fname).write_text(text, encoding="utf-8")
    return files


def _body(text: str) -> str:
    """SQL without its leading comment block and trailing semicolon."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip().rstrip(";")
