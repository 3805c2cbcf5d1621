"""Ingest: discover files, skip unchanged ones, parse, stage, de-duplicate, replace, commit.

One call is one *run*. Under the lake's write lock it

1. lists the files (folders are walked for data files; explicitly named files are always tried),
2. skips files whose size and mtime (or, failing that, content hash) are unchanged since they were
   last ingested, unless ``force``,
3. parses each file with its detected source, staging rows as Parquet chunks; a file that fails
   as a whole leaves nothing behind and the others go on,
4. de-duplicates the staged rows in DuckDB (row keys, occurrence numbers, replace scopes),
5. rewrites the earlier files holding rows that the new ones replace (latest export wins),
6. writes the new rows hive-partitioned by source_format and day, and commits the manifest.

Nothing is visible until step 6 commits, so a killed run changes nothing and a rerun converges.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.config import file_problem
from costlab.errors import CostlabError, EmptyFileError, SourceError, UnknownFormatError
from costlab.lake import STAGING, Lake, Manifest, file_sha256
from costlab.limits import EARLIEST, LATEST, Limits
from costlab.sql import new_connection, sql_list, sql_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from costlab.ingest.base import Bad, ParseContext, Source
    from costlab.rollups import RollupKeys

WORKERS_ENV = "COSTLAB_INGEST_WORKERS"  # parser processes (default: CPU count; 1 = none)
PARALLEL_MIN_BYTES = 32 << 20  # less input than this is parsed in-process (no worker start-up)
PARALLEL_MAX_FILE = 256 << 20  # bigger files are parsed in-process, streamed in chunks
BATCH_BYTES = 16 << 20  # a worker's job: consecutive small files up to this much input ...
BATCH_FILES = 256  # ... or this many files; its rows are staged as one Parquet file per table
DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
CHUNK_ROWS = 50_000
Progress = Callable[[int, int, str], None]


@dataclass
class FileResult:
    path: str
    status: str  # ingested | skipped (unchanged) | empty (nothing to read, a warning) | failed
    source: str | None = None
    rows: int = 0
    quarantined: int = 0
    error: str | None = None  # failed: why; empty: the warning


@dataclass
class IngestResult:
    run_id: str
    lake: str
    files: list[FileResult] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0
    rows_duplicate: int = 0
    rows_replaced: int = 0
    rows_quarantined: int = 0

    def with_status(self, status: str) -> list[FileResult]:
        """The files whose status is ``status`` (failed, ingested, skipped, empty)."""
        return [f for f in self.files if f.status == status]

    failed = property(lambda self: self.with_status("failed"), doc="Files that could not be read.")
    ingested = property(lambda self: self.with_status("ingested"), doc="Files read into the lake.")
    skipped = property(lambda self: self.with_status("skipped"), doc="Files unchanged since read.")
    empty = property(lambda self: self.with_status("empty"), doc="Files with nothing to read.")
    unrecognised = property(
        lambda self: self.with_status("unrecognised"), doc="Files found in a folder that no source reads."
    )


def discover(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    exclude: Path | None = None,
    ignore: Iterable[str] = (),
) -> tuple[list[Path], list[FileResult]]:
    """Files to consider, in a stable order, and results for paths that cannot be read.

    Folders are walked for data files (``DATA_SUFFIXES``, optionally ``.gz``); hidden files, the
    lake itself (``exclude``) and files matching an ``ignore`` glob (``[ingest] exclude`` /
    ``--exclude``: matched against the name and the path relative to the folder, e.g.
    ``metrics*.csv`` or ``drafts/*``) are skipped. A file named explicitly is always tried,
    unless it is not a regular file (a FIFO would block, ``/dev/zero`` never ends): that fails.
    One path given alone (a ``str`` or ``PathLike``) is that path, not the characters of its
    name: iterating ``"exports/"`` would walk ``/`` first, the whole file system.
    """
    names, missing = _discover(paths, exclude, ignore)
    return [Path(n) for n in names], missing


def _discover(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    exclude: Path | None = None,
    ignore: Iterable[str] = (),
) -> tuple[list[str], list[FileResult]]:
    """`discover` with the files as absolute path strings: a nightly run lists 17k files and
    skips nearly all of them, and a Path object each (made, hashed, stat'ed) cost 0.1 s."""
    patterns = [ignore] if isinstance(ignore, str) else list(ignore)
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    found: list[str] = []
    missing: list[FileResult] = []
    for raw in paths:
        p = Path(raw).expanduser()
        problem = file_problem(p)
        if problem == "directory":
            found += _walk(p, exclude, patterns)
        elif problem is None:
            found.append(str(p.absolute()))
        else:
            missing.append(FileResult(str(p), "failed", error=f"{p}: {problem}"))
    seen: set[str] = set()
    unique = [f for f in found if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]
    return unique, missing


def _walk(top: Path, exclude: Path | None, patterns: list[str]) -> list[str]:
    """Data files under ``top`` in path order (os.scandir: a nightly run lists thousands of files,
    and pathlib's per-file objects and a stat per name cost more than the listing; the entries'
    own file types answer for regular files, so only symlinks are stat'ed)."""
    root = str(top.absolute())
    skip = str(exclude.absolute()) if exclude is not None else None
    if skip is not None and (root == skip or root.startswith(skip + os.sep)):
        return []  # inside the lake
    out: list[tuple[list[str], str]] = []
    stack: list[tuple[str, list[str]]] = [(root, [])]
    while stack:
        here, rel_parts = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:  # unreadable folder: skipped, as os.walk does
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):  # symlinked folders are not followed (as rglob)
                    if entry.path != skip:
                        stack.append((entry.path, [*rel_parts, name]))
                    continue
                low = name.lower()
                base = low[:-3] if low.endswith(".gz") else low
                if not base.endswith(DATA_SUFFIXES):
                    continue
                parts = [*rel_parts, name]
                if patterns:
                    rel = "/".join(parts)
                    if any(fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(rel, pat) for pat in patterns):
                        continue
                if entry.is_file():
                    out.append((parts, entry.path))
            except OSError:
                continue
    out.sort(key=lambda t: t[0])
    return [full for _, full in out]


def ingest(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    lake: Lake | str | os.PathLike[str] | None = None,
    *,
    source: str | None = None,
    force: bool = False,
    keep_text: bool = False,
    redact: bool = False,
    config: dict[str, Any] | None = None,
    wait: float = 0.0,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
    rollup_keys: RollupKeys | None = None,
) -> IngestResult:
    """Ingest files and folders into the lake; see the module docstring for the steps.

    ``rollup_keys``: the splits the lake's rollups need (`costlab.rollups.RollupKeys.of` the
    workspace's prices and attribution; `costlab.workspace.Workspace.rollup_keys`); default:
    list prices and the default team tag.

    Returns an `IngestResult`; files that could not be read are listed in ``.failed`` with a
    one-line reason (they are not raised), so one bad file never stops the others.
    """
    from costlab.ingest.base import ParseContext
    from costlab.ingest.registry import get_source
    from costlab.ingest.util import line_limit

    lk = lake if isinstance(lake, Lake) else Lake(lake)
    cfg = config or {}
    ctx = ParseContext(keep_text=keep_text, redact=redact, config=cfg, limits=Limits.from_config(cfg))
    if source:
        get_source(source)  # unknown names fail before any work
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    result = IngestResult(run_id=run_id, lake=str(lk.path))
    ignore = ctx.config.get("exclude", [])
    if isinstance(ignore, str):
        ignore = [ignore]
    if isinstance(paths, str | os.PathLike):
        paths = [paths]  # one path, not the characters of its name (see `discover`)
    paths = list(paths)
    files, missing = _discover(paths, exclude=lk.path, ignore=[str(p) for p in ignore])
    result.files.extend(missing)
    with lk.write_lock(wait=wait, on_wait=on_wait), line_limit(ctx.limits.max_line_bytes):
        manifest = lk.collect_garbage(lk.open_for_write())
        named = {Path(raw).expanduser().absolute() for raw in paths}
        run = _Run(lk, manifest, result, ctx, source, force, progress, named)
        run.keys = rollup_keys
        run.execute(files)
    return result


class _Run:
    def __init__(
        self,
        lake: Lake,
        manifest: Manifest,
        result: IngestResult,
        ctx: ParseContext,
        source: str | None,
        force: bool,
        progress: Progress | None,
        named: set[Path],
    ) -> None:
        self.lake, self.manifest, self.result, self.ctx = lake, manifest, result, ctx
        self.source, self.force, self.progress = source, force, progress
        self.run_id = result.run_id
        self.started = datetime.now(UTC)
        self.stage_dir = lake.path / STAGING / self.run_id
        self.staged: dict[str, list[Path]] = defaultdict(list)
        # small files' rows wait here (as Arrow) and are staged together: one Parquet file per
        # ~CHUNK_ROWS rows, not per source file (thousands of session logs). Only rows of files
        # that parsed completely are pending, so a failed file's rollback never touches them.
        self.pending: dict[str, list[pa.Table]] = defaultdict(list)
        self.pending_rows: dict[str, int] = defaultdict(int)
        self.index_updates: dict[str, dict[str, Any]] = {}
        self.reread: dict[str, set[str]] = defaultdict(set)  # source_format -> re-read files
        self.per_format: dict[str | None, dict[str, Any]] = {}
        #: files the caller named (not found by walking a folder): an unrecognised one fails
        self.named = named
        self.keys: RollupKeys | None = None

    def rollup_keys(self) -> RollupKeys:
        if self.keys is None:
            from costlab.attribution import DEFAULT_TEAM_TAG_KEYS
            from costlab.pricing import PriceBook
            from costlab.rollups import RollupKeys

            self.keys = RollupKeys.of(PriceBook.load(), DEFAULT_TEAM_TAG_KEYS)
        return self.keys

    def _skippable(self, path: Path) -> bool:
        """An unrecognised file is skipped with a warning when a folder walk found it and no
        --source was forced; named files and forced sources fail."""
        return self.source is None and path.absolute() not in self.named

    # -- orchestration ----------------------------------------------------------------------
    def execute(self, files: list[str]) -> None:
        todo = self._changed(files)
        remote = self._remote_results(todo)
        try:
            for n, path in enumerate(todo):
                if self.progress:
                    self.progress(n, len(todo), path.name)
                if n in remote.jobs:
                    self._take_remote(n, path, next(remote.results))
                else:
                    self._ingest_file(n, path)
        finally:
            remote.close()
        if self.progress:
            self.progress(len(todo), len(todo), "")
        self._finish()

    def _changed(self, files: list[str]) -> list[Path]:
        """The files to read: new ones, and known ones whose size and mtime changed unless their
        content hash did not (then only the index's mtime moves)."""
        todo = []
        index, results = self.manifest.files, self.result.files
        for name in files:
            try:
                st = os.stat(name)
            except OSError as ex:
                results.append(FileResult(name, "failed", error=f"{name}: {ex.strerror}"))
                continue
            key = self._name(name)
            known = index.get(key)
            if known and not self.force:
                if known["size"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
                    results.append(FileResult(name, "skipped", known.get("source_format")))
                    continue
                digest = file_sha256(Path(name))
                if known["size"] == st.st_size and digest == known["sha256"]:
                    self.index_updates[key] = {**known, "mtime_ns": st.st_mtime_ns}
                    results.append(FileResult(name, "skipped", known.get("source_format")))
                    continue
            todo.append(Path(name))
        return todo

    def _ingest_file(self, ordinal: int, path: Path) -> None:
        fr = FileResult(str(path), "failed")
        self.result.files.append(fr)
        staged_before = {t: len(v) for t, v in self.staged.items()}
        try:
            st = path.stat()
            digest = file_sha256(path)
            cls = _source_for(path, self.source)
            fr.source = cls.name
            rows, bad = self._parse(ordinal, path, cls)
        except EmptyFileError as ex:
            fr.status, fr.error = "empty", str(ex)
            return
        except UnknownFormatError as ex:
            if self._skippable(path):
                fr.status, fr.error = "unrecognised", str(ex)
                return
            fr.error = _error_text(path, ex, fr.source)
        except Exception as ex:  # noqa: BLE001 - a parser bug must not abort the run
            fr.error = _error_text(path, ex, fr.source)
        if fr.error is not None:
            for table, n in list(self.staged.items()):
                for f in n[staged_before.get(table, 0) :]:
                    f.unlink(missing_ok=True)
                del n[staged_before.get(table, 0) :]
            self._stats(fr.source)["files_failed"] += 1
            self._stats(fr.source)["files"].append(self._name(path))
            return
        self._ingested(fr, path, cls.name, (st.st_size, st.st_mtime_ns, digest), rows, bad)

    def _ingested(
        self, fr: FileResult, path: Path, fmt: str, ident: tuple[int, int, str], rows: int, bad: int
    ) -> None:
        size, mtime_ns, digest = ident
        fr.status, fr.rows, fr.quarantined = "ingested", rows, bad
        stats = self._stats(fmt)
        stats["files"].append(self._name(path))
        stats["rows_read"] += rows + bad
        stats["rows_quarantined"] += bad
        self.result.rows_read += rows + bad
        self.result.rows_quarantined += bad
        if self._name(path) in self.manifest.files:
            self.reread[fmt].add(self._name(path))
        self.index_updates[self._name(path)] = {
            "size": size,
            "mtime_ns": mtime_ns,
            "sha256": digest,
            "source_format": fmt,
            "run_id": self.run_id,
            "rows": rows,
        }

    # -- parallel parsing --------------------------------------------------------------------
    def _remote_results(self, todo: list[Path]) -> _Remote:
        """Parse the small files in worker processes (one per CPU) when there is enough work.
        A job is a batch of consecutive files (`BATCH_BYTES`, `BATCH_FILES`); the worker stages
        the rows of its batch's good files itself, one Parquet file per table, and sends back
        only each file's outcome, in order. Big files stay in this process, streamed."""
        workers = _workers()
        sizes = {}
        for n, path in enumerate(todo):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size <= PARALLEL_MAX_FILE:
                sizes[n] = size
        forced = bool(os.environ.get(WORKERS_ENV))
        if workers < 2 or len(sizes) < 2 or (sum(sizes.values()) < PARALLEL_MIN_BYTES and not forced):
            return _Remote()
        import itertools
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _warm_up()  # before the fork: each worker would otherwise import all of it again

        # fork: spawn and forkserver re-import the caller's __main__ in every worker, which runs
        # an unguarded script (`costlab.ingest(...)` at its top level) again. Workers only parse
        # files (no DuckDB, no polars), so threads the caller holds do not matter to them.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        batches: list[list[tuple[int, str]]] = [[]]
        held = 0
        for n in sorted(sizes):
            if batches[-1] and (held + sizes[n] > BATCH_BYTES or len(batches[-1]) >= BATCH_FILES):
                batches.append([])
                held = 0
            batches[-1].append((n, str(todo[n])))
            held += sizes[n]
        stage = str(self.stage_dir)
        jobs = [(b, self.source, self.ctx, self.run_id, self.started, stage) for b in batches]
        results = itertools.chain.from_iterable(pool.map(_parse_batch, jobs))
        return _Remote(set(sizes), results, pool)

    def _take_remote(self, ordinal: int, path: Path, out: _FileOut) -> None:
        for table, staged in out.staged:  # a batch's rows (good files only), whatever this file's outcome
            self.staged[table].append(Path(staged))
        fr = FileResult(str(path), "failed", out.source)
        self.result.files.append(fr)
        if out.empty:
            fr.status, fr.error = "empty", out.error
            return
        if out.unrecognised and self._skippable(path):
            fr.status, fr.error = "unrecognised", out.unrecognised
            return
        if out.error is not None:
            fr.error = out.error
            self._stats(fr.source)["files_failed"] += 1
            self._stats(fr.source)["files"].append(self._name(path))
            return
        assert out.source is not None and out.ident is not None
        if out.bad:
            self._stage_quarantine(ordinal, path, out.source, out.bad)
        self._ingested(fr, path, out.source, out.ident, out.rows, len(out.bad))

    def _name(self, path: Path | str) -> str:
        return source_name(path, self.ctx.redact)

    def _stats(self, fmt: str | None) -> dict[str, Any]:
        return self.per_format.setdefault(
            fmt,
            {
                "files": [],
                "rows_read": 0,
                "rows_written": 0,
                "rows_duplicate": 0,
                "rows_replaced": 0,
                "rows_quarantined": 0,
                "files_failed": 0,
            },
        )

    # -- parsing and staging ------------------------------------------------------------------
    def _parse(self, ordinal: int, path: Path, cls: type[Source]) -> tuple[int, int]:
        bad: list[Bad] = []
        good = 0
        common = _common(path, cls, self.run_id, self.started, ordinal, self.ctx.redact)
        for table, buf, final in _row_chunks(path, cls, self.ctx, common, bad):
            if not final:
                good += self._stage(table, ordinal, buf, bad)
                continue
            tbl = _to_arrow(table, buf, bad)
            good += tbl.num_rows
            self._add_pending(table, tbl, ordinal)
        if bad:
            self._stage_quarantine(ordinal, path, cls.name, bad)
        return good, len(bad)

    def _add_pending(self, table: str, tbl: pa.Table, ordinal: int) -> None:
        if tbl.num_rows:
            self.pending[table].append(tbl)
            self.pending_rows[table] += tbl.num_rows
            if self.pending_rows[table] >= CHUNK_ROWS:
                self._flush_pending(table, ordinal)

    def _stage(self, table: str, ordinal: int, rows: list[dict[str, Any]], bad: list[Bad]) -> int:
        tbl = _to_arrow(table, rows, bad)
        if tbl.num_rows:
            self._write_stage(table, ordinal, tbl)
        return tbl.num_rows

    def _flush_pending(self, table: str, ordinal: int) -> None:
        import pyarrow as pa

        tables = self.pending.pop(table, [])
        self.pending_rows[table] = 0
        if tables:
            self._write_stage(table, ordinal, pa.concat_tables(tables))

    def _write_stage(self, table: str, ordinal: int, tbl: pa.Table) -> None:
        name = f"f{ordinal:07d}-{len(self.staged[table]):05d}"
        self.staged[table].append(Path(_stage_file(self.stage_dir, table, name, tbl)))

    def _stage_quarantine(self, ordinal: int, path: Path, fmt: str, bad: list[Bad]) -> None:
        from costlab.ingest.util import storable  # a reason can quote text no Parquet file holds

        if self.ctx.redact:  # raw lines and reasons quote values: no identities there either
            from costlab.ingest.base import Bad as _Bad
            from costlab.redact import redact_text

            bad = [_Bad(b.location, redact_text(b.reason), redact_text(b.raw or "")) for b in bad]
        rows = [
            {
                "run_id": self.run_id,
                "source_file": self._name(path),
                "location": storable(b.location),
                "reason": storable(b.reason)[:1000],
                "raw": storable(b.raw or "")[:2000],
                "ingested_at": self.started,
                "source_format": fmt,
                "_file": ordinal,
                "_seq": i,
                "_distinct": True,
            }
            for i, b in enumerate(bad)
        ]
        for start in range(0, len(rows), CHUNK_ROWS):
            self._stage("quarantine", ordinal, rows[start : start + CHUNK_ROWS], [])

    # -- finishing ----------------------------------------------------------------------------
    def _learn_rates(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Keep the bill's learned rates in the manifest when its charges (or the SQL deriving
        them) changed: readers then skip a query over every charges file
        (`costlab.learned_rates`). Returns whether the manifest changed."""
        from costlab import learned_rates
        from costlab.views import create_charges_views

        manifest = self.manifest
        if manifest.learned_rates.get("key") == learned_rates.key(manifest):
            return False
        create_charges_views(con, self.lake.path, manifest)
        manifest.learned_rates = learned_rates.entry(manifest, learned_rates.query(con))
        return True

    def _finish(self) -> None:
        import duckdb

        manifest = self.manifest
        replaced: list[str] = []
        for table in list(self.pending):
            self._flush_pending(table, len(self.result.files))
        from costlab import calls_store, rollups

        spans_before = set(manifest.tables.get("spans", []))
        con = new_connection()
        # bounded: merging a multi-GB file's rows spills to the staging folder instead of
        # growing with the file (COSTLAB_INGEST_MEMORY, e.g. "4GB", to give it more)
        limit = os.environ.get("COSTLAB_INGEST_MEMORY", "1GB")
        try:
            try:
                con.execute("SET memory_limit = ?", [limit])
            except duckdb.Error:
                raise CostlabError(f"COSTLAB_INGEST_MEMORY={limit!r}: not a size; use e.g. 2GB") from None
            con.execute("SET preserve_insertion_order = false")
            (self.stage_dir / "tmp").mkdir(parents=True, exist_ok=True)  # spills go here (none staged: absent)
            con.execute(f"SET temp_directory = '{sql_literal(str(self.stage_dir / 'tmp'))}'")
            merged: dict[str, set[str]] = defaultdict(set)  # table -> formats with new rows
            for table, files in self.staged.items():
                if files:
                    replaced += self._merge_table(con, table, files, merged[table])
            replaced += self._drop_reread_leftovers(con, merged)
            spans_now = set(manifest.tables.get("spans", []))
            facts_before = set(manifest.tables.get("call_facts", [])) if "call_facts" in manifest.tables else None
            facts_replaced, facts_changed = calls_store.update(
                con, self.lake.path, manifest, self.run_id, sorted(spans_now ^ spans_before)
            )
            replaced += facts_replaced
            # the days whose calls changed: those of the call_facts files replaced or added
            touched = None if facts_before is None else {
                d for rel in [*facts_replaced, *(set(manifest.tables["call_facts"]) - facts_before)]
                if (d := rollups.day_of(rel)) is not None
            }
            rolled_replaced, rolled = rollups.update(
                con, self.lake.path, manifest, self.run_id, touched, self.rollup_keys()
            )
            replaced += rolled_replaced
            learned = self._learn_rates(con)
            self._write_runs(con)
        except duckdb.OutOfMemoryException:
            raise CostlabError(
                f"{self.lake.path}: merging this run needs more memory than COSTLAB_INGEST_MEMORY={limit} "
                "allows; nothing was committed. Rerun with a larger limit, e.g. COSTLAB_INGEST_MEMORY=4GB"
            ) from None
        finally:
            con.close()
        manifest.files.update(self.index_updates)
        # a run that wrote its runs row commits it (even when every file failed): a runs row
        # on disk then means a committed run, which `costlab lake repair` relies on
        if self.index_updates or self.staged or facts_changed or rolled or learned or self.per_format:
            now = time.time()
            manifest.trash.extend((rel, now) for rel in replaced)
            self.lake.commit(manifest)
        shutil.rmtree(self.stage_dir, ignore_errors=True)
        try:
            self.stage_dir.parent.rmdir()
        except OSError:
            pass

    def _merge_table(
        self, con: duckdb.DuckDBPyConnection, table: str, staged: list[Path], formats: set[str]
    ) -> list[str]:
        """Dedupe staged rows, drop the earlier rows they replace, write the new files; the
        formats that brought rows are added to ``formats``."""
        lake_root = self.lake.path
        new = f"new_{table}"
        day_col = schema.DAY_COLUMN[table]
        keyed = table != "quarantine"
        scan = f"read_parquet({sql_list([str(p) for p in staged])}, union_by_name = true)"
        if keyed:
            # the winners are chosen on the few columns that decide them, each staged row named
            # by its file and row number, then the whole rows of the winners are read once:
            # carrying every column through the two windows took twice as long
            ids = (
                f"read_parquet({sql_list([str(p) for p in staged])}, union_by_name = true, "
                "filename = '_stage_file', file_row_number = true)"
            )
            con.execute(
                f"""
                CREATE TEMP TABLE {new} AS
                WITH s AS (
                    SELECT _stage_file, file_row_number AS _stage_row, source_format, replace_scope, _file, _seq,
                        md5(source_format || chr(31) || row_key || CASE WHEN _distinct
                            THEN '#' || (row_number() OVER (
                                PARTITION BY _file, source_format, row_key ORDER BY _seq) - 1)::VARCHAR
                            ELSE '' END) AS _key,
                        coalesce(delivery, '#file' || _file::VARCHAR) AS _dlv
                    FROM {ids}
                ),
                latest AS (
                    SELECT source_format, replace_scope, arg_max(_dlv, _file) AS keep_dlv
                    FROM s WHERE replace_scope IS NOT NULL GROUP BY ALL
                ),
                scoped AS (
                    SELECT s.* FROM s LEFT JOIN latest USING (source_format, replace_scope)
                    WHERE s.replace_scope IS NULL OR s._dlv = latest.keep_dlv
                ),
                keep AS (
                    SELECT _stage_file, _stage_row, _key FROM scoped
                    QUALIFY row_number() OVER (PARTITION BY _key ORDER BY _file DESC, _seq DESC) = 1
                )
                SELECT w.* EXCLUDE (_stage_file, file_row_number) REPLACE (k._key AS row_key)
                FROM {ids} AS w
                JOIN keep AS k ON k._stage_file = w._stage_file AND k._stage_row = w.file_row_number
                """
            )
        else:
            con.execute(f"CREATE TEMP TABLE {new} AS SELECT * FROM {scan}")
        kept = con.execute(f"SELECT source_format, count(*) FROM {new} GROUP BY 1").fetchall()
        formats.update(fmt for fmt, _ in kept)
        if keyed:
            staged_counts = dict(
                con.execute(f"SELECT source_format, count(*) FROM {scan} GROUP BY 1").fetchall()
            )
            for fmt, n in kept:
                dup = staged_counts.get(fmt, 0) - n
                self._stats(fmt)["rows_duplicate"] += dup
                self.result.rows_duplicate += dup
        replaced_files: list[str] = []
        live = self.manifest.tables.setdefault(table, [])
        for fmt, _ in kept:
            replaced_files += self._replace_existing(con, table, new, fmt, live, keyed)
        cols = ", ".join(schema.columns(table))
        out = con.execute(
            f"""
            COPY (
                SELECT {cols}, source_format,
                       CAST(timezone('UTC', {day_col}) AS DATE) AS day
                FROM {new} ORDER BY _file, _seq
            ) TO '{sql_literal(str(lake_root / table))}'
            (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (source_format, day),
             FILENAME_PATTERN 'run-{self.run_id}-{{uuid}}', APPEND, RETURN_FILES true)
            """
        ).fetchone()
        written_files = out[1] if out else []
        live.extend(Path(f).relative_to(lake_root).as_posix() for f in written_files)
        if table != "quarantine":
            for fmt, n in kept:
                self._stats(fmt)["rows_written"] += n
                self.result.rows_written += n
        con.execute(f"DROP TABLE {new}")
        return replaced_files

    def _drop_reread_leftovers(self, con: duckdb.DuckDBPyConnection, merged: dict[str, set[str]]) -> list[str]:
        """A re-read file replaces everything it wrote before, also in the tables its new version
        no longer fills (its bad lines were fixed: no quarantine rows; a table it no longer
        feeds). `_merge_table` only reaches the tables and formats that brought new rows."""
        replaced: list[str] = []
        for table in (*schema.DATA_TABLES, "quarantine"):
            live = self.manifest.tables.get(table)
            if not live:
                continue
            for fmt in sorted(self.reread):
                if fmt not in merged.get(table, ()):
                    replaced += self._replace_existing(con, table, "", fmt, live, keyed=False)
        return replaced

    def _replace_existing(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        new: str,
        fmt: str,
        live: list[str],
        keyed: bool = True,
    ) -> list[str]:
        """Rewrite the committed files of ``fmt`` that hold rows the new ones replace: same row
        key, same replace scope, or from a file that was re-read (quarantine: re-read only)."""
        root = self.lake.path
        mine = [rel for rel in live if f"/source_format={fmt}/" in f"/{rel}"]
        if not mine:
            return []
        reread = sorted(self.reread.get(fmt, ()))
        if not keyed and not reread:
            return []
        cond = "list_contains($reread, source_file) AND $fmt = $fmt" if not keyed else (
            f"(row_key IN (SELECT row_key FROM {new} WHERE source_format = $fmt)"
            f" OR replace_scope IN (SELECT replace_scope FROM {new}"
            f"     WHERE source_format = $fmt AND replace_scope IS NOT NULL)"
            f" OR list_contains($reread, source_file))"
        )
        paths = [str(root / rel) for rel in mine]
        hits = con.execute(
            f"""SELECT filename, count(*) FROM read_parquet({sql_list(paths)}, filename = true,
                    hive_partitioning = false, union_by_name = true)
                WHERE {cond} GROUP BY 1""",
            {"fmt": fmt, "reread": reread},
        ).fetchall()
        replaced = []
        for filename, n in hits:
            rel = Path(filename).relative_to(root).as_posix()
            target = Path(filename).parent / f"run-{self.run_id}-r{uuid.uuid4().hex}.parquet"
            left = con.execute(
                f"SELECT count(*) FROM read_parquet('{sql_literal(filename)}', hive_partitioning = false) WHERE NOT {cond}",
                {"fmt": fmt, "reread": reread},
            ).fetchall()[0][0]
            if left:
                con.execute(
                    f"""COPY (SELECT * FROM read_parquet('{sql_literal(filename)}', hive_partitioning = false)
                              WHERE NOT {cond}) TO '{sql_literal(str(target))}' (FORMAT parquet, COMPRESSION zstd)""",
                    {"fmt": fmt, "reread": reread},
                ).fetchall()
                live.append(target.relative_to(root).as_posix())
            live.remove(rel)
            replaced.append(rel)
            if keyed:
                self._stats(fmt)["rows_replaced"] += n
                self.result.rows_replaced += n
        return replaced

    def _write_runs(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.per_format:  # nothing read: a nightly run with no new files imports no pyarrow
            return
        import pyarrow as pa

        finished = datetime.now(UTC)
        rows = []
        for fmt, st in self.per_format.items():
            status = "failed" if st["files_failed"] and not st["rows_read"] else (
                "partial" if st["files_failed"] or st["rows_quarantined"] else "ok"
            )
            rows.append(
                {
                    "run_id": self.run_id,
                    "source_format": fmt,
                    "started_at": self.started,
                    "finished_at": finished,
                    "files": st["files"],
                    "rows_read": st["rows_read"],
                    "rows_written": st["rows_written"],
                    "rows_duplicate": st["rows_duplicate"],
                    "rows_quarantined": st["rows_quarantined"],
                    "rows_replaced": st["rows_replaced"],
                    "files_failed": st["files_failed"],
                    "status": status,
                    "message": None,
                }
            )
        tbl = pa.Table.from_pylist(rows, schema=schema.arrow_schema("runs"))
        con.register("runs_new", tbl)
        out = con.execute(
            f"""COPY (SELECT *, CAST(timezone('UTC', started_at) AS DATE) AS day FROM runs_new)
                TO '{sql_literal(str(self.lake.path / "runs"))}'
                (FORMAT parquet, PARTITION_BY (day), FILENAME_PATTERN 'run-{self.run_id}-{{uuid}}',
                 APPEND, RETURN_FILES true)"""
        ).fetchone()
        live = self.manifest.tables.setdefault("runs", [])
        live.extend(Path(f).relative_to(self.lake.path).as_posix() for f in (out[1] if out else []))


def _to_arrow(table: str, rows: list[dict[str, Any]], bad: list[Bad]) -> pa.Table:
    """Rows as an Arrow table; a row that does not fit the schema goes to ``bad``."""
    import pyarrow as pa

    from costlab.ingest.base import Bad

    sch = _staging_schema(table)
    try:
        tbl = pa.Table.from_pylist(rows, schema=sch)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        ok = []
        for row in rows:
            try:
                pa.Table.from_pylist([row], schema=sch)
                ok.append(row)
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as ex:
                bad.append(Bad(str(row.get("source_line", "")), f"invalid value: {ex}", _raw(row)))
        tbl = pa.Table.from_pylist(ok, schema=sch)
    return tbl


def _error_text(path: Path, ex: Exception, source: str | None) -> str:
    """The one-line reason a file failed as a whole."""
    if isinstance(ex, SourceError):
        return str(ex)
    if isinstance(ex, CostlabError):
        return f"{path}: {ex}"
    if isinstance(ex, OSError):
        return f"{path}: {ex.strerror or ex}"
    if isinstance(ex, RecursionError):  # JSON nested deeper than Python reads, where a source did not say
        return f"{path}: data nested too deeply to read; flatten or remove that record"
    return f"{path}: internal error in {source or 'detection'}: {type(ex).__name__}: {ex}"


def _workers() -> int:
    raw = os.environ.get(WORKERS_ENV, "")
    if not hasattr(os, "fork") or sys.platform == "darwin":  # fork is unsafe on macOS
        return 1
    try:
        return max(1, int(raw)) if raw else min(os.cpu_count() or 1, 8)
    except ValueError:
        raise CostlabError(f"{WORKERS_ENV}={raw!r}: not a number; set a count of processes, e.g. 2") from None


@dataclass
class _FileOut:
    """What a worker sends back for one file (all picklable)."""

    source: str | None = None
    error: str | None = None
    ident: tuple[int, int, str] | None = None  # size, mtime_ns, sha256
    rows: int = 0  # rows staged for the file
    #: staged Parquet files (table, path): a big file's full chunks, and on a batch's last file
    #: the batch's rows (`_parse_batch`)
    staged: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, pa.Table]] = field(default_factory=list)  # in the worker only
    bad: list[Bad] = field(default_factory=list)
    empty: bool = False  # nothing to read (``error`` says so)
    unrecognised: str | None = None  # no source reads it: the reason, when skipping is allowed


@dataclass
class _Remote:
    jobs: set[int] = field(default_factory=set)
    results: Iterator[_FileOut] = field(default_factory=lambda: iter(()))
    pool: Any = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _warm_up() -> None:
    """Import what every worker needs (the sources, pyarrow) and let the sources build their
    decoders, once in the parent: forked workers share it instead of each paying for it (about
    0.2 s a worker, a sixth of a 0.1 GiB ingest)."""
    import pyarrow.parquet  # noqa: F401

    from costlab.ingest.registry import sources

    for cls in sources().values():
        cls.warm_up()


def _parse_batch(job: tuple[list[tuple[int, str]], str | None, ParseContext, str, datetime, str]) -> list[_FileOut]:
    """Worker: parse a batch of files (`_parse_file` each) and stage the rows of those that
    parsed completely as one Parquet file per table, listed on the batch's last outcome. A
    file that fails adds nothing (its own full chunks are deleted), as in-process."""
    import pyarrow as pa

    files, source, ctx, run_id, started, stage = job
    outs = [_parse_file(n, Path(name), source, ctx, run_id, started, Path(stage)) for n, name in files]
    kept: dict[str, list[pa.Table]] = defaultdict(list)
    for out in outs:
        for table, tbl in out.tables:
            kept[table].append(tbl)
        out.tables = []
    for table, tables in kept.items():
        rows = pa.concat_tables(tables)
        if rows.num_rows:
            outs[-1].staged.append((table, _stage_file(Path(stage), table, f"b{files[0][0]:07d}", rows)))
    return outs


def _parse_file(
    ordinal: int, path: Path, source: str | None, ctx: ParseContext, run_id: str, started: datetime, stage: Path
) -> _FileOut:
    """Worker: hash, detect and parse one file (same steps as `_Run._ingest_file`): its last
    rows per table as Arrow tables, full chunks (`CHUNK_ROWS`) staged at once."""
    from costlab.ingest.util import line_limit

    out = _FileOut()
    try:
        with line_limit(ctx.limits.max_line_bytes):
            st = path.stat()
            digest = file_sha256(path)
            cls = _source_for(path, source)
            out.source = cls.name
            common = _common(path, cls, run_id, started, ordinal, ctx.redact)
            for table, buf, final in _row_chunks(path, cls, ctx, common, out.bad):
                tbl = _to_arrow(table, buf, out.bad)
                out.rows += tbl.num_rows
                if final:
                    out.tables.append((table, tbl))
                elif tbl.num_rows:
                    name = f"w{ordinal:07d}-{len(out.staged):05d}"
                    out.staged.append((table, _stage_file(stage, table, name, tbl)))
            out.ident = (st.st_size, st.st_mtime_ns, digest)
    except Exception as ex:  # noqa: BLE001 - reported like the in-process path does
        for _, staged in out.staged:
            Path(staged).unlink(missing_ok=True)
        if isinstance(ex, EmptyFileError):
            return _FileOut(error=str(ex), empty=True)
        if isinstance(ex, UnknownFormatError):
            return _FileOut(error=_error_text(path, ex, None), unrecognised=str(ex))
        return _FileOut(source=out.source, error=_error_text(path, ex, out.source))
    return out


def _stage_file(stage: Path, table: str, name: str, tbl: pa.Table) -> str:
    import pyarrow.parquet as pq

    out = stage / table / f"{name}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(tbl, out, compression="zstd")
    return str(out)


def _source_for(path: Path, source: str | None) -> type[Source]:
    """The named source, else the detected one; `EmptyFileError` when the file holds nothing."""
    from costlab.ingest.base import Sniff
    from costlab.ingest.registry import detect, get_source

    if not source:
        return detect(path)
    if Sniff(path).kind == "empty":
        raise EmptyFileError(str(path))
    return get_source(source)


def _common(
    path: Path, cls: type[Source], run_id: str, started: datetime, ordinal: int, redact: bool
) -> dict[str, Any]:
    return {
        "source_file": source_name(path, redact),
        "run_id": run_id,
        "ingested_at": started,
        "source_format": cls.name,
        "_file": ordinal,
        "_distinct": cls.distinct_duplicates,
    }


def _row_chunks(
    path: Path, cls: type[Source], ctx: ParseContext, common: dict[str, Any], bad: list[Bad]
) -> Iterator[tuple[str, list[dict[str, Any]], bool]]:
    """Checked rows of one file in per-table chunks of CHUNK_ROWS, then each table's rest
    (``final``); rows that cannot be stored go to ``bad``."""
    from costlab.ingest.base import Bad

    buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seq = 0
    for item in cls().parse(path, ctx):
        if isinstance(item, Bad):
            bad.append(item)
            continue
        table, row = item
        problem = _check_row(table, row, cls.name, ctx.limits)
        if problem:
            bad.append(Bad(str(row.get("source_line", "")), problem, _raw(row)))
            continue
        if ctx.redact:
            _redact(row)
        seq += 1
        row.update(common)
        row["_seq"] = seq
        buf = buffers[table]
        buf.append(row)
        if len(buf) >= CHUNK_ROWS:
            yield table, buf, False
            buffers[table] = []
    for table, buf in buffers.items():
        if buf:
            yield table, buf, True


_STAGING_SCHEMAS: dict[str, pa.Schema] = {}
_INTERNAL = [("source_format", "VARCHAR"), ("_file", "BIGINT"), ("_seq", "BIGINT"), ("_distinct", "BOOLEAN")]
_ALLOWED: dict[str, frozenset[str]] = {}


def _staging_schema(table: str) -> pa.Schema:
    if table not in _STAGING_SCHEMAS:
        _STAGING_SCHEMAS[table] = schema.arrow_schema(table, _INTERNAL)
    return _STAGING_SCHEMAS[table]


def _check_row(table: str, row: dict[str, Any], fmt: str, limits: Limits) -> str | None:
    """Why a parsed row cannot be stored (None when it can): a source bug raises, a row with
    no time or key, an implausible number or a reversed period is quarantined."""
    if table not in schema.DATA_TABLES:
        raise SourceError(fmt, f"internal: source {fmt} wrote to unknown table {table!r}")
    allowed = _ALLOWED.get(table)
    if allowed is None:
        allowed = _ALLOWED[table] = frozenset(schema.columns(table))
    if not allowed.issuperset(row):  # no set built per row: this runs for every row
        unknown = row.keys() - allowed
        raise SourceError(fmt, f"internal: source {fmt} produced unknown columns {sorted(unknown)}")
    when = row.get(schema.DAY_COLUMN[table])
    if when is None:
        return f"missing {schema.DAY_COLUMN[table]} (needed to place the row in time)"
    if isinstance(when, datetime) and when.tzinfo is not None and not EARLIEST <= when < LATEST:
        return (
            f"{schema.DAY_COLUMN[table]} {when.isoformat()} is outside {EARLIEST.date()} to "
            f"{LATEST.year - 1}-12-31: an unset time (epoch 0) or a damaged value"
        )
    if not row.get("row_key"):
        return "missing row key"
    return _implausible(table, row, limits) or _reversed_period(table, row)


def _implausible(table: str, row: dict[str, Any], limits: Limits) -> str | None:
    """A count or amount no real export holds (`costlab.limits`): an "unknown" sentinel such
    as INT64_MAX, a unit error, or a hostile file. Reports would overflow or mislead on it."""
    per_call = table == "spans"
    cap = limits.max_tokens_per_call if per_call else limits.max_tokens_per_line
    for col in schema.COUNT_COLUMNS[table]:
        n = row.get(col)
        if n is None or not isinstance(n, int):
            continue  # a wrong type is reported when the row is converted
        if n < 0 and table != "charges":  # a billing line's count may be a reversal
            return f"{col} is negative ({n}); a count cannot be"
        if abs(n) > cap:
            per = "call" if per_call else "line"
            return (
                f"{col} = {n} is past the plausible {cap:,} per {per} (ingest.max_tokens_per_{per} "
                "in costlab.toml): an 'unknown' sentinel or a unit error"
            )
    for col in schema.MONEY_COLUMNS[table]:
        v = row.get(col)
        if isinstance(v, (Decimal, int)) and abs(Decimal(v)) > limits.max_money_per_line:
            return (
                f"{col} = {v} is past the plausible {limits.max_money_per_line:,} per line "
                "(ingest.max_money_per_line in costlab.toml): a unit error or a damaged file"
            )
    return None


def _reversed_period(table: str, row: dict[str, Any]) -> str | None:
    """A period ``[start, end)`` that ends before it starts."""
    for start, end in schema.PERIOD_COLUMNS[table]:
        a, b = row.get(start), row.get(end)
        try:
            if a is not None and b is not None and b < a:
                return f"{end} ({b.isoformat()}) is before {start} ({a.isoformat()})"
        except (TypeError, AttributeError):
            continue  # not two datetimes: the conversion reports it
    return None


def _raw(row: dict[str, Any]) -> str:
    from costlab.ingest.util import raw_text

    return raw_text({k: v for k, v in row.items() if not k.startswith("_")})


def source_name(path: Path | str, redact: bool) -> str:
    """How the lake names a source file: in ``source_file``, ``runs.files`` and the manifest's
    file index (the key that lets the next run skip it). ``--redact`` hashes the e-mail addresses
    in it (`costlab.redact.redact_path`: the same path gives the same name, so skipping works)."""
    from costlab.ingest.util import storable

    name = storable(str(path))  # bytes that are not UTF-8 escaped: ``spend-\xff.csv``
    if not redact:
        return name
    from costlab.redact import redact_path

    return redact_path(name)


def _redact(row: dict[str, Any]) -> None:
    """Replace user ids and e-mail addresses with stable hashes (``--redact``)."""
    from costlab.redact import redact_row

    redact_row(row)


