"""Azure LLM inference traces (Azure/AzurePublicDataset ``AzureLLMInferenceTrace_{code,conv}.csv``,
the Splitwise ISCA'24 trace of 2023, and the 2024 week-long trace with the same three columns):
one row per request to an Azure-hosted LLM service, with token counts and arrival times only.

Detect: a CSV whose header is ``TIMESTAMP, ContextTokens, GeneratedTokens``.
Parse: streamed row by row (the conversation file has 19,366 rows).
Normalise: one span per request: span_kind ``llm``, usage_scope ``self``, usage_source
``reported``, input_tokens = ``ContextTokens``, output_tokens = ``GeneratedTokens``, start_time =
``TIMESTAMP`` (``YYYY-MM-DD HH:MM:SS.fffffff``, no zone: read as UTC; the 7th fractional digit is
dropped, the lake stores microseconds). No prompt, so no prefix hashes: the analyzers use these
rows for the minimum-size eligibility of caching (docs/analyzers.md). trace_id = the file
stem, span_id = the line number. provider/model NULL unless config ``azure_llm_provider`` /
``azure_llm_model``; workflow = config ``azure_llm_workflow`` else the file stem
(``AzureLLMInferenceTrace_code`` vs ``_conv``: the two services).
Row key: (file stem, line number); re-ingesting the file replaces its rows. No replace_scope.
Quirks:
- The files end without a newline, so ``wc -l`` shows one line fewer than the data rows
  (8,819 and 19,366 requests, not 8,818 and 19,365 as the dataset notes count).
- A row with a bad time or negative / non-integer counts -> Bad, the rest are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source, each_record
from costlab.ingest.registry import register_source

COLUMNS = frozenset({"timestamp", "contexttokens", "generatedtokens"})


def _count(row: dict[str, str], key: str) -> int:
    n = u.integer(row.get(key))
    if n is None or n < 0:
        raise ValueError(f"{key} must be a non-negative integer, found {row.get(key)!r}")
    return n


@register_source
class AzureLLMInferenceTrace(Source):
    name = "azure_llm_trace"
    title = "Azure LLM inference trace (CSV: TIMESTAMP, ContextTokens, GeneratedTokens)"
    tables = ("spans",)
    row_key = "file stem, line number"
    distinct_duplicates = False
    priority = 20

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind == "csv" and sniff.column_set == COLUMNS

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        cfg = ctx.config
        stem, workflow, provider, model = u.request_trace_settings(path, cfg, "azure_llm")

        def map_record(line: int, raw: dict[str, Any]) -> dict[str, Any]:
            return self._row(line, u.lower_keys(raw), stem, workflow, provider, model)

        yield from each_record("spans", u.csv_rows(path), map_record)

    @staticmethod
    def _row(
        line: int,
        row: dict[str, str],
        stem: str,
        workflow: str,
        provider: str | None,
        model: str | None,
    ) -> dict[str, Any]:
        start = u.ts(row.get("timestamp"))
        if start is None:
            raise ValueError("row has no TIMESTAMP")
        return {
            "trace_id": stem,
            "span_id": str(line),
            "workflow": workflow,
            "span_kind": "llm",
            "name": "request",
            "start_time": start,
            "provider": provider,
            "model": model,
            "input_tokens": _count(row, "contexttokens"),
            "output_tokens": _count(row, "generatedtokens"),
            "usage_scope": "self",
            "usage_source": "reported",
            "attributes": json.dumps({"timestamp": row.get("timestamp")}),
            "row_key": u.key(stem, line),
            "source_line": line,
        }
