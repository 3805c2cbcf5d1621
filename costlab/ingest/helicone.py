"""Helicone request logs: ``HeliconeRequest`` rows from ``POST /v1/request/query-clickhouse`` (and
the older ``/v1/request/query``), as the JSON page (``{"data": [...]}``) or an array, and the
``@helicone/export`` tool's JSON, JSONL and CSV files (docs.helicone.ai/tools/export).

Detect: a JSON/JSONL record with ``request_id`` + ``request_created_at`` and Helicone fields
(``response_status``, ``request_properties``, ``cache_reference_id``, ``delay_ms``, ``target_url``,
``costUSD``, ...), or the export tool's CSV header (``response_id``, ``request_created_at``,
``request_properties``, ``prompt_tokens``). LiteLLM rows (``call_type``) are not Helicone's.
Parse: trace_json.records in file order (JSON numbers as Decimal; the record readers are shared with
`costlab.ingest.litellm`); ``request_properties``/``properties``, ``request_body`` and
``response_body`` may be objects or JSON text.
Normalise: one span per request. Helicone stores ``prompt_tokens`` EXCLUSIVE of cache reads and
writes (and of input audio): jawn's OpenAI body processor stores ``prompt_tokens - cached_tokens -
audio_tokens``, the Anthropic one stores Anthropic's ``input_tokens``, the AI-gateway ``ModelUsage``
is documented "Excluding cached or audio tokens", and ``costOfPrompt`` prices prompt_tokens as
"the fresh, uncached tokens" plus the cache parts (Helicone/helicone ``valhalla/jawn/src/lib/shared/
bodyProcessors/*``, ``packages/cost/{index.ts,usage/types.ts}``). So input_tokens = prompt_tokens +
prompt_cache_read_tokens + prompt_cache_write_tokens + prompt_audio_tokens (config
``helicone_prompt_tokens = "inclusive"`` turns this off for data from an older pipeline).
output_tokens = completion_tokens + completion_audio_tokens, unless the stored response body's own
usage reports more (the gateway's ModelUsage drops reasoning tokens from completion_tokens): then
the provider's count is used and reasoning_tokens comes from its ``*_tokens_details``.
reported_cost = ``cost`` (USD: the API divides ClickHouse's nano-dollars by 1e9), else ``costUSD``;
a raw ``request_response_rmt`` dump (``organization_id`` + ``proxy_key_id``) holds nano-dollars
and is divided by 10^9 exactly. provider/model via `costlab.names` (model = ``model_override``
> ``response_model`` > the stored response body's ``model`` > ``model`` > ``request_model``).
trace_id/session_id = property ``Helicone-Session-Id`` (else the request id); step = property
``step`` else ``Helicone-Session-Path``; user_id = ``request_user_id``. workflow: the first of
the configured ``workflow_attributes`` (default ``workflow``, ``workflow_name``,
``Helicone-Session-Name``) found among the custom properties, matched case-insensitively with or
without ``Helicone-Property-`` (Helicone stores the header name after that prefix, lower-cased by
the Fetch Headers API).
tags = all properties plus ``helicone_user``, ``prompt_id``, ``gateway_cache_hit``. request_id = the
provider's response id from the stored body (``response_body.id``) when present, else Helicone's.
Row key: Helicone's ``request_id`` (``response_id`` in the export CSV, which has no request_id); a
re-exported request replaces the earlier one; no replace_scope (exports are filtered slices).
Quirks:
- Cache hits are logged as their own request with ``cache_reference_id`` = the original request
  (not the zero UUID) and zero tokens and cost ("We don't track tokens on cache hits, since cost is
  0": jawn ``HandlerContext.toHeliconeRequest``): usage_scope ``none``, tag gateway_cache_hit.
- ``response_status`` >= 400 (or negative) is an error; with no tokens and no cost it billed nothing
  (usage_scope ``none``).
- The export CSV has 12 columns only: no request_id and no cache-token columns, so input_tokens is
  prompt_tokens (a lower bound when prompt caching was used) and cache parts are NULL. Its old
  writer escaped quotes twice (``{""k"":""v""}`` after CSV unquoting); that is undone.
- ClickHouse times come without a zone (``2025-06-01 12:00:00.000``): read as UTC.
- Manual-logger tool / vector-DB events (``request_body._type``) are tool / retrieval spans.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab import tokens
from costlab.ingest import trace_json as tj
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source
from costlab.ingest.registry import register_source
from costlab.names import normalise_model, normalise_provider

DEFAULT_WORKFLOW_KEYS = ("workflow", "workflow_name", "helicone-session-name")
DEFAULT_UUID = "00000000-0000-0000-0000-000000000000"
NANO = Decimal(10) ** 9
_PREFIX = "helicone-property-"
_CSV = frozenset({"response_id", "request_created_at", "request_properties", "prompt_tokens"})
_MARKERS = frozenset(
    "response_status request_properties cache_reference_id delay_ms target_url costusd "
    "helicone_user prompt_cache_read_tokens request_path".split()
)


def _json(value: Any) -> Any:
    """Objects pass through; JSON text is decoded (also the export CSV's doubled quotes)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "{[":
        return text or None
    for candidate in (text, text.replace('""', '"')):
        try:
            return json.loads(candidate, parse_float=Decimal)
        except (ValueError, RecursionError):
            continue
    raise ValueError(f"not valid JSON: {text[:60]!r}")


def _prop_key(key: str) -> str:
    k = key.strip().lower()
    return k[len(_PREFIX) :] if k.startswith(_PREFIX) else k


def _messages(body: Any) -> Any:
    """The prompt of an OpenAI / Anthropic / Responses request body (system first)."""
    if not isinstance(body, dict):
        return None
    msgs = body.get("messages")
    if msgs is None:
        msgs = body.get("input")
    if isinstance(msgs, str):
        msgs = [{"role": "user", "content": msgs}]
    if not isinstance(msgs, list) or not msgs:
        return None
    system = body.get("system") or body.get("instructions")
    return [{"role": "system", "content": system}, *msgs] if system else msgs


def _answer(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    pieces = [
        c["message"]["content"]
        for c in body.get("choices") or []
        if isinstance(c, dict)
        and isinstance(c.get("message"), dict)
        and isinstance(c["message"].get("content"), str)
    ]
    pieces += [
        b["text"]
        for b in body.get("content") or []
        if isinstance(b, dict) and isinstance(b.get("text"), str)
    ]
    return "\n".join(pieces) or None


@register_source
class HeliconeRequests(Source):
    name = "helicone"
    title = "Helicone request logs (API query / @helicone/export JSON, JSONL, CSV)"
    tables = ("spans",)
    row_key = "Helicone request_id (response_id in the export CSV); a re-export replaces"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        keys = tj.record_columns(sniff)
        if keys is None or sniff.kind == "csv":
            return keys is not None and _CSV <= keys
        return (
            {"request_id", "request_created_at"} <= keys
            and "call_type" not in keys
            and bool(keys & _MARKERS)
        )

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        keys = tuple(_prop_key(k) for k in tj.workflow_keys(ctx, DEFAULT_WORKFLOW_KEYS))
        inclusive = str(ctx.config.get("helicone_prompt_tokens") or "").lower() == "inclusive"
        block = int(ctx.config.get("prefix_block_tokens") or tokens.DEFAULT_BLOCK_TOKENS)

        def map_record(n: int, rec: dict[str, Any]) -> dict[str, Any]:
            return self._row(n, rec, ctx, keys, inclusive, block)

        yield from tj.record_rows(path, self.title, map_record)

    def _row(
        self,
        n: int,
        rec: dict[str, Any],
        ctx: ParseContext,
        keys: tuple[str, ...],
        inclusive: bool,
        block: int,
    ) -> dict[str, Any]:
        r = {str(k).lower(): v for k, v in rec.items()}
        helicone_id = u.nullish(r.get("request_id")) or u.nullish(r.get("response_id"))
        if helicone_id is None:
            raise ValueError("record has no request_id or response_id")
        start = u.ts(r.get("request_created_at"))
        if start is None:
            raise ValueError("record has no request_created_at")
        end = u.ts(r.get("response_created_at"))
        props_raw = _json(r.get("properties")) or _json(r.get("request_properties")) or {}
        if not isinstance(props_raw, dict):
            raise ValueError("properties are not an object")
        props = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in props_raw.items()}
        by_key = {_prop_key(k): v for k, v in props.items() if u.nullish(v) is not None}

        prompt = u.count(r.get("prompt_tokens"), "prompt_tokens")
        has_cache_cols = "prompt_cache_read_tokens" in r or "prompt_cache_write_tokens" in r
        read = u.count(r.get("prompt_cache_read_tokens"), "cache read tokens")
        write = u.count(r.get("prompt_cache_write_tokens"), "cache write tokens")
        audio_in = u.count(r.get("prompt_audio_tokens"), "prompt audio tokens")
        if has_cache_cols and prompt is not None:
            read, write = read or 0, write or 0
        input_tokens = prompt
        if prompt is not None and not inclusive:
            input_tokens = prompt + (read or 0) + (write or 0) + (audio_in or 0)
        completion = u.count(r.get("completion_tokens"), "completion_tokens")
        audio_out = u.count(r.get("completion_audio_tokens"), "completion audio tokens")
        output = completion + (audio_out or 0) if completion is not None else None
        response = _json(r.get("response_body"))
        usage = response.get("usage") if isinstance(response, dict) else None
        reasoning = None
        rule = "stored"
        if isinstance(usage, dict):
            details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
            if isinstance(details, dict):
                reasoning = u.count(details.get("reasoning_tokens"), "reasoning_tokens")
            provider_out = u.count(
                usage.get("completion_tokens", usage.get("output_tokens")), "output tokens"
            )
            if provider_out is not None and (output is None or provider_out > output):
                output, rule = provider_out, "response_body.usage"

        cost = u.money(r.get("cost")) if u.nullish(r.get("cost")) is not None else None
        if cost is None:
            cost = u.money(r.get("costusd"))
        elif "organization_id" in r and "proxy_key_id" in r:  # raw ClickHouse row: nano-USD
            cost = u.money(cost / NANO)

        ref = u.nullish(r.get("cache_reference_id"))
        cache_hit = ref is not None and ref != DEFAULT_UUID
        status_code = u.integer(r.get("response_status", r.get("status")))
        error = status_code is not None and not 0 <= status_code < 400
        request = _json(r.get("request_body"))
        event = request.get("_type") if isinstance(request, dict) else None
        path = str(r.get("request_path") or r.get("target_url") or "")
        kind = {"tool": "tool", "vector_db": "retrieval"}.get(str(event)) or (
            "embedding" if "embeddings" in path else "llm"
        )
        billed = bool(cost) or bool(input_tokens) or bool(output)
        if cache_hit or kind in ("tool", "retrieval") or (error and not billed):
            scope = "none"
        else:
            scope = "self"

        prov_raw = u.nullish(r.get("provider"))
        provider = normalise_provider(prov_raw)
        body_model = response.get("model") if isinstance(response, dict) else None
        candidates = (r.get("model_override"), r.get("response_model"), body_model, r.get("model"))
        raw_model = next(
            (m for m in map(u.nullish, (*candidates, r.get("request_model"))) if m), None
        )
        azure = ctx.config.get("azure_deployments")
        model = normalise_model(provider, raw_model, azure) if raw_model else None
        session = by_key.get("helicone-session-id")
        provider_id = u.nullish(response.get("id")) if isinstance(response, dict) else None
        extra = {
            "helicone_user": u.nullish(r.get("helicone_user")),
            "prompt_id": u.nullish(r.get("prompt_id")),
            "model_raw": raw_model if raw_model != model else None,
            "gateway_cache_hit": "true" if cache_hit else None,
        }
        tags = {**props, **{k: v for k, v in extra.items() if v is not None}}
        attrs = {
            "helicone_request_id": u.nullish(r.get("request_id")),
            "helicone_response_id": u.nullish(r.get("response_id")),
            "response_status": status_code,
            "request_path": u.nullish(r.get("request_path")),
            "delay_ms": u.integer(r.get("delay_ms", r.get("latency"))),
            "time_to_first_token": u.integer(r.get("time_to_first_token")),
            "cache_reference_id": ref if cache_hit else None,
            "cache_enabled": r.get("cache_enabled"),
            "provider_raw": prov_raw,
            "output_tokens_rule": rule,
            "prompt_tokens_rule": "inclusive" if inclusive else "exclusive",
        }
        row: dict[str, Any] = {
            "trace_id": session or helicone_id,
            "span_id": helicone_id,
            "workflow": next((by_key[k] for k in keys if k in by_key), None),
            "step": by_key.get("step") or by_key.get("helicone-session-path"),
            "session_id": session,
            "user_id": u.nullish(r.get("request_user_id")) or u.nullish(r.get("user_id")),
            "span_kind": kind,
            "operation": {"llm": "chat", "embedding": "embeddings", "tool": "execute_tool"}.get(
                kind
            ),
            "name": f"{kind} {model or 'unknown'}",
            "start_time": start,
            "end_time": end if end is not None and end >= start else None,
            "status": None if status_code is None else ("error" if error else "ok"),
            "provider": provider,
            "model": model,
            "request_model": u.nullish(r.get("request_model")),
            "input_tokens": input_tokens,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
            "output_tokens": output,
            "reasoning_tokens": reasoning,
            "usage_scope": scope,
            "usage_source": "missing" if input_tokens is None and output is None else "reported",
            "reported_cost": cost,
            "reported_cost_currency": "USD" if cost is not None else None,
            "request_id": provider_id or helicone_id,
            "tags": tags or None,
            "attributes": json.dumps(
                {k: v for k, v in attrs.items() if v is not None}, default=str, sort_keys=True
            ),
            "row_key": u.key(helicone_id),
            "source_line": n,
        }
        msgs = _messages(request)
        if msgs:
            feats = tokens.prompt_features(msgs, model=model, block_tokens=block)
            for k in ("prompt_hash", "message_tokens", "prefix_hashes", "prefix_block_tokens"):
                row[k] = feats[k]
            if ctx.keep_text:
                row["prompt_text"] = json.dumps(tokens.normalise_messages(msgs), ensure_ascii=False)
        if ctx.keep_text:
            row["completion_text"] = _answer(response)
        return row
