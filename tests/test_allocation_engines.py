"""The allocation conserves the bill to the last of its 12 decimals on both engines.

Found on the 100M-call benchmark lake: Spark's allocation_check showed a difference of 4e-11.
The 'traced' share of a pool the traces fit in was ``sign(amount) * traced``, and Spark's sign()
is DOUBLE, so every share of that pool went through DOUBLE (about 16 significant digits). A pool
of 18 significant digits shows it. Constructed data (a FOCUS line as tests/test_learned_prices.py
writes them, two OTLP GenAI chat spans); gpt-4.1 lists at $2 input / $8 output per MTok.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from money_double import money_of_double
from otlpspan import chat_span, write_traces
from test_learned_prices import _line, write_focus
from typer.testing import CliRunner

from costlab.cli import app
from costlab.ingest.run import ingest

POOL = "135881.925406230138"  # 18 significant digits: more than a DOUBLE holds


def _lake(root: Path) -> Path:
    bill = write_focus(root / "focus.csv", [_line("05", POOL, "OpenAI", "gpt-4.1", "Input", "67940962703")])
    when = datetime(2026, 10, 5, 12, tzinfo=UTC)
    traces = write_traces(root / "traces.json", [
        chat_span(1, when, 1_000_000, 100_000, workflow="research"),  # 2.00 + 0.80 = 2.80
        chat_span(2, when, 500_000, 50_000, workflow="triage"),  # 1.00 + 0.40 = 1.40
    ])  # fmt: skip
    lake = root / "lake"
    ingest([bill, traces], lake=lake)
    return lake


def _allocation(lake: Path, engine: str, token_policy: str = "traced") -> dict[str, object]:
    r = CliRunner().invoke(
        app,
        ["report", "--lake", str(lake), "--month", "2026-10", "-f", "json", "--no-findings", "--no-fail",
         "--engine", engine, "--token-policy", token_policy],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    sections = json.loads(r.stdout, parse_float=Decimal)["sections"]
    return {k: sections[k]["rows"] for k in ("allocation", "allocation_check")}


def _by_hand(rows: dict[str, object]) -> None:
    """research and triage get their traced cost, the rest of the pool stays unattributed."""
    amounts = {r["workflow"]: r["amount"] for r in rows["allocation"]}  # type: ignore[attr-defined]
    assert amounts == {
        "research": Decimal("2.8"),
        "triage": Decimal("1.4"),
        "unattributed": Decimal(POOL) - Decimal("4.2"),
    }
    (check,) = rows["allocation_check"]  # type: ignore[misc]
    assert check["difference"] == 0 and check["billed"] == Decimal(POOL)


def test_a_pool_of_eighteen_digits_conserves_on_duckdb(tmp_path: Path) -> None:
    _by_hand(_allocation(_lake(tmp_path), "duckdb"))


def test_a_pool_of_eighteen_digits_conserves_on_spark(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    lake = _lake(tmp_path)
    spark = _allocation(lake, "spark")
    _by_hand(spark)
    assert spark == _allocation(lake, "duckdb")


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_proportional_split_has_the_same_digits_on_both_engines(tmp_path: Path, engine: str) -> None:
    """Token policy 'proportional': the pool splits 2.80 : 1.40 in DOUBLE. triage gets
    135881.925406230138 x (1.4 / 4.2), the DOUBLE 45293.975135410044458..., as that DOUBLE's
    value to 12 decimals, 45293.975135410044, on both engines. A plain CAST to DECIMAL gave
    45293.975135410048 on DuckDB (it scales the DOUBLE by 1e12 in DOUBLE, past 2^53) and
    ...044 on Spark; the 100M-call lake's allocation differed by 3e-12 so. research, the
    largest share, takes the rest: the pool is exact either way."""
    if engine == "spark":
        pytest.importorskip("pyspark")
    rows = _allocation(_lake(tmp_path), engine, "proportional")
    amounts = {r["workflow"]: r["amount"] for r in rows["allocation"]}  # type: ignore[attr-defined]
    triage = money_of_double(float(Decimal(POOL)) * (1.4 / 4.2))
    assert abs(triage - Decimal(POOL) / 3) < Decimal("1e-11")
    assert amounts == {"research": Decimal(POOL) - triage, "triage": triage}
    (check,) = rows["allocation_check"]  # type: ignore[misc]
    assert check["difference"] == 0 and check["billed"] == Decimal(POOL)
