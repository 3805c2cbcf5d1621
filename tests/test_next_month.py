"""`costlab.periods.next_month`, the one month step that bills, budgets, commitments and the
report's bill window share."""

from __future__ import annotations

from datetime import date

import pytest

from costlab.periods import next_month


@pytest.mark.parametrize(
    "day,want",
    [(date(2026, 1, 31), date(2026, 2, 1)), (date(2026, 11, 1), date(2026, 12, 1)),
     (date(2026, 12, 15), date(2027, 1, 1)), (date(2024, 2, 29), date(2024, 3, 1))],
)  # fmt: skip
def test_the_first_day_of_the_next_month(day: date, want: date) -> None:
    assert next_month(day) == want


def test_after_december_9999_there_is_no_month() -> None:
    assert next_month(date(9999, 11, 30)) == date(9999, 12, 1)
    with pytest.raises(ValueError):
        next_month(date(9999, 12, 1))
