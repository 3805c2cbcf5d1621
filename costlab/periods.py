"""Relative and absolute dates for ``--since`` / ``--until`` (cron-friendly: ``yesterday``, ``7d``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from costlab.errors import UsageError


def parse_date(text: str | None, today: date | None = None) -> datetime | None:
    """``YYYY-MM-DD``, ``today``, ``yesterday`` or ``<N>d`` / ``<N>w`` (days/weeks before today),
    as midnight UTC. None stays None. An unreadable date, or a span reaching before year 1, is a
    `UsageError` (the CLI exits 2 with one line)."""
    if text is None or text == "":
        return None
    today = today or datetime.now(UTC).date()
    t = text.strip().lower()
    try:
        if t == "today":
            d = today
        elif t == "yesterday":
            d = today - timedelta(days=1)
        elif m := re.fullmatch(r"([0-9]+)\s*([dw])", t):
            n = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
            d = today - timedelta(days=n)
        else:
            d = date.fromisoformat(t)
    except ValueError:
        raise UsageError(
            f"cannot read date {text!r}: use YYYY-MM-DD, today, yesterday or a span like 7d"
        ) from None
    except OverflowError:
        raise UsageError(
            f"cannot read date {text!r}: {t} before {today.isoformat()} is before year 1"
        ) from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
