"""SQL files in ``queries/`` loaded by name, and the read-only guard for user SQL.

Each ``queries/<name>.sql`` starts with a comment block giving its purpose, parameters
(``$name`` placeholders, passed as a dict) and grain; a parameter with a fixed set of values
declares it on one line, ``-- allowed: policy = proportional | even | tag | none``, and any other
value (or none) is refused before the query runs. In a wheel the folder is packaged as
``costlab/queries``; in a source checkout it is read from the repository root.

Named queries come from the catalogue only (`list_queries`: the ``.sql`` files directly in
``queries/``); ``views/`` and ``fragments/`` are loaded by costlab's own code. Every named query
and all user SQL run through the same guard (`costlab.workspace.Workspace` applies it):
`check_read_only` on the text, then a connection `lock_down` to the lake folder.
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
    """Names of the named queries (views/ excluded)."""
    root = queries_root()
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".sql"))


_PART = re.compile(r"[A-Za-z0-9_]+")
#: folders of SQL that costlab's code loads (never a name given by a user)
INTERNAL_FOLDERS = ("views", "fragments")


def load_query(name: str) -> str:
    """Text of the named query ``name``; only names in the catalogue (`list_queries`) are read,
    so a user's name can never reach ``views/``, ``fragments/`` or a file outside ``queries/``."""
    known = list_queries()
    if name not in known:
        raise QueryNotFoundError(name, known)
    return load_sql(name)


def load_sql(name: str) -> str:
    """Text of ``queries/<name>.sql`` for costlab's own code (``name`` may be ``views/<name>`` or
    ``fragments/<name>``; user-given names go through `load_query`).

    A line ``-- include: fragments/<name>`` is replaced by that fragment's SQL (without its
    header comment): how the cost formula is written once for calls and provider usage."""
    parts = name.split("/")
    if not all(_PART.fullmatch(p) for p in parts) or (len(parts) > 1 and (len(parts) != 2 or parts[0] not in INTERNAL_FOLDERS)):
        raise QueryNotFoundError(name, list_queries())
    node: Traversable = queries_root()
    for part in parts[:-1]:
        node = node.joinpath(part)
    node = node.joinpath(f"{parts[-1]}.sql")
    if not node.is_file():
        raise QueryNotFoundError(name, list_queries())
    lines = node.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith(INCLUDE):
            fragment = load_sql(line.split(INCLUDE, 1)[1].strip()).splitlines(keepends=True)
            while fragment and fragment[0].startswith("--"):
                fragment.pop(0)
            lines[i] = "".join(fragment)
    return "".join(lines)


INCLUDE = "-- include:"


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
    ``what`` names the caller in the error (``Lake.sql``, ``query 'x'``), ``hint`` ends it.
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
