"""Parsing helpers shared by every source: exact money, timestamps, nulls, tags, keys, file readers.

Each helper raises `ValueError` with a short reason on bad input; parsers turn that into a `Bad`
(quarantine) row for the line, never a crash and never a silent zero.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

from costlab.schema import MONEY_SCALE

_GROUPED = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d*)?")
NULLS = frozenset({"", "null", "none", "nan", "n/a", "na", "-", "<null>"})
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)
_MAX_MONEY = Decimal(10) ** (38 - MONEY_SCALE)


def nullish(value: Any) -> str | None:
    """Strip a text value; the literal strings NULL, null, nan, '' and friends become None."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in NULLS else text


def dec(value: Any) -> Decimal | None:
    """Exact decimal from a string or number (None for null-ish). Floats go through repr."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError(f"not a number: {value!r}")
        return None
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        text = nullish(value)
        if text is None:
            return None
        try:
            d = Decimal(text)
        except InvalidOperation:
            if not _GROUPED.fullmatch(text):  # "1,234.5": thousands separators
                raise ValueError(f"not a number: {text[:40]!r}") from None
            d = Decimal(text.replace(",", ""))
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def money(value: Any) -> Decimal | None:
    """A DECIMAL(38,12) amount. Digits beyond 12 places are rounded half-even (sub-picocent)."""
    d = dec(value)
    if d is None:
        return None
    if abs(d) >= _MAX_MONEY:  # the number, not how it was typed (text, float or Decimal)
        raise ValueError(f"amount out of range: {d}")
    if d.as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        return d.quantize(_QUANT)
    return d


def integer(value: Any) -> int | None:
    """A token count or other BIGINT (None for null-ish); '12.0' is accepted, '12.5' is not."""
    d = dec(value)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    n = int(d)
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"integer out of range: {value!r}")
    return n


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?$", re.I)


def ts(value: Any) -> datetime | None:
    """A UTC datetime from ISO 8601 (with or without T, Z, offset or seconds), US ``M/D/YYYY``
    dates, or epoch numbers (seconds, milliseconds, microseconds or nanoseconds by magnitude)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return epoch(value)
    text = nullish(value)
    if text is None:
        return None
    if _NUMBER.fullmatch(text):
        return epoch(Decimal(text))
    if len(text) >= 10 and text[4] == "-":  # fast path for ISO 8601 (the common case)
        try:
            dt = datetime.fromisoformat(text)
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        except ValueError:
            pass
    m = _US_DATE.match(text)
    if m:
        mo, dy, yr, hh, mi, ss, ampm = m.groups()
        hour = int(hh or 0)
        if ampm:
            hour = hour % 12 + (12 if ampm.upper() == "PM" else 0)
        try:
            return datetime(int(yr), int(mo), int(dy), hour, int(mi or 0), int(ss or 0), tzinfo=UTC)
        except ValueError:
            raise ValueError(f"not a date: {text!r}") from None
    iso = text.replace(" UTC", "Z")
    if re.match(r"\d{4}-\d{2}-\d{2} ", iso):
        iso = iso.replace(" ", "T", 1)
    if iso.endswith(("z", "Z")):
        iso = iso[:-1] + "+00:00"
    # fromisoformat accepts at most 6 fractional digits: trim nanoseconds
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"not a timestamp: {text[:40]!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def epoch(value: Any) -> datetime:
    """Epoch seconds, ms, us or ns (picked by magnitude) as a UTC datetime."""
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    a = abs(d)
    if a >= 10**17:
        d = d / 10**9
    elif a >= 10**14:
        d = d / 10**6
    elif a >= 10**11:
        d = d / 10**3
    try:
        whole = int(d)
        micros = int(((d - whole) * 10**6).to_integral_value())
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=whole, microseconds=micros)
    except (OverflowError, ValueError):
        raise ValueError(f"epoch out of range: {value!r}") from None


def day_of(dt: datetime | None) -> date | None:
    return dt.astimezone(UTC).date() if dt is not None else None


def enum(value: Any, allowed: tuple[str, ...]) -> str | None:
    """Canonical spelling of an enumeration value, matched case- and separator-insensitively
    ('usage-based' -> 'Usage-Based'). Unknown values are kept as found."""
    text = nullish(value)
    if text is None:
        return None
    folded = re.sub(r"[\s_-]", "", text).lower()
    for option in allowed:
        if re.sub(r"[\s_-]", "", option).lower() == folded:
            return option
    return text


def tags(value: Any) -> dict[str, str] | None:
    """Tags from a JSON object, Azure's brace-less ``"k": "v","k2": "v2"``, or a list of
    ``{key, value}`` structs (GCP labels). Non-string values are kept as JSON text."""
    if value is None:
        return None
    if isinstance(value, dict):
        obj: Any = value
    elif isinstance(value, list):
        obj = {}
        for item in value:
            if isinstance(item, dict) and "key" in item:
                obj[str(item["key"])] = item.get("value")
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                obj[str(item[0])] = item[1]
            else:
                raise ValueError(f"unrecognised tag entry: {str(item)[:60]!r}")
    else:
        text = nullish(value)
        if text is None or text in ("{}", "[]"):
            return None
        if not text.startswith(("{", "[")):
            text = "{" + text + "}"
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError(f"tags are not a JSON object: {text[:60]!r}") from None
        if isinstance(obj, list):
            return tags(obj)
        if not isinstance(obj, dict):
            raise ValueError(f"tags are not a JSON object: {text[:60]!r}")
    out = {}
    for k, v in obj.items():
        out[str(k)] = v if isinstance(v, str) else json.dumps(v)
    return out or None


def key(*parts: Any) -> str:
    """A natural key from its parts (order matters; None and '' differ)."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        if p is None:
            h.update(b"\x00N")
        elif isinstance(p, dict):
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        else:
            h.update(str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def open_text(path: Path) -> IO[str]:
    """Open a text file, gunzipping ``.gz``, dropping a UTF-8 BOM; falls back to cp1252 when the
    head is not UTF-8 (Excel-saved exports)."""
    gz = path.name.lower().endswith(".gz")
    raw: Any = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
    head = raw.peek(65536)[:65536] if hasattr(raw, "peek") else b""
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as ex:
        if ex.start < len(head) - 4:  # not just a multibyte char cut at the end of the peek
            encoding = "cp1252"
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def open_utf8_bytes(path: Path) -> IO[bytes] | None:
    """The file as bytes (gunzipped) when `open_text` would read it as UTF-8, else None: for
    parsers that decode bytes directly. The caller strips a BOM."""
    gz = path.name.lower().endswith(".gz")
    raw: Any = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
    head = raw.peek(65536)[:65536] if hasattr(raw, "peek") else b""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as ex:
        if ex.start < len(head) - 4:
            raw.close()
            return None
    return raw  # type: ignore[no-any-return]


def csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]] | tuple[int, str]]:
    """Rows of a CSV file as ``(line, {header: value})``; a malformed row yields ``(line, reason)``.

    Header names are stripped; a row with more or fewer fields than the header is malformed.
    """
    with open_text(path) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        except csv.Error as ex:
            yield 1, f"unreadable header: {ex}"
            return
        width = len(header)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as ex:
                yield reader.line_num, f"malformed CSV: {ex}"
                continue
            if not values or values == [""]:
                continue
            if len(values) != width:
                yield reader.line_num, f"expected {width} fields, found {len(values)}"
                continue
            yield reader.line_num, dict(zip(header, values, strict=True))


def json_lines(
    path: Path, exact: bool = False
) -> Iterator[tuple[int, Any] | tuple[int, Exception]]:
    """Objects of a JSONL file as ``(line, value)``; an unparsable line yields ``(line, error)``.
    ``exact`` reads non-integer numbers as Decimal (money must not pass through float)."""
    loads = json.JSONDecoder(parse_float=Decimal).decode if exact else json.loads
    with open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, loads(line)
            except ValueError as ex:
                yield n, ex
            except RecursionError:  # nested deeper than Python reads: a bad line, not a crash
                yield n, ValueError("JSON nested too deeply")


def load_json(path: Path, exact: bool = False) -> Any:
    """One JSON document (raises ValueError with the position when it is not valid JSON).
    ``exact`` reads non-integer numbers as Decimal."""
    with open_text(path) as fh:
        try:
            return json.load(fh, parse_float=Decimal) if exact else json.load(fh)
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply") from None


def raw_text(obj: Any, limit: int = 2000) -> str:
    """A row as text for quarantine, truncated."""
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str, ensure_ascii=False)
    return text[:limit]


def lower_keys(row: dict[str, Any]) -> dict[str, Any]:
    """Header lookup that ignores case: {'billedcost': ...} for {'BilledCost': ...}."""
    return {k.lower(): v for k, v in row.items()}


K = TypeVar("K", bound=Hashable)


class UsageTree(NamedTuple):
    """Which spans of a trace tree are calls; see `usage_tree`."""

    rollups: set[Any]  # spans with a call below them: their own usage (if any) aggregates
    estimated: set[Any]  # spans without usage that are calls: count their prompt
    wrapped: set[Any]  # spans without usage under a call span that reports it: not calls


def usage_tree(
    parents: Mapping[K, K | None], calls: Collection[K], estimable: Iterable[K] = ()
) -> UsageTree:
    """The rollup rule every trace source shares (research/trace_formats.md §11.1).

    ``calls`` are the llm/embedding spans carrying their own usage (reported or derived);
    ``estimable`` the llm/embedding spans without usage whose prompt could be counted. A leaf call
    with usage is always a call; a span is a rollup whenever any descendant is a call, whatever its
    numbers equal (one child's, the sum, neither): no usage values are compared. A span without
    usage is a call (estimated) only when no descendant is a call and no ancestor call reports its
    usage (the wrapper is then the call); deepest first, so a chain of such spans counts once. A
    parent missing from ``parents`` ends the walk: an orphan with usage is a call."""
    rollups: set[Any] = set()

    def chain(node: K) -> Iterator[K]:
        seen = {node}
        up = parents.get(node)
        while up is not None and up not in seen:
            yield up
            seen.add(up)
            up = parents.get(up)

    def mark(node: K) -> None:
        for up in chain(node):
            if up in rollups:
                break  # its ancestors are marked already
            rollups.add(up)

    for node in calls:
        mark(node)
    reporting = set(calls)
    estimated: set[Any] = set()
    wrapped: set[Any] = set()
    for node in sorted(estimable, key=lambda n: -sum(1 for _ in chain(n))):
        if node in rollups:
            continue
        if any(up in reporting for up in chain(node)):
            wrapped.add(node)
            continue
        estimated.add(node)
        mark(node)
    return UsageTree(rollups, estimated, wrapped)


def usage_scope(node: Any, has_usage: bool, tree: UsageTree) -> str:
    """``rollup`` / ``self`` / ``none`` for a span under the `usage_tree` rule."""
    if node in tree.estimated:
        return "self"
    if not has_usage:
        return "none"
    return "rollup" if node in tree.rollups else "self"


def absent_usage_source(node: Any, is_call: bool, tree: UsageTree) -> str | None:
    """``usage_source`` of a span without usage: ``missing`` for an llm/embedding span that is a
    call nobody reports; NULL when its call is below it (rollups) or encloses it (wrapped)."""
    if not is_call or node in tree.rollups or node in tree.wrapped:
        return None
    return "missing"
