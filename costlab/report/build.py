"""Build a `Report` from a lake: one DuckDB connection, the named queries, plain data out.

Options come from ``costlab.toml`` and are overridden by the command line (`ReportOptions`);
notebooks call `build_report` with the same options.

Period: ``--since``/``--until`` are ``[since, until)`` in UTC. Without ``--until`` the report
runs to the end of the data. Top movers compare the last 7 days of the period with the 7 days
before (or two halves of a shorter period).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import AnalyzerMemoryError, CostlabError
from costlab.money.alerts import Alert
from costlab.money.reconcile import CORE_COLUMNS as RECONCILIATION_COLUMNS
from costlab.periods import Period, next_month
from costlab.report.model import Headline, Report, Section
from costlab.sql import load_sql
from costlab.workspace import Workspace, workspace

if TYPE_CHECKING:
    import duckdb

    from costlab.lake import Lake, Manifest
    from costlab.money.alerts import Budget
    from costlab.money.currency import Rates
    from costlab.pricing import PriceBook
    from costlab.rollups import RollupKeys

POLICIES = ("proportional", "even", "tag", "none")
TOKEN_POLICIES = ("traced", "proportional")
GRAINS = ("month", "day")


@dataclass
class ReportOptions:
    """Everything that shapes a report; each field has a costlab.toml key and a CLI flag."""

    since: str | None = None
    until: str | None = None
    policy: str = "proportional"  # [allocation] policy / --policy: non-token charges
    token_policy: str = "traced"  # [allocation] tokens / --token-policy
    grain: str = "month"  # [allocation] grain / --grain: conservation period
    budgets: list[Budget] = field(default_factory=list)  # [budgets] / --budget
    metrics: Path | None = None  # [report] metrics / --metrics
    prices: Path | None = None  # [prices] overrides / --prices
    top: int = 15  # [report] top / --top: rows per "by" section in text formats
    findings: bool = True  # [report] findings / --no-findings
    anomaly: dict[str, Any] = field(default_factory=dict)  # [anomaly] / --anomaly KEY=VALUE
    fail_on: frozenset[str] = frozenset({"budget", "anomaly"})  # [alerts] fail_on / --fail-on
    warnings: list[str] = field(default_factory=list)  # filled while building (bad budget names)
    attribution: dict[str, Any] = field(default_factory=dict)  # [attribution]
    config_dir: Path | None = None
    engine: str | None = None  # [engine] name / --engine: duckdb (default) or spark
    rollups: bool = True  # [report] rollups / --no-rollups: price every call (to check the rollups)
    currency: str | None = None  # [currency] report / --currency: convert every amount into it
    rates: Path | None = None  # [currency] rates / --rates: the dated rates (costlab.money.currency)

    @classmethod
    def configured(cls, ws: Workspace, **cli: Any) -> ReportOptions:
        """`from_config` over the workspace's settings (paths in them relative to their file)."""
        return cls.from_config(ws.settings, base=ws.config_dir, **cli)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], base: Path | None = None, **cli: Any) -> ReportOptions:
        """Options from a parsed costlab.toml, then every CLI value that is not None."""
        from costlab.money.alerts import merge_budgets, parse_budgets, parse_fail_on

        alloc = _section(cfg, "allocation")
        rep = _section(cfg, "report")
        prices = _section(cfg, "prices")
        fx = _section(cfg, "currency")

        def rel(v: Any) -> Path | None:
            if not v:
                return None
            p = Path(str(v)).expanduser()
            return p if p.is_absolute() or base is None else base / p

        opts = cls(
            policy=str(alloc.get("policy", "proportional")),
            token_policy=str(alloc.get("tokens", "traced")),
            grain=str(alloc.get("grain", "month")),
            budgets=parse_budgets(cfg),
            metrics=rel(rep.get("metrics")),
            prices=rel(prices.get("overrides")),
            top=int(rep.get("top", 15)),
            findings=bool(rep.get("findings", True)),
            rollups=bool(rep.get("rollups", True)),
            currency=str(fx["report"]) if fx.get("report") else None,
            rates=rel(fx.get("rates")),
            anomaly=dict(_section(cfg, "anomaly")),
            fail_on=parse_fail_on(_section(cfg, "alerts").get("fail_on")),
            attribution=_section(cfg, "attribution"),
            config_dir=base,
        )
        for key, value in cli.items():
            if value is None:
                continue
            if key == "budgets":
                opts.budgets = merge_budgets(opts.budgets, value)
            elif key == "anomaly":
                opts.anomaly.update(value)
            else:
                setattr(opts, key, value)
        opts.validate()
        return opts

    def validate(self) -> None:
        for name, value, allowed in (
            ("policy", self.policy, POLICIES),
            ("token policy", self.token_policy, TOKEN_POLICIES),
            ("grain", self.grain, GRAINS),
        ):
            if value not in allowed:
                raise CostlabError(f"unknown allocation {name} {value!r}; use one of {', '.join(allowed)}")
        if self.currency:
            from costlab.money.currency import check_currency

            self.currency = check_currency(self.currency)
            if self.rates is None:
                raise CostlabError(
                    f"--currency {self.currency} needs a rates file: --rates FILE or [currency] rates in costlab.toml"
                )

    def describe(self) -> dict[str, Any]:
        return {
            "allocation_policy": self.policy,
            "token_policy": self.token_policy,
            "grain": self.grain,
            "budgets": [vars(b) for b in self.budgets],
            "metrics": str(self.metrics) if self.metrics else None,
            "prices": str(self.prices) if self.prices else None,
            **({"currency": self.currency, "rates": str(self.rates)} if self.currency else {}),
        }


def _section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name, {})
    if not isinstance(value, dict):
        raise CostlabError(f"costlab.toml: [{name}] must be a table")
    return value


def _now() -> datetime:
    """Wall clock, or ``$SOURCE_DATE_EPOCH`` for reproducible output (golden files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def _fetch(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    sql = load_sql(name)
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    cur = con.execute(sql, used)
    return [d[0] for d in cur.description or []], cur.fetchall()


def build_report(source: Workspace | Lake | str | None, options: ReportOptions | None = None, **fields: Any) -> Report:
    """The full report over ``[since, until)``. ``options`` (`ReportOptions`), else the
    workspace's settings overridden by ``fields`` (``since="2026-10-01"``, ``policy="even"``...)."""
    from costlab.report.model import rank_findings
    from costlab.version import __version__

    ws = workspace(source)
    opts = options or ReportOptions.configured(ws, **fields)
    opts.validate()
    period = Period.of(opts.since, opts.until)
    since, until = period.since, period.until
    book = ws.prices(opts.prices)
    report = Report(
        lake=str(ws.lake.path),
        generated_at=_now(),
        since=since,
        until=until,
        options=opts.describe(),
        version=__version__,
    )
    # one snapshot: the bill's day files and edges come from the manifest the views are made from
    lake = (ws.lake.path, ws.lake.manifest())
    with (
        tempfile.TemporaryDirectory(prefix="costlab-report-") as scratch,
        ws.connect(prices=book, fast=True, engine=opts.engine, manifest=lake[1]) as con,
    ):
        report.rollups_note = _prepare(con, opts, since, until, Path(scratch), ws.rollup_keys(opts.prices), lake)
        params: dict[str, Any] = {
            "since": since,
            "until": until,
            "grain": opts.grain,
            "policy": opts.policy,
            "token_policy": opts.token_policy,
        }
        found: dict[str, Section] = {}
        for key, title, query, note, part in SECTIONS:
            cols, rows = _fetch(con, query, params)
            if key in NARROW:  # the documented columns; the named query has more
                keep = [i for i, c in enumerate(cols) if c in NARROW[key]]
                cols, rows = [cols[i] for i in keep], [tuple(r[i] for i in keep) for r in rows]
            found[key] = Section(key, title, cols, rows, note, part)
        found["top_movers"] = _movers(con, since, until)
        if opts.currency and opts.rates:
            found["currency_conversion"] = _conversion(con, opts, since, until)
        found["daily_trend"] = _trend(con, opts, since, until)
        report.alerts = _alerts(con, opts, since, until)
        found["anomalies"] = _anomalies(report.alerts)
        found["bill_by_workflow"] = _with_shares(_unattributed_row(found["bill_by_workflow"]))
        found["bill_by_team"] = _bill_by_team(found["bill_by_workflow"])
        found.update(_gap(con, params))
        report.sections = [found[k] for k in ORDER if k in found]
        report.headline = _headline(report)
        _gap_note(report)
        _commitment_note(con, ws, report, book, since, until)
        _compare(con, lake, report, since, until)
        report.notice = _notice(con, lake, report)
    if not opts.findings:
        report.findings_note = NOT_RUN
        return report
    from costlab.analyze.base import with_recent

    findings_ws, window = with_recent(workspace(ws, since=opts.since, until=opts.until))
    report.findings_scope = window.note() if window is not None else None
    try:
        report.findings, report.savings, skipped = _findings(findings_ws)
    except AnalyzerMemoryError as ex:  # the spend, budgets and anomalies still go out
        report.findings_note = f"Findings were not computed: {ex}"
        opts.warnings.append(report.findings_note)
        return report
    if skipped:  # the others' findings are here; the missing ones are not "none found"
        report.findings_note = " ".join(
            f"The {name} analyzer did not run, so its findings are missing: {why}" for name, why in skipped.items()
        )
        opts.warnings.append(report.findings_note)
    report.findings = rank_findings(report.findings)
    return report


#: `Report.findings_note` when the analyzers were switched off (no findings is not "none found").
NOT_RUN = "Findings were not run (--no-findings, or [report] findings = false)."


#: (key, title, named query, note, part) of the sections read straight from a query.
SECTIONS: tuple[tuple[str, str, str, str | None, str], ...] = (
    (
        "bill_by_workflow",
        "The whole bill by workflow",
        "bill_by_workflow",
        "Every billed dollar, token and other charges, 'unattributed' as its own row: the rows sum "
        "to the bill. traced_cost is what the traces show for the workflow, beside it, not in the sum.",
        "bill",
    ),
    (
        "cost_by_workflow",
        "Traced call cost by workflow (from the traces, not the bill)",
        "cost_by_workflow",
        "What the application's traces price; the bill's split is the table above.",
        "bill",
    ),
    ("spend_by_day", "Billed money by day", "spend_by_day", "From the billing exports (charges).", "details"),
    ("traced_by_day", "Traced call cost by day", "traced_by_day", "From the application traces (calls).", "details"),
    ("cost_by_step", "Traced cost by workflow step and model", "cost_by_step", None, "details"),
    ("cost_by_model", "Traced cost by model", "cost_by_model", None, "details"),
    ("cost_by_team", "Traced cost by team", "cost_by_team", None, "details"),
    ("cost_by_user", "Traced cost by user", "cost_by_user", None, "details"),
    (
        "allocation",
        "Allocation of the bill to workflows",
        "allocation",
        "Every billed line goes to a workflow or to the explicit 'unattributed' bucket.",
        "details",
    ),
    (
        "allocation_check",
        "Conservation: attributed + unattributed = billed",
        "allocation_check",
        None,
        "details",
    ),
    ("unit_costs", "Unit costs", "unit_costs", None, "details"),
    (
        "reconciliation",
        "Reconciliation: bill vs provider usage vs traces",
        "reconciliation_summary",
        "coverage = traced / billed: the share of the bill the traces explain.",
        "details",
    ),
    (
        "unpriced",
        "Unpriced calls (not in any total)",
        "unpriced_calls",
        "Listed with their tokens, never costed at zero; add a price override to cost them.",
        "details",
    ),
)

#: The reading order of all sections (each section's part groups them under a heading).
ORDER = (
    "bill_by_workflow", "bill_by_team", "cost_by_workflow",
    "daily_trend", "anomalies", "top_movers",
    "gap_causes", "gap_evidence",
    "spend_by_day", "traced_by_day", "cost_by_step", "cost_by_model", "cost_by_team", "cost_by_user",
    "allocation", "allocation_check", "unit_costs", "reconciliation", "unpriced", "currency_conversion",
)  # fmt: skip


NARROW = {"reconciliation": RECONCILIATION_COLUMNS}


def _prepare(
    con: duckdb.DuckDBPyConnection,
    opts: ReportOptions,
    since: datetime | None,
    until: datetime | None,
    scratch: Path,
    needed: RollupKeys,
    lake: tuple[Path, Manifest],
) -> str | None:
    """Tables the queries join: the report's calls, attribution rules, metrics; the same steps
    on both engines. ``scratch``: a folder for DuckDB's copy of the calls, deleted after.

    The calls are the lake's rollups priced (views/call_groups.sql) plus their run, session and
    timing rows (n_calls = 0) when they can answer for this period, prices and attribution
    (``needed``); else every call. Returns why every call was read (None: the rollups were)."""
    from costlab import attribution, engines
    from costlab.money import alerts, metrics
    from costlab.sql import sql_literal

    spark = engines.is_spark(con)
    # Price and attribute the calls once: a dozen queries read them (the views would redo the
    # price join and the team lookups each time). Only the days the report looks at: [since's
    # month start or anomaly look-back, until); the day bounds let the engine skip the other
    # days' files. Only the columns the report's SQL mentions: copying all forty costs more
    # than the queries. The bounds are typed literals of datetimes built here, not user text.
    lo = alerts.history_start(since, alerts.anomaly_settings(opts.anomaly)["window"])
    typed = _column_types(con, "calls")
    words = _report_words()
    keep = [(c, t) for c, t in typed if c in words or c in ROW_WEIGHTS]
    where = _day_bounds(lo, until)
    rates = None
    if opts.currency and opts.rates:
        from costlab.money.currency import Rates

        rates = Rates.load(opts.rates)
    why = (
        _rollups_unusable(con, needed, (lo, since, until), where, rates, opts.currency)
        if opts.rollups
        else "asked for (--no-rollups)"
    )
    if why is None:
        source = _rollup_rows(con, keep)
    else:
        source = f"SELECT {', '.join(c for c, _ in keep)} FROM ({load_sql('views/calls')}) AS c"
    # calls_attributed reads `calls`: the report's calls replace it (the priced calls inlined,
    # since views bind by name)
    con.execute(f"CREATE OR REPLACE VIEW _report_calls AS SELECT * FROM ({source}) AS r{where}")
    if not spark:
        _bill_days(con, lake, since, until, lo)
    if rates is not None and opts.currency:  # every amount in one currency, each day at its own rate
        from costlab.money.currency import convert_views

        convert_views(con, rates, opts.currency, "_report_calls")
    con.execute("CREATE OR REPLACE VIEW calls AS SELECT * FROM _report_calls")
    rules = attribution.AttributionRules.from_config({"attribution": opts.attribution})
    attribution.add_attributed_views(con, rules)
    if spark:  # Parquet too on a local session (costlab/engines/spark.py)
        spark_con: Any = con
        spark_con.store("_report_calls_attributed", "SELECT * FROM calls_attributed", scratch)
    elif why is None:  # rollup groups: a small table in memory
        con.execute("CREATE TABLE _report_calls_attributed AS SELECT * FROM calls_attributed")
    else:  # a Parquet file, not a table: 100M calls are ~40 GB as a DuckDB table, ~3 GB here
        path = scratch / "calls_attributed.parquet"
        con.execute(f"COPY (SELECT * FROM calls_attributed) TO '{sql_literal(str(path))}' (FORMAT parquet)")
        con.execute(f"CREATE VIEW _report_calls_attributed AS SELECT * FROM read_parquet('{sql_literal(str(path))}')")
    if why is None:
        _marks(con, rules, _day_bounds(since, until), scratch)
    con.execute("CREATE OR REPLACE VIEW calls AS SELECT * EXCLUDE (team) FROM _report_calls_attributed")
    con.execute("CREATE OR REPLACE VIEW calls_attributed AS SELECT * FROM _report_calls_attributed")
    if why is not None:  # every call carries its own trace, session and times: no mark rows
        con.execute("CREATE OR REPLACE VIEW call_marks AS SELECT * FROM calls WHERE false")
        con.execute("CREATE OR REPLACE VIEW call_marks_attributed AS SELECT * FROM calls_attributed WHERE false")
    rows = metrics.load_metrics(opts.metrics) if opts.metrics else []
    if spark:  # plus the attributed charges, stored (costlab/engines/spark.py)
        spark_con.finish_report(rows)
    else:
        metrics.add_metrics_table(con, rows)
    return why


def _bill_days(con: duckdb.DuckDBPyConnection, lake: tuple[Path, Manifest], since: datetime | None,
               until: datetime | None, lo: datetime | None) -> None:  # fmt: skip
    """``charges`` and ``usage`` over only the day files the report's bill queries read: from the
    anomaly look-back or the previous period, whichever starts first (``lo``), to the end of
    ``until``'s month (the commitments' whole months).

    Why: each statement over a view of every day file opens them all to plan, and a report runs
    dozens over the bill: a one-day report on a year of daily bills spent 1.5 s of its 3 s there.
    The lake files a row by the UTC day of charge_period_start (period_start for usage), the
    column every bill query bounds, so the files outside these days hold no row any of them
    reads. A period open at either end reads every file, as before. What needs the whole
    history asks `_bill_edges`."""
    from costlab.rollups import day_of
    from costlab.views import table_select

    if since is None or until is None or lo is None:
        return
    first = lo
    try:
        prev = _previous(con, since, until)
    except (OverflowError, ValueError):  # at the edge of the calendar: no previous period (_compare)
        prev = None
    if prev is not None:
        first = min(first, prev[0])
    u = until.astimezone(UTC).date()
    try:
        last_day = next_month(u)
    except ValueError:  # --until in December 9999: no later day to leave out
        last_day = date.max
    first_day = first.astimezone(UTC).date()
    root, manifest = lake
    for table in ("charges", "usage"):
        rels = manifest.tables.get(table, [])
        keep = [str(root / rel) for rel in rels if (d := day_of(rel)) is None or first_day <= d <= last_day]
        if len(keep) < len(rels):
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {table_select(con, table, keep)}")


def _bill_edges(con: Any, lake: tuple[Path, Manifest]) -> tuple[datetime | None, datetime | None]:
    """The first and last charge_period_start of the whole lake, read from only the earliest and
    latest day's files (a row's day partition is that column's UTC day; a file without one is
    read for both), whatever days the report's ``charges`` view holds (`_bill_days`). On Spark,
    from the view."""
    from costlab import engines
    from costlab.rollups import day_of
    from costlab.sql import sql_list

    if engines.is_spark(con):
        row = con.execute("SELECT min(charge_period_start), max(charge_period_start) FROM charges").fetchone()
        return (row[0], row[1]) if row else (None, None)
    root, manifest = lake
    day = {rel: day_of(rel) for rel in manifest.tables.get("charges", [])}
    if not day:
        return None, None
    known = [d for d in day.values() if d is not None]
    edges = []
    for agg, edge in (("min", min(known, default=None)), ("max", max(known, default=None))):
        files = [str(root / rel) for rel, d in day.items() if d is None or d == edge]
        got = con.execute(
            f"SELECT {agg}(charge_period_start) FROM read_parquet({sql_list(files)}, union_by_name = true)"
        ).fetchall()
        edges.append(got[0][0])
    return edges[0], edges[1]


def _day_bounds(lo: datetime | None, until: datetime | None) -> str:
    """A WHERE clause keeping [lo, until) on start_time, with the day bounds that let the engine
    skip the other days' files (typed literals of datetimes built here, not user text)."""
    bounds = []
    if lo is not None:
        bounds.append(f"day >= DATE '{lo.astimezone(UTC).date()}' AND start_time >= {_utc_literal(lo)}")
    if until is not None:
        bounds.append(f"day <= DATE '{until.astimezone(UTC).date()}' AND start_time < {_utc_literal(until)}")
    return f" WHERE {' AND '.join(bounds)}" if bounds else ""


#: The columns a row of the report's calls holds for the calls it stands for (one call, or a
#: rollup group: views/calls.sql, views/call_groups.sql); n_calls = 0 marks a run or timing row.
ROW_WEIGHTS = ("n_calls", "n_untraced", "n_sessions", "max_input_tokens", "last_start_time")


def _rollups_unusable(
    con: duckdb.DuckDBPyConnection,
    needed: RollupKeys,
    bounds: tuple[datetime | None, ...],
    where: str,
    rates: Rates | None = None,
    target: str | None = None,
) -> str | None:
    """Why the lake's rollups cannot stand for the calls of this report; None when they can."""
    import json

    from costlab.rollups import RollupKeys

    try:
        (text,) = con.execute("SELECT keys FROM rollup_keys").fetchone() or (None,)
    except Exception:  # no rollup views on this connection (a lake without call_facts)
        text = None
    stored = RollupKeys.from_json(json.loads(text)) if text else None
    if stored is None:
        return "the lake has no rollups yet (the next costlab ingest builds them)"
    missing = stored.missing(needed)
    if missing:
        return f"{missing} (the next costlab ingest rebuilds them)"
    if any(t is not None and t.astimezone(UTC).timetz() != time(0, tzinfo=UTC) for t in bounds):
        return "the period does not start and end at midnight UTC (the rollups are by day)"
    # a run's calls must share one currency (after conversion) for the run rows to count it
    pairs = con.execute(
        "SELECT DISTINCT CAST(timezone('UTC', start_time) AS DATE), cost_currency "
        f"FROM (SELECT * FROM call_groups AS r{where}) AS g WHERE cost_currency IS NOT NULL"
    ).fetchall()
    currencies = {
        target if rates is not None and target and rates.rate(day, cur, target) is not None else cur
        for day, cur in pairs
    }
    if len(currencies) > 1:
        return "the calls are priced in more than one currency" + (
            f" ({target} rates missing for some days)" if target else ""
        )
    return None


#: The columns of the rollups' run and timing rows the report reads (call_marks).
MARK_COLUMNS = ("start_time", "end_time", "workflow", "step", "user_id", "provider", "model", "repo", "branch",
                "tags", "trace_id", "session_id", "n_runs", "n_sessions")  # fmt: skip


def _marks(con: duckdb.DuckDBPyConnection, rules: Any, where: str, scratch: Path) -> None:
    """``call_marks`` and ``call_marks_attributed``: the run, session and timing rows of the
    report's period (``where``), compacted for that period (queries/views/report_marks.sql: runs
    and sessions become counts per group, not a row each), attributed once and kept narrow, then
    padded with NULL to the calls' columns in a view, so the queries union them with the calls
    for free. Only the queries of the report's own period may read them."""
    from costlab import engines

    cols = ", ".join(MARK_COLUMNS)
    con.execute(f"CREATE OR REPLACE VIEW _mark_rows AS SELECT {cols} FROM call_marks_rows AS r{where}")
    con.execute(f"CREATE OR REPLACE VIEW calls AS {load_sql('views/report_marks')}")
    bound = rules.bind(load_sql("views/calls_attributed"))
    if engines.is_spark(con):
        spark_con: Any = con
        spark_con.store("_report_marks", bound, scratch)
    else:
        con.execute(f"CREATE TABLE _report_marks AS {bound}")
    have = {c for c, _ in _column_types(con, "_report_marks")}
    padded = ", ".join(
        c if c in have else f"CAST(NULL AS {t}) AS {c}" for c, t in _column_types(con, "_report_calls_attributed")
    )
    con.execute(f"CREATE OR REPLACE VIEW call_marks_attributed AS SELECT {padded} FROM _report_marks")
    con.execute("CREATE OR REPLACE VIEW call_marks AS SELECT * EXCLUDE (team) FROM call_marks_attributed")


def _column_types(con: Any, view: str) -> list[tuple[str, str]]:
    """(name, SQL type) of ``view``'s columns, on DuckDB or Spark."""
    from costlab import engines

    if engines.is_spark(con):
        return [(f.name, f.dataType.simpleString()) for f in con.dataframe(f"SELECT * FROM {view}", {}).schema.fields]
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]


def _rollup_rows(con: duckdb.DuckDBPyConnection, keep: list[tuple[str, str]]) -> str:
    """The priced rollup groups with ``keep``'s columns (NULL where a group has none: its calls'
    trace, session and end time are in the mark rows, `_marks`)."""
    groups = {c for c, _ in _column_types(con, "call_groups")}
    cols = ", ".join(c if c in groups else f"CAST(NULL AS {t}) AS {c}" for c, t in keep)
    return f"SELECT {cols} FROM call_groups"


def _conversion(con: duckdb.DuckDBPyConnection, opts: ReportOptions, since: datetime | None,
                until: datetime | None) -> Section:  # fmt: skip
    """What was converted into the report's currency, at which days' rates, and what was not."""
    from costlab.money.currency import CARRY_DAYS, Rates, conversion_rows

    assert opts.currency and opts.rates
    rates = Rates.load(opts.rates)  # read again only for its name; the conversion used the same file
    cols, rows = conversion_rows(con, opts.currency, since, until)
    note = (
        f"Every amount in {opts.currency} at the rate of its own UTC day from {rates.source} (a day "
        f"without one takes the latest of the {CARRY_DAYS} days before). Amounts with no rate that "
        "near stay in their own currency, on rows of their own: never summed with converted money."
    )
    return Section("currency_conversion", f"Conversion into {opts.currency}", cols, rows, note, "details")


def _utc_literal(value: datetime) -> str:
    return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat()}'"


def _report_words() -> set[str]:
    """Every identifier in the SQL a report runs over ``calls`` (its named queries and the views
    built on calls): a superset of the calls columns it reads."""
    import re

    from costlab.sql import queries_root

    names = [q for _, _, q, _, _ in SECTIONS] + ["top_movers", "daily_cost_by_scope", "gap_causes", "gap_evidence"]
    views = [f.name[:-4] for f in queries_root().joinpath("views").iterdir() if f.name.endswith(".sql")]
    names += [f"views/{v}" for v in views if not v.startswith(("call", "analyze"))] + ["views/calls_attributed"]
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(load_sql(n) for n in names)))


def _movers(con: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None) -> Section:
    end = until
    if end is None:
        last = con.execute("SELECT max(last_start_time) FROM calls").fetchone()
        if last is None or last[0] is None:
            return Section("top_movers", "Top movers", ["workflow", "currency", "previous", "current", "change", "change_pct"],
                           [], part="trends")
        day = last[0].astimezone(UTC).date()
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    window = timedelta(days=7)
    if since is not None and end - since < 2 * window:
        window = max((end - since) / 2, timedelta(days=1))
    params = {"prev_start": end - 2 * window, "cur_start": end - window, "cur_end": end}
    cols, rows = _fetch(con, "top_movers", params)
    days = window.days or 1
    note = (
        f"Traced cost in the last {days} days ({(end - window).date()} to {(end - timedelta(days=1)).date()}) "
        f"against the {days} days before."
    )
    return Section("top_movers", "Top movers", cols, rows, note, "trends")


def _headline(report: Report) -> list[Headline]:
    """Totals per currency, derived from the sections already computed."""
    def col(section: str, key: str, value: str, billed_only: bool = False) -> dict[str, Any]:
        sec = report.section(section)
        out: dict[str, Any] = {}
        if sec is None or not sec.rows:
            return out
        i, j = sec.columns.index(key), sec.columns.index(value)
        k = sec.columns.index("billed") if billed_only else None
        with localcontext(prec=80):  # exact: DECIMAL(38,12) sums pass Python's default 28 digits
            for r in sec.rows:
                if r[i] is not None and r[j] is not None and (k is None or r[k] is not None):
                    out[r[i]] = out.get(r[i], Decimal(0)) + r[j]
        return out

    billed = col("allocation_check", "currency", "billed")
    attributed = col("allocation_check", "currency", "attributed")
    unattributed = col("allocation_check", "currency", "unattributed")
    traced = col("traced_by_day", "currency", "cost")
    calls = col("traced_by_day", "currency", "calls")
    llm_billed = col("reconciliation", "currency", "billed")
    # coverage is the share of the bill the traces explain: traced money of a model the lake has
    # no bill for is not part of it (it is the gap's traced_not_billed); counting it showed a
    # lake with one provider's bill and two providers' traces as 1,414% covered
    llm_traced = col("reconciliation", "currency", "traced", billed_only=True)
    # unpriced calls have no currency: counted over every traced_by_day row, shown once
    by_day = report.section("traced_by_day")
    unpriced_n = 0
    if by_day is not None:
        i = by_day.columns.index("unpriced_calls")
        unpriced_n = sum(int(r[i] or 0) for r in by_day.rows)
    out = []
    for cur in sorted(set(billed) | set(traced)):
        b = llm_billed.get(cur)
        coverage = None
        if b:
            coverage = (llm_traced.get(cur, Decimal(0)) / b).quantize(Decimal("0.0001"))
        out.append(
            Headline(
                currency=cur,
                billed=billed.get(cur),
                attributed=attributed.get(cur),
                unattributed=unattributed.get(cur),
                traced_cost=traced.get(cur),
                traced_calls=int(calls.get(cur, 0)),
                unpriced_calls=0,
                coverage=coverage,
            )
        )
    if out:
        out[0].unpriced_calls = unpriced_n
    elif unpriced_n:
        out.append(Headline("USD", None, None, None, None, 0, unpriced_n, None))
    return out


def _alerts(
    con: duckdb.DuckDBPyConnection, opts: ReportOptions, since: datetime | None, until: datetime | None
) -> list[Alert]:
    from costlab.money import alerts

    settings = alerts.anomaly_settings(opts.anomaly)
    start = alerts.history_start(since, settings["window"])  # month start or anomaly look-back
    # rows, not a polars frame: the import alone is ~0.1 s of a nightly report
    cols, rows = _fetch(con.cursor(), "daily_cost_by_scope", {"since": start, "until": until})
    daily = alerts.DailyRows(tuple(cols), rows)
    opts.warnings.extend(alerts.budget_warnings(daily, opts.budgets))
    out = alerts.check_budgets(daily, opts.budgets, since, until)
    out += alerts.detect_anomalies(daily, since, until, **settings)
    return out


def _findings(ws: Workspace) -> tuple[list[dict[str, Any]], dict[str, Decimal], dict[str, str]]:
    """The analyzers' findings over ``ws``'s period, their combined validated monthly savings
    (USD; combined on the remaining cost, never summed: costlab.analyze.base.combine) and the
    analyzers skipped with why."""
    from costlab.analyze import base
    from costlab.report.model import stable

    findings, total, skipped = base.report_findings(ws)
    return [stable(f) for f in findings], total.to_dict(), skipped


def _gap(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, Section]:
    """Billed minus traced in named causes, and the bill lines behind each (costlab.money.gap)."""
    from costlab.money.gap import gap_sections

    (c_cols, c_rows), (e_cols, e_rows) = gap_sections(con, params)
    return {
        "gap_causes": Section(
            "gap_causes", "Why billed and traced differ", c_cols, c_rows,
            "Each bill line belongs to one cause; what no cause accounts for is 'unexplained'. "
            "The causes and unexplained add up to billed minus traced, per currency.", "gap",
        ),
        "gap_evidence": Section(
            "gap_evidence", "The bill lines behind each cause", e_cols, e_rows,
            "The largest lines of each cause (the JSON and CSV have them; costlab.money.gap.explain_gap has all).",
            "gap",
        ),
    }  # fmt: skip


def _commitment_note(
    con: Any, ws: Workspace, report: Report, book: PriceBook, since: datetime | None, until: datetime | None
) -> None:
    """The overrides file's monthly commitments, drawn down (`costlab.money.commitments`), after
    the reconciliation's note: bill against traces is where a true-up shows. Nothing without
    commitments."""
    if not book.commitments:
        return
    from costlab.money.commitments import status

    sec = report.section("reconciliation")
    months = status(ws, since, until, book=book, con=con)
    if sec is None or not months:
        return
    lines = "; ".join(m.line() for m in months)
    text = f"Commitments (whole UTC months; a month not over yet is not settled): {lines}."
    sec.note = f"{sec.note} {text}" if sec.note else text


def _gap_note(report: Report) -> None:
    """Lead the gap's note with the sum it explains: billed - traced = gap, per currency."""
    from costlab.money_text import money_text

    sec = report.section("gap_causes")
    parts = [
        f"{h.currency}: billed {money_text(h.billed)} - traced {money_text(h.traced_cost or Decimal(0))} "
        f"= {money_text(h.billed - (h.traced_cost or Decimal(0)))}"
        for h in report.headline
        if h.billed is not None
    ]
    if sec is not None and parts:
        sec.note = "; ".join(parts) + ". " + (sec.note or "")


def _share(amount: Decimal | None, total: Decimal | None) -> Decimal | None:
    if amount is None or not total or total <= 0:
        return None
    with localcontext(prec=80):
        return (amount / total).quantize(Decimal("0.0001"))


def _unattributed_row(section: Section) -> Section:
    """The unattributed bucket as its own row in every currency, 0 included: shown, never implied."""
    col = {c: i for i, c in enumerate(section.columns)}
    have = {r[col["currency"]] for r in section.rows if r[col["workflow"]] == "unattributed"}
    for cur in sorted({r[col["currency"]] for r in section.rows} - have):
        row: list[Any] = [None] * len(section.columns)
        row[col["workflow"]], row[col["currency"]], row[col["billed"]] = "unattributed", cur, Decimal(0)
        last = max(i for i, r in enumerate(section.rows) if r[col["currency"]] == cur)
        section.rows.insert(last + 1, tuple(row))
    return section


def _with_shares(section: Section) -> Section:
    """``share`` of the currency's bill after ``billed`` (the rows sum to the bill)."""
    cur, amt = section.columns.index("currency"), section.columns.index("billed")
    totals: dict[str, Decimal] = {}
    with localcontext(prec=80):
        for r in section.rows:
            if r[amt] is not None:
                totals[r[cur]] = totals.get(r[cur], Decimal(0)) + r[amt]
    section.columns.insert(amt + 1, "share")
    section.rows = [(*r[: amt + 1], _share(r[amt], totals.get(r[cur])), *r[amt + 1 :]) for r in section.rows]
    return section


def _bill_by_team(by_workflow: Section) -> Section:
    """The whole bill by team: `bill_by_workflow` summed over each team's workflows
    ('(none)' for workflows without a team; 'unattributed' stays its own row)."""
    col = {c: i for i, c in enumerate(by_workflow.columns)}
    groups: dict[tuple[str, str], list[Any]] = {}
    with localcontext(prec=80):
        for r in by_workflow.rows:
            wf = r[col["workflow"]]
            team = "unattributed" if wf == "unattributed" else (r[col["team"]] or "(none)")
            g = groups.setdefault((team, r[col["currency"]]), [set(), Decimal(0), None])
            g[0].add(wf)
            g[1] += r[col["billed"]] or Decimal(0)
            traced = r[col["traced_cost"]]
            if traced is not None:
                g[2] = (g[2] or Decimal(0)) + traced
    rows = sorted(
        ((team, cur, len(g[0]), g[1], g[2]) for (team, cur), g in groups.items()),
        key=lambda r: (r[1], r[0] == "unattributed", -r[3], r[0]),
    )
    section = Section(
        "bill_by_team",
        "The whole bill by team",
        ["team", "currency", "workflows", "billed", "traced_cost"],
        [tuple(r) for r in rows],
        "The workflows' bill summed per team ([attribution.teams]); '(none)': workflows without a team.",
        "bill",
    )
    return _with_shares(section)


def _trend(con: duckdb.DuckDBPyConnection, opts: ReportOptions, since: datetime | None,
           until: datetime | None) -> Section:  # fmt: skip
    """Billed and traced per day over the period and the trailing days the anomaly check reads
    (`alerts.history_start`), those marked ``in_period = no``."""
    from costlab.money import alerts

    start = alerts.history_start(since, alerts.anomaly_settings(opts.anomaly)["window"])
    window = {"since": start, "until": until}
    days: dict[tuple[Any, str], list[Any]] = {}  # (day, currency) -> [billed, traced]: None is unknown
    with localcontext(prec=80):
        for day, _provider, currency, billed, _effective in _fetch(con, "spend_by_day", window)[1]:
            cell = days.setdefault((day, currency), [None, None])
            if billed is not None:
                cell[0] = (cell[0] or Decimal(0)) + billed
        for day, currency, cost, _calls, _unpriced in _fetch(con, "traced_by_day", window)[1]:
            if currency is not None and cost is not None:  # unpriced calls have no currency and no cost
                days.setdefault((day, currency), [None, None])[1] = cost
    first = since.astimezone(UTC).date() if since is not None else None
    marked = [(day, cur, b, t, first is None or day >= first) for (day, cur), (b, t) in sorted(days.items())]
    cols = ["day", "currency", "billed", "traced"]
    context = sum(1 for r in marked if not r[-1])
    note = "Billed (the bill) and traced (the traces) per day."
    if context:
        note += f" The {context} rows before {first} are context: the trailing days the anomaly check compares with."
    return Section("daily_trend", "Billed and traced money per day", [*cols, "in_period"], marked, note, "trends")


def _anomalies(found: list[Alert]) -> Section:
    """The anomaly alerts as a table with their context: the day against its trailing median."""
    from datetime import date as date_type

    rows = []
    for a in found:
        if a.kind != "anomaly":
            continue
        times = None
        if a.baseline:
            with localcontext(prec=80):
                times = (a.amount / a.baseline).quantize(Decimal("0.1"))
        rows.append((date_type.fromisoformat(a.period), a.scope, a.name, a.currency, a.amount, a.baseline, times))
    return Section(
        "anomalies",
        "Cost anomalies",
        ["day", "scope", "name", "currency", "cost", "trailing_median", "times_median"],
        rows,
        "A day far above its scope's trailing median ([anomaly] window, k, min_abs, min_rel in costlab.toml).",
        "trends",
    )


def _previous(con: duckdb.DuckDBPyConnection, since: datetime | None,
              until: datetime | None) -> tuple[datetime, datetime] | None:  # fmt: skip
    """The period before ``[since, until)``: the same number of calendar months when the period is
    whole months, else the same length. None without a start or an end of data."""
    if since is None:
        return None
    end = until
    if end is None:
        last = con.execute("SELECT max(charge_period_start) FROM charges").fetchone()
        if last is None or last[0] is None:
            return None
        day = last[0].astimezone(UTC).date()
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    if end <= since:
        return None
    s, e = since.astimezone(UTC), end.astimezone(UTC)
    whole = s.day == 1 and e.day == 1 and not (s.hour or s.minute or s.second or e.hour or e.minute or e.second)
    if whole:
        months = (e.year - s.year) * 12 + e.month - s.month
        index = s.year * 12 + s.month - 1 - months
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC), since
    return since - (end - since), since


def _compare(con: duckdb.DuckDBPyConnection, lake: tuple[Path, Manifest], report: Report, since: datetime | None,
             until: datetime | None) -> None:  # fmt: skip
    """Fill each headline's billed change against the previous period, when the lake's bills
    cover all of it (the earliest charge starts no later than the previous period)."""
    try:
        prev = _previous(con, since, until)
    except (OverflowError, ValueError):  # a period at the edge of the calendar has no previous one
        prev = None
    if prev is None:
        return
    report.previous_since, report.previous_until = prev
    first, _ = _bill_edges(con, lake)
    if first is None or first > prev[0]:
        return  # the bills start inside the previous period: no honest comparison
    _, rows = _fetch(con, "spend_by_day", {"since": prev[0], "until": prev[1]})
    totals: dict[str, Decimal] = {}
    with localcontext(prec=80):
        for r in rows:
            if r[3] is not None:
                totals[r[2]] = totals.get(r[2], Decimal(0)) + r[3]
        for h in report.headline:
            h.previous_billed = totals.get(h.currency, Decimal(0))
            if h.billed is not None:
                h.change = h.billed - h.previous_billed
                if h.previous_billed > 0:
                    h.change_pct = (h.change / h.previous_billed * 100).quantize(Decimal("0.1"))


def _notice(con: duckdb.DuckDBPyConnection, lake: tuple[Path, Manifest], report: Report) -> str | None:
    """One line when the period holds no charge and no call, naming the period and what the lake
    does hold (an empty report is never an all-clear)."""
    from costlab.report.markdown import period_text

    if report.headline:
        return None
    row = con.execute("SELECT min(start_time), max(start_time) FROM spans").fetchone()
    times = [t for t in (*_bill_edges(con, lake), *(row or ())) if t is not None]
    held = (
        f"the lake holds data from {min(times).astimezone(UTC).date()} to {max(times).astimezone(UTC).date()}"
        if times
        else "the lake holds no charges and no calls"
    )
    return f"No charges or calls in {period_text(report)}: {held}."
