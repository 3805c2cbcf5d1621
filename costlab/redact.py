"""``--redact``: replace user identities with stable hashes at ingest.

The same input always gives the same token (``redacted:<12 hex>``), so per-user grouping still
works while the lake holds no user ids or e-mail addresses. Covered: the identity columns
(``user_id``, ``principal``), values under identity-like keys (``user.id``, ``userId``,
``end_user``, ``user_email``, ...) in map columns (``tags``) and in JSON text (``attributes``,
quarantined raw lines), e-mail addresses anywhere in text, and in the names of source files and
folders (`redact_path`: ``source_file``, ``runs.files``, the manifest). A user id that sits in free text
under no such key (a prompt that names someone) is not recognised: keep ``--keep-text`` off.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
IDENTITY_COLUMNS = ("user_id", "principal")
#: keys whose values are user identities, matched on the lower-cased key
IDENTITY_KEY = re.compile(
    r"(?:^|[._\-])(?:end_?user|user|principal)(?:[._\-]?(?:id|email|name|login))?$|e_?mail", re.I
)
_HINT = re.compile(r"user|mail|principal", re.I)
# "key": "value" pairs in text that is not valid JSON (a broken line going to quarantine)
_PAIR = re.compile(r'"([^"\\]{1,80})"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def token(value: str) -> str:
    return "redacted:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def scrub(text: str) -> str:
    """Text with every e-mail address replaced by its token."""
    return EMAIL.sub(lambda m: token(m.group(0).lower()), text)


def redact_path(path: str) -> str:
    """A file or folder path with every e-mail address replaced by the token of its exact text:
    unlike `scrub`, case is kept, so two paths that differ only there stay two names."""
    return EMAIL.sub(lambda m: token(m.group(0)), path)


def _identity(key: Any) -> bool:
    return isinstance(key, str) and IDENTITY_KEY.search(key) is not None


def _value(key: Any, value: Any) -> Any:
    """A nested value with identities under identity keys tokenised and e-mails scrubbed."""
    if isinstance(value, dict):
        return {k: _value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(key, v) for v in value]
    if _identity(key) and isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        return text if not text or text.startswith("redacted:") else token(text)
    if isinstance(value, str) and "@" in value:
        return scrub(value)
    return value


def redact_text(text: str) -> str:
    """JSON-ish text (an ``attributes`` document, a raw quarantined line) with identities under
    identity keys tokenised and e-mail addresses scrubbed; broken JSON is handled pair by pair."""
    if not _HINT.search(text) and "@" not in text:
        return text
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, (dict, list)):
        return json.dumps(_value(None, doc), ensure_ascii=False, separators=(",", ":"))

    def pair(m: re.Match[str]) -> str:
        key, sep, value = m.group(1), m.group(2), m.group(3)
        if _identity(key) and value and not value.startswith("redacted:"):
            value = token(value)
        return f'"{key}"{sep}"{value}"'

    return scrub(_PAIR.sub(pair, text))


def redact_row(row: dict[str, Any]) -> None:
    for col in IDENTITY_COLUMNS:
        value = row.get(col)
        if isinstance(value, str) and value and not value.startswith("redacted:"):
            row[col] = token(value)
    for col, value in list(row.items()):
        if col.startswith("_") or col in IDENTITY_COLUMNS:
            continue
        if isinstance(value, str):
            if value[:1] in "{[" and (_HINT.search(value) or "@" in value):
                row[col] = redact_text(value)
            elif "@" in value:
                row[col] = scrub(value)
        elif isinstance(value, (dict, list)):
            row[col] = _value(None, value)
