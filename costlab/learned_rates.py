"""The bill's own per-token rates (queries/learned_rates.sql over the whole history), kept in the
manifest by the ingest that changes the charges.

Why: every connection prices the models no catalogue knows at the rates their bill charged
(`costlab.pricing.PriceBook.with_bill_rates`), and those rates come from every bill line the lake
holds: a statement over every charges file, each time `costlab report`, `sql` or `analyze`
connects (0.2 s on a year of daily bills, and more with a day's CUR lines). The rows depend only
on the charges files and on the SQL that derives them, so ingest stores them with a digest of
both (`key`); a reader whose key differs (another costlab's SQL, a manifest rebuilt by `costlab
lake repair`, a lake written before this) runs the query as before.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.sql import load_sql

if TYPE_CHECKING:
    import duckdb

    from costlab.lake import Manifest

#: What each column of a learned_rates row is stored as in the manifest's JSON.
_KINDS = ("str", "str", "str", "str", "str", "dec", "dec", "dec", "int", "str", "date", "date")


def key(manifest: Manifest) -> str:
    """The digest of what the rows are computed from: the query and the views it reads (their
    text), the charges table's columns and the manifest's charges files."""
    h = hashlib.sha256()
    for text in (load_sql("learned_rates"), load_sql("views/charges_llm"), repr(schema.TABLES["charges"])):
        h.update(text.encode())
        h.update(b"\0")
    for rel in sorted(manifest.tables.get("charges", [])):
        h.update(rel.encode())
        h.update(b"\0")
    return h.hexdigest()


def query(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The rows over the whole history, from ``con``'s ``charges_llm``."""
    return con.execute(load_sql("learned_rates"), {"since": None, "until": None}).fetchall()  # type: ignore[no-any-return]


def stored(manifest: Manifest | None) -> list[tuple[Any, ...]] | None:
    """The manifest's rows when they are of its charges and this costlab's SQL, else None."""
    got = manifest.learned_rates if manifest is not None else None
    if not got or got.get("key") != key(manifest):  # type: ignore[arg-type]
        return None
    try:
        return [tuple(_decode(v, k) for v, k in zip(row, _KINDS, strict=True)) for row in got["rows"]]
    except (KeyError, TypeError, ValueError, ArithmeticError):  # a damaged entry: run the query
        return None


def entry(manifest: Manifest, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The manifest's ``learned_rates`` for ``rows`` (exact text for decimals and days)."""
    return {"key": key(manifest), "rows": [[_encode(v) for v in row] for row in rows]}


def _encode(v: Any) -> Any:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def _decode(v: Any, kind: str) -> Any:
    if v is None:
        return None
    if kind == "dec":
        return Decimal(v)
    if kind == "date":
        return date.fromisoformat(v)
    if kind == "int":
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(v)
        return v
    if not isinstance(v, str):
        raise TypeError(v)
    return v
