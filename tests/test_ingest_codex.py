"""Codex CLI rollouts -> spans (source `codex`).

Expected numbers are computed by hand from the fixture lines (arithmetic in the comments); the
only public Codex sample is ccusage's synthetic fixture, so the other fixtures are constructed from
openai/codex's protocol types (see tests/fixtures/codex/PROVENANCE.md). Independent check for a
file: the sum of the per-call deltas equals the file's last cumulative ``total_token_usage`` when
nothing was reset or copied, e.g.

  jq -c 'select(.payload.type=="token_count") | .payload.info.total_token_usage' FILE | tail -1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from costlab.errors import SourceError
from costlab.ingest import detect
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.codex import CodexRollout
from costlab.ingest.parse import Parsed, parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
CX = FIX / "codex"
DAY = CX / "constructed" / "sessions" / "2025" / "10" / "21"
MAIN_ID = "0199f0a1-1111-7222-8333-444455556666"
CHILD_ID = "0199f0a2-aaaa-7bbb-8ccc-ddddeeeeffff"
MAIN = DAY / f"rollout-2025-10-21T09-00-00-{MAIN_ID}.jsonl"
FORK = DAY / f"rollout-2025-10-21T10-00-00-{CHILD_ID}.jsonl"
MALFORMED = CX / "constructed" / "malformed.jsonl"
CCUSAGE = CX / "ccusage" / "sessions" / "project-alpha" / "session-alpha.jsonl"


def sums(parsed: Parsed) -> tuple[int, int, int, int, int]:
    rows = parsed.table("spans")
    return (
        len(rows),
        sum(r["input_tokens"] for r in rows),
        sum(r["cache_read_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows),
        sum(r["reasoning_tokens"] for r in rows),
    )


def calls(parsed: Parsed) -> list[tuple[Any, ...]]:
    return [
        (
            r["input_tokens"],
            r["cache_read_tokens"],
            r["output_tokens"],
            r["reasoning_tokens"],
            r["model"],
            r["usage_source"],
        )
        for r in parsed.table("spans")
    ]


@pytest.mark.parametrize("path", [MAIN, FORK, MALFORMED, CCUSAGE])
def test_detected(path: Path) -> None:
    assert detect(path).name == "codex"


def test_other_jsonl_is_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "otlp.jsonl").write_text(json.dumps({"resourceSpans": []}) + "\n")
    others = [
        tmp_path / "otlp.jsonl",
        *[p for p in FIX.rglob("*.jsonl") if p.relative_to(FIX).parts[0] != "codex"],
    ]
    assert any(
        p.relative_to(FIX).parts[0] == "claude_code" for p in others if p.is_relative_to(FIX)
    )
    for path in others:
        assert not CodexRollout.detect(Sniff(path)), path


def test_a_file_that_is_not_a_rollout_raises_source_error() -> None:
    with pytest.raises(SourceError, match="no Codex rollout lines"):
        parse_file(FIX / "claude_code" / "assembled" / "session_b25638d7.jsonl", source="codex")


def test_ccusage_fixture() -> None:
    # last_token_usage of the two events: (1000, 250, 125, 75) and (2500, 500, 300, 200); their sum
    # equals the last total_token_usage (3500, 750, 425, 275).
    parsed = parse_file(CCUSAGE)
    assert parsed.bad == []
    assert sums(parsed) == (2, 3500, 750, 425, 275)
    assert calls(parsed) == [
        (1000, 250, 125, 75, "gpt-5.2-codex", "reported"),
        # the event's info.model beats turn_context.model (kept as request_model), as in ccusage
        (2500, 500, 300, 200, "gpt-5.3-codex", "reported"),
    ]
    assert [r["request_model"] for r in parsed.table("spans")] == ["gpt-5.2-codex", "gpt-5.2-codex"]
    # The fixture's total_tokens (1200 = 1000 + 125 + 75) adds reasoning on top of output, which
    # contradicts the documented semantics (output includes reasoning; openai/codex protocol.rs, ccusage
    # codex README). costlab takes output_tokens as reported and never derives it from total_tokens.
    assert json.loads(parsed.table("spans")[0]["attributes"])["total_tokens"] == 1200
    # no session_meta: the trace id falls back to the file name
    assert {r["trace_id"] for r in parsed.table("spans")} == {"session-alpha"}


def test_constructed_session_per_call_deltas() -> None:
    parsed = parse_file(MAIN)
    assert parsed.bad == []
    assert calls(parsed) == [
        (12000, 0, 400, 256, "gpt-5-codex", "reported"),  # first call (its repeat is skipped)
        (13000, 11800, 150, 64, "gpt-5-codex", "reported"),
        # cumulative only: (40000, 24000, 800, 400) - (25000, 11800, 550, 320)
        (15000, 12200, 250, 80, "gpt-5", "derived"),
        # after the context-window fill (zero usage, skipped; totals drop to 0): last_token_usage
        (9000, 0, 300, 100, "gpt-5", "reported"),
        # cumulative only: (18500, 8000, 420, 130) - (9000, 0, 300, 100)
        (9500, 8000, 120, 30, "gpt-5", "derived"),
        # totals dropped to (5000, 1000, 50, 0): a reset, the delta is the new total
        (5000, 1000, 50, 0, "gpt-5", "derived"),
    ]
    # input 12000+13000+15000+9000+9500+5000=63500; cached 0+11800+12200+0+8000+1000=33000;
    # output 400+150+250+300+120+50=1270; reasoning 256+64+80+100+30+0=530
    assert sums(parsed) == (6, 63500, 33000, 1270, 530)


def test_constructed_session_attribution() -> None:
    rows = parse_file(MAIN).table("spans")
    assert {(r["trace_id"], r["session_id"]) for r in rows} == {(MAIN_ID, MAIN_ID)}
    assert {r["workflow"] for r in rows} == {"payments-api"}  # basename of the turn's cwd
    assert {r["step"] for r in rows} == {"main"}
    assert {(r["provider"], r["span_kind"], r["usage_scope"]) for r in rows} == {
        ("openai", "llm", "self")
    }
    assert all(r["cache_write_tokens"] is None and r.get("reported_cost") is None for r in rows)
    tags = rows[0]["tags"]
    assert (tags["git_branch"], tags["plan_type"], tags["effort"], tags["cli_version"]) == (
        "feature/retry",
        "plus",
        "medium",
        "0.46.0",
    )
    assert (
        rows[2]["tags"]["effort"] == "high" and rows[2]["tags"]["plan_type"] == "plus"
    )  # plan is kept
    assert (
        str(rows[0]["start_time"]) == "2025-10-21 09:00:06.200000+00:00"
        and rows[0]["end_time"] is None
    )
    assert len({r["row_key"] for r in rows}) == len({r["span_id"] for r in rows}) == 6
    ctx = ParseContext(config={"codex": {"workflow": "billing"}})
    assert {r["workflow"] for r in parse_file(MAIN, ctx=ctx).table("spans")} == {"billing"}


def test_forked_subagent_skips_the_copied_parent_history() -> None:
    parsed = parse_file(FORK)
    assert parsed.bad == []
    # two copied parent calls at 10:00:00.004/.006 (within 1 s of the fork) are the parent's; the
    # child's: last (6000, 5000, 150, 80), then cumulative (33000, 18000, 760, 420) - (31000, 16800,
    # 700, 400) = (2000, 1200, 60, 20) although it comes only 0.4 s later
    assert calls(parsed) == [
        (6000, 5000, 150, 80, "gpt-5-codex-mini", "reported"),
        (2000, 1200, 60, 20, "gpt-5-codex-mini", "derived"),
    ]
    assert sums(parsed) == (2, 8000, 6200, 210, 100)
    rows = parsed.table("spans")
    assert {r["trace_id"] for r in rows} == {CHILD_ID}  # not the copied parent session_meta
    assert {r["step"] for r in rows} == {"subagent:explorer"}


def test_a_fork_whose_own_meta_line_is_unreadable_still_skips_the_copied_history(tmp_path: Path) -> None:
    """The fork's first line (its own session_meta) cut mid-JSON: the next session_meta is the
    parent's (0199f0a1-..., not the file name's 0199f0a2-...), copied and re-stamped at
    10:00:00.000 by the fork. It is not adopted: the session is the file name's id and the burst
    within 1 s of that line is the parent's, skipped - the same 2 calls as the intact file, where
    adopting it counted 4 (33000 input) under the parent's id. (A file that lost its first line
    altogether starts with the parent's meta, which cannot be told from a renamed rollout's: it
    is adopted, as before.)"""
    lines = FORK.read_text().splitlines()
    assert json.loads(lines[1])["payload"]["id"] == MAIN_ID
    path = tmp_path / FORK.name
    path.write_text("\n".join([lines[0][: len(lines[0]) // 2], *lines[1:]]) + "\n")
    parsed = parse_file(path)
    assert len(parsed.bad) == 1
    assert calls(parsed) == calls(parse_file(FORK))
    assert sums(parsed) == (2, 8000, 6200, 210, 100)
    assert {r["trace_id"] for r in parsed.table("spans")} == {CHILD_ID}
    path.write_text("\n".join(lines[1:]) + "\n")
    assert sums(parse_file(path))[:2] == (4, 33000)


def test_a_later_meta_of_the_files_own_session_is_adopted(tmp_path: Path) -> None:
    """The first line lost, and a later session_meta names the file's own session (a resumed
    rollout's, say): that is this session's meta, not a fork's copy; nothing is skipped. The
    fork fixture with its copied parent meta renamed to the child's id and made a plain CLI
    session: all 4 calls count (12000 + 13000 + 6000 + 2000 = 33000 input)."""
    lines = FORK.read_text().splitlines()
    meta = json.loads(lines[1])
    meta["payload"]["id"] = CHILD_ID
    path = tmp_path / FORK.name
    path.write_text("\n".join([json.dumps(meta), *lines[2:]]) + "\n")  # its own meta first: adopted
    assert sums(parse_file(path))[:2] == (4, 33000)
    path.write_text("\n".join([lines[2], json.dumps(meta), *lines[3:]]) + "\n")  # not first: adopted too
    parsed = parse_file(path)
    assert sums(parsed)[:2] == (4, 33000) and {r["trace_id"] for r in parsed.table("spans")} == {CHILD_ID}


def test_same_rollout_not_marked_as_fork_counts_early_events(tmp_path: Path) -> None:
    lines = FORK.read_text().splitlines()
    meta = json.loads(lines[0])
    meta["payload"]["source"] = "cli"
    path = tmp_path / "rollout.jsonl"
    path.write_text("\n".join([json.dumps(meta), *lines[1:]]) + "\n")
    # 12000 + 13000 + 6000 + 2000 = 33000 = the last cumulative input
    assert sums(parse_file(path))[:2] == (4, 33000)


def test_rows_are_stable_when_the_rollout_grows(tmp_path: Path) -> None:
    lines = MAIN.read_text().splitlines()
    path = tmp_path / f"rollout-x-{MAIN_ID}.jsonl"
    path.write_text("\n".join(lines[:9]) + "\n")
    early = {r["row_key"]: r for r in parse_file(path).table("spans")}
    path.write_text("\n".join(lines) + "\n")
    full = {r["row_key"]: r for r in parse_file(path).table("spans")}
    assert len(early) == 2 and set(early) <= set(full)
    assert all(early[k]["output_tokens"] == full[k]["output_tokens"] for k in early)


def test_exclusive_cached_count_is_added_to_input(tmp_path: Path) -> None:
    line = {
        "timestamp": "2025-10-21T09:00:00.000Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {
                "last_token_usage": {
                    "input_tokens": 100,
                    "cached_input_tokens": 400,
                    "output_tokens": 5,
                }
            },
        },
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line) + "\n")
    row = parse_file(path).table("spans")[0]
    assert (row["input_tokens"], row["cache_read_tokens"]) == (500, 400)
    # no turn_context: the model is unknown (never guessed) and the reasoning count is unknown
    assert row["model"] is None and row["reasoning_tokens"] is None
    assert json.loads(row["attributes"])["model_source"] == "missing"


def test_malformed_lines_are_quarantined_with_reasons() -> None:
    parsed = parse_file(MALFORMED)
    # good: line 3 last (100, 0, 10, 0); line 10 last (50, 20, 5, 0)
    assert sums(parsed) == (2, 150, 20, 15, 0)
    reasons = {b.location: b.reason for b in parsed.bad}
    assert reasons == {
        "4": "negative last_token_usage.input_tokens: -3",
        "5": reasons["5"],
        "6": "not a Codex rollout line ({timestamp, type, payload})",
        "7": "token_count info is not an object",
        "8": "token_count without a timestamp",
        "9": "not a number: '1e3x'",
    }
    assert reasons["5"].startswith("invalid JSON")


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    paths = [CX / "constructed" / "sessions", CCUSAGE]
    res = ingest(paths, lake=lake_dir)
    assert not res.failed
    lake = Lake(lake_dir)
    # main (6, 63500, 33000, 1270, 530) + fork (2, 8000, 6200, 210, 100) + ccusage (2, 3500, 750, 425, 275)
    expected = [(10, 75000, 39950, 1905, 905)]
    q = (
        "SELECT count(*), sum(input_tokens), sum(cache_read_tokens), sum(output_tokens), "
        "sum(reasoning_tokens) FROM calls WHERE source_format = 'codex'"
    )
    assert Workspace(lake).rows(q) == expected
    again = ingest(paths, lake=lake_dir)
    assert again.rows_written == 0
    forced = ingest(paths, lake=lake_dir, force=True)
    assert forced.rows_written == forced.rows_replaced == 10
    assert Workspace(lake).rows(q) == expected


def test_repeats_without_cumulative_totals_are_counted(tmp_path: Path) -> None:
    # without total_token_usage a re-sent event cannot be told from an identical second call
    line = {
        "timestamp": "2025-10-21T09:00:00.000Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {"last_token_usage": {"input_tokens": 10, "output_tokens": 1}},
        },
    }
    later = {**line, "timestamp": "2025-10-21T09:00:05.000Z"}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(later) + "\n")
    parsed = parse_file(path)
    assert [r["input_tokens"] for r in parsed.table("spans")] == [10, 10]
    assert len({r["row_key"] for r in parsed.table("spans")}) == 2


def test_a_line_whose_type_is_not_text_is_quarantined_not_a_failed_file(tmp_path: Path) -> None:
    """The fuzz test's case: line 1 of the ccusage rollout with ``"type": []`` failed the whole
    file with "internal error: TypeError: unhashable type". It is a line of no known type: the
    same rows and the same reason as with a type this parser does not know."""
    lines = CCUSAGE.read_text().splitlines()
    first = json.loads(lines[0])

    def with_type(value: Any) -> Parsed:
        path = tmp_path / f"{type(value).__name__}.jsonl"
        path.write_text("\n".join([json.dumps({**first, "type": value}), *lines[1:]]) + "\n")
        return parse_file(path)

    unknown = with_type("not_a_codex_type")
    assert sums(unknown)[0] > 0
    reasons = [("1", "not a Codex rollout line ({timestamp, type, payload})")]
    assert [(b.location, b.reason) for b in unknown.bad] == reasons
    for damaged in (with_type([]), with_type({"a": 1})):
        assert sums(damaged) == sums(unknown)
        assert [(b.location, b.reason) for b in damaged.bad] == reasons
