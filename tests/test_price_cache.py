"""The price book cache (costlab.pricing: built once per genai-prices version, code and override
file; a bad cache file is a miss, never an error)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import pricing

PAIRS = [("openai", "gpt-4o-2024-08-06"), ("anthropic", "claude-sonnet-4-5"), ("acme", "no-such-model"), (None, "gpt-4o-mini")]
OVERRIDES = """
[[model]]
provider = "openai"
model = "ft:gpt-4o-mini:acme::abc"
match = ["ft:gpt-4o-mini:acme:*"]
input_per_mtok = 0.30
output_per_mtok = 1.20
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(pricing.CACHE_ENV, str(tmp_path / "cache"))
    pricing._cached_book.cache_clear()
    yield tmp_path / "cache"
    pricing._cached_book.cache_clear()


def _load(overrides: Path | None = None) -> pricing.PriceBook:
    pricing._cached_book.cache_clear()  # a new process: only the file cache is left
    return pricing.PriceBook.load(overrides)


def _tables(book: pricing.PriceBook, pairs: list[tuple[str | None, str]] = PAIRS) -> list[object]:
    return [t for _, t, _ in pricing.price_tables(book, pairs)]


def test_a_hit_gives_the_tables_of_a_fresh_build_without_genai_prices(cache: Path) -> None:
    built = _load()
    assert built._index is None  # a miss: built from genai-prices
    first = _tables(built)
    assert len(list(cache.glob("prices-*.arrow"))) == 1
    hit = _load()
    assert hit._index is not None  # read from the file
    again = _tables(hit)
    assert hit._snapshot is None  # every pair was matched before: genai-prices' data never loaded
    fresh = _tables(pricing.PriceBook(None))
    for a, b, c in zip(first, again, fresh, strict=True):
        assert a.equals(b) and b.equals(c)  # type: ignore[attr-defined]
    assert hit.rows_for("openai", "gpt-4o") == pricing.PriceBook(None).rows_for("openai", "gpt-4o")
    # gpt-4o's list input price, $2.50 per million tokens, is 0.0000025 a token
    inputs = {r.unit_price for r in hit.rows_for("openai", "gpt-4o")
              if r.price_type == "input_uncached" and r.service_tier == "standard" and r.valid_to is None}  # fmt: skip
    assert inputs == {Decimal("2.5") / 1_000_000}


def test_a_pair_not_seen_before_builds_the_book_and_is_remembered(cache: Path) -> None:
    _tables(_load(), PAIRS[:1])
    book = _load()
    hit = book.match("anthropic", "claude-haiku-4-5")
    assert hit == pricing.PriceBook(None).match("anthropic", "claude-haiku-4-5")
    assert book._snapshot is not None  # the new pair needed genai-prices
    _tables(book, [*PAIRS[:1], ("anthropic", "claude-haiku-4-5")])  # saves the new match
    later = _load()
    assert later.match("anthropic", "claude-haiku-4-5") == hit and later._snapshot is None


def test_a_new_genai_prices_version_or_override_file_misses(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _load()
    monkeypatch.setattr(pricing, "GENAI_PRICES_VERSION", "0.0.0-other")
    assert _load()._index is None
    over = tmp_path / "prices.toml"
    over.write_text(OVERRIDES)
    assert _load(over)._index is None
    assert _load(over)._index is not None
    over.write_text(OVERRIDES.replace("0.30", "0.40"))
    book = _load(over)
    assert book._index is None  # new content: rebuilt, with the new price
    assert book.match("openai", "ft:gpt-4o-mini:acme:run7") is not None
    ft = [r for r in book.rows_for("openai", "ft:gpt-4o-mini:acme::abc") if r.price_type == "input_uncached"]
    assert [r.unit_price for r in ft] == [Decimal("0.40") / 1_000_000]
    assert len(list(cache.glob("prices-*.arrow"))) == 4


@pytest.mark.parametrize("junk", [b"", b"not arrow at all", None])
def test_a_corrupt_file_is_rebuilt(cache: Path, junk: bytes | None) -> None:
    expected = _tables(_load())
    (file,) = cache.glob("prices-*.arrow")
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2] if junk is None else junk)  # None: cut short
    book = _load()
    assert book._index is None
    for a, b in zip(expected, _tables(book), strict=True):
        assert a.equals(b)  # type: ignore[attr-defined]
    assert _load()._index is not None  # written again, whole


def test_an_unusable_cache_folder_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(pricing.CACHE_ENV, str(blocker / "cache"))  # cannot be created
    try:
        book = _load()
        assert book.match("openai", "gpt-4o") is not None
        assert _tables(book)
        assert not list(tmp_path.rglob("prices-*"))
    finally:
        pricing._cached_book.cache_clear()


def test_cache_folder_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(pricing.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pricing.cache_dir() == tmp_path / "xdg" / "costlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pricing.cache_dir() == tmp_path / "home" / ".cache" / "costlab"


def test_a_report_reading_the_cache_does_not_import_genai_prices(cache: Path) -> None:
    import subprocess

    code = ("from costlab import pricing; import sys; b = pricing.PriceBook.load(); "
            "pricing.price_tables(b, [('openai', 'gpt-4o')]); print('genai_prices' in sys.modules)")  # fmt: skip
    env = {"COSTLAB_CACHE_DIR": str(cache), "PYTHONPATH": str(Path(pricing.__file__).parent.parent), "PATH": ""}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]  # fmt: skip
    assert runs == ["True\n", "False\n"]
