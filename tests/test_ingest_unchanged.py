"""A nightly ingest finds new and changed files by (size, mtime_ns) alone: an unchanged file is
never opened, hashed or parsed (the fixed cost of a run over thousands of session logs)."""

from __future__ import annotations

import builtins
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from costlab.ingest import run as ingest_run
from costlab.ingest.run import ingest

ROOT = Path(__file__).resolve().parent.parent


def _opened(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[str]:
    """Every open of a file under ``under``, by builtins.open, io.open or os.open, recorded."""
    seen: list[str] = []

    def spy(real: Any) -> Any:
        def wrapper(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, str | os.PathLike) and str(Path(os.fspath(file)).absolute()).startswith(str(under)):
                seen.append(os.fspath(file))
            return real(file, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    monkeypatch.setattr(io, "open", spy(io.open))
    monkeypatch.setattr(os, "open", spy(os.open))
    monkeypatch.setattr(ingest_run, "file_sha256", spy(ingest_run.file_sha256))
    return seen


def test_unchanged_files_are_not_opened_and_a_touched_one_is_hashed_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "logs"
    shutil.copytree(ROOT / "tests" / "fixtures" / "claude_code", src)
    files = sorted(p for p in src.rglob("*.jsonl"))
    assert len(files) >= 2
    lake = tmp_path / "lake"
    first = ingest([src], lake=lake)
    assert not first.failed and first.ingested
    known = {f.path for f in first.files if f.status in ("ingested", "empty", "unrecognised")}

    seen = _opened(monkeypatch, src)
    again = ingest([src], lake=lake)
    assert seen == []  # stat only: nothing under the source folder was opened or hashed
    assert {f.path for f in again.files if f.status == "skipped"} >= {str(p) for p in files if str(p) in known}
    assert not again.ingested

    # same bytes, new mtime: hashed once to find it unchanged, not parsed, the new mtime remembered
    touched = next(p for p in files if str(p) in known)
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = ingest([src], lake=lake)
    assert seen == [str(touched)] * 2  # file_sha256(path), then its own open of the same path
    assert not third.ingested
    seen.clear()
    ingest([src], lake=lake)
    assert seen == []
