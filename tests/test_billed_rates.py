"""Calls of a model no catalogue knows are priced at the rates their own bill charged
(`costlab.pricing.PriceBook.with_bill_rates`): cost_source 'billed_rate', the bill lines named.

The bill is the constructed FOCUS file of tests/test_learned_prices.py (acme-llm-2 billed 1.50
per MTok input and 5.00 output from 2026-10-07; gpt-4.1 billed 15% under list); the traces are
OpenTelemetry GenAI spans written here. Every expected cost is derived by hand in the test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from otlpspan import chat_span, write_traces
from test_learned_prices import _line, write_focus
from typer.testing import CliRunner

from costlab.cli import app
from costlab.workspace import Workspace


def _span(span_id: str, model: str, provider: str, day: int, tokens_in: int, tokens_out: int) -> dict[str, object]:
    return chat_span(int(span_id), datetime(2026, 10, day, 12, tzinfo=UTC), tokens_in, tokens_out, model, provider)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("billed")
    bill = write_focus(root / "focus.csv", [
        _line("05", "10.20", "OpenAI", "gpt-4.1", "Input", "6000000"),
        _line("07", "3.00", "Acme", "acme-llm-2", "Input", "2000000"),
        _line("07", "2.50", "Acme", "acme-llm-2", "Output", "500000"),
    ])  # fmt: skip
    spans = [
        _span("1", "acme-llm-2", "acme", 8, 1_000_000, 100_000),
        _span("2", "acme-llm-2", "acme", 6, 1_000_000, 100_000),  # before the first billed day
        _span("3", "gpt-4.1", "openai", 8, 1_000_000, 100_000),
    ]
    traces = write_traces(root / "traces.jsonl", spans)
    path = root / "lake"
    for args in (["--source", "focus", str(bill)], [str(traces)]):
        r = CliRunner().invoke(app, ["ingest", *args, "--lake", str(path)])
        assert r.exit_code == 0, r.output
    return path


def test_an_unknown_model_is_priced_at_its_billed_rate(lake: Path) -> None:
    rows = Workspace(lake).sql(
        "SELECT model, CAST(start_time AS DATE) AS day, cost, cost_source, price_source FROM calls ORDER BY model, day"
    ).rows()
    got = {(m, str(d)): (c, s, p) for m, d, c, s, p in rows}
    # 1M input x 1.50/MTok + 100k output x 5.00/MTok = 1.50 + 0.50
    cost, source, price_source = got[("acme-llm-2", "2026-10-08")]
    assert (cost, source) == (Decimal("2.00"), "billed_rate")
    assert price_source == "billed rate: 2 bill lines (focus) 2026-10-07..2026-10-07"
    # a call before the model's first billed day has no rate: unpriced, never zero
    assert got[("acme-llm-2", "2026-10-06")][:2] == (None, "unpriced")
    # a catalogue model keeps its list price (2.00 + 0.80): the bill's discount is only proposed
    assert got[("gpt-4.1", "2026-10-08")][:2] == (Decimal("2.80"), "computed")


def test_the_report_counts_billed_rate_calls_as_traced(lake: Path) -> None:
    r = CliRunner().invoke(
        app, ["report", "--lake", str(lake), "--month", "2026-10", "-f", "json", "--no-findings", "--no-fail"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout, parse_float=Decimal)
    (h,) = out["headline"]
    assert h["traced_cost"] == Decimal("4.80") and h["unpriced_calls"] == 1


def test_prices_says_the_rate_came_from_the_bill(lake: Path) -> None:
    r = CliRunner().invoke(app, ["prices", "acme-llm-2", "--lake", str(lake), "-f", "json"])
    assert r.exit_code == 0, r.output
    got = {p["price_type"]: (Decimal(str(p["price"])), p["source"]) for p in json.loads(r.stdout)}
    line = "billed rate: 2 bill lines (focus) 2026-10-07..2026-10-07"
    assert got == {"input_uncached": (Decimal("1.5"), line), "output": (Decimal(5), line)}




def test_a_book_with_bill_rates_is_never_cached_as_the_plain_book(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bill's rates belong to one lake: a copy with them must not be saved under the plain
    book's cache key. It was (its matches, with the billed model matched as an override, over
    the plain book's table): the next process read the billed model as known but without a
    price, and left its calls unpriced. Two processes over one fresh cache folder."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("COSTLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    code = (
        "import sys; from costlab.workspace import Workspace; ws = Workspace(sys.argv[1]); "
        "print(ws.sql(\"SELECT cost_source FROM calls WHERE model = 'acme-llm-2' AND cost IS NOT NULL\").rows(), "
        "ws.sql(\"SELECT count(*) FROM prices WHERE model = 'acme-llm-2'\").rows())"
    )
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code, str(lake)], env=env, capture_output=True, text=True, check=True)
        # still priced at the bill's rate; and its two prices are in the `prices` table too, not
        # only in the calls' price cells (the copy used to keep the plain book's table)
        assert out.stdout.strip() == "[('billed_rate',)] [(2,)]", out.stderr
