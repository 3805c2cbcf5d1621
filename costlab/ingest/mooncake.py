"""Mooncake FAST'25 request traces (kvcache-ai/Mooncake ``FAST25-release/traces/*.jsonl`` and the
older ``arxiv-trace/mooncake_trace.jsonl``): anonymised production LLM requests with their prompt
given only as prefix-block hashes, for prefix-cache replay.

Detect: JSON Lines whose first object has ``timestamp``, ``input_length``, ``output_length`` and a
``hash_ids`` list (the format in the release README, "Trace Format").
Parse: line by line (the conversation trace is 3 MB; nothing is held).
Normalise: one span per request: span_kind ``llm``, usage_scope ``self``, usage_source
``reported``, input_tokens = ``input_length``, output_tokens = ``output_length`` (cache parts NULL:
the trace does not say what a provider cached). start_time = base + ``timestamp`` milliseconds
("Relative request arrival time in milliseconds"); the base is config ``mooncake_base_time`` (ISO
text or TOML datetime), default 2025-01-01T00:00:00Z: a fixed, recognisable instant so reruns give
identical rows and day partitions (the trace has no absolute dates). trace_id = the file stem,
span_id = the line number. prefix_hashes = ``hash_ids`` as strings and prefix_block_tokens = 512:
the README calls them "Remapped prefix block hashes. The block size is 512 tokens. Identical hash
IDs indicate reusable prefix KV cache blocks", i.e. id i already stands for the whole prefix up to
block i, as the chained ``h_i = H(h_{i-1}, block_i)`` of docs/schema.md; in synthetic_trace.jsonl every
id sits at one block position with one predecessor in all 3,993 requests (checked here).
provider/model NULL unless config ``mooncake_provider`` / ``mooncake_model``; workflow = config
``mooncake_workflow`` else the file stem.
Row key: (file stem, line number); re-ingesting the file replaces its rows. No replace_scope.
Quirks:
- The last block of a request is partial (len(hash_ids) = ceil(input_length / 512) on every line of
  the synthetic trace): shareable tokens must be capped at input_tokens (docs/analyzers.md
  replay: 65.1% on the synthetic trace, "tokens capped at input_length").
- Hash ids are remapped per trace file: ids from two different files are not comparable, so prefix
  matching must stay within one trace_id / workflow.
- A line that is not an object, lacks a field, or has negative / non-integer lengths -> Bad.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, mapped
from costlab.ingest.registry import register_source

BLOCK_TOKENS = 512
DEFAULT_BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")


def _length(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{key} is missing or not a number")
    n = u.integer(value)
    if n is None or n < 0:
        raise ValueError(f"{key} must be a non-negative integer, found {value!r}")
    return n


def _config_time(value: Any) -> datetime:
    if value is None or value == "":
        return DEFAULT_BASE_TIME
    try:
        dt = u.ts(value)
    except ValueError:
        dt = None
    if dt is None:
        raise ValueError(f"mooncake_base_time is not a timestamp: {value!r}")
    return dt


@register_source
class MooncakeTrace(Source):
    name = "mooncake_trace"
    title = "Mooncake FAST'25 request trace (JSONL: timestamp, input/output_length, hash_ids)"
    tables = ("spans",)
    row_key = "file stem, line number"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        obj = sniff.first_object if sniff.kind == "jsonl" else None
        return (
            isinstance(obj, dict)
            and all(k in obj for k in FIELDS)
            and isinstance(obj["hash_ids"], list)
        )

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        cfg = ctx.config
        try:
            base = _config_time(cfg.get("mooncake_base_time"))
        except ValueError as ex:
            raise SourceError(str(path), str(ex)) from None
        stem, workflow, provider, model = u.request_trace_settings(path, cfg, "mooncake")
        good = 0
        bad: list[Bad] = []
        with u.open_text(path) as fh:
            for n, text in enumerate(fh, 1):
                if isinstance(text, u.LongLine):
                    bad.append(Bad(str(n), str(text)))
                    continue
                if not text.strip():
                    continue
                row = mapped(n, text, self._read, n, text, base, stem, workflow, provider, model)
                if isinstance(row, Bad):
                    bad.append(row)
                    continue
                good += 1
                yield "spans", row
        if not good and bad:
            raise SourceError(str(path), f"no Mooncake trace record ({bad[0].reason})")
        yield from bad

    @classmethod
    def _read(cls, n: int, text: str, *context: Any) -> dict[str, Any]:
        """One JSONL line as a row (a line nested too deep for Python is bad input too)."""
        obj = json.loads(text, parse_float=Decimal)
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        return cls._row(n, obj, *context)

    @staticmethod
    def _row(
        n: int,
        obj: dict[str, Any],
        base: datetime,
        stem: str,
        workflow: str,
        provider: str | None,
        model: str | None,
    ) -> dict[str, Any]:
        missing = [k for k in FIELDS if k not in obj]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        offset = u.dec(obj["timestamp"]) if not isinstance(obj["timestamp"], bool) else None
        if offset is None or offset < 0:
            raise ValueError(f"timestamp must be non-negative milliseconds: {obj['timestamp']!r}")
        hashes = obj["hash_ids"]
        if not isinstance(hashes, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) for h in hashes
        ):
            raise ValueError("hash_ids is not a list of integers")
        return {
            "trace_id": stem,
            "span_id": str(n),
            "workflow": workflow,
            "span_kind": "llm",
            "name": "request",
            "start_time": base + timedelta(microseconds=int(offset * 1000)),
            "provider": provider,
            "model": model,
            "input_tokens": _length(obj, "input_length"),
            "output_tokens": _length(obj, "output_length"),
            "usage_scope": "self",
            "usage_source": "reported",
            "prefix_hashes": [str(h) for h in hashes],
            "prefix_block_tokens": BLOCK_TOKENS,
            "attributes": json.dumps({"timestamp_ms": str(offset), "blocks": len(hashes)}),
            "row_key": u.key(stem, n),
            "source_line": n,
        }
