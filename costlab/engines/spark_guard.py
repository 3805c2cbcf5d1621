"""What user SQL may do on Spark: the read-only guard for ``costlab sql --engine spark`` and
named queries on Spark (`costlab.engines.spark.SparkConnection.read_only`).

DuckDB refuses file and network access by configuration (`costlab.sql.lock_down`); Spark has no
such switch, and its SQL reaches the JVM (``java_method``, ``reflect``, ``try_reflect`` call any
static Java method), files (SQL on files, descriptor files) and the metastore. So every statement
that would reach Spark (after the DuckDB-dialect query is transpiled) is parsed again with
sqlglot's Spark dialect and checked on the tree, which sees through case, backticks, comments and
nesting in subqueries, CTEs and lambdas:

* the statement is a query (SELECT, set operations), no script ``TRANSFORM ... USING``;
* every function called is one of Spark's built-in functions (`SPARK_FUNCTIONS`) and not
  `DENIED`; function names are unqualified (``system.builtin.reflect`` is refused), and a
  function the tree does not know by name is refused too (an unknown name could be a metastore
  function from a JAR);
* every table is unqualified (no ``db.t``, ``parquet.`/path```) and, when the caller passes the
  session's temporary views, one of them or a CTE of the statement;
* as a second net, no word of the statement outside string literals is a `DENIED` name.

`SPARK_FUNCTIONS` is ``SHOW SYSTEM FUNCTIONS`` of Spark 4.3 (the pinned pyspark), operators
left out; regenerate it when the pin moves (a newer Spark's extra functions are refused until
then).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from costlab.errors import ReadOnlyError

#: Built-in functions that reach outside the lake, with the reason shown when one is refused.
DENIED = {
    **dict.fromkeys(("java_method", "reflect", "try_reflect"), "calls Java methods"),
    **dict.fromkeys(("from_protobuf", "to_protobuf"), "reads a descriptor file on the driver"),
    **dict.fromkeys(
        (
            "from_xml", "schema_of_xml", "xpath", "xpath_boolean", "xpath_double", "xpath_float",
            "xpath_int", "xpath_long", "xpath_number", "xpath_short", "xpath_string",
        ),
        "parses XML, which can name external entities",
    ),
    **dict.fromkeys(("current_user", "user", "session_user"), "tells the user the Spark process runs as"),
    "python_worker_logs": "reads the logs of Python workers",
    "identifier": "names a function or table by a string, out of the guard's sight",
}

SPARK_FUNCTIONS = frozenset(
    """
    abs acos acosh add_months aes_decrypt aes_encrypt aggregate and any any_value
    approx_count_distinct approx_percentile approx_top_k approx_top_k_accumulate
    approx_top_k_combine approx_top_k_estimate array array_agg array_append array_compact
    array_contains array_distinct array_except array_insert array_intersect array_join array_max
    array_min array_position array_prepend array_remove array_repeat array_size array_sort
    array_union arrays_overlap arrays_zip ascii asin asinh assert_true atan atan2 atanh avg base64
    between bigint bin binary bit_and bit_count bit_get bit_length bit_or bit_xor bitmap_and_agg
    bitmap_bit_position bitmap_bucket_number bitmap_construct_agg bitmap_count bitmap_or_agg
    bool_and bool_or boolean bround btrim cardinality case cast cbrt ceil ceiling char char_length
    character_length chr coalesce collate collation collations collect_list collect_set
    collect_union concat concat_ws contains conv convert_timezone corr cos cosh cot count count_if
    count_min_sketch counter_diff covar_pop covar_samp crc32 csc cume_dist curdate current_catalog
    current_database current_date current_path current_schema current_time current_timestamp
    current_timezone date date_add date_diff date_format date_from_unix_date date_part date_sub
    date_trunc dateadd datediff datepart day dayname dayofmonth dayofweek dayofyear decimal decode
    degrees dense_rank div double e element_at elt encode endswith equal_null every exists exp
    explode explode_outer expm1 extract factorial filter find_in_set first first_value flatten float
    floor forall format_number format_string from_avro from_base32 from_csv from_json from_unixtime
    from_utc_timestamp get get_json_object getbit greatest grouping grouping_id hash hex
    histogram_numeric hll_sketch_agg hll_sketch_estimate hll_union hll_union_agg hmac hour hypot if
    ifnull ilike in initcap inline inline_outer input_file_block_length input_file_block_start
    input_file_name instr int is_valid_utf8 is_valid_variant is_variant_null isnan isnotnull isnull
    jaro_winkler_similarity json_array_length json_object_keys json_tuple kll_merge_agg_bigint
    kll_merge_agg_double kll_merge_agg_float kll_sketch_agg_bigint kll_sketch_agg_double
    kll_sketch_agg_float kll_sketch_get_n_bigint kll_sketch_get_n_double kll_sketch_get_n_float
    kll_sketch_get_quantile_bigint kll_sketch_get_quantile_double kll_sketch_get_quantile_float
    kll_sketch_get_rank_bigint kll_sketch_get_rank_double kll_sketch_get_rank_float
    kll_sketch_merge_bigint kll_sketch_merge_double kll_sketch_merge_float
    kll_sketch_to_string_bigint kll_sketch_to_string_double kll_sketch_to_string_float kurtosis lag
    last last_day last_value lcase lead least left len length levenshtein like listagg ln localtime
    localtimestamp locate log log10 log1p log2 lower lpad ltrim luhn_check make_date
    make_dt_interval make_interval make_time make_timestamp make_timestamp_ltz make_timestamp_ntz
    make_valid_utf8 make_ym_interval map map_concat map_contains_key map_entries map_filter
    map_from_arrays map_from_entries map_keys map_values map_zip_with mask max max_by md5 mean
    measure median min min_by minute mod mode monotonically_increasing_id month monthname
    months_between named_struct nanvl negative next_day not now nth_value ntile nullif nullifzero
    nvl nvl2 octet_length or overlay parse_json parse_url percent_rank percentile percentile_approx
    percentile_cont percentile_disc pi pmod posexplode posexplode_outer position positive pow power
    printf quarter quote radians raise_error rand randn random randstr range rank reduce regexp
    regexp_count regexp_extract regexp_extract_all regexp_instr regexp_like regexp_replace
    regexp_substr regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy
    regr_syy repeat replace reverse right rint rlike round row_number rpad rtrim schema_of_avro
    schema_of_csv schema_of_json schema_of_variant schema_of_variant_agg sec second sentences
    sequence session_window sha sha1 sha2 shiftleft shiftright shiftrightunsigned shuffle sign
    signum sin sinh size skewness slice smallint some sort_array soundex space spark_partition_id
    split split_part sql_keywords sqrt st_asbinary st_geogfromwkb st_geomfromwkb st_setsrid st_srid
    stack startswith std stddev stddev_pop stddev_samp str_to_map string string_agg struct substr
    substring substring_index sum tan tanh theta_difference theta_intersection
    theta_intersection_agg theta_sketch_agg theta_sketch_estimate theta_union theta_union_agg time
    time_bucket time_diff time_from_micros time_from_millis time_from_seconds time_to_micros
    time_to_millis time_to_seconds time_trunc timestamp timestamp_micros timestamp_millis
    timestamp_nanos timestamp_seconds tinyint to_avro to_base32 to_binary to_char to_csv to_date
    to_json to_number to_time to_timestamp to_timestamp_ltz to_timestamp_ntz to_unix_timestamp
    to_utc_timestamp to_varchar to_variant_object to_xml transform transform_keys transform_values
    translate trim trunc try_add try_aes_decrypt try_avg try_divide try_element_at try_make_interval
    try_make_timestamp try_make_timestamp_ltz try_make_timestamp_ntz try_mod try_multiply
    try_parse_json try_parse_url try_subtract try_sum try_to_binary try_to_date try_to_number
    try_to_time try_to_timestamp try_url_decode try_validate_utf8 try_variant_array_append
    try_variant_get try_variant_insert try_variant_set tuple_difference_double
    tuple_difference_integer tuple_difference_theta_double tuple_difference_theta_integer
    tuple_intersection_agg_double tuple_intersection_agg_integer tuple_intersection_double
    tuple_intersection_integer tuple_intersection_theta_double tuple_intersection_theta_integer
    tuple_sketch_agg_double tuple_sketch_agg_integer tuple_sketch_estimate_double
    tuple_sketch_estimate_integer tuple_sketch_summary_double tuple_sketch_summary_integer
    tuple_sketch_theta_double tuple_sketch_theta_integer tuple_union_agg_double
    tuple_union_agg_integer tuple_union_double tuple_union_integer tuple_union_theta_double
    tuple_union_theta_integer typeof ucase unbase64 unhex uniform unix_date unix_micros unix_millis
    unix_nanos unix_seconds unix_timestamp upper url_decode url_encode uuid validate_utf8 var_pop
    var_samp variance variant_array_append variant_delete variant_explode variant_explode_outer
    variant_get variant_insert variant_set variant_strip_nulls vector_avg vector_cosine_similarity
    vector_inner_product vector_l2_distance vector_norm vector_normalize vector_sum version weekday
    weekofyear when width_bucket window window_time xxhash64 year zeroifnull zip_with
    """.split()
) | {"try_cast"}  # syntax the generator writes as a call (CAST is in the list)


def check_spark_sql(statement: str, tables: Collection[str] | None = None) -> None:
    """Refuse a Spark SQL statement that could reach outside the lake (rules in the module doc).

    ``tables``: the temporary views the statement may read (case-insensitive); None skips that
    check (the names are then left to Spark, which has only the lake's views in a local session).
    """
    import sqlglot
    from sqlglot import exp

    from costlab.engines.transpile import Spark4

    try:
        trees = [t for t in sqlglot.parse(statement, read=Spark4) if t is not None]
    except sqlglot.errors.SqlglotError as ex:
        raise ReadOnlyError(f"Spark: cannot check the query ({str(ex).splitlines()[0]}); refused") from None
    for tree in trees:
        if not isinstance(tree, exp.Query):
            raise ReadOnlyError(f"Spark: only queries are allowed, not {tree.key.upper()}")
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for node in tree.walk():
            if isinstance(node, exp.Command):
                raise ReadOnlyError("Spark: only queries are allowed; refused")
            if isinstance(node, exp.QueryTransform):
                raise ReadOnlyError("Spark: TRANSFORM ... USING runs a program; refused")
            if isinstance(node, exp.Func):
                _check_function(node)
            elif isinstance(node, exp.Column) and not node.table and node.name.lower() in BARE_FUNCTIONS:
                raise ReadOnlyError(
                    f"Spark: a bare {node.name!r} is the user Spark runs as when no column has that "
                    "name; qualify the column (g.user) or rename it"
                )
            elif isinstance(node, exp.Table):
                _check_table(node, None if tables is None else {t.lower() for t in tables} | ctes)
    _check_words(statement)


#: denied functions Spark also resolves as a bare word when no column has that name
BARE_FUNCTIONS = frozenset({"user", "current_user", "session_user"})
_CALL = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`?(?:\(|$)")


def _function_name(node: Any) -> str | None:
    """The name Spark resolves for a function node (None: syntax, not a call by name)."""
    from sqlglot import exp

    from costlab.engines.transpile import Spark4

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Binary | exp.Unary):
        return None
    m = _CALL.match(node.sql(dialect=Spark4))
    return m.group(1).lower() if m else None


def _check_function(node: Any) -> None:
    from sqlglot import exp

    name = _function_name(node)
    if name is None:
        return
    if isinstance(node.parent, exp.Dot) and node.parent.expression is node:
        raise ReadOnlyError(f"Spark: qualified function name {node.parent.sql()[:60]!r} refused; call built-ins by name")
    if name in DENIED:
        raise ReadOnlyError(f"Spark: {name}() {DENIED[name]}; refused")
    if name not in SPARK_FUNCTIONS:
        raise ReadOnlyError(f"Spark: {name}() is not one of Spark's built-in functions; refused")


def _check_table(node: Any, allowed: set[str] | None) -> None:
    from sqlglot import exp

    if node.args.get("db") is not None or node.args.get("catalog") is not None:
        raise ReadOnlyError(f"Spark: table {node.sql()[:80]!r} is outside the lake's views; refused")
    if isinstance(node.this, exp.Func) or allowed is None:
        return  # a table function: checked as a function
    if node.name.lower() not in allowed:
        raise ReadOnlyError(f"Spark: table {node.name[:80]!r} is not one of the lake's views; refused")


def _check_words(statement: str) -> None:
    """No identifier of the statement (quoted or not, outside string literals) is a denied name
    (the bare-word functions are column names too: they are checked on the tree)."""
    from sqlglot.tokens import TokenType

    from costlab.engines.transpile import Spark4

    for token in Spark4().tokenize(statement):
        if token.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING):
            continue
        if token.text.lower() in DENIED and token.text.lower() not in BARE_FUNCTIONS:
            raise ReadOnlyError(f"Spark: {token.text.lower()} {DENIED[token.text.lower()]}; refused")
