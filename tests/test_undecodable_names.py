"""Text no Parquet file can hold: a file name with bytes that are not UTF-8 (Python keeps them as
lone surrogates) and JSON escaping a lone surrogate. Ingest used to crash on the first with a
traceback and to drop the quarantine row of the second; now names are stored escaped and a bad
value is quarantined with its reason, visible in `costlab quarantine`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from toysource import write

from costlab.ingest.run import ingest
from costlab.ingest.util import storable
from costlab.lake import Lake
from costlab.workspace import Workspace

XFF = os.fsdecode(b"\xff")  # the byte 0xff of a file name, as Python holds it: U+DCFF


def test_storable_escapes_only_what_utf8_cannot_hold() -> None:
    assert storable("café ✓") == "café ✓"
    assert storable(f"spend-{XFF}.csv") == "spend-\\xff.csv"
    assert storable("model-\ud800") == "model-\\ud800"  # no file-name byte: its code point


def test_a_file_name_that_is_not_utf8_is_stored_escaped_and_skipped_next_time(tmp_path: Path) -> None:
    """Python keeps the byte 0xff of a file name as the lone surrogate U+DCFF, which neither Parquet
    nor UTF-8 JSON can hold: the lake names the file with the byte escaped (it crashed ingest)."""
    src = tmp_path / "src"
    src.mkdir()
    write(src / os.fsdecode(b"spend-\xff.csv"), [(1, "1.50", "2026-01-01")])
    first = ingest([src], lake=tmp_path / "lake")
    assert [f.status for f in first.files] == ["ingested"], first.files
    stored = str(src / "spend-") + "\\xff.csv"
    assert list(Lake(tmp_path / "lake").manifest().files) == [stored]
    assert Workspace(tmp_path / "lake").rows("SELECT DISTINCT source_file FROM charges") == [(stored,)]
    again = ingest([src], lake=tmp_path / "lake")
    assert [f.status for f in again.files] == ["skipped"]


def test_claude_code_names_from_the_path_and_a_bad_value_in_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "projects" / f"p{XFF}"
    folder.mkdir(parents=True)
    lines = [
        {"type": "assistant", "uuid": "u1", "timestamp": "2026-01-01T00:00:00Z",
         "message": {"id": "m1", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 1, "output_tokens": 2}}},
        {"type": "assistant", "uuid": "u2", "timestamp": "2026-01-01T00:00:01Z",
         "message": {"id": "m2", "model": "\ud800", "usage": {"input_tokens": 1, "output_tokens": 2}}},
    ]  # fmt: skip
    # no sessionId: the session is the file's name, the workflow its project folder
    (folder / f"s{XFF}.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n", errors="surrogateescape")
    lake = tmp_path / "lake"
    res = ingest([tmp_path / "projects"], lake=lake)
    assert (res.rows_written, res.rows_quarantined) == (1, 1), res.files
    ws = Workspace(lake)
    assert ws.rows("SELECT session_id, workflow, span_id FROM spans") == [("s\\xff", "p\\xff", "m1")]
    [(where, reason, raw)] = ws.rows("SELECT location, reason, raw FROM quarantine")
    assert where == "2" and "surrogates not allowed" in reason and '"span_id": "m2"' in raw
    assert list(Lake(lake).manifest().files) == [str(folder.parent) + "/p\\xff/s\\xff.jsonl"]
