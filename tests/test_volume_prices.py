"""Volume tiers (``[[volume]]``) and monthly commitments (``[[commitment]]``) of the price
overrides file (docs/pricing.md, "Volume tiers and commitments").

The lake: OpenTelemetry GenAI spans of gpt-4.1 (genai-prices lists it at $2 input / $8 output
per MTok) written here, and a constructed FOCUS bill of OpenAI (tests/test_learned_prices.py's
shape). Every expected number is derived by hand in the comments:

    tiers: 0% up to 1 MTok of the month, 10% above (gpt-4.1*, openai)

    day         calls                         tokens  month before -> after  factor
    2026-10-05  2 x (300k in + 100k out)      800k    0      -> 800k         1
    2026-10-06  1 x (400k in + 100k out)      500k    800k   -> 1.3M         (200k x 1 + 300k x 0.9) / 500k = 0.94
    2026-10-07  1 x (400k in + 100k out)      500k    1.3M   -> 1.8M         0.9
    2026-11-02  1 x (400k in + 100k out)      500k    0      -> 500k         1 (a new month)

    list cost of a call: 300k x $2 + 100k x $8 per MTok = 0.60 + 0.80 = 1.40;
                         400k x $2 + 100k x $8 per MTok = 0.80 + 0.80 = 1.60
    October: 2 x 1.40 x 1 + 1.60 x 0.94 + 1.60 x 0.9 = 2.80 + 1.504 + 1.44 = 5.744
    (list: 2.80 + 1.60 + 1.60 = 6.00); November: 1.60.
    The month's tokens at their tier's share of the price: 800k + 500k x 0.94 + 500k x 0.9
    = 1.72M = 1M x 1 + 0.8M x 0.9, the graduated sum.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from otlpspan import chat_span, write_traces
from test_learned_prices import _line, write_focus
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import CostlabError
from costlab.money.commitments import status
from costlab.pricing import SOURCE, Overrides, PriceBook, load_overrides
from costlab.workspace import Workspace

PRICES = """
[[volume]]
provider = "openai"
model = "gpt-4.1*"
tiers = [{ from_mtok = 0, percent = 0 }, { from_mtok = 1, percent = 10 }]

[[commitment]]
provider = "OpenAI"
amount = 10
valid_from = 2026-10-01

[[commitment]]
provider = "anthropic"
amount = 2.50
valid_from = 2026-10-01
valid_to = 2026-11-01
"""


def _span(n: int, when: datetime, tokens_in: int, tokens_out: int, model: str = "gpt-4.1") -> dict[str, object]:
    return chat_span(n, when, tokens_in, tokens_out, model)


def _at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(lake, costlab.toml naming the prices file above)."""
    root = tmp_path_factory.mktemp("volume")
    (root / "prices.toml").write_text(PRICES)
    config = root / "costlab.toml"
    config.write_text('[prices]\noverrides = "prices.toml"\n')
    spans = [
        _span(1, _at(10, 5, 9), 300_000, 100_000),
        _span(2, _at(10, 5, 23), 300_000, 100_000),
        _span(3, _at(10, 6, 0), 400_000, 100_000),  # the first instant of the day that crosses
        _span(4, _at(10, 7, 12), 400_000, 100_000),
        _span(5, _at(11, 2, 12), 400_000, 100_000),
    ]
    traces = write_traces(root / "traces.jsonl", spans)
    # October's OpenAI usage on the bill: 2.50 + 3.00 = 5.50 (November has no bill)
    bill = write_focus(root / "focus.csv", [
        _line("05", "2.50", "OpenAI", "gpt-4.1", "Input", "1250000"),
        _line("06", "3.00", "OpenAI", "gpt-4.1", "Output", "375000"),
    ])  # fmt: skip
    lake = root / "lake"
    for args in (["--source", "focus", str(bill)], [str(traces)]):
        r = CliRunner().invoke(app, ["--config", str(config), "ingest", *args, "--lake", str(lake)])
        assert r.exit_code == 0, r.output
    return lake, config


def test_each_call_is_priced_at_its_days_blended_factor(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    rows = Workspace(lake, config=config).sql(
        "SELECT span_id, cost, cost_source, price_source FROM calls ORDER BY start_time"
    ).rows()
    costs = [r[1] for r in rows]
    # 1.40 x 1, 1.40 x 1, 1.60 x 0.94, 1.60 x 0.9, 1.60 x 1 (November starts again at 0)
    assert costs == [Decimal("1.40"), Decimal("1.40"), Decimal("1.504"), Decimal("1.44"), Decimal("1.60")]
    assert {r[2] for r in rows} == {"computed"}
    assert [r[3].endswith("; volume tiers") for r in rows] == [False, False, True, True, False]


def test_the_month_is_the_graduated_sum(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    ws = Workspace(lake, config=config)
    ((total, weighted),) = ws.sql(
        "SELECT sum(cost), sum((input_tokens + output_tokens) * cost / list_cost) FROM ("
        " SELECT cost, input_tokens, output_tokens,"
        "  input_tokens * 0.000002 + output_tokens * 0.000008 AS list_cost FROM calls"
        " WHERE start_time < TIMESTAMPTZ '2026-11-01 00:00:00+00')"
    ).rows()
    assert total == Decimal("5.744")  # 2.80 + 1.504 + 1.44
    # tokens at their tier's share: 1M at 100% + 0.8M at 90% = 1.72M
    assert weighted == Decimal("1720000")


def _report(lake: Path, config: Path, *extra: str) -> dict[str, object]:
    r = CliRunner().invoke(
        app,
        ["--config", str(config), "report", "--lake", str(lake), "--month", "2026-10", "-f", "json",
         "--no-findings", "--no-fail", *extra],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout, parse_float=Decimal)  # type: ignore[no-any-return]


def test_the_report_reads_the_same_cost_from_the_rollups_and_every_call(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    rolled, every = _report(lake, config), _report(lake, config, "--no-rollups")
    assert rolled["rollups_note"] is None  # the rollups answered (split at midnight: no new key)
    (h,) = rolled["headline"]  # type: ignore[misc]
    (h2,) = every["headline"]  # type: ignore[misc]
    assert h["traced_cost"] == h2["traced_cost"] == Decimal("5.744")


def test_the_report_notes_the_commitments(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    out = _report(lake, config)
    sec = out["sections"]["reconciliation"]  # type: ignore[index]
    assert "openai 2026-10: committed 10.00 USD, spent 5.50 (on the bill)" in sec["note"]
    assert "shortfall 4.50" in sec["note"]


def test_commitment_status_by_month(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    ws = Workspace(lake, config=config)
    got = {(m.provider, m.month): m for m in status(ws, "2026-10-01", "2026-12-01")}
    oct_, nov = got[("openai", "2026-10")], got[("openai", "2026-11")]
    # October: the bill's 2.50 + 3.00 = 5.50 of 10 committed -> 4.50 paid for nothing
    assert (oct_.committed, oct_.spent, oct_.basis) == (Decimal(10), Decimal("5.50"), "bill")
    assert (oct_.drawn_down, oct_.remaining, oct_.shortfall, oct_.overage) == (
        Decimal("5.50"), Decimal("4.50"), Decimal("4.50"), Decimal(0))  # fmt: skip
    # November: no bill, so the traced call's 1.60 (priced at list: a new month) -> 8.40 short
    assert (nov.spent, nov.basis, nov.shortfall) == (Decimal("1.60"), "traces", Decimal("8.40"))
    # Anthropic: committed for October only, nothing spent at all: the whole 2.50 is the true-up
    anth = got[("anthropic", "2026-10")]
    assert (anth.spent, anth.basis, anth.shortfall) == (Decimal(0), "none", Decimal("2.50"))
    assert ("anthropic", "2026-11") not in got


def test_an_overage_is_spend_over_the_commitment(setup: tuple[Path, Path], tmp_path: Path) -> None:
    lake, _ = setup
    prices = tmp_path / "p.toml"
    prices.write_text('[[commitment]]\nprovider = "openai"\namount = 4\nvalid_from = 2026-10-01\n')
    ws = Workspace(lake, config={})
    (m,) = status(ws, "2026-10-01", "2026-11-01", book=PriceBook.load(prices))
    # 5.50 billed against 4 committed: all 4 drawn down, 1.50 over, no shortfall
    assert (m.drawn_down, m.remaining, m.shortfall, m.overage) == (Decimal(4), Decimal(0), Decimal(0), Decimal("1.50"))


def test_prices_shows_the_volume_rows_and_the_commitments(setup: tuple[Path, Path]) -> None:
    lake, config = setup
    r = CliRunner().invoke(
        app, ["--config", str(config), "prices", "gpt-4.1", "--lake", str(lake), "--at", "2026-10-06", "-f", "json",
              "--month", "2026-10"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    got = {(p["service_tier"], p["price_type"]): (Decimal(str(p["price"])), p["source"]) for p in json.loads(r.stdout)}
    # $2 and $8 per MTok x 0.94 on 2026-10-06
    assert got[("standard", "input_uncached")] == (Decimal("1.88"), f"{SOURCE}; volume tiers")
    assert got[("standard", "output")][0] == Decimal("7.52")
    assert "openai 2026-10: committed 10.00 USD, spent 5.50 (on the bill)" in r.stderr
    assert "anthropic 2026-10: committed 2.50 USD, spent 0.00 (no bill or traces)" in r.stderr


def test_the_split_keeps_other_days_and_models_unchanged() -> None:
    book = PriceBook.load()
    day = date(2026, 10, 6)
    key = ("openai", "gpt-4.1")
    tiered = book.with_volume({key: {day: Decimal("0.94")}})
    before = [r for r in book.rows_for(*key) if r.service_tier == "standard" and r.price_type == "input_uncached"]
    after = [r for r in tiered.rows_for(*key) if r.service_tier == "standard" and r.price_type == "input_uncached"]
    on = datetime(2026, 10, 6, 12, tzinfo=UTC)
    prices = {r.unit_price for r in after if r.covers(on)}
    assert prices == {Decimal("0.00000188")}
    for other in (datetime(2026, 10, 5, 23, 59, tzinfo=UTC), datetime(2026, 10, 7, tzinfo=UTC)):
        assert {r.unit_price for r in after if r.covers(other)} == {r.unit_price for r in before if r.covers(other)}
    assert tiered.rows_for("openai", "gpt-4o") == book.rows_for("openai", "gpt-4o")
    assert book.with_volume({key: {day: Decimal(1)}}) is book  # nothing to scale: the same book


def test_volume_factors_walk_the_month(tmp_path: Path) -> None:
    book = PriceBook.load()
    book_v = PriceBook(_overrides(tmp_path, PRICES))
    rows = [
        (date(2026, 10, 5), "openai", "gpt-4.1", 800_000),
        (date(2026, 10, 6), "openai", "gpt-4.1", 500_000),
        (date(2026, 10, 7), "openai", "gpt-4.1", 500_000),
        (date(2026, 11, 2), "openai", "gpt-4.1", 500_000),
        (date(2026, 10, 6), "openai", "gpt-4o", 5_000_000),  # not gpt-4.1*: neither counted nor scaled
    ]
    assert book.volume_factors(rows) == {}
    assert book_v.volume_factors(rows) == {("openai", "gpt-4.1"): {date(2026, 10, 6): Decimal("0.94"),
                                                                    date(2026, 10, 7): Decimal("0.9")}}  # fmt: skip


def test_models_of_one_entry_count_together_and_the_last_entry_wins(tmp_path: Path) -> None:
    book = PriceBook(_overrides(tmp_path, """
[[volume]]
provider = "openai"
tiers = [{ from_mtok = 0, percent = 0 }, { from_mtok = 1, percent = 10 }]

[[volume]]
provider = "openai"
model = "gpt-4o"
valid_from = 2026-10-06
tiers = [{ from_mtok = 0, percent = 50 }]
"""))
    rows = [
        (date(2026, 10, 5), "openai", "gpt-4.1", 600_000),
        (date(2026, 10, 5), "openai", "gpt-4.1-mini", 200_000),
        (date(2026, 10, 5), "openai", "gpt-4o", 100_000),  # before the second entry: the first's
        (date(2026, 10, 6), "openai", "gpt-4.1-mini", 300_000),
        (date(2026, 10, 6), "openai", "gpt-4o", 9_000_000),  # the second entry's: not in the first's count
    ]
    # the first entry: 2026-10-05 600k + 200k + 100k = 900k, all under 1 MTok (factor 1); 2026-10-06
    # 300k from 900k to 1.2M: (100k x 1 + 200k x 0.9) / 300k = 280k / 300k = 0.9333...
    # the second entry: 9M at 50% off from its first day: 0.5
    got = book.volume_factors(rows)
    assert got.keys() == {("openai", "gpt-4.1-mini"), ("openai", "gpt-4o")}
    (mini,) = got[("openai", "gpt-4.1-mini")].items()
    assert mini[0] == date(2026, 10, 6) and abs(mini[1] * 15 - 14) < Decimal("1e-50")  # 14/15
    assert got[("openai", "gpt-4o")] == {date(2026, 10, 6): Decimal("0.5")}


def _overrides(folder: Path, text: str) -> Overrides:
    (folder / "p.toml").write_text(text)
    return load_overrides(folder / "p.toml")


def test_the_copies_never_write_the_plain_books_cache(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """A book with volume tiers (or bill rates) depends on a lake: it is never saved under the
    override file's cache key, so another lake, or the next run, starts from the plain book."""
    lake, config = setup
    prices = config.parent / "prices.toml"
    plain = PriceBook.load(prices)
    ws = Workspace(lake, config=config)
    tiered = ws.billed_prices()
    assert tiered is not plain and tiered._cache_file is None
    import pyarrow.parquet as pq

    assert plain._cache_file is not None
    saved = pq.read_table(str(plain._cache_file))
    assert saved.num_rows > 0 and not any("volume tiers" in s for s in saved.column("source").to_pylist())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("[[volume]]\nprovider = 'openai'\ntiers = [{ from_mtok = 1, percent = 5 }]",
         "[[volume]] #1 tier #1: the first tier must start at from_mtok = 0"),
        ("[[volume]]\nprovider = 'openai'\ntiers = [{ from_mtok = 0, percent = 0 }, { from_mtok = 5, percent = 10 },"
         " { from_mtok = 2, percent = 20 }]",
         "[[volume]] #1 tier #3: tiers must be sorted by from_mtok"),
        ("[[volume]]\nprovider = 'openai'\ntiers = [{ from_mtok = 0, percent = 100 }]",
         "[[volume]] #1 tier #1: percent must be at least 0 and under 100"),
        ("[[volume]]\nprovider = 'openai'\ntiers = [{ from_mtok = 0, percent = -1 }]",
         "[[volume]] #1 tier #1 percent: must be a non-negative number"),
        ("[[volume]]\ntiers = [{ from_mtok = 0, percent = 0 }]", "[[volume]] #1: needs provider and tiers"),
        ("[[volume]]\nprovider = 'openai'\ntiers = []", "[[volume]] #1: needs tiers"),
        ("[[volume]]\nprovider = 'openai'\nvalid_from = 2026-10-01T12:00:00Z\ntiers = [{ from_mtok = 0, percent = 0 }]",
         "[[volume]] #1: valid_from must be a date"),
        ("[[commitment]]\nprovider = 'openai'\namount = 10", "[[commitment]] #1: needs provider, amount and valid_from"),
        ("[[commitment]]\nprovider = 'openai'\namount = 10\nvalid_from = 2026-10-15",
         "[[commitment]] #1: valid_from must be the first day of a month"),
        ("[[commitment]]\nprovider = 'openai'\namount = 'lots'\nvalid_from = 2026-10-01",
         "[[commitment]] #1 amount: not a number"),
        ("[[commitment]]\nprovider = 'openai'\namount = 1\ncurrency = 'dollars'\nvalid_from = 2026-10-01",
         "[[commitment]] #1: currency must be a three-letter code"),
        ("[volume]\nprovider = 'openai'", "volume must be written [[volume]]"),
    ],
)
def test_a_bad_entry_is_a_one_line_error(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(entry + "\n")
    with pytest.raises(CostlabError) as ex:
        load_overrides(path)
    text = str(ex.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_bad_entry_through_the_cli_is_one_line(tmp_path: Path, setup: tuple[Path, Path]) -> None:
    lake, _ = setup
    (tmp_path / "p.toml").write_text("[[volume]]\nprovider = 'openai'\ntiers = [{ from_mtok = 1, percent = 5 }]\n")
    config = tmp_path / "costlab.toml"
    config.write_text('[prices]\noverrides = "p.toml"\n')
    r = CliRunner().invoke(app, ["--config", str(config), "report", "--lake", str(lake), "--month", "2026-10"])
    assert r.exit_code != 0
    assert "the first tier must start at from_mtok = 0" in r.stderr
    assert "Traceback" not in r.stderr


def test_spark_prices_the_volume_tiers_and_the_commitments_alike(setup: tuple[Path, Path]) -> None:
    """The Spark connection applies the same tiers (its temp views are made again over the new
    price tables) and reads the same commitment spend."""
    pytest.importorskip("pyspark")
    lake, config = setup
    spark = _report(lake, config, "--engine", "spark")
    (h,) = spark["headline"]  # type: ignore[misc]
    assert h["traced_cost"] == Decimal("5.744")  # as on DuckDB: 2.80 + 1.504 + 1.44
    note = spark["sections"]["reconciliation"]["note"]  # type: ignore[index]
    assert "openai 2026-10: committed 10.00 USD, spent 5.50 (on the bill)" in note
