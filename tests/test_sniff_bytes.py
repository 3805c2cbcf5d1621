"""`Sniff` reads a JSON head's first lines from its bytes instead of decoding all 256 KiB; the
answers must be those of the decoded text, whatever the head holds: a BOM, whitespace that only
`str.isspace` knows (U+001C-U+001F, U+0085, U+00A0), bytes that are not UTF-8, a character cut
by the head's end, CRLF, blank lines."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from costlab.ingest import base
from costlab.ingest.base import Sniff

PIECES = [
    b"\xef\xbb\xbf", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\x1c", b"\x1f", b"\xc2\x85", b"\xc2\xa0", b"\xff", b"\xe2\x82",
    b"{", b"}", b"[", b"]", b'"a"', b":", b",", b"1", b"x", b"\xc3\xa9", b'{"type":"user","sessionId":"s"}',
    b'{"payload":{}}', b"a,b,c", b"\\u00e9", b'"\\ud800"',
]  # fmt: skip


def reference_first_line(sniff: Sniff) -> str:
    """The code before: the decoded head, stripped, up to its first newline."""
    text = sniff.head.lstrip()
    nl = text.find("\n")
    return text[:nl] if nl != -1 else "(no newline)"


def reference_kind(sniff: Sniff) -> str:
    text = sniff.head.lstrip()
    if not text:
        return "empty"
    if text[0] in "{[":
        first = reference_first_line(sniff)
        if first == "(no newline)":
            return "(skip)"
        first = first.strip()
        try:
            return "jsonl" if isinstance(json.loads(first), dict) else "json"
        except (ValueError, RecursionError):
            pass
        return "jsonl" if first not in ("{", "[") and sniff._later_object is not None else "json"
    return "(other)"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_bytes_and_text_give_the_same_answers(tmp_path_factory: object, parts: list[bytes]) -> None:
    path = Path(str(tmp_path_factory.mktemp("s"))) / "x.jsonl"  # type: ignore[attr-defined]
    path.write_bytes(b"".join(parts))
    sniff, plain = Sniff(path), Sniff(path)
    want_lines = plain.head.split("\n")[:50]
    assert list(sniff.lines(50)) == want_lines
    want_first = reference_first_line(plain)
    if want_first != "(no newline)":
        assert Sniff(path).first_line == want_first
    want_kind = reference_kind(plain)
    if want_kind not in ("(skip)", "(other)"):
        assert Sniff(path).kind == want_kind


def test_a_json_log_is_detected_without_decoding_its_head(tmp_path: Path, monkeypatch: object) -> None:
    """The point of it: a Claude Code log's kind and source come from its first line."""
    path = tmp_path / "s.jsonl"
    record = {"type": "user", "sessionId": "s", "uuid": "u", "message": {"role": "user", "content": "é" * 1000}}
    path.write_text((json.dumps(record, ensure_ascii=False) + "\n") * 100, encoding="utf-8")
    decoded: list[Path] = []
    real = base.Sniff.head.func  # type: ignore[attr-defined]

    def head(self: Sniff) -> str:
        decoded.append(self.path)
        return real(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(base.Sniff, "head", property(head))  # type: ignore[attr-defined]
    from costlab.ingest.registry import detect

    assert detect(path).name == "claude_code"
    assert decoded == []
