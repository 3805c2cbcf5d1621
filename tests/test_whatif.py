"""`costlab whatif`: the demo month's calls re-priced under a change, through the real CLI and the
library, against numbers derived by hand from the price ratios of the models involved."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.money.whatif import whatif

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "lake"
    r = CliRunner().invoke(app, ["ingest", str(ROOT / "sample_data" / "demo"), "--lake", str(path)])
    assert r.exit_code == 0, r.stderr
    return path


def _sql(lake: Path, query: str) -> Decimal:
    r = CliRunner().invoke(app, ["sql", "--lake", str(lake), "-f", "json", query])
    assert r.exit_code == 0, r.stderr
    return Decimal(str(next(iter(json.loads(r.stdout, parse_float=Decimal)[0].values()))))


def _json(lake: Path, *args: str) -> list[dict[str, Any]]:
    r = CliRunner().invoke(app, ["whatif", "--lake", str(lake), "--month", "2026-10", "-f", "json", *args])
    assert r.exit_code == 0, r.stderr
    rows: list[dict[str, Any]] = json.loads(r.stdout, parse_float=Decimal)
    return rows


def test_downgrade_reprices_at_the_new_models_prices(lake: Path) -> None:
    # gpt-4.1 -> gpt-4.1-mini: every price is a fifth (2 -> 0.40 input, 0.50 -> 0.10 cached, 8 -> 1.60
    # output per MTok, no per-request fee), so the classify step costs exactly a fifth
    [row] = _json(lake, "--step", "ticket-triage/classify", "--model", "gpt-4.1-mini")
    assert row["calls_changed"] == 2657 and row["unpriced_after"] == 0
    assert row["after"] * 5 == row["before"] and row["difference"] == row["after"] - row["before"]
    # sonnet-4.5 -> haiku-4.5: 3 / 0.30 / 3.75 / 15 -> 1 / 0.10 / 1.25 / 5, a third; only chat-reply
    # changes, email-reply keeps its recorded cost on both sides
    chat = _sql(lake, "SELECT sum(cost) FROM calls WHERE step = 'chat-reply'")
    [row] = _json(lake, "--step", "support-chat/chat-reply", "--model", "claude-haiku-4-5")
    assert row["before"] - row["after"] == chat - chat / 3
    assert (row["after"] - (row["before"] - chat)) * 3 == chat


def test_cache_ttl_and_input_cap(lake: Path) -> None:
    # no call of email-reply writes to the cache, so 1-hour writes change nothing there
    [row] = _json(lake, "--step", "support-chat/email-reply", "--cache-ttl", "1h")
    assert row["after"] == row["before"]
    # capping input at 0 tokens leaves output only: after = output tokens x $15/MTok
    out_tokens = _sql(lake, "SELECT sum(output_tokens) FROM calls WHERE step = 'email-reply'")
    wf = _sql(lake, "SELECT sum(cost) FROM calls WHERE workflow = 'support-chat' AND step <> 'email-reply'")
    [row] = _json(lake, "--step", "support-chat/email-reply", "--max-input-tokens", "0")
    assert row["after"] == wf + out_tokens * Decimal("0.000015")


def test_markdown_comment_and_library(lake: Path) -> None:
    r = CliRunner().invoke(app, ["whatif", "--lake", str(lake), "--month", "2026-10", "--step", "ticket-triage",
                                 "--model", "gpt-4.1-mini", "-f", "markdown"])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    # 14.773228 -> 2.9546456: saves 11.8185824, one month
    assert r.stdout.startswith("**ticket-triage on gpt-4.1-mini** saves 11.82 USD/month on the recorded traffic "
                               "(14.77 -> 2.95 USD over 1 month).")  # fmt: skip
    result = whatif(lake, since="2026-10-01", until="2026-11-01", step="ticket-triage", model="gpt-4.1-mini")
    assert result.totals()["USD"][2] == Decimal("-11.8185824")
    assert result.frame()["calls_changed"].to_list() == [2657]


def test_what_change_and_unknown_model_are_one_line_errors(lake: Path) -> None:
    r = CliRunner().invoke(app, ["whatif", "--lake", str(lake), "--step", "ticket-triage"])
    assert r.exit_code == 2 and "what change?" in r.stderr
    for bad in ("-1", "99999999999999999999999"):  # below 0, past a BIGINT: usage errors, not internal ones
        r = CliRunner().invoke(app, ["whatif", "--lake", str(lake), "--step", "ticket-triage", "--max-input-tokens", bad])
        assert r.exit_code == 2 and "--max-input-tokens must be between 0 and" in r.stderr
    r = CliRunner().invoke(app, ["whatif", "--lake", str(lake), "--model", "no-such-model-9"])
    assert r.exit_code == 1 and "no price for model 'no-such-model-9'" in r.stderr


def test_the_top_level_names_are_the_library_functions(lake: Path) -> None:
    """`import costlab` gives a notebook the what-if, the gap and the learned prices by name."""
    import costlab

    result = costlab.whatif(costlab.Workspace(lake, since="2026-10-01", until="2026-11-01"), step="ticket-triage",
                            model="gpt-4.1-mini")  # fmt: skip
    assert result.totals()["USD"][2] == Decimal("-11.8185824")
    assert set(costlab.__all__) >= {"whatif", "explain_gap", "reconcile", "learn_prices", "learn_compute_prices"}
    assert all(callable(getattr(costlab, n)) for n in costlab.__all__ if n != "__version__")
