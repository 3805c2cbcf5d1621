"""``--redact``: replace user identities with stable hashes at ingest.

The same input always gives the same token (``redacted:<12 hex>``), so per-user grouping still
works while the lake holds no user ids or e-mail addresses.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
IDENTITY_COLUMNS = ("user_id", "principal")


def token(value: str) -> str:
    return "redacted:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def scrub(text: str) -> str:
    """Text with every e-mail address replaced by its token."""
    return EMAIL.sub(lambda m: token(m.group(0).lower()), text)


def redact_row(row: dict[str, Any]) -> None:
    for col in IDENTITY_COLUMNS:
        value = row.get(col)
        if isinstance(value, str) and value and not value.startswith("redacted:"):
            row[col] = token(value)
    for col, value in list(row.items()):
        if col.startswith("_") or col in IDENTITY_COLUMNS:
            continue
        if isinstance(value, str) and "@" in value:
            row[col] = scrub(value)
        elif isinstance(value, dict):
            row[col] = {k: scrub(v) if isinstance(v, str) and "@" in v else v for k, v in value.items()}
