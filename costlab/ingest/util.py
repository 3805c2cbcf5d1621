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
import os
import re
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from pathlib import Path
from typing import IO, Any, AnyStr, NamedTuple, TypeVar

from costlab.errors import SourceError
from costlab.limits import Limits
from costlab.schema import MONEY_SCALE

# Numbers in text are ASCII: an optional sign, digits with at most one decimal point, an optional
# exponent (CSV exports write 1.2E-05), or thousands separators ("1,234.5"). Decimal() alone would
# also take "1_000", Arabic-Indic and full-width digits; \d would match those digits too.
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
NULLS = frozenset({"", "null", "none", "nan", "n/a", "na", "-", "<null>"})
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)
_MAX_MONEY = Decimal(10) ** (38 - MONEY_SCALE)
_EXACT = Context(prec=80)  # rounding to 12 places must not hit the default 28 digits


def known(value: Any, names: frozenset[str]) -> bool:
    """``value in names`` for a value read from a file: a list or object there (unhashable)
    is not a known name, where ``in`` on a set would raise TypeError and fail the whole file."""
    return isinstance(value, str) and value in names


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
        if _PLAIN.fullmatch(text):
            d = Decimal(text)
        elif _GROUPED.fullmatch(text):  # "1,234.5": thousands separators
            d = Decimal(text.replace(",", ""))
        else:
            raise ValueError(_not_a_number(text))
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if d.adjusted() > 99:  # nothing costlab stores is this big; abs(1e9999999) would raise Overflow
        raise ValueError(f"number out of range: {str(value)[:40]!r}")
    return d


def _not_a_number(text: str) -> str:
    if any(c.isdigit() and not c.isascii() for c in text):
        hint = " (only ASCII digits 0-9 are read)"
    elif "_" in text:
        hint = " (digits are grouped with ',' only)"
    else:
        hint = ""
    return f"not a number: {text[:40]!r}{hint}"


def money(value: Any) -> Decimal | None:
    """A DECIMAL(38,12) amount. Digits beyond 12 places are rounded half-even (sub-picocent)."""
    d = dec(value)
    if d is None:
        return None
    if abs(d) >= _MAX_MONEY:  # the number, not how it was typed (text, float or Decimal)
        raise ValueError(f"amount out of range: {d}")
    if d.as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        return d.quantize(_QUANT, context=_EXACT)
    return d


def integer(value: Any) -> int | None:
    """A token count or other BIGINT (None for null-ish); '12.0' is accepted, '12.5' is not."""
    d = dec(value)
    if d is None:
        return None
    if d.adjusted() > 18:  # checked before int(): int(Decimal("1e9999999")) runs for minutes
        raise ValueError(f"integer out of range: {str(value)[:40]!r}")
    if d != d.to_integral_value(context=_EXACT):
        raise ValueError(f"not an integer: {value!r}")
    n = int(d)
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"integer out of range: {value!r}")
    return n


def count(value: Any, what: str) -> int | None:
    """A token or request count: a whole number, never negative (None when absent)."""
    n = value if type(value) is int else integer(value)
    if n is not None and n < 0:
        raise ValueError(f"negative {what}: {n}")
    return n


def text(value: Any) -> str | None:
    """A scalar text field (None when empty); an object or list where text belongs is bad."""
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected a string, found {type(value).__name__}")
    return nullish(value)


_NUMBER = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
_US_DATE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?$", re.I | re.ASCII
)


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
    if re.match(r"\d{4}-\d{2}-\d{2} ", iso, re.ASCII):
        iso = iso.replace(" ", "T", 1)
    if iso.endswith(("z", "Z")):
        iso = iso[:-1] + "+00:00"
    # fromisoformat accepts at most 6 fractional digits: trim nanoseconds
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso, flags=re.ASCII)
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"not a timestamp: {text[:40]!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def epoch(value: Any) -> datetime:
    """Epoch seconds, ms, us or ns (picked by magnitude) as a UTC datetime."""
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if not d.is_finite() or d.adjusted() > 30:  # far past year 9999 in any unit; int() would crawl
        raise ValueError(f"epoch out of range: {str(value)[:40]!r}")
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


_MAX_LINE: ContextVar[int] = ContextVar("costlab_max_line_bytes", default=Limits.max_line_bytes)
_DISCARD = 1 << 20  # an over-long line's rest is read and dropped in pieces this big


@contextmanager
def line_limit(limit: int) -> Iterator[None]:
    """Lines read inside this block are at most ``limit`` long (``[ingest] max_line_bytes``)."""
    token = _MAX_LINE.set(limit)
    try:
        yield
    finally:
        _MAX_LINE.reset(token)


class LongLine(str):
    """Stands for a line longer than the line limit, dropped without being held in memory. Its
    text is the quarantine reason; it is never blank, so a reader that skips blank lines still
    reports it (`json_lines` and `csv_rows` give the reason, other readers fail to parse it)."""


def _drop_rest(fh: IO[AnyStr], line: AnyStr, limit: int) -> AnyStr | LongLine:
    """``line``, read with ``readline(limit)`` and ``limit`` long: itself when it ends there,
    else a `LongLine`, after the rest of the line is read and dropped in 1 MiB pieces (a 300 MB
    line costs 1 MiB of memory, not 1 GB)."""
    ends: Any = ("\n", "\r") if isinstance(line, str) else b"\n"
    if line.endswith(ends):
        return line
    size = len(line)
    while piece := fh.readline(_DISCARD):
        size += len(piece)
        if piece.endswith(ends):
            break
    unit = "bytes" if isinstance(line, bytes) else "characters"
    return LongLine(
        f"line too long: {size:,} {unit}, past {limit:,} (ingest.max_line_bytes in costlab.toml); not read"
    )


def lines_of(fh: IO[AnyStr]) -> Iterator[AnyStr | LongLine]:
    """The lines of a text or binary file, each at most the line limit long; a longer one comes
    as a `LongLine` (see `_drop_rest`)."""
    limit = _MAX_LINE.get()
    readline = fh.readline
    while line := readline(limit):
        yield line if len(line) < limit else _drop_rest(fh, line, limit)


class _BoundedText(io.TextIOWrapper):
    """A text file whose iteration (so also ``csv.reader``) yields lines as `lines_of` does,
    with the limit in force when it was opened."""

    _limit = Limits.max_line_bytes

    def __next__(self) -> str:  # type: ignore[override]
        line = self.readline(self._limit)
        if len(line) < self._limit:
            if not line:
                raise StopIteration
            return line
        return _drop_rest(self, line, self._limit)


def open_text(path: Path) -> IO[str]:
    """Open a text file, gunzipping ``.gz``, dropping a UTF-8 BOM; falls back to cp1252 when the
    head is not UTF-8 (Excel-saved exports). Iterating it yields lines of bounded length."""
    gz = path.name.lower().endswith(".gz")
    raw: Any = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
    head = raw.peek(65536)[:65536] if hasattr(raw, "peek") else b""
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as ex:
        if ex.start < len(head) - 4:  # not just a multibyte char cut at the end of the peek
            encoding = "cp1252"
    text = _BoundedText(raw, encoding=encoding, errors="replace", newline="")
    text._limit = _MAX_LINE.get()
    return text


def open_utf8_bytes(path: Path) -> IO[bytes] | None:
    """The file as bytes (gunzipped) when `open_text` would read it as UTF-8, else None: for
    parsers that decode bytes directly (read lines with `lines_of`). The caller strips a BOM."""
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


def _flag_long(lines: Iterable[str], long: list[tuple[int, str]]) -> Iterator[str]:
    """Lines for ``csv.reader``: an over-long one becomes an empty line (a row the reader skips),
    and its number and reason go to ``long``."""
    for n, line in enumerate(lines, 1):
        if isinstance(line, LongLine):
            long.append((n, str(line)))
            line = "\n"
        yield line


def csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]] | tuple[int, str]]:
    """Rows of a CSV file as ``(line, {header: value})``; a malformed row yields ``(line, reason)``.

    Header names are stripped; a row with more or fewer fields than the header is malformed. A
    line over the line limit is a malformed row (a field may be as long as a line).
    """
    csv.field_size_limit(_MAX_LINE.get())
    long: list[tuple[int, str]] = []
    with open_text(path) as fh:
        reader = csv.reader(_flag_long(fh, long))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        except csv.Error as ex:
            yield 1, f"unreadable header: {ex}"
            return
        if long:
            yield 1, f"unreadable header: {long[0][1]}"
            return
        width = len(header)
        while True:
            values: list[str] | str | None
            try:
                values = next(reader)
            except StopIteration:
                values = None
            except csv.Error as ex:
                values = f"malformed CSV: {ex}"
            while long and (values is None or long[0][0] <= reader.line_num):
                yield long.pop(0)
            if values is None:
                return
            if isinstance(values, str):
                yield reader.line_num, values
            elif values and values != [""]:
                if len(values) != width:
                    yield reader.line_num, f"expected {width} fields, found {len(values)}"
                else:
                    yield reader.line_num, dict(zip(header, values, strict=True))


def json_lines(
    path: Path, exact: bool = False
) -> Iterator[tuple[int, Any] | tuple[int, Exception]]:
    """Objects of a JSONL file as ``(line, value)``; an unparsable or over-long line yields
    ``(line, error)``. ``exact`` reads non-integer numbers as Decimal (money must not pass
    through float)."""
    loads = json.JSONDecoder(parse_float=Decimal).decode if exact else json.loads
    with open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if isinstance(line, LongLine):
                yield n, ValueError(str(line))
                continue
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


def json_document(path: Path) -> Any:
    """A whole JSON file (numbers as Decimal); one that is not valid JSON, or nested deeper than
    Python reads, fails as a whole."""
    try:
        with open_text(path) as fh:
            return json.load(fh, parse_float=Decimal)
    except (ValueError, RecursionError) as ex:
        raise SourceError(str(path), f"not valid JSON: {ex}") from None


def request_trace_settings(
    path: Path, config: Mapping[str, Any], prefix: str
) -> tuple[str, str, str | None, str | None]:
    """File stem, workflow, provider and model of a request trace that names none of them: the
    ``<prefix>_workflow``, ``<prefix>_provider`` and ``<prefix>_model`` settings, the workflow
    defaulting to the file's stem (``.gz`` removed)."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    stem = Path(name).stem
    workflow = nullish(config.get(f"{prefix}_workflow")) or stem
    return stem, workflow, nullish(config.get(f"{prefix}_provider")), nullish(config.get(f"{prefix}_model"))


def parquet_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, record)`` of a Parquet file, streamed by record batches; a file pyarrow
    cannot read fails as a whole."""
    import pyarrow.parquet as pq

    n = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
            for rec in batch.to_pylist():
                n += 1
                yield n, rec
    except Exception as ex:  # noqa: BLE001 - any pyarrow failure means an unreadable file
        raise SourceError(str(path), f"unreadable Parquet: {ex}") from None


def raw_text(obj: Any, limit: int = 2000) -> str:
    """A row as text for quarantine, truncated."""
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str, ensure_ascii=False)
    return text[:limit]


def storable(text: str) -> str:
    """``text`` as valid Unicode, which Parquet and UTF-8 JSON require. Python keeps the bytes
    of a file name that are not UTF-8 as lone surrogates (U+DC80-U+DCFF), and JSON may escape
    a lone surrogate ("\\ud800"): those come back escaped, a name's bytes as ``\\xff``, others
    as ``\\ud800``, the same text each time. Valid text is returned as it is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no file-name byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    """The rollup rule every trace source shares (docs/sources.md).

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
