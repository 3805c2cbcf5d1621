"""The Parquet lake: layout, identity, the committed manifest, the write lock, and DuckDB views.

Layout (``<lake>/``)::

    _costlab_lake.json                   identity: written with the first manifest, never changed
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

Never lose data: a lake knows it is a lake (the identity file; a manifest written by an older
costlab proves it too). A writer refuses a path that is a file, a folder of other files, or a lake
whose manifest is lost or damaged (`costlab.lake_check` rebuilds it). Garbage collection deletes
only files whose names costlab generates (``GENERATED``), inside the lake's table folders.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from costlab import schema
from costlab.config import resolve_lake
from costlab.errors import (
    CostlabError,
    LakeDamagedError,
    LakeFormatError,
    LakeLockedError,
    LakeNotFoundError,
    NotALakeError,
)

MANIFEST = "_manifest.json"
IDENTITY = "_costlab_lake.json"
LOCK = ".lock"
STAGING = "_staging"
FORMAT_VERSION = 1
TRASH_GRACE_SECONDS = 15 * 60
#: Every table folder a lake may hold (stored and derived).
LAKE_TABLES: tuple[str, ...] = (*schema.TABLES, *schema.DERIVED_TABLES)
#: An ingest's run id (pipeline.ingest): UTC start second and 8 random hex digits.
RUN_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}")
#: A data file name ingest generates: ``run-<run_id>-<uuid>.parquet`` (DuckDB's FILENAME_PATTERN)
#: or ``run-<run_id>-r<hex>.parquet`` (a file rewritten without replaced rows).
GENERATED = re.compile(
    rf"run-(?P<run_id>{RUN_ID.pattern})-(?:[0-9a-f]{{8}}(?:-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}|r[0-9a-f]{{32}})\.parquet"
)
#: Entries a folder may hold and still be empty enough to become a lake (ours, or the desktop's).
_EMPTY_OK = re.compile(r"\.lock|_staging|\.DS_Store|(?:_manifest|_costlab_lake)\.json\.\d+\.tmp")


def generated_run(rel: str) -> str | None:
    """The run id of a lake-relative path costlab generated (``<table>/<key>=<value>/.../run-...``),
    else None: only such files are ever deleted by garbage collection."""
    parts = rel.split("/")
    if len(parts) < 2 or parts[0] not in LAKE_TABLES or not all("=" in p for p in parts[1:-1]):
        return None
    m = GENERATED.fullmatch(parts[-1])
    return m["run_id"] if m else None


class ManifestError(ValueError):
    """Why a manifest's text is not a manifest (one phrase, for `LakeDamagedError`)."""


@dataclass
class Manifest:
    """Committed lake state: live data files per table and the ingested-file index."""

    version: int = 0
    tables: dict[str, list[str]] = field(default_factory=dict)
    #: source path -> {size, mtime_ns, sha256, source_format, run_id, rows}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: replaced data files awaiting deletion: [path, unix time replaced]
    trash: list[tuple[str, float]] = field(default_factory=list)
    #: what the stored rollups are split by (costlab.rollups.RollupKeys as JSON); {} = unknown
    rollup_keys: dict[str, Any] = field(default_factory=dict)
    #: the bill's learned per-token rates and the digest of what they derive from
    #: (costlab.learned_rates); {} = not kept
    learned_rates: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The manifest as compact JSON, keys sorted. msgspec writes a 17k-file index in half
        json's time; a path that is not valid Unicode (undecodable bytes in a file name, kept
        by Python as lone surrogates) cannot be UTF-8, so it goes through json's ASCII escapes."""
        data = {
            "format": FORMAT_VERSION,
            "version": self.version,
            "tables": self.tables,
            "files": self.files,
            "trash": self.trash,
            **({"rollup_keys": self.rollup_keys} if self.rollup_keys else {}),
            **({"learned_rates": self.learned_rates} if self.learned_rates else {}),
        }
        import msgspec

        try:
            return msgspec.json.encode(data, order="sorted")
        except (msgspec.EncodeError, UnicodeEncodeError, TypeError, OverflowError):
            return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")

    def live(self) -> set[str]:
        """Every data file the manifest lists, lake-relative."""
        return {p for files in self.tables.values() for p in files}

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check every field's type; `ManifestError` says what is wrong, and a newer
        format is a `LakeDamagedError` (upgrade costlab)."""
        try:
            data = _decode(text)
        except UnicodeDecodeError:
            raise ManifestError("not UTF-8 text") from None
        except (ValueError, RecursionError) as ex:
            raise ManifestError(f"not JSON: {str(ex)[:80]}") from None
        if not isinstance(data, dict):
            raise ManifestError(f"a JSON {_kind(data)}, not an object")
        fmt = _field(data, "format", int, default=1)
        if fmt > FORMAT_VERSION:
            raise LakeFormatError(
                f"lake format {fmt} is newer than this costlab understands (format {FORMAT_VERSION}); upgrade costlab"
            )
        if fmt < 1:
            raise ManifestError(f"'format' is {fmt}")
        return cls(
            version=_field(data, "version", int),
            tables=_tables(_field(data, "tables", dict)),
            files=_files(_field(data, "files", dict)),
            trash=_trash(_field(data, "trash", list, default=[])),
            rollup_keys=_field(data, "rollup_keys", dict, default={}),
            learned_rates=_field(data, "learned_rates", dict, default={}),
        )


_MISSING = object()


def _decode(text: str | bytes) -> Any:
    """JSON text as Python objects: msgspec (twice json's speed on a 5 MB manifest), else json,
    which also accepts what msgspec refuses (escaped lone surrogates from `Manifest.to_bytes`'
    fallback, integers beyond 64 bits) and words the error for text that is not JSON."""
    import msgspec

    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return json.loads(raw.decode("utf-8") if isinstance(text, bytes) else text)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "whole number", float: "fractional number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _a(value: Any) -> str:
    """``value``'s kind with its article: "an array", "a string", "null"."""
    kind = _kind(value)
    return kind if kind == "null" else ("an " if kind[0] in "aeiou" else "a ") + kind


def _field(data: dict[str, Any], key: str, typ: type, default: Any = _MISSING, where: str = "") -> Any:
    value = data.get(key, default)
    if value is _MISSING:
        raise ManifestError(f"{where}'{key}' is missing")
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ManifestError(f"{where}'{key}' is {_a(value)}, not {_a(typ())}")
    return value


def _rel(value: Any, where: str) -> str:
    """A lake-relative POSIX path (no absolute path, no ``..``: a manifest never points outside)."""
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where} holds {_a(value)}, not a file path")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in value.split("/")):
        raise ManifestError(f"{where} holds {value[:60]!r}, not a path inside the lake")
    return value


def _tables(raw: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for name, files in raw.items():
        if not isinstance(files, list):
            raise ManifestError(f"'tables.{name}' is {_a(files)}, not an array")
        out[name] = [_rel(f, f"'tables.{name}'") for f in files]
    return out


_FILE_FIELDS: dict[str, tuple[type, bool]] = {  # name -> (type, required)
    "size": (int, True), "mtime_ns": (int, True), "sha256": (str, True),
    "source_format": (str, False), "run_id": (str, False), "rows": (int, False),
}  # fmt: skip


_REQUIRED = tuple((key, typ) for key, (typ, required) in _FILE_FIELDS.items() if required)
_OPTIONAL = tuple((key, typ) for key, (typ, required) in _FILE_FIELDS.items() if not required)


def _well_formed(entry: Any) -> bool:
    """Whether ``entry`` passes `_files`' checks, quickly (a nightly run reads 17k entries): JSON
    gives no subclasses, so ``type(v) is int`` is the check's isinstance, a bool excluded."""
    if type(entry) is not dict:
        return False
    for key, typ in _REQUIRED:
        if type(entry.get(key)) is not typ:
            return False
    for key, typ in _OPTIONAL:
        value = entry.get(key)
        if value is not None and type(value) is not typ:
            return False
    return True


def _files(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for path, entry in raw.items():
        if _well_formed(entry):
            continue  # else the checks below name what is wrong
        if not isinstance(entry, dict):
            raise ManifestError(f"'files' entry {path[:60]!r} is {_a(entry)}, not an object")
        for key, (typ, required) in _FILE_FIELDS.items():
            if required or entry.get(key) is not None:
                _field(entry, key, typ, where=f"'files' entry {path[:60]!r}: ")
    return raw


def _trash(raw: list[Any]) -> list[tuple[str, float]]:
    out = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and _is_time(item[1])):
            raise ManifestError("'trash' holds an entry that is not [path, time]")
        out.append((_rel(item[0], "'trash'"), float(item[1])))
    return out


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class DiskFile:
    """A file (or symlink) under a table folder of the lake."""

    rel: str  #: lake-relative POSIX path
    run_id: str | None  #: the run that wrote it; None: a name costlab does not generate (never deleted)

    @property
    def table(self) -> str:
        return self.rel.split("/", 1)[0]


class Lake:
    """A costlab lake on local disk: its files, manifest, identity and write lock. Cheap to
    create; nothing is read until asked. Storage only: queries over it go through
    `costlab.workspace.Workspace`, which adds the settings, the period and the engine.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_lake(path)

    def __repr__(self) -> str:
        return f"Lake({str(self.path)!r})"

    # -- identity and state ------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether a lake is here: its identity file, or a manifest an older costlab wrote."""
        return (self.path / IDENTITY).is_file() or (self.path / MANIFEST).is_file()

    def manifest(self) -> Manifest:
        """The committed manifest, for readers. No lake here: `LakeNotFoundError` (a typo in
        ``--lake`` must not read as an empty lake); a lost, damaged or newer one:
        `LakeDamagedError`; a file or a folder of other files: `NotALakeError`."""
        manifest = self._read_manifest()
        if manifest is None:
            problem = self._without_manifest()
            raise problem or LakeNotFoundError(
                f"no costlab lake at {self.path}; run `costlab ingest FILES --lake {self.path}` first, "
                "or check --lake / $COSTLAB_LAKE"
            )
        return manifest

    def create(self) -> Manifest:
        """Make a new lake here (a new or empty folder) or open the one that is; see `open_for_write`."""
        with self.write_lock():
            return self.open_for_write()

    def open_for_write(self) -> Manifest:
        """The manifest a writer builds on (hold `write_lock`). A new or empty folder becomes a lake
        (manifest, then identity); a lake an older costlab wrote gets its identity. Anything else
        is refused before a file is touched."""
        manifest = self._read_manifest()
        if manifest is None:
            problem = self._without_manifest()
            if problem is not None:
                raise problem
            manifest = Manifest()
            self.commit(manifest)
        self._ensure_identity()
        return manifest

    def _read_manifest(self) -> Manifest | None:
        """The parsed manifest; None when there is no manifest file."""
        try:
            data = (self.path / MANIFEST).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as ex:
            raise self._damaged(f"{MANIFEST} cannot be read ({ex.strerror or ex})") from None
        try:
            return Manifest.from_json(data)
        except LakeFormatError as ex:
            raise LakeFormatError(f"lake {self.path}: {ex.problem}", ex.problem) from None
        except ManifestError as ex:
            raise self._damaged(f"{MANIFEST} is damaged: {ex}") from None

    def _without_manifest(self) -> CostlabError | None:
        """Why this path, which has no manifest, is no place for a lake; None when there is nothing
        here yet (absent, or an empty folder) and a lake may be created."""
        p = self.path
        if not p.exists():
            return NotALakeError(f"{p} is a broken symlink; pass --lake a folder") if p.is_symlink() else None
        if not p.is_dir():
            return NotALakeError(f"{p} is a file, not a lake folder; pass --lake a new folder or an existing costlab lake")
        if (p / IDENTITY).exists():
            return self._damaged(f"it has no {MANIFEST} (lost in a copy, restore or sync?)")
        if any(f.run_id for f in self.scan()):
            return self._damaged(f"it holds costlab data files but no {MANIFEST}")
        try:
            others = sorted(e for e in os.listdir(p) if not _EMPTY_OK.fullmatch(e))
        except OSError as ex:
            return NotALakeError(f"{p}: cannot list the folder ({ex.strerror or ex})")
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            return NotALakeError(
                f"{p} is not a costlab lake: it holds other files ({shown}); nothing was changed. "
                "Pass --lake a new or empty folder, or an existing lake"
            )
        return None

    def _damaged(self, problem: str) -> LakeDamagedError:
        return LakeDamagedError(
            f"lake {self.path}: {problem}; nothing was changed. See `costlab lake check --lake {self.path}`; "
            f"`costlab lake repair --lake {self.path}` rebuilds the manifest from the data files",
            problem,
        )

    def _ensure_identity(self) -> None:
        if not (self.path / IDENTITY).exists():
            from costlab.version import __version__

            identity = {
                "costlab_lake": True,
                "format": FORMAT_VERSION,
                "lake_id": uuid.uuid4().hex,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "created_by": f"costlab {__version__}",
            }
            self._write_atomic(IDENTITY, json.dumps(identity, indent=1) + "\n")

    def scan(self) -> Iterator[DiskFile]:
        """Every file under the table folders, in a stable order. Symlinks are listed but never
        followed, and are never costlab's (``run_id`` None)."""
        for table in LAKE_TABLES:
            top = self.path / table
            if top.is_symlink():
                yield DiskFile(table, None)
                continue
            for here, dirs, names in os.walk(top):  # does not descend into symlinked folders
                dirs.sort()
                rel_dir = Path(here).relative_to(self.path).as_posix()
                for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(here, d))]:
                    rel = f"{rel_dir}/{name}"
                    yield DiskFile(rel, None if os.path.islink(os.path.join(here, name)) else generated_run(rel))

    # -- writing -------------------------------------------------------------------------------
    def commit(self, manifest: Manifest) -> None:
        """Atomically publish ``manifest`` (write, fsync, rename, fsync the directory); a lake
        without its identity file gets it now."""
        manifest.version += 1
        self._write_atomic(MANIFEST, manifest.to_bytes())
        self._ensure_identity()

    def _write_atomic(self, name: str, text: str | bytes) -> None:
        tmp = self.path / f"{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / name)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def write_lock(self, wait: float = 0.0, on_wait: Any = None, repairing: bool = False) -> Iterator[None]:
        """Exclusive writer lock. Waits up to ``wait`` seconds, then raises `LakeLockedError`.

        flock is released by the kernel when the holder dies, so a killed ingest never leaves
        the lake locked. A file, a folder of files that are not a lake, or (unless
        ``repairing``) a lake without its manifest is refused before the lock file is touched.
        """
        if not (self.path / MANIFEST).is_file():
            problem = self._without_manifest()
            if problem is not None and (not repairing or isinstance(problem, NotALakeError)):
                raise problem
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = open(self.path / LOCK, "a+")  # noqa: SIM115 - held for the context's lifetime
        except OSError as ex:
            raise NotALakeError(f"{self.path}: cannot make a lake here ({ex.strerror or ex})") from None
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

    def garbage(self, manifest: Manifest, now: float | None = None) -> tuple[list[str], list[tuple[str, float]]]:
        """What `collect_garbage` deletes (lake-relative) and the trash it keeps.

        Only files whose names costlab generates, under the table folders, that the manifest does
        not list and that are not trash within its grace period: files of killed ingests, and
        replaced files whose time is up. Raises `LakeDamagedError` instead when files of two or
        more finished runs (their ``runs`` rows) are not in the manifest: it is older than the
        lake (restored from a copy?), and deleting would lose committed data. One such run is
        an ingest killed between writing its runs row and committing.
        """
        now = time.time() if now is None else now
        live = manifest.live()
        keep = [
            (rel, since)
            for rel, since in manifest.trash
            if rel not in live and generated_run(rel) and now - since < TRASH_GRACE_SECONDS
        ]
        kept = {rel for rel, _ in keep}
        doomed = [f for f in self.scan() if f.run_id and f.rel not in live and f.rel not in kept]
        finished = {f.run_id for f in doomed if f.table == "runs"}
        if len(finished) > 1:
            raise self._damaged(
                f"{len(doomed)} data files of {len(finished)} finished ingest runs are not in {MANIFEST} "
                "(was it restored from an older copy?)"
            )
        # runs rows first: a collection cut short leaves no run that looks finished
        doomed.sort(key=lambda f: f.table != "runs")
        return [f.rel for f in doomed], keep

    def collect_garbage(self, manifest: Manifest, now: float | None = None) -> Manifest:
        """Delete `garbage`, the ``_staging/<run id>`` folders of killed ingests and their
        half-written manifests (writer only, under the lock)."""
        doomed, manifest.trash = self.garbage(manifest, now)
        for rel in doomed:
            self._delete(self.path / rel)
        staging = self.path / STAGING
        if staging.is_dir() and not staging.is_symlink():
            for entry in staging.iterdir():
                if RUN_ID.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
            with suppress(OSError):  # not empty: something that is not ours
                staging.rmdir()
        for entry in self.path.glob("_*.json.*.tmp"):
            if _EMPTY_OK.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
                self._delete(entry)
        return manifest

    def _delete(self, path: Path) -> None:
        """Unlink ``path`` if it really lies inside the lake (no symlinked folder leads out)."""
        root, parent = os.path.realpath(self.path), os.path.realpath(path.parent)
        if parent != root and not parent.startswith(root + os.sep):
            return
        with suppress(FileNotFoundError):
            path.unlink()


#: A quoted Parquet path in a DuckDB error's first line.
_QUOTED_PARQUET = re.compile(r"""["']([^"']+\.parquet)["']""")


def lake_file_error(ex: BaseException) -> LakeDamagedError | None:
    """A DuckDB error about a lake's Parquet file that is missing or damaged (deleted or truncated
    under a running report) as one line naming the file; None for any other error."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(ex, (duckdb.IOException, duckdb.InvalidInputException)):
        return None
    match = _QUOTED_PARQUET.search(str(ex).split("\n", 1)[0])
    if match is None:
        return None
    path = Path(match[1])
    root = next((p for p in path.parents if Lake(p).exists()), None)
    if root is None:
        return None
    state = "is missing" if not path.exists() else "is damaged (truncated, or not Parquet)"
    return LakeDamagedError(f"lake file {path} {state}; see `costlab lake check --lake {root}`")


@contextmanager
def lake_file_errors() -> Iterator[None]:
    """Raise `lake_file_error`'s one line instead of DuckDB's error where it applies."""
    try:
        yield
    except Exception as ex:
        error = lake_file_error(ex)
        if error is None:
            raise
        raise error from None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (the ingested-files index: a changed file is re-read)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"
