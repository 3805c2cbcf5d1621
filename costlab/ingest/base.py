"""What every source module implements, and the file sniffing used to detect formats.

A source turns one file into canonical rows: ``parse`` yields ``(table, row)`` pairs whose keys are
column names from `costlab.schema`, and `Bad` items for rows that go to quarantine. Every row
carries ``row_key`` (the natural key, from `util.key`) and ``source_line``; the lake adds the rest of
the lineage. A problem with the whole file is raised as `SourceError` and nothing from that file is
written.

A source maps its records through `each_record` (one row a record) or `mapped` (one step of a
stateful reader): a record that raises one of `RECORD_ERRORS` becomes a quarantine row whose reason
is the error's text, so no source writes its own ``try``/``except`` around a record.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from costlab.errors import SourceError
from costlab.ingest.util import LongLine, lines_of, raw_text
from costlab.limits import Limits

HEAD_BYTES = 256 * 1024
#: the ASCII bytes `str.isspace` counts as whitespace (str.lstrip strips them, bytes.lstrip not all)
_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_BOM = b"\xef\xbb\xbf"

Row = tuple[str, dict[str, Any]]

#: What mapping one bad record may raise. The record becomes a quarantine row whose reason is the
#: error's text and the rest of the file goes on; a problem with the whole file is a `SourceError`.
RECORD_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    AttributeError,
    LookupError,
    ArithmeticError,
    RecursionError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Bad:
    """A row that cannot be normalised: it goes to `quarantine` with the reason."""

    location: str
    reason: str
    raw: str = ""


def mapped(location: object, raw: Any, build: Callable[..., T], *args: Any, reason: str = "") -> T | Bad:
    """``build(*args)``, or, when the record is bad (one of `RECORD_ERRORS`), its quarantine row:
    the location, ``reason`` followed by the error's text, and the raw record. ``raw`` may be
    a function giving it, so a per-line loop makes the text only for the few bad records."""
    try:
        return build(*args)
    except RECORD_ERRORS as ex:
        return Bad(str(location), f"{reason}{ex}", raw_text(raw() if callable(raw) else raw))


def each_record(
    table: str,
    records: Iterable[tuple[int, Any]],
    map_record: Callable[[int, Any], dict[str, Any]],
    *,
    path: Path | None = None,
    none_read: str = "",
) -> Iterator[Row | Bad]:
    """The per-record loop of a source with one row a record: ``records`` yields ``(line,
    record)``, where a record the reader could not read is the reason as text. Each good record
    is ``map_record(line, record)`` with ``source_line`` set; the others go to quarantine.

    With ``none_read``, the quarantine rows come last, and a file none of whose records is
    readable fails as a whole: ``SourceError(path, "<none_read> (<first reason>)")``."""
    bad: list[Bad] = []
    good = 0
    for line, rec in records:
        if isinstance(rec, dict):
            item: dict[str, Any] | Bad = mapped(line, rec, map_record, line, rec)
        else:
            item = Bad(str(line), rec if isinstance(rec, str) else "row is not an object")
        if isinstance(item, Bad):
            if none_read:
                bad.append(item)
            else:
                yield item
            continue
        good += 1
        item["source_line"] = line
        yield table, item
    if bad and not good:
        raise SourceError(str(path), f"{none_read} ({bad[0].reason})")
    yield from bad


@dataclass
class ParseContext:
    """Options that reach every parser (from the CLI, `costlab.toml` or the library call)."""

    keep_text: bool = False
    redact: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


class Sniff:
    """A cheap look at a file's head so sources can say whether they recognise it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name.lower()
        self.gzipped = self.name.endswith(".gz")
        base = self.name[:-3] if self.gzipped else self.name
        self.suffix = Path(base).suffix

    @cached_property
    def head_bytes(self) -> bytes:
        if self.suffix == ".parquet":
            return b""
        opener = gzip.open if self.gzipped else open
        try:
            with opener(self.path, "rb") as fh:
                return fh.read(HEAD_BYTES)  # type: ignore[no-any-return]
        except (OSError, EOFError):
            return b""

    def has(self, needle: bytes) -> bool:
        """Whether ``needle`` (ASCII) is in the head: the same answer as ``in head``, from the
        bytes, and each needle is looked for once however many sources ask (a scan of 256 KiB
        per file and needle is most of detecting a folder of session logs)."""
        found = self._found.get(needle)
        if found is None:
            found = self._found[needle] = needle in self.head_bytes
        return found

    @cached_property
    def _found(self) -> dict[bytes, bool]:
        return {}

    @cached_property
    def head(self) -> str:
        """The first 256 KiB as text (BOM removed, undecodable bytes replaced)."""
        return self.head_bytes.decode("utf-8-sig", errors="replace")

    @cached_property
    def body_bytes(self) -> bytes | None:
        """The head's bytes from its first non-blank character when that character is ASCII:
        ``head.lstrip()`` then starts at the same character, and a line of it decodes to the same
        text, so `kind` and `first_line` need not decode the whole 256 KiB head (a fifth of
        detecting a folder of session logs). None when the first non-blank byte is not ASCII."""
        raw = self.head_bytes
        body = (raw[len(_BOM) :] if raw.startswith(_BOM) else raw).lstrip(_ASCII_SPACE)
        return None if body and body[0] >= 0x80 else body

    def lines(self, limit: int) -> Iterator[str]:
        """``head.split("\n")[:limit]`` decoded a line at a time (the same text: UTF-8 resumes
        at every newline byte), so a detector reading the first line decodes only that."""
        raw = self.head_bytes
        start = len(_BOM) if raw.startswith(_BOM) else 0
        for _ in range(limit):
            end = raw.find(b"\n", start)
            if end == -1:
                yield raw[start:].decode("utf-8", errors="replace")
                return
            yield raw[start:end].decode("utf-8", errors="replace")
            start = end + 1

    @cached_property
    def kind(self) -> str:
        """parquet, json (one document), jsonl (one document per line), csv, empty (nothing
        but whitespace, or 0 bytes) or unknown."""
        if self.suffix == ".parquet":
            try:
                return "parquet" if self.path.stat().st_size else "empty"
            except OSError:
                return "parquet"  # the reader says what is wrong
        body = self.body_bytes
        if body is not None and body[:1] in (b"{", b"["):
            text = body[:1].decode()  # JSON: the first line is all this reads (`first_line`)
        else:
            text = self.head.lstrip()
        if not text:
            return "empty"
        if text[0] in "{[":
            first = self.first_line.strip()
            try:
                if isinstance(json.loads(first), dict):
                    return "jsonl"
                return "json"  # a complete one-line document (an array of pages, say)
            except (ValueError, RecursionError):  # nested too deep for Python is bad input
                pass
            if first not in ("{", "[") and self._later_object is not None:  # a broken 1st line
                return "jsonl"
            return "json"
        if "," in text.split("\n", 1)[0] or self.suffix in (".csv", ".tsv"):
            return "csv"
        if self._later_object is not None:  # JSONL whose first line is not an object
            return "jsonl"
        return "unknown"

    @cached_property
    def first_line(self) -> str:
        """The first non-blank line, read in full even when it is longer than the head (a
        Claude Code record with a pasted image can be megabytes), up to the line limit: a longer
        line is passed over (the parser quarantines it) and the next one is the first."""
        body = self.body_bytes
        if body is not None and (nl := body.find(b"\n")) != -1:
            return body[:nl].decode("utf-8", errors="replace")
        text = self.head.lstrip()
        nl = text.find("\n")
        if nl != -1:
            return text[:nl]  # not split(): that copies the rest of the 256 KiB head
        if len(self.head_bytes) < HEAD_BYTES:
            return text
        opener = gzip.open if self.gzipped else open
        try:
            with opener(self.path, "rt", encoding="utf-8-sig", errors="replace") as fh:
                for line in lines_of(fh):
                    if line.strip() and not isinstance(line, LongLine):
                        return line
        except (OSError, EOFError):
            pass
        return text

    @cached_property
    def columns(self) -> list[str]:
        """CSV header names, Parquet column names, or the keys of the first JSON object."""
        if self.kind == "parquet":
            try:
                import pyarrow.parquet as pq

                return list(pq.read_schema(self.path).names)
            except Exception:  # noqa: BLE001 - a corrupt file simply has no columns
                return []
        if self.kind == "csv":
            import csv

            line = self.head.split("\n", 1)[0]
            try:
                return [c.strip() for c in next(csv.reader([line]))]
            except (csv.Error, StopIteration):
                return []
        obj = self.first_object
        return list(obj) if isinstance(obj, dict) else []

    @cached_property
    def first_object(self) -> Any:
        """The first JSON value: the first line of JSONL, or the document (if it fits the head)."""
        if self.kind == "jsonl":
            try:
                obj = json.loads(self.first_line)
            except (ValueError, RecursionError):
                obj = None
            return obj if isinstance(obj, dict) else self._later_object
        if self.kind == "json":
            try:
                return json.loads(self.head)
            except (ValueError, RecursionError):
                if len(self.head_bytes) < HEAD_BYTES:
                    return None
                return _load_json_document(self.path, self.gzipped)
        return None

    @cached_property
    def _later_object(self) -> dict[str, Any] | None:
        """The first JSON object on a line of its own (starting at column 0) after the first line
        of the head: JSONL whose first line is damaged is still JSONL. Pretty-printed documents
        indent their inner objects, so they do not match."""
        for line in self.head.lstrip().split("\n")[1:50]:
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(obj, dict):
                    return obj
        return None

    @cached_property
    def column_set(self) -> frozenset[str]:
        """Lower-cased column names, for case-insensitive checks."""
        return frozenset(c.lower() for c in self.columns)


def _load_json_document(path: Path, gzipped: bool) -> Any:
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            return json.load(fh)
    except (OSError, ValueError, EOFError, RecursionError):
        return None


class Source:
    """Base class of a registered source. Subclasses document, in their module docstring:
    detect (how the file is recognised), parse, normalise, row key, and quirks."""

    #: registry name, written as `source_format` on every row
    name: ClassVar[str]
    #: one line for `costlab sources`
    title: ClassVar[str]
    #: tables the source writes to
    tables: ClassVar[tuple[str, ...]]
    #: the natural key, in words (shown by `costlab sources`)
    row_key: ClassVar[str]
    #: True for billing lines: two rows with the same natural key in one file are both real and
    #: are kept apart by an occurrence number. False for traces: the later one replaces the earlier.
    distinct_duplicates: ClassVar[bool] = True
    #: detection tie-break: when several sources accept a file, the highest priority wins
    priority: ClassVar[int] = 0
    #: True when a trace of this source is an interactive session a person drives (a coding
    #: agent's transcript), not one application run: its input grows and its tools repeat by
    #: design, so the waste analyzer's run rules (loops, tool loops, failed runs) skip it.
    sessions: ClassVar[bool] = False

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        raise NotImplementedError

    @classmethod
    def warm_up(cls) -> None:
        """Build what parsing needs once per process (decoders, compiled schemas), before ingest
        forks its workers, so they share it. Nothing by default."""

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        raise NotImplementedError
