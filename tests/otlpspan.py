"""One OTLP/JSON GenAI chat span (semantic conventions 1.37 attribute names), for tests that
need calls of a given model, time and token counts in a lake ingested the real way."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def chat_span(n: int, when: datetime, tokens_in: int, tokens_out: int, model: str = "gpt-4.1",
              provider: str = "openai", workflow: str = "research") -> dict[str, object]:  # fmt: skip
    """Span ``n`` (its own trace), a 2-second ``model`` call started at ``when``."""
    t = int(when.timestamp() * 1e9)
    attrs = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
        "gen_ai.response.model": model, "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out, "gen_ai.workflow.name": workflow,
    }  # fmt: skip
    return {
        "traceId": f"{n:032x}", "spanId": f"{n:016x}", "name": f"chat {model}", "kind": 3,
        "startTimeUnixNano": str(t), "endTimeUnixNano": str(t + 2_000_000_000),
        "attributes": [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
            for k, v in attrs.items()
        ],
        "status": {"code": 0},
    }  # fmt: skip


def write_traces(path: Path, spans: list[dict[str, object]]) -> Path:
    """``spans`` as one OTLP/JSON export line at ``path``."""
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}
    path.write_text(json.dumps(doc) + "\n")
    return path
