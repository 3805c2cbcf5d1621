"""Prices: genai-prices' bundled snapshot flattened into ``prices``, overrides, and ``calls`` costs.

Hand-checked numbers cite the provider's list price (per million tokens) they come from; the same
values are in genai-prices 0.2.3's ``data.py``. ``test_matches_genai_prices_calc_price`` checks the
flattening against genai-prices' own ``calc_price`` over every bundled model.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from costlab import schema
from costlab.errors import CostlabError
from costlab.pricing import (
    SOURCE,
    PriceBook,
    add_price_tables,
    describe,
    load_overrides,
)
from costlab.views import create_call_views
from costlab.workspace import Workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures"
M = Decimal(1_000_000)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook(None)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def calls(book: PriceBook, rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """A connection whose ``spans`` holds ``rows`` (defaults: an LLM call with its own usage),
    with the price tables registered and the ``calls`` view created."""
    cols = schema.TABLES["spans"] + schema.TABLE_PARTITIONS["spans"]
    full = []
    for i, r in enumerate(rows):
        base = {"trace_id": "t", "span_id": f"s{i}", "span_kind": "llm", "usage_scope": "self"}
        base.update(usage_source="reported", source_format="test", source_line=i)
        base.update(r)
        full.append(base)
    table = pa.table(
        {n: pa.array([r.get(n) for r in full], type=schema.arrow_type(t)) for n, t in cols}
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_in", table)
    con.execute("CREATE TABLE spans AS SELECT * FROM _in")
    add_price_tables(con, book)
    create_call_views(con)
    return con


def cost_of(book: PriceBook, **call: Any) -> tuple[Any, ...]:
    con = calls(book, [call])
    return con.execute("SELECT cost, cost_currency, cost_source FROM calls").fetchone()  # type: ignore[return-value]


def _tokens(inp: int, out: int, read: int = 0, write: int = 0, **more: Any) -> dict[str, Any]:
    return dict(input_tokens=inp, output_tokens=out, cache_read_tokens=read,
                cache_write_tokens=write, **more)  # fmt: skip


# -- the table ---------------------------------------------------------------------------------


def test_source_is_the_pinned_bundled_snapshot(book: PriceBook) -> None:
    assert SOURCE == "genai-prices 0.2.3"
    rows = list(book.rows())
    assert len(rows) > 9000 and {r.source for r in rows} == {SOURCE}
    assert {r.currency for r in rows} == {"USD"}
    types = {r.price_type for r in rows}
    assert {"input_uncached", "input_cache_read", "input_cache_write_5m", "input_cache_write_1h",
            "output", "reasoning", "input_audio", "output_audio", "request"} <= types  # fmt: skip


def test_gpt_4o_mini_prices(book: PriceBook) -> None:
    # OpenAI pricing: gpt-4o-mini $0.15 input, $0.075 cached input, $0.60 output per 1M tokens
    got = {r.price_type: r.unit_price for r in book.rows_for("openai", "gpt-4o-mini")
           if r.service_tier == "standard" and r.unit == "token"}  # fmt: skip
    assert got == {
        "input_uncached": Decimal("0.00000015"),
        "input_cache_read": Decimal("0.000000075"),
        "output": Decimal("0.0000006"),
    }
    assert book.match("openai", "gpt-4o-mini-2024-07-18") == (
        "openai", "gpt-4o-mini", ("standard", "batch", "priority", "fast"), "genai-prices"
    )  # fmt: skip


def test_claude_sonnet_cache_prices_and_long_context_tier(book: PriceBook) -> None:
    # Anthropic: Sonnet 4.5 $3 in, $15 out, 5m write $3.75 (1.25x), 1h write $6 (2x), read $0.30
    # (0.1x); prompts over 200k input tokens: $6 / $22.50 / $7.50 / $12 / $0.60.
    rows = [
        r for r in book.rows_for("anthropic", "claude-sonnet-4-5") if r.service_tier == "standard"
    ]
    per_mtok = {
        (r.price_type, r.tier_condition): r.unit_price * M for r in rows if r.unit == "token"
    }
    assert per_mtok == {
        ("input_uncached", "input_tokens <= 200000"): 3,
        ("input_uncached", "input_tokens > 200000"): 6,
        ("input_cache_read", "input_tokens <= 200000"): Decimal("0.3"),
        ("input_cache_read", "input_tokens > 200000"): Decimal("0.6"),
        ("input_cache_write_5m", "input_tokens <= 200000"): Decimal("3.75"),
        ("input_cache_write_5m", "input_tokens > 200000"): Decimal("7.5"),
        ("input_cache_write_1h", "input_tokens <= 200000"): 6,
        ("input_cache_write_1h", "input_tokens > 200000"): 12,
        ("output", "input_tokens <= 200000"): 15,
        ("output", "input_tokens > 200000"): Decimal("22.5"),
    }
    con = calls(book, [])
    assert con.execute(
        "SELECT count(*), min(valid_from), max(valid_to) FROM prices "
        "WHERE provider = 'anthropic' AND model = 'claude-sonnet-4-5' AND service_tier = 'standard'"
    ).fetchone() == (11, None, None)  # 10 token rows + web search


def test_unit_price_is_exact_decimal_18(book: PriceBook) -> None:
    con = calls(book, [])
    assert con.execute(
        "SELECT typeof(unit_price), typeof(list_unit_price) FROM prices LIMIT 1"
    ).fetchone() == ("DECIMAL(38,18)", "DECIMAL(38,18)")
    # $0.0375/MTok (cache read of a $0.375 model) is 0.0000000375 per token, exactly
    assert Decimal("0.0375") / M == Decimal("0.0000000375")
    every = [r.unit_price for r in book.rows()]
    assert all(p == p.quantize(Decimal("1e-18")) for p in every)


def test_grid_cells_are_disjoint(book: PriceBook) -> None:
    con = duckdb.connect()
    con.register("g0", book.grid_table([(r.provider, r.model) for r in book.rows()]))
    con.execute("CREATE TABLE g AS SELECT row_number() OVER () AS n, * FROM g0")
    assert con.execute("SELECT count(*) FROM g").fetchone()[0] > 3000  # type: ignore[index]
    overlaps = con.execute(
        """
        SELECT count(*) FROM g a JOIN g b
          ON a.price_provider = b.price_provider AND a.price_model = b.price_model
         AND a.price_tier = b.price_tier AND a.n < b.n
         AND coalesce(a.valid_from, '-infinity') < coalesce(b.valid_to, 'infinity')
         AND coalesce(b.valid_from, '-infinity') < coalesce(a.valid_to, 'infinity')
         AND coalesce(a.time_of_day_from, '00:00') < coalesce(b.time_of_day_to, '24:00:00')
         AND coalesce(b.time_of_day_from, '00:00') < coalesce(a.time_of_day_to, '24:00:00')
         AND coalesce(a.input_tokens_above, -1) < coalesce(b.input_tokens_upto, 9e18)
         AND coalesce(b.input_tokens_above, -1) < coalesce(a.input_tokens_upto, 9e18)
        """
    ).fetchone()
    assert overlaps == (0,)


# -- matching ------------------------------------------------------------------------------------


def test_match_rules(book: PriceBook) -> None:
    assert book.match("anthropic", "claude-sonnet-4-5-20250929").model == "claude-sonnet-4-5"  # type: ignore[union-attr]
    # Azure falls back to OpenAI's list; genai-prices ignores service tiers there
    assert book.match("azure", "gpt-4o") == (
        "openai",
        "gpt-4o",
        ("standard",),
        "genai-prices via openai",
    )
    # no provider: genai-prices picks the provider by model name
    assert book.match(None, "gpt-4o").provider == "openai"  # type: ignore[union-attr]
    # a provider genai-prices does not know is never guessed from the model name
    assert book.match("vllm", "llama-3.1-70b-instruct") is None
    assert book.match("openai", "no-such-model") is None
    assert book.match("openai", None) is None


# -- costs in the calls view ---------------------------------------------------------------------


def test_gpt_4o_mini_cost_with_cached_input(book: PriceBook) -> None:
    # 10,000 input (4,000 cached, inclusive), 500 output:
    # 6,000 x $0.15 + 4,000 x $0.075 + 500 x $0.60 per 1M = $0.0009 + $0.0003 + $0.0003
    got = cost_of(book, provider="openai", model="gpt-4o-mini-2024-07-18",
                  start_time=_at("2025-06-01T12:00:00"), **_tokens(10_000, 500, read=4_000))  # fmt: skip
    assert got == (Decimal("0.0015"), "USD", "computed")


def test_claude_cache_writes_5m_1h_and_unsplit(book: PriceBook) -> None:
    at = _at("2025-10-20T10:00:00")
    base = dict(provider="anthropic", model="claude-sonnet-4-5-20250929", start_time=at)
    # 21,506 in = 6 uncached + 20,000 read + 1,500 written (1,000 x 5m + 500 x 1h); 312 out
    # 6x3 + 20000x0.30 + 1000x3.75 + 500x6 + 312x15 = 18 + 6000 + 3750 + 3000 + 4680 = 17,448 u$
    split = cost_of(book, **base, **_tokens(21_506, 312, 20_000, 1_500),
                    cache_write_5m_tokens=1_000, cache_write_1h_tokens=500)  # fmt: skip
    assert split == (Decimal("0.017448"), "USD", "computed")
    # a cache write without a 5m/1h split is a 5m write: 6x3 + 20000x0.3 + 1500x3.75 + 312x15
    unsplit = cost_of(book, **base, **_tokens(21_506, 312, 20_000, 1_500))
    assert unsplit[0] == Decimal("0.016323")


def test_reasoning_is_inside_output_not_added(book: PriceBook) -> None:
    # o3 after 2025-06-10: $2 in / $8 out; 1,000 in, 1,000 out of which 800 reasoning
    got = cost_of(book, provider="openai", model="o3", start_time=_at("2025-10-01T00:00:00"),
                  reasoning_tokens=800, **_tokens(1_000, 1_000))  # fmt: skip
    assert got[0] == Decimal("0.010")


def test_price_history_genai(book: PriceBook) -> None:
    # o3 was $10 / $40 until OpenAI's cut to $2 / $8 on 2025-06-10 (genai-prices StartDateConstraint)
    con = calls(book, [
        dict(provider="openai", model="o3", start_time=_at("2025-06-09T23:59:59"), **_tokens(1_000_000, 100_000)),
        dict(provider="openai", model="o3", start_time=_at("2025-06-10T00:00:00"), **_tokens(1_000_000, 100_000)),
    ])  # fmt: skip
    assert con.execute("SELECT cost FROM calls ORDER BY start_time").fetchall() == [
        (Decimal("14"),),  # 10 + 0.1 x 40
        (Decimal("2.8"),),  # 2 + 0.1 x 8
    ]


def test_long_context_tier_and_its_removal(book: PriceBook) -> None:
    # genai-prices' calc_price: claude-opus-4-6, 1M input (200k cache read), 1M output
    # is $45.70 on 2026-01-01 (> 200k tier: 800k x 10 + 200k x 1 + 1M x 37.5) and $29.10 on
    # 2026-06-01, after Anthropic dropped the long-context tier on 2026-03-13 (800k x 5 + 200k x 0.5 + 25)
    rows = [dict(provider="anthropic", model="claude-opus-4-6", start_time=_at(t),
                 **_tokens(1_000_000, 1_000_000, 200_000)) for t in ("2026-01-01T00:00:00", "2026-06-01T00:00:00")]  # fmt: skip
    con = calls(book, rows)
    assert con.execute("SELECT cost FROM calls ORDER BY start_time").fetchall() == [
        (Decimal("45.70"),), (Decimal("29.10"),),
    ]  # fmt: skip
    # the threshold is on the inclusive input count, cliff style (every token at the tier rate)
    at = _at("2025-10-20T00:00:00")
    sonnet = dict(provider="anthropic", model="claude-sonnet-4-5", start_time=at)
    assert cost_of(book, **sonnet, **_tokens(200_000, 1_000))[0] == Decimal("0.615")  # 0.6 + 0.015
    assert cost_of(book, **sonnet, **_tokens(200_001, 1_000))[0] == Decimal(
        "1.222506"
    )  # 200001x6 + 1000x22.5


def test_batch_flex_priority_tiers(book: PriceBook) -> None:
    gpt4o = dict(provider="openai", model="gpt-4o", **_tokens(1_000_000, 1_000_000))
    late, early = _at("2026-11-01T00:00:00"), _at("2025-06-01T00:00:00")
    # genai-prices' calc_price: gpt-4o 1M/1M is $12.50 standard and $6.25 batch ($1.25 / $5)
    assert cost_of(book, **gpt4o, start_time=late)[0] == Decimal("12.5")
    assert cost_of(book, **gpt4o, start_time=late, service_tier="batch")[0] == Decimal("6.25")
    # priority: $4.25 / $17 from 2026-10-12
    assert cost_of(book, **gpt4o, start_time=late, service_tier="priority")[0] == Decimal("21.25")
    # genai-prices 0.2.3 dates its batch variants from 2026-10-14: earlier batch calls are priced
    # at standard (add a [[discount]] service_tier = "batch" override for history)
    assert cost_of(book, **gpt4o, start_time=early, service_tier="batch")[0] == Decimal("12.5")
    # o3 flex: $1 / $4
    o3 = dict(provider="openai", model="o3", start_time=late, service_tier="flex")
    assert cost_of(book, **o3, **_tokens(1_000_000, 1_000_000))[0] == Decimal("5")
    # a tier the model has no prices for is standard; provisioned throughput is not token-priced
    sonnet = dict(
        provider="anthropic", model="claude-sonnet-4-5", start_time=late, **_tokens(1000, 1000)
    )
    assert cost_of(book, **sonnet, service_tier="flex")[0] == Decimal("0.018")
    assert cost_of(book, **sonnet, service_tier="provisioned") == (None, None, "unpriced")
    # Anthropic fast mode comes from the speed tag (Claude Code): Opus 4.8 fast is $10 / $50
    opus = dict(
        provider="anthropic",
        model="claude-opus-4-8",
        start_time=late,
        **_tokens(1_000_000, 1_000_000),
    )
    assert cost_of(book, **opus)[0] == Decimal("30")
    assert cost_of(book, **opus, tags={"speed": "fast"})[0] == Decimal("60")
    # Azure is priced from OpenAI's list without OpenAI's batch discount (genai-prices' rule)
    assert cost_of(book, **{**gpt4o, "provider": "azure"}, start_time=late, service_tier="batch")[
        0
    ] == Decimal("12.5")


def test_time_of_day_prices(book: PriceBook) -> None:
    # DeepSeek chat: $0.27 / $1.10 from 00:30 to 16:30 UTC, $0.135 / $0.55 off-peak
    ds = dict(provider="deepseek", model="deepseek-chat", **_tokens(1_000_000, 1_000_000))
    assert cost_of(book, **ds, start_time=_at("2025-09-01T10:00:00"))[0] == Decimal("1.37")
    assert cost_of(book, **ds, start_time=_at("2025-09-01T20:00:00"))[0] == Decimal("0.685")
    assert cost_of(book, **ds, start_time=_at("2025-09-01T00:15:00"))[0] == Decimal("0.685")


def test_unpriced_is_null_never_zero(book: PriceBook) -> None:
    at = _at("2025-06-01T00:00:00")
    con = calls(book, [
        # unknown model, no reported cost
        dict(provider="vllm", model="llama-3.1-70b", start_time=at, **_tokens(1000, 10)),
        # unknown model with a cost the trace reported
        dict(provider="vllm", model="llama-3.1-70b", start_time=at, reported_cost=Decimal("0.5"),
             reported_cost_currency="USD", **_tokens(1000, 10)),
        # known model, but the source had no usage
        dict(provider="openai", model="gpt-4o", start_time=at, usage_source="missing"),
        # known model, NULL output tokens
        dict(provider="openai", model="gpt-4o", start_time=at, input_tokens=10),
        # inconsistent parts: more cache read than input
        dict(provider="openai", model="gpt-4o", start_time=at, **_tokens(10, 1, read=20)),
        # an embedding has no output tokens: priced ($0.02 / 1M)
        dict(provider="openai", model="text-embedding-3-small", span_kind="embedding",
             start_time=at, input_tokens=1_000_000),
        # computed wins over reported; reported stays beside it
        dict(provider="openai", model="gpt-4o", start_time=at, reported_cost=Decimal("9"),
             reported_cost_currency="USD", **_tokens(1_000_000, 0)),
    ])  # fmt: skip
    got = con.execute(
        "SELECT cost, cost_currency, cost_source, reported_cost, computed_cost FROM calls ORDER BY source_line"
    ).fetchall()
    assert got == [
        (None, None, "unpriced", None, None),
        (Decimal("0.5"), "USD", "reported", Decimal("0.5"), None),
        (None, None, "unpriced", None, None),
        (None, None, "unpriced", None, None),
        (None, None, "unpriced", None, None),
        (Decimal("0.02"), "USD", "computed", None, Decimal("0.02")),
        (Decimal("2.5"), "USD", "computed", Decimal("9"), Decimal("2.5")),
    ]
    assert con.execute(
        "SELECT provider, model, price_model FROM model_prices WHERE price_model IS NULL"
    ).fetchall() == [("vllm", "llama-3.1-70b", None)]


def test_dedupe_kept(book: PriceBook) -> None:
    # two streamed lines of one reply (same request id): one call, the higher output count wins
    at = _at("2025-06-01T00:00:00")
    line = dict(provider="openai", model="gpt-4o", start_time=at, request_id="resp_1")
    con = calls(book, [{**line, **_tokens(1000, 2)}, {**line, **_tokens(1000, 400)}])
    assert con.execute("SELECT count(*), sum(output_tokens), sum(cost) FROM calls").fetchone() == (
        1, 400, Decimal("0.0065"),  # 1000 x 2.5 + 400 x 10 per 1M
    )  # fmt: skip


# -- overrides -----------------------------------------------------------------------------------

OVERRIDES = """
[[discount]]            # negotiated: 15 % off OpenAI list prices from 2025-01-01
provider = "openai"
percent = 15
valid_from = 2025-01-01

[[model]]               # a fine-tuned model with its own price, changed on 2025-07-01
provider = "openai"
model = "ft:gpt-4o-mini:acme::abc"
match = ["ft:gpt-4o-mini:acme:*"]
input_per_mtok = 0.30
output_per_mtok = 1.20
valid_from = 2025-01-01
valid_to = 2025-07-01

[[model]]
provider = "openai"
model = "ft:gpt-4o-mini:acme::abc"
match = ["ft:gpt-4o-mini:acme:*"]
input_per_mtok = 0.25
output_per_mtok = 1.00
valid_from = 2025-07-01

[[model]]               # self-hosted, priced by the GPU hour
provider = "vllm"
model = "llama-3.1-70b"
per_gpu_hour = 2.50

[[model]]               # our own price for a listed model from 2025-11-01
provider = "anthropic"
model = "claude-sonnet-4-5"
input_per_mtok = 2
output_per_mtok = 10
valid_from = 2025-11-01
"""


@pytest.fixture(scope="module")
def ov_book(tmp_path_factory: pytest.TempPathFactory) -> PriceBook:
    path = tmp_path_factory.mktemp("ov") / "prices.toml"
    path.write_text(OVERRIDES)
    return PriceBook(load_overrides(path))


def test_override_discount(ov_book: PriceBook) -> None:
    mini = dict(provider="openai", model="gpt-4o-mini", **_tokens(10_000, 500, read=4_000))
    before = cost_of(ov_book, **mini, start_time=_at("2024-12-31T23:59:59"))
    after = cost_of(ov_book, **mini, start_time=_at("2025-01-01T00:00:00"))
    assert before[0] == Decimal("0.0015")
    assert after[0] == Decimal("0.001275")  # 0.0015 x 0.85
    rows = [r for r in ov_book.rows_for("openai", "gpt-4o-mini")
            if r.price_type == "output" and r.service_tier == "standard"]  # fmt: skip
    assert [
        (r.valid_from, r.unit_price, r.list_unit_price, r.source.endswith("prices.toml"))
        for r in rows
    ] == [
        (None, Decimal("0.0000006"), Decimal("0.0000006"), False),
        (_at("2025-01-01T00:00:00"), Decimal("0.00000051"), Decimal("0.0000006"), True),
    ]
    # anthropic is not discounted
    sonnet = dict(provider="anthropic", model="claude-sonnet-4-5", **_tokens(1000, 1000))
    assert cost_of(ov_book, **sonnet, start_time=_at("2025-06-01T00:00:00"))[0] == Decimal("0.018")


def test_override_custom_model_with_effective_dates(ov_book: PriceBook) -> None:
    ft = dict(provider="openai", model="ft:gpt-4o-mini:acme::xyz", **_tokens(10_000, 500))
    con = calls(ov_book, [
        {**ft, "start_time": _at("2024-06-01T00:00:00")},  # before any price: unpriced
        {**ft, "start_time": _at("2025-06-01T00:00:00")},  # 10000 x 0.30 + 500 x 1.20 = 0.0036, -15 %
        {**ft, "start_time": _at("2025-08-01T00:00:00")},  # 10000 x 0.25 + 500 x 1.00 = 0.0030, -15 %
    ])  # fmt: skip
    got = con.execute(
        "SELECT cost, cost_source, price_source FROM calls ORDER BY start_time"
    ).fetchall()
    assert [g[:2] for g in got] == [
        (None, "unpriced"),
        (Decimal("0.00306"), "computed"),
        (Decimal("0.00255"), "computed"),
    ]
    assert got[1][2].endswith("prices.toml")
    assert con.execute("SELECT match_rule FROM model_prices").fetchall() == [("override",)]


def test_override_gpu_hour_and_replacing_a_listed_model(ov_book: PriceBook) -> None:
    gpu = ov_book.rows_for("vllm", "llama-3.1-70b")
    assert [(r.price_type, r.unit, r.unit_price) for r in gpu] == [
        ("gpu_hour", "gpu_hour", Decimal("2.5"))
    ]
    # calls to it are matched but not token-priced: listed as unpriced, never $0
    got = cost_of(ov_book, provider="vllm", model="llama-3.1-70b", start_time=_at("2025-06-01T00:00:00"),
                  **_tokens(1000, 10))  # fmt: skip
    assert got == (None, None, "unpriced")
    # the Sonnet override replaces genai-prices from 2025-11-01 only
    sonnet = dict(
        provider="anthropic", model="claude-sonnet-4-5-20250929", **_tokens(100_000, 100_000)
    )
    assert cost_of(ov_book, **sonnet, start_time=_at("2025-10-31T00:00:00"))[0] == Decimal(
        "1.8"
    )  # 0.3 + 1.5
    assert cost_of(ov_book, **sonnet, start_time=_at("2025-11-01T00:00:00"))[0] == Decimal(
        "1.2"
    )  # 0.2 + 1.0
    # cache reads have no override price: priced as input, genai-prices' rule (genai: 0.03 + 1.5)
    read = dict(sonnet, cache_read_tokens=100_000)
    assert cost_of(ov_book, **read, start_time=_at("2025-10-31T00:00:00"))[0] == Decimal("1.53")
    assert cost_of(ov_book, **read, start_time=_at("2025-11-01T00:00:00"))[0] == Decimal("1.2")


def test_override_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    for text, msg in [
        ("[[model]]\nprovider='x'\n", "needs provider and model"),
        ("[[model]]\nprovider='x'\nmodel='y'\n", "no prices"),
        ("[[model]]\nprovider='x'\nmodel='y'\ninput_per_mtok=-1\n", "non-negative"),
        ("[[model]]\nprovider='x'\nmodel='y'\ninput_mtok=1\n", "unknown key"),
        ("[[discount]]\npercent=150\n", "between 0 and 100"),
        ("[[discount]]\npercent=10\nvalid_from='soon'\n", "not a date"),
        ("[[discount]]\npercent=10\nvalid_from=2025-02-01\nvalid_to=2025-01-01\n", "must be after"),
        ("[[discount]]\npercent=10\nservice_tier='cheap'\n", "service_tier must be"),
        ("[pricing]\n", "unknown section"),
        ("not toml", "not valid TOML"),
    ]:
        bad.write_text(text)
        with pytest.raises(CostlabError, match=msg):
            load_overrides(bad)
    with pytest.raises(CostlabError, match="not found"):
        load_overrides(tmp_path / "missing.toml")


def test_batch_history_via_override(tmp_path: Path, book: PriceBook) -> None:
    # the documented fix for genai-prices 0.2.3 dating batch variants from 2026-10-14
    path = tmp_path / "p.toml"
    path.write_text(
        "[[discount]]\nprovider='openai'\nservice_tier='batch'\npercent=50\nvalid_to=2026-10-14\n"
    )
    ob = PriceBook(load_overrides(path))
    gpt4o = dict(
        provider="openai", model="gpt-4o", service_tier="batch", **_tokens(1_000_000, 1_000_000)
    )
    assert cost_of(ob, **gpt4o, start_time=_at("2025-06-01T00:00:00"))[0] == Decimal("6.25")
    assert cost_of(ob, **gpt4o, start_time=_at("2026-11-01T00:00:00"))[0] == Decimal("6.25")
    assert cost_of(ob, **{**gpt4o, "service_tier": None}, start_time=_at("2025-06-01T00:00:00"))[
        0
    ] == Decimal("12.5")


# -- genai-prices itself -------------------------------------------------------------------------


def test_matches_genai_prices_calc_price(book: PriceBook) -> None:
    """The flattened table prices like genai-prices' calc_price for every bundled model, tier and
    price period (within 1e-11 USD: 25 source values are float artefacts rounded at 18 dp)."""
    from genai_prices import Usage, calc_price
    from genai_prices.data import providers

    ctx = {"batch": {"processing": "batch"}, "flex": {"service_tier": "flex"},
           "priority": {"service_tier": "priority"}}  # fmt: skip
    rows, cases = [], []
    for p in providers:
        for m in p.models:
            hit = book.match(p.id, m.id)
            if hit is None:
                continue
            starts = sorted(
                {r.valid_from for r in book.rows_for(hit.provider, hit.model) if r.valid_from}
            )
            for at in [_at("2024-06-01T12:00:00"), *starts]:
                for tier in hit.tiers:
                    for inp in (150_000, 300_000):
                        r, w = inp // 4, inp // 10
                        tags = {"speed": "fast"} if tier == "fast" and p.id == "anthropic" else None
                        st = None if tier == "standard" or tags else tier
                        rows.append(dict(provider=p.id, model=m.id, start_time=at, service_tier=st, tags=tags,
                                         cache_write_1h_tokens=w // 2, **_tokens(inp, 2345, r, w)))  # fmt: skip
                        c = ctx.get(tier) or (
                            {"speed": "fast"}
                            if tags
                            else {"service_tier": "fast"}
                            if tier == "fast"
                            else None
                        )
                        cases.append((Usage(input_tokens=inp, cache_read_tokens=r, cache_write_tokens=w,
                                            cache_write_1h_tokens=w // 2, output_tokens=2345), m.id, p.id, at, c))  # fmt: skip
    con = calls(book, rows)
    got = dict(con.execute("SELECT source_line, computed_cost FROM calls").fetchall())
    assert len(got) == len(rows) > 5_000
    same = 0
    for i, (usage, model, prov, at, c) in enumerate(cases):
        if got[i] is None:
            # only when input or output tokens have no price (free / per-page / audio-only
            # models): genai-prices counts those tokens as $0, costlab leaves the call unpriced
            hit = book.match(prov, model)
            tier = rows[i]["service_tier"] or ("fast" if rows[i]["tags"] else "standard")
            have = {r.price_type for r in book.rows_for(hit.provider, hit.model)  # type: ignore[union-attr]
                    if r.service_tier == tier and r.covers(at)}  # fmt: skip
            assert not {"input_uncached", "output"} <= have, (model, prov, at, c)
            continue
        want = calc_price(
            usage, model, provider_id=prov, genai_request_timestamp=at, price_context=c
        )
        assert abs(got[i] - want.total_price) < Decimal("1e-11"), (model, prov, at, c)
        same += 1
    assert same > 0.85 * len(rows)


def test_bundled_data_only_no_network() -> None:
    """genai-prices loads ``genai_prices/data.py`` from the wheel; UpdatePrices (the only code that
    fetches) is never started. Run with every socket call failing."""
    code = textwrap.dedent(
        """
        import socket, threading
        def boom(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = boom
        socket.socket.connect_ex = boom
        socket.create_connection = boom
        socket.getaddrinfo = boom
        from genai_prices import data_snapshot, types
        # a process-wide custom (e.g. auto-updated) snapshot must not leak into costlab's prices
        data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
        from costlab.pricing import PriceBook, describe
        book = PriceBook.load()
        assert book.match("openai", "gpt-4o-mini").model == "gpt-4o-mini"
        assert describe("gpt-4o-mini", provider="openai", book=book)
        assert threading.active_count() == 1, threading.enumerate()
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# -- describe ------------------------------------------------------------------------------------


def test_describe(book: PriceBook) -> None:
    rows = describe("o3", provider="openai", at=date(2025, 6, 1), book=book)
    assert [(r["service_tier"], r["price_type"], r["price"], r["per"]) for r in rows] == [
        ("standard", "input_uncached", Decimal("10"), "MTok"),
        ("standard", "input_cache_read", Decimal("0.5"), "MTok"),
        ("standard", "output", Decimal("40"), "MTok"),
        ("standard", "storage_search", Decimal("0.0025"), "storage_search"),
        ("standard", "web_search", Decimal("0.01"), "web_search"),
    ]
    assert rows[0]["valid_to"] == _at("2025-06-10T00:00:00") and rows[0]["source"] == SOURCE
    history = describe("o3", provider="openai", book=book)
    assert {r["valid_from"] for r in history if r["service_tier"] == "standard"} == {
        None, _at("2025-06-10T00:00:00"),
    }  # fmt: skip
    # tiers priced as standard at the time are not repeated
    assert {r["service_tier"] for r in describe("gpt-4o", at=date(2025, 1, 1), book=book)} == {
        "standard"
    }
    tiered = describe("claude-sonnet-4-5", at=date(2025, 10, 1), book=book)
    assert {r["condition"] for r in tiered if r["price_type"] == "output"} == {
        "input_tokens <= 200000", "input_tokens > 200000",
    }  # fmt: skip
    tod = describe("deepseek-chat", provider="deepseek", book=book)
    assert {r["condition"] for r in tod} == {
        "00:00-00:30 UTC",
        "00:30-16:30 UTC",
        "16:30-24:00 UTC",
    }
    with pytest.raises(CostlabError, match="did you mean gpt-4o-mini"):
        describe("gpt-4o-minii", provider="vllm", book=book)


# -- end to end through the lake -----------------------------------------------------------------


def test_lake_end_to_end_claude_code(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest

    src = FIXTURES / "claude_code" / "constructed" / "projects"
    res = ingest([src], lake=lake_dir)
    assert not res.failed
    got = Workspace(lake_dir).rows(
        "SELECT model, cost, cost_currency, cost_source, reported_cost FROM calls ORDER BY start_time"
    )
    # Sonnet 4.5: $3 in, $0.30 read, $3.75 5m write, $6 1h write, $15 out; Haiku 4.5: $1, $0.10,
    # $1.25, $2, $5 (per 1M). Token counts from the fixture (see test_ingest_claude_code):
    assert got == [
        # 21506 in = 6 + 20000 read + 1000 5m + 500 1h; 312 out
        ("claude-sonnet-4-5-20250929", Decimal("0.017448"), "USD", "computed", None),
        # 21703 in = 3 + 21500 read + 200 5m; 87 out. The reply's legacy costUSD stays beside it.
        ("claude-sonnet-4-5-20250929", Decimal("0.008514"), "USD", "computed", Decimal("0.0123")),
        # 22005 in = 5 + 22000 read; 40 out
        ("claude-sonnet-4-5-20250929", Decimal("0.007215"), "USD", "computed", None),
        # subagent, Haiku: 3004 in = 4 + 3000 5m write; 25 out
        ("claude-haiku-4-5-20251001", Decimal("0.003879"), "USD", "computed", None),
        # 3126 in = 6 + 3000 read + 120 5m write; 150 out
        ("claude-haiku-4-5-20251001", Decimal("0.001206"), "USD", "computed", None),
    ]
    assert Workspace(lake_dir).rows("SELECT sum(cost) FROM calls") == [(Decimal("0.038262"),)]
    assert Workspace(lake_dir).rows(
        "SELECT provider, model, price_provider, price_model, match_rule FROM model_prices ORDER BY model"
    ) == [
        ("anthropic", "claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5", "genai-prices"),
        (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "anthropic",
            "claude-sonnet-4-5",
            "genai-prices",
        ),
    ]


def test_lake_uses_overrides_from_costlab_toml(
    lake_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from costlab.ingest.run import ingest

    ingest([FIXTURES / "claude_code" / "constructed" / "projects"], lake=lake_dir)
    (tmp_path / "negotiated.toml").write_text("[[discount]]\nprovider='anthropic'\npercent=10\n")
    cfg = tmp_path / "costlab.toml"
    cfg.write_text('[prices]\noverrides = "negotiated.toml"\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(cfg))
    got = Workspace(lake_dir).rows("SELECT sum(cost), any_value(price_source) FROM calls")
    assert got == [(Decimal("0.0344358"), str(tmp_path / "negotiated.toml"))]  # 0.038262 x 0.9
    # an explicit book wins over the config
    with Workspace(lake_dir).connect(prices=PriceBook.load()) as con:
        assert con.execute("SELECT sum(cost) FROM calls").fetchone() == (Decimal("0.038262"),)
