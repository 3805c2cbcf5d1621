"""What a billing line says about LLM tokens, decided once for every billing source.

Used by focus, azure (Azure cost details), aws_cur, gcp, openai (Costs API) and anthropic (cost
report). Each source keeps its own naming convention as a small table or function next to its
parser (Azure OpenAI meters in azure.py, Bedrock usage types in aws_cur.py, Vertex SKU names in
gcp.py, OpenAI line items, Anthropic token_type values); the token classes, the words that name
them, the units that count tokens and the rounding live here.

Token classes: the docs/schema.md ``token_type`` list (input_uncached, input_cache_read,
input_cache_write_5m, input_cache_write_1h, output, reasoning, input_audio, output_audio,
embedding) plus two documented additions, input_image / output_image: OpenAI's Costs API bills
image tokens of gpt-image models on line items of their own, at prices unlike text tokens, so
they have no lossless place in the contract's list. No other value is ever written
(tests/test_token_lines.py runs every billing fixture through the lake and checks).

A cache write whose TTL the bill does not state (Azure "Cd Wr", OpenAI "cache writes", FOCUS
TokenCacheAction "Write", Bedrock's unmarked ``cache-write-input-token-count``) is
input_cache_write_5m, and input_cache_write_1h only when one hour is stated. Why: Anthropic's
default cache lifetime is 5 minutes (1 hour is opt-in and marked wherever it is billed), and
costlab.pricing files genai-prices' TTL-less ``cache_write`` price under input_cache_write_5m, so
the line carries the price type that prices it. Reconciliation compares money per (day, provider,
model, currency) and never reads token_type, so the choice moves no reconciled amount.

Tokens of a line: its quantity times the block of its unit ("1K Tokens" x 12.5 = 12,500,
"1M Tokens", "1,000,000 Tokens", "Million tokens"), rounded half-even to whole tokens. Token-hours
(context-cache storage) and characters are never tokens; a plain count ("count", "Units") is tokens
only where the source says so (Azure's and GCP's token SKUs), never for Bedrock Marketplace
"Units" (one token or a million: public notes disagree, so the count stays NULL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

#: docs/schema.md token_type values
TOKEN_TYPES = (
    "input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h",
    "output", "reasoning", "input_audio", "output_audio", "embedding",
)  # fmt: skip
#: documented additions (README "Schema notes"): image tokens billed apart from text
EXTRA_TOKEN_TYPES = ("input_image", "output_image")
ALLOWED_TOKEN_TYPES = frozenset((*TOKEN_TYPES, *EXTRA_TOKEN_TYPES))


@dataclass
class TokenLine:
    """What one line says about LLM use; None = not stated."""

    model_raw: str | None = None
    model: str | None = None
    token_type: str | None = None
    tier: str | None = None
    storage: bool = False  # context-cache storage (token-hours): a charge, never tokens
    provisioned: bool = False
    scope: str | None = None  # deployment scope (Azure: regional, global, data_zone)
    band: str | None = None  # context band (Azure: shortco, longco)


# --- words --------------------------------------------------------------------------------------


def words(text: str) -> str:
    """Lower-case words: camelCase split ("CacheReadInputTokenCount"), punctuation to spaces, a
    dot kept only inside a number ("Claude 4.5", but "cache_creation.ephemeral_1h")."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return " " + re.sub(r"[^0-9a-z.]+|(?<!\d)\.|\.(?!\d)", " ", spaced.lower()) + " "


_ONE_HOUR = re.compile(r"\b(?:1\s*h|1\s*hr|1\s*hour|one hour|60\s*m(?:in)?|3600\s*s?)\b")


def cache_write(text: str) -> str:
    """input_cache_write_1h when the text states a one-hour TTL, else _5m (module docstring)."""
    return "input_cache_write_1h" if _ONE_HOUR.search(words(text)) else "input_cache_write_5m"


_STORAGE = re.compile(r" (?:cache|cached|caching|context) storage | token hours? ")
_UNCACHED = re.compile(r" (?:uncached|non cached|cache miss) ")
_CACHE_WRITE = re.compile(
    r" (?:cache|cached|caching|prompt caching) (?:write|writes|wr|creation|created) "
)
#: after storage and writes, a bare "cache" is the discounted read ("Cache Input Tokens")
_CACHE_READ = re.compile(r" cache | cached | caching | cchd | ccchd ")
#: "generated"/"generation" name output only next to "tokens": "Imagen 3 Generation" is images
_OUTPUT = re.compile(r" (?:output|outp|completion|completions) | (?:generated|generation) tokens? ")
_INPUT = re.compile(r" (?:input|inp|prompt|prompts) ")
_AUDIO = re.compile(r" aud(?:io)? ")


def text_kind(text: str) -> str | None:
    """Token class named by a meter, SKU, usage type or description ("Cache Read Input Tokens",
    "Gemini 3 Flash Text Input Caching", "USE1-MP:USE1_CacheWriteInputTokenCount-Units",
    "cache_creation.ephemeral_1h_input_tokens"); "storage" for context-cache storage; None when it
    names none."""
    t = words(text)
    if _STORAGE.search(t):
        return "storage"
    if _UNCACHED.search(t):
        return "input_uncached"
    if _CACHE_WRITE.search(t):
        return cache_write(t)
    if _CACHE_READ.search(t):
        return "input_cache_read"
    out, inp, audio = _OUTPUT.search(t), _INPUT.search(t), _AUDIO.search(t)
    if re.search(r" (?:reasoning|thinking) tokens? ", t) and not out and not inp:
        return "reasoning"  # billed apart from output (otherwise they are inside "output")
    if out:
        return "output_audio" if audio else "output"
    if re.search(r" embed(?:ding|dings)? ", t):
        return "embedding"
    if inp:
        return "input_audio" if audio else "input_uncached"
    return None


_MODALITY = {
    ("audio", "input_uncached"): "input_audio", ("audio", "output"): "output_audio",
    ("image", "input_uncached"): "input_image", ("image", "output"): "output_image",
}  # fmt: skip


def with_modality(kind: str | None, modality: str | None) -> str | None:
    """The audio / image class of uncached input or output ("gpt-image-1 image, output")."""
    return _MODALITY.get((modality or "", kind or ""), kind)


#: words that name a token class, tier, deployment scope or unit: never a model name on their own
NOT_MODEL = frozenset(
    "input inp inpt output outp opt out prompt prompts completion completions cache cached caching "
    "read reads write writes wr cd cchd ccchd uncached token tokens count text reasoning thinking "
    "generated audio aud embedding embeddings batch priority flex standard std provisioned global "
    "regional glbl regnl gl rg dz dzone data zone 1k 1m units unit storage context hit miss the "
    "for of and".split()
)


def is_model(name: str) -> bool:
    """A model name has a letter and at least one word that is not a token class, tier or unit."""
    parts = [w for w in re.split(r"[\s\-_/:]+", name.lower()) if w]
    return any(re.search(r"[a-z]", w) and w not in NOT_MODEL for w in parts)


# --- units --------------------------------------------------------------------------------------

_TOKEN_UNIT = re.compile(
    r"^\s*(?:(\d[\d,]*(?:\.\d+)?)\s*([km]|thousand|million)?\s+|([km])\s*|(thousand|million)\s+)?"
    r"tokens?\s*$",
    re.I | re.ASCII,
)
_TOKEN_TIME_UNIT = re.compile(r"tokens?[\s\-/.]*(?:x\s*)?(?:hours?|hrs?|h|minutes?|mins?|seconds?|s|days?|months?|mo)\b", re.I)  # fmt: skip
#: a plain count ("count", "Units", "1000000 count"): tokens only where the source says so
_COUNT_UNIT = re.compile(r"^\s*(?:\d[\d,]*(?:\.\d+)?\s*(?:[km]|thousand|million)?\s*)?(?:counts?|units?|each)?\s*$", re.I | re.ASCII)  # fmt: skip
_SCALE = {"k": 1000, "thousand": 1000, "m": 1_000_000, "million": 1_000_000}


def token_block(unit: str | None) -> Decimal | None:
    """Tokens per unit for "Tokens", "1000 Tokens", "1,000,000 Tokens", "1K tokens", "1M Tokens",
    "Million tokens"; None for anything else ("Token-Hours", "Characters", "Units", ...)."""
    m = _TOKEN_UNIT.match(unit or "")
    if not m:
        return None
    number, scale, short, word = m.groups()
    base = Decimal(number.replace(",", "")) if number else Decimal(1)
    return base * _SCALE.get((scale or short or word or "").lower(), 1)


def unit_kind(unit: str | None) -> str | None:
    """tokens, token_time (context-cache storage), count, other, or None when not given."""
    if unit is None or not unit.strip():
        return None
    if token_block(unit) is not None:
        return "tokens"
    if _TOKEN_TIME_UNIT.search(unit):
        return "token_time"
    return "count" if _COUNT_UNIT.match(unit) else "other"


def tokens_of(quantity: Decimal | None, block: Decimal | int | None) -> int | None:
    """quantity x block as whole tokens (half-even: 12.5 -> 12); None when either is unknown."""
    if quantity is None or block is None:
        return None
    return int((quantity * block).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
