"""OpenTelemetry traces as OTLP/JSON: the Collector ``file`` exporter's output (one
``ExportTraceServiceRequest`` per line, docs/sources.md) or one OTLP/JSON document,
with GenAI spans from OTel GenAI semconv, OpenInference, OpenLLMetry/Traceloop or the Vercel AI SDK.

Detect: JSON Lines whose first object has ``resourceSpans``, or a JSON document that starts with it.
Parse: batch by batch; each span keeps its resource and scope. Usage scope, workflow and inherited
session/user need the span tree, so a file's spans are held until its end. Trees are per file: when a
rotated file holds a parent whose children sit in another file, the parent cannot see them and its
usage counts as its own (a Vercel ``ai.generateText`` would then be counted beside its
``doGenerate`` steps). Children end before their parents, so the Collector writes them first; a
split needs a rotation between the two. Ingest such files concatenated into one.
Normalise: AnyValue attributes to Python values; ids to lower-case hex; ``*UnixNano`` to UTC.
`costlab.ingest.genai_attrs` maps the attribute dialects (kind, tokens made inclusive of cache and
reasoning per docs/schema.md, models via `costlab.names`, prompt and completion). Per trace:
- ``usage_scope`` by `costlab.ingest.util.usage_tree`: a span is ``rollup`` whenever an
  llm/embedding descendant carries usage (Vercel ``ai.generateText``/``ai.streamText``/``ai.embedMany``
  over their ``.do*`` steps, ``invoke_agent``, OpenInference AGENT/CHAIN, an LLM span over an LLM
  span), whatever its numbers equal (one child's, the sum); ``self`` if it carries usage and
  no such descendant; ``none`` without usage. No usage values are compared.
- ``usage_source``: ``reported`` (``derived`` when input = total - output). An llm/embedding call
  without usage is ``estimated`` with `costlab.tokens` from its prompt (and completion) text, unless an
  enclosing llm span reports the usage (then NULL: the wrapper is the call) or a descendant is the
  call; without text ``missing``.
- workflow: configured ``workflow_attributes`` > gen_ai.workflow.name > traceloop.workflow.name >
  ai.telemetry.functionId (on the span or nearest ancestor) > trace name (langfuse.trace.name) >
  root span name. step: traceloop.entity.name (for llm/embedding calls also the nearest ancestor's,
  i.e. the Traceloop task), agent or tool name, else the span name. session/user: the span's, the
  nearest ancestor's, else any span's in the trace.
- ``attributes``: JSON ``{attributes, resource, scope, kind, events, status_message}``; prompt and
  completion payloads are dropped from it, and ``prompt_text`` / ``completion_text`` left NULL,
  unless keep_text (tool schemas too: an llm call that declares tools gets the ``costlab.tools``
  counts, tokens and hashes of `costlab.ingest.tool_schemas` instead). ``tags``: user metadata, service
  name. ``model_raw``: the name as found.
Settings read: ``workflow_attributes`` (keys), ``azure_deployments`` (deployment -> model),
``prefix_block_tokens`` (default `costlab.tokens.DEFAULT_BLOCK_TOKENS`).
Row key: (trace_id, span_id): a span re-sent by an exporter retry or in overlapping rotated files
replaces the earlier copy (within one file the copy with an end time wins, then the later).
No replace_scope: a trace file never re-delivers a complete scope.
Quirks:
- Ids are case-insensitive hex (the proto example is upper case); base64 ids are decoded.
- 64-bit ints arrive as strings or numbers; doubles may be "NaN"/"Infinity".
- Pre-1.0 ``instrumentationLibrarySpans`` / ``instrumentationLibrary`` are read too.
- A non-JSON line, a batch without resourceSpans (e.g. resourceLogs) or a span without
  traceId/spanId/start time is Bad; the rest of the file is kept.
- Indexed attributes are ordered numerically, gaps allowed (``...messages.10`` after ``.9``).
- ``gen_ai.client.inference.operation.details`` span events carry span-level keys: merged.
- Vercel AI SDK <= 5 ``doGenerate``/``doStream`` spans write only ``ai.usage.promptTokens`` /
  ``completionTokens``; the cache and reasoning counts sit in ``ai.response.providerMetadata`` (JSON
  text), keyed by provider (`costlab.ingest.genai_attrs._META_KEYS`). Read from the vercel/ai sources:
  https://github.com/vercel/ai/blob/main/packages/ai/src/generate-text/generate-text.ts (attributes),
  https://github.com/vercel/ai/blob/65e042afde6aad4da9d7a62526ece839eb34f9a5/packages/openai/src/openai-chat-language-model.ts
  and .../packages/openai/src/responses/openai-responses-language-model.ts (``openai.cachedPromptTokens``
  inside prompt_tokens, ``reasoningTokens`` inside completion_tokens; Azure reuses them),
  https://github.com/vercel/ai/blob/main/packages/openai-compatible/src/openai-compatible-chat-language-model.ts
  (the same keys under the provider's own name: ``xai``, ``togetherai``, ...),
  https://github.com/vercel/ai/blob/main/packages/xai/src/convert-xai-chat-usage.ts (xAI's
  completion_tokens exclude reasoning: added),
  https://github.com/vercel/ai/blob/main/packages/deepseek/src/deepseek-metadata-extractor.ts
  (``deepseek.promptCacheHitTokens`` inside prompt_tokens),
  https://github.com/vercel/ai/blob/65e042afde6aad4da9d7a62526ece839eb34f9a5/packages/anthropic/src/anthropic-messages-language-model.ts,
  https://github.com/vercel/ai/blob/main/packages/anthropic/src/anthropic-message-metadata.ts and
  https://github.com/vercel/ai/blob/main/packages/anthropic/src/convert-anthropic-messages-usage.ts
  (``anthropic.cacheReadInputTokens``/``cacheCreationInputTokens``, raw ``usage``; promptTokens is
  input_tokens without cache in AI SDK 4/5 and the inclusive total in 6: the raw ``usage.input_tokens``
  beside it tells which),
  https://github.com/vercel/ai/blob/main/packages/google/src/convert-google-generative-ai-usage.ts
  (``google.usageMetadata.cachedContentTokenCount`` inside promptTokenCount, ``thoughtsTokenCount``
  outside candidatesTokenCount: added),
  https://github.com/vercel/ai/blob/65e042afde6aad4da9d7a62526ece839eb34f9a5/packages/amazon-bedrock/src/bedrock-chat-language-model.ts
  (``bedrock.usage.cacheReadInputTokens``/``cacheWriteInputTokens``, inputTokens without cache), and
  https://github.com/OpenRouterTeam/ai-sdk-provider/blob/main/src/chat/index.ts
  (``openrouter.usage.promptTokensDetails.cachedTokens``). AI SDK 5 puts OpenAI's and Bedrock's cache
  reads into ``usage`` only, which its ``doGenerate`` spans do not write: they stay unknown there.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from costlab import tokens
from costlab.errors import SourceError
from costlab.ingest import genai_attrs as g
from costlab.ingest import tool_schemas
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

_STATUS = {
    0: "unset",
    1: "ok",
    2: "error",
    "status_code_unset": "unset",
    "status_code_ok": "ok",
    "status_code_error": "error",
}
_USAGE_COLUMNS = (
    "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
    "usage_source", "reported_cost_currency", "prompt_hash", "message_tokens", "prefix_hashes",
    "prefix_block_tokens", "prompt_text", "completion_text",
)  # fmt: skip
_CALLS = ("llm", "embedding")
_FEATURES = ("prompt_hash", "message_tokens", "prefix_hashes", "prefix_block_tokens")
_HEX = re.compile(r"^(0x)?([0-9a-fA-F]+)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _any(value: Any) -> Any:
    """An OTLP AnyValue as a Python value (raw JSON values pass through)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return u.integer(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        b = value["boolValue"]
        return b if isinstance(b, bool) else str(b).lower() == "true"
    if "arrayValue" in value:
        return [_any(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return _attrs((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _resource_spans(rs: Any) -> tuple[dict[str, Any], Any]:
    """The resource attributes and scope spans of one ``resourceSpans`` entry."""
    resource = _attrs(((rs or {}).get("resource") or {}).get("attributes"))
    return resource, rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []


def _attrs(items: Any) -> dict[str, Any]:
    if items is None:
        return {}
    if isinstance(items, dict):  # hand-written {key: value}
        return {str(k): _any(v) for k, v in items.items()}
    out = {}
    for kv in items:
        if not isinstance(kv, dict) or "key" not in kv:
            raise ValueError(f"attribute is not a {{key, value}} pair: {str(kv)[:60]!r}")
        out[str(kv["key"])] = _any(kv.get("value"))
    return out


def _id(value: Any, nbytes: int) -> str | None:
    """Lower-case hex id; base64 (generic proto3 JSON) decoded; all-zero/empty -> None."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    m = _HEX.match(text)
    if m and len(m.group(2)) == 2 * nbytes:
        hexid = m.group(2).lower()
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != nbytes:
            raise ValueError(f"not a {nbytes}-byte id: {text[:40]!r}")
        hexid = raw.hex()
    return None if hexid.strip("0") == "" else hexid


def _time(value: Any) -> datetime | None:
    ns = u.integer(value)
    if not ns:
        return None
    return _EPOCH + timedelta(seconds=ns // 10**9, microseconds=(ns % 10**9) // 1000)


def _first_inherited(sid: str, spans: dict[str, dict[str, Any]], key: str) -> Any:
    """The value at ``key`` on the span or its nearest ancestor in the file."""
    seen = set()
    cur: str | None = sid
    while cur in spans and cur not in seen:
        seen.add(cur)
        value = spans[cur]["_inherit"].get(key)
        if value is not None:
            return value
        cur = spans[cur]["parent_span_id"]
    return None


def _root(sid: str, spans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seen = set()
    cur = spans[sid]
    while cur["parent_span_id"] in spans and cur["span_id"] not in seen:
        seen.add(cur["span_id"])
        cur = spans[cur["parent_span_id"]]
    return cur


@register_source
class OtlpJson(Source):
    name = "otlp_json"
    title = (
        "OpenTelemetry traces, OTLP/JSON (GenAI semconv, OpenInference, OpenLLMetry, Vercel AI SDK)"
    )
    tables = ("spans",)
    row_key = "trace_id, span_id (a re-sent span replaces the earlier one)"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        if sniff.kind == "jsonl":
            obj = sniff.first_object
            return isinstance(obj, dict) and "resourceSpans" in obj
        return sniff.kind == "json" and '"resourceSpans"' in sniff.head[:2048]

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        self.ctx = ctx
        self.spans: dict[tuple[str, str], dict[str, Any]] = {}
        bad: list[Bad] = []
        batches = 0
        for where, line, batch in self._batches(path):
            if isinstance(batch, Exception):
                bad.append(Bad(where, f"not JSON: {batch}", ""))
                continue
            if not isinstance(batch, dict) or not isinstance(batch.get("resourceSpans"), list):
                other = next(
                    (
                        k
                        for k in ("resourceLogs", "resourceMetrics")
                        if isinstance(batch, dict) and k in batch
                    ),
                    None,
                )
                reason = f"OTLP {other} batch, not traces" if other else "no resourceSpans list"
                bad.append(Bad(where, reason, u.raw_text(batch)))
                continue
            batches += 1
            bad.extend(self._read_batch(batch, where, line))
        if not batches and bad:
            raise SourceError(
                str(path), f"no OTLP/JSON trace batch found ({bad[0].location}: {bad[0].reason})"
            )
        yield from bad
        yield from self._finish()

    def _batches(self, path: Path) -> Iterator[tuple[str, int, Any]]:
        if Sniff(path).kind != "jsonl":
            try:
                doc = u.load_json(path)
            except ValueError:
                doc = None  # maybe JSON Lines whose first line is broken
            else:
                for i, batch in enumerate(doc if isinstance(doc, list) else [doc], 1):
                    yield f"batch {i}", 1, batch
                return
        for n, obj in u.json_lines(path):
            yield f"line {n}", n, obj

    def _read_batch(self, batch: dict[str, Any], where: str, line: int) -> list[Bad]:
        bad = []
        k = 0
        for rs in batch["resourceSpans"]:
            read = mapped(where, rs, _resource_spans, rs, reason="bad resource: ")
            if isinstance(read, Bad):
                bad.append(read)
                continue
            resource, scopes = read
            for ss in scopes:
                if not isinstance(ss, dict) or not isinstance(ss.get("spans") or [], list):
                    bad.append(
                        Bad(where, "scopeSpans entry is not {scope, spans[]}", u.raw_text(ss))
                    )
                    continue
                scope = ss.get("scope") or ss.get("instrumentationLibrary") or {}
                scope = scope if isinstance(scope, dict) else {}
                for span in ss.get("spans") or []:
                    k += 1
                    got = mapped(f"{where} span {k}", span, self._read_span, span, resource, scope, line)
                    if isinstance(got, Bad):
                        bad.append(got)
        return bad

    def _read_span(
        self, span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any], line: int
    ) -> None:
        trace_id, span_id = _id(span.get("traceId"), 16), _id(span.get("spanId"), 8)
        if not trace_id or not span_id:
            raise ValueError("span has no traceId or spanId")
        start = _time(span.get("startTimeUnixNano"))
        if start is None:
            raise ValueError("span has no startTimeUnixNano")
        end = _time(span.get("endTimeUnixNano"))
        attrs = _attrs(span.get("attributes"))
        events = [
            (str(e.get("name") or ""), _attrs(e.get("attributes")))
            for e in span.get("events") or []
        ]
        for name, ev in events:  # semconv >= 1.37 details event: same keys as the span
            if name == "gen_ai.client.inference.operation.details":
                attrs = {**ev, **attrs}
        name = str(span.get("name") or "")
        ctx = self.ctx
        kind = g.span_kind(attrs, name)
        provider, model, request_model, model_raw = g.models(
            attrs, ctx.config.get("azure_deployments")
        )
        use = g.usage(attrs)
        code = (span.get("status") or {}).get("code", 0)
        msgs = g.prompt_messages(attrs, events)
        answer = g.completion(attrs, events)
        row: dict[str, Any] = {
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": _id(span.get("parentSpanId"), 8),
            "span_kind": kind,
            "operation": g.operation(attrs),
            "name": name,
            "start_time": start,
            "end_time": end,
            "status": _STATUS.get(code.lower() if isinstance(code, str) else code, str(code)),
            "provider": provider,
            "model": model,
            "request_model": request_model,
            "service_tier": g.service_tier(attrs),
            "reported_cost": g.reported_cost(attrs),
            "request_id": g.first(attrs, ("gen_ai.response.id", "ai.response.id")),
            **dict.fromkeys(_USAGE_COLUMNS),
            "row_key": u.key(trace_id, span_id),
            "source_line": line,
        }
        if row["reported_cost"] is not None:
            row["reported_cost_currency"] = "USD"
        if use is not None:
            row.update(
                input_tokens=use.input, output_tokens=use.output, cache_read_tokens=use.cache_read,
                cache_write_tokens=use.cache_write, reasoning_tokens=use.reasoning,
                usage_source="derived" if use.derived else "reported",
            )  # fmt: skip
        row["_model_for_tokens"] = model or request_model
        self._prompt_fields(row, msgs, answer, kind)
        row["model_raw"] = model_raw
        row["tags"] = g.tags(attrs, resource) or None
        row["attributes"] = self._attributes_json(
            span, attrs, events, resource, scope, self._tools(attrs, answer, kind, row)
        )
        configured = ctx.config.get("workflow_attributes") or ()
        configured = [configured] if isinstance(configured, str) else list(configured)
        row["_inherit"] = {
            "workflow": g.first(attrs, [*configured, *g.WORKFLOW_KEYS]),
            "trace_name": g.first(attrs, g.TRACE_NAME_KEYS),
            "session": g.first(attrs, g.SESSION_KEYS),
            "user": g.first(attrs, g.USER_KEYS),
            "entity": attrs.get(g.ENTITY_KEY),
            "own_step": attrs.get(g.ENTITY_KEY)
            or (g.first(attrs, ("gen_ai.agent.name", "agent.name")) if kind == "agent" else None)
            or (
                g.first(attrs, ("gen_ai.tool.name", "tool.name", "ai.toolCall.name"))
                if kind == "tool"
                else None
            ),
        }
        key = (trace_id, span_id)
        old = self.spans.get(key)
        if old is None or end is not None or old["end_time"] is None:
            self.spans.pop(key, None)  # re-insert: the kept copy takes the later file position
            self.spans[key] = row

    def _prompt_fields(self, row: dict[str, Any], msgs: Any, answer: Any, kind: str) -> None:
        """Prompt hash, per-message tokens and prefix chain; the estimate kept for `_tree`."""
        model = row["_model_for_tokens"]
        if msgs:
            block = int(self.ctx.config.get("prefix_block_tokens") or tokens.DEFAULT_BLOCK_TOKENS)
            feats = tokens.prompt_features(msgs, model=model, block_tokens=block)
            row.update((k, feats[k]) for k in _FEATURES)
            row["_input_estimate"] = feats["input_tokens_estimate"]
            if kind == "embedding":  # embedding inputs carry no chat-message overhead
                row["_input_estimate"] = sum(
                    tokens.count(self._text([m]) or "", model) for m in msgs
                )
        row["_output_text"] = self._text(answer)
        if self.ctx.keep_text:
            normalised = tokens.normalise_messages(msgs) if msgs else None
            row["prompt_text"] = json.dumps(normalised, ensure_ascii=False) if normalised else None
            row["completion_text"] = row["_output_text"]

    def _tools(self, attrs: dict[str, Any], answer: Any, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        """``costlab.tools`` of an llm call that declares tools (costlab/ingest/tool_schemas.py)."""
        if kind != "llm":
            return {}
        defs = tool_schemas.definitions(attrs)
        if not defs:
            return {}
        seen = tool_schemas.called(answer, attrs.get("ai.response.toolCalls"))
        return tool_schemas.summary(defs, row["_model_for_tokens"], self.ctx.keep_text, seen)

    def _attributes_json(
        self,
        span: dict[str, Any],
        attrs: dict[str, Any],
        events: list[tuple[str, dict[str, Any]]],
        resource: dict[str, Any],
        scope: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> str:
        keep = self.ctx.keep_text

        def clean(a: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in a.items() if keep or not g.is_content(k)}

        doc = {
            "attributes": clean(attrs),
            "resource": resource,
            "scope": {"name": scope.get("name"), "version": scope.get("version")},
            "kind": span.get("kind"),
            "events": [{"name": n, "attributes": clean(a)} for n, a in events],
            "status_message": (span.get("status") or {}).get("message") or None,
            **(extra or {}),
        }
        return json.dumps(doc, ensure_ascii=False, default=str)

    @staticmethod
    def _text(answer: Any) -> str | None:
        if answer is None or answer == "":
            return None
        if isinstance(answer, str):
            return answer
        pieces = []
        for msg in tokens.normalise_messages(answer):
            content = msg["content"]
            if isinstance(content, str):
                pieces.append(content)
            else:
                pieces += [
                    p.get("text") or json.dumps(p.get("arguments"))
                    for p in content
                    if p.get("type") in ("text", "tool_call")
                ]
        return "\n".join(p for p in pieces if p) or None

    def _finish(self) -> Iterator[Row]:
        traces: dict[str, dict[str, dict[str, Any]]] = {}
        for (trace_id, span_id), row in self.spans.items():
            traces.setdefault(trace_id, {})[span_id] = row
        for spans in traces.values():
            self._tree(spans)
        for row in self.spans.values():
            for k in [k for k in row if k.startswith("_")]:
                del row[k]
            yield "spans", row

    def _tree(self, spans: dict[str, dict[str, Any]]) -> None:
        """Usage scope and estimation (the `costlab.ingest.util.usage_tree` rule), then
        workflow/step/session/user, over one trace's span tree."""
        calls = [s for s, r in spans.items() if r["span_kind"] in _CALLS and r["usage_source"]]
        estimable = [
            s
            for s, r in spans.items()
            if r["span_kind"] in _CALLS
            and not r["usage_source"]
            and r.get("_input_estimate") is not None
        ]
        parents = {s: r["parent_span_id"] for s, r in spans.items()}
        tree = u.usage_tree(parents, calls, estimable)
        for sid in tree.estimated:
            row = spans[sid]
            row["input_tokens"] = row["_input_estimate"]
            text = row.get("_output_text")
            row["output_tokens"] = tokens.count(text, row["_model_for_tokens"]) if text else None
            row["usage_source"] = "estimated"
        for sid, row in spans.items():  # an llm span whose call is neither above nor below it
            if row["span_kind"] in _CALLS and not row["usage_source"]:
                covered = sid in tree.rollups or sid in tree.wrapped
                row["usage_source"] = None if covered else "missing"
        any_of = {
            k: next(
                (r["_inherit"][k] for r in spans.values() if r["_inherit"][k] is not None), None
            )
            for k in ("trace_name", "session", "user")
        }
        for sid, row in spans.items():
            has = row.get("input_tokens") is not None or row.get("output_tokens") is not None
            row["usage_scope"] = u.usage_scope(sid, has, tree)
            row["workflow"] = (
                _first_inherited(sid, spans, "workflow")
                or any_of["trace_name"]
                or _root(sid, spans)["name"]
                or None
            )
            step = row["_inherit"]["own_step"]
            if step is None and row["span_kind"] in _CALLS:
                step = _first_inherited(sid, spans, "entity")
            row["step"] = step or row["name"] or None
            row["session_id"] = _first_inherited(sid, spans, "session") or any_of["session"]
            row["user_id"] = _first_inherited(sid, spans, "user") or any_of["user"]
            for col in ("workflow", "step", "session_id", "user_id"):
                if row[col] is not None:
                    row[col] = str(row[col])
