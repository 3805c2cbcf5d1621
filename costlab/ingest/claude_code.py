"""Claude Code session logs: the JSONL transcripts Claude Code writes for every session under
``~/.claude/projects/<encoded-cwd>/<sessionId>.jsonl`` (also ``~/.config/claude/projects/``), with
subagent transcripts in ``<sessionId>/subagents/agent-<id>.jsonl``.

Detect: JSONL whose head holds Claude Code records: ``type`` in user/assistant/system/summary/
file-history-snapshot/queue-operation with Claude Code ids (``sessionId``, ``uuid``, ``parentUuid``,
``leafUuid``, ``messageId``) or a ``message`` object, or a ``sessionId`` + ``message`` record
(ccusage's fixtures). Lines carrying ``payload`` (Codex) or ``resourceSpans`` (OTLP) are not ours.
Parse: line by line (``parse_float=Decimal``); streamed lines are merged in memory (only compact
per-reply data is kept) and a reply's row is yielded once no line of it has come for
``WINDOW`` (50,000) lines, or at the end of the file, so memory follows the window, not the file.
Normalise: one ``llm`` span per assistant API reply. Anthropic usage is disjoint, so
``input_tokens = input + cache_read + cache_creation``; ``cache_write_tokens =
cache_creation_input_tokens`` with the 5m/1h split from ``usage.cache_creation``;
``output_tokens`` as reported (thinking is billed as output). ``costUSD`` (older versions) ->
``reported_cost`` in USD. provider ``anthropic``; ``request_id`` = ``message.id`` (the call's
identity, which the ``calls`` view de-duplicates on). trace_id = session_id = ``sessionId``;
span_id = ``message.id``; parent_span_id = ``parentUuid`` of the reply's first line (the user or
tool-result record it answers; those records are not spans). workflow = ``[claude_code] workflow``
or top-level ``workflow`` in ctx.config, else the basename of the record's ``cwd``, else the
project folder under ``projects/`` (its encoding of ``/`` and ``.`` as ``-`` cannot be undone).
repo = the basename of ``cwd`` (Claude Code logs no git root: a session started in a subfolder
names that folder), branch = ``gitBranch`` (empty outside a repository: NULL).
step = ``main``, or ``subagent`` for sidechain records or files under ``subagents/`` (the
agentId is random per run, so it goes to ``tags['agent_id']``, not into the step). One ``tool``
span per ``tool_use`` block (name = tool, end = its tool_result's time, status from
``is_error``, ``usage_scope='none'``). User, system, summary, snapshot and queue records carry no
usage and are skipped; text is kept only with ``ctx.keep_text``.
Row key: ``message.id`` (fallback ``requestId``, then ``uuid``) for replies, the tool_use id for
tools. Not (message.id, requestId): sidechain replays repeat a message.id under another requestId
and must not count twice (ccusage #913, docs/sources.md). Across files the lake's
"later replaces" applies; no replace_scope (a session file only grows).
Quirks:
- Streamed replies are several lines sharing message.id with partial output_tokens on early
  lines; keep the line with the highest output_tokens, the later one on ties
  (ccusage keeps the first line and undercounts, ccusage #901/#938).
- A sidechain replay of a main-thread message is one call; it stays ``main`` (ccusage #913).
- ``<synthetic>`` messages are written locally, not billed: span_kind ``other``,
  usage_scope ``none``. ``isApiErrorMessage`` -> status ``error``.
- An assistant reply without ``usage`` is a call with unknown usage: tokens NULL,
  ``usage_source='missing'`` (never 0).
- Usage without cache fields (before prompt caching existed) counts the cache parts as 0.
- In a file longer than ``WINDOW`` lines, lines of one reply more than ``WINDOW`` lines apart
  are folded as two replies with the same row key; the later one replaces the earlier (the
  lake keeps the last row per key). Claude Code writes a reply's lines together.
- ``speed`` ("fast", premium price), ``server_tool_use.web_search_requests`` and ``requestId`` go to
  ``tags``/``attributes`` for pricing.
- A trace is the whole session a person drives (``sessions = True``), not one run: every turn
  resends the conversation and tools run hundreds of times by design, so the waste analyzer
  does not look for loops, tool loops or failed runs in it (errors and retries still count).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

RECORD_TYPES = frozenset(
    {"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation"}
)
ID_KEYS = frozenset({"sessionId", "uuid", "parentUuid", "leafUuid", "messageId"})
SYNTHETIC = "<synthetic>"
_Result = tuple[datetime | None, bool, int, dict[str, Any]]  # end time, is_error, chars, subagent
TIERS = ("standard", "batch", "priority", "flex", "provisioned")
_PARENT = ("trace_id", "workflow", "step", "session_id", "tags", "span_id", "repo", "branch")
_SHARED = frozenset({"sessionId", "cwd", "gitBranch", "version", "agentId", "userType"})
_KEPT = (
    *("sessionId", "uuid", "parentUuid", "requestId", "cwd", "gitBranch", "version", "agentId"),
    *("userType", "isApiErrorMessage"),
)


def _head_objects(sniff: Sniff, limit: int = 50) -> Iterator[Any]:
    for line in sniff.lines(limit):  # lazily: detection mostly stops at the first line
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except ValueError:
                continue  # a line cut by the 256 KiB head, or a bad line


def _is_claude_record(obj: Any) -> bool:
    if not isinstance(obj, dict) or "payload" in obj or "resourceSpans" in obj:
        return False
    if u.known(obj.get("type"), RECORD_TYPES):
        return bool(ID_KEYS & obj.keys()) or isinstance(obj.get("message"), dict)
    return "sessionId" in obj and isinstance(obj.get("message"), dict)


def _basename(path: Any) -> str | None:
    text = u.nullish(path)
    if text is None:
        return None
    parts = [p for p in re.split(r"[\\/]", text) if p]
    return parts[-1] if parts else text


_cached_basename = functools.lru_cache(maxsize=4096)(_basename)  # for text or None: one cwd per session


def _project_folder(path: Path) -> str | None:
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "projects":
            return u.storable(parts[i + 1])
    return None


def _ts(value: Any) -> datetime | None:
    """``u.ts`` with a fast path for Claude Code's ISO-8601 ``...Z`` strings."""
    if isinstance(value, str) and len(value) >= 20 and value[10] == "T":
        try:
            dt = datetime.fromisoformat(value)
            if dt.tzinfo is not None:
                return dt.astimezone(UTC)
        except ValueError:
            pass
    return u.ts(value)


def _count(value: Any, what: str) -> int | None:
    """`u.count`, without the call for the usual case (a plain non-negative int)."""
    return value if type(value) is int and value >= 0 else u.count(value, what)


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's disjoint usage -> canonical inclusive input and disjoint parts."""
    get = usage.get
    uncached = _count(get("input_tokens"), "input_tokens")
    read = _count(get("cache_read_input_tokens"), "cache_read_input_tokens")
    write = _count(get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    split = get("cache_creation")
    w5 = w1 = None
    if isinstance(split, dict):
        w5 = _count(split.get("ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens")
        w1 = _count(split.get("ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens")
    total = None
    if uncached is not None:
        read, write = read or 0, write or 0
        total = uncached + read + write
    server = usage.get("server_tool_use")
    tier = usage.get("service_tier")
    return {
        "input_tokens": total,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "cache_write_5m_tokens": w5,
        "cache_write_1h_tokens": w1,
        "output_tokens": _count(get("output_tokens"), "output_tokens"),
        "service_tier": tier if tier in TIERS else u.enum(tier, TIERS),
        "speed": None if (speed := get("speed")) is None else u.nullish(speed),
        "web_search_requests": u.count(server.get("web_search_requests"), "web_search_requests")
        if isinstance(server, dict)
        else None,
    }


@dataclass(slots=True)
class _Line:
    line: int
    ts: datetime
    obj: dict[str, Any]
    usage: dict[str, Any] | None
    cost: Decimal | None
    sidechain: bool
    rank: tuple[int, bool, int] = (0, False, 0)  # `_rank`, set once in __post_init__

    def __post_init__(self) -> None:
        self.rank = _rank(self)


@dataclass(slots=True)
class _Reply:
    """One reply's streamed lines, folded as they arrive: only the lines the row needs are kept
    (the best by `_rank`, the first and last of the main thread and of all), so memory stays
    per reply, not per line (a multi-GB session file)."""

    n: int = 0
    last: int = 0  # line number of its latest line (a reply quiet for WINDOW lines is closed)
    best_usage: _Line | None = None  # max _rank among lines with usage
    best_any: _Line | None = None  # max _rank among all lines
    first_main: _Line | None = None  # min (ts, line) / max ts among non-sidechain lines
    end_main: datetime | None = None
    first_all: _Line | None = None  # the same among all lines
    end_all: datetime | None = None
    model: str | None = None  # first non-null model in line order
    cost: Decimal | None = None  # last non-null costUSD in line order
    all_sidechain: bool = True
    error: bool = False
    texts: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)

    def add(self, ln: _Line) -> None:
        self.n += 1
        self.last = ln.line
        rank = ln.rank
        if ln.usage is not None and (self.best_usage is None or rank > self.best_usage.rank):
            self.best_usage = ln
        if self.best_any is None or rank > self.best_any.rank:
            self.best_any = ln
        if not ln.sidechain:
            self.all_sidechain = False
            if self.first_main is None or (ln.ts, ln.line) < (self.first_main.ts, self.first_main.line):
                self.first_main = ln
            self.end_main = ln.ts if self.end_main is None else max(self.end_main, ln.ts)
        if self.first_all is None or (ln.ts, ln.line) < (self.first_all.ts, self.first_all.line):
            self.first_all = ln
        self.end_all = ln.ts if self.end_all is None else max(self.end_all, ln.ts)
        if self.model is None:
            self.model = u.nullish(ln.obj["message"].get("model"))
        if ln.cost is not None:
            self.cost = ln.cost
        if ln.obj.get("isApiErrorMessage") is True:
            self.error = True


@functools.lru_cache(maxsize=1024)
def _message_key(ident: str) -> str:
    """``u.key("message", ident)``: a streamed reply's lines share it (about 2.4 lines a reply)."""
    return u.key("message", ident)


def _text_size(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(b.get("text") or "") for b in content if isinstance(b, dict))
    return 0


def _rank(ln: _Line) -> tuple[int, bool, int]:
    out = (ln.usage or {}).get("output_tokens")
    return (-1 if out is None else out, not ln.sidechain, ln.line)


_decode = json.JSONDecoder(parse_float=Decimal).decode
_dumps = json.JSONEncoder(default=str, sort_keys=True).encode  # json.dumps(..., default=str, sort_keys=True)
_CR = re.compile(rb"(?<=\r)(?!\n)")
_BOM = b"\xef\xbb\xbf"
Line = bytes | str


def _raw(raw: Line) -> str:
    return u.raw_text(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)


def _lines(path: Path, binary: bool) -> Iterator[tuple[int, Line]]:
    """Numbered lines: bytes when the file is UTF-8 (for the fast decoder), else text.

    Lines end at LF, CRLF or a bare CR, as in `u.open_text` (``newline=""``), so numbers agree.
    """
    fh = u.open_utf8_bytes(path) if binary else None
    if fh is None:
        with u.open_text(path) as text:
            yield from enumerate(text, 1)
        return
    with fh:
        n = 0
        for line in u.lines_of(fh):  # bounded: an over-long line comes as a u.LongLine
            if isinstance(line, u.LongLine):
                n += 1
                yield n, line
                continue
            if n == 0 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            cr = line.find(b"\r")
            if cr != -1 and cr < len(line) - 2:  # a bare CR inside: split there too
                for part in _CR.split(line):
                    n += 1
                    yield n, part
                continue
            n += 1
            yield n, line


@functools.cache
def _fast_decoder(keep_text: bool) -> Callable[[bytes], dict[str, Any] | None] | None:
    """A msgspec decoder that materialises only the fields this parser reads and skips the rest
    (message text, tool inputs and outputs, images) without building Python objects: the bulk
    of a session log. It returns the same dict ``json`` would give for those fields (floats as
    Decimal, absent keys absent), or None for anything unusual (bad JSON, unexpected types,
    invalid UTF-8), which then takes the exact ``json`` path. Without msgspec: None."""
    try:
        import msgspec
    except ImportError:
        return None
    from msgspec import UNSET, UnsetType, defstruct

    def struct(name: str, fields: list[tuple[str, Any]]) -> Any:
        # defstruct, not class syntax: these annotations must be real types, and
        # `from __future__ import annotations` would make them unresolvable local names
        return defstruct(name, [(f, t, UNSET) for f, t in fields])

    unset: Any = UnsetType
    present = struct("Present", [])  # any object, contents skipped: only presence matters
    inp = struct("Input", [("subagent_type", Any)])
    block_fields = [
        *(("type", Any), ("id", Any), ("name", Any), ("input", inp | None | unset)),
        *(("tool_use_id", Any), ("is_error", Any), ("content", Any)),
    ]
    block = struct("Block", block_fields + ([("text", Any)] if keep_text else []))
    message = struct(
        "Message",
        [
            *(("id", Any), ("role", Any), ("model", Any), ("stop_reason", Any), ("usage", Any)),
            ("content", list[block] | str | None | unset),  # type: ignore[valid-type]
        ],
    )
    tool_use_result = struct(
        "ToolUseResult", [("agentId", Any), ("totalDurationMs", Any), ("totalToolUseCount", Any)]
    )
    record = struct(
        "Record",
        [
            ("type", Any),
            ("message", message | None | unset),
            *((k, Any) for k in ("timestamp", "leafUuid", "messageId", "isSidechain")),
            *((k, Any) for k in _KEPT),
            ("costUSD", Decimal | None | unset),
            ("toolUseResult", tool_use_result | str | None | unset),
            ("payload", present | unset),
            ("resourceSpans", present | unset),
        ],
    )

    decoder = msgspec.json.Decoder(record, float_hook=Decimal)
    miss = (msgspec.MsgspecError, UnicodeDecodeError)
    to_builtins = msgspec.to_builtins

    def decode(raw: bytes) -> dict[str, Any] | None:
        try:  # to_builtins: structs to dicts without the UNSET (absent) fields, Decimal kept
            return to_builtins(decoder.decode(raw), builtin_types=(Decimal,))  # type: ignore[no-any-return]
        except miss:
            return None

    return decode


@register_source
class ClaudeCodeSession(Source):
    name = "claude_code"
    title = "Claude Code session log (~/.claude/projects/<project>/<session>.jsonl)"
    tables = ("spans",)
    row_key = "message.id (else requestId, else uuid) per reply; tool_use id per tool call"
    distinct_duplicates = False
    priority = 20
    sessions = True  # a transcript is a person's session, not an application run

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind != "jsonl":
            return False
        if not sniff.has(b'"payload"') and not sniff.has(b'"resourceSpans"'):
            # no line can be Codex/OTLP, so the first Claude Code record decides (cheap on big heads)
            return any(_is_claude_record(obj) for obj in _head_objects(sniff))
        seen = False
        for obj in _head_objects(sniff):
            if isinstance(obj, dict) and ("payload" in obj or "resourceSpans" in obj):
                return False
            seen = seen or _is_claude_record(obj)
        return seen

    @classmethod
    def warm_up(cls) -> None:
        _fast_decoder(False)
        _fast_decoder(True)

    #: A reply with no line for this many lines is complete: its row (and its tools' rows) are
    #: yielded then, so memory follows this window, not the file (one multi-GB stream). Files
    #: shorter than the window are folded whole, exactly as before.
    WINDOW = 50_000

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        replies: dict[str, _Reply] = {}
        tools: dict[str, dict[str, Any]] = {}
        results: dict[str, _Result] = {}
        spans: dict[str, dict[str, Any]] = {}  # closed replies' fields their tools copy
        bad: list[Bad] = []
        recognised = 0
        in_subagents = "subagents" in path.parts
        fast = _fast_decoder(ctx.keep_text)
        fallback_session = u.storable(path.stem)
        window = self.WINDOW
        for n, raw in _lines(path, fast is not None):
            if n % window == 0:
                yield from self._close(n - window, path, ctx, fallback_session, replies, tools, results, spans)
            obj = fast(raw) if fast is not None and type(raw) is bytes else None
            if obj is None:  # no msgspec, not UTF-8, or anything unusual: the exact json path
                if isinstance(raw, u.LongLine):
                    bad.append(Bad(str(n), str(raw)))
                    continue
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                if not text.strip():
                    continue
                decoded = mapped(n, text, _decode, text, reason="invalid JSON: ")
                if isinstance(decoded, Bad):
                    bad.append(decoded)
                    continue
                obj = decoded
                if not isinstance(obj, dict):
                    bad.append(Bad(str(n), "not a JSON object", u.raw_text(text)))
                    continue
            kind = obj.get("type")
            msg = obj.get("message")
            if u.known(kind, RECORD_TYPES) or (kind is None and isinstance(msg, dict)):
                recognised += 1
            elif ID_KEYS & obj.keys() and "payload" not in obj and (kind is None or isinstance(kind, str)):
                recognised += 1  # a record type newer than this parser: nothing billable
                continue
            else:
                reason = (
                    f"not a Claude Code record (type {kind!r}, no sessionId/uuid/message)"
                    if kind is None or isinstance(kind, str)
                    else f"type is not a text value ({u.raw_text(kind, 80)})"
                )
                bad.append(Bad(str(n), reason, _raw(raw)))
                continue
            assistant = kind == "assistant" or (
                kind is None and isinstance(msg, dict) and msg.get("role") == "assistant"
            )
            got: object = None
            if assistant:  # the raw text (partial) is made only for a bad record, not every line
                got = mapped(n, functools.partial(_raw, raw), self._assistant, n, obj, msg, in_subagents, ctx.keep_text, replies, tools)
            elif kind == "user" and isinstance(msg, dict):
                got = mapped(n, functools.partial(_raw, raw), self._results, obj, msg, results)
            if isinstance(got, Bad):
                bad.append(got)
        if recognised == 0:
            raise SourceError(
                str(path),
                "no Claude Code records (expected JSONL with sessionId/uuid/type/message keys)",
            )
        yield from bad
        yield from self._close(None, path, ctx, fallback_session, replies, tools, results, spans)

    def _close(
        self,
        before: int | None,
        path: Path,
        ctx: ParseContext,
        fallback_session: str,
        replies: dict[str, _Reply],
        tools: dict[str, dict[str, Any]],
        results: dict[str, _Result],
        spans: dict[str, dict[str, Any]],
    ) -> Iterator[Row]:
        """Yield the rows of replies whose last line is before line ``before`` (None: all, at
        the end of the file), then the rows of their tools whose result has arrived (or whose
        tool_use is before ``before``), and forget what no later line can need."""
        for key in [k for k, r in replies.items() if before is None or r.last < before]:
            row = self._reply_row(key, replies.pop(key), path, ctx, fallback_session)
            yield "spans", row
            spans[key] = {k: row[k] for k in _PARENT}  # read after the consumer's changes, as before
        for tool_id in list(tools):
            tool = tools[tool_id]
            parent = spans.get(tool["_reply"])
            if parent is None:  # its reply is still open
                continue
            found = tool_id in results
            if before is not None and not found and tool["source_line"] >= before:
                continue  # its result may still come
            del tools[tool_id]
            tool.pop("_reply")
            end, is_error, size, subagent = results.pop(tool_id, (None, False, 0, {}))
            attrs = {
                "result_chars": size if found else None,
                **tool.pop("_attrs"),
                **subagent,
            }
            yield (
                "spans",
                {
                    **{
                        k: parent[k]
                        for k in ("trace_id", "workflow", "step", "session_id", "tags", "repo", "branch")
                    },
                    **tool,
                    "parent_span_id": parent["span_id"],
                    "span_kind": "tool",
                    "operation": "execute_tool",
                    "end_time": end if end is not None and end >= tool["start_time"] else None,
                    "status": None if not found else ("error" if is_error else "ok"),
                    "usage_scope": "none",
                    "attributes": _dumps(attrs),
                },
            )
        if before is not None:  # keep only what pending tools still need
            pending = {t["_reply"] for t in tools.values()}
            for key in [k for k in spans if k not in pending]:
                del spans[key]
            for tool_id in [t for t in results if t not in tools]:
                del results[tool_id]  # its tool is out, or in another file

    # -- records -------------------------------------------------------------------------------

    @staticmethod
    def _assistant(
        n: int,
        obj: dict[str, Any],
        msg: Any,
        in_subagents: bool,
        keep_text: bool,
        replies: dict[str, _Reply],
        tools: dict[str, dict[str, Any]],
    ) -> None:
        if not isinstance(msg, dict):
            raise ValueError("assistant record without a message object")
        ts = _ts(obj.get("timestamp"))
        if ts is None:
            raise ValueError("assistant record without a timestamp")
        raw_usage = msg.get("usage")
        if raw_usage is not None and not isinstance(raw_usage, dict):
            raise ValueError("message.usage is not an object")
        usage = _usage(raw_usage) if raw_usage is not None else None
        cost = u.money(obj.get("costUSD"))
        ident = msg.get("id") or obj.get("requestId") or obj.get("uuid") or f"line:{n}"
        key = _message_key(ident) if type(ident) is str else u.key("message", ident)
        reply = replies.get(key)
        if reply is None:
            reply = replies[key] = _Reply()
        sidechain = bool(obj.get("isSidechain")) or in_subagents
        slim = {k: obj.get(k) for k in _KEPT}  # keep only what the row needs, not the content
        for k in _SHARED:  # the same few values on every line: one copy each
            if type(v := slim[k]) is str:
                slim[k] = sys.intern(v)
        slim["message"] = {k: msg.get(k) for k in ("id", "model", "stop_reason")}
        reply.add(_Line(n, ts, slim, usage, cost, sidechain))
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            btype = str(block.get("type"))
            if keep_text and btype == "text" and isinstance(block.get("text"), str):
                if block["text"] not in reply.texts:
                    reply.texts.append(block["text"])
            if btype not in reply.blocks:
                reply.blocks.append(btype)
            if btype == "tool_use":
                name = u.nullish(block.get("name"))
                tool_id = u.nullish(block.get("id")) or f"{ident}#{len(reply.tools)}"
                reply.tools.append(name or "?")
                if tool_id in tools:  # a streamed line repeating the block: the first one stays
                    continue
                raw_inp = block.get("input")
                inp: dict[str, Any] = raw_inp if isinstance(raw_inp, dict) else {}
                tools.setdefault(
                    tool_id,
                    {
                        "_reply": key,
                        "_attrs": {"subagent_type": inp.get("subagent_type")}
                        if inp.get("subagent_type")
                        else {},
                        "span_id": tool_id,
                        "name": name,
                        "start_time": ts,
                        "row_key": u.key("tool", tool_id),
                        "source_line": n,
                    },
                )
        if keep_text and isinstance(content, str) and content not in reply.texts:
            reply.texts.append(content)

    @staticmethod
    def _results(obj: dict[str, Any], msg: dict[str, Any], results: dict[str, _Result]) -> None:
        content = msg.get("content")
        if not isinstance(content, list):
            return
        blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        extra = obj.get("toolUseResult")
        # a Task result names the subagent it ran (links its subagents/agent-<id>.jsonl); its
        # usage/totalTokens describe the subagent's calls, which are counted there, not here
        subagent = (
            {
                "agent_id": extra.get("agentId"),
                "total_duration_ms": extra.get("totalDurationMs"),
                "total_tool_use_count": extra.get("totalToolUseCount"),
            }
            if isinstance(extra, dict) and extra.get("agentId") and len(blocks) == 1
            else {}
        )
        for block in blocks:
            tool_id = u.nullish(block.get("tool_use_id"))
            if tool_id:
                results[tool_id] = (
                    _ts(obj.get("timestamp")),
                    block.get("is_error") is True,
                    _text_size(block.get("content")),
                    subagent,
                )

    # -- rows ----------------------------------------------------------------------------------

    def _reply_row(
        self, key: str, reply: _Reply, path: Path, ctx: ParseContext, fallback_session: str
    ) -> dict[str, Any]:
        # highest output wins; on ties a main-thread copy beats a sidechain replay, then the later line
        kept = reply.best_usage or reply.best_any
        assert kept is not None and reply.first_all is not None
        # a sidechain replay keeps no time: first and end come from the main thread if it has lines
        first = reply.first_main or reply.first_all
        end = reply.end_main or reply.end_all
        obj, msg = kept.obj, kept.obj["message"]
        usage = kept.usage or {}
        model = u.nullish(msg.get("model")) or reply.model
        synthetic = model == SYNTHETIC
        cost = kept.cost if kept.cost is not None else reply.cost
        sidechain = reply.all_sidechain
        session = u.nullish(obj.get("sessionId")) or fallback_session
        cwd = u.nullish(obj.get("cwd"))
        branch = u.nullish(obj.get("gitBranch"))  # "" outside a git repository
        agent_id = u.nullish(obj.get("agentId"))
        if agent_id is None and sidechain and path.stem.startswith("agent-"):
            agent_id = u.storable(path.stem[len("agent-") :])
        error = reply.error
        tags = {
            k: v
            for k, v in {
                "cwd": cwd,
                "git_branch": branch,
                "agent_id": agent_id if sidechain else None,
                "cli_version": u.nullish(obj.get("version")),
                "speed": usage.get("speed"),
            }.items()
            if v is not None
        }
        attrs = {
            "request_id": obj.get("requestId"),
            "uuid": first.obj.get("uuid"),
            "lines": reply.n,
            "stop_reason": msg.get("stop_reason"),
            "content": reply.blocks,
            "tools": reply.tools,
            "is_sidechain": sidechain,
            "user_type": obj.get("userType"),
            "web_search_requests": usage.get("web_search_requests"),
        }
        section = ctx.config.get(self.name)
        workflow = (
            (u.nullish(section.get("workflow")) if isinstance(section, dict) else None)
            or u.nullish(ctx.config.get("workflow"))
            or _cached_basename(cwd)
            or _project_folder(path)
        )
        has_usage = kept.usage is not None
        return {
            "trace_id": session,
            "span_id": u.nullish(msg.get("id")) or u.nullish(first.obj.get("uuid")) or key[:16],
            "parent_span_id": u.nullish(first.obj.get("parentUuid")),
            "workflow": workflow,
            "step": "subagent" if sidechain else "main",
            "session_id": session,
            "user_id": None,
            "span_kind": "other" if synthetic else "llm",
            "operation": None if synthetic else "chat",
            "name": "synthetic" if synthetic else f"chat {model or 'unknown'}",
            "start_time": first.ts,
            "end_time": end,
            "status": "error" if error else "ok",
            "provider": "anthropic",
            "model": model,
            "service_tier": usage.get("service_tier"),
            "input_tokens": usage.get("input_tokens"),
            "cache_read_tokens": usage.get("cache_read_tokens"),
            "cache_write_tokens": usage.get("cache_write_tokens"),
            "cache_write_5m_tokens": usage.get("cache_write_5m_tokens"),
            "cache_write_1h_tokens": usage.get("cache_write_1h_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "reasoning_tokens": None,
            "usage_scope": "none" if synthetic else "self",
            "usage_source": "reported" if has_usage else "missing",
            "reported_cost": cost,
            "reported_cost_currency": "USD" if cost is not None else None,
            "request_id": None if synthetic else u.nullish(msg.get("id")),
            "completion_text": ("\n".join(reply.texts) or None) if ctx.keep_text else None,
            "tags": tags or None,
            "attributes": _dumps(attrs),
            "repo": _cached_basename(cwd),
            "branch": branch,
            "row_key": key,
            "source_line": kept.line,
        }
