"""Mooncake FAST'25 request traces -> spans (source `mooncake_trace`).

Real data: fixtures/mooncake/synthetic_trace_head200.jsonl (first 200 lines of the Apache-2.0
synthetic trace) and the full file (fixtures/mooncake/synthetic_trace.jsonl). Expected numbers come from one-off
commands independent of costlab:

  python3 -c "import json; L=[json.loads(l) for l in open(F)]; print(len(L),
      sum(o['input_length'] for o in L), sum(o['output_length'] for o in L), L[-1]['timestamp'])"
  full file:  3993 61194628 595432 (last timestamp 1022025 ms)
  head 200:    200  2663480  38364 (last timestamp 58501 ms)

and, for the prefix claim, a scan over the full file that every hash id always sits at the same
block position after the same predecessor (0 violations) and len(hash_ids) == ceil(input/512).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect, sources
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
HEAD = FIX / "mooncake" / "synthetic_trace_head200.jsonl"
FULL = FIX / "mooncake" / "synthetic_trace.jsonl"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "real"


def _spans(path: Path, **config: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse_file(path, ctx=ParseContext(config=config))
    return parsed.table("spans"), parsed.bad


def test_detect_head_and_no_other_source_claims_it() -> None:
    assert detect(HEAD).name == "mooncake_trace"
    assert {n for n, c in sources().items() if c.detect(Sniff(HEAD))} == {"mooncake_trace"}


def test_detect_claims_no_other_file() -> None:
    cls = sources()["mooncake_trace"]
    for root in [FIX, SAMPLES]:
        for f in root.rglob("*"):
            if f.is_file() and f.suffix not in (".md", ".txt", ".py") and f not in (HEAD, FULL):
                assert not cls.detect(Sniff(f)), f


def test_head_numbers_and_mapping() -> None:
    spans, bad = _spans(HEAD)
    assert (len(spans), len(bad)) == (200, 0)
    assert sum(s["input_tokens"] for s in spans) == 2663480
    assert sum(s["output_tokens"] for s in spans) == 38364
    first, last = spans[0], spans[-1]
    assert (first["trace_id"], first["span_id"], first["workflow"]) == (
        "synthetic_trace_head200",
        "1",
        "synthetic_trace_head200",
    )
    assert (first["span_kind"], first["usage_scope"], first["usage_source"]) == (
        "llm",
        "self",
        "reported",
    )
    assert first["provider"] is None and first["model"] is None
    assert first.get("cache_read_tokens") is None  # the trace does not say what a provider cached
    assert first["prefix_block_tokens"] == 512
    assert first["prefix_hashes"][:3] == ["0", "1", "2"] and len(first["prefix_hashes"]) == 79
    base = datetime(2025, 1, 1, tzinfo=UTC)
    assert first["start_time"] == base
    assert last["start_time"] == base + timedelta(milliseconds=58501)
    for s in spans:  # the last block is partial
        assert len(s["prefix_hashes"]) == math.ceil(s["input_tokens"] / 512)


def test_full_file_matches_the_trace() -> None:
    spans, bad = _spans(FULL)
    assert (len(spans), len(bad)) == (3993, 0)
    assert sum(s["input_tokens"] for s in spans) == 61194628
    assert sum(s["output_tokens"] for s in spans) == 595432
    assert spans[-1]["start_time"] == datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=1022025
    )


def test_hash_ids_behave_as_chained_prefix_hashes() -> None:
    """Equal id => equal prefix: each id has one position and one predecessor; and the infinite-
    cache shareable-prefix ratio (tokens capped at input) reproduces the replay in docs/analyzers.md (65.1%)."""
    spans, _ = _spans(FULL)
    where: dict[str, tuple[int, str | None]] = {}
    seen: set[str] = set()
    shareable = total = 0
    for s in spans:
        hashes = s["prefix_hashes"]
        for i, h in enumerate(hashes):
            assert where.setdefault(h, (i, hashes[i - 1] if i else None)) == (
                i,
                hashes[i - 1] if i else None,
            )
        k = 0
        while k < len(hashes) and hashes[k] in seen:
            k += 1
        shareable += min(k * 512, s["input_tokens"])
        total += s["input_tokens"]
        seen.update(hashes)
    assert round(shareable / total, 3) == 0.651


def test_config_base_time_provider_model_workflow() -> None:
    spans, _ = _spans(
        HEAD,
        mooncake_base_time="2026-03-01T12:00:00Z",
        mooncake_provider="openai",
        mooncake_model="gpt-4o-mini",
        mooncake_workflow="kimi-synthetic",
    )
    assert spans[0]["start_time"] == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert {(s["provider"], s["model"], s["workflow"]) for s in spans} == {
        ("openai", "gpt-4o-mini", "kimi-synthetic")
    }
    toml_dt = datetime(2026, 3, 1, 12, 0)  # a TOML datetime without offset: UTC
    assert _spans(HEAD, mooncake_base_time=toml_dt)[0][0]["start_time"] == datetime(
        2026, 3, 1, 12, tzinfo=UTC
    )
    with pytest.raises(SourceError):
        _spans(HEAD, mooncake_base_time="next tuesday")


def test_malformed_lines_are_quarantined(tmp_path: Path) -> None:
    good = {"timestamp": 5, "input_length": 600, "output_length": 3, "hash_ids": [1, 2]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"timestamp": 6, "input_length": 10, "output_length": 1}),
        json.dumps({**good, "input_length": -1}),
        json.dumps({**good, "hash_ids": ["a"]}),
        json.dumps({**good, "timestamp": -3}),
        "[1, 2]",
        json.dumps({**good, "timestamp": 7.5}),
    ]
    f = tmp_path / "trace.jsonl"
    f.write_text("\n".join(lines) + "\n")
    spans, bad = _spans(f)
    assert [s["span_id"] for s in spans] == ["1", "8"]
    assert spans[1]["start_time"] == datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=7500)
    reasons = {b.location: b.reason for b in bad}
    assert reasons["2"].startswith("Expecting property name")
    assert reasons["3"] == "missing hash_ids"
    assert reasons["4"] == "input_length must be a non-negative integer, found -1"
    assert reasons["5"] == "hash_ids is not a list of integers"
    assert reasons["6"].startswith("timestamp must be non-negative")
    assert reasons["7"] == "not a JSON object"


def test_unreadable_file_is_source_error(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"timestamp": "x", "input_length": 1, "output_length": 1, "hash_ids": []}\n')
    with pytest.raises(SourceError):
        parse_file(f, source="mooncake_trace")


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    path = FULL if FULL.is_file() else HEAD
    n, inp, out = (3993, 61194628, 595432) if path == FULL else (200, 2663480, 38364)
    res = ingest([path], lake=lake_dir)
    assert not res.failed and res.rows_quarantined == 0
    lake = Lake(lake_dir)
    assert Workspace(lake).rows(
        "SELECT count(*), sum(input_tokens), sum(output_tokens), count(cost), "
        "any_value(cost_source) FROM calls"
    ) == [(n, inp, out, 0, "unpriced")]
    assert Workspace(lake).rows(
        "SELECT prefix_hashes[1], prefix_block_tokens FROM spans WHERE span_id = '1'"
    ) == [("0", 512)]
    again = ingest([path], lake=lake_dir)
    assert again.rows_written == 0
    assert Workspace(lake).rows("SELECT count(*) FROM spans") == [(n,)]
