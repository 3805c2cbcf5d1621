"""The Parquet lake: layout, the committed manifest, the write lock, and DuckDB views.

Layout (``<lake>/``)::

    _manifest.json                       the committed state (replaced atomically)
    .lock                                writers hold an exclusive flock while ingesting
    charges/source_format=<fmt>/day=<YYYY-MM-DD>/run-<run_id>-<uuid>.parquet
    usage/... spans/... quarantine/...   same partitioning
    runs/day=<YYYY-MM-DD>/run-<run_id>-<uuid>.parquet
    _staging/<run_id>/                   a running ingest's scratch space

Data files are immutable. An ingest writes new files, then commits by atomically replacing
``_manifest.json``; readers see exactly the files the manifest lists, so a killed ingest leaves
nothing half-visible, and its stray files are removed by the next writer. Files an ingest replaces
are kept for a grace period (``trash``) so a report that started before the commit can finish.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.config import resolve_lake
from costlab.errors import CostlabError, LakeLockedError

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from costlab.pricing import PriceBook
    from costlab.reporting.model import Report

MANIFEST = "_manifest.json"
LOCK = ".lock"
STAGING = "_staging"
FORMAT_VERSION = 1
TRASH_GRACE_SECONDS = 15 * 60


@dataclass
class Manifest:
    """Committed lake state: live data files per table and the ingested-file index."""

    version: int = 0
    tables: dict[str, list[str]] = field(default_factory=dict)
    #: source path -> {size, mtime_ns, sha256, source_format, run_id}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: replaced data files awaiting deletion: [path, unix time replaced]
    trash: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "version": self.version,
                "tables": self.tables,
                "files": self.files,
                "trash": self.trash,
            },
            sort_keys=True,
            separators=(",", ":"),  # no indent: the C encoder (thousands of file entries)
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("format", 1) > FORMAT_VERSION:
            raise CostlabError(
                f"lake format {data['format']} is newer than this costlab understands; upgrade costlab"
            )
        return cls(
            version=data["version"],
            tables={k: list(v) for k, v in data["tables"].items()},
            files=data["files"],
            trash=[(p, t) for p, t in data.get("trash", [])],
        )


class Lake:
    """A costlab lake on local disk. Cheap to create; nothing is read until asked.

    >>> lake = Lake("~/costlab-lake")          # doctest: +SKIP
    >>> lake.calls().group_by("workflow").len()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_lake(path)

    def __repr__(self) -> str:
        return f"Lake({str(self.path)!r})"

    # -- state -----------------------------------------------------------------------------
    def manifest(self) -> Manifest:
        """The committed manifest (empty for a new lake)."""
        try:
            text = (self.path / MANIFEST).read_text()
        except FileNotFoundError:
            return Manifest()
        try:
            return Manifest.from_json(text)
        except (ValueError, KeyError) as ex:
            raise CostlabError(f"{self.path / MANIFEST} is damaged ({ex}); restore it or start a new lake") from None

    def commit(self, manifest: Manifest) -> None:
        """Atomically publish ``manifest`` (write, fsync, rename, fsync the directory)."""
        manifest.version += 1
        tmp = self.path / f"{MANIFEST}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(manifest.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / MANIFEST)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def write_lock(self, wait: float = 0.0, on_wait: Any = None) -> Iterator[None]:
        """Exclusive writer lock. Waits up to ``wait`` seconds, then raises `LakeLockedError`.

        flock is released by the kernel when the holder dies, so a killed ingest never leaves
        the lake locked.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.path / LOCK, "a+")  # noqa: SIM115 - held for the context's lifetime
        try:
            deadline = time.monotonic() + wait
            told = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as ex:
                    if ex.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    holder = _read_holder(self.path / LOCK)
                    if time.monotonic() >= deadline:
                        raise LakeLockedError(
                            f"lake {self.path} is being written by another ingest ({holder}); "
                            "try again when it finishes, or pass --wait SECONDS"
                        ) from None
                    if on_wait and not told:
                        on_wait(holder)
                        told = True
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            fh.flush()
            yield
        finally:
            fh.close()

    def collect_garbage(self, manifest: Manifest, now: float | None = None) -> Manifest:
        """Delete stray files of killed ingests and trash past its grace period (writer only)."""
        now = time.time() if now is None else now
        live = {p for files in manifest.tables.values() for p in files}
        keep_trash = []
        for rel, since in manifest.trash:
            if now - since >= TRASH_GRACE_SECONDS:
                _unlink(self.path / rel)
            else:
                keep_trash.append((rel, since))
        trash = {p for p, _ in keep_trash}
        for table in [*schema.TABLES, *schema.DERIVED_TABLES]:
            root = self.path / table
            if not root.is_dir():
                continue
            for f in root.rglob("*"):
                rel = f.relative_to(self.path).as_posix()
                if f.is_file() and rel not in live and rel not in trash:
                    _unlink(f)
        shutil.rmtree(self.path / STAGING, ignore_errors=True)
        manifest.trash = keep_trash
        return manifest

    # -- reading ---------------------------------------------------------------------------
    def connect(
        self, read_only_files: bool = True, prices: PriceBook | None = None, fast: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with a view per table over the committed files, and the
        price tables ``calls`` joins (from ``prices``; default `PriceBook.load()`).

        ``fast``: ``calls`` over the stored de-duplicated calls (see `create_views`): what the
        report uses; without the text and per-block columns the analyzers need, nor span ids and
        lineage (`costlab.schema.CALL_FACTS_DROPPED`).

        The connection is not restricted: it can read and write any file the process can. Run SQL
        from elsewhere through `sql` / `query` (read-only, locked to the lake)."""
        import duckdb

        from costlab import attribution
        from costlab.config import load_config

        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # DuckDB's own bar: noise in cron mail
        create_views(con, self.path, self.manifest(), prices, fast=fast)
        # charges_attributed / calls_attributed for `costlab sql` and notebooks (costlab.toml rules)
        attribution.register(con, attribution.AttributionRules.from_config(load_config()))
        return con

    def query(
        self, sql: str, params: dict[str, Any] | list[Any] | None = None, *, write: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run SQL over the lake's views and return the rows; read-only unless ``write`` (see `sql`)."""
        if write:
            with self.connect() as con:
                return con.execute(sql, params).fetchall()
        from costlab.sql import read_only_rows

        return read_only_rows(self, sql, params, "Lake.query")

    def sql(self, sql: str, params: dict[str, Any] | list[Any] | None = None, *, write: bool = False) -> pl.DataFrame:
        """Run SQL over the lake's views and return a polars DataFrame.

        Read-only by default, like `costlab sql`: SELECT statements only, on a connection that
        cannot read or write files outside the lake (`costlab.sql.lock_down`). ``write=True``
        runs the SQL on an ordinary connection (COPY, ATTACH, files anywhere): only for SQL you
        wrote yourself. `connect` gives that unrestricted connection too."""
        if write:
            with self.connect() as con:
                return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()
        from costlab.sql import read_only_frame

        return read_only_frame(self, sql, params, "Lake.sql")

    def table(self, name: str) -> pl.DataFrame:
        if name not in VIEWS:
            raise CostlabError(f"no table {name!r}; tables: {', '.join(VIEWS)}")
        return self.sql(f"SELECT * FROM {name}")

    def charges(self) -> pl.DataFrame:
        return self.table("charges")

    def usage(self) -> pl.DataFrame:
        return self.table("usage")

    def spans(self) -> pl.DataFrame:
        return self.table("spans")

    def calls(self) -> pl.DataFrame:
        return self.table("calls")

    def runs(self) -> pl.DataFrame:
        return self.sql("SELECT * FROM runs ORDER BY started_at DESC")

    def quarantine(self) -> pl.DataFrame:
        return self.table("quarantine")

    def report(self, since: str | None = None, until: str | None = None, **options: Any) -> Report:
        """The report as plain data (renders itself in Jupyter; ``.frames`` gives polars
        DataFrames). ``options`` are `ReportOptions` fields; costlab.toml fills the rest."""
        from costlab.reporting.build import ReportOptions, build_report

        opts = ReportOptions.configured(since=since, until=until, **options)
        return build_report(self, opts)


VIEWS = ("charges", "usage", "spans", "calls", "prices", "quarantine", "runs", "usage_priced", "charges_llm")


def create_call_views(con: Any, stored: str | None = None) -> None:
    """``call_keys``, ``call_facts`` and the priced ``calls`` on ``con`` (DuckDB or Spark), over
    its ``spans`` and price tables; ``call_facts`` is ``stored`` (a SELECT) when given."""
    from costlab.sql import load_sql

    if stored is None:
        con.execute(f"CREATE OR REPLACE VIEW call_keys AS {load_sql('views/call_keys')}")
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {load_sql('views/call_facts')}")
    else:
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {stored}")
    con.execute(f"CREATE OR REPLACE VIEW calls AS {load_sql('views/calls')}")


def table_select(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> str:
    """A typed SELECT of ``table``'s columns over ``files`` (absolute paths; columns a file lacks
    read as NULL; no files: no rows)."""
    if not files:
        return f"SELECT {_typed_select(table, None)} WHERE false"
    hive = ", ".join(f"'{n}': {t}" for n, t in schema.TABLE_PARTITIONS[table])
    scan = (
        f"read_parquet({_sql_list(files)}, hive_partitioning = true, "
        f"union_by_name = true, hive_types = {{{hive}}})"
    )
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    return f"SELECT {_typed_select(table, present)} FROM {scan}"


def stored_call_facts(root: Path, manifest: Manifest) -> str:
    """A SELECT over the lake's stored ``call_facts`` files (typed; empty when there are none)."""
    cols = schema.DERIVED_TABLES["call_facts"] + schema.DERIVED_PARTITIONS["call_facts"]
    files = [str(root / rel) for rel in manifest.tables.get("call_facts", [])]
    if not files:
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in cols) + " WHERE false"
    typed = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in cols)
    return (
        f"SELECT {typed} FROM read_parquet({_sql_list(files)}, hive_partitioning = true, "
        "union_by_name = true, hive_types = {'day': DATE})"
    )


def _typed_select(table: str, present: set[str] | None) -> str:
    cols = schema.TABLES[table] + schema.TABLE_PARTITIONS[table]
    parts = []
    for name, typ in cols:
        if present is None or name not in present:
            parts.append(f"CAST(NULL AS {typ}) AS {name}")
        else:
            parts.append(f"CAST({name} AS {typ}) AS {name}")
    return ", ".join(parts)


def create_views(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: Manifest,
    prices: PriceBook | None = None,
    fast: bool = False,
) -> None:
    """Create the stored-table views, the price tables, then the derived views (``calls``).

    ``fast``: ``call_facts`` reads the lake's stored copy (kept by ingest; without the columns in
    `costlab.schema.CALL_FACTS_DROPPED`) instead of de-duplicating every span again. Lakes
    written before that copy existed fall back to the full view.
    """
    for table in schema.TABLES:
        files = [str(root / rel) for rel in manifest.tables.get(table, [])]
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {table_select(con, table, files)}")
    from costlab.pricing import register

    stored = fast and "call_facts" in manifest.tables
    if stored:  # the prices read the calls' models from it
        con.execute(f"CREATE OR REPLACE VIEW call_facts AS {stored_call_facts(root, manifest)}")
    register(con, prices, calls_from="call_facts" if stored else "spans")  # prices, model_prices, price_grid
    create_call_views(con, stored_call_facts(root, manifest) if stored else None)
    from costlab.sql import load_sql

    for view in ("usage_priced", "charges_llm", "reconciliation_facts"):  # reconciliation inputs
        con.execute(f"CREATE OR REPLACE VIEW {view} AS {load_sql(f'views/{view}')}")


def _q(text: str) -> str:
    """Text as the inside of a SQL string literal (paths only; values go as parameters)."""
    return text.replace("'", "''")


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{_q(i)}'" for i in items) + "]"


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
