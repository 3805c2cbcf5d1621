"""Claude Code session logs: the JSONL transcripts Claude Code writes for every session under
``~/.claude/projects/<encoded-cwd>/<sessionId>.jsonl`` (also ``~/.config/claude/projects/``), with
subagent transcripts in ``<sessionId>/subagents/agent-<id>.jsonl``.

Detect: JSONL whose head holds Claude Code records: ``type`` in user/assistant/system/summary/
file-history-snapshot/queue-operation with Claude Code ids (``sessionId``, ``uuid``, ``parentUuid``,
``leafUuid``, ``messageId``) or a ``message`` object, or a ``sessionId`` + ``message`` record
(ccusage's fixtures). Lines carrying ``payload`` (Codex) or ``resourceSpans`` (OTLP) are not ours.
Parse: line by line (``parse_float=Decimal``); one file is one session, so streamed lines are
merged in memory (only compact per-reply data is kept) and rows are yielded at the end.
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
step = ``main``, or ``subagent`` for sidechain records or files under ``subagents/`` (the
agentId is random per run, so it goes to ``tags['agent_id']``, not into the step). One ``tool``
span per ``tool_use`` block (name = tool, end = its tool_result's time, status from
``is_error``, ``usage_scope='none'``). User, system, summary, snapshot and queue records carry no
usage and are skipped; text is kept only with ``ctx.keep_text``.
Row key: ``message.id`` (fallback ``requestId``, then ``uuid``) for replies, the tool_use id for
tools. Not (message.id, requestId): sidechain replays repeat a message.id under another requestId
and must not count twice (ccusage #913, research/trace_formats.md §8.1). Across files the lake's
"later replaces" applies; no replace_scope (a session file only grows).
Quirks:
- Streamed replies are several lines sharing message.id with partial output_tokens on early
  lines; keep the line with the highest output_tokens, the later one on ties (§8.1, §11.3;
  ccusage keeps the first line and undercounts, ccusage #901/#938).
- A sidechain replay of a main-thread message is one call; it stays ``main`` (ccusage #913).
- ``<synthetic>`` messages are written locally, not billed: span_kind ``other``,
  usage_scope ``none`` (§8.1, §11.5). ``isApiErrorMessage`` -> status ``error``.
- An assistant reply without ``usage`` is a call with unknown usage: tokens NULL,
  ``usage_source='missing'`` (never 0).
- Usage without cache fields (before prompt caching existed) counts the cache parts as 0.
- ``speed`` ("fast", premium price), ``server_tool_use.web_search_requests`` and ``requestId`` go to
  ``tags``/``attributes`` for pricing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import register
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source

RECORD_TYPES = frozenset(
    {"user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation"}
)
ID_KEYS = frozenset({"sessionId", "uuid", "parentUuid", "leafUuid", "messageId"})
SYNTHETIC = "<synthetic>"
_Result = tuple[datetime | None, bool, int, dict[str, Any]]  # end time, is_error, chars, subagent
TIERS = ("standard", "batch", "priority", "flex", "provisioned")
_KEPT = (
    *("sessionId", "uuid", "parentUuid", "requestId", "cwd", "gitBranch", "version", "agentId"),
    *("userType", "isApiErrorMessage"),
)


def _head_objects(sniff: Sniff, limit: int = 50) -> Iterator[Any]:
    for line in sniff.head.splitlines()[:limit]:
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except ValueError:
                continue  # a line cut by the 256 KiB head, or a bad line


def _is_claude_record(obj: Any) -> bool:
    if not isinstance(obj, dict) or "payload" in obj or "resourceSpans" in obj:
        return False
    if obj.get("type") in RECORD_TYPES:
        return bool(ID_KEYS & obj.keys()) or isinstance(obj.get("message"), dict)
    return "sessionId" in obj and isinstance(obj.get("message"), dict)


def _basename(path: Any) -> str | None:
    text = u.nullish(path)
    if text is None:
        return None
    parts = [p for p in re.split(r"[\\/]", text) if p]
    return parts[-1] if parts else text


def _project_folder(path: Path) -> str | None:
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "projects":
            return parts[i + 1]
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


def _count(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    n = value if type(value) is int else u.integer(value)
    if n is not None and n < 0:
        raise ValueError(f"negative {name}: {n}")
    return n


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's disjoint usage -> canonical inclusive input and disjoint parts."""
    uncached = _count(usage, "input_tokens")
    read = _count(usage, "cache_read_input_tokens")
    write = _count(usage, "cache_creation_input_tokens")
    split = usage.get("cache_creation")
    w5 = w1 = None
    if isinstance(split, dict):
        w5 = _count(split, "ephemeral_5m_input_tokens")
        w1 = _count(split, "ephemeral_1h_input_tokens")
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
        "output_tokens": _count(usage, "output_tokens"),
        "service_tier": tier if tier in TIERS else u.enum(tier, TIERS),
        "speed": u.nullish(usage.get("speed")),
        "web_search_requests": _count(server, "web_search_requests")
        if isinstance(server, dict)
        else None,
    }


@dataclass
class _Line:
    line: int
    ts: datetime
    obj: dict[str, Any]
    usage: dict[str, Any] | None
    cost: Decimal | None
    sidechain: bool


@dataclass
class _Reply:
    lines: list[_Line] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)


def _text_size(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(b.get("text") or "") for b in content if isinstance(b, dict))
    return 0


def _rank(ln: _Line) -> tuple[int, bool, int]:
    out = (ln.usage or {}).get("output_tokens")
    return (-1 if out is None else out, not ln.sidechain, ln.line)


@register
class ClaudeCodeSession(Source):
    name = "claude_code"
    title = "Claude Code session log (~/.claude/projects/<project>/<session>.jsonl)"
    tables = ("spans",)
    row_key = "message.id (else requestId, else uuid) per reply; tool_use id per tool call"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind != "jsonl":
            return False
        seen = False
        for obj in _head_objects(sniff):
            if isinstance(obj, dict) and ("payload" in obj or "resourceSpans" in obj):
                return False
            seen = seen or _is_claude_record(obj)
        return seen

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        replies: dict[str, _Reply] = {}
        tools: dict[str, dict[str, Any]] = {}
        results: dict[str, _Result] = {}
        bad: list[Bad] = []
        recognised = 0
        in_subagents = "subagents" in path.parts
        with u.open_text(path) as fh:
            for n, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text, parse_float=Decimal)
                except ValueError as ex:
                    bad.append(Bad(str(n), f"invalid JSON: {ex}", u.raw_text(text)))
                    continue
                if not isinstance(obj, dict):
                    bad.append(Bad(str(n), "not a JSON object", u.raw_text(text)))
                    continue
                kind = obj.get("type")
                msg = obj.get("message")
                if kind in RECORD_TYPES or (kind is None and isinstance(msg, dict)):
                    recognised += 1
                elif ID_KEYS & obj.keys() and "payload" not in obj:
                    recognised += 1  # a record type newer than this parser: nothing billable
                    continue
                else:
                    reason = f"not a Claude Code record (type {kind!r}, no sessionId/uuid/message)"
                    bad.append(Bad(str(n), reason, u.raw_text(text)))
                    continue
                assistant = kind == "assistant" or (
                    kind is None and isinstance(msg, dict) and msg.get("role") == "assistant"
                )
                try:
                    if assistant:
                        self._assistant(n, obj, msg, in_subagents, ctx.keep_text, replies, tools)
                    elif kind == "user" and isinstance(msg, dict):
                        self._results(obj, msg, results)
                except ValueError as ex:
                    bad.append(Bad(str(n), str(ex), u.raw_text(text)))
        if recognised == 0:
            raise SourceError(
                str(path),
                "no Claude Code records (expected JSONL with sessionId/uuid/type/message keys)",
            )
        yield from bad
        fallback_session = path.stem
        spans: dict[str, dict[str, Any]] = {}
        for key, reply in replies.items():
            row = self._reply_row(key, reply, path, ctx, fallback_session)
            spans[key] = row
            yield "spans", row
        for tool_id, tool in tools.items():
            parent = spans.get(tool.pop("_reply"))
            if parent is None:
                continue
            end, is_error, size, subagent = results.get(tool_id, (None, False, 0, {}))
            attrs = {
                "result_chars": size if tool_id in results else None,
                **tool.pop("_attrs"),
                **subagent,
            }
            yield (
                "spans",
                {
                    **{
                        k: parent[k] for k in ("trace_id", "workflow", "step", "session_id", "tags")
                    },
                    **tool,
                    "parent_span_id": parent["span_id"],
                    "span_kind": "tool",
                    "operation": "execute_tool",
                    "end_time": end if end is not None and end >= tool["start_time"] else None,
                    "status": None if tool_id not in results else ("error" if is_error else "ok"),
                    "usage_scope": "none",
                    "attributes": json.dumps(attrs, default=str, sort_keys=True),
                },
            )

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
        key = u.key("message", ident)
        reply = replies.setdefault(key, _Reply())
        sidechain = bool(obj.get("isSidechain")) or in_subagents
        slim = {k: obj.get(k) for k in _KEPT}  # keep only what the row needs, not the content
        slim["message"] = {k: msg.get(k) for k in ("id", "model", "stop_reason")}
        reply.lines.append(_Line(n, ts, slim, usage, cost, sidechain))
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
        lines = reply.lines
        with_usage = [ln for ln in lines if ln.usage is not None]
        # highest output wins; on ties a main-thread copy beats a sidechain replay, then the later line
        kept = max(with_usage or lines, key=_rank)
        home = [ln for ln in lines if not ln.sidechain] or lines  # a sidechain replay keeps no time
        first = min(home, key=lambda ln: (ln.ts, ln.line))
        obj, msg = kept.obj, kept.obj["message"]
        usage = kept.usage or {}
        model = u.nullish(msg.get("model")) or next(
            (m for ln in lines if (m := u.nullish(ln.obj["message"].get("model")))), None
        )
        synthetic = model == SYNTHETIC
        cost = (
            kept.cost
            if kept.cost is not None
            else next((ln.cost for ln in reversed(lines) if ln.cost is not None), None)
        )
        sidechain = all(ln.sidechain for ln in lines)
        session = u.nullish(obj.get("sessionId")) or fallback_session
        cwd = u.nullish(obj.get("cwd"))
        agent_id = u.nullish(obj.get("agentId"))
        if agent_id is None and sidechain and path.stem.startswith("agent-"):
            agent_id = path.stem[len("agent-") :]
        error = any(ln.obj.get("isApiErrorMessage") is True for ln in lines)
        tags = {
            k: v
            for k, v in {
                "cwd": cwd,
                "git_branch": u.nullish(obj.get("gitBranch")),
                "agent_id": agent_id if sidechain else None,
                "cli_version": u.nullish(obj.get("version")),
                "speed": usage.get("speed"),
            }.items()
            if v is not None
        }
        attrs = {
            "request_id": obj.get("requestId"),
            "uuid": first.obj.get("uuid"),
            "lines": len(lines),
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
            or _basename(cwd)
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
            "end_time": max(ln.ts for ln in home),
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
            "attributes": json.dumps(attrs, default=str, sort_keys=True),
            "row_key": key,
            "source_line": kept.line,
        }
