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

import hashlib
import os
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.errors import CostlabError, SourceError
from costlab.lake import STAGING, Lake, Manifest, _q, _sql_list

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from costlab.ingest.base import Bad, ParseContext, Source

DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
CHUNK_ROWS = 50_000
Progress = Callable[[int, int, str], None]


@dataclass
class FileResult:
    path: str
    status: str  # ingested | skipped | failed
    source: str | None = None
    rows: int = 0
    quarantined: int = 0
    error: str | None = None


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

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def ingested(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "ingested"]

    @property
    def skipped(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "skipped"]


def discover(
    paths: Iterable[str | os.PathLike[str]], exclude: Path | None = None
) -> tuple[list[Path], list[FileResult]]:
    """Files to consider, in a stable order, and results for paths that do not exist.

    Folders are walked for data files (``DATA_SUFFIXES``, optionally ``.gz``); hidden files and
    the lake itself (``exclude``) are skipped. A file named explicitly is always tried.
    """
    found: list[Path] = []
    missing: list[FileResult] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel_parts = f.relative_to(p).parts
                if any(part.startswith(".") for part in rel_parts) or not f.is_file():
                    continue
                if exclude is not None and f.absolute().is_relative_to(exclude):
                    continue
                name = f.name.lower()
                base = name[:-3] if name.endswith(".gz") else name
                if base.endswith(DATA_SUFFIXES):
                    found.append(f.absolute())
        elif p.is_file():
            found.append(p.absolute())
        else:
            missing.append(FileResult(str(p), "failed", error=f"{p}: no such file or directory"))
    seen: set[Path] = set()
    unique = [f for f in found if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]
    return unique, missing


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ingest(
    paths: Iterable[str | os.PathLike[str]],
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
) -> IngestResult:
    """Ingest files and folders into the lake; see the module docstring for the steps.

    Returns an `IngestResult`; files that could not be read are listed in ``.failed`` with a
    one-line reason (they are not raised), so one bad file never stops the others.
    """
    from costlab.ingest import get_source
    from costlab.ingest.base import ParseContext

    lk = lake if isinstance(lake, Lake) else Lake(lake)
    ctx = ParseContext(keep_text=keep_text, redact=redact, config=config or {})
    if source:
        get_source(source)  # unknown names fail before any work
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    result = IngestResult(run_id=run_id, lake=str(lk.path))
    files, missing = discover(paths, exclude=lk.path)
    result.files.extend(missing)
    with lk.write_lock(wait=wait, on_wait=on_wait):
        manifest = lk.collect_garbage(lk.manifest())
        _Run(lk, manifest, result, ctx, source, force, progress).execute(files)
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
    ) -> None:
        self.lake, self.manifest, self.result, self.ctx = lake, manifest, result, ctx
        self.source, self.force, self.progress = source, force, progress
        self.run_id = result.run_id
        self.started = datetime.now(UTC)
        self.stage_dir = lake.path / STAGING / self.run_id
        self.staged: dict[str, list[Path]] = defaultdict(list)
        self.index_updates: dict[str, dict[str, Any]] = {}
        self.reread: dict[str, set[str]] = defaultdict(set)  # source_format -> re-read files
        self.per_format: dict[str | None, dict[str, Any]] = {}

    # -- orchestration ----------------------------------------------------------------------
    def execute(self, files: list[Path]) -> None:
        todo = self._changed(files)
        for n, path in enumerate(todo):
            if self.progress:
                self.progress(n, len(todo), path.name)
            self._ingest_file(n, path)
        if self.progress:
            self.progress(len(todo), len(todo), "")
        self._finish()

    def _changed(self, files: list[Path]) -> list[Path]:
        todo = []
        for path in files:
            try:
                st = path.stat()
            except OSError as ex:
                self.result.files.append(FileResult(str(path), "failed", error=f"{path}: {ex.strerror}"))
                continue
            known = self.manifest.files.get(str(path))
            if known and not self.force:
                if known["size"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
                    self.result.files.append(FileResult(str(path), "skipped", known.get("source_format")))
                    continue
                digest = file_sha256(path)
                if known["size"] == st.st_size and digest == known["sha256"]:
                    self.index_updates[str(path)] = {**known, "mtime_ns": st.st_mtime_ns}
                    self.result.files.append(FileResult(str(path), "skipped", known.get("source_format")))
                    continue
            todo.append(path)
        return todo

    def _ingest_file(self, ordinal: int, path: Path) -> None:
        from costlab.ingest import detect, get_source

        fr = FileResult(str(path), "failed")
        self.result.files.append(fr)
        staged_before = {t: len(v) for t, v in self.staged.items()}
        try:
            st = path.stat()
            digest = file_sha256(path)
            cls = get_source(self.source) if self.source else detect(path)
            fr.source = cls.name
            rows, bad = self._parse(ordinal, path, cls)
        except SourceError as ex:
            fr.error = str(ex)
        except CostlabError as ex:
            fr.error = f"{path}: {ex}"
        except OSError as ex:
            fr.error = f"{path}: {ex.strerror or ex}"
        except Exception as ex:  # noqa: BLE001 - a parser bug must not abort the run
            fr.error = f"{path}: internal error in {fr.source or 'detection'}: {type(ex).__name__}: {ex}"
        if fr.error is not None:
            for table, n in list(self.staged.items()):
                for f in n[staged_before.get(table, 0) :]:
                    f.unlink(missing_ok=True)
                del n[staged_before.get(table, 0) :]
            self._stats(fr.source)["files_failed"] += 1
            self._stats(fr.source)["files"].append(str(path))
            return
        fr.status, fr.rows, fr.quarantined = "ingested", rows, bad
        stats = self._stats(cls.name)
        stats["files"].append(str(path))
        stats["rows_read"] += rows + bad
        stats["rows_quarantined"] += bad
        self.result.rows_read += rows + bad
        self.result.rows_quarantined += bad
        if str(path) in self.manifest.files:
            self.reread[cls.name].add(str(path))
        self.index_updates[str(path)] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": digest,
            "source_format": cls.name,
            "run_id": self.run_id,
            "rows": rows,
        }

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
        from costlab.ingest.base import Bad

        buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        bad: list[Bad] = []
        good = seq = 0
        common = {
            "source_file": str(path),
            "run_id": self.run_id,
            "ingested_at": self.started,
            "source_format": cls.name,
            "_file": ordinal,
            "_distinct": cls.distinct_duplicates,
        }
        for item in cls().parse(path, self.ctx):
            if isinstance(item, Bad):
                bad.append(item)
                continue
            table, row = item
            problem = _check_row(table, row, cls.name)
            if problem:
                bad.append(Bad(str(row.get("source_line", "")), problem, _raw(row)))
                continue
            if self.ctx.redact:
                _redact(row)
            seq += 1
            row.update(common)
            row["_seq"] = seq
            buf = buffers[table]
            buf.append(row)
            if len(buf) >= CHUNK_ROWS:
                good += self._stage(table, ordinal, buf, bad)
                buffers[table] = []
        for table, buf in buffers.items():
            if buf:
                good += self._stage(table, ordinal, buf, bad)
        if bad:
            self._stage_quarantine(ordinal, path, cls.name, bad)
        return good, len(bad)

    def _stage(self, table: str, ordinal: int, rows: list[dict[str, Any]], bad: list[Bad]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

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
        if tbl.num_rows == 0:
            return 0
        out = self.stage_dir / table / f"f{ordinal:07d}-{len(self.staged[table]):05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(tbl, out, compression="zstd")
        self.staged[table].append(out)
        return tbl.num_rows

    def _stage_quarantine(self, ordinal: int, path: Path, fmt: str, bad: list[Bad]) -> None:
        rows = [
            {
                "run_id": self.run_id,
                "source_file": str(path),
                "location": b.location,
                "reason": b.reason[:1000],
                "raw": (b.raw or "")[:2000],
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
    def _finish(self) -> None:
        import duckdb

        manifest = self.manifest
        replaced: list[str] = []
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET temp_directory = '{_q(str(self.stage_dir / 'tmp'))}'")
            for table, files in self.staged.items():
                if files:
                    replaced += self._merge_table(con, table, files)
            self._write_runs(con)
        finally:
            con.close()
        manifest.files.update(self.index_updates)
        if self.index_updates or self.staged:
            now = time.time()
            manifest.trash.extend((rel, now) for rel in replaced)
            self.lake.commit(manifest)
        shutil.rmtree(self.stage_dir, ignore_errors=True)
        try:
            self.stage_dir.parent.rmdir()
        except OSError:
            pass

    def _merge_table(self, con: duckdb.DuckDBPyConnection, table: str, staged: list[Path]) -> list[str]:
        """Dedupe staged rows, drop the earlier rows they replace, write the new files."""
        lake_root = self.lake.path
        new = f"new_{table}"
        day_col = schema.DAY_COLUMN[table]
        keyed = table != "quarantine"
        scan = f"read_parquet({_sql_list([str(p) for p in staged])}, union_by_name = true)"
        if keyed:
            con.execute(
                f"""
                CREATE TEMP TABLE {new} AS
                WITH s AS (
                    SELECT * REPLACE (
                        md5(source_format || chr(31) || row_key || CASE WHEN _distinct
                            THEN '#' || (row_number() OVER (
                                PARTITION BY _file, source_format, row_key ORDER BY _seq) - 1)::VARCHAR
                            ELSE '' END) AS row_key),
                        coalesce(delivery, '#file' || _file::VARCHAR) AS _dlv
                    FROM {scan}
                ),
                latest AS (
                    SELECT source_format, replace_scope, arg_max(_dlv, _file) AS keep_dlv
                    FROM s WHERE replace_scope IS NOT NULL GROUP BY ALL
                ),
                scoped AS (
                    SELECT s.* FROM s LEFT JOIN latest USING (source_format, replace_scope)
                    WHERE s.replace_scope IS NULL OR s._dlv = latest.keep_dlv
                )
                SELECT * FROM scoped
                QUALIFY row_number() OVER (PARTITION BY row_key ORDER BY _file DESC, _seq DESC) = 1
                """
            )
        else:
            con.execute(f"CREATE TEMP TABLE {new} AS SELECT * FROM {scan}")
        kept = con.execute(f"SELECT source_format, count(*) FROM {new} GROUP BY 1").fetchall()
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
            ) TO '{_q(str(lake_root / table))}'
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
            f"""SELECT filename, count(*) FROM read_parquet({_sql_list(paths)}, filename = true,
                    hive_partitioning = false, union_by_name = true)
                WHERE {cond} GROUP BY 1""",
            {"fmt": fmt, "reread": reread},
        ).fetchall()
        replaced = []
        for filename, n in hits:
            rel = Path(filename).relative_to(root).as_posix()
            target = Path(filename).parent / f"run-{self.run_id}-r{uuid.uuid4().hex}.parquet"
            left = con.execute(
                f"SELECT count(*) FROM read_parquet('{_q(filename)}', hive_partitioning = false) WHERE NOT {cond}",
                {"fmt": fmt, "reread": reread},
            ).fetchone()[0]  # type: ignore[index]
            if left:
                con.execute(
                    f"""COPY (SELECT * FROM read_parquet('{_q(filename)}', hive_partitioning = false)
                              WHERE NOT {cond}) TO '{_q(str(target))}' (FORMAT parquet, COMPRESSION zstd)""",
                    {"fmt": fmt, "reread": reread},
                )
                live.append(target.relative_to(root).as_posix())
            live.remove(rel)
            replaced.append(rel)
            if keyed:
                self._stats(fmt)["rows_replaced"] += n
                self.result.rows_replaced += n
        return replaced

    def _write_runs(self, con: duckdb.DuckDBPyConnection) -> None:
        import pyarrow as pa

        if not self.per_format:
            return
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
                TO '{_q(str(self.lake.path / "runs"))}'
                (FORMAT parquet, PARTITION_BY (day), FILENAME_PATTERN 'run-{self.run_id}-{{uuid}}',
                 APPEND, RETURN_FILES true)"""
        ).fetchone()
        live = self.manifest.tables.setdefault("runs", [])
        live.extend(Path(f).relative_to(self.lake.path).as_posix() for f in (out[1] if out else []))


_STAGING_SCHEMAS: dict[str, pa.Schema] = {}
_INTERNAL = [("source_format", "VARCHAR"), ("_file", "BIGINT"), ("_seq", "BIGINT"), ("_distinct", "BOOLEAN")]
_ALLOWED: dict[str, frozenset[str]] = {}


def _staging_schema(table: str) -> pa.Schema:
    if table not in _STAGING_SCHEMAS:
        _STAGING_SCHEMAS[table] = schema.arrow_schema(table, _INTERNAL)
    return _STAGING_SCHEMAS[table]


def _check_row(table: str, row: dict[str, Any], fmt: str) -> str | None:
    """Why a parsed row cannot be stored (None when it can)."""
    if table not in schema.DATA_TABLES:
        raise SourceError(fmt, f"internal: source {fmt} wrote to unknown table {table!r}")
    allowed = _ALLOWED.get(table)
    if allowed is None:
        allowed = _ALLOWED[table] = frozenset(schema.columns(table))
    unknown = row.keys() - allowed
    if unknown:
        raise SourceError(fmt, f"internal: source {fmt} produced unknown columns {sorted(unknown)}")
    if row.get(schema.DAY_COLUMN[table]) is None:
        return f"missing {schema.DAY_COLUMN[table]} (needed to place the row in time)"
    if not row.get("row_key"):
        return "missing row key"
    return None


def _raw(row: dict[str, Any]) -> str:
    from costlab.ingest.util import raw_text

    return raw_text({k: v for k, v in row.items() if not k.startswith("_")})


def _redact(row: dict[str, Any]) -> None:
    """Replace user ids and e-mail addresses with stable hashes (``--redact``)."""
    from costlab.redact import redact_row

    redact_row(row)


