"""LiteLLM proxy spend logs: the ``LiteLLM_SpendLogs`` table the proxy writes one row per request
to, exported as JSON (``GET /spend/logs``: an array of rows; ``/spend/logs/v2``:
``{"data": [...]}``), JSON Lines, or CSV (the Postgres table dumped with its own column names).

Detect: a JSON/JSONL record or CSV header with ``request_id``, ``call_type``, ``spend`` and
``startTime`` (docs/sources.md, checked against litellm==1.110.2 ``schema.prisma``).
Parse: trace_json.records in file order; JSON numbers as Decimal; ``metadata``, ``request_tags``, ``messages``,
``response`` and ``proxy_server_request`` are objects in JSON exports and JSON text in CSV.
Normalise: one span per row. ``prompt_tokens`` is inclusive (LiteLLM adds Anthropic cache reads and
writes into it: ``anthropic/chat/transformation.py::calculate_usage``), so input_tokens =
prompt_tokens; cache_read = ``metadata.usage_object.prompt_tokens_details.cached_tokens`` (else
``usage_object.cache_read_input_tokens``, else ``additional_usage_values``), cache_write =
``usage_object.cache_creation_input_tokens`` (else ``prompt_tokens_details.cache_creation_tokens``
/ ``cache_write_tokens``), 5m/1h from ``prompt_tokens_details.cache_creation_token_details``,
reasoning = ``completion_tokens_details.reasoning_tokens``. Without any usage object the parts are
NULL (unknown). ``spend`` -> reported_cost in USD, exact. span_kind from ``call_type``: chat,
completion, responses, Anthropic messages, Gemini generate_content, realtime, pass-through and batch
cost rows -> llm; embeddings -> embedding; MCP tool calls -> tool; search, vector-store search and
rerank -> retrieval; image, audio, moderation, OCR, video, files and admin calls -> other (their
spend stays on the span, outside ``calls``). provider = ``custom_llm_provider`` and model =
``response.model`` else ``model``, both via `costlab.names`; request_model = ``model_group`` (the
alias the client asked for). trace_id = ``session_id`` else the request id; span_id = request id.
user_id = ``end_user`` (the application's customer) else ``user`` (the proxy user owning the key).
workflow: for each key of ``workflow_attributes`` (config; default ``workflow``, ``workflow_name``,
``gen_ai.workflow.name``) in order, ``metadata.spend_logs_metadata[key]`` then a request tag
``key:value`` or ``key=value`` (keys case-insensitive); else NULL. step likewise from ``step``.
tags: request tags (``k:v`` split, plain tags map to ""), then ``spend_logs_metadata`` pairs, then
``team_id``, ``team_alias``, ``organization_id``, ``project_id``, ``api_key_hash`` (the column is
already a hash), ``api_key_alias``, ``end_user``, ``litellm_user``, ``model_group``, ``model_raw``.
Prompt features from ``messages`` (or ``proxy_server_request.messages``) via `costlab.tokens`; text
only with ``ctx.keep_text``.
Row key: ``request_id`` (the table's primary key); a re-exported row replaces the earlier one. No
replace_scope: exports are filtered slices of an append-only table.
Quirks:
- Gateway cache hits (``cache_hit`` "True") never reached the provider: span_kind stays llm (it was
  an LLM request, visible in ``spans``) but usage_scope is ``none``, so ``calls`` does not count it;
  tokens are kept as logged (the cached reply's usage) and ``tags.gateway_cache_hit='true'``. Their
  request_id carries ``_cache_hit<epoch>`` (spend_tracking_utils.py: "SpendLogs does not allow
  duplicate request_id"): the suffix is stripped for the span's request_id, kept in the row key.
- ``cache_hit`` is a String column: "True"/"False"/"None"/"" (and true/false in hand-made JSON).
- A failed request (``status`` "failure") with zero spend and zero tokens billed nothing:
  usage_scope ``none``, status ``error``; one that carries spend or tokens stays billable.
- ``startTime``/``endTime`` are Postgres ``timestamp(3)`` without zone, written in UTC
  (``_ensure_datetime_utc``): a naive time is read as UTC.
- ``spend`` is a float column: CSV may hold ``1.23e-05``; read as Decimal text, never via float.
- If cache parts exceed prompt_tokens the row is exclusive (a hand-built or foreign export): the
  parts are added to input_tokens (defensive check; ``attributes.input_tokens_rule``).
- ``cost_breakdown.service_tier`` -> service_tier; batch cost rows (``retrieve_batch``) -> batch.
"""

from __future__ import annotations

import json
import re
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

DEFAULT_WORKFLOW_KEYS = ("workflow", "workflow_name", "gen_ai.workflow.name")
_REQUIRED = frozenset({"request_id", "call_type", "spend", "starttime"})
_CACHE_HIT_ID = re.compile(r"_cache_hit\d+(\.\d+)?([eE][-+]?\d+)?$")
_LLM = frozenset(
    "completion acompletion text_completion atext_completion responses aresponses "
    "anthropic_messages aanthropic_messages generate_content agenerate_content "
    "generate_content_stream agenerate_content_stream _arealtime _aresponses_websocket "
    "arealtime_calls compact_responses acompact_responses pass_through_endpoint "
    "llm_passthrough_route allm_passthrough_route retrieve_batch aretrieve_batch".split()
)
_KINDS = {
    "embedding": "embedding",
    "aembedding": "embedding",
    "call_mcp_tool": "tool",
    "search": "retrieval",
    "asearch": "retrieval",
    "vector_store_search": "retrieval",
    "avector_store_search": "retrieval",
    "rerank": "retrieval",
    "arerank": "retrieval",
}
_OPERATIONS = {"embedding": "embeddings", "tool": "execute_tool"}
#: LiteLLM model prefixes that name the provider when custom_llm_provider is empty
_ROUTES = frozenset("openai azure azure_ai anthropic bedrock vertex_ai gemini mistral groq".split())
_TIERS = ("standard", "batch", "priority", "flex", "provisioned")


def _obj(value: Any) -> Any:
    """A JSON column: objects pass through, JSON text is decoded, empty text is None."""
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() in ("null", "none"):
            return None
        if text[0] in "{[":
            try:
                return json.loads(text, parse_float=Decimal)
            except (ValueError, RecursionError):
                raise ValueError(f"not valid JSON: {text[:60]!r}") from None
        return text
    return value


def _dict(value: Any) -> dict[str, Any]:
    value = _obj(value)
    return value if isinstance(value, dict) else {}


def _lookup(keys: tuple[str, ...], meta: dict[str, Any], tags: list[str]) -> str | None:
    lowered = {str(k).lower(): v for k, v in meta.items() if not isinstance(v, (dict, list))}
    for key in keys:
        k = key.lower()
        value = u.nullish(lowered.get(k))
        if value is not None:
            return value
        for tag in tags:
            if tag.lower().startswith((k + ":", k + "=")) and tag[len(k) + 1 :].strip():
                return tag[len(k) + 1 :].strip()
    return None


def _tag_list(*values: Any) -> list[str]:
    out: list[str] = []
    for value in values:
        value = _obj(value)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            out += [str(t) for t in value if t is not None and str(t) not in out]
    return out


def _tag_map(tags: list[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        m = re.match(r"^([^:=]+)[:=](.*)$", tag)
        if m and m.group(2).strip():
            out[m.group(1).strip()] = m.group(2).strip()
        else:
            out[tag] = ""
    return out


def _completion_text(response: Any) -> str | None:
    if isinstance(response, str):
        return response or None
    if not isinstance(response, dict) or not response:
        return None
    pieces = []
    for choice in response.get("choices") or []:
        msg = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(msg, dict) and isinstance(msg.get("content"), str):
            pieces.append(msg["content"])
    for block in response.get("content") or response.get("output") or []:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            pieces.append(block["text"])
    return "\n".join(pieces) or json.dumps(response, default=str, ensure_ascii=False)


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


@register_source
class LiteLLMSpendLogs(Source):
    name = "litellm_spendlogs"
    title = "LiteLLM proxy spend logs (LiteLLM_SpendLogs as JSON, JSONL or CSV)"
    tables = ("spans",)
    row_key = "request_id (the table's primary key; a re-exported row replaces the earlier one)"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        keys = tj.record_columns(sniff)
        return keys is not None and _REQUIRED <= keys

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        keys = tj.workflow_keys(ctx, DEFAULT_WORKFLOW_KEYS)
        block = int(ctx.config.get("prefix_block_tokens") or tokens.DEFAULT_BLOCK_TOKENS)

        def map_record(n: int, rec: dict[str, Any]) -> dict[str, Any]:
            return self._row(n, rec, ctx, keys, block)

        yield from tj.record_rows(path, self.title, map_record)

    def _row(
        self, n: int, rec: dict[str, Any], ctx: ParseContext, keys: tuple[str, ...], block: int
    ) -> dict[str, Any]:
        r = {str(k).lower(): v for k, v in rec.items()}
        raw_id = u.nullish(r.get("request_id"))
        if raw_id is None:
            raise ValueError("row has no request_id")
        start = u.ts(r.get("starttime"))
        if start is None:
            raise ValueError("row has no startTime")
        end = u.ts(r.get("endtime"))
        meta = _dict(r.get("metadata"))
        usage = _dict(meta.get("usage_object"))
        extra = _dict(meta.get("additional_usage_values"))
        details = _dict(usage.get("prompt_tokens_details")) or _dict(
            extra.get("prompt_tokens_details")
        )
        out_details = _dict(usage.get("completion_tokens_details")) or _dict(
            extra.get("completion_tokens_details")
        )
        split = _dict(details.get("cache_creation_token_details"))
        prompt = u.count(r.get("prompt_tokens"), "prompt_tokens")
        output = u.count(r.get("completion_tokens"), "completion_tokens")
        known = bool(usage or extra)

        def part(*candidates: Any) -> int | None:
            for c in candidates:
                value = u.count(c, "cache tokens")
                if value is not None:
                    return value
            return 0 if known else None

        read = part(
            details.get("cached_tokens"),
            usage.get("cache_read_input_tokens"),
            extra.get("cache_read_input_tokens"),
        )
        write = part(
            usage.get("cache_creation_input_tokens"),
            details.get("cache_creation_tokens"),
            details.get("cache_write_tokens"),
            extra.get("cache_creation_input_tokens"),
        )
        rule = "inclusive"
        if prompt is not None and (read or 0) + (write or 0) > prompt:
            prompt, rule = prompt + (read or 0) + (write or 0), "exclusive_corrected"
        reasoning = u.count(out_details.get("reasoning_tokens"), "reasoning_tokens")
        spend = u.money(r.get("spend"))

        call_type = u.nullish(r.get("call_type")) or ""
        kind = (
            "llm"
            if call_type in _LLM
            else _KINDS.get(call_type, "llm" if not call_type and (prompt or output) else "other")
        )
        cache_hit = _true(r.get("cache_hit"))
        failed = (u.nullish(r.get("status")) or u.nullish(meta.get("status")) or "") == "failure"
        billed = bool(spend) or bool(prompt) or bool(output)
        unbilled = not billed and (failed or kind not in ("llm", "embedding"))
        scope = "none" if cache_hit or unbilled else "self"

        prov_raw = u.nullish(r.get("custom_llm_provider"))
        model_col = u.nullish(r.get("model"))
        if prov_raw is None and model_col and model_col.split("/", 1)[0] in _ROUTES:
            prov_raw = model_col.split("/", 1)[0]  # "openai/gpt-4o", not "meta-llama/..."
        provider = normalise_provider(prov_raw)
        response = _obj(r.get("response"))
        resp_model = u.nullish(response.get("model")) if isinstance(response, dict) else None
        group = u.nullish(r.get("model_group"))
        raw_model = resp_model or model_col or group
        azure = ctx.config.get("azure_deployments")
        bare = raw_model
        if raw_model and prov_raw and raw_model.lower().startswith(prov_raw.lower() + "/"):
            bare = raw_model[len(prov_raw) + 1 :]  # "azure/<deployment>": map the deployment
        model = normalise_model(provider, bare, azure) if bare else None
        breakdown = _dict(meta.get("cost_breakdown"))
        tier = u.enum(breakdown.get("service_tier"), _TIERS) or (
            "batch" if call_type.endswith("retrieve_batch") else None
        )

        request_tags = _tag_list(r.get("request_tags"), meta.get("tags"))
        user_meta = _dict(meta.get("spend_logs_metadata"))
        end_user = u.nullish(r.get("end_user"))
        user = u.nullish(r.get("user")) or u.nullish(meta.get("user_api_key_user_id"))
        system = {
            "team_id": u.nullish(r.get("team_id")) or u.nullish(meta.get("user_api_key_team_id")),
            "team_alias": u.nullish(meta.get("user_api_key_team_alias")),
            "organization_id": u.nullish(r.get("organization_id"))
            or u.nullish(meta.get("user_api_key_org_id")),
            "project_id": u.nullish(meta.get("user_api_key_project_id")),
            "api_key_hash": u.nullish(r.get("api_key")),
            "api_key_alias": u.nullish(meta.get("user_api_key_alias")),
            "end_user": end_user,
            "litellm_user": user,
            "model_group": group,
            "model_raw": raw_model if raw_model != model else None,
            "gateway_cache_hit": "true" if cache_hit else None,
        }
        tags = {
            **_tag_map(request_tags),
            **(u.tags(user_meta) or {}),
            **{k: v for k, v in system.items() if v is not None},
        }
        request_id = _CACHE_HIT_ID.sub("", raw_id) if cache_hit else raw_id
        session = u.nullish(r.get("session_id"))
        attrs = {
            "call_type": call_type or None,
            "request_id": raw_id,
            "litellm_call_id": u.nullish(r.get("litellm_call_id"))
            or u.nullish(meta.get("litellm_call_id")),
            "model_id": u.nullish(r.get("model_id")),
            "api_base": u.nullish(r.get("api_base")),
            "cache_key": u.nullish(r.get("cache_key")),
            "total_tokens": u.integer(r.get("total_tokens")),
            "request_duration_ms": u.integer(r.get("request_duration_ms")),
            "completion_start_time": u.nullish(r.get("completionstarttime")),
            "attempted_retries": meta.get("attempted_retries"),
            "attempted_fallbacks": meta.get("attempted_fallbacks"),
            "original_model_group": meta.get("original_model_group"),
            "cost_breakdown": breakdown or None,
            "error_information": meta.get("error_information") if failed else None,
            "input_tokens_rule": rule,
        }
        row: dict[str, Any] = {
            "trace_id": session or raw_id,
            "span_id": raw_id,
            "workflow": _lookup(keys, user_meta, request_tags),
            "step": _lookup(("step",), user_meta, request_tags),
            "session_id": session,
            "user_id": end_user or user,
            "span_kind": kind,
            "operation": "chat" if kind == "llm" else _OPERATIONS.get(kind, call_type or None),
            "name": f"{call_type or 'call'} {model or group or 'unknown'}",
            "start_time": start,
            "end_time": end if end is not None and end >= start else None,
            "status": "error" if failed else "ok",
            "provider": provider,
            "model": model,
            "request_model": group or model_col,
            "service_tier": tier,
            "input_tokens": prompt,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
            "cache_write_5m_tokens": u.count(split.get("ephemeral_5m_input_tokens"), "5m writes"),
            "cache_write_1h_tokens": u.count(split.get("ephemeral_1h_input_tokens"), "1h writes"),
            "output_tokens": output,
            "reasoning_tokens": reasoning,
            "usage_scope": scope,
            "usage_source": "reported" if prompt is not None or output is not None else "missing",
            "reported_cost": spend,
            "reported_cost_currency": "USD" if spend is not None else None,
            "request_id": request_id,
            "tags": tags or None,
            "attributes": json.dumps(
                {k: v for k, v in attrs.items() if v is not None}, default=str, sort_keys=True
            ),
            "row_key": u.key(raw_id),
            "source_line": n,
        }
        msgs = _obj(r.get("messages"))
        if not msgs:
            msgs = _dict(r.get("proxy_server_request")).get("messages")
        if isinstance(msgs, (list, str)) and msgs:
            feats = tokens.prompt_features(msgs, model=model or group, block_tokens=block)
            for k in ("prompt_hash", "message_tokens", "prefix_hashes", "prefix_block_tokens"):
                row[k] = feats[k]
            if ctx.keep_text:
                row["prompt_text"] = json.dumps(tokens.normalise_messages(msgs), ensure_ascii=False)
        if ctx.keep_text:
            row["completion_text"] = _completion_text(response)
        return row
