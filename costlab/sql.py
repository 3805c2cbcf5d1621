"""SQL files in ``queries/`` loaded by name, and the read-only guard for user SQL.

Each ``queries/<name>.sql`` starts with a comment block giving its purpose, parameters
(``$name`` placeholders, passed as a dict) and grain. In a wheel the folder is packaged as
``costlab/queries``; in a source checkout it is read from the repository root.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError, QueryNotFoundError, ReadOnlyError

if TYPE_CHECKING:
    import duckdb

    from costlab.lake import Lake


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


def load_sql(name: str) -> str:
    """Text of ``queries/<name>.sql`` (``name`` may contain ``/``, e.g. ``views/calls``).

    A line ``-- include: fragments/<name>`` is replaced by that fragment's SQL (without its
    header comment): how the cost formula is written once for calls and provider usage."""
    node: Traversable = queries_root()
    for part in f"{name}.sql".split("/"):
        node = node.joinpath(part)
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


def header(name: str) -> str:
    """The leading comment block of a named query, without the ``--`` markers."""
    lines = []
    for line in load_sql(name).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines)


def run_query(lake: Lake, name: str, params: dict[str, Any] | None = None) -> Any:
    """Run a named query over ``lake``; returns a polars DataFrame.

    Values are bound as parameters, never formatted into the SQL. ``since``/``until`` given as
    text are read like ``--since`` (``2026-01-01``, ``7d``, ``yesterday``); parameters the query
    declares but the caller left out are NULL (for ``$since``/``$until``: no bound). A name the
    query does not declare, or a value DuckDB cannot use, is a one-line `CostlabError`.
    """
    import duckdb

    from costlab.periods import parse_date

    text = load_sql(name)
    declared = _parameters(text)
    given = dict(params or {})
    unknown = sorted(set(given) - declared)
    if unknown:
        raise CostlabError(
            f"query {name!r} has no parameter {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(declared)) or 'none'}"
        )
    for key in ("since", "until"):
        if isinstance(given.get(key), str):
            given[key] = parse_date(given[key])
    bound = {k: given.get(k) for k in declared}
    try:
        return lake.sql(text, bound or None)
    except duckdb.Error as ex:
        raise CostlabError(f"query {name!r} failed: {str(ex).splitlines()[0]}") from None


def _parameters(sql: str) -> set[str]:
    """The ``$name`` parameters the statements of ``sql`` use."""
    import duckdb

    return {p for st in duckdb.extract_statements(sql) for p in st.named_parameters}


_ALLOWED = {"SELECT", "EXPLAIN"}


def check_read_only(sql: str) -> None:
    """Refuse anything but SELECT-like statements (no writes, ATTACH, INSTALL, COPY, SET...).

    ``EXPLAIN ANALYZE`` runs its statement, so an EXPLAIN is checked as the statement it explains.
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
            raise ReadOnlyError(
                f"`costlab sql` is read-only: {kind} statements are refused (use SELECT)"
            )
        if kind == "EXPLAIN":
            inner = _explained(st.query)
            if not inner.strip():
                raise ReadOnlyError("EXPLAIN of nothing")
            check_read_only(inner)


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
    ``allowed_directories``; ``read_csv('/etc/passwd')``, ``COPY ... TO '/tmp/x'``, ``ATTACH`` and
    ``https://`` URLs fail with a permission error.
    """
    dirs = [str(lake_dir.resolve()) + "/", str(scratch.resolve()) + "/"]
    con.execute("SET temp_directory = $d", {"d": str(scratch)})
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


def run_read_only(lake: Lake, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run user SQL (`costlab sql`): checked read-only, then run on a locked-down connection.

    Returns column names and rows; a failing query is a one-line `CostlabError`.
    """
    import tempfile

    import duckdb

    from costlab.lake import lake_file_error

    check_read_only(sql)
    with tempfile.TemporaryDirectory(prefix="costlab-sql-") as scratch:
        try:
            with lake.connect() as con:
                lock_down(con, lake.path, Path(scratch))
                cur = con.execute(sql)
                names = [d[0] for d in cur.description or []]
                return names, cur.fetchall()
        except duckdb.Error as ex:
            raise lake_file_error(ex) or CostlabError(f"query failed: {str(ex).splitlines()[0]}") from None
