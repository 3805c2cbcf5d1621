"""OpenAI Codex CLI session rollouts: the JSONL Codex writes per session under
``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`` (and
``archived_sessions/``).

Detect: JSONL whose head has ``{timestamp, type, payload}`` lines with ``type`` in session_meta,
turn_context, event_msg, response_item, compacted (openai/codex ``RolloutLine``).
Parse: line by line (``parse_float=Decimal``); token events are collected, then turned into
per-call deltas (a fork's copied history must be seen as a whole before the first real call).
Normalise: one ``llm`` span per ``event_msg``/``token_count`` that adds usage (Codex writes one
after every model response). Usage is ``info.last_token_usage`` (reported); without it, the
difference of consecutive cumulative ``info.total_token_usage`` (derived). OpenAI counts are
inclusive: ``input_tokens`` includes ``cached_input_tokens`` (-> cache_read_tokens) and
``output_tokens`` includes ``reasoning_output_tokens`` (-> reasoning_tokens)
(docs/sources.md; ccusage codex README). No cache-write count exists (NULL).
model = the event's ``info.model``/``payload.model``, else the latest ``turn_context.model``
(request_model); NULL when never logged (early sessions; never guessed). provider =
``session_meta.model_provider`` (default ``openai``). trace_id = session_id =
``session_meta.id`` (else the uuid in the file name). workflow = ``[codex] workflow`` or top-level
``workflow`` in ctx.config, else the basename of the turn's ``cwd``. repo = the name in
``session_meta.git.repository_url`` (``.../payments-api.git`` -> ``payments-api``), else the
basename of the turn's ``cwd``; branch = ``session_meta.git.branch`` (openai/codex ``GitInfo``:
``commit_hash``, ``branch``, ``repository_url``, recorded once at session start). step = ``main``, or
``subagent:<kind>`` from ``session_meta.source`` (review, compact, guardian, a spawned agent's
role). start_time = the token_count time (the response's completion; the request start is not
logged), end_time NULL. No cost is logged.
Row key: session id + event timestamp + the cumulative totals (else the per-call usage): stable
when the rollout grows or is archived, so re-ingesting replaces. No replace_scope.
Quirks:
- ``token_count`` repeats with identical cumulative totals (rate-limit updates) -> skipped.
  Without cumulative totals a repeat cannot be told from an identical call and is counted.
- Cumulative totals that drop (context-window reset) restart the baseline at zero.
- ``last_token_usage`` with zero input and output (Codex ``fill_to_context_window``) -> no call.
- ``info`` null (rate-limit-only event) -> no call.
- Forked/spawned rollouts (``forked_from_id``, ``parent_thread_id``,
  ``source.subagent.thread_spawn``) start with the parent's history copied and re-stamped at the
  fork instant: token events within 1 s of the first session_meta are the parent's calls, skipped
  (their totals still set the baseline). ccusage's codex parser skips the same burst
  (``detect_subagent_replay_second``); counting it again inflated usage ~1.85x elsewhere.
  Copied ancestor session_meta lines do not change the session id.
- A fork whose own session_meta line is unreadable: a session_meta that follows an unreadable
  first line and names another session than the file name's UUID (Codex names each rollout
  ``rollout-<time>-<session id>.jsonl``) is an ancestor's, copied by the fork. The session id
  then comes from the file name, and the copied burst is skipped from that line's (re-stamped)
  time, as for a readable fork meta. Adopting the ancestor's meta counted the parent's history
  again under the parent's id. A file whose first line is another session's meta is adopted as
  before (a renamed rollout looks the same).
- ``cached_input_tokens > input_tokens`` can only mean an exclusive count: input is the sum.
- A trace is the whole session a person drives (``sessions = True``), not one run: the waste
  analyzer does not look for loops, tool loops or failed runs in it (errors and retries count).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

LINE_TYPES = frozenset({"session_meta", "turn_context", "event_msg", "response_item", "compacted"})
FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
TIERS = ("standard", "batch", "priority", "flex", "provisioned")
FORK_WINDOW = timedelta(seconds=1)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

Usage = dict[str, int | None]


def _usage(value: Any, what: str) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    out: Usage = {}
    for name in FIELDS:
        n = u.integer(value.get(name))
        if n is not None and n < 0:
            raise ValueError(f"negative {what}.{name}: {n}")
        out[name] = n
    return out


def _minus(cur: Usage, prev: Usage | None) -> Usage:
    return {k: None if v is None else v - ((prev or {}).get(k) or 0) for k, v in cur.items()}


def _dropped(cur: Usage, prev: Usage) -> bool:
    return any(v is not None and (prev.get(k) or 0) > v for k, v in cur.items())


def _basename(path: str | None) -> str | None:
    parts = [p for p in re.split(r"[\\/]", path or "") if p]
    return parts[-1] if parts else None


def _repo_name(url: Any) -> str | None:
    """The repository's name in a remote URL: ``git@host:org/name.git`` and
    ``https://host/org/name`` -> ``name``."""
    text = u.nullish(url)
    if text is None:
        return None
    last = re.split(r"[/:\\]", text.rstrip("/\\"))[-1]
    last = last[:-4] if last.endswith(".git") else last
    return last or None


def _step(source: Any) -> str:
    """session_meta.source: "cli" | "vscode" | "exec" | {"subagent": "review" | {...}}."""
    if not isinstance(source, dict) or "subagent" not in source:
        return "main"
    sub = source["subagent"]
    if isinstance(sub, str):
        return f"subagent:{sub}"
    if isinstance(sub, dict) and sub:
        kind, detail = next(iter(sub.items()))
        if isinstance(detail, str):
            return f"subagent:{detail}"
        if isinstance(detail, dict) and u.nullish(detail.get("agent_role")):
            return f"subagent:{detail['agent_role']}"
        return f"subagent:{kind}"
    return "subagent"


def _is_fork(meta: dict[str, Any]) -> bool:
    source = meta.get("source")
    sub = source.get("subagent") if isinstance(source, dict) else None
    spawn = isinstance(sub, dict) and "thread_spawn" in sub
    return bool(meta.get("forked_from_id") or meta.get("parent_thread_id") or spawn)


@dataclass
class _Event:
    line: int
    ts: datetime
    last: Usage | None
    total: Usage | None
    model: str | None
    turn: dict[str, Any]
    plan: str | None


def _json_line(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


@register_source
class CodexRollout(Source):
    name = "codex"
    title = "OpenAI Codex CLI session rollout (~/.codex/sessions/**/rollout-*.jsonl)"
    tables = ("spans",)
    row_key = "session id, event timestamp, cumulative token totals (else the call's usage)"
    distinct_duplicates = False
    priority = 20
    sessions = True  # a transcript is a person's session, not an application run

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind != "jsonl" or not sniff.has(b'"payload"'):  # cheap: skip json.loads
            return False
        for line in sniff.head.splitlines()[:50]:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if (
                isinstance(obj, dict)
                and u.known(obj.get("type"), LINE_TYPES)
                and isinstance(obj.get("payload"), dict)
            ):
                return True
        return False

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        meta: dict[str, Any] | None = None
        meta_ts: datetime | None = None
        fork_ts: datetime | None = None  # an ancestor's copied meta seen where ours was unreadable
        own_id = (_UUID.findall(path.stem) or [None])[-1]
        first_line = True
        turn: dict[str, Any] = {}
        plan: str | None = None  # ChatGPT plan from rate_limits: a session fact, kept once seen
        events: list[_Event] = []
        recognised = 0
        with u.open_text(path) as fh:
            for n, text in enumerate(fh, 1):
                if isinstance(text, u.LongLine):
                    yield Bad(str(n), str(text))
                    first_line = False
                    continue
                if not text.strip():
                    continue
                at_first, first_line = first_line, False
                obj = mapped(n, text, _json_line, text, reason="invalid JSON: ")
                if isinstance(obj, Bad):
                    yield obj
                    continue
                kind = obj.get("type") if isinstance(obj, dict) else None
                payload = obj.get("payload") if isinstance(obj, dict) else None
                if not u.known(kind, LINE_TYPES) or not isinstance(payload, dict):
                    yield Bad(
                        str(n),
                        "not a Codex rollout line ({timestamp, type, payload})",
                        u.raw_text(text),
                    )
                    continue
                recognised += 1
                if kind == "session_meta":
                    if meta is None and fork_ts is None:  # later ones are ancestors' copies
                        stamp = obj.get("timestamp") or payload.get("timestamp")
                        when = mapped(n, text, u.ts, stamp)
                        if isinstance(when, Bad):
                            yield when
                            continue
                        named = str(payload.get("id") or "").lower()
                        if not at_first and own_id and named not in ("", own_id.lower()):
                            fork_ts = when  # our own meta was lost: this is a fork's copy
                        else:
                            meta, meta_ts = payload, when
                elif kind == "turn_context":
                    turn = {**turn, **{k: v for k, v in payload.items() if v is not None}}
                elif kind == "event_msg" and payload.get("type") == "token_count":
                    rate = payload.get("rate_limits")
                    plan = (
                        u.nullish(rate.get("plan_type")) if isinstance(rate, dict) else None
                    ) or plan
                    event = mapped(n, text, self._event, n, obj, payload, turn, plan)
                    if isinstance(event, Bad):
                        yield event
                    elif event is not None:
                        events.append(event)
        if recognised == 0:
            raise SourceError(str(path), "no Codex rollout lines ({timestamp, type, payload})")
        if meta is not None:
            fork_ts = meta_ts if _is_fork(meta) else None
        yield from self._rows(path, ctx, meta or {}, own_id, fork_ts, events)

    @staticmethod
    def _event(
        n: int, obj: dict[str, Any], payload: dict[str, Any], turn: dict[str, Any], plan: str | None
    ) -> _Event | None:
        info = payload.get("info")
        if info is None:
            return None  # rate-limit snapshot only
        if not isinstance(info, dict):
            raise ValueError("token_count info is not an object")
        last = _usage(info.get("last_token_usage"), "last_token_usage")
        total = _usage(info.get("total_token_usage"), "total_token_usage")
        if last is None and total is None:
            return None
        ts = u.ts(obj.get("timestamp"))
        if ts is None:
            raise ValueError("token_count without a timestamp")
        model = u.nullish(info.get("model")) or u.nullish(payload.get("model"))
        return _Event(n, ts, last, total, model, dict(turn), plan)

    def _rows(
        self,
        path: Path,
        ctx: ParseContext,
        meta: dict[str, Any],
        own_id: str | None,
        fork_ts: datetime | None,
        events: list[_Event],
    ) -> Iterator[Row | Bad]:
        session = u.nullish(meta.get("id")) or own_id or u.storable(path.stem)
        provider = (u.nullish(meta.get("model_provider")) or "openai").lower()
        step = _step(meta.get("source"))
        copied_until = fork_ts + FORK_WINDOW if fork_ts else None
        section = ctx.config.get(self.name)
        override = (
            u.nullish(section.get("workflow")) if isinstance(section, dict) else None
        ) or u.nullish(ctx.config.get("workflow"))
        raw_git = meta.get("git")
        git: dict[str, Any] = raw_git if isinstance(raw_git, dict) else {}
        branch = u.nullish(git.get("branch"))
        remote_repo = _repo_name(git.get("repository_url"))
        prev: Usage | None = None
        for ev in events:
            if ev.total is not None and prev is not None and ev.total == prev:
                continue  # the same cumulative totals re-sent (rate-limit update)
            copied = copied_until is not None and ev.ts <= copied_until
            if copied_until is not None and not copied:
                copied_until = None  # suppression ends at the first real call and never restarts
            if ev.last is not None:
                delta, source = ev.last, "reported"
            else:
                total = ev.total or {}
                reset = prev is not None and _dropped(total, prev)
                delta, source = _minus(total, None if reset else prev), "derived"
            if ev.total is not None:
                prev = ev.total
            if copied or not any(delta.get(k) for k in FIELDS[:4]):
                continue
            inp, cached = delta["input_tokens"], delta["cached_input_tokens"]
            if inp is not None and cached is not None and cached > inp:
                inp += cached  # an exclusive count (defensive check)
            request_model = u.nullish(ev.turn.get("model"))
            model = ev.model or request_model
            cwd = u.nullish(ev.turn.get("cwd")) or u.nullish(meta.get("cwd"))
            ident = ev.total if ev.total is not None else ev.last
            key = u.key("codex", session, ev.ts.isoformat(), json.dumps(ident, sort_keys=True))
            tags = {
                k: v
                for k, v in {
                    "cwd": cwd,
                    "git_branch": branch,
                    "cli_version": u.nullish(meta.get("cli_version")),
                    "originator": u.nullish(meta.get("originator")),
                    "session_source": meta.get("source")
                    if isinstance(meta.get("source"), str)
                    else None,
                    "plan_type": ev.plan,
                    "effort": u.nullish(ev.turn.get("effort")),
                }.items()
                if v is not None
            }
            attrs = {
                "turn_id": ev.turn.get("turn_id"),
                "total_tokens": delta.get("total_tokens"),
                "cumulative": ev.total,
                "model_source": "event"
                if ev.model
                else ("turn_context" if request_model else "missing"),
            }
            yield (
                "spans",
                {
                    "trace_id": session,
                    "span_id": key[:16],
                    "parent_span_id": None,
                    "workflow": override or _basename(cwd),
                    "step": step,
                    "session_id": session,
                    "span_kind": "llm",
                    "operation": "chat",
                    "name": f"chat {model or 'unknown'}",
                    "start_time": ev.ts,
                    "end_time": None,
                    "status": "ok",
                    "provider": provider,
                    "model": model,
                    "request_model": request_model,
                    "service_tier": u.enum(ev.turn.get("service_tier"), TIERS),
                    "input_tokens": inp,
                    "cache_read_tokens": cached,
                    "cache_write_tokens": None,
                    "output_tokens": delta["output_tokens"],
                    "reasoning_tokens": delta["reasoning_output_tokens"],
                    "usage_scope": "self",
                    "usage_source": source,
                    "tags": tags or None,
                    "attributes": json.dumps(attrs, default=str, sort_keys=True),
                    "repo": remote_repo or _basename(cwd),
                    "branch": branch,
                    "row_key": key,
                    "source_line": ev.line,
                },
            )
