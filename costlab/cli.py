"""The ``costlab`` command: parse arguments, make one library call, render the result.

Heavy libraries (duckdb, polars, pyarrow) are imported inside the commands, so ``costlab --help``
starts instantly and cron jobs pay only for what they run. Every error is one line on stderr
(``Error: ...``) with exit code 1, whatever raised it; usage errors exit 2; a closed output pipe
(``| head``) ends quietly with 141, as SIGPIPE would; set ``COSTLAB_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from costlab.errors import CostlabError

if TYPE_CHECKING:
    from costlab.workspace import Workspace


class _Group(TyperGroup):
    """Every failure of a command reaches the user as one line (`_failure`), whatever its class;
    help reads like git's and ripgrep's (`_plain_help`); the app's own `--config` may come
    anywhere (`_hoist_config`); no arguments prints a short help (`_short_help`), exit 2."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.subcommand_metavar = "<command> [<args>]..."
        _plain_help(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = _hoist_config(args)
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(_short_help(self, ctx), err=True)
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _error("interrupted; nothing was committed by the interrupted step")
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `costlab sql ... | head`: the reader is gone, nothing to say
            _silence_stdout()
            raise typer.Exit(141) from None
        except Exception as ex:
            if _is_cli_exception(ex) or os.environ.get("COSTLAB_DEBUG"):
                raise  # exits and usage errors (exit 2) are typer's to print
            code, message = _failure(ex)
            _error(message)
            raise typer.Exit(code) from None


class _Argument(TyperArgument):
    """A positional argument shown by its metavar alone, as git and ripgrep show them
    (`<path>...` in the usage line and the Arguments list), never with its Python type."""

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._rich_display_name()
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


# What an option's value is, as help shows it (`--since <date>`): by option name, or by
# "command option" where one command means something else by it; any option not named here
# shows its kind (<n>, <number>, <path>, <value>), never a Python type (tests/test_cli.py).
_METAVARS = {
    "--config": "<path>",
    "--lake": "<dir>",
    "--format": "<format>",
    "--source": "<name>",
    "--wait": "<seconds>",
    "--workflow-attribute": "<name>",
    "--exclude": "<glob>",
    "--engine": "<name>",
    "--param": "<name=value>",
    "--limit": "<n>",
    "--since": "<date>",
    "--until": "<date>",
    "--at": "<date>",
    "--output": "<file>",
    "sql --output": "<dir>",
    "--policy": "<policy>",
    "--token-policy": "<policy>",
    "--grain": "<grain>",
    "--budget": "<scope=amount>",
    "--anomaly": "<key=value>",
    "--fail-on": "<alerts>",
    "--month": "<month>",
    "--notify": "<url>",
    "--notify-on": "<when>",
    "--metrics": "<file>",
    "--prices": "<file>",
    "--top": "<n>",
    "--provider": "<name>",
    "--dialect": "<dialect>",
}
_ARGUMENT_METAVARS = {"paths": "<path>", "query": "<sql>", "name": "<query>", "model": "<model>", "which": "<analyzer>"}
_KIND_METAVARS = {int: "<n>", float: "<number>", Path: "<path>"}
# Help for an option declared without any (shared by several commands).
_OPTION_HELP = {"--limit": "Show at most this many rows, newest first."}


def _plain_help(command: Any, name: str = "") -> None:
    """Plain metavars, lowercase `[options]` and a help text for every option of ``command``
    and of the commands under it (idempotent: nested groups run it again)."""
    command.options_metavar = "[options]"
    command.help = _examples_unwrapped(command.help)
    for p in command.params:
        if isinstance(p, TyperArgument):
            p.__class__ = _Argument
            p.metavar = p.metavar or _ARGUMENT_METAVARS.get(p.name or "", f"<{p.name}>")
        elif isinstance(p, TyperOption) and not p.is_flag and not p.count:
            long = max(p.opts, key=len)
            p.metavar = p.metavar or _METAVARS.get(f"{name} {long}") or _METAVARS.get(long) or _kind_metavar(p)
            p.help = p.help or _OPTION_HELP.get(long)
    for sub_name, sub in getattr(command, "commands", {}).items():
        _plain_help(sub, sub_name)


def _examples_unwrapped(text: str | None) -> str | None:
    """Example command lines printed as written, not re-wrapped to the terminal's width (click
    keeps a paragraph that starts with a \\b line as it is)."""
    if not text:
        return text
    paragraphs = text.split("\n\n")
    return "\n\n".join(
        f"\b\n{p}" if p.strip().startswith("costlab ") and not p.startswith("\b") else p for p in paragraphs
    )


def _kind_metavar(p: Any) -> str:
    kind = getattr(getattr(p, "type_descriptor", None), "annotation", None)
    if get_origin(kind) is list:
        kind = get_args(kind)[0]
    return _KIND_METAVARS.get(kind, "<value>") if isinstance(kind, type) else "<value>"


def _short_help(group: Any, ctx: Any) -> str:
    """What `costlab` (or `costlab export`) alone prints: usage, the first line of the help,
    the commands and where to read more."""
    formatter = ctx.make_formatter()
    group.format_usage(ctx, formatter)
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text((group.help or "").split("\n\n", 1)[0])
    group.format_commands(ctx, formatter)
    formatter.write_paragraph()
    formatter.write_text(f"Run '{ctx.command_path} <command> -h' for its options and examples.")
    return str(formatter.getvalue()).rstrip("\n")


# The settings file named by --config for this run, handed to the command's `Workspace`; None:
# the Workspace looks for one itself ($COSTLAB_CONFIG, else ./costlab.toml). Set only by the
# app's callback (`_main`).
_CONFIG: Path | None = None


def config_path() -> Path | None:
    """The settings file given with --config (absolute), or None when the run named none."""
    return _CONFIG


def _hoist_config(args: list[str]) -> list[str]:
    """``--config <path>`` is the app's option but may follow the command, as in ``costlab report
    --config x.toml`` or ``costlab export focus --config x.toml``: every one before a ``--`` moves
    to the front, where the app reads it (the last one wins). A --config without a value is a
    one-line usage error (exit 2)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--config" or arg.startswith("--config="):
            if arg == "--config":
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 2
            else:
                value = arg.split("=", 1)[1]
                i += 1
            if not value or (value.startswith("-") and value != "-"):
                _error("--config needs a value: the settings file (costlab.toml)")
                raise typer.Exit(2)
            front.append(f"--config={value}")
            continue
        rest.append(arg)
        i += 1
    return front + rest


def _is_cli_exception(ex: BaseException) -> bool:
    """typer's (or click's) own exits and usage errors."""
    return type(ex).__module__.split(".", 1)[0] in ("typer", "click")


def _failure(ex: Exception) -> tuple[int, str]:
    """Exit code and the one line for an exception: costlab's own say what is wrong (2 for a
    bad command-line value); a file the system refused names the file; anything else is a bug,
    named by its class, with the way to a traceback."""
    from costlab.errors import UsageError
    from costlab.lake import lake_file_error

    ex = lake_file_error(ex) or ex  # a lake file deleted or truncated under a running command
    if isinstance(ex, CostlabError):
        return (2 if isinstance(ex, UsageError) else 1), str(ex)
    first = next((ln.strip() for ln in str(ex).splitlines() if ln.strip()), "")
    if isinstance(ex, OSError) and ex.strerror:
        where = f"{ex.filename}: " if ex.filename is not None else ""
        return 1, f"{where}{ex.strerror}"
    if isinstance(ex, MemoryError) or type(ex).__name__ == "OutOfMemoryException":  # DuckDB's, at its limit
        return 1, "out of memory; free memory or narrow the command (e.g. a shorter --since)"
    return 1, (
        f"internal error: {type(ex).__name__}: {first[:300]} "
        "(set COSTLAB_DEBUG=1 for a traceback, and please report it)"
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's buffer)
        pass


app = typer.Typer(
    name="costlab",  # the program's name also where it is not run as `costlab` (tests, runpy)
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},  # the commands' contexts inherit it
    help="costlab: where your LLM money goes, and what to change.\n\n"
    "Ingest billing exports and traces into a local Parquet lake, then query and report.\n\n"
    "Examples:\n\n  costlab ingest exports/ traces/\n\n  costlab report --since 7d\n\n"
    "  costlab report --help",
)


def _print_version(value: bool) -> None:
    if value:
        from costlab import __version__

        typer.echo(f"costlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: ./costlab.toml, or $COSTLAB_CONFIG); "
            "may also follow the command.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    global _CONFIG
    if config is not None:
        from costlab.config import file_problem
        from costlab.errors import UsageError

        problem = file_problem(config)
        if problem is not None:
            raise UsageError(f"--config {config}: {'is a directory' if problem == 'directory' else problem}")
    _CONFIG = None if config is None else config.absolute()


LakeOpt = Annotated[
    Path | None,
    typer.Option(
        "--lake",
        help="Lake directory (else $COSTLAB_LAKE, costlab.toml `lake`, or ~/.local/share/costlab/lake).",
        show_default=False,
    ),
]
MonthOpt = Annotated[
    str | None,
    typer.Option("--month", help="A calendar month instead of --since/--until: 2026-10, last, or this (month to date)."),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="duckdb (default) or spark; default from [engine] name in costlab.toml."),
]


def _period(month: str | None, since: str | None, until: str | None) -> tuple[Any, Any]:
    """``--since``/``--until`` as given, or the bounds of ``--month`` (not both)."""
    if month is None:
        return since, until
    from costlab.errors import UsageError
    from costlab.periods import Period

    if since is not None or until is not None:
        raise UsageError("--month cannot be combined with --since or --until; give one or the other")
    period = Period.month(month)
    return period.since, period.until


def _workspace(lake: Path | None = None, since: str | None = None, until: str | None = None, engine: str | None = None) -> Workspace:
    """The one `Workspace` a command works on: ``--lake``, the settings file (``--config``),
    the period and the engine."""
    from costlab.workspace import Workspace

    return Workspace(lake, config=config_path(), since=since, until=until, engine=engine)


def _line(message: str) -> str:
    """One line of text: whitespace runs as one space, control characters escaped (a message
    can quote a file name or a value from data)."""
    from costlab.report.tables import printable

    return printable(" ".join(message.split()))


def _error(message: str) -> None:
    sys.stderr.write(f"Error: {_line(message)}\n")


def _warn(message: str) -> None:
    sys.stderr.write(f"Warning: {_line(message)}\n")


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of exports and traces.")],
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Source name (see `costlab sources`); detected when omitted.")
    ] = None,
    lake: LakeOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Re-read files even if unchanged.")] = False,
    keep_text: Annotated[bool, typer.Option("--keep-text", help="Store prompt and completion text.")] = False,
    redact: Annotated[bool, typer.Option("--redact", help="Hash user ids and e-mail addresses.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any row was quarantined or a file in a folder was not recognised.")
    ] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another ingest's lock.")] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Summary as table or json.")] = "table",
    workflow_attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--workflow-attribute",
            help="Span attribute / tag naming the workflow, repeatable (costlab.toml [ingest] workflow_attributes).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip files matching this glob inside folders, repeatable (e.g. 'metrics*.csv').")
    ] = None,
) -> None:
    """Read billing exports and trace logs into the lake.

    Files already ingested and unchanged are skipped, so a nightly run over a growing folder only
    reads what is new. A later export of the same line replaces the earlier one. An empty file
    (0 bytes or only whitespace) is skipped with a warning, not an error. Rows with implausible
    numbers (limits in costlab.toml [ingest]) are quarantined with the reason.

    Examples:

      costlab ingest ~/exports/openai/ ~/exports/cur/2026-10/

      costlab ingest --source focus billing.csv.gz --lake /data/costlab
    """
    from costlab.ingest.run import ingest as run_ingest
    from costlab.report.tables import ingest_summary, progress_bar

    ws = _workspace(lake)
    ingest_cfg = ws.section("ingest")
    if workflow_attribute:
        ingest_cfg["workflow_attributes"] = list(workflow_attribute)
    if exclude:
        ingest_cfg["exclude"] = [*ingest_cfg.get("exclude", []), *exclude]
    with progress_bar(enabled=_interactive() and not quiet, label="ingesting") as progress:
        result = run_ingest(
            paths,
            ws.lake,
            source=source,
            force=force,
            keep_text=keep_text,
            redact=redact,
            config=ingest_cfg,
            wait=wait,
            progress=progress,
            on_wait=lambda holder: None if quiet else _warn(f"waiting for the lake lock ({holder})"),
            rollup_keys=ws.rollup_keys(),
        )
    if not quiet:
        ingest_summary(result, fmt)
    for f in result.failed:
        _error(f.error or f.path)
    for f in result.unrecognised if not quiet else []:
        _warn(f"{f.error}; skipped ({'--strict fails on it' if not strict else 'fails with --strict'})")
    for f in result.empty if not quiet else []:
        _warn(f.error or f.path)
    if result.rows_quarantined and not quiet:
        _warn(
            f"{result.rows_quarantined} rows quarantined; see `costlab quarantine --lake {result.lake}`"
        )
    if result.failed or (strict and (result.rows_quarantined or result.unrecognised)):
        raise typer.Exit(1)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query over the lake's views.")],
    lake: LakeOpt = None,
    fmt: FormatOpt = "table",
    engine: EngineOpt = None,
) -> None:
    """Run read-only SQL over the lake (tables: charges, usage, spans, calls, runs, quarantine).

    Only SELECT (and EXPLAIN) statements; no file outside the lake is read or written. On
    --engine spark only Spark's built-in functions that stay inside the lake are allowed (no
    java_method/reflect). -f csv writes values exactly as they are, for programs (a spreadsheet
    would run a cell starting with =; `costlab report -f csv` neutralises those).

    Examples:

      costlab sql "select billing_currency, sum(billed_cost) from charges group by 1"

      costlab sql "select workflow, count(*), sum(input_tokens) from calls group by 1" -f json
    """
    from costlab.report.tables import rows

    names, data = _workspace(lake, engine=engine).run_read_only(query)  # no writes, nothing outside the lake
    rows(names, data, fmt)


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="A named query from `costlab queries`.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Query parameter as name=value.")
    ] = None,
    lake: LakeOpt = None,
    fmt: FormatOpt = "table",
    engine: EngineOpt = None,
) -> None:
    """Run a named query from queries/ (parameters are bound, never formatted into SQL).

    NAME is one of `costlab queries`; the query runs read-only, like `costlab sql`. A parameter
    with a fixed set of values must be given one of them (the query's header lists them on an
    `-- allowed:` line).

    Examples:

      costlab query spend_by_provider_month -f csv

      costlab query allocation -p grain=month -p policy=proportional -p token_policy=traced
    """
    from costlab.report.tables import frame

    params: dict[str, Any] = {}
    for p in param or []:
        if "=" not in p:
            raise typer.BadParameter(f"expected name=value, got {p!r}", param_hint="--param")
        k, v = p.split("=", 1)
        params[k] = v
    frame(_workspace(lake, engine=engine).query(name, params), fmt)


@app.command()
def queries() -> None:
    """List the named queries and what each returns.

    Example:

      costlab queries
    """
    from costlab.report.tables import rows
    from costlab.sql import header, list_queries

    data = [(n, header(n).split("\n", 1)[0]) for n in list_queries()]
    rows(["query", "purpose"], data, "table")


@app.command()
def runs(lake: LakeOpt = None, limit: int = 20, fmt: FormatOpt = "table") -> None:
    """List recent ingest runs (the manifest of what was read, written and quarantined).

    Examples:

      costlab runs --limit 5

      costlab runs -f json --lake /data/costlab
    """
    from costlab.report.tables import frame

    df = _workspace(lake).sql(
        "SELECT run_id, source_format, started_at, len(files) AS files, rows_read, rows_written, "
        "rows_duplicate, rows_replaced, rows_quarantined, files_failed, status "
        "FROM runs ORDER BY started_at DESC, source_format LIMIT $limit",
        {"limit": limit},
    )
    frame(df, fmt)


@app.command()
def quarantine(lake: LakeOpt = None, limit: int = 50, fmt: FormatOpt = "table") -> None:
    """Show quarantined rows: the file, the line and why it could not be read.

    Examples:

      costlab quarantine

      costlab quarantine --limit 500 -f csv > quarantine.csv
    """
    from costlab.report.tables import frame

    df = _workspace(lake).sql(
        "SELECT source_format, source_file, location, reason, left(raw, 80) AS raw FROM quarantine "
        "ORDER BY ingested_at DESC, source_file, location LIMIT $limit",
        {"limit": limit},
    )
    frame(df, fmt)


@app.command()
def sources() -> None:
    """List the formats costlab can read, with the tables they fill and their row keys.

    Example:

      costlab sources
    """
    from costlab.ingest import sources as all_sources
    from costlab.report.tables import rows

    data = [(n, c.title, ", ".join(c.tables), c.row_key) for n, c in all_sources().items()]
    rows(["source", "format", "tables", "row key"], data, "table")


REPORT_FORMATS = ("table", "json", "markdown", "html", "csv")
_EXT_FORMAT = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json", ".csv": "csv", ".txt": "table"}


@app.command()
def report(
    lake: LakeOpt = None,
    since: Annotated[str | None, typer.Option(help="Start (YYYY-MM-DD, today, yesterday, 7d, 2w).")] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive (same forms as --since).")] = None,
    month: MonthOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="table, json, markdown, html or csv (default: from --output's extension, else table)."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write to this file; {date}, {since} and {until} are filled in, e.g. reports/{date}.html."),
    ] = None,
    policy: Annotated[
        str | None, typer.Option(help="Allocation of non-token charges: proportional, even, tag or none.")
    ] = None,
    token_policy: Annotated[
        str | None, typer.Option("--token-policy", help="Token charges without a workflow: traced or proportional.")
    ] = None,
    grain: Annotated[str | None, typer.Option(help="Conservation period: month or day.")] = None,
    budget: Annotated[
        list[str] | None,
        typer.Option("--budget", help="A monthly budget, repeatable: total=5000, workflow:support-chat=1200, team:ops=300EUR."),
    ] = None,
    metrics: Annotated[
        Path | None, typer.Option("--metrics", help="CSV of business metrics (day,metric,value[,workflow]) for unit costs.")
    ] = None,
    prices: Annotated[Path | None, typer.Option("--prices", help="Price override file (TOML).")] = None,
    top: Annotated[int | None, typer.Option("--top", help="Rows per table in table/markdown output.")] = None,
    no_findings: Annotated[bool, typer.Option("--no-findings", help="Skip the analyzers.")] = False,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="Convert every amount into this currency (EUR, GBP...) at its own day's rate; needs --rates."),
    ] = None,
    rates: Annotated[
        Path | None,
        typer.Option("--rates", help="Dated exchange rates: CSV date,from,to,rate or the ECB reference-rate CSV as published."),
    ] = None,
    no_rollups: Annotated[
        bool,
        typer.Option("--no-rollups", help="Price every call instead of reading the lake's daily rollups (same numbers, slower)."),
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Table format: also print the detail tables and every finding's evidence.")
    ] = False,
    anomaly: Annotated[
        list[str] | None,
        typer.Option("--anomaly", help="Anomaly setting KEY=VALUE, repeatable: window=28, k=4, min_history=7, min_abs=1, min_rel=1."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Alerts that set the exit code: budget, anomaly, budget,anomaly (default) or none."),
    ] = None,
    no_fail: Annotated[bool, typer.Option("--no-fail", help="Same as --fail-on none.")] = False,
    engine: EngineOpt = None,
    notify: Annotated[
        str | None,
        typer.Option("--notify", help="POST a JSON summary (Slack-compatible `text`) to this webhook URL when an alert fires."),
    ] = None,
    notify_on: Annotated[
        str, typer.Option("--notify-on", help="When to --notify: alert (default) or always.")
    ] = "alert",
    csv_raw: Annotated[
        bool,
        typer.Option(
            "--csv-raw",
            help="CSV: write text cells as they are. By default a text cell starting with = + - @ "
            "(a spreadsheet formula) gets a leading ' so it opens as text; numbers are never changed.",
        ),
    ] = False,
) -> None:
    """Where the money went: bill, attribution, unit costs, reconciliation, alerts and findings.

    Exit codes: 0 ok, 1 error, 2 usage, 3 a budget was exceeded, 4 a cost anomaly
    (a budget breach wins when both). `--fail-on none` always exits 0 after a report.

    Examples:

      costlab report --since 30d

      costlab report --since yesterday --format html --output reports/{date}.html

      costlab report --budget total=5000 --budget workflow:support-chat=1200 --fail-on budget

      costlab report --month last --currency EUR --rates eurofxref-hist.csv
    """
    since, until = _period(month, since, until)
    from costlab.money.alerts import (
        exit_code,
        parse_anomaly_option,
        parse_budget_option,
        parse_fail_on,
    )
    from costlab.report.build import ReportOptions, build_report
    from costlab.report.notify import check_url, check_when, post, should_send, summary
    from costlab.report.output import write_report

    fmt = _report_format(fmt, output)
    if notify is not None:  # before any work: a typo must not cost a report
        check_url(notify)
        check_when(notify_on)
    ws = _workspace(lake, engine=engine)
    opts = ReportOptions.configured(
        ws,
        since=since,
        until=until,
        policy=policy,
        token_policy=token_policy,
        grain=grain,
        budgets=[parse_budget_option(b) for b in budget or []],
        anomaly=dict(parse_anomaly_option(a) for a in anomaly or []) or None,
        fail_on=frozenset() if no_fail else parse_fail_on(fail_on) if fail_on else None,
        metrics=metrics,
        prices=prices,
        top=top,
        findings=False if no_findings else None,
        engine=ws.engine,
        rollups=False if no_rollups else None,
        currency=currency,
        rates=rates,
    )
    with _status(f"building report ({fmt})"):
        result = build_report(ws, opts)
    written = write_report(
        result, fmt, output, top=opts.top, console_width=None if sys.stdout.isatty() else 200, csv_raw=csv_raw,
        full=full,
    )
    if written:
        _note(f"wrote {written}")
    for w in opts.warnings:
        _warn(w)
    for a in result.alerts:
        sys.stderr.write(_line(a.message) + "\n")
    if notify is not None and should_send(result, notify_on):
        with _status("notifying"):
            problem = post(notify, summary(result))
        if problem:
            _warn(problem)
    code = exit_code(result.alerts, opts.fail_on)
    if code:
        raise typer.Exit(code)


def _learn_prices(lake: Path | None, period: tuple[Any, Any], output: Path | None, fmt: str) -> None:
    from costlab.money.learned import learn_compute_prices, learn_prices, prices_toml
    from costlab.report.tables import rows

    ws = _workspace(lake, *period)
    learned, compute = learn_prices(ws), learn_compute_prices(ws)
    if not learned and not compute:
        raise CostlabError("no bill line in this period has both a model and its token count to learn a price from, "
                           "and no self-hosted model's workflow has compute lines; check the period, or ingest a bill "
                           "with quantities (FOCUS, AWS CUR, OpenAI or Anthropic cost exports with tokens)")  # fmt: skip
    if fmt != "table":  # the rates themselves, for programs
        names = ["provider", "model", "token_type", "service_tier", "currency", "tokens", "billed", "per_mtok",
                 "list_per_mtok", "discount", "catalogue_model", "lines", "source_format", "first_day", "last_day"]
        rows(names, [tuple(getattr(r, n) for n in names) for r in [*learned, *compute]], fmt)  # fmt: skip
        return
    text = prices_toml(learned, compute)
    if output is None:
        sys.stdout.write(text)
        return
    from costlab.report.output import write_text

    _note(f"wrote {write_text(output, text)}")


def _report_format(fmt: str | None, output: str | None) -> str:
    if fmt is None and output:
        suffix = Path(output).suffix.lower()
        if suffix and suffix not in _EXT_FORMAT:
            from costlab.errors import UsageError

            raise UsageError(
                f"--output {output}: no report format writes {suffix} files; "
                f"use {', '.join(sorted(_EXT_FORMAT))}, or name one with --format"
            )
        fmt = _EXT_FORMAT.get(suffix, "table")
    if fmt is None:
        fmt = "table"
    fmt = fmt.lower()
    if fmt == "md":
        fmt = "markdown"
    if fmt not in REPORT_FORMATS:
        raise typer.BadParameter(f"{fmt!r}; use one of {', '.join(REPORT_FORMATS)}", param_hint="--format")
    return fmt


def _note(message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(_line(message) + "\n")


@contextmanager
def _status(label: str) -> Iterator[None]:
    """A spinner on a terminal; nothing in cron."""
    if not _interactive():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(label):
        yield


@app.command()
def reconcile(
    lake: LakeOpt = None,
    since: Annotated[str | None, typer.Option(help="Start (YYYY-MM-DD, yesterday, 7d).")] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive.")] = None,
    month: MonthOpt = None,
    grain: Annotated[str, typer.Option(help="summary (provider, model) or day.")] = "summary",
    currency: Annotated[
        str | None, typer.Option("--currency", help="Convert every amount into this currency at its own day's rate; needs --rates.")
    ] = None,
    rates: Annotated[
        Path | None, typer.Option("--rates", help="Dated exchange rates (CSV date,from,to,rate, or the ECB's reference-rate CSV).")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Can you trust your traces? Billed money vs provider usage priced vs traced calls priced,
    per provider and model (and day), with coverage = traced / billed and the gap in money.

    Examples:

      costlab reconcile --since 2026-10-01 --until 2026-11-01

      costlab reconcile --grain day -f csv > reconciliation.csv

      costlab reconcile --month last --currency EUR --rates eurofxref-hist.csv
    """
    since, until = _period(month, since, until)
    from costlab.money.reconcile import CORE_COLUMNS
    from costlab.money.reconcile import reconcile as run_reconcile
    from costlab.report.tables import frame

    if grain not in ("day", "summary"):
        raise typer.BadParameter(f"{grain!r}; use summary or day", param_hint="--grain")
    ws = _workspace(lake, since, until)
    fx = ws.section("currency")
    currency = currency or fx.get("report")
    rates_file = rates or (ws.config_dir / str(fx["rates"]) if fx.get("rates") and ws.config_dir else fx.get("rates"))
    df = run_reconcile(ws, grain="day" if grain == "day" else "summary", currency=currency, rates=rates_file)
    if fmt == "table":  # the core columns; json and csv keep every column
        df = df.select([c for c in ("day", *CORE_COLUMNS) if c in df.columns])
    frame(df, fmt)



@app.command()
def whatif(
    lake: LakeOpt = None,
    since: Annotated[str | None, typer.Option(help="Start (YYYY-MM-DD, yesterday, 30d).")] = None,
    until: Annotated[str | None, typer.Option(help="End, exclusive.")] = None,
    month: MonthOpt = None,
    step: Annotated[str | None, typer.Option("--step", help="The calls changed: WORKFLOW/STEP or WORKFLOW (default: all).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Price the calls as this model (any id `costlab prices` knows).")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="Price the calls at the batch tier.")] = False,
    cache_ttl: Annotated[str | None, typer.Option("--cache-ttl", help="Price cache writes as 5m or 1h writes.")] = None,
    max_input_tokens: Annotated[
        int | None, typer.Option("--max-input-tokens", help="Cap each call's input at this many tokens.", metavar="<n>")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, csv or markdown (a pull-request comment).")] = "table",
) -> None:
    """What would a change cost on the traffic you recorded? The calls re-priced under it, with
    the same prices and formula as every call: before, after and difference per workflow and month.

    Examples:

      costlab whatif --since 30d --step support-chat/answer --model gpt-4.1-mini

      costlab whatif --month last --step nightly-digest --batch -f markdown
    """
    from costlab.analyze.downgrade import whatif as run_whatif
    from costlab.money.whatif import COLUMNS
    from costlab.report.tables import rows

    if fmt not in ("table", "json", "csv", "markdown"):
        raise typer.BadParameter(f"{fmt!r}; use table, json, csv or markdown", param_hint="--format")
    result = run_whatif(_workspace(lake, *_period(month, since, until)), step=step, model=model, batch=batch,
                        cache_ttl=cache_ttl, max_input_tokens=max_input_tokens)  # fmt: skip
    if fmt == "markdown":
        sys.stdout.write(result.markdown())
        return
    rows(COLUMNS, result.rows, fmt)
    if fmt == "table":
        sys.stdout.write(result.markdown().split("\n", 1)[0].replace("**", "") + "\n")
        for c in ([f"Evidence: {result.evidence}"] if result.evidence else []) + result.caveats:
            _note(c)


@app.command()
def prices(
    model: Annotated[str, typer.Argument(help="Model id as your calls name it, e.g. gpt-4o-mini; or `learn`.")],
    at: Annotated[str | None, typer.Option("--at", help="Only prices valid on this date (YYYY-MM-DD).")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider, when a name is ambiguous.")] = None,
    lake: LakeOpt = None,
    since: Annotated[str | None, typer.Option(help="learn, commitments: bills from (YYYY-MM-DD, 30d).")] = None,
    until: Annotated[str | None, typer.Option(help="learn, commitments: bills until, exclusive.")] = None,
    month: MonthOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="learn: write the prices file here (TOML) instead of stdout.")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Show what costlab would charge for a model: per-MTok prices by tier, dates and source.
    `costlab prices learn` instead reads the bill's own token lines and writes what each model
    really cost per MTok as a prices file to review: a [[model]] for a model the catalogue does
    not know, a [[discount]] where the bill is under or over list. Nothing is applied until you
    name the file in costlab.toml ([prices] overrides).

    Prices come from the installed genai-prices data (no network) plus the overrides file named
    by `[prices] overrides` in costlab.toml; a model neither knows is priced at the rates the
    lake's own bill charged for it (source: billed rate, with the bill lines). [[volume]] tiers
    of the overrides file show as day rows (source: ...; volume tiers); its [[commitment]]s are
    written to stderr after the prices, drawn down per month (--month/--since/--until, else
    every month with spend).

    Examples:

      costlab prices claude-sonnet-4-5

      costlab prices o3 --at 2025-06-01

      costlab prices learn --month last -o learned-prices.toml
    """
    if model == "learn":
        _learn_prices(lake, _period(month, since, until), output, fmt)
        return
    from costlab.periods import as_instant
    from costlab.pricing import describe
    from costlab.report.tables import rows

    ws = _workspace(lake)
    data = describe(model, at=as_instant(at, "--at"), provider=provider, book=ws.billed_prices())
    if not data:
        raise CostlabError(f"no prices for {model!r} valid at {at}")
    names = list(data[0])
    rows(names, [tuple(d[n] for n in names) for d in data], fmt)
    _commitment_lines(ws, _period(month, since, until))


def _commitment_lines(ws: Workspace, period: tuple[Any, Any]) -> None:
    """After `costlab prices`: the overrides file's commitments, each committed month drawn
    down (`costlab.money.commitments.status`; the period given, else every month with spend),
    on stderr so the prices stay machine-readable."""
    book = ws.prices()
    if not book.commitments:
        return
    from costlab.money.commitments import status
    from costlab.money_text import money_text

    for c in book.commitments:
        until = f" until {c.valid_to.date()}" if c.valid_to else ""
        since = f" from {c.valid_from.date()}" if c.valid_from else ""
        typer.echo(f"commitment: {c.provider} {money_text(c.amount)} {c.currency} per month{since}{until}", err=True)
    for m in status(ws, *period, book=book):
        typer.echo(f"  {m.line()}", err=True)


@app.command()
def analyze(
    which: Annotated[
        str, typer.Argument(help="caching, trimming, downgrade, batch, waste or all.")
    ] = "all",
    since: Annotated[
        str | None,
        typer.Option(help="Start date (YYYY-MM-DD, yesterday, 7d); without it, the lake's last 30 days with calls."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="End date, exclusive.")] = None,
    month: MonthOpt = None,
    lake: LakeOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Recommend what to change, with evidence and a monthly savings band per finding.

    `all` runs every analyzer and combines their savings on the remaining cost (caching first,
    then trimming, downgrade, batch, waste), so the total never counts a dollar twice. Without
    --since they read the lake's last 30 days with calls ([analyze] default_days; 0: every call),
    and say so on stderr when that leaves days out.

    Examples:

      costlab analyze caching --since 30d

      costlab analyze all --format json > findings.json
    """
    since, until = _period(month, since, until)
    from costlab.analyze import base
    from costlab.report.findings import FORMATS, render
    from costlab.report.tables import progress_bar

    names = list(base.ORDER) if which == "all" else [which]
    if which != "all" and which not in base.ORDER:
        raise typer.BadParameter(f"use one of: {', '.join(base.ORDER)}, all", param_hint="WHICH")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--format")
    ws, window = base.with_recent(_workspace(lake, since, until))
    with progress_bar(enabled=_interactive(), label="analyzing") as progress:
        results = base.run(ws, names, on_start=progress)  # one run: the calls are built once
    render(results, fmt)
    for name, why in base.skipped_analyzers(results).items():  # on stderr too, where cron mails it
        _warn(f"the {name} analyzer did not run, so its findings are missing: {why}")
    if window is not None:
        typer.echo(window.note(), err=True)


def _subcommands(name: str, help: str) -> typer.Typer:
    """A command group (``costlab <name> <command>``) with the app's error and help handling."""
    group = typer.Typer(cls=_Group, no_args_is_help=True, rich_markup_mode=None, help=help)
    app.add_typer(group, name=name)
    return group


export_app = _subcommands(
    "export",
    "Write lake data in standard formats for other tools.\n\nExample:\n\n  costlab export focus -o focus.csv.gz",
)


@export_app.command("focus")
def export_focus_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write: .csv, .csv.gz or .parquet.")
    ],
    since: Annotated[str | None, typer.Option(help="First charge date (YYYY-MM-DD, yesterday, 7d).")] = None,
    until: Annotated[str | None, typer.Option(help="End date, exclusive.")] = None,
    month: MonthOpt = None,
    lake: LakeOpt = None,
) -> None:
    """Write `charges` as a FinOps FOCUS 1.2 dataset (PascalCase columns, costlab's LLM
    columns and lineage as x_ columns); the file is replaced atomically.

    Example:

      costlab export focus --output focus-2025-06.parquet --since 2025-06-01 --until 2025-07-01
    """
    since, until = _period(month, since, until)
    from costlab.money.focus_export import export_focus

    result = export_focus(_workspace(lake, since, until), output)
    typer.echo(f"{result.rows} rows written to {result.path} (FOCUS 1.2, {len(result.columns)} columns)")


@export_app.command("sql")
def export_sql_cmd(
    dialect: Annotated[str, typer.Option("--dialect", help="spark, databricks, trino, bigquery or snowflake.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for one .sql file per query (default: print).")
    ] = None,
) -> None:
    """Write costlab's queries in another SQL dialect, with the lake's table definitions, to
    run the attribution where the billing data already is (Athena/Trino, BigQuery, Snowflake,
    Databricks).

    Example:

      costlab export sql --dialect bigquery --output costlab-bigquery/
    """
    from costlab.engines.sql_export import export_sql

    files = export_sql(dialect, output)
    if output is None:
        for name, text in files.items():
            typer.echo(f"-- ===== {name}\n{text}")
    else:
        typer.echo(f"{len(files)} files written to {output} ({dialect})")


lake_app = _subcommands(
    "lake",
    "Check a lake's files and manifest, and rebuild a lost or damaged manifest.\n\nExamples:\n\n"
    "  costlab lake check --lake /data/costlab\n\n  costlab lake repair --dry-run --lake /data/costlab",
)


@lake_app.command("check")
def lake_check_cmd(
    lake: LakeOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Check the lake: identity, manifest, every live file present with a readable footer,
    files of killed ingests, files costlab did not write, trash. Reads only.

    Exit 0 when healthy, 1 when something needs action (a lost or damaged manifest, live
    files missing or damaged).

    Example:

      costlab lake check --lake /data/costlab
    """
    from costlab.lake_check import check

    _text_or_json(fmt)
    found = check(_workspace(lake).lake)
    _lines_or_json(found.lines(), found.to_dict(), fmt)
    if not found.ok:
        raise typer.Exit(1)


@lake_app.command("repair")
def lake_repair_cmd(
    lake: LakeOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the manifest it would write; change nothing.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Rebuild the manifest from the data files' lineage (run_id, row keys, the runs table):
    for a lake whose _manifest.json was lost or damaged. Files later runs replaced stay out;
    the old manifest is kept as a backup; nothing is deleted.

    Examples:

      costlab lake repair --dry-run --lake /data/costlab

      costlab lake repair --lake /data/costlab
    """
    from costlab.lake_check import repair

    _text_or_json(fmt)
    done = repair(_workspace(lake).lake, dry_run=dry_run)
    _lines_or_json(done.lines(), done.to_dict(), fmt)


def _text_or_json(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; use text or json", param_hint="--format")


def _lines_or_json(lines: list[str], data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        import json

        typer.echo(json.dumps(data, indent=1, default=str))
    else:
        typer.echo("\n".join(lines))


@app.command()
def version() -> None:
    """Print the costlab version (the number alone; `costlab --version` says `costlab <version>`).

    Example:

      costlab version
    """
    from costlab.version import __version__

    typer.echo(__version__)


def main() -> None:
    """The console entry point: anything that escapes the commands (typer's own machinery,
    the final flush into a closed pipe) still ends as one line or a quiet exit."""
    try:
        app(prog_name="costlab")
    except Exception as ex:
        if os.environ.get("COSTLAB_DEBUG"):
            raise
        code, message = _failure(ex)
        _error(message)
        sys.exit(code)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(141)  # a closed pipe ends the run quietly, as SIGPIPE would


if __name__ == "__main__":
    main()
