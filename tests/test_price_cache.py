"""The price book cache (costlab.pricing: built once per genai-prices version, code and override
file; a bad cache file is a miss, never an error)."""

from __future__ import annotations

import json
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
    assert not built.from_cache  # a miss: built from genai-prices
    first = _tables(built)
    assert len(list(cache.glob("prices-*.parquet"))) == 1
    hit = _load()
    assert hit.from_cache  # read from the file
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
    assert not _load().from_cache
    over = tmp_path / "prices.toml"
    over.write_text(OVERRIDES)
    assert not _load(over).from_cache
    assert _load(over).from_cache
    over.write_text(OVERRIDES.replace("0.30", "0.40"))
    book = _load(over)
    assert not book.from_cache  # new content: rebuilt, with the new price
    assert book.match("openai", "ft:gpt-4o-mini:acme:run7") is not None
    ft = [r for r in book.rows_for("openai", "ft:gpt-4o-mini:acme::abc") if r.price_type == "input_uncached"]
    assert [r.unit_price for r in ft] == [Decimal("0.40") / 1_000_000]
    assert len(list(cache.glob("prices-*.parquet"))) == 4


@pytest.mark.parametrize("junk", [b"", b"not parquet at all", None])
def test_a_corrupt_file_is_rebuilt(cache: Path, junk: bytes | None) -> None:
    expected = _tables(_load())
    (file,) = cache.glob("prices-*.parquet")
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2] if junk is None else junk)  # None: cut short
    book = _load()
    assert not book.from_cache
    for a, b in zip(expected, _tables(book), strict=True):
        assert a.equals(b)  # type: ignore[attr-defined]
    assert _load().from_cache  # written again, whole


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


def _duck_tables(book: pricing.PriceBook, pairs: list[tuple[str | None, str]] = PAIRS) -> dict[str, list[tuple[object, ...]]]:
    """The three tables as `add_price_tables` makes them in DuckDB, every row, sorted."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE spans AS SELECT * FROM (VALUES (CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'llm', 'self')) "
                "AS t(provider, model, span_kind, usage_scope) WHERE false")  # fmt: skip
    con.execute("CREATE TABLE _pairs (provider VARCHAR, model VARCHAR)")
    con.executemany("INSERT INTO _pairs VALUES (?, ?)", pairs)
    con.execute("INSERT INTO spans SELECT provider, model, 'llm', 'self' FROM _pairs")
    pricing.add_price_tables(con, book)
    return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in ("prices", "model_prices", "price_grid")}


def _arrow_tables(book: pricing.PriceBook, pairs: list[tuple[str | None, str]] = PAIRS) -> dict[str, list[tuple[object, ...]]]:
    """The same tables as Spark loads them (`price_tables`, Arrow), cast to the same SQL types."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    out = {}
    for name, table, cols in pricing.price_tables(book, pairs):
        con.register("t", table)
        select = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in cols)
        out[name] = sorted(con.execute(f"SELECT {select} FROM t").fetchall(), key=repr)
        con.unregister("t")
    return out


def test_duckdb_tables_equal_the_arrow_tables_for_a_cached_a_built_and_a_billed_book(cache: Path) -> None:
    """DuckDB's price tables come from the cache file or from Python lists, Spark's from Arrow:
    the same rows, to the last decimal place, whichever way the book was made."""
    built = _load()
    assert not built.from_cache
    hit = _load()
    assert hit.from_cache and hit.cache_path is not None and hit.cache_path.suffix == ".parquet"
    from datetime import date

    rates = [("acme", "house-model", "input_uncached", "standard", "USD", 1_000_000, Decimal("0.123456789012345678"),
              None, 3, "focus", date(2026, 10, 1), date(2026, 10, 31))]  # fmt: skip
    billed = hit.with_bill_rates(rates)
    assert billed is not hit and billed.cache_path is None
    pairs = [*PAIRS, ("acme", "house-model")]
    for book in (built, hit, billed):
        duck, arrow = _duck_tables(book, pairs), _arrow_tables(book, pairs)
        assert duck == arrow
        assert len(duck["prices"]) > 9000 and len(duck["model_prices"]) == len(pairs)
    house = [r for r in _duck_tables(billed, pairs)["price_grid"] if r[1] == "house-model"]
    at = [n for n, _ in pricing.GRID_COLUMNS].index("p_uncached")
    # 0.123456789012345678 billed for 1M tokens: 0.000000123456789012 a token (18 places)
    assert house and {r[at] for r in house} == {Decimal("0.000000123456789012")}


def test_create_table_of_columns_is_exact(tmp_path: Path) -> None:
    import duckdb

    from costlab.price_cache import create_table_of_columns

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cols = [("d", "DECIMAL(38,18)"), ("ts", "TIMESTAMPTZ"), ("t", "TIME"), ("n", "BIGINT"), ("s", "VARCHAR"), ("l", "VARCHAR[]")]
    from datetime import UTC, datetime, time, timedelta, timezone

    values = {
        "d": [Decimal("0.000000123456789012"), Decimal("1E-18"), Decimal("12345678901234567890.5"), None],
        "ts": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), None,
               datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)],
        "t": [time(16, 30), None, time(0, 0, 0, 1), time(23, 59, 59)],
        "n": [2**62, None, 0, -5],
        "s": ["it's", None, "", "x\x1fy"],
        "l": [["standard", "batch"], None, [], ["a'b"]],
    }  # fmt: skip
    create_table_of_columns(con, "t1", cols, values)
    got = con.execute("SELECT * FROM t1 ORDER BY rowid").fetchall()
    assert [r[0] for r in got] == values["d"]
    assert [r[1] for r in got] == values["ts"]  # the +05:30 one is 2026-01-01 00:00 UTC: equal
    assert [r[2:] for r in got] == list(zip(values["t"], values["n"], values["s"], values["l"], strict=True))
    assert [r[1] for r in con.execute("DESCRIBE t1").fetchall()] == [
        "DECIMAL(38,18)", "TIMESTAMP WITH TIME ZONE", "TIME", "BIGINT", "VARCHAR", "VARCHAR[]"]  # fmt: skip
    create_table_of_columns(con, "t2", cols, {n: [] for n, _ in cols})
    assert con.execute("SELECT count(*) FROM t2").fetchall() == [(0,)]


def test_a_report_on_models_matched_before_does_not_import_pyarrow(demo_lake: Path, tmp_path: Path) -> None:
    """The nightly report's fixed cost: with the prices read from the cache, pyarrow and numpy
    (which it imports, 0.18 s together) stay unloaded. A fresh process, as cron runs it. (The
    demo's bill names models genai-prices does not know, priced at the bill's rates: that copy
    of the book is built from genai-prices, so its data is loaded here.)"""
    import os
    import subprocess

    code = (
        "import sys, json\n"
        "from costlab.report.build import build_report\n"
        "build_report(sys.argv[1], since='2026-10-01', until='2026-11-01', findings=False)\n"
        "print(json.dumps(sorted(m for m in ('pyarrow', 'numpy', 'polars') if m in sys.modules)))\n"
    )
    env = {**os.environ, "COSTLAB_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code, str(demo_lake)], env=env, capture_output=True, text=True,
                           cwd=tmp_path, check=True) for _ in range(2)]  # fmt: skip
    assert "pyarrow" in runs[0].stdout  # the first run builds the book and writes the cache
    assert json.loads(runs[1].stdout.splitlines()[-1]) == []
