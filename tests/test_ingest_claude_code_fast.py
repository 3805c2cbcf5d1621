"""The Claude Code fast path (msgspec) and parallel ingest must give exactly what the plain
``json`` path and the serial ingest give: same rows, same quarantine reasons, same lake.

The expected values are the slow paths' own outputs on the real records, the constructed and
malformed fixtures, and hypothesis-mutated lines, so a fast path that drops, adds or changes any
field fails here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from costlab.ingest import claude_code as cc
from costlab.ingest.base import ParseContext
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
CC = FIX / "claude_code"
FILES = sorted(p for p in CC.rglob("*.jsonl"))


def _both(path: Path, keep_text: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    ctx = ParseContext(keep_text=keep_text)

    def run() -> Any:
        try:
            p = parse_file(path, "claude_code", ctx)
            return dict(p.rows), p.bad
        except Exception as ex:  # noqa: BLE001 - the same error is part of the contract
            return repr(ex)

    fast = run()
    with monkeypatch.context() as m:
        m.setattr(cc, "_fast_decoder", lambda keep_text: None)
        slow = run()
    return fast, slow


def test_msgspec_is_used() -> None:
    pytest.importorskip("msgspec")  # optional: without it the parser takes the json path
    decode = cc._fast_decoder(False)
    assert decode is not None  # the benchmark numbers assume the fast path
    line = (CC / "records" / "assistant" / "assistant.jsonl").read_bytes().splitlines()[0]
    obj = decode(line)
    # the real streamed line: output_tokens 2, one text block whose text is skipped (no keep_text)
    assert obj is not None and obj["message"]["usage"]["output_tokens"] == 2
    assert obj["message"]["content"] == [{"type": "text"}]


@pytest.mark.parametrize("keep_text", [False, True])
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CC)))
def test_fast_path_equals_json_path(path: Path, keep_text: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(path, keep_text, monkeypatch)
    assert fast == slow


_BASE = json.loads((CC / "records" / "tools" / "Task-tool_use.jsonl").read_text().splitlines()[0])
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False).map(str), st.text(max_size=5),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip
_PATHS = [
    ("costUSD",), ("timestamp",), ("sessionId",), ("type",), ("message",), ("message", "id"),
    ("message", "model"), ("message", "usage"), ("message", "usage", "output_tokens"),
    ("message", "usage", "cache_creation"), ("message", "content"), ("isSidechain",),
    ("isApiErrorMessage",), ("toolUseResult",), ("payload",), ("requestId",),
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(_PATHS), value=_VALUES, raw=st.sampled_from(["", "\r", "\ufeff", "\x00"]))
@example(where=("costUSD",), value="100000000000000000000000000", raw="")  # reason once named the type
def test_fast_path_equals_json_path_on_odd_values(
    where: tuple[str, ...], value: Any, raw: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    obj = json.loads(json.dumps(_BASE))
    node = obj
    for k in where[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[where[-1]] = value
    text = json.dumps(obj) + "\n" + raw + json.dumps(_BASE) + "\n"
    path = tmp_path_factory.mktemp("odd") / "s.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = _both(path, False, mp)
    assert fast == slow


def test_parallel_ingest_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    src = [CC, FIX / "codex", FIX / "otlp"]
    lakes = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("COSTLAB_INGEST_WORKERS", workers)  # "2" forces workers on small input
        res = ingest(src, lake=tmp_path / workers)
        lake = Lake(tmp_path / workers)
        lakes[workers] = (
            sorted((f.path, f.status, f.source, f.rows, f.quarantined, f.error) for f in res.files),
            (res.rows_read, res.rows_written, res.rows_duplicate, res.rows_quarantined),
            Workspace(lake).sql("SELECT * EXCLUDE (run_id, ingested_at) FROM spans ORDER BY ALL").rows(),
            Workspace(lake).sql("SELECT * EXCLUDE (run_id, ingested_at) FROM quarantine ORDER BY ALL").rows(),
        )
    assert lakes["1"] == lakes["2"]
    assert lakes["1"][1][1] > 0 and lakes["1"][1][3] > 0  # rows written and rows quarantined
    shutil.rmtree(tmp_path)


def _generated_session(tmp_path: Path) -> Path:
    """One long stream of Claude Code sessions built from the real record templates."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        from benchmarks import corpus
    finally:
        sys.path.pop(0)
    t = corpus.Templates.load(CC / "records")
    out = tmp_path / "stream.jsonl"
    with out.open("w") as fh:
        for s in corpus.claude_code_day(t, 5, 0, 900_000):
            fh.write("\n".join(s.lines) + "\n")
    return out


def _canon(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)


def test_window_closes_replies_early_with_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing replies after WINDOW quiet lines (bounded memory on multi-GB files) yields the same
    rows as folding the whole file, when a reply's lines and its tool results lie within the
    window, as Claude Code writes them."""
    path = _generated_session(tmp_path)
    n_lines = len(path.read_text().splitlines())
    whole = parse_file(path, "claude_code")
    assert n_lines < cc.ClaudeCodeSession.WINDOW  # so the default folds the file whole
    monkeypatch.setattr(cc.ClaudeCodeSession, "WINDOW", 25)
    held: list[int] = []
    close = cc.ClaudeCodeSession._close

    def spy(self: Any, before: Any, path: Any, ctx: Any, fb: Any, replies: Any, tools: Any, results: Any, spans: Any) -> Any:
        held.append(len(replies) + len(tools) + len(results) + len(spans))
        return close(self, before, path, ctx, fb, replies, tools, results, spans)

    monkeypatch.setattr(cc.ClaudeCodeSession, "_close", spy)
    windowed = parse_file(path, "claude_code")
    spans = whole.rows["spans"]
    assert len(spans) > 250 and any(r["span_kind"] == "tool" and r["status"] for r in spans)
    assert _canon(windowed.rows["spans"]) == _canon(spans)
    assert windowed.bad == whole.bad
    # the state held between closes stays near the window, not the file
    assert len(held) >= n_lines // 25 and max(held[:-1]) < 60
