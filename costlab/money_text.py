"""How an amount of money is written for people, in every command and message: half-up to the
cent (as people round), thousands separators, and a non-zero amount under a cent kept at two
significant digits (``0.0023``), so it is never shown as 0.00. Machine formats (JSON, CSV) keep
every digit instead; this is display only."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def money_text(d: Decimal, places: int = 2) -> str:
    """'1,234.50'; '0.0023' for a non-zero amount under a cent; ``places`` decimals otherwise."""
    if not d.is_finite():
        return str(d)
    if d != 0 and abs(d) < Decimal("0.01"):
        tiny = Decimal(1).scaleb(d.adjusted() - 1)  # two significant digits
        return format(d.quantize(tiny, rounding=ROUND_HALF_UP), "f")
    return f"{d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"
