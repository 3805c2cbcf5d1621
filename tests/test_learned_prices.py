"""`costlab prices learn`: unit prices learned from the bill's own token lines, written as a
prices file to review. A constructed FOCUS bill (documented shape: ConsumedQuantity in Tokens,
the model in SkuPriceDetails, as tests/test_gap.py writes it) with hand-derived answers."""

from __future__ import annotations

import csv
import json
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.money.learned import learn_prices, prices_toml
from costlab.pricing import PriceBook

COLS = [
    "BilledCost", "ListCost", "EffectiveCost", "BillingCurrency", "BillingAccountId", "ChargeCategory",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
    "BillingPeriodEnd", "ConsumedQuantity", "ConsumedUnit", "ServiceCategory", "ServiceName", "SkuId",
    "SkuMeter", "SkuPriceDetails", "ServiceProviderName", "HostProviderName",
]  # fmt: skip


def write_focus(path: Path, rows: list[dict[str, str]]) -> Path:
    """A FOCUS CSV of ``rows`` (`_line`) at ``path``."""
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, COLS)
        w.writeheader()
        w.writerows(rows)
    return path


def _line(day: str, cost: str, provider: str, model: str, direction: str, tokens: str) -> dict[str, str]:
    return {"BilledCost": cost, "ListCost": cost, "EffectiveCost": cost, "BillingCurrency": "USD",
            "BillingAccountId": "acct-1", "ChargeCategory": "Usage", "ChargeDescription": f"{model} {direction}",
            "ChargeFrequency": "Usage-Based", "ChargePeriodStart": f"2026-10-{day}T00:00:00Z",
            "ChargePeriodEnd": f"2026-10-{int(day) + 1:02d}T00:00:00Z", "BillingPeriodStart": "2026-10-01T00:00:00Z",
            "BillingPeriodEnd": "2026-11-01T00:00:00Z", "ConsumedQuantity": tokens, "ConsumedUnit": "Tokens",
            "ServiceCategory": "AI and Machine Learning", "ServiceName": f"{provider} API", "SkuId": f"{model}-{direction}",
            "SkuMeter": f"{model} {direction} tokens",
            "SkuPriceDetails": json.dumps({"ModelId": model, "TokenDirection": direction}),
            "ServiceProviderName": provider, "HostProviderName": provider}  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("learn")
    rows = [
        # gpt-4.1 lists at $2 input / $8 output per MTok (genai-prices); billed 15% under on both days:
        # input 6M + 4M tokens = 10M -> list 20.00, billed 10.20 + 6.80 = 17.00
        _line("05", "10.20", "OpenAI", "gpt-4.1", "Input", "6000000"),
        _line("06", "6.80", "OpenAI", "gpt-4.1", "Input", "4000000"),
        # output 1M tokens -> list 8.00, billed 6.80 (1 - 6.80 / 8.00 = 0.15)
        _line("05", "6.80", "OpenAI", "gpt-4.1", "Output", "1000000"),
        # a model no catalogue knows: 3.00 for 2M input tokens = 1.50 per MTok; 2.50 for 0.5M output = 5.00
        _line("07", "3.00", "Acme", "acme-llm-2", "Input", "2000000"),
        _line("07", "2.50", "Acme", "acme-llm-2", "Output", "500000"),
    ]
    bill = write_focus(root / "focus.csv", rows)
    path = root / "lake"
    r = CliRunner().invoke(app, ["ingest", "--source", "focus", str(bill), "--lake", str(path)])
    assert r.exit_code == 0, r.stderr
    return path


def test_rates_per_model_and_token_type(lake: Path) -> None:
    rates = {(r.model, r.token_type): r for r in learn_prices(lake)}
    gpt_in = rates[("gpt-4.1", "input_uncached")]
    assert (gpt_in.tokens, gpt_in.billed, gpt_in.lines) == (Decimal(10_000_000), Decimal("17.00"), 2)
    assert gpt_in.per_mtok == Decimal("1.7") and gpt_in.list_per_mtok == Decimal(2)
    assert gpt_in.discount == Decimal("0.15") and gpt_in.catalogue_model == "gpt-4.1"
    assert rates[("gpt-4.1", "output")].per_mtok == Decimal("6.8")
    acme = rates[("acme-llm-2", "input_uncached")]
    assert acme.catalogue_model is None and acme.list_per_mtok is None and acme.discount is None
    assert acme.per_mtok == Decimal("1.5") and rates[("acme-llm-2", "output")].per_mtok == Decimal(5)


def test_prices_file_is_an_overrides_file_that_prices_the_new_model(lake: Path, tmp_path: Path) -> None:
    text = prices_toml(learn_prices(lake))
    data = tomllib.loads(text)
    [model] = data["model"]
    assert (model["provider"], model["model"], model["input_per_mtok"], model["output_per_mtok"]) == (
        "acme", "acme-llm-2", 1.5, 5
    )
    assert str(model["valid_from"]) == "2026-10-07"
    [discount] = data["discount"]
    # (17.00 + 6.80) billed against (20.00 + 8.00) at list: 1 - 23.80 / 28.00 = 15 %
    assert (discount["model"], discount["percent"], str(discount["valid_from"])) == ("gpt-4.1", 15, "2026-10-05")
    assert "2 focus bill lines 2026-10-05..2026-10-06: 17 USD for 10,000,000 input_uncached tokens" in text
    path = tmp_path / "learned.toml"
    path.write_text(text)
    book = PriceBook.load(path)  # review done: the file loads as overrides
    hit = book.match("acme", "acme-llm-2")
    assert hit is not None and hit.rule == "override"


def test_cli_writes_the_file_and_json_lists_the_rates(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "prices.toml"
    r = CliRunner().invoke(app, ["prices", "learn", "--lake", str(lake), "--month", "2026-10", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    assert tomllib.loads(out.read_text())["discount"][0]["percent"] == 15
    r = CliRunner().invoke(app, ["prices", "learn", "--lake", str(lake), "-f", "json"])
    rows = json.loads(r.stdout, parse_float=Decimal)
    assert {(x["model"], x["token_type"], x["per_mtok"]) for x in rows} >= {("acme-llm-2", "output", Decimal(5))}
    # a period without token lines is an error naming what to do, not an empty file
    r = CliRunner().invoke(app, ["prices", "learn", "--lake", str(lake), "--month", "2026-09"])
    assert r.exit_code == 1 and "no bill line in this period" in r.stderr


# -- self-hosted models: the compute billed to their workflow, per token ---------------------------
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "sample_data" / "demo" / "costlab.toml"


def test_a_self_hosted_model_is_priced_from_its_workflows_compute(demo_lake: Path, tmp_path: Path) -> None:
    """The demo's eval-harness runs only `northwind/llama-3.1-8b-triage-ft` on vLLM (880 calls,
    1,846,565 input and 59,116 output tokens: sample_data/demo/README.md), on a g5.xlarge whose
    22 CUR lines (one a weekday) carry `workflow=eval-harness` and sum to $35.713. Blended:
    35.713 / 1,905,681 tokens = $18.740282 per MTok; $0.040583 a call. kb-search's OpenSearch
    is tagged too but is not Compute, and its models are priced, so it is not learned."""
    from costlab.money.learned import learn_compute_prices
    from costlab.workspace import Workspace

    ws = Workspace(demo_lake, config=DEMO_CONFIG, since="2026-10-01", until="2026-11-01")
    [rate] = learn_compute_prices(ws)
    assert (rate.provider, rate.model, rate.workflows, rate.currency) == (
        "vllm", "northwind/llama-3.1-8b-triage-ft", ("eval-harness",), "USD")
    assert (rate.calls, rate.input_tokens, rate.output_tokens, rate.lines) == (880, 1_846_565, 59_116, 22)
    assert rate.billed == Decimal("35.713") and rate.services == "Amazon Elastic Compute Cloud"
    assert (rate.per_mtok, rate.per_call) == (Decimal("18.740282"), Decimal("0.040583"))

    # through the CLI: the [[model]] entry, which loads as an override and prices the calls
    out = tmp_path / "learned.toml"
    r = CliRunner().invoke(app, ["--config", str(DEMO_CONFIG), "prices", "learn", "--lake", str(demo_lake),
                                 "--month", "2026-10", "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    [model] = [m for m in tomllib.loads(out.read_text(), parse_float=Decimal)["model"] if m["provider"] == "vllm"]
    assert model["input_per_mtok"] == model["output_per_mtok"] == Decimal("18.740282")
    assert "cache_read_per_mtok" not in model and str(model["valid_from"]) == "2026-10-01"
    settings = {**tomllib.loads(DEMO_CONFIG.read_text()), "prices": {"overrides": str(out)}}
    applied = Workspace(demo_lake, config=settings, since="2026-10-01", until="2026-11-01")
    cost, unpriced = applied.sql(
        "SELECT sum(cost), count(*) FILTER (WHERE cost_source = 'unpriced') FROM calls WHERE workflow = 'eval-harness'"
    ).row(0)
    # 18.740282 x 1,905,681 / 1e6 = 35.712999... : the calls now sum to their compute bill
    assert unpriced == 0 and round(cost, 4) == Decimal("35.7130")
