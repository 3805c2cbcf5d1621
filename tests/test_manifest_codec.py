"""The manifest's encoding: msgspec on the common path, json where msgspec cannot (a file name
that is not valid Unicode), the same checks and messages either way."""

from __future__ import annotations

import json

import pytest

from costlab.lake import Manifest, ManifestError


def manifest(files: dict[str, dict[str, object]]) -> Manifest:
    return Manifest(
        version=3,
        tables={"spans": ["spans/day=2026-01-01/a.parquet"]},
        files=files,
        trash=[("spans/old.parquet", 1733600000.25)],
        rollup_keys={"version": 1, "bands": [200000]},
    )


ENTRY = {"size": 10, "mtime_ns": 1_733_600_000_123_456_789, "sha256": "ab", "source_format": "claude_code",
         "run_id": "r1", "rows": 4}  # fmt: skip


def test_the_bytes_are_json_s_compact_sorted_text() -> None:
    m = manifest({"/logs/a.jsonl": ENTRY, "/logs/b.jsonl": {**ENTRY, "rows": None}})
    want = json.dumps(json.loads(m.to_bytes()), sort_keys=True, separators=(",", ":"))
    assert m.to_bytes().decode() == want
    assert Manifest.from_json(m.to_bytes()) == m


@pytest.mark.parametrize(
    "name",
    ["/logs/café/é.jsonl", "/logs/bad-\udcff-byte.jsonl", "/logs/tab\there.jsonl", "/logs/line\nbreak.jsonl"],
    ids=["non-ascii", "undecodable-byte", "tab", "newline"],
)
def test_any_file_name_round_trips(name: str) -> None:
    m = manifest({name: ENTRY})
    back = Manifest.from_json(m.to_bytes())
    assert back == m and list(back.files) == [name]


BAD = {
    "size-float": ({**ENTRY, "size": 1.0}, "'size' is a fractional number, not a whole number"),
    "size-bool": ({**ENTRY, "size": True}, "'size' is a boolean, not a whole number"),
    "mtime-missing": ({k: v for k, v in ENTRY.items() if k != "mtime_ns"}, "'mtime_ns' is missing"),
    "sha-number": ({**ENTRY, "sha256": 5}, "'sha256' is a whole number, not a string"),
    "format-number": ({**ENTRY, "source_format": 1}, "'source_format' is a whole number, not a string"),
    "run-list": ({**ENTRY, "run_id": []}, "'run_id' is an array, not a string"),
    "rows-bool": ({**ENTRY, "rows": False}, "'rows' is a boolean, not a whole number"),
    "rows-text": ({**ENTRY, "rows": "4"}, "'rows' is a string, not a whole number"),
    "entry-list": ([], "is an array, not an object"),
}


@pytest.mark.parametrize("entry,message", list(BAD.values()), ids=list(BAD))
def test_a_wrong_file_entry_is_named(entry: object, message: str) -> None:
    raw = json.dumps({"version": 1, "tables": {}, "files": {"/ok.csv": ENTRY, "/a.csv": entry}})
    with pytest.raises(ManifestError, match="'/a.csv'") as err:
        Manifest.from_json(raw.encode())
    assert message in str(err.value)


@pytest.mark.parametrize("raw", [b'{"version": NaN}', b"\xef\xbb\xbf{}", b'{"version": 1,'], ids=["nan", "bom", "cut"])
def test_text_msgspec_refuses_gets_json_s_verdict(raw: bytes) -> None:
    try:
        json.loads(raw.decode("utf-8"))
    except ValueError as ex:
        with pytest.raises(ManifestError, match="not JSON") as err:
            Manifest.from_json(raw)
        assert str(ex)[:60] in str(err.value)  # json's own words, as before msgspec
    else:  # json reads it (NaN): then the checks speak, as before
        with pytest.raises(ManifestError, match="'version' is a fractional number, not a whole number"):
            Manifest.from_json(raw)
