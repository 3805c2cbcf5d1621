"""``costlab report --notify URL``: POST a short JSON summary of a report to a webhook.

The body carries the period, the headline per currency, every alert and the top findings, plus a
``text`` field written for people, so a Slack (or Mattermost, Teams workflow, Discord ``/slack``)
incoming-webhook URL works as is. The post is sent when an alert fires (``--notify-on alert``,
the default) or after every report (``always``). It is the last thing a report does: a failed
post is one line on stderr and changes neither the report file nor the exit code.

The only network access costlab makes, and only to the URL the user gives (http or https).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from costlab.errors import UsageError
from costlab.money.alerts import fmt_money
from costlab.report.markdown import change_lines, period_label
from costlab.report.tables import to_json

if TYPE_CHECKING:
    from costlab.report.model import Report

WHEN = ("alert", "always")
TOP_FINDINGS = 3
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3


def check_url(url: str) -> str:
    """``url`` when it is an http(s) URL with a host; else a one-line `UsageError`."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
        raise UsageError(f"--notify {url!r}: give an http:// or https:// URL (a webhook)")
    return url


def check_when(when: str) -> str:
    """``when`` when it is one of `WHEN`; else a one-line `UsageError`."""
    if when not in WHEN:
        raise UsageError(f"--notify-on {when!r}: use one of {', '.join(WHEN)}")
    return when


def should_send(report: Report, when: str) -> bool:
    """Whether to post: an alert fired, or ``when`` is ``always`` (checked by `check_when`)."""
    return when == "always" or bool(report.alerts)


def summary(report: Report) -> dict[str, Any]:
    """The body posted: period, headline, alerts, top findings and a Slack-style ``text``."""
    period = f"{period_label(report.since) or 'start'} to {period_label(report.until) or 'end'}"
    findings = report.findings[:TOP_FINDINGS]  # ranked: validated by dollars, then potential
    lines = [f"costlab report, {period}"]
    for h in report.headline:
        billed = fmt_money(h.billed, h.currency) if h.billed is not None else "no bill"
        traced = fmt_money(h.traced_cost, h.currency) if h.traced_cost is not None else "none"
        lines.append(f"billed {billed}, traced {traced} ({h.traced_calls} calls)")
    lines += [a.message for a in report.alerts]
    for c in change_lines(findings, TOP_FINDINGS):
        lines.append(f"change: {c['where']}: {c['action']} ({c['saving']} USD, {c['tier']})")
    if report.findings_note:  # not run, or out of memory: not an all-clear
        lines.append(report.findings_note)
    if report.findings_scope:
        lines.append(report.findings_scope)
    return {
        "text": "\n".join(lines),
        "period": {"since": report.since, "until": report.until},
        "headline": [vars(h) for h in report.headline],
        "alerts": [{"kind": a.kind, "scope": a.scope, "name": a.name, "message": a.message} for a in report.alerts],
        "findings": [
            {"title": f.get("title"), "workflow": f.get("workflow"), "step": f.get("step"),
             "monthly_savings_usd": f.get("monthly_savings_usd"),
             "potential_savings_usd": f.get("potential_savings_usd"), "validated": f.get("validated"),
             "confidence": f.get("confidence")}
            for f in findings
        ],  # fmt: skip
        "findings_note": report.findings_note,
        "findings_scope": report.findings_scope,
    }


def post(url: str, body: dict[str, Any], timeout: float = TIMEOUT_SECONDS, attempts: int = ATTEMPTS) -> str | None:
    """POST ``body`` as JSON; None when the server took it (2xx), else the one-line reason after
    ``attempts`` tries (a 4xx is not retried: the same request would be refused again)."""
    data = to_json(body, indent=None).encode()
    problem = "not sent"
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - user's URL, checked
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as ex:
            problem = f"HTTP {ex.code} {ex.reason}"
            if 400 <= ex.code < 500:
                break
        except (urllib.error.URLError, OSError, ValueError) as ex:
            problem = str(getattr(ex, "reason", ex))
        if attempt + 1 < attempts:
            time.sleep(0.5 * 2**attempt)
    return f"--notify {url}: not delivered ({problem}); the report itself is unchanged"
