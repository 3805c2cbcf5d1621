"""The report: built from a workspace (`build`), held as plain data (`model`), rendered as
terminal, HTML, Markdown, JSON and CSV."""

from costlab.report import html, markdown
from costlab.report.model import DISPLAY

DISPLAY["html"] = lambda report: html.render_html(report, standalone=False)
DISPLAY["markdown"] = markdown.render_markdown
