"""One span's flat GenAI attributes -> canonical `spans` fields (kind, usage, models, prompt, text).

Covers the four attribute dialects of docs/sources.md: OTel GenAI semconv (current and
deprecated names), OpenLLMetry/Traceloop, OpenInference and the Vercel AI SDK (`ai.*`).
Input is a plain ``{key: value}`` dict, so any export that keeps raw OTel attributes can reuse it
(Langfuse ``metadata.attributes`` stringifies every value: numbers and JSON are parsed here).

Token convention (docs/schema.md): ``input`` includes cache reads and writes, ``output`` includes
reasoning. OTel >= 1.40, OpenInference (Anthropic since 2025-03-25) and OpenLLMetry current already
report inclusive counts; AI SDK <= 5 passes the provider's own number through, which for
Anthropic and Bedrock excludes cache (vercel/ai ``anthropic-messages-language-model.ts``:
``inputTokens: usage.input_tokens``) and for Gemini and xAI excludes reasoning, and keeps the cache
and reasoning counts in ``ai.response.providerMetadata`` per provider (`_META_KEYS`; sources in the
`costlab.ingest.otlp` quirks), while AI SDK 6 is inclusive and writes
``ai.usage.inputTokenDetails.*``. Exclusive counts are detected and made inclusive (see `usage`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costlab.ingest import util as u
from costlab.names import normalise_model, normalise_provider

Event = tuple[str, dict[str, Any]]

WORKFLOW_KEYS = ("gen_ai.workflow.name", "traceloop.workflow.name", "ai.telemetry.functionId")
TRACE_NAME_KEYS = ("langfuse.trace.name",)
SESSION_KEYS = (
    "gen_ai.conversation.id",
    "session.id",
    "langfuse.session.id",
    "traceloop.association.properties.session_id",
    "ai.telemetry.metadata.sessionId",
)
USER_KEYS = (
    "user.id",
    "langfuse.user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "ai.telemetry.metadata.userId",
    "llm.user",
)
ENTITY_KEY = "traceloop.entity.name"

_OI_KIND = {
    "LLM": "llm", "EMBEDDING": "embedding", "CHAIN": "chain", "RETRIEVER": "retrieval",
    "RERANKER": "retrieval", "TOOL": "tool", "AGENT": "agent",
}  # fmt: skip
_OP_KIND = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm", "completion": "llm",
    "embeddings": "embedding", "embedding": "embedding", "retrieval": "retrieval",
    "execute_tool": "tool", "create_agent": "agent", "invoke_agent": "agent",
    "invoke_workflow": "chain", "rerank": "retrieval",
}  # fmt: skip
_TRACELOOP_KIND = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
_VERCEL_LLM = re.compile(
    r"^ai\.(generateText|streamText|generateObject|streamObject)(\.do(Generate|Stream))?$"
)
_VERCEL_EMBED = re.compile(r"^ai\.embed(Many)?(\.doEmbed)?$")

_CONTENT_KEYS = frozenset(
    "gen_ai.input.messages gen_ai.output.messages gen_ai.system_instructions gen_ai.prompt "
    "gen_ai.completion input.value output.value ai.prompt ai.prompt.messages ai.response.text "
    "ai.response.object ai.response.toolCalls ai.result.text ai.result.object ai.result.toolCalls "
    "ai.value ai.values ai.embedding ai.embeddings ai.toolCall.args ai.toolCall.result "
    "traceloop.entity.input traceloop.entity.output gen_ai.tool.call.arguments "
    "gen_ai.tool.call.result gen_ai.retrieval.query.text gen_ai.retrieval.documents "
    "llm.prompt_template.variables tool.parameters content message body gen_ai.event.content "
    # tool schemas: summarised as costlab.tools.* (costlab/ingest/tool_schemas.py), kept only with text
    "gen_ai.tool.definitions llm.tools ai.prompt.tools model_request_parameters".split()
)
_CONTENT_PREFIXES = (
    "llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.",
    "llm.prompts.", "llm.choices.", "embedding.embeddings.", "retrieval.documents.", "reranker.",
    "gen_ai.tool.definitions.", "llm.tools.", "llm.request.functions.",
)  # fmt: skip


def is_content(key: str) -> bool:
    """Whether an attribute holds prompt/completion/tool payload text (dropped unless keep_text)."""
    return key in _CONTENT_KEYS or key.startswith(_CONTENT_PREFIXES)


def first(attrs: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        v = attrs.get(k)
        if v is not None and v != "":
            return v
    return None


def _int(attrs: Mapping[str, Any], *keys: str) -> int | None:
    """First present integer (floats like 12.0 and numeric strings accepted; bad values raise)."""
    for k in keys:
        v = attrs.get(k)
        if v is not None and v != "":
            return u.integer(v)
    return None


def json_value(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def is_vercel(attrs: Mapping[str, Any]) -> bool:
    return any(k.startswith("ai.") for k in attrs)


def span_kind(attrs: Mapping[str, Any], name: str) -> str:
    """llm, embedding, tool, retrieval, agent, chain or other. Vercel's operation id wins (its spans
    also carry gen_ai.*), then OpenInference, gen_ai.operation.name, OpenLLMetry llm.request.type,
    traceloop.span.kind; a span with a model and token counts but no kind is an llm call."""
    op = str(attrs.get("ai.operationId") or (name if name.startswith("ai.") else ""))
    if _VERCEL_LLM.match(op):
        return "llm"
    if _VERCEL_EMBED.match(op):
        return "embedding"
    if op == "ai.toolCall":
        return "tool"
    oi = str(attrs.get("openinference.span.kind") or "").upper()
    if oi:
        return _OI_KIND.get(oi, "other")
    for key, table in (("gen_ai.operation.name", _OP_KIND), ("llm.request.type", _OP_KIND)):
        kind = table.get(str(attrs.get(key) or "").lower())
        if kind:
            return kind
    kind = _TRACELOOP_KIND.get(str(attrs.get("traceloop.span.kind") or "").lower())
    if kind:
        return kind
    has_model = first(attrs, ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name"))
    has_tokens = any(
        k.startswith(("gen_ai.usage.", "llm.token_count.", "llm.usage.")) for k in attrs
    )
    return "llm" if has_model and has_tokens else "other"


def operation(attrs: Mapping[str, Any]) -> str | None:
    value = first(
        attrs,
        ("gen_ai.operation.name", "llm.request.type", "ai.operationId", "openinference.span.kind",
         "traceloop.span.kind"),
    )  # fmt: skip
    return str(value) if value is not None else None


@dataclass
class Usage:
    input: int | None
    output: int | None
    cache_read: int | None
    cache_write: int | None
    reasoning: int | None
    derived: bool = False


def _sub(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


@dataclass
class _MetaUsage:
    """Token counts an AI SDK provider keeps in ``ai.response.providerMetadata``."""

    read: int | None = None
    write: int | None = None
    reasoning: int | None = None
    total: int | None = None  # the provider's own total (Gemini totalTokenCount, OpenRouter)
    raw_input: int | None = None  # the provider's own cache-exclusive input (Anthropic usage)
    input_exclusive: bool = False  # the SDK's input count leaves cache out (Anthropic, Bedrock)
    output_exclusive: bool = False  # the SDK's output count leaves reasoning out (Gemini, xAI)


#: (path inside one provider's metadata, field) for every key the AI SDK providers write. OpenAI
#: style keys sit under the provider's own name for every openai-compatible provider (xai, ...).
_META_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("cachedPromptTokens",), "read"),  # openai, azure, openai-compatible (AI SDK 4)
    (("reasoningTokens",), "reasoning"),
    (("promptCacheHitTokens",), "read"),  # deepseek
    (("cacheReadInputTokens",), "read"),  # anthropic (AI SDK 4)
    (("cacheCreationInputTokens",), "write"),  # anthropic
    (("usage", "cache_read_input_tokens"), "read"),  # anthropic raw usage (AI SDK 5, 6)
    (("usage", "cache_creation_input_tokens"), "write"),
    (("usage", "input_tokens"), "raw_input"),
    (("usage", "cacheReadInputTokens"), "read"),  # amazon-bedrock
    (("usage", "cacheWriteInputTokens"), "write"),
    (("usage", "prompt_cache_hit_tokens"), "read"),  # deepseek raw usage
    (("usage", "promptTokensDetails", "cachedTokens"), "read"),  # openrouter
    (("usage", "completionTokensDetails", "reasoningTokens"), "reasoning"),
    (("usage", "totalTokens"), "total"),
    (("usageMetadata", "cachedContentTokenCount"), "read"),  # google, vertex (AI SDK 5, 6)
    (("usageMetadata", "thoughtsTokenCount"), "reasoning"),
    (("usageMetadata", "totalTokenCount"), "total"),
)
_META_EXCLUSIVE_INPUT = frozenset(
    {"cacheReadInputTokens", "cacheCreationInputTokens", "cache_read_input_tokens",
     "cache_creation_input_tokens", "cacheWriteInputTokens"}
)  # fmt: skip
_META_EXCLUSIVE_OUTPUT = ("usageMetadata", "thoughtsTokenCount")


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _provider_usage(attrs: Mapping[str, Any]) -> _MetaUsage:
    """Cache and reasoning counts from Vercel's ``ai.response.providerMetadata`` (AI SDK <= 5
    keeps most of them only there; module doc of `costlab.ingest.otlp` lists the sources). The
    first provider entry carrying a field wins."""
    meta = json_value(attrs.get("ai.response.providerMetadata"))
    out = _MetaUsage()
    if not isinstance(meta, dict):
        return out
    for name, entry in meta.items():
        if not isinstance(entry, dict):
            continue
        for path, field in _META_KEYS:
            value = _dig(entry, path)
            if getattr(out, field) is not None or value is None or isinstance(value, (dict, list)):
                continue
            setattr(out, field, u.integer(value))
            out.input_exclusive |= path[-1] in _META_EXCLUSIVE_INPUT
            out.output_exclusive |= path == _META_EXCLUSIVE_OUTPUT or (
                field == "reasoning" and str(name).lower() == "xai"
            )
    return out


def _vercel_exclusive_input(
    attrs: Mapping[str, Any], inp: int | None, cache: int, meta: _MetaUsage
) -> bool:
    """Whether an AI SDK <= 5 (or early 6) input count leaves the cache out. The provider's raw
    cache-exclusive count beside it decides when present (AI SDK 6 writes the inclusive total under
    the same ``promptTokens`` name); else Anthropic/Bedrock metadata or provider name."""
    if meta.raw_input is not None and inp is not None and cache:
        if inp == meta.raw_input + cache:
            return False
        if inp == meta.raw_input:
            return True
    provider = str(attrs.get("ai.model.provider") or "").lower()
    return meta.input_exclusive or "anthropic" in provider or "bedrock" in provider


def usage(attrs: Mapping[str, Any]) -> Usage | None:
    """Token counts normalised to the inclusive convention, or None when the span reports none.

    AI SDK spans without ``ai.usage.inputTokenDetails.*`` take the missing cache, reasoning and
    total counts from ``ai.response.providerMetadata`` (`_provider_usage`). Input is treated as
    cache-exclusive (and cache read + write are added) when: such a span's provider counts input
    without cache (`_vercel_exclusive_input`); or cache read + write exceed the input
    (a defensive check); or a reported total equals input + cache + output. Output gets reasoning added
    when the provider counts it apart (Gemini ``thoughtsTokenCount``, xAI), when reasoning exceeds it,
    or when the total says so."""
    vercel = is_vercel(attrs)
    inp = _int(
        attrs, "ai.usage.inputTokens", "ai.usage.promptTokens", "llm.token_count.prompt",
        "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "ai.usage.tokens",
    )  # fmt: skip
    out = _int(
        attrs, "ai.usage.outputTokens", "ai.usage.completionTokens", "llm.token_count.completion",
        "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
    )  # fmt: skip
    read = _int(
        attrs, "ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens",
        "llm.token_count.prompt_details.cache_read", "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
    )  # fmt: skip
    write = _int(
        attrs, "ai.usage.inputTokenDetails.cacheWriteTokens",
        "llm.token_count.prompt_details.cache_write", "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
    )  # fmt: skip
    reasoning = _int(
        attrs, "ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens",
        "llm.token_count.completion_details.reasoning", "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens",
    )  # fmt: skip
    total = _int(
        attrs, "ai.usage.totalTokens", "llm.token_count.total", "gen_ai.usage.total_tokens",
        "llm.usage.total_tokens",
    )  # fmt: skip
    v6 = any(k.startswith("ai.usage.inputTokenDetails.") for k in attrs)
    exclusive_sdk = out_exclusive_sdk = False
    if vercel and not v6:
        meta = _provider_usage(attrs)
        read = read if read is not None else meta.read
        write = write if write is not None else meta.write
        reasoning = reasoning if reasoning is not None else meta.reasoning
        total = total if total is not None else meta.total
        exclusive_sdk = _vercel_exclusive_input(attrs, inp, (read or 0) + (write or 0), meta)
        out_exclusive_sdk = meta.output_exclusive
    derived = False
    if inp is None and out is not None and total is not None and total >= out:
        inp, derived = total - out, True
    if inp is None and out is None:
        return None
    cache = (read or 0) + (write or 0)
    r = reasoning or 0
    in_excl = inp is not None and not derived and (exclusive_sdk or cache > inp)
    out_excl = out is not None and (out_exclusive_sdk or r > out)
    if total is not None and inp is not None and out is not None and not derived:
        # the reading of the counts that reproduces the reported total (least exclusive first)
        for ie, oe in ((False, False), (True, False), (False, True), (True, True)):
            if (
                (in_excl and not ie)
                or (out_excl and not oe)
                or (ie and not cache)
                or (oe and not r)
            ):
                continue
            if total == inp + out + (cache if ie else 0) + (r if oe else 0):
                in_excl, out_excl = ie, oe
                break
    if in_excl and inp is not None:
        inp += cache
    if out_excl and out is not None:
        out += r
    return Usage(inp, out, read, write, reasoning, derived)


def models(
    attrs: Mapping[str, Any], azure_deployments: Mapping[str, str] | None = None
) -> tuple[str | None, str | None, str | None, str | None]:
    """(provider, model, request_model, raw model): model is the response model, else the request
    model, normalised by `costlab.names.normalise_model`."""
    raw_provider = first(
        attrs,
        (
            "gen_ai.provider.name",
            "gen_ai.system",
            "llm.provider",
            "llm.system",
            "ai.model.provider",
        ),
    )
    provider = normalise_provider(raw_provider)
    response = first(
        attrs, ("gen_ai.response.model", "ai.response.model", "llm.response.model_name")
    )
    request = first(
        attrs,
        (
            "gen_ai.request.model",
            "ai.model.id",
            "llm.request.model_name",
            "llm.model_name",
            "embedding.model_name",
        ),
    )
    raw = response if response is not None else request

    def norm(value: Any) -> str | None:
        return (
            normalise_model(provider, str(value), azure_deployments) if value is not None else None
        )

    return provider, norm(raw), norm(request), str(raw) if raw is not None else None


def reported_cost(attrs: Mapping[str, Any]) -> Decimal | None:
    """USD cost some instrumentations attach (OpenInference ``llm.cost.total``, ``gen_ai.usage.cost``)."""
    return u.money(first(attrs, ("llm.cost.total", "gen_ai.usage.cost")))


def service_tier(attrs: Mapping[str, Any]) -> str | None:
    tier = first(
        attrs,
        ("openai.response.service_tier", "gen_ai.openai.response.service_tier",
         "openai.request.service_tier", "gen_ai.openai.request.service_tier"),
    )  # fmt: skip
    text = str(tier).lower() if tier is not None else None
    return (
        {"default": "standard", "auto": None, "scale": "priority"}.get(text, text) if text else None
    )


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Reassemble flattened ``<prefix>.<i>.<rest>`` keys into a list of nested dicts, ordered by
    the numeric index (10 after 9, gaps allowed)."""
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)$")
    items: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        m = pat.match(key)
        if m:
            node = items.setdefault(int(m.group(1)), {})
            parts = m.group(2).split(".")
            for p in parts[:-1]:
                nxt = node.get(p)
                node = node.setdefault(p, {}) if not isinstance(nxt, dict) else nxt
            node[parts[-1]] = value
    return [items[i] for i in sorted(items)]


def _listify(node: Any) -> list[Any]:
    """{"0": a, "1": b} -> [a, b] (indexed children of a flattened key)."""
    if isinstance(node, dict) and node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return []


def _oi_message(item: dict[str, Any]) -> dict[str, Any]:
    msg = item.get("message", item)
    out: dict[str, Any] = {"role": msg.get("role") or "user"}
    contents = _listify(msg.get("contents"))
    if contents:
        parts = [dict(c.get("message_content", c)) for c in contents if isinstance(c, dict)]
        out["content"] = [{**p, "type": p.get("type") or "text"} for p in parts]
    else:
        out["content"] = msg.get("content")
    calls = []
    for call in _listify(msg.get("tool_calls")):
        tc = call.get("tool_call", call) if isinstance(call, dict) else {}
        fn = tc.get("function", {}) if isinstance(tc.get("function"), dict) else {}
        calls.append({"id": tc.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")})
    if calls:
        out["tool_calls"] = [{"type": "tool_call", **c} for c in calls]
    if msg.get("tool_call_id"):
        out["tool_call_id"] = msg["tool_call_id"]
    return out


def _traceloop_message(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": item.get("role") or "user", "content": item.get("content")}
    calls = [c for c in _listify(item.get("tool_calls")) if isinstance(c, dict)]
    if calls:
        out["tool_calls"] = [{**c, "type": "tool_call"} for c in calls]
    if item.get("tool_call_id"):
        out["tool_call_id"] = item["tool_call_id"]
    return out


_EVENT_ROLES = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
}  # fmt: skip


def _event_content(attrs: Mapping[str, Any]) -> Any:
    body = json_value(first(attrs, ("gen_ai.event.content", "body", "message")))
    if isinstance(body, dict):
        return body.get("content", body)
    return attrs.get("content", body)


def prompt_messages(attrs: Mapping[str, Any], events: Sequence[Event] = ()) -> list[Any] | None:
    """The request's messages, from the first source present: ``gen_ai.input.messages`` (JSON
    string or list), OpenInference ``llm.input_messages.<i>.message.*``, OpenLLMetry
    ``gen_ai.prompt.<i>.*``, Vercel ``ai.prompt.messages`` / ``ai.prompt``, per-message span events
    (``gen_ai.user.message``...), legacy ``gen_ai.prompt`` / ``gen_ai.content.prompt``,
    OpenInference ``llm.prompts`` and embedding inputs. ``gen_ai.system_instructions`` is prepended
    as a system message (semconv keeps it apart from the input messages)."""
    msgs: Any = None
    if attrs.get("gen_ai.input.messages") is not None:
        msgs = json_value(attrs["gen_ai.input.messages"])
    elif any(k.startswith("llm.input_messages.") for k in attrs):
        msgs = [_oi_message(m) for m in indexed(attrs, "llm.input_messages")]
    elif any(k.startswith("gen_ai.prompt.") for k in attrs):
        msgs = [_traceloop_message(m) for m in indexed(attrs, "gen_ai.prompt")]
    elif attrs.get("ai.prompt.messages") is not None:
        msgs = json_value(attrs["ai.prompt.messages"])
    elif attrs.get("ai.prompt") is not None:
        prompt = json_value(attrs["ai.prompt"])
        if isinstance(prompt, dict):
            msgs = list(prompt.get("messages") or [])
            if prompt.get("prompt") is not None:
                msgs.append({"role": "user", "content": prompt["prompt"]})
            if prompt.get("system"):
                msgs.insert(0, {"role": "system", "content": prompt["system"]})
        else:
            msgs = prompt
    elif any(name in _EVENT_ROLES for name, _ in events):
        msgs = [
            {"role": _EVENT_ROLES[n], "content": _event_content(a)}
            for n, a in events
            if n in _EVENT_ROLES
        ]
    elif attrs.get("gen_ai.prompt") is not None or any(
        n == "gen_ai.content.prompt" for n, _ in events
    ):
        legacy = attrs.get("gen_ai.prompt")
        legacy = (
            legacy
            if legacy is not None
            else next(a.get("gen_ai.prompt") for n, a in events if n == "gen_ai.content.prompt")
        )
        msgs = json_value(legacy)
    elif any(k.startswith("llm.prompts.") for k in attrs):
        msgs = [
            {"role": "user", "content": p.get("prompt", {}).get("text")}
            for p in indexed(attrs, "llm.prompts")
        ]
    elif any(k.startswith("embedding.embeddings.") for k in attrs):
        texts = [
            e.get("embedding", {}).get("text") for e in indexed(attrs, "embedding.embeddings")
        ]
        msgs = [{"role": "user", "content": t} for t in texts if t is not None]
    elif attrs.get("ai.values") is not None or attrs.get("ai.value") is not None:
        values = json_value(attrs.get("ai.values", attrs.get("ai.value")))
        msgs = [
            {"role": "user", "content": v}
            for v in (values if isinstance(values, list) else [values])
        ]
    system = json_value(attrs.get("gen_ai.system_instructions"))
    if isinstance(msgs, dict):
        msgs = [msgs]
    elif msgs is not None and not isinstance(msgs, list):
        msgs = [{"role": "user", "content": str(msgs)}]
    if system not in (None, "", []):
        msgs = [{"role": "system", "content": system}, *(msgs or [])]
    return msgs if msgs else None


def completion(attrs: Mapping[str, Any], events: Sequence[Event] = ()) -> Any:
    """The response: ``gen_ai.output.messages``, OpenInference ``llm.output_messages`` /
    ``llm.choices``, OpenLLMetry ``gen_ai.completion.<i>``, Vercel ``ai.response.text`` /
    ``.object``, ``gen_ai.choice`` events, legacy ``gen_ai.completion``. Messages or text."""
    if attrs.get("gen_ai.output.messages") is not None:
        return json_value(attrs["gen_ai.output.messages"])
    if any(k.startswith("llm.output_messages.") for k in attrs):
        return [_oi_message(m) for m in indexed(attrs, "llm.output_messages")]
    if any(k.startswith("gen_ai.completion.") for k in attrs):
        return [_traceloop_message(m) for m in indexed(attrs, "gen_ai.completion")]
    for key in ("ai.response.text", "ai.response.object", "ai.result.text", "gen_ai.completion"):
        if attrs.get(key) is not None:
            return attrs[key]
    choices = [
        json_value(a.get("message", _event_content(a))) for n, a in events if n == "gen_ai.choice"
    ]
    if choices:
        return [c if isinstance(c, dict) else {"role": "assistant", "content": c} for c in choices]
    for n, a in events:
        if n == "gen_ai.content.completion" and a.get("gen_ai.completion") is not None:
            return json_value(a["gen_ai.completion"])
    texts = [c.get("completion", {}).get("text") for c in indexed(attrs, "llm.choices")]
    return "\n".join(t for t in texts if t) or None


def tags(attrs: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, str]:
    """User metadata worth grouping by: Vercel ``ai.telemetry.metadata.*``, Traceloop association
    properties, OpenInference ``metadata`` (JSON) and ``tag.tags``, resource service/environment."""
    out: dict[str, str] = {}
    for key in ("service.name", "deployment.environment.name", "deployment.environment"):
        if resource.get(key) is not None:
            out[key] = str(resource[key])
    meta = json_value(attrs.get("metadata"))
    if isinstance(meta, dict):
        out.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    for key, value in attrs.items():
        for prefix in ("ai.telemetry.metadata.", "traceloop.association.properties."):
            if key.startswith(prefix) and value is not None:
                out[key[len(prefix) :]] = value if isinstance(value, str) else json.dumps(value)
    if isinstance(attrs.get("tag.tags"), list):
        out["tag.tags"] = ",".join(str(t) for t in attrs["tag.tags"])
    return out
