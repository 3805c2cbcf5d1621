"""Relative and absolute dates for ``--since`` / ``--until`` (cron-friendly: ``yesterday``, ``7d``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from costlab.errors import UsageError


def next_month(d: date) -> date:
    """The first day of the month after ``d``'s (ValueError after December 9999)."""
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def parse_date(text: str | None, today: date | None = None) -> datetime | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` (the month's first day), ``today``, ``yesterday`` or ``<N>d`` /
    ``<N>w`` (days/weeks before today), as midnight UTC. None stays None. An unreadable date, or a span reaching before year 1, is a
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
        elif m := re.fullmatch(r"([0-9]{4})-([0-9]{2})", t):  # a month: its first day
            d = date(int(m.group(1)), int(m.group(2)), 1)
        else:
            d = date.fromisoformat(t)
    except ValueError:
        raise UsageError(
            f"cannot read date {text!r}: use YYYY-MM-DD, YYYY-MM, today, yesterday or a span like 7d"
        ) from None
    except OverflowError:
        raise UsageError(
            f"cannot read date {text!r}: {t} before {today.isoformat()} is before year 1"
        ) from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


#: What a period bound may be given as: an aware or naive (= UTC) datetime, a date (its UTC
#: midnight), text `parse_date` reads, or None (no bound).
When = str | date | datetime | None


def as_instant(value: When, name: str = "") -> datetime | None:
    """A period bound as an aware UTC datetime (None stays None): the one reader of since/until.

    ``name`` (``since``, ``until``) names a value of the wrong type in the one-line error."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return parse_date(value)
    raise UsageError(f"{name or 'date'}: expected a date, got {value!r}")


@dataclass(frozen=True)
class Period:
    """``[since, until)`` in UTC; either end open (None)."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, since: When = None, until: When = None) -> Period:
        """Both bounds read by `as_instant`; ``since`` not before ``until`` is a `UsageError`."""
        lo, hi = as_instant(since, "since"), as_instant(until, "until")
        if lo is not None and hi is not None and lo >= hi:
            raise UsageError(f"--since {lo.date()} is not before --until {hi.date()}")
        return cls(lo, hi)

    @classmethod
    def month(cls, text: str, today: date | None = None) -> Period:
        """A calendar month in UTC: ``YYYY-MM``, ``last`` (the month before this one) or ``this``
        (this month to date: no end, the data's last day closes it)."""
        today = today or datetime.now(UTC).date()
        t = text.strip().lower()
        if t == "this":
            return cls(datetime(today.year, today.month, 1, tzinfo=UTC), None)
        if t == "last":
            first = date(today.year, today.month, 1) - timedelta(days=1)
            start = date(first.year, first.month, 1)
        elif m := re.fullmatch(r"([0-9]{4})-([0-9]{2})", t):
            try:
                start = date(int(m.group(1)), int(m.group(2)), 1)
            except ValueError:
                raise UsageError(f"cannot read month {text!r}: no such month") from None
        else:
            raise UsageError(f"cannot read month {text!r}: use YYYY-MM, last or this")
        if start.year == 9999 and start.month == 12:  # its end is past the last representable day
            raise UsageError(f"cannot read month {text!r}: its end is after year 9999")
        end = next_month(start)
        return cls(datetime(start.year, start.month, 1, tzinfo=UTC), datetime(end.year, end.month, end.day, tzinfo=UTC))

    def params(self) -> dict[str, datetime | None]:
        """The ``$since`` / ``$until`` parameters of a named query."""
        return {"since": self.since, "until": self.until}
