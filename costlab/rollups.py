"""The lake's rollups: the calls summed per day (``call_rollup``) and what sums cannot give
(``call_marks``: runs, sessions, timed calls), kept in step with ``call_facts`` by every ingest.

Why: a report over a month of ten million calls used to price, attribute and aggregate every
call. Cost is linear in tokens within one price cell, so calls that share a day, every dimension
a report reads and every input to their price cell can be summed first and priced after, at
report time (queries/views/call_groups.sql): re-pricing history still needs no re-ingest, and a
report reads thousands of rows instead of millions.

What decides a price cell comes from the prices: the input bands and the times of day at which
a price starts or ends. The rollups are split at those of the prices they were built for
(`RollupKeys`, stored in the manifest). A report whose prices or attribution need a split the
rollups lack reads the calls instead and says so (`RollupKeys.missing`); the next ingest rebuilds
the rollups for the new keys.

The update is exact: a day's ``call_rollup`` rows depend only on that day's calls, so the days
whose ``call_facts`` files a run replaced or added are derived again in full and every other
day's files stay as they are, in the same manifest commit as the data. A day's ``call_marks``
rows also depend on which other days its runs and sessions have calls on (one seen on one day
alone is a count, not a row: queries/views/call_marks.sql), so the days sharing a run or session
with the changed ones are derived again with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab import schema
from costlab.sql import load_sql, sql_list, sql_literal

if TYPE_CHECKING:
    import duckdb

    from costlab.lake import Manifest
    from costlab.pricing import PriceBook

TABLES = ("call_rollup", "call_marks")
#: Bumped when the rollups' shape or meaning changes: a lake built by another version rebuilds.
VERSION = 2  # 2: call_marks counts the runs and sessions of one day (n_runs, n_sessions)
_DAY = re.compile(r"(?:^|/)day=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class RollupKeys:
    """The splits the rollups are built with: input bands, times of day, attribution tag keys."""

    bands: tuple[int, ...] = ()
    cuts: tuple[time, ...] = ()
    tag_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, book: PriceBook, team_tag_keys: Iterable[str]) -> RollupKeys:
        """The splits ``book``'s prices and the attribution's team tags need."""
        bands: set[int] = set()
        cuts: set[time] = set()
        values = book.distinct_values(  # not 9k PriceRows: every ingest and report asks
            ("input_tokens_above", "input_tokens_upto", "time_of_day_from", "time_of_day_to", "valid_from", "valid_to")
        )
        bands.update(values["input_tokens_above"] + values["input_tokens_upto"])
        cuts.update(values["time_of_day_from"] + values["time_of_day_to"])
        cuts.update(m.astimezone(UTC).time().replace(tzinfo=None) for m in values["valid_from"] + values["valid_to"])
        cuts.discard(time(0))
        tags = {k.strip().lower() for k in team_tag_keys}
        return cls(tuple(sorted(bands)), tuple(sorted(cuts)), tuple(sorted(tags)))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "bands": list(self.bands),
            "cuts": [t.isoformat() for t in self.cuts],
            "tag_keys": list(self.tag_keys),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RollupKeys | None:
        """None for keys of another version or an unreadable entry (the rollups are not used)."""
        try:
            if data.get("version") != VERSION:
                return None
            return cls(
                tuple(int(b) for b in data["bands"]),
                tuple(time.fromisoformat(t) for t in data["cuts"]),
                tuple(str(k) for k in data["tag_keys"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def missing(self, needed: RollupKeys) -> str | None:
        """Why rollups built with these keys cannot answer for ``needed``; None when they can."""
        reasons = []
        if set(needed.bands) - set(self.bands):
            reasons.append("prices with input bands the rollups are not split at")
        if set(needed.cuts) - set(self.cuts):
            reasons.append("prices that change at a time of day the rollups are not split at")
        if set(needed.tag_keys) - set(self.tag_keys):
            reasons.append("team tag keys the rollups do not keep")
        return "; ".join(reasons) or None

    def params(self) -> dict[str, Any]:
        return {"bands": list(self.bands), "cuts": list(self.cuts), "tag_keys": list(self.tag_keys)}


def stored_keys(manifest: Manifest) -> RollupKeys | None:
    """The keys of the lake's rollups; None when it has none this costlab can read."""
    if not all(t in manifest.tables for t in TABLES):
        return None
    return RollupKeys.from_json(manifest.rollup_keys)


def day_of(rel: str) -> date | None:
    """The ``day=`` partition of a lake-relative file path."""
    m = _DAY.search(rel)
    return date.fromisoformat(m.group(1)) if m else None


def update(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: Manifest,
    run_id: str,
    days: set[date] | None,
    keys: RollupKeys,
) -> tuple[list[str], bool]:
    """Bring the rollups in step with ``manifest.tables['call_facts']``.

    ``days``: the days whose calls changed (None: every day). Everything is rebuilt when the
    lake has no rollups yet or they were built with other keys. ``call_marks`` is derived again
    for those days and for every other day holding a run or session of theirs, before or after
    the change (`_spread_days`): whether a run is counted on its day depends on the days it
    has calls on. Returns the files replaced (to trash) and whether anything changed.
    """
    rebuild = days is None or stored_keys(manifest) != keys
    if not rebuild and not days:
        return [], False
    all_facts = manifest.tables.get("call_facts", [])
    _facts_view(con, root, all_facts, "all_call_facts")
    marks_days = None if rebuild else (days or set()) | _spread_days(con, root, manifest, days or set())
    replaced: list[str] = []
    params = keys.params()
    for table in TABLES:
        wanted = days if table == "call_rollup" else marks_days
        live = manifest.tables.get(table, [])
        gone = [rel for rel in live if wanted is None or day_of(rel) in wanted]
        manifest.tables[table] = [rel for rel in live if rel not in gone]
        replaced += gone
        _facts_view(con, root, [rel for rel in all_facts if wanted is None or day_of(rel) in wanted])
        _write(con, root, manifest, run_id, table, load_sql(f"views/{table}"), params)
    manifest.rollup_keys = keys.to_json()
    return replaced, True


def _spread_days(con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest, days: set[date]) -> set[date]:
    """The other days with calls of a run or session that has calls on ``days`` now (the new
    call_facts) or had before this change (the kept ids of their old call_marks rows: a run
    counted on its day had no other day)."""
    old_marks = [str(root / rel) for rel in manifest.tables.get("call_marks", []) if day_of(rel) in days]
    _facts_view(con, root, [rel for rel in manifest.tables.get("call_facts", []) if day_of(rel) in days])
    old = (
        f"SELECT trace_id, session_id FROM read_parquet({sql_list(old_marks)}, hive_partitioning = false)"
        if old_marks
        else "SELECT CAST(NULL AS VARCHAR) AS trace_id, CAST(NULL AS VARCHAR) AS session_id WHERE false"
    )
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(days))
    rows = con.execute(
        f"""WITH ids AS (SELECT trace_id, session_id FROM call_facts UNION ALL {old})
            SELECT DISTINCT day FROM all_call_facts
            WHERE day NOT IN ({listed})
              AND (trace_id IN (SELECT trace_id FROM ids) OR session_id IN (SELECT session_id FROM ids))"""
    ).fetchall()
    return {r[0] for r in rows}


def _facts_view(con: duckdb.DuckDBPyConnection, root: Path, files: list[str], name: str = "call_facts") -> None:
    cols = schema.DERIVED_TABLES["call_facts"] + schema.DERIVED_PARTITIONS["call_facts"]
    if not files:
        select = "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in cols) + " WHERE false"
    else:
        from costlab.sql import parquet_scan

        paths = [str(root / f) for f in files]
        scan, present = parquet_scan(con, paths, "hive_partitioning = true, hive_types = {'day': DATE}")
        select = "SELECT " + ", ".join(
            f"CAST({n if n in present else 'NULL'} AS {t}) AS {n}" for n, t in cols
        ) + f" FROM {scan}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")


def _write(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: Manifest,
    run_id: str,
    table: str,
    sql: str,
    params: dict[str, Any],
) -> None:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rollup_rows AS {sql}", used)
    cols = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in schema.DERIVED_TABLES[table])
    out = con.execute(
        f"""COPY (SELECT {cols}, day FROM _rollup_rows ORDER BY day, start_time)
            TO '{sql_literal(str(root / table))}'
            (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day),
             FILENAME_PATTERN 'run-{run_id}-{{uuid}}', APPEND, RETURN_FILES true)"""
    ).fetchone()
    con.execute("DROP TABLE _rollup_rows")
    written = out[1] if out else []
    manifest.tables[table] = manifest.tables.get(table, []) + [
        Path(f).relative_to(root).as_posix() for f in written
    ]
