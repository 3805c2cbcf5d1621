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

from costlab.errors import QueryNotFoundError, ReadOnlyError

if TYPE_CHECKING:
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
    """Text of ``queries/<name>.sql`` (``name`` may contain ``/``, e.g. ``views/calls``)."""
    node: Traversable = queries_root()
    for part in f"{name}.sql".split("/"):
        node = node.joinpath(part)
    if not node.is_file():
        raise QueryNotFoundError(name, list_queries())
    return node.read_text(encoding="utf-8")


def header(name: str) -> str:
    """The leading comment block of a named query, without the ``--`` markers."""
    lines = []
    for line in load_sql(name).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines)


def run_query(lake: Lake, name: str, params: dict[str, Any] | None = None) -> Any:
    """Run a named query over ``lake``; returns a polars DataFrame."""
    return lake.sql(load_sql(name), params or None)


_ALLOWED = {"SELECT", "EXPLAIN"}


def check_read_only(sql: str) -> None:
    """Refuse anything but SELECT-like statements (no writes, ATTACH, INSTALL, COPY, SET...)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as ex:
        raise ReadOnlyError(f"cannot parse SQL: {str(ex).splitlines()[0]}") from None
    if not statements:
        raise ReadOnlyError("no SQL statement given")
    for st in statements:
        kind = str(st.type).rsplit(".", 1)[-1].upper()
        if kind not in _ALLOWED:
            raise ReadOnlyError(
                f"`costlab sql` is read-only: {kind} statements are refused (use SELECT)"
            )
