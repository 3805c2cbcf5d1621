"""Values as text, the ground floor of every renderer: exact decimal text, JSON with exact
Decimals, and `printable`, which shows control characters and bidirectional overrides as escapes
(``\\x1b``, ``\\u202e``) so data cannot move the cursor, recolour the terminal or reorder a line.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: C0 controls (tab and newline included), DEL, C1 controls, the Arabic letter mark, LRM/RLM,
#: line/paragraph separators and the bidirectional embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control or bidirectional-override character written as an escape
    (``\\x1b``, ``\\u202e``); the characters in ``keep`` (e.g. a newline) stay as they are."""

    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        if c in keep:
            return c
        if c in _SHORT:
            return _SHORT[c]
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"

    return _UNPRINTABLE.sub(escape, text)


def dec_text(d: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros ('1.5', '0', '-0.000123')."""
    if d == 0:
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON text with Decimals as exact numbers."""
    marks: dict[str, str] = {}

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            token = f"\x00dec{len(marks)}\x00"
            marks[token] = dec_text(o)
            return token
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        raise TypeError(f"cannot serialise {type(o).__name__}")

    def walk(v: Any) -> Any:
        if isinstance(v, Decimal):
            return default(v)
        if isinstance(v, dict):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    text = json.dumps(walk(value), indent=indent, default=default, ensure_ascii=False)
    for token, num in marks.items():
        text = text.replace(json.dumps(token), num)
    return text
