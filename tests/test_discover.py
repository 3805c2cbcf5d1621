"""Which files a folder given to `costlab ingest` yields (costlab.ingest.run.discover): data files
in path order; hidden names, other suffixes, the lake itself, ``--exclude`` globs, symlinked
folders and broken links left out; a symlinked file read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from costlab.ingest.run import discover


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    top = tmp_path / "logs"
    files = [
        "b.jsonl", "a.csv", "A-upper.JSONL", "z/old.json.gz", "z/notes.txt", ".hidden.jsonl",
        ".cache/x.jsonl", "p/q/deep.parquet", "p/drafts/skip.jsonl", "p/metrics-1.csv",
        "lake/spans/x.parquet", "p-2/c.jsonl",
    ]  # fmt: skip
    for rel in files:
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text("x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "linked.jsonl").write_text("x")
    (top / "via-link.jsonl").symlink_to(outside / "linked.jsonl")  # a linked file: read
    (top / "linked-dir").symlink_to(outside, target_is_directory=True)  # a linked folder: not followed
    (top / "broken.jsonl").symlink_to(tmp_path / "missing.jsonl")  # nothing behind it: left out
    return top


def test_a_folder_yields_its_data_files_in_path_order(tree: Path) -> None:
    found, missing = discover(tree, exclude=tree / "lake", ignore=["metrics*.csv", "p/drafts/*"])
    assert missing == []
    rel = [p.relative_to(tree).as_posix() for p in found]
    # ordered by path components: "p" sorts before "p-2" ("p/..." is the folder's parts)
    assert rel == ["A-upper.JSONL", "a.csv", "b.jsonl", "p/q/deep.parquet", "p-2/c.jsonl", "via-link.jsonl", "z/old.json.gz"]
    assert all(p.is_absolute() for p in found)


def test_the_lake_inside_the_folder_and_the_folder_inside_the_lake(tree: Path) -> None:
    rel = [p.relative_to(tree).as_posix() for p in discover(tree)[0]]
    assert "lake/spans/x.parquet" in rel  # no lake named: an ordinary folder
    assert discover(tree / "lake" / "spans", exclude=tree / "lake") == ([], [])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_subfolder_is_skipped(tree: Path) -> None:
    (tree / "z").chmod(0)
    try:
        rel = [p.relative_to(tree).as_posix() for p in discover(tree)[0]]
    finally:
        (tree / "z").chmod(0o755)
    assert "b.jsonl" in rel and not any(r.startswith("z/") for r in rel)
