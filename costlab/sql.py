"""SQL files in ``queries/`` loaded by name, and the read-only guard for user SQL.

Folders: ``queries/<name>.sql`` is the public catalogue (`list_queries`, ``costlab queries``,
``costlab query NAME``); ``queries/analyze/`` holds the analyzers' own inputs (`analyzer_queries`,
loaded as ``analyze/<name>``), ``queries/views/`` the views costlab creates, and
``queries/fragments/`` the pieces the others include. In a wheel the folder is packaged as
``costlab/queries``; in a source checkout it is read from the repository root.

Every file starts with a header: comment lines before the first line of SQL (queries/README.md
has the full grammar, tests/test_sql_headers.py enforces it). The first line is a title (what
``costlab queries`` shows); then one line per key, ``-- key: text``, a long value continued on
lines indented by two or more spaces (``--   more text``). Keys, each at most once but ``allowed``:

* ``purpose:`` (required) what the query is for;
* ``parameters:`` (required) each ``$name`` placeholder the SQL uses, with its type and meaning
  (``$since TIMESTAMPTZ or NULL (inclusive)``), or ``none``; every ``$name`` written in this
  value is a declared parameter, and a parameter not given is NULL;
* ``grain:`` (required) what one row is;
* ``allowed:`` a parameter with a fixed set of values, ``-- allowed: policy = proportional | even``;
  any other value (or none) is refused before the query runs;
* ``columns:`` and ``notes:`` (optional) the output columns, rules and caveats.

A line ``-- include: fragments/<name>`` in the SQL is replaced by that fragment's SQL (without its
header), before the parameters are bound and on every path that reads a query (DuckDB, the Spark
transpiler, ``costlab export sql``); ``-- include: fragments/<name> | key = value | key2 = value2``
also replaces each ``{{key}}`` in the fragment by its value (every slot must be given, and only
those).

Named queries come from the catalogue only (`list_queries`); ``analyze/``, ``views/`` and
``fragments/`` are loaded by costlab's own code. Every named query and all user SQL run through
the same guard (`costlab.workspace.Workspace` applies it): `check_read_only` on the text, then a connection `lock_down` to the lake folder.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError, QueryNotFoundError, ReadOnlyError

if TYPE_CHECKING:
    import duckdb


def queries_root() -> Traversable:
    """The installed ``costlab/queries`` folder, else ``queries/`` beside the package source."""
    packaged = files("costlab").joinpath("queries")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "queries"


def list_queries() -> list[str]:
    """Names of the public catalogue: the ``.sql`` files directly in ``queries/``."""
    return _names(queries_root())


def analyzer_queries() -> list[str]:
    """Names of the analyzers' own queries, ``analyze/<name>`` (``queries/analyze/*.sql``): loaded by
    `load_sql`, never by ``costlab query``; exported and engine-tested with the catalogue."""
    return [f"analyze/{n}" for n in _names(queries_root().joinpath("analyze"))]


def _names(folder: Traversable) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".sql"))


_PART = re.compile(r"[A-Za-z0-9_]+")
#: folders of SQL that costlab's code loads (never a name given by a user)
INTERNAL_FOLDERS = ("analyze", "views", "fragments")
INCLUDE = "-- include:"
_INCLUDE_LINE = re.compile(r"\s*--\s*include:\s*(fragments/[A-Za-z0-9_]+)\s*((?:\|[^|]*)*)")
_SUBSTITUTION = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(\S.*?)\s*")
_SLOT = re.compile(r"\{\{([A-Za-z_]\w*)\}\}")


def load_query(name: str) -> str:
    """Text of the named query ``name``; only names in the catalogue (`list_queries`) are read,
    so a user's name can never reach ``analyze/``, ``views/``, ``fragments/`` or a file outside
    ``queries/``."""
    known = list_queries()
    if name not in known:
        raise QueryNotFoundError(name, known)
    return load_sql(name)


def load_sql(name: str) -> str:
    """Text of ``queries/<name>.sql`` for costlab's own code (``name`` may be ``analyze/<name>``,
    ``views/<name>`` or ``fragments/<name>``; user-given names go through `load_query`), with its
    ``-- include:`` lines expanded (`expand_includes`)."""
    return expand_includes(read_sql(name), name)


def read_sql(name: str) -> str:
    """The text of ``queries/<name>.sql`` as written (includes not expanded)."""
    parts = name.split("/")
    if not all(_PART.fullmatch(p) for p in parts) or (len(parts) > 1 and (len(parts) != 2 or parts[0] not in INTERNAL_FOLDERS)):
        raise QueryNotFoundError(name, list_queries())
    node: Traversable = queries_root()
    for part in parts[:-1]:
        node = node.joinpath(part)
    node = node.joinpath(f"{parts[-1]}.sql")
    if not node.is_file():
        raise QueryNotFoundError(name, list_queries())
    return node.read_text(encoding="utf-8")


def expand_includes(sql: str, name: str = "query", _within: tuple[str, ...] = ()) -> str:
    """``sql`` with each ``-- include: fragments/<f> [| key = value ...]`` line replaced by the
    fragment's SQL without its header, each ``{{key}}`` slot of it filled with its value.

    A fragment may include others, but not itself. A slot left unfilled, or a value for a slot the
    fragment does not have, is a `CostlabError` naming ``name``: a half-filled fragment never
    reaches a query."""
    lines = sql.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.lstrip().startswith(INCLUDE):
            continue
        m = _INCLUDE_LINE.fullmatch(line.rstrip("\r\n"))
        if not m:
            raise CostlabError(f"queries/{name}.sql: bad include line {line.strip()!r}; use -- include: fragments/NAME | key = value")
        values: dict[str, str] = {}
        for part in m.group(2).split("|")[1:]:
            sub = _SUBSTITUTION.fullmatch(part)
            if not sub or sub.group(1) in values:
                raise CostlabError(f"queries/{name}.sql: bad substitution {part.strip()!r} in {line.strip()!r}")
            values[sub.group(1)] = sub.group(2)
        if m.group(1) in (*_within, name):
            raise CostlabError(f"queries/{name}.sql: {m.group(1)} includes itself")
        fragment = expand_includes(read_sql(m.group(1)), m.group(1), (*_within, name)).splitlines(keepends=True)
        while fragment and fragment[0].startswith("--"):
            fragment.pop(0)
        body = "".join(fragment)
        slots = set(_SLOT.findall(body))
        if slots != set(values):
            raise CostlabError(
                f"queries/{name}.sql: {m.group(1)} takes {', '.join(sorted(slots)) or 'no substitutions'}; "
                f"given {', '.join(sorted(values)) or 'none'}"
            )
        lines[i] = _fill(body, values)
    return "".join(lines)


def _fill(body: str, values: Mapping[str, str]) -> str:
    return _SLOT.sub(lambda m: values[m.group(1)], body)


#: the keys of a header line ``-- key: text`` (queries/README.md); `REQUIRED_KEYS` in every file,
#: ``allowed`` once per parameter, the others at most once
HEADER_KEYS = ("purpose", "parameters", "grain", "allowed", "columns", "notes")
REQUIRED_KEYS = ("purpose", "parameters", "grain")
_KEY_LINE = re.compile(r"-- ([A-Za-z_][\w ]*?):(?:\s+(.*))?")
_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")


def header_fields(sql: str, name: str = "query") -> tuple[str, dict[str, list[str]]]:
    """The title and the keyed fields of a query's header (key -> its values, one per line
    ``-- key:``, continuation lines joined with spaces).

    Raises `CostlabError` naming ``name`` and the line on anything but the grammar: a header line
    that is neither a known ``-- key:`` line nor a continuation (``--`` then two or more spaces, or
    ``--`` alone), a continuation before the first key, a key given twice (but ``allowed``), a
    required key missing, or an empty value."""
    lines = list(_header_lines(sql))
    first = _KEY_LINE.fullmatch(lines[0].rstrip()) if lines else None
    if not lines or not lines[0][2:].strip() or not lines[0].startswith("-- ") or (first and first.group(1) in HEADER_KEYS):
        raise CostlabError(f"queries/{name}.sql: the header must start with a title line '-- text'")
    title = lines[0][3:].strip()
    out: dict[str, list[str]] = {}
    key: str | None = None
    for n, line in enumerate(lines[1:], start=2):
        if line.rstrip() == "--" or line.startswith("--  "):
            if key is None:
                raise CostlabError(f"queries/{name}.sql line {n}: a continuation line before the first key")
            out[key][-1] = (out[key][-1] + " " + line[2:].strip()).strip()
            continue
        m = _KEY_LINE.fullmatch(line.rstrip())
        if not m or m.group(1) not in HEADER_KEYS:
            what = repr(m.group(1)) if m else "no key"
            raise CostlabError(
                f"queries/{name}.sql line {n}: {what} is not a header key ({', '.join(HEADER_KEYS)}); "
                f"continue a value on a line indented by two spaces: {line.strip()!r}"
            )
        key = m.group(1)
        if key in out and key != "allowed":
            raise CostlabError(f"queries/{name}.sql line {n}: {key!r} given twice")
        out.setdefault(key, []).append((m.group(2) or "").strip())
    for k in REQUIRED_KEYS:
        if k not in out:
            raise CostlabError(f"queries/{name}.sql: the header has no {k!r} line")
    for k, values in out.items():
        if not all(values):
            raise CostlabError(f"queries/{name}.sql: {k!r} is empty")
    return title, out


def declared_parameters(sql: str, name: str = "query") -> set[str]:
    """The ``$name`` parameters a query's header declares (its ``parameters:`` value)."""
    return set(_PARAMETER.findall(" ".join(header_fields(sql, name)[1]["parameters"])))


def sql_literal(text: str) -> str:
    """Text as the inside of a SQL string literal (paths only; values go as parameters)."""
    return text.replace("'", "''")


def sql_list(items: list[str]) -> str:
    """A SQL list literal of paths: ``['a', 'b']``."""
    return "[" + ", ".join(f"'{sql_literal(i)}'" for i in items) + "]"


def header(name: str) -> str:
    """The leading comment block of a named query, without the ``--`` markers."""
    return "\n".join(line[2:].strip() for line in _header_lines(load_query(name)))


def _header_lines(sql: str) -> Iterator[str]:
    for line in sql.splitlines():
        if not line.startswith("--"):
            return
        yield line


_ALLOWED_LINE = re.compile(r"--\s*allowed:\s*([A-Za-z_]\w*)\s*=\s*(\S.*?)\s*$")


def allowed_values(sql: str) -> dict[str, tuple[str, ...]]:
    """The ``-- allowed: name = a | b | c`` lines of a query's header: parameter -> its values."""
    out: dict[str, tuple[str, ...]] = {}
    for line in _header_lines(sql):
        m = _ALLOWED_LINE.fullmatch(line)
        if m:
            out[m.group(1)] = tuple(v.strip() for v in m.group(2).split("|"))
    return out


def prepare_query(name: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A named query's text and checked values (`load_query`, `bind_parameters`), after the
    read-only check every named query gets before it runs, on either engine."""
    sql = load_query(name)
    bound = bind_parameters(name, sql, params)
    check_read_only(sql, f"query {name!r}")
    return sql, bound


def bind_parameters(name: str, sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values to bind for named query ``name`` (text ``sql``), checked: every name is a
    parameter the query uses, a parameter with an ``-- allowed:`` set has one of its values,
    ``since``/``until`` given as text are read like ``--since``; the rest default to NULL."""
    from costlab.periods import as_instant

    declared = _parameters(sql)
    given = dict(params or {})
    unknown = sorted(set(given) - declared)
    if unknown:
        raise CostlabError(
            f"query {name!r} has no parameter {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(declared)) or 'none'}"
        )
    allowed = allowed_values(sql)
    for key, values in allowed.items():  # a wrong value first: it is what the caller typed
        if given.get(key) is not None and given[key] not in values:
            raise CostlabError(f"query {name!r}: {key}={given[key]!r} is not allowed; use one of {', '.join(values)}")
    for key, values in allowed.items():
        if given.get(key) is None:
            raise CostlabError(f"query {name!r} needs {key}: one of {', '.join(values)} (-p {key}=VALUE)")
    for key in ("since", "until"):
        if isinstance(given.get(key), str):
            given[key] = as_instant(given[key], key)
    return {k: given.get(k) for k in declared}


def _parameters(sql: str) -> set[str]:
    """The ``$name`` parameters the statements of ``sql`` use."""
    import duckdb

    return {p for st in duckdb.extract_statements(sql) for p in st.named_parameters}


_ALLOWED = {"SELECT", "EXPLAIN"}


def check_read_only(sql: str, what: str = "`costlab sql`", hint: str = "") -> None:
    """Refuse anything but SELECT-like statements (no writes, ATTACH, INSTALL, COPY, SET...).

    ``EXPLAIN ANALYZE`` runs its statement, so an EXPLAIN is checked as the statement it explains.
    ``what`` names the caller in the error (``Workspace.sql``, ``query 'x'``), ``hint`` ends it.
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except (duckdb.Error, ValueError) as ex:  # ValueError: a statement type the binding lacks
        raise ReadOnlyError(f"cannot parse SQL: {str(ex).splitlines()[0]}") from None
    if not statements:
        raise ReadOnlyError("no SQL statement given")
    for st in statements:
        try:
            kind = str(st.type).rsplit(".", 1)[-1].upper()
        except ValueError:  # a statement type newer than the Python binding knows (UPDATE EXTENSIONS)
            kind = "UNKNOWN"
        if kind not in _ALLOWED:
            raise ReadOnlyError(f"{what} is read-only: {kind} statements are refused (use SELECT{hint})")
        if kind == "EXPLAIN":
            inner = _explained(st.query)
            if not inner.strip():
                raise ReadOnlyError("EXPLAIN of nothing")
            check_read_only(inner, what, hint)


def _explained(text: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE] [(options)]`` statement explains."""
    import duckdb

    tokens = [(pos, kind) for pos, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    i = 1  # past EXPLAIN
    if i < len(tokens) and text[tokens[i][0] :].upper().startswith(("ANALYZE", "ANALYSE")):
        i += 1
    if i < len(tokens) and text[tokens[i][0]] == "(":
        start, depth = i, 0
        while i < len(tokens):
            ch = text[tokens[i][0]]
            depth += (ch == "(") - (ch == ")")
            i += 1
            if depth == 0:
                break
        if i >= len(tokens):  # EXPLAIN (SELECT ...): the parentheses were the statement
            i = start
    return text[tokens[i][0] :] if i < len(tokens) else ""


def new_connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with costlab's session settings: UTC, no progress bar
    (noise in cron mail), and spills to a folder of its own directly under the system temp folder.

    Why the spill folder: DuckDB's default is ``.tmp`` in the current folder, so a report or an
    analyzer run past its memory cap wrote its spill files (27 MB for one analyzer under a 150 MB
    cap) into whatever folder the user ran costlab from, left there if the process was killed. DuckDB
    creates the folder when it first spills and removes it on close; every connection costlab
    opens starts here (ingest then points its spills at its own staging folder)."""
    import os
    import secrets

    import duckdb

    spill = Path(tempfile.gettempdir()) / f"costlab-spill-{os.getpid()}-{secrets.token_hex(4)}"
    con = duckdb.connect(":memory:", config={"temp_directory": str(spill)})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def parquet_scan(con: Any, files: list[str], options: str) -> tuple[str, set[str]]:
    """``read_parquet(files, options)`` and the names of the columns it gives.

    Why: with ``union_by_name`` DuckDB reads the footer of every file each time a statement
    over the scan is planned, and a report plans its views about a hundred times: 10.7 ms a
    statement over 61 day files against 1.7 ms without it, growing with the days the lake holds.
    Files written by one costlab share one schema, so it is asked for only when their schemas
    differ (a lake written partly by an older costlab, whose files lack a newer column: those
    read as NULL). Without it DuckDB takes the first file's columns and matches the others by
    name, so a file with a column the first lacks would lose it: hence the check, not a guess."""
    groups = con.execute(
        "SELECT count(DISTINCT s) FROM (SELECT file_name, string_agg(name || ' ' || coalesce(duckdb_type, type, '') "
        f"|| ' ' || repetition_type, ',' ORDER BY column_id) AS s FROM parquet_schema({sql_list(files)}) GROUP BY 1)"
    ).fetchall()[0][0]
    by_name = ", union_by_name = true" if groups != 1 else ""
    scan = f"read_parquet({sql_list(files)}, {options}{by_name})"
    return scan, {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}


def lock_down(con: duckdb.DuckDBPyConnection, lake_dir: Path, scratch: Path) -> None:
    """After the views exist: no file access outside the lake (and a scratch folder for spills),
    no extension installs or loads, no network, and no way to change that back.

    The views keep working because DuckDB checks paths when a query runs, against
    ``allowed_directories`` (the lake as given and with symlinks resolved: the views name its
    files by the first); ``read_csv('/etc/passwd')``, ``COPY ... TO '/tmp/x'``, ``ATTACH`` and
    ``https://`` URLs fail with a permission error.
    """
    dirs = sorted({str(d) + "/" for d in (lake_dir.absolute(), lake_dir.resolve(), scratch.absolute(), scratch.resolve())})
    con.execute("SET temp_directory = $d", {"d": str(scratch)})
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


@contextmanager
def locked_connection(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """``con`` (a connection with the lake's views, from `costlab.workspace.Workspace.connect`)
    after `lock_down` to ``lake_dir``, with its own scratch folder; closed on exit."""
    from costlab.lake import lake_file_errors

    with tempfile.TemporaryDirectory(prefix="costlab-sql-") as scratch, con as locked:
        lock_down(locked, lake_dir, Path(scratch))
        with lake_file_errors():
            yield locked


def frame_of(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | list[Any] | None) -> Any:
    """The result of ``sql`` on ``con`` as a polars DataFrame (empty when it returns nothing)."""
    import polars as pl

    rel = con.sql(sql, params=params) if params else con.sql(sql)
    return pl.DataFrame() if rel is None else rel.pl()
