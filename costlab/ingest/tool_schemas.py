"""Tool definitions an LLM call declares and the tools its response called, as counts and hashes.

Why: tool schemas are resent with every call, at the very start of the prompt (tools -> system ->
messages, docs/analyzers.md), and agent frameworks often declare dozens of tools a step
never uses. The trimming analyzer (costlab/analyze/trimming.py) finds oversized tool blocks and
declared-but-never-called tools from these summaries. Schemas are not user content, so they are
summarised whatever keep_text says; tool *names* are stored only with keep_text, otherwise each
tool is known by a short hash of its name (enough to match calls to declarations).

Sources (docs/sources.md): OTel GenAI ``gen_ai.tool.definitions`` (JSON array, or
flattened ``gen_ai.tool.definitions.<i>.*``), OpenInference ``llm.tools.<i>.tool.json_schema`` (or
an ``llm.tools`` list), OpenLLMetry ``llm.request.functions.<i>.*``, Vercel ``ai.prompt.tools``,
pydantic-ai ``model_request_parameters``; request bodies with ``tools`` (OpenAI, Anthropic,
Gemini ``function_declarations``, expanded per function) for LangSmith and Langfuse.

Stored as one object at the top level of the span's ``attributes`` JSON, ``"costlab.tools"``
(`summary`; one key, so the analyzer parses the large attributes document once per call):
``count`` (tools declared), ``tokens`` (tiktoken count of the canonical JSON of the whole list:
sorted keys, no spaces; an estimate, providers render schemas their own way), ``hash`` (sha256 of
that JSON: identical blocks share it), ``ids`` / ``tool_tokens`` (per tool, in declared order:
name hash and tokens of its own JSON), ``names`` (keep_text only) and ``called`` (name hashes of
the tools the response called; ``[]`` = the response is in the trace and called none; absent =
the response is not in the trace).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from costlab.ingest.genai_attrs import indexed, json_value

_LISTS = ("gen_ai.tool.definitions", "llm.tools", "ai.prompt.tools", "tools", "functions")
_FLAT = ("gen_ai.tool.definitions.", "llm.tools.", "llm.request.functions.")
_CALL_TYPES = frozenset({"tool_call", "tool_use", "function_call", "tool-call", "server_tool_use"})
_CALL_LISTS = ("tool_calls", "toolCalls", "toolCallNames")
_MAX_DEPTH = 8
KEY = "costlab.tools"


def _default(o: Any) -> Any:
    return float(o) if isinstance(o, Decimal) else str(o)


def canonical(value: Any) -> str:
    """Sorted-key, minified JSON: the same schema hashes the same however it was serialised."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=_default)  # fmt: skip


def name_id(name: str) -> str:
    """A tool's short identity without its name (16 hex of sha256)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _deep(value: Any) -> Any:
    """JSON text inside a definition (``json_schema`` strings, stringified Langfuse values)."""
    value = json_value(value)
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return value


def _as_list(value: Any) -> list[Any] | None:
    """A definition list (one definition object counts as a list of one)."""
    value = json_value(value)
    if isinstance(value, dict) and value:
        return [_deep(value)]
    if isinstance(value, list) and value:
        return [_deep(v) for v in value]
    return None


def from_langfuse(value: Any) -> list[Any] | None:
    """Langfuse's observation ``toolDefinitions``: a list, or a map {name: description or
    definition} (the exports seen so far hold ``{}``)."""
    value = json_value(value)
    if isinstance(value, dict) and value and "name" not in value and "function" not in value:
        return [_deep(v) if isinstance(v, dict) else {"name": k, "description": v}
                for k, v in value.items()]  # fmt: skip
    return _as_list(value)


def definitions(attrs: Mapping[str, Any]) -> list[Any] | None:
    """The tool definitions in flat span attributes, from the first source present (module doc)."""
    for key in ("gen_ai.tool.definitions", "llm.tools", "ai.prompt.tools"):
        if attrs.get(key) is not None:
            got = _as_list(attrs[key])
            if got:
                return got
    if any(k.startswith(_FLAT) for k in attrs):
        for prefix in _FLAT:
            items = indexed(attrs, prefix[:-1])
            if items:
                return [_deep(i.get("tool", {}).get("json_schema", i))
                        if isinstance(i.get("tool"), dict) else _deep(i) for i in items]  # fmt: skip
    params = json_value(attrs.get("model_request_parameters"))
    if isinstance(params, dict):
        groups = [params.get(k) for k in ("function_tools", "output_tools")]
        return [_deep(t) for g in groups if isinstance(g, list) for t in g] or None
    return None


def from_request(*objs: Any) -> list[Any] | None:
    """``tools`` / ``functions`` of a request body or invocation parameters (first found)."""
    for obj in objs:
        obj = json_value(obj)
        if isinstance(obj, dict):
            for key in _LISTS:
                got = _as_list(obj.get(key)) if obj.get(key) is not None else None
                if got:
                    return got
            cfg = obj.get("config")  # Gemini request {"contents", "config": {"tools"}}
            got = from_request(cfg) if isinstance(cfg, dict) else None
            if got:
                return got
    return None


def _tool_name(d: Any) -> str | None:
    if not isinstance(d, dict):
        return None
    fn = d.get("function")
    name = (fn.get("name") if isinstance(fn, dict) else None) or d.get("name") or d.get("tool.name")
    return str(name) if name is not None else None


def _expand(defs: list[Any]) -> list[Any]:
    """One entry per function (Gemini groups several under one ``function_declarations`` tool)."""
    out: list[Any] = []
    for d in defs:
        group = (
            (d.get("function_declarations") or d.get("functionDeclarations"))
            if isinstance(d, dict) else None
        )  # fmt: skip
        out.extend(group if isinstance(group, list) and group else [d])
    return out


@lru_cache(maxsize=512)
def _measure(text: str, parts: tuple[str, ...], model: str | None) -> tuple[int, tuple[int, ...]]:
    """Token counts, cached: an agent resends the same tool block on every call."""
    from costlab import tokens

    return tokens.count(text, model), tuple(tokens.count(p, model) for p in parts)


def summary(
    defs: list[Any] | None, model: str | None, keep_text: bool, called: list[str] | None = None
) -> dict[str, Any]:
    """``{"costlab.tools": {...}}`` for a call's definitions and `called` result ({} without
    definitions)."""
    if not defs:
        return {}
    items = _expand(defs)
    text = canonical(defs)
    total, each = _measure(text, tuple(canonical(i) for i in items), model)
    names = [_tool_name(i) or "" for i in items]
    out: dict[str, Any] = {
        "count": len(items),
        "tokens": total,
        "hash": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "ids": [name_id(n) for n in names],
        "tool_tokens": list(each),
    }
    if keep_text:
        out["names"] = names
    if called is not None:
        out["called"] = called
    return {KEY: out}


def _collect(value: Any, out: set[str], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for v in value:
            _collect(v, out, depth + 1)
        return
    if not isinstance(value, dict):
        return
    if str(value.get("type") or "").lower() in _CALL_TYPES:
        name = _tool_name(value) or value.get("toolName")
        if name:
            out.add(str(name))
    fc = value.get("function_call")
    if isinstance(fc, dict) and fc.get("name"):
        out.add(str(fc["name"]))
    for key in _CALL_LISTS:
        calls = json_value(value.get(key))
        for c in calls if isinstance(calls, list) else []:
            name = c if isinstance(c, str) else _tool_name(c)
            if name is None and isinstance(c, dict):
                name = c.get("toolName")
            if name:
                out.add(str(name))
    for k, v in value.items():
        if k not in _CALL_LISTS and k != "function_call" and isinstance(v, (dict, list, str)):
            _collect(json_value(v) if isinstance(v, str) else v, out, depth + 1)


def called(*outputs: Any) -> list[str] | None:
    """Name hashes of the tools a response called (sorted); None when no output is present.

    Walks the output (OTel/OpenInference/OpenLLMetry messages, OpenAI ``choices`` and
    ``tool_calls``, Anthropic ``tool_use`` parts, LangChain generations, Vercel ``toolCalls``,
    Langfuse ``toolCallNames``) for tool-call entries."""
    present = [o for o in (json_value(x) for x in outputs) if o not in (None, "", [], {})]
    if not present:
        return None
    names: set[str] = set()
    for o in present:
        _collect(o, names)
    return sorted({name_id(n) for n in names})
