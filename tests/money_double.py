"""queries/fragments/money_of_double.sql in Python floats, for the tests that check it."""

from __future__ import annotations

import math
from decimal import Decimal


def money_of_double(x: float) -> Decimal:
    """The whole part, plus the fraction x 1e12 rounded half away from zero, in units of 1e-12:
    the same IEEE arithmetic as the fragment, so the same DECIMAL."""
    whole = math.floor(x)
    frac = (x - whole) * 1e12
    units = math.floor(frac + 0.5) if frac >= 0 else math.ceil(frac - 0.5)
    return Decimal(whole) + Decimal(units) * Decimal("1e-12")
