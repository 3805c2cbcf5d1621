"""The ``costlab`` command: parse arguments, make one library call, render the result.

Heavy libraries (duckdb, polars, pyarrow) are imported inside the commands, so ``costlab --help``
starts instantly and cron jobs pay only for what they run. Errors are one line on stderr with
exit code 1 (`CostlabError`); usage errors exit 2; set ``COSTLAB_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from costlab.errors import CostlabError


class _Group(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CostlabError as ex:
            if os.environ.get("COSTLAB_DEBUG"):
                raise
            _error(str(ex))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            _error("interrupted; nothing was committed by the interrupted step")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    help="costlab: where your LLM money goes, and what to change.\n\n"
    "Ingest billing exports and traces into a local Parquet lake, then query and report.\n\n"
    "Example:\n\n  costlab ingest exports/ traces/\n\n  costlab report --since 7d",
)

LakeOpt = Annotated[
    Path | None,
    typer.Option(
        "--lake",
        help="Lake directory (else $COSTLAB_LAKE, costlab.toml `lake`, or ~/.local/share/costlab/lake).",
        show_default=False,
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")]


def _error(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"Error: {line}\n")


def _warn(message: str) -> None:
    sys.stderr.write(f"Warning: {' '.join(message.split())}\n")


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
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any row was quarantined.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another ingest's lock.")] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Summary as table or json.")] = "table",
) -> None:
    """Read billing exports and trace logs into the lake.

    Files already ingested and unchanged are skipped, so a nightly run over a growing folder only
    reads what is new. A later export of the same line replaces the earlier one.

    Examples:

      costlab ingest ~/exports/openai/ ~/exports/cur/2026-10/

      costlab ingest --source focus billing.csv.gz --lake /data/costlab
    """
    from costlab.config import load_config
    from costlab.pipeline import ingest as run_ingest
    from costlab.render import ingest_summary, progress_bar

    config = load_config()
    with progress_bar(enabled=_interactive() and not quiet, label="ingesting") as progress:
        result = run_ingest(
            paths,
            lake,
            source=source,
            force=force,
            keep_text=keep_text,
            redact=redact,
            config=config.get("ingest", {}),
            wait=wait,
            progress=progress,
            on_wait=lambda holder: None if quiet else _warn(f"waiting for the lake lock ({holder})"),
        )
    if not quiet:
        ingest_summary(result, fmt)
    for f in result.failed:
        _error(f.error or f.path)
    if result.rows_quarantined and not quiet:
        _warn(
            f"{result.rows_quarantined} rows quarantined; see `costlab quarantine --lake {result.lake}`"
        )
    if result.failed or (strict and result.rows_quarantined):
        raise typer.Exit(1)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query over the lake's views.")],
    lake: LakeOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Run read-only SQL over the lake (tables: charges, usage, spans, calls, runs, quarantine).

    Examples:

      costlab sql "select billing_currency, sum(billed_cost) from charges group by 1"

      costlab sql "select workflow, count(*), sum(input_tokens) from calls group by 1" -f json
    """
    from costlab.lake import Lake
    from costlab.render import rows
    from costlab.sql import check_read_only

    check_read_only(query)
    import duckdb

    try:
        with Lake(lake).connect() as con:
            cur = con.execute(query)
            names = [d[0] for d in cur.description or []]
            data = cur.fetchall()
    except duckdb.Error as ex:
        raise CostlabError(f"query failed: {str(ex).splitlines()[0]}") from None
    rows(names, data, fmt)


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="A named query from `costlab queries`.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Query parameter as name=value.")
    ] = None,
    lake: LakeOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Run a named query from queries/ (parameters are bound, never formatted into SQL).

    Example:

      costlab query spend_by_provider_month -f csv
    """
    from costlab.lake import Lake
    from costlab.render import frame
    from costlab.sql import run_query

    params: dict[str, Any] = {}
    for p in param or []:
        if "=" not in p:
            raise typer.BadParameter(f"expected name=value, got {p!r}", param_hint="--param")
        k, v = p.split("=", 1)
        params[k] = v
    frame(run_query(Lake(lake), name, params), fmt)


@app.command()
def queries() -> None:
    """List the named queries and what each returns."""
    from costlab.render import rows
    from costlab.sql import header, list_queries

    data = [(n, header(n).split("\n", 1)[0]) for n in list_queries()]
    rows(["query", "purpose"], data, "table")


@app.command()
def runs(lake: LakeOpt = None, limit: int = 20, fmt: FormatOpt = "table") -> None:
    """List recent ingest runs (the manifest of what was read, written and quarantined)."""
    from costlab.lake import Lake
    from costlab.render import frame

    df = Lake(lake).sql(
        "SELECT run_id, source_format, started_at, len(files) AS files, rows_read, rows_written, "
        "rows_duplicate, rows_replaced, rows_quarantined, files_failed, status "
        "FROM runs ORDER BY started_at DESC, source_format LIMIT $limit",
        {"limit": limit},
    )
    frame(df, fmt)


@app.command()
def quarantine(lake: LakeOpt = None, limit: int = 50, fmt: FormatOpt = "table") -> None:
    """Show quarantined rows: the file, the line and why it could not be read."""
    from costlab.lake import Lake
    from costlab.render import frame

    df = Lake(lake).sql(
        "SELECT source_format, source_file, location, reason, left(raw, 80) AS raw FROM quarantine "
        "ORDER BY ingested_at DESC, source_file, location LIMIT $limit",
        {"limit": limit},
    )
    frame(df, fmt)


@app.command()
def sources() -> None:
    """List the formats costlab can read, with the tables they fill and their row keys."""
    from costlab.ingest import sources as all_sources
    from costlab.render import rows

    data = [(n, c.title, ", ".join(c.tables), c.row_key) for n, c in all_sources().items()]
    rows(["source", "format", "tables", "row key"], data, "table")


@app.command()
def report(
    lake: LakeOpt = None,
    since: Annotated[str | None, typer.Option(help="Start date (YYYY-MM-DD, yesterday, 7d).")] = None,
    until: Annotated[str | None, typer.Option(help="End date, exclusive.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Summarise what the lake holds: billed money per provider and currency, provider usage,
    and traced calls per workflow.

    Example:

      costlab report --since 30d
    """
    from costlab.lake import Lake
    from costlab.render import summary
    from costlab.summary import build_summary

    summary(build_summary(Lake(lake), since=since, until=until), fmt)


@app.command()
def prices(
    model: Annotated[str, typer.Argument(help="Model id as your calls name it, e.g. gpt-4o-mini.")],
    at: Annotated[str | None, typer.Option("--at", help="Only prices valid on this date (YYYY-MM-DD).")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider, when a name is ambiguous.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Show what costlab would charge for a model: per-MTok prices by tier, dates and source.

    Prices come from the installed genai-prices data (no network) plus the overrides file named
    by `[prices] overrides` in costlab.toml.

    Examples:

      costlab prices claude-sonnet-4-5

      costlab prices o3 --at 2025-06-01
    """
    from costlab.periods import parse_date
    from costlab.pricing import describe
    from costlab.render import rows

    data = describe(model, at=parse_date(at), provider=provider)
    if not data:
        raise CostlabError(f"no prices for {model!r} valid at {at}")
    names = list(data[0])
    rows(names, [tuple(d[n] for n in names) for d in data], fmt)


@app.command()
def version() -> None:
    """Print the costlab version."""
    from costlab import __version__

    typer.echo(__version__)


def main() -> None:
    app(prog_name="costlab")


if __name__ == "__main__":
    main()
