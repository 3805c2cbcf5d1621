"""Where a rendered report goes: stdout, or a file written atomically.

``--output reports/{date}.html`` fills ``{date}`` (today, UTC, or ``$SOURCE_DATE_EPOCH``),
``{since}`` and ``{until}`` (the period, ``start``/``end`` when open). The file is written to a
temporary name beside the target and renamed, so a cron job rerun or killed half-way never
leaves a half-written report, and rerunning the same day replaces the file (idempotent).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

from costlab.errors import CostlabError
from costlab.report.markdown import period_label
from costlab.report.model import Report


def output_path(template: str, report: Report) -> Path:
    """The output path with ``{date}``, ``{since}`` and ``{until}`` filled in."""
    values = {
        "date": report.generated_at.date().isoformat(),
        "since": period_label(report.since) or "start",
        "until": period_label(report.until) or "end",
    }
    try:
        return Path(template.format(**values)).expanduser()
    except (KeyError, IndexError, ValueError) as ex:
        raise CostlabError(
            f"--output {template!r}: unknown placeholder {ex}; use {{date}}, {{since}} or {{until}}"
        ) from None


def render(report: Report, fmt: str, top: int | None = 15, console_width: int | None = None,
           to_file: bool = False, csv_raw: bool = False, full: bool = False) -> str:
    """The report as text in one format (``top``: rows per table for table, markdown and html;
    ``csv_raw``: CSV text cells as they are, not neutralised, `costlab.report.csvout`; ``full``: the
    terminal table shows the details part too)."""
    if fmt == "json":
        from costlab.report.tables import to_json

        return to_json(report.to_dict()) + "\n"
    if fmt == "markdown":
        from costlab.report.markdown import render_markdown

        return render_markdown(report, top=top)
    if fmt == "html":
        from costlab.report.html import render_html

        return render_html(report, standalone=True, top=None if top is None else max(top, 200))
    if fmt == "csv":
        from costlab.report.csvout import render_csv_text

        return render_csv_text(report, csv_raw)
    if fmt == "table":
        from costlab.report.tables import console as make_console
        from costlab.report.terminal import render_terminal

        buf = io.StringIO()
        if not to_file and sys.stdout.isatty():
            console = make_console(buf, console_width, force_terminal=True)
        else:
            console = make_console(buf, console_width or 200)
        render_terminal(report, console, top=top, full=full)
        return buf.getvalue()
    raise CostlabError(f"unknown report format {fmt!r}")


def write_report(
    report: Report, fmt: str, output: str | None, top: int | None = 15, console_width: int | None = None,
    csv_raw: bool = False, full: bool = False,
) -> Path | None:
    """Render and write to ``output`` (atomically) or stdout; the path written, if any.

    CSV to a directory (an existing one, or a path ending in ``/``) writes one CSV per table."""
    if output is None:
        sys.stdout.write(render(report, fmt, top, console_width, csv_raw=csv_raw, full=full))
        sys.stdout.flush()
        return None
    path = output_path(output, report)
    if fmt == "csv" and (path.is_dir() or output.endswith(("/", os.sep))):
        from costlab.report.csvout import render_csv

        try:
            path.mkdir(parents=True, exist_ok=True)
            render_csv(report, path, csv_raw)
        except OSError as ex:
            raise CostlabError(f"{path}: cannot write the report ({ex.strerror})") from None
        return path
    return write_text(path, render(report, fmt, top, console_width, to_file=True, csv_raw=csv_raw, full=full))


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a temp file renamed over it): a reader never sees
    half a file, and a failure leaves the old one. A one-line error when it cannot."""
    data = text.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # a report is for reading: mkstemp's 0600 is too tight
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as ex:
        raise CostlabError(f"{path}: cannot write ({ex.strerror})") from None
    return path
