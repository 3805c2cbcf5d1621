"""`costlab lake check` and `costlab lake repair`: the state of a lake, and a manifest rebuilt from
the data files' own lineage when it was lost or damaged.

check: the identity, the manifest (readable, known format, every field typed), every live file
present with a readable Parquet footer, files of ingests that never committed, files costlab did
not write (never deleted), trash and staging. It reads only and takes no lock, so files of an
ingest running at that moment show as not committed.

repair: the runs that committed are read from the ``runs`` table's files (an ingest writes its
runs row last, just before it commits). Every data file those runs wrote is a candidate. A
candidate is superseded, and left out, when a later run replaced its rows; costlab rewrites a file
without the replaced rows as ``run-<later run>-r<hex>``, so by lineage a candidate is superseded
when

- one of its row keys is in a file a later run wrote (the replacement, or this file's rewrite);
- one of its replace scopes was delivered again by a later run (those rows carry that run's id);
- one of its source files was re-read by a later run of the same format (a re-read file replaces
  everything it wrote before, in every table, also where its new version writes nothing).

The ingested-files index is rebuilt from the rows' ``source_file`` (live or replaced) and the
``files`` of runs rows where no file failed: a source not modified since
the run that last read it started is indexed from disk (the next ingest skips it, as before); one
changed or gone since cannot be indexed exactly, and the next ingest given it re-reads it once and
replaces its rows, as for any changed file (said so in the output). ``call_facts`` is left out and
derived again from spans by the next ingest; unreadable files are left out and named. Repair
writes under the write lock, keeps the old manifest as ``_manifest.json.before-repair-<time>``
and deletes nothing (the next ingest collects the files left out, all named like costlab's).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import LakeDamagedError, LakeFormatError
from costlab.lake import (
    IDENTITY,
    MANIFEST,
    STAGING,
    TRASH_GRACE_SECONDS,
    DiskFile,
    Lake,
    Manifest,
    generated_run,
)
from costlab.sql import new_connection, sql_list

if TYPE_CHECKING:
    import duckdb

#: Tables whose rows carry lineage (source_file, run_id); runs and call_facts are handled apart.
DATA = ("charges", "usage", "spans", "quarantine")
SHOWN = 5  #: files named per finding in the text output


@dataclass
class Check:
    """What `check` found. ``problems`` need action (exit 1); ``notes`` do not."""

    lake: str
    identity: str
    manifest: str
    live: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)
    uncommitted: dict[str, list[str]] = field(default_factory=dict)  #: run id -> files
    replaced: list[str] = field(default_factory=list)  #: of committed runs, no longer live nor trash
    finished: list[str] = field(default_factory=list)  #: uncommitted runs that wrote a runs row
    foreign: list[str] = field(default_factory=list)
    trash: int = 0
    trash_due: int = 0
    staging: list[str] = field(default_factory=list)
    manifest_ok: bool = True

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.manifest_ok:
            out.append("the manifest is lost or damaged (see above)")
        if self.missing:
            out.append(f"{len(self.missing)} live files are missing: {_some(self.missing)}")
        if self.damaged:
            out.append(
                f"{len(self.damaged)} live files are damaged: "
                + _some([f"{rel} ({why})" for rel, why in self.damaged])
            )
        if len(self.finished) > 1:
            out.append(
                f"files of {len(self.finished)} finished runs are not in the manifest "
                "(restored from an older copy?); ingest refuses to run until it is repaired"
            )
        return out

    @property
    def notes(self) -> list[str]:
        out = []
        if self.uncommitted and len(self.finished) <= 1:
            n = sum(map(len, self.uncommitted.values()))
            out.append(f"{n} files of {len(self.uncommitted)} ingests that never committed (killed?); the next ingest deletes them")
        if self.replaced:
            out.append(f"{len(self.replaced)} replaced files are no longer in use; the next ingest deletes them")
        if self.foreign:
            out.append(f"{len(self.foreign)} files costlab did not write (never deleted by costlab): {_some(self.foreign)}")
        if self.trash:
            out.append(f"trash: {self.trash} replaced files, {self.trash_due} past their grace period (the next ingest deletes those)")
        if self.staging:
            out.append(f"staging: {len(self.staging)} folders of killed ingests (the next ingest deletes them)")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        live = sum(self.live.values())
        tables = ", ".join(f"{t} {n}" for t, n in sorted(self.live.items()))
        out = [f"lake {self.lake}", f"identity: {self.identity}", f"manifest: {self.manifest}"]
        if self.manifest_ok:
            out.append(f"live files: {live} ({tables or 'none'})")
        out += [f"problem: {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        if self.ok:
            out.append("result: ok")
        else:
            out.append(
                f"result: problems: {len(self.problems)}; `costlab lake repair --dry-run --lake {self.lake}` "
                "shows the manifest the data files support"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "problems": self.problems, "notes": self.notes}


def check(lake: Lake) -> Check:
    """Inspect ``lake`` (read only). A path that is no lake raises as reading commands do."""
    manifest, state = _open(lake)
    found = Check(str(lake.path), _identity(lake.path), state, manifest_ok=manifest is not None)
    live = manifest.live() if manifest else set()
    if manifest is not None:
        found.live = {t: len(files) for t, files in manifest.tables.items() if files}
        for rel in sorted(live):
            why = _footer_problem(lake.path / rel)[1]
            if why == "missing":
                found.missing.append(rel)
            elif why:
                found.damaged.append((rel, why))
        now = time.time()
        found.trash = len(manifest.trash)
        found.trash_due = sum(now - since >= TRASH_GRACE_SECONDS for _, since in manifest.trash)
    trash = {rel for rel, _ in manifest.trash} if manifest else set()
    committed = {generated_run(rel) for rel in manifest.tables.get("runs", [])} if manifest else set()
    for f in lake.scan():
        if f.run_id is None:
            found.foreign.append(f.rel)
        elif manifest is None or f.rel in live or f.rel in trash:
            continue
        elif f.run_id in committed:
            found.replaced.append(f.rel)
        else:
            found.uncommitted.setdefault(f.run_id, []).append(f.rel)
            if f.table == "runs" and f.run_id not in found.finished:
                found.finished.append(f.run_id)
    staging = lake.path / STAGING
    if staging.is_dir() and not staging.is_symlink():
        found.staging = sorted(p.name for p in staging.iterdir())
    return found


def _open(lake: Lake) -> tuple[Manifest | None, str]:
    """The readable manifest and its state in words; None and the problem when it is lost or
    damaged. No lake, a file, a folder of other files, or a newer format raise."""
    try:
        manifest = lake.manifest()
    except LakeFormatError:
        raise
    except LakeDamagedError as ex:
        return None, ex.problem
    return manifest, f"ok (version {manifest.version}, {len(manifest.files)} ingested files indexed)"


def _identity(root: Path) -> str:
    path = root / IDENTITY
    if not path.exists():
        return "missing (a lake an older costlab wrote; its next ingest or repair adds one)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"lake {data['lake_id']}, created {data.get('created_at', '?')} by {data.get('created_by', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable (it still marks the folder as a lake)"


def _footer_problem(path: Path) -> tuple[int, str | None]:
    """(rows, None) for a readable Parquet file; (0, "missing") or (0, why) otherwise. Reads only
    the footer."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows, None
    except FileNotFoundError:
        return 0, "missing"
    except Exception as ex:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        return 0, (str(ex).splitlines() or [type(ex).__name__])[0][:120]


def _some(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f", ... ({len(items) - SHOWN} more)" if len(items) > SHOWN else "")


# -- repair ---------------------------------------------------------------------------------------
@dataclass
class Repair:
    """The manifest `repair` writes (or would write, ``dry_run``) and what it left out."""

    lake: str
    previous: str
    manifest: Manifest
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)  #: committed runs, oldest first
    superseded: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backup: str | None = None

    def lines(self) -> list[str]:
        verb = "would write (dry run, nothing changed)" if self.dry_run else "wrote"
        out = [
            f"lake {self.lake}",
            f"manifest before: {self.previous}",
            f"committed runs found: {len(self.runs)} (from the runs table)",
            f"{verb} {MANIFEST} version {self.manifest.version + (1 if self.dry_run else 0)}:",
        ]
        for table, files in sorted(self.manifest.tables.items()):
            out.append(f"  {table}: {len(files)} files, {self.rows.get(table, 0)} rows")
        left = [
            (self.superseded, "replaced by later runs"),
            (self.uncommitted, "of ingests that never committed"),
            (self.derived, "of call_facts and the rollups (derived again from spans by the next ingest)"),
        ]
        for files, why in left:
            if files:
                out.append(f"left out: {len(files)} files {why}; the next ingest deletes them")
        if self.unreadable:
            shown = _some([f"{rel} ({why})" for rel, why in self.unreadable])
            out.append(f"left out: {len(self.unreadable)} unreadable files: {shown}")
        if self.foreign:
            out.append(f"not costlab's (kept, never deleted): {_some(self.foreign)}")
        out += [f"note: {n}" for n in self.notes]
        if self.backup:
            out.append(f"the previous manifest is kept as {self.backup}")
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["manifest"] = {"version": self.manifest.version, "tables": self.manifest.tables, "files": len(self.manifest.files)}
        return data


def repair(lake: Lake, dry_run: bool = False) -> Repair:
    """Rebuild ``lake``'s manifest from its data files (see the module docstring). ``dry_run``:
    work it out and change nothing (no lock taken, no file written)."""
    if dry_run:
        return plan_repair(lake, dry_run=True)
    with lake.write_lock(repairing=True):
        plan = plan_repair(lake, dry_run=False)
        plan.backup = _backup(lake.path)
        lake.commit(plan.manifest)
    return plan


def plan_repair(lake: Lake, dry_run: bool) -> Repair:
    """The manifest the data files support, and what is left out and why."""
    previous, state = _open(lake)
    files = list(lake.scan())
    plan = Repair(str(lake.path), state, Manifest(version=previous.version if previous else 0), dry_run)
    plan.foreign = [f.rel for f in files if f.run_id is None]
    runs = [f for f in files if f.run_id and f.table == "runs"]
    committed = {f.run_id for f in runs if f.run_id}
    candidates: dict[str, list[DiskFile]] = {}
    for f in files:
        if not f.run_id or f.table == "runs":
            continue
        if f.run_id not in committed:
            plan.uncommitted.append(f.rel)
        elif f.table not in DATA:
            plan.derived.append(f.rel)
        else:
            candidates.setdefault(f.table, []).append(f)
    readable = _readable(lake.path, [*runs, *(f for fs in candidates.values() for f in fs)], plan)
    con = new_connection()
    try:
        order = _run_order(con, lake.path, [f for f in runs if f.rel in readable], committed)
        plan.runs = sorted(order, key=order.__getitem__)
        _load_lineage(con, lake.path, {t: [f for f in fs if f.rel in readable] for t, fs in candidates.items()}, order)
        superseded = _superseded(con, lake.path, [t for t in DATA if t in candidates])
        live = {t: [f.rel for f in fs if f.rel in readable and f.rel not in superseded] for t, fs in candidates.items()}
        live["runs"] = [f.rel for f in runs if f.rel in readable]
        plan.superseded = sorted(superseded)
        plan.manifest.tables = {t: v for t, v in live.items() if v}
        plan.rows = {t: sum(readable[rel] for rel in v) for t, v in plan.manifest.tables.items()}
        plan.manifest.files = _file_index(con, lake.path, previous, plan)
        _note_duplicates(con, plan)
    finally:
        con.close()
    if plan.derived or (previous and "call_facts" in previous.tables):
        plan.notes.append(
            "call_facts and the rollups (derived from spans) are left out: the next ingest derives them again"
        )
    if previous is not None:
        gone = sorted(rel for rel in previous.live() if not (lake.path / rel).exists())
        if gone:
            plan.notes.append(f"{len(gone)} files the old manifest listed are not on disk; their rows are lost: {_some(gone)}")
    return plan


def _readable(root: Path, files: list[DiskFile], plan: Repair) -> dict[str, int]:
    """Row counts of the files whose Parquet footer reads; the others go to ``plan.unreadable``."""
    rows = {}
    for f in files:
        n, why = _footer_problem(root / f.rel)
        if why is None:
            rows[f.rel] = n
        else:
            plan.unreadable.append((f.rel, why))
    return rows


def _run_order(con: duckdb.DuckDBPyConnection, root: Path, runs: list[DiskFile], committed: set[str]) -> dict[str, int]:
    """Rank of each committed run in commit order: by its runs rows' ``finished_at`` (taken under
    the write lock), else by the start time in its id. Also loads ``run_rows`` (the runs rows)."""
    con.execute(
        "CREATE TEMP TABLE run_rows (run_id VARCHAR, source_format VARCHAR, finished DOUBLE, started_us BIGINT, "
        "files VARCHAR[], files_failed BIGINT)"
    )
    if runs:
        paths = [str(root / f.rel) for f in runs]
        con.execute(
            f"""INSERT INTO run_rows
                SELECT run_id, source_format, epoch(finished_at), epoch_us(started_at), files, files_failed
                FROM read_parquet({sql_list(paths)}, hive_partitioning = false, union_by_name = true)"""
        )
    finished = dict(con.execute("SELECT run_id, max(finished) FROM run_rows GROUP BY 1").fetchall())

    def when(run_id: str) -> tuple[float, str]:
        start = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
        return (finished.get(run_id) or start, run_id)

    return {run_id: n for n, run_id in enumerate(sorted(committed, key=when))}


def _load_lineage(
    con: duckdb.DuckDBPyConnection, root: Path, candidates: dict[str, list[DiskFile]], order: dict[str, int]
) -> None:
    """``lin_<table>``: each candidate row's file, writer rank, format, source file, run rank, and
    row key and replace scope where the table has them; ``seen``: which run read which source."""
    import pyarrow as pa

    con.register("rr", pa.table({"run_id": pa.array(list(order), pa.string()), "rrank": pa.array(list(order.values()), pa.int64())}))
    con.execute("CREATE TEMP TABLE seen (source_format VARCHAR, source_file VARCHAR, rrank INT)")
    for table in DATA:
        files = candidates.get(table, [])
        ranks = {"filename": pa.array([str(root / f.rel) for f in files], pa.string()),
                 "frank": pa.array([order[f.run_id or ""] for f in files], pa.int64())}  # fmt: skip
        con.register("fr", pa.table(ranks))
        if files:
            scan = (
                f"read_parquet({sql_list([str(root / f.rel) for f in files])}, filename = true, "
                "hive_partitioning = true, union_by_name = true, hive_types = {'source_format': VARCHAR})"
            )
            present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
        else:
            scan, present = "(SELECT NULL::VARCHAR AS filename, NULL::VARCHAR AS source_format WHERE false)", set()
        extra = "".join(
            f", {c}" if c in present else f", NULL::VARCHAR AS {c}" for c in ("row_key", "replace_scope", "source_file", "run_id")
        )
        extra += ", epoch_us(ingested_at) AS read_us" if "ingested_at" in present else ", NULL::BIGINT AS read_us"
        con.execute(
            f"""CREATE TEMP TABLE lin_{table} AS
                SELECT l.*, fr.frank, coalesce(rr.rrank, -1) AS rrank
                FROM (SELECT filename, source_format{extra} FROM {scan}) l
                JOIN fr USING (filename) LEFT JOIN rr USING (run_id)"""
        )
        con.unregister("fr")
        con.execute(f"INSERT INTO seen SELECT DISTINCT source_format, source_file, rrank FROM lin_{table}")
    # a run whose every file of a format was read (none failed) read each file its runs row lists
    con.execute(
        """INSERT INTO seen SELECT DISTINCT r.source_format, unnest(r.files), rr.rrank
           FROM run_rows r JOIN rr USING (run_id) WHERE r.files_failed = 0"""
    )


def _superseded(con: duckdb.DuckDBPyConnection, root: Path, tables: list[str]) -> set[str]:
    """Candidates a later run replaced, by the three lineage rules of the module docstring."""
    out: set[str] = set()
    for table in tables:
        rows = con.execute(
            f"""
            WITH r AS (SELECT * FROM lin_{table})
            SELECT DISTINCT filename FROM (
                SELECT r.filename FROM r
                JOIN (SELECT row_key, max(frank) AS top FROM r WHERE row_key IS NOT NULL GROUP BY 1) k
                  ON k.row_key = r.row_key AND r.frank < k.top
                UNION ALL
                SELECT r.filename FROM r
                JOIN (SELECT source_format, replace_scope, max(rrank) AS top FROM r
                      WHERE replace_scope IS NOT NULL GROUP BY ALL) s
                  ON s.source_format = r.source_format AND s.replace_scope = r.replace_scope AND r.rrank < s.top
                UNION ALL
                SELECT r.filename FROM r
                JOIN seen ON seen.source_format = r.source_format AND seen.source_file = r.source_file
                         AND seen.rrank > r.rrank
            )"""
        ).fetchall()
        out.update(Path(name).relative_to(root).as_posix() for (name,) in rows)
    return out


def _file_index(con: duckdb.DuckDBPyConnection, root: Path, previous: Manifest | None, plan: Repair) -> dict[str, dict[str, Any]]:
    """The ingested-files index: the previous manifest's entries where it was readable, then every
    source file a committed run read (the rows' ``source_file``, live or replaced, and the files
    of runs rows where none failed), by the last run that read it. A file not modified since that
    run started is indexed from disk (the next ingest skips it, as before); one changed or gone
    since gets an entry with no size (re-read once, its rows replaced, as any changed file)."""
    import pyarrow as pa

    index = dict(previous.files) if previous else {}
    live = [str(root / rel) for t in DATA if t != "quarantine" for rel in plan.manifest.tables.get(t, [])]
    con.register("live_files", pa.table({"filename": pa.array(live, pa.string())}))
    lineage = " UNION ALL ".join(f"SELECT source_file, source_format, run_id, rrank, read_us FROM lin_{t}" for t in DATA)
    counted = " UNION ALL ".join(
        f"SELECT source_file FROM lin_{t} WHERE filename IN (SELECT filename FROM live_files)"
        for t in DATA if t != "quarantine"
    )  # fmt: skip
    sources = con.execute(
        f"""WITH reads AS (
                {lineage}
                UNION ALL
                SELECT unnest(files), source_format, run_id, rr.rrank, started_us
                FROM run_rows JOIN rr USING (run_id) WHERE files_failed = 0
            ),
            latest AS (
                SELECT source_file, arg_max(source_format, rrank) AS fmt, arg_max(run_id, rrank) AS run_id,
                       arg_max(read_us, rrank) AS read_us
                FROM reads WHERE source_file IS NOT NULL GROUP BY 1
            ),
            counts AS (SELECT source_file, count(*) AS n FROM ({counted}) GROUP BY 1)
            SELECT l.source_file, l.fmt, l.run_id, coalesce(c.n, 0), l.read_us
            FROM latest l LEFT JOIN counts c USING (source_file) ORDER BY 1"""
    ).fetchall()
    exact = reread = 0
    for source, fmt, run_id, rows, read_us in sources:
        if source in index:
            continue
        entry = {"source_format": fmt, "run_id": run_id, "rows": rows}
        ident = _unchanged_since(Path(source), read_us)
        if ident is None:
            index[source] = {"size": -1, "mtime_ns": -1, "sha256": "", **entry}
            reread += 1
        else:
            index[source] = {**ident, **entry}
            exact += 1
    unsure = con.execute(
        "SELECT count(DISTINCT f) FROM (SELECT unnest(files) AS f FROM run_rows WHERE files_failed > 0) "
        "WHERE NOT list_contains($known, f)",
        {"known": list(index)},
    ).fetchone()[0]  # type: ignore[index]
    if exact:
        plan.notes.append(f"{exact} ingested source files were indexed again from disk (unchanged since they were read)")
    if reread:
        plan.notes.append(
            f"{reread} ingested source files changed or moved since they were read, so their sizes and hashes are "
            "not recoverable: the next ingest given one re-reads it once and replaces its rows, never doubles them"
        )
    if unsure:
        plan.notes.append(
            f"{unsure} files of runs where some file failed left no rows to tell whether they were read; they are "
            "not indexed, so the next ingest given one reads it again"
        )
    return index


def _unchanged_since(path: Path, read_us: int | None) -> dict[str, Any] | None:
    """Size, mtime and hash of ``path`` if it was last modified before a run that started at
    ``read_us`` read it (so it holds what was ingested); None otherwise."""
    from costlab.lake import file_sha256

    try:
        st = path.stat()
        if read_us is None or st.st_mtime_ns > read_us * 1000 or not path.is_file():
            return None
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": file_sha256(path)}
    except OSError:
        return None


def _note_duplicates(con: duckdb.DuckDBPyConnection, plan: Repair) -> None:
    """Row keys in more than one live file: the lineage could not tell which is current."""
    for table in ("charges", "usage", "spans"):
        files = [str(Path(plan.lake) / rel) for rel in plan.manifest.tables.get(table, [])]
        if not files:
            continue
        n = con.execute(
            f"""SELECT count(*) FROM (SELECT row_key FROM lin_{table} WHERE list_contains($f, filename)
                GROUP BY row_key HAVING count(DISTINCT filename) > 1)""",
            {"f": files},
        ).fetchone()[0]  # type: ignore[index]
        if n:
            plan.notes.append(f"{table}: {n} row keys are in more than one kept file; `costlab lake check` and review")


def _backup(root: Path) -> str | None:
    """Copy the manifest about to be replaced (damaged or not) beside it; never delete it."""
    src = root / MANIFEST
    if not src.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = root / f"{MANIFEST}.before-repair-{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = root / f"{MANIFEST}.before-repair-{stamp}-{n}"
    shutil.copy2(src, target)
    return target.name
