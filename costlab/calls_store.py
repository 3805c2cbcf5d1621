"""The lake's stored copy of ``call_facts``, kept in step with ``spans`` by every ingest.

Why: ``calls`` counts each call once with a window over every call span
(queries/views/call_facts.sql). Over millions of spans that window is most of a report's time
and memory, and it gives the same rows every time until spans change. Ingest knows which span
files it adds and removes, so it re-derives only the calls those files touch and commits them
in the same manifest as the spans: readers never see one without the other.

The update is exact, not approximate: a call's row depends only on the spans that share its
``call_key``. For the keys K carried by the span files this run added or removed, every stored
row with a key in K is dropped and the winners of K over all live spans are written; rows of
other keys stay as they are. A lake without the copy (written by an older costlab) gets it
built in full by its next ingest.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from costlab import schema
from costlab.lake import Manifest
from costlab.sql import load_sql, sql_list, sql_literal
from costlab.views import table_select

if TYPE_CHECKING:
    import duckdb

TABLE = "call_facts"


def update(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: Manifest,
    run_id: str,
    changed_span_files: list[str],
) -> tuple[list[str], bool]:
    """Bring ``manifest.tables['call_facts']`` in step with ``manifest.tables['spans']``.

    ``changed_span_files``: lake-relative span files this run added or removed (removed ones are
    still on disk, in the trash). Returns the stored files replaced (to trash) and whether
    anything changed.
    """
    live_spans = [str(root / rel) for rel in manifest.tables.get("spans", [])]
    if TABLE not in manifest.tables:  # first time on this lake: derive every call
        manifest.tables[TABLE] = []
        _spans_view(con, live_spans)
        con.execute(f"CREATE OR REPLACE TEMP VIEW call_keys AS {load_sql('views/call_keys')}")
        _write(con, root, manifest, run_id, f"SELECT * FROM ({load_sql('views/call_facts')})")
        return [], True
    if not changed_span_files:
        return [], False
    _spans_view(con, [str(root / rel) for rel in changed_span_files])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _changed_keys AS SELECT DISTINCT call_key FROM ({load_sql('views/call_keys')})"
    )
    if not con.execute("SELECT count(*) FROM _changed_keys").fetchone()[0]:  # type: ignore[index]
        return [], False
    _spans_view(con, _files_with_changed_keys(con, live_spans))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW call_keys AS SELECT * FROM ({load_sql('views/call_keys')}) "
        "WHERE call_key IN (SELECT call_key FROM _changed_keys)"
    )
    replaced = _drop_keys(con, root, manifest, run_id)
    _write(con, root, manifest, run_id, f"SELECT * FROM ({load_sql('views/call_facts')})")
    return replaced, True


def _files_with_changed_keys(con: duckdb.DuckDBPyConnection, live_spans: list[str]) -> list[str]:
    """The live span files holding a span of a changed key (`_changed_keys`), found reading only
    the columns the key and its filter need.

    Why: the winners read every column of the spans they compare, and a scan cannot skip a file
    before it has computed the keys of its rows, so winning over all live spans read the whole
    history each night. Every span of a changed key is in one of these files, and the rest are
    dropped by the key filter anyway: the winners, and the rows written, are the same."""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW spans AS {table_select(con, 'spans', live_spans, file_column='_span_file')}"
    )
    hits = con.execute(
        f"SELECT DISTINCT _span_file FROM ({load_sql('views/call_keys')}) "
        "WHERE call_key IN (SELECT call_key FROM _changed_keys) ORDER BY 1"
    ).fetchall()
    return [f for (f,) in hits]


def _spans_view(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW spans AS {table_select(con, 'spans', files)}")


def _write(con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest, run_id: str, rows: str) -> None:
    cols = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in schema.DERIVED_TABLES[TABLE])
    out = con.execute(
        f"""COPY (SELECT {cols}, CAST(timezone('UTC', start_time) AS DATE) AS day FROM ({rows})
                  ORDER BY start_time, call_key)
            TO '{sql_literal(str(root / TABLE))}'
            (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day),
             FILENAME_PATTERN 'run-{run_id}-{{uuid}}', APPEND, RETURN_FILES true)"""
    ).fetchone()
    written = out[1] if out else []
    manifest.tables[TABLE].extend(Path(f).relative_to(root).as_posix() for f in written)


def _drop_keys(con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest, run_id: str) -> list[str]:
    """Rewrite the stored files holding rows of the changed keys without them."""
    live = manifest.tables[TABLE]
    if not live:
        return []
    paths = [str(root / rel) for rel in live]
    hits = con.execute(
        f"""SELECT filename FROM read_parquet({sql_list(paths)}, filename = true, hive_partitioning = false)
            WHERE call_key IN (SELECT call_key FROM _changed_keys) GROUP BY 1"""
    ).fetchall()
    replaced = []
    for (filename,) in hits:
        rel = Path(filename).relative_to(root).as_posix()
        keep = (
            f"SELECT * FROM read_parquet('{sql_literal(filename)}', hive_partitioning = false) "
            "WHERE call_key NOT IN (SELECT call_key FROM _changed_keys)"
        )
        if con.execute(f"SELECT count(*) FROM ({keep})").fetchone()[0]:  # type: ignore[index]
            target = Path(filename).parent / f"run-{run_id}-r{uuid.uuid4().hex}.parquet"
            con.execute(f"COPY ({keep}) TO '{sql_literal(str(target))}' (FORMAT parquet, COMPRESSION zstd)")
            live.append(target.relative_to(root).as_posix())
        live.remove(rel)
        replaced.append(rel)
    return replaced
