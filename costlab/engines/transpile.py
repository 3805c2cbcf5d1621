"""DuckDB-dialect SQL from ``queries/`` to another engine's dialect, with sqlglot.

The queries stay in one dialect (DuckDB's). This module turns a query into another dialect:

* ``$name`` parameters become typed literals built as sqlglot nodes (strings are quoted by the
  generator, never formatted into the text), so the result runs without a driver's parameters;
* table macros (``allocation_rows(...)`` in queries/views/allocation_rows.sql) are inlined as a
  subquery with their arguments substituted, since only DuckDB has table macros;
* DuckDB semantics that other engines type differently are made explicit: ``/`` is floating
  point division in DuckDB (DECIMAL / DECIMAL gives DOUBLE), so both operands are cast to DOUBLE;
  ``avg`` likewise; ``timezone('UTC', ts)`` (the UTC wall clock of a TIMESTAMPTZ) becomes a cast
  to TIMESTAMP_NTZ on Spark, whose session time zone is UTC; ``hash`` becomes the 64-bit
  ``xxhash64`` (Spark's ``hash`` is 32 bits: too many collisions for prompt-prefix ids);
  DuckDB's ``from_json(text, '["json"]')`` (a JSON array as a list of JSON values) gets the
  target's own spelling (`_from_json`).

``Spark4`` is sqlglot's Spark dialect with what Spark 4.x has natively: ``QUALIFY`` and ``TIME``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp, transforms
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator

from costlab.errors import CostlabError

DIALECTS = ("spark", "databricks", "trino", "bigquery", "snowflake", "duckdb")


class Spark4(Spark):
    """Spark SQL 4.x: keeps QUALIFY and the TIME type (``spark.sql.timeType.enabled``)."""

    class Generator(SparkGenerator):
        TYPE_MAPPING = {**SparkGenerator.TYPE_MAPPING, exp.DType.TIME: "TIME"}
        TRANSFORMS = {
            **SparkGenerator.TRANSFORMS,
            exp.Select: transforms.preprocess(
                [
                    transforms.eliminate_distinct_on,
                    transforms.unnest_to_explode,
                    transforms.any_to_exists,
                ]
            ),
        }


def _write(dialect: str) -> Any:
    return Spark4 if dialect == "spark" else dialect


_MACRO = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?MACRO\s+(\w+)\s*\(([^)]*)\)\s+AS\s+TABLE\s+(.*)", re.I | re.S
)


class Macro:
    """A DuckDB table macro: name, parameter names and body (a SELECT)."""

    def __init__(self, text: str) -> None:
        m = _MACRO.search(_strip_comments(text))
        if not m:
            raise CostlabError("not a table macro (CREATE MACRO name(args) AS TABLE ...)")
        self.name = m.group(1).lower()
        self.params = [p.strip().lower() for p in m.group(2).split(",") if p.strip()]
        self.body = sqlglot.parse_one(m.group(3).strip().rstrip(";"), read="duckdb")

    def expand(self, args: list[exp.Expression]) -> exp.Expression:
        if len(args) != len(self.params):
            raise CostlabError(f"{self.name}: {len(self.params)} arguments expected, got {len(args)}")
        bound = dict(zip(self.params, args, strict=True))

        def sub(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table and node.name.lower() in bound:
                return bound[node.name.lower()].copy()
            return node

        return self.body.copy().transform(sub)


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def literal(value: Any) -> Any:
    """A typed SQL literal node for a Python value (quoting is the generator's job)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, Decimal):
        digits = len(value.as_tuple().digits)
        scale = max(0, -int(value.as_tuple().exponent))
        return exp.cast(exp.Literal.number(str(value)), f"DECIMAL({max(digits, scale, 1)}, {scale})")
    if isinstance(value, float):
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CostlabError(f"parameter {value!r}: a timestamp needs a time zone")
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DType.TIMESTAMPTZ)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DType.DATE)
    if isinstance(value, time):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DType.TIME)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise CostlabError(f"parameter of type {type(value).__name__} cannot be bound; pass str, number, date or None")


def _bind(node: exp.Expression, params: Mapping[str, Any]) -> Any:
    if isinstance(node, exp.Placeholder | exp.Parameter) and node.name:
        if node.name not in params:
            raise CostlabError(f"query parameter ${node.name} has no value")
        return literal(params[node.name])
    return node


def _is_utc_clock(node: exp.Expression) -> exp.Expression | None:
    """``timezone('UTC', x)`` -> x (DuckDB parses it as a function or AT TIME ZONE)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2:
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            return value
    if isinstance(node, exp.AtTimeZone):
        zone = node.args.get("zone")
        if isinstance(zone, exp.Literal) and zone.this.upper() == "UTC":
            return node.this
    return None


def _double(e: exp.Expression) -> Any:
    return exp.cast(e, exp.DType.DOUBLE)


def _semantics(node: exp.Expression, dialect: str) -> Any:
    if isinstance(node, exp.Div) and not isinstance(node, exp.IntDiv):
        node.set("this", _double(node.this))
        node.set("expression", _double(node.expression))
        return node
    if isinstance(node, exp.Avg):
        node.set("this", _double(node.this))
        return node
    if isinstance(node, exp.FromJson):
        return _from_json(node, dialect)
    if dialect == "spark":
        inner = _is_utc_clock(node)
        if inner is not None:
            return exp.cast(inner, exp.DType.TIMESTAMPNTZ)
        if isinstance(node, exp.CTE):
            node.set("materialized", None)  # Spark has no MATERIALIZED hint
        if isinstance(node, exp.Filter) and _is_ordered_agg(node.this):
            return _ordered_agg(node.this, node.expression.this)
        if _is_ordered_agg(node):
            return _ordered_agg(node)
        if isinstance(node, exp.Select) and node.args.get("windows"):
            _inline_windows(node)
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
            idx = node.expressions[0]
            if not (isinstance(idx, exp.Literal) and idx.is_string):  # an array, not a map
                # DuckDB: out of range is NULL; Spark's [] fails under ANSI, GET gives NULL.
                # sqlglot made literal indexes 0-based while parsing; others are still 1-based.
                offset = isinstance(idx, exp.Add) and idx.expression.sql() in ("-1", "CAST(-1 AS BIGINT)")
                zero = idx if isinstance(idx, exp.Literal) or offset else exp.Sub(this=idx, expression=exp.Literal.number(1))
                inner = node.this.transform(lambda n: _semantics(n, dialect))  # not revisited
                return exp.func("get", inner, zero.transform(lambda n: _semantics(n, dialect)))
        if isinstance(node, exp.Anonymous):
            fn = _SPARK_FUNCS.get(node.name.lower())
            if fn is not None:
                args = ", ".join(a.sql(dialect=Spark4) for a in node.expressions)
                return sqlglot.parse_one(fn.format(*[f"({a.sql(dialect=Spark4)})" for a in node.expressions], args=args), read=Spark4)
        if isinstance(node, exp.Lag | exp.Lead):
            off = node.args.get("offset")
            if isinstance(off, exp.Cast) and isinstance(off.this, exp.Literal):
                node.set("offset", off.this)  # Spark wants a literal offset
        if isinstance(node, exp.RegexpReplace):
            flags = node.args.get("modifiers")
            pattern = node.expression
            text = flags.this if isinstance(flags, exp.Literal) else ""
            if "i" in text and isinstance(pattern, exp.Literal):
                node.set("expression", exp.Literal.string("(?i)" + pattern.this))
            if "g" not in text and not (
                isinstance(pattern, exp.Literal) and (pattern.this.startswith("^") or pattern.this.endswith("$"))
            ):
                raise CostlabError("regexp_replace without 'g' on an unanchored pattern replaces once in DuckDB only")
            node.set("modifiers", None)
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.func("percentile", node.this, node.expression)
    return node


def _json_shape(shape: Any, json_as: str) -> exp.DataType:
    """A DuckDB ``from_json`` structure (``"json"``, a type name, ``[shape]``, ``{key: shape}``)
    as a SQL type; a JSON value becomes ``json_as`` (Spark: STRING, which holds the value's JSON
    text)."""
    if isinstance(shape, str):
        return exp.DataType.build(json_as if shape.lower() == "json" else shape, dialect="duckdb")
    if isinstance(shape, list) and len(shape) == 1:
        return exp.DataType(this=exp.DType.ARRAY, expressions=[_json_shape(shape[0], json_as)], nested=True)
    if isinstance(shape, dict) and shape:
        fields = [exp.ColumnDef(this=exp.to_identifier(k), kind=_json_shape(v, json_as)) for k, v in shape.items()]
        return exp.DataType(this=exp.DType.STRUCT, expressions=fields, nested=True)
    raise ValueError(shape)


def _from_json(node: exp.FromJson, dialect: str) -> Any:
    """DuckDB's ``from_json(text, structure)`` in ``dialect``: Spark's ``from_json`` takes a DDL
    schema (``'["json"]'`` -> ``'ARRAY<STRING>'``: each element's JSON text, as Spark renders a
    non-string value read as STRING); Trino casts the parsed JSON (``ARRAY(JSON)``); BigQuery has
    ``JSON_EXTRACT_ARRAY`` for a list of JSON. Anything else is marked for review."""
    import json

    shape = node.expression
    try:
        structure = json.loads(shape.this) if isinstance(shape, exp.Literal) and shape.is_string else None
        spark_type = _json_shape(structure, "STRING") if structure is not None else None
    except (ValueError, sqlglot.errors.ParseError):
        structure = spark_type = None
    if spark_type is not None and dialect in ("spark", "databricks"):
        node.set("expression", exp.Literal.string(spark_type.sql(dialect=Spark4)))
        return node
    if structure is not None and dialect == "trino":
        return exp.cast(exp.ParseJSON(this=node.this), _json_shape(structure, "JSON"))
    if structure == ["json"] and dialect == "bigquery":
        return exp.Anonymous(this="JSON_EXTRACT_ARRAY", expressions=[node.this])
    if dialect == "spark":
        raise CostlabError(f"from_json with structure {shape.sql()} does not transpile to Spark")
    node.add_comments([f"costlab: review: DuckDB from_json(.., {shape.sql()}) has no {dialect} form here"])
    return node


#: DuckDB functions Spark lacks, as Spark SQL templates over the arguments ({0}, {1}...).
_SPARK_FUNCS = {
    "isfinite": "(NOT ISNAN({0}) AND ABS({0}) <> CAST('Infinity' AS DOUBLE))",
    # DuckDB's list_sum skips NULLs and is NULL for an empty list
    "list_sum": "CASE WHEN SIZE(FILTER({0}, _x -> _x IS NOT NULL)) > 0 THEN "
    "AGGREGATE(FILTER({0}, _x -> _x IS NOT NULL), CAST(0 AS BIGINT), (_a, _x) -> _a + _x) END",
    # 64-bit (Spark's HASH is 32-bit murmur3), sign bit dropped: ids stay non-negative like
    # DuckDB's UBIGINT hash (the cache replay reads them as unsigned)
    "hash": "(XXHASH64({args}) & 9223372036854775807)",
}


def _inline_windows(select: exp.Select) -> None:
    """``OVER w ... WINDOW w AS (...)`` -> the spec written out at each use (Spark refuses a
    named window with a frame for lag/lead)."""
    named = {w.this.name: w for w in select.args["windows"]}
    for win in select.find_all(exp.Window):
        alias = win.args.get("alias")
        if alias is not None and alias.name in named and win.args.get("over"):
            spec = named[alias.name]
            win.set("alias", None)
            win.set("partition_by", [p.copy() for p in spec.args.get("partition_by") or []])
            if spec.args.get("order") is not None:
                win.set("order", spec.args["order"].copy())
            if spec.args.get("spec") is not None:
                win.set("spec", spec.args["spec"].copy())
    select.set("windows", None)


def _is_ordered_agg(node: exp.Expression) -> bool:
    return isinstance(node, exp.ArrayAgg | exp.GroupConcat | exp.First) and isinstance(node.this, exp.Order)


def _ordered_agg(node: exp.Expression, where: exp.Expression | None = None) -> Any:
    """DuckDB's ordered aggregates (``list(x ORDER BY k)``, ``first(x ORDER BY k)``,
    ``string_agg(DISTINCT x, ', ' ORDER BY x)``) as Spark array functions: collect the values
    with their keys, ``array_sort``, keep the values. Ascending keys only."""
    order = node.this
    value = order.this
    keys = order.expressions
    if any(k.args.get("desc") for k in keys):
        raise CostlabError("ordered aggregate with DESC keys does not transpile to Spark; sort ascending")

    def sp(e: exp.Expression) -> str:
        return e.sql(dialect=Spark4)

    if isinstance(value, exp.Distinct):
        inner = value.expressions[0]
        if len(keys) != 1 or keys[0].this != inner:
            raise CostlabError("DISTINCT ordered aggregate must order by its own value to transpile")
        val = sp(inner) if where is None else f"CASE WHEN {sp(where)} THEN {sp(inner)} END"
        arr = f"ARRAY_SORT(COLLECT_SET({val}))"
    else:
        fields = ", ".join(f"{sp(k.this)} AS _k{i}" for i, k in enumerate(keys))
        val = f"STRUCT({fields}, {sp(value)} AS _v)"
        if where is not None:
            val = f"CASE WHEN {sp(where)} THEN {val} END"
        arr = f"TRANSFORM(ARRAY_SORT(COLLECT_LIST({val})), _e -> _e._v)"
    # no rows (or all filtered out): NULL as in DuckDB, not an empty list or ''
    if isinstance(node, exp.First):
        text = f"GET({arr}, 0)"
    elif isinstance(node, exp.GroupConcat):
        sep = node.args.get("separator")
        joined = f"ARRAY_JOIN({arr}, {sp(sep) if sep is not None else chr(39) + ',' + chr(39)})"
        text = f"CASE WHEN SIZE({arr}) > 0 THEN {joined} END"
    else:
        text = f"CASE WHEN SIZE({arr}) > 0 THEN {arr} END"
    return sqlglot.parse_one(text, read=Spark4)


def transpile(
    sql: str,
    dialect: str,
    params: Mapping[str, Any] | None = None,
    macros: Mapping[str, Macro] | None = None,
    pretty: bool = False,
    strict: bool = True,
) -> list[str]:
    """``sql`` (DuckDB dialect, one or more statements) as statements of ``dialect``.

    With ``params`` the ``$name`` placeholders are bound as literals; without, they stay
    placeholders (export)."""
    if dialect not in DIALECTS:
        raise CostlabError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as ex:
        raise CostlabError(f"cannot parse SQL: {str(ex).splitlines()[0]}") from None
    macros = macros or {}
    out = []
    for tree in trees:
        if macros:
            tree = tree.transform(lambda n: _inline(n, macros))
        if params is not None:
            tree = tree.transform(lambda n: _bind(n, params))
        if dialect != "duckdb":
            tree = tree.transform(lambda n: _semantics(n, dialect))
        try:
            out.append(
                tree.sql(dialect=_write(dialect), pretty=pretty, unsupported_level=sqlglot.ErrorLevel.RAISE)
            )
        except sqlglot.errors.UnsupportedError as ex:
            if strict:
                raise CostlabError(f"does not transpile to {dialect}: {str(ex).splitlines()[0]}") from None
            note = " ".join(str(ex).split())
            text = tree.sql(dialect=_write(dialect), pretty=pretty, unsupported_level=sqlglot.ErrorLevel.IGNORE)
            out.append(f"/* costlab: review: sqlglot could not keep {note!r} */\n{text}")
    return out


def _inline(node: exp.Expression, macros: Mapping[str, Macro]) -> exp.Expression:
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
        macro = macros.get(node.this.name.lower())
        if macro is not None:
            body = macro.expand(list(node.this.expressions))
            alias = node.alias or macro.name
            return exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    return node
