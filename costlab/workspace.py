"""The lake's context: which lake, its settings, the period and the engine, in one object.

Every connection over a lake is made here, so "what does ``calls`` contain right now?" has one
answer: the views of `costlab.views` over the manifest the connection opened on, priced with the
price book of these settings, attributed with these settings' rules. The settings file is read
once, here (``costlab.toml``: the path given, else ``$COSTLAB_CONFIG``, else ``./costlab.toml``),
and the period is read once (`costlab.periods.Period`). The CLI, notebooks, cron, the report,
the analyzers and Spark all go through a `Workspace`::

    ws = Workspace("lake/", since="2026-10-01", until="2026-11-01")
    ws.sql("SELECT workflow, sum(cost) FROM calls GROUP BY 1")   # polars DataFrame
    ws.query("cost_by_workflow")                                  # a named query, this period
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.config import config_path, load_config, resolve_lake
from costlab.errors import CostlabError
from costlab.lake import Lake
from costlab.periods import Period, When

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from costlab.attribution import AttributionRules
    from costlab.lake import Manifest
    from costlab.pricing import PriceBook
    from costlab.rollups import RollupKeys

#: Tables `Workspace.table` serves (the stored tables and the priced views over them).
TABLES = ("charges", "usage", "spans", "calls", "prices", "quarantine", "runs", "usage_priced", "charges_llm")
#: DuckDB memory cap of the analyzers' connection (``[analyze] memory_limit`` overrides it).
ANALYSIS_MEMORY_LIMIT = "1GB"
#: What the analyzers' connection may spill to disk unless ``[analyze] spill_limit`` says, in
#: GB: this, or half the temp folder's free space if that is less (`spill_default`). A month of
#: 10M calls spills up to 8.8 GB; past the cap the analyzers stop with the memory error rather
#: than fill the disk (DuckDB's own cap is 90% of the free space).
ANALYSIS_SPILL_GB = 20
_WRITE_HINT = "; pass write=True to run SQL you wrote yourself"


def spill_default() -> str:
    """`ANALYSIS_SPILL_GB`, or half the system temp folder's free space when less."""
    import shutil
    import tempfile

    half = shutil.disk_usage(tempfile.gettempdir()).free // 2
    return f"{ANALYSIS_SPILL_GB}GB" if half >= ANALYSIS_SPILL_GB * 10**9 else f"{half // 2**20}MiB"


class Workspace:
    """A lake with its settings, period and engine; cheap to create, nothing read until asked.

    ``lake``: a `Lake` or its folder (default: ``$COSTLAB_LAKE``, the settings' ``lake``, then
    ``~/.local/share/costlab/lake``). ``config``: a costlab.toml path, or settings already
    parsed (a mapping), or None for the default file. ``since``/``until``: the period
    (``2026-10-01``, ``7d``, ``yesterday``, a date or datetime). ``engine``: duckdb or spark
    (default: ``[engine] name``).
    """

    def __init__(
        self,
        lake: Lake | str | os.PathLike[str] | None = None,
        *,
        config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        since: When = None,
        until: When = None,
        engine: str | None = None,
    ) -> None:
        from costlab import engines

        if isinstance(config, Mapping):
            self.config_file: Path | None = None
            self.settings: dict[str, Any] = dict(config)
        else:
            self.config_file = Path(config).expanduser() if config else config_path()
            self.settings = load_config(self.config_file)
        self.lake = lake if isinstance(lake, Lake) else Lake(resolve_lake(lake, self.config_file, self.settings))
        self.period = Period.of(since, until)
        self.engine, self.engine_settings = engines.settings(engine, self.settings)
        #: the analyzers' connection and what it was built for (lake version, period); one dict
        #: shared by the `with_period` copies, so a copy's rebuild or release is seen by all
        self._analysis: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Workspace({str(self.lake.path)!r}, since={self.period.since}, until={self.period.until}, engine={self.engine!r})"

    def with_period(self, since: When = None, until: When = None) -> Workspace:
        """The same lake, settings, engine and analyzers' connection over another period."""
        ws = copy.copy(self)
        ws.period = Period.of(since, until)
        return ws

    def period_of(self, since: When = None, until: When = None) -> Period:
        """``[since, until)`` when either is given, else this workspace's period."""
        return Period.of(since, until) if since is not None or until is not None else self.period

    # -- settings ---------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path | None:
        """The settings file's folder: paths in it are relative to it."""
        return self.config_file.parent if self.config_file else None

    def section(self, name: str) -> dict[str, Any]:
        """``[name]`` of the settings (empty when absent; not a table: a one-line error)."""
        value = self.settings.get(name, {})
        if not isinstance(value, Mapping):
            raise CostlabError(f"costlab.toml: [{name}] must be a table")
        return dict(value)

    def prices(self, overrides: str | os.PathLike[str] | None = None) -> PriceBook:
        """The price book: ``overrides``, else ``[prices] overrides``, over genai-prices."""
        from costlab.pricing import PriceBook

        return PriceBook.load(overrides, settings=self.settings, base=self.config_dir)

    def billed_prices(self, overrides: str | os.PathLike[str] | None = None) -> PriceBook:
        """`prices` plus the rates the lake's bill charged for models they do not know, then the
        override file's volume tiers over the lake's calls: what `calls` prices them at
        (`costlab.pricing.PriceBook.with_bill_rates`, ``with_volume``). A workspace without a
        lake has only `prices`."""
        if not self.lake.exists():
            return self.prices(overrides)
        from costlab.lake import lake_file_errors
        from costlab.sql import new_connection
        from costlab.views import bill_rates, create_views

        manifest = self.lake.manifest()
        book = self.prices(overrides)
        with new_connection() as con, lake_file_errors():
            if book.volumes:  # volume tiers count the lake's calls: the views `connect` makes
                return create_views(con, self.lake.path, manifest, book, fast=True)
            return bill_rates(con, book, manifest, self.lake.path)

    def rollup_keys(self, overrides: str | os.PathLike[str] | None = None) -> RollupKeys:
        """The splits this workspace's prices and attribution need of the lake's rollups."""
        from costlab.rollups import RollupKeys

        return RollupKeys.of(self.prices(overrides), self.attribution_rules().team_tag_keys)

    def attribution_rules(self) -> AttributionRules:
        from costlab.attribution import AttributionRules

        return AttributionRules.from_config(self.settings)

    # -- connections ------------------------------------------------------------------------
    def connect(
        self,
        prices: PriceBook | None = None,
        fast: bool = False,
        engine: str | None = None,
        rules: AttributionRules | None = None,
        manifest: Manifest | None = None,
    ) -> Any:
        """A connection with the lake's views, the price tables (``prices``, default `prices`)
        and the attributed views (``rules``, default `attribution_rules`), on ``engine``
        (default: this workspace's). ``fast``: ``calls`` over the lake's stored call_facts
        (`costlab.views.create_views`). ``manifest``: the committed state to read on DuckDB
        (default: read now); a caller that reads more lake files itself passes the one it read,
        so everything it reads is one snapshot. Not restricted: for costlab's own SQL and SQL
        you wrote; user SQL goes through `sql` / `run_read_only`."""
        from costlab import attribution

        name = self.engine if engine is None else engine
        book = prices or self.prices()
        if name == "spark":
            from costlab.engines.spark import SparkConnection

            con: Any = SparkConnection(self.lake, self.engine_settings, book, fast=fast)
        else:
            con = self._duckdb(book, fast, manifest)
        attribution.add_attributed_views(con, rules or self.attribution_rules())
        return con

    def _duckdb(self, book: PriceBook, fast: bool, manifest: Manifest | None = None) -> duckdb.DuckDBPyConnection:
        from costlab.lake import lake_file_errors
        from costlab.sql import new_connection
        from costlab.views import create_views

        manifest = manifest or self.lake.manifest()
        con = new_connection()
        with lake_file_errors():
            create_views(con, self.lake.path, manifest, book, fast=fast)
        return con

    @contextmanager
    def locked(self, rules: AttributionRules | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection (`connect`) locked to the lake: no files outside it, no
        extensions, no network (`costlab.sql.lock_down`); closed on exit."""
        from costlab.sql import locked_connection

        with locked_connection(self.connect(engine="duckdb", rules=rules), self.lake.path) as con:
            yield con

    # -- reading ----------------------------------------------------------------------------
    @contextmanager
    def _reading(self, sql: str, write: bool, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection `sql` and `rows` run on: locked after the read-only check, or with
        ``write`` an ordinary one (the caller's own SQL)."""
        from costlab.lake import lake_file_errors
        from costlab.sql import check_read_only

        if write:
            with self.connect(engine="duckdb") as con, lake_file_errors():
                yield con
            return
        check_read_only(sql, what, _WRITE_HINT)
        with self.locked() as con:
            yield con

    def sql(self, sql: str, params: Mapping[str, Any] | list[Any] | None = None, *, write: bool = False) -> pl.DataFrame:
        """Run SQL over the lake's views and return a polars DataFrame.

        Read-only by default, like `costlab sql`: SELECT statements only, on a connection that
        cannot read or write files outside the lake. ``write=True`` runs the SQL on an ordinary
        connection (COPY, ATTACH, files anywhere): only for SQL you wrote yourself."""
        from costlab.sql import frame_of

        with self._reading(sql, write, "Workspace.sql") as con:
            return frame_of(con, sql, params)  # type: ignore[no-any-return]

    def rows(self, sql: str, params: Mapping[str, Any] | list[Any] | None = None, *, write: bool = False) -> list[tuple[Any, ...]]:
        """Like `sql`, as a list of row tuples."""
        with self._reading(sql, write, "Workspace.rows") as con:
            return con.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    def query(self, name: str, params: Mapping[str, Any] | None = None, rules: AttributionRules | None = None, **values: Any) -> pl.DataFrame:
        """A named query (`costlab queries`) as a polars DataFrame, on this workspace's engine.

        ``since``/``until`` default to the workspace's period when the query takes them;
        parameters are bound, never formatted into the SQL, and checked
        (`costlab.sql.bind_parameters`); the query runs under the same read-only guard as
        `costlab sql`. A failure is a one-line `CostlabError`."""
        import duckdb

        from costlab.sql import frame_of, prepare_query

        given = {**(params or {}), **values}
        sql, bound = prepare_query(name, given)
        for key, value in self.period.params().items():
            if key in bound and key not in given:
                bound[key] = value
        try:
            if self.engine == "spark":
                with self.connect(rules=rules) as con:
                    return con.read_only(sql, bound).pl()  # type: ignore[no-any-return]
            with self.locked(rules) as con:
                return frame_of(con, sql, bound)  # type: ignore[no-any-return]
        except duckdb.Error as ex:
            raise CostlabError(f"query {name!r} failed: {str(ex).splitlines()[0]}") from None

    def run_read_only(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """User SQL (`costlab sql`): checked read-only, run on a locked connection (on Spark:
        `SparkConnection.read_only`). Column names and rows; a failure is one line."""
        import duckdb

        from costlab.sql import check_read_only

        check_read_only(sql)
        try:
            if self.engine == "spark":
                with self.connect() as con:
                    cur = con.read_only(sql)
                    return [d[0] for d in cur.description], cur.fetchall()
            with self.locked() as con:
                cur = con.execute(sql)
                return [d[0] for d in cur.description or []], cur.fetchall()
        except duckdb.Error as ex:
            raise CostlabError(f"query failed: {str(ex).splitlines()[0]}") from None

    def table(self, name: str) -> pl.DataFrame:
        """A whole table or view (`TABLES`) as a polars DataFrame: ``ws.table("calls")``."""
        if name not in TABLES:
            raise CostlabError(f"no table {name!r}; tables: {', '.join(TABLES)}")
        return self.sql(f"SELECT * FROM {name}")


    # -- the analyzers' connection ------------------------------------------------------------
    def analysis_connection(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with ``analyze_base`` materialized once and ``analyze_calls`` (its
        priced USD rows) as a view over it, shared by every analyzer run on this workspace:
        building the priced, de-duplicated calls is most of their cost on a large lake. With a
        period, only the period's calls are built (`_period_calls`), so a nightly report's
        findings cost what its day holds, not the history. Rebuilt when the lake's manifest or
        the period changes; `release` frees it. Memory is capped (`ANALYSIS_MEMORY_LIMIT`,
        ``[analyze] memory_limit``), and so is what it spills (``[analyze] spill_limit``, else
        `spill_default`): `analysis_limits`."""
        from costlab.sql import load_sql

        manifest = self.lake.manifest()
        key = (manifest.version, self.period.since, self.period.until)
        box = self._analysis
        if box.get("key") != key:
            self.release()
            limit, spill = self.analysis_limits()
            con = self.connect(engine="duckdb")
            con.execute(f"SET memory_limit = '{limit}'")
            con.execute(f"SET max_temp_directory_size = '{spill}'")
            con.execute("SET preserve_insertion_order = false")
            # the calls are matched on 64-bit hashes of their keys, whose hash tables fit the cap
            # at 10M calls where the keys' text does not; a collision shows in the counts, and
            # then the calls are built again matching the text (`_base_rows_exact`); should even
            # that not add up (a row_key stored twice), by the one window of views/call_facts.sql
            for match in MATCH_KEYS:
                con.execute(f"CREATE OR REPLACE VIEW analyze_spans AS {load_sql('views/analyze_spans')}")
                period_keys = _period_calls(con, self.lake.path, manifest, self.period, match)
                winners = _winning_calls(con, match)
                con.execute(f"CREATE OR REPLACE TEMP TABLE analyze_base AS {load_sql('views/analyze_base')}")
                if _base_rows_exact(con, period_keys, winners):
                    break
            else:
                con.execute(f"CREATE OR REPLACE VIEW analyze_spans AS {load_sql('views/analyze_spans')}")
                _period_calls(con, self.lake.path, manifest, self.period, "{}")
                con.execute(f"CREATE OR REPLACE VIEW call_facts AS {load_sql('views/call_facts')}")
                con.execute(f"CREATE OR REPLACE TEMP TABLE analyze_base AS {load_sql('views/analyze_base')}")
            con.execute(f"CREATE TEMP VIEW analyze_calls AS {load_sql('views/analyze_calls')}")
            box.update(con=con, key=key)
        return box["con"]  # type: ignore[no-any-return]

    def analysis_limits(self) -> tuple[str, str]:
        """The analyzers' DuckDB memory and spill caps, checked sizes: ``[analyze] memory_limit``
        and ``spill_limit``, else `ANALYSIS_MEMORY_LIMIT` and `spill_default`. Decided once per
        analyzers' connection, so the memory error names the caps that connection ran under (the
        free space a default follows changes as the connection spills)."""
        box = self._analysis
        if "limits" not in box:
            sec = self.section("analyze")
            box["limits"] = (
                _size(str(sec.get("memory_limit") or ANALYSIS_MEMORY_LIMIT)),
                _size(str(sec.get("spill_limit") or spill_default()), "spill_limit"),
            )
        return box["limits"]  # type: ignore[no-any-return]

    def period_call_count(self) -> int | None:
        """How many calls start in this workspace's period, counted from the stored call_facts of
        the period's day files (one column read, nothing built): what the analyzers' memory is
        checked against before they build anything. None on a lake without stored call_facts."""
        manifest = self.lake.manifest()
        if "call_facts" not in manifest.tables:
            return None
        files = _period_files(self.lake.path, manifest, self.period, "call_facts")
        if not files:
            return 0
        return int(self._period_scalar(files, "count(*)"))

    def period_prefix_blocks(self) -> int | None:
        """How many prefix-block hashes the spans starting in this period carry (one list column
        of the period's day files read): the caching replay holds a row per block, so its memory
        grows with them as well as with the calls. 0 when the spans carry none (most logs); None
        where the spans have no such column (a lake written before it existed)."""
        import duckdb

        files = _period_files(self.lake.path, self.lake.manifest(), self.period, "spans")
        if not files:
            return 0
        try:
            return int(self._period_scalar(files, "coalesce(sum(len(prefix_hashes)), 0)", union=True))
        except duckdb.BinderException:
            return None

    def _period_scalar(self, files: list[str], select: str, union: bool = False) -> Any:
        """``select`` (one aggregate) over the rows of ``files`` that start in this period
        (``union``: files whose columns may differ, as spans' formats' may)."""
        from costlab.sql import new_connection

        con = new_connection()
        try:
            params = {"since": self.period.since, "until": self.period.until}
            return con.execute(_rows_in_period(files, select, union), params).fetchall()[0][0]
        finally:
            con.close()

    def release(self) -> None:
        """Close the analyzers' connection (frees the materialized calls)."""
        con = self._analysis.pop("con", None)
        if con is not None:
            con.close()
        self._analysis.clear()


#: How the analyzers' build matches call and row keys: their 64-bit hashes, then, when the
#: counts show a collision (`_base_rows_exact`), the keys themselves.
MATCH_KEYS = ("hash({})", "{}")


def _period_calls(
    con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest, period: Period, key: str
) -> int | None:
    """Restrict ``call_keys`` (so ``call_facts`` and ``calls``) on ``con`` to the calls whose
    winning span starts inside ``period``, reading only the period's ``day=`` files: the keys
    come from the stored call_facts of those days, their spans from the spans of those days,
    which also become ``analyze_spans`` (queries/views/analyze_spans.sql). ``key`` wraps a
    call_key for matching (``hash({})`` or ``{}``). Returns how many stored calls the period
    holds, or None when nothing was restricted.

    Exact, not a cut by span time: a call's stored row is the winner of all its copies, and
    that winner lies in its own day's span files (spans and call_facts are partitioned by the
    same UTC day of start_time). The period's span files hold it and some of the other copies;
    the best of a subset that holds the best of all is that best, so the de-duplication picks
    the same span, and no call outside the period enters. The cost follows the period, not the
    history. Without a period, or on a lake written before stored call_facts, nothing changes
    (every call is built and the analyzers filter)."""
    from costlab.sql import load_sql
    from costlab.views import table_select

    if (period.since is None and period.until is None) or "call_facts" not in manifest.tables:
        return None
    facts = _period_files(root, manifest, period, "call_facts")
    keys = f"SELECT {key.format('CAST(NULL AS VARCHAR)')} AS k WHERE false"
    if facts:  # one stored row per call: not DISTINCT, so a key stored twice shows in the count
        keys = _rows_in_period(facts, f"{key.format('call_key')} AS k")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _period_keys AS {keys}", {"since": period.since, "until": period.until} if facts else None)
    con.execute(f"CREATE OR REPLACE VIEW analyze_spans AS {table_select(con, 'spans', _period_files(root, manifest, period, 'spans'))}")
    con.execute(
        "CREATE OR REPLACE VIEW call_keys AS WITH spans AS (SELECT * FROM analyze_spans) "
        f"SELECT * FROM ({load_sql('views/call_keys')}) WHERE {key.format('call_key')} IN (SELECT k FROM _period_keys)"
    )
    return int(con.execute("SELECT count(*) FROM _period_keys").fetchall()[0][0])


def _rows_in_period(files: list[str], select: str, union: bool = False) -> str:
    """``SELECT select`` over the rows of the lake ``files`` (call_facts or spans) whose
    start_time lies in the period ($since, $until: fragments/in_period)."""
    from costlab.sql import expand_includes, sql_list

    by_name = ", union_by_name = true" if union else ""
    return expand_includes(
        f"SELECT {select} FROM read_parquet({sql_list(files)}, hive_partitioning = false{by_name})\n"
        "WHERE\n-- include: fragments/in_period | at = start_time\n",
        "the period's rows",
    )


def _period_files(root: Path, manifest: Manifest, period: Period, table: str) -> list[str]:
    """The absolute paths of ``table``'s files whose ``day=`` lies in ``period`` (a file without
    a day partition always), the days of both ends included."""
    from costlab.rollups import day_of

    lo = period.since.astimezone(UTC).date() if period.since is not None else None
    hi = period.until.astimezone(UTC).date() if period.until is not None else None
    return [
        str(root / rel) for rel in manifest.tables.get(table, [])
        if (d := day_of(rel)) is None or ((lo is None or d >= lo) and (hi is None or d <= hi))
    ]  # fmt: skip


def _winning_calls(con: duckdb.DuckDBPyConnection, key: str) -> int:
    """Make ``call_facts`` on ``con`` the winning spans of ``call_keys``, chosen in two steps
    whose memory the analyzers' cap bounds: the winners' row_keys first
    (queries/views/call_winners.sql: the de-duplication window over five columns), then the
    spans of ``analyze_spans`` those keys name, a semi-join that streams the spans. ``key``
    wraps a row_key for matching, as in `_period_calls`. Returns the number of winners.

    The rows are those of views/call_facts.sql (the same window, the same order). That one
    window carries every column of every span, about 5 GB over a month of 10M calls, which no
    1 GB cap holds: the analyzers failed at that size. This costs about 5% more at 1M calls."""
    from costlab.sql import load_sql

    con.execute(f"CREATE OR REPLACE TEMP TABLE _call_winners AS SELECT {key.format('row_key')} AS k FROM ({load_sql('views/call_winners')})")
    con.execute(
        "CREATE OR REPLACE VIEW call_facts AS WITH spans AS (SELECT * FROM analyze_spans) "
        f"SELECT * FROM ({load_sql('views/call_keys')}) WHERE {key.format('row_key')} IN (SELECT k FROM _call_winners)"
    )
    return int(con.execute("SELECT count(*) FROM _call_winners").fetchall()[0][0])


def _base_rows_exact(con: duckdb.DuckDBPyConnection, period_keys: int | None, winners: int) -> bool:
    """Whether ``analyze_base`` holds exactly the winners, each once. Every call of the period
    has its winner among the period's spans and every winner its own row, so the counts are
    equal unless matching on hashes let in a call (two keys sharing a hash: a few lakes in a
    million at 10M calls) or the stored keys are not one row per call; then they differ."""
    base = int(con.execute("SELECT count(*) FROM analyze_base").fetchall()[0][0])
    return base == winners and (period_keys is None or winners == period_keys)


def workspace(
    source: Workspace | Lake | str | os.PathLike[str] | None = None,
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    since: When = None,
    until: When = None,
    engine: str | None = None,
) -> Workspace:
    """``source`` as a `Workspace`: itself when it is one (over the period given, if any), else
    a new one over that lake. Library functions accept any of these."""
    if isinstance(source, Workspace):
        if since is None and until is None and config is None:
            return source
        if config is None:
            return source.with_period(since or source.period.since, until or source.period.until)
        source = source.lake
    return Workspace(source, config=config, since=since, until=until, engine=engine)


def run_query(lake: Workspace | Lake | str | os.PathLike[str] | None, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run the named query ``name`` over ``lake`` (see `Workspace.query`); a polars DataFrame."""
    return workspace(lake).query(name, params)


def _size(text: str, key: str = "memory_limit") -> str:
    """A DuckDB size like ``1GB`` / ``512MB`` for ``[analyze] key`` (checked: it is pasted into SQL)."""
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text.strip(), re.IGNORECASE):
        raise CostlabError(f"costlab.toml [analyze] {key}: {text!r} is not a size; use e.g. '1GB'")
    return text.strip()
