"""JSON helpers shared by the trace sources (Langfuse, LangSmith, OTLP, Helicone, LiteLLM, ...).

Field spellings, JSON-in-text values, tags, service tiers, provider and model names, prompt
features (hashes, token counts, keep_text) and the record readers of JSON/JSONL/CSV trace exports.
Every trace source maps its records with these, so the same value reads the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, each_record

#: workflow attributes of OpenTelemetry GenAI / Traceloop traces (the ``workflow_attributes`` default)
GENAI_WORKFLOW_KEYS = ("gen_ai.workflow.name", "traceloop.workflow.name", "workflow")


def has_shape(d: Any, required: set[str], absent: set[str], *one_of_each: set[str]) -> bool:
    """Whether ``d`` is an object with every ``required`` key, no ``absent`` key and at least one
    key of each ``one_of_each`` set: how a record kind is told from its neighbours."""
    if not isinstance(d, dict):
        return False
    keys = d.keys()
    return required <= keys and not absent & keys and all(alt & keys for alt in one_of_each)


def first_of(obj: dict[str, Any], *names: str) -> Any:
    """The first non-null of several spellings of a field."""
    for n in names:
        v = obj.get(n)
        if v is not None:
            return v
    return None


def object_field(meta: dict[str, Any], key: str = "attributes") -> dict[str, Any]:
    """A nested object field (``metadata.attributes``), {} when absent or not an object."""
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def json_or_text(value: Any) -> Any:
    """A JSON value that may arrive as JSON text (CSV cells, double-encoded fields)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value, parse_float=Decimal)
        except (ValueError, RecursionError):
            return value
    return value


def document_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """JSONL as ``(line, value)``; a broken or over-long line yields ``(line, ValueError)``."""
    yield from u.json_lines(path, exact=True)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def tag_map(tags: Any) -> dict[str, str] | None:
    tags = json_or_text(tags)
    if isinstance(tags, list):
        return {str(t): "" for t in tags if t is not None} or None
    return u.tags(tags) if tags else None


def tier(value: Any) -> str | None:
    text = u.nullish(value)
    return SERVICE_TIERS.get(text.lower(), text.lower()) if text else None


SERVICE_TIERS = {"default": "standard", "auto": "standard", "standard": "standard", "flex": "flex"}


SERVICE_TIERS |= {"priority": "priority", "scale": "provisioned", "batch": "batch"}


def provider(raw: Any, model: Any = None) -> str | None:
    """Canonical provider; a Vertex resource path as model names Google when nothing else does."""
    from costlab.names import normalise_provider

    text = u.nullish(raw)
    if text is None and isinstance(model, str) and "/publishers/google/" in model:
        text = "google"
    return normalise_provider(text)


def model(provider: str | None, raw: Any, ctx: ParseContext) -> str | None:
    from costlab.names import normalise_model

    text = u.nullish(raw)
    if text is None or not isinstance(raw, str):
        return None
    return normalise_model(provider, text, ctx.config.get("azure_deployments"))


LC_ROLES = {"HumanMessage": "user", "AIMessage": "assistant", "SystemMessage": "system"}


LC_ROLES |= {"ToolMessage": "tool", "FunctionMessage": "tool", "ChatMessage": "user"}


def messages(value: Any) -> list[Any] | None:
    """Chat messages from the many prompt shapes (OpenAI/OTel lists, LangChain-serialised and
    nested lists, ``{"messages"}``, Gemini ``{"contents", "config.system_instruction"}``,
    ``{"prompts"}``, ``{"args"}``, plain text); None when there is no prompt."""
    value = json_or_text(value)
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list):
        if all(isinstance(m, list) for m in value):  # LangChain batches: [[msg, ...]]
            value = [m for batch in value for m in batch]
        return [lc_message(m) for m in value] or None
    if isinstance(value, dict):
        if "messages" in value:
            msgs = messages(value["messages"]) or []
            system = value.get("system")  # Anthropic puts the system prompt beside messages
            return ([{"role": "system", "content": system}] if system else []) + msgs or None
        if "contents" in value:
            cfg = object_field(value, "config")
            system = first_of(cfg, "system_instruction", "systemInstruction") or value.get(
                "system_instruction"
            )
            msgs = messages(value["contents"]) or []
            return ([{"role": "system", "content": system}] if system else []) + msgs or None
        for key in ("prompts", "prompt", "args", "input"):
            if key in value:
                return messages(value[key])
        if {"role", "content", "parts"} & value.keys() or value.get("lc"):
            return [lc_message(value)]
        return [{"role": "user", "content": dumps(value)}]
    return [{"role": "user", "content": str(value)}]


def lc_message(m: Any) -> Any:
    """LangChain's serialised message (``{"lc":1,"id":[...,"HumanMessage"],"kwargs":{...}}``) as
    an OpenAI-style message; other shapes pass through to `costlab.tokens`."""
    if isinstance(m, dict) and m.get("lc") and isinstance(m.get("kwargs"), dict):
        kw = m["kwargs"]
        ids = m.get("id")
        cls = str(ids[-1]) if isinstance(ids, list) and ids else ""
        msg = {"role": kw.get("role") or LC_ROLES.get(cls, "user"), "content": kw.get("content")}
        if kw.get("tool_calls"):
            msg["tool_calls"] = kw["tool_calls"]
        return msg
    if isinstance(m, dict) and "data" in m and m.get("type") in ("human", "ai", "system", "tool"):
        return {**m["data"], "role": m["type"]}  # messages_to_dict() shape
    return m


def part_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part_text(c) for c in content)
    if isinstance(content, dict):
        text = first_of(content, "text", "content")
        return part_text(text) if text is not None else dumps(content)
    return "" if content is None else str(content)


def completion_text(value: Any) -> str | None:
    """Plain text of a completion (for keep_text and output estimates)."""
    value = json_or_text(value)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("choices"), list):
        value = [c.get("message", c) for c in value["choices"] if isinstance(c, dict)]
    elif isinstance(value, dict) and isinstance(value.get("generations"), list):
        gens = [g for b in value["generations"] for g in (b if isinstance(b, list) else [b])]
        return "\n".join(str(g.get("text", "")) for g in gens if isinstance(g, dict)) or None
    msgs = messages(value) or []
    parts = [m.get("content", m.get("parts")) if isinstance(m, dict) else m for m in msgs]
    return "\n".join(part_text(p) for p in parts) or None


def prompt_features(
    row: dict[str, Any],
    prompt: Any,
    completion: Any,
    model: str | None,
    ctx: ParseContext,
    estimate: bool,
) -> tuple[int | None, int | None]:
    """Fill prompt features (and text with keep_text); with ``estimate``, return tokenizer
    counts of the prompt and completion (None without a prompt)."""
    from costlab import tokens

    msgs = messages(prompt)
    est_in = est_out = None
    if msgs:
        f = tokens.prompt_features(msgs, model=model)
        row.update(
            prompt_hash=f["prompt_hash"],
            message_tokens=f["message_tokens"],
            prefix_hashes=f["prefix_hashes"],
            prefix_block_tokens=f["prefix_block_tokens"],
        )
        if estimate:
            est_in = f["input_tokens_estimate"]
            done = completion_text(completion)
            est_out = tokens.count(done, model) if done else None
    if ctx.keep_text:
        row["prompt_text"] = dumps(msgs) if msgs else None
        row["completion_text"] = completion_text(completion)
    return est_in, est_out


def first_record(sniff: Sniff) -> dict[str, Any] | None:
    """The first row of a JSON array, ``{"data": [...]}`` page or JSONL file (None otherwise)."""
    obj = sniff.first_object
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if isinstance(obj, list):
        obj = next((o for o in obj if isinstance(o, dict)), None)
    return obj if isinstance(obj, dict) else None


def record_columns(sniff: Sniff) -> frozenset[str] | None:
    """Lower-cased column names of a CSV export or keys of the first JSON record (None when the
    file is neither)."""
    if sniff.kind == "csv":
        return sniff.column_set
    if sniff.kind in ("json", "jsonl"):
        rec = first_record(sniff)
        return frozenset(str(k).lower() for k in rec) if rec is not None else None
    return None


def record_rows(
    path: Path, title: str, map_record: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> Iterator[Row | Bad]:
    """The spans of a file of `records`, one a record; a file none of whose records is readable
    fails as a whole."""
    none_read = f"no readable {title} row"
    return each_record("spans", records(path, Sniff(path)), map_record, path=path, none_read=none_read)


def records(path: Path, sniff: Sniff) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(record number, row)`` for JSON/JSONL records or CSV rows; ``(n, reason)`` for bad ones.
    A JSON document that is not an array or ``{"data": [...]}`` raises SourceError."""
    if sniff.kind == "csv":
        yield from u.csv_rows(path)  # a messages/response field may be as long as a line
        return
    if sniff.kind == "jsonl":
        for n, obj in u.json_lines(path, exact=True):
            if isinstance(obj, Exception):
                yield n, f"invalid JSON: {obj}"
            else:
                yield n, obj if isinstance(obj, dict) else "not a JSON object"
        return
    doc = u.json_document(path)
    rows = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise SourceError(str(path), 'expected a JSON array of rows or {"data": [...]}')
    for n, obj in enumerate(rows, 1):
        yield n, obj if isinstance(obj, dict) else "not a JSON object"


def workflow_keys(ctx: ParseContext, default: tuple[str, ...]) -> tuple[str, ...]:
    keys = ctx.config.get("workflow_attributes")
    if isinstance(keys, str):
        return (keys,)
    return tuple(str(k) for k in keys) if keys else default

