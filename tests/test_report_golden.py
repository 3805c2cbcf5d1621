"""The demo month's report, end to end through the CLI: golden JSON and Markdown, and the HTML
in headless Chromium.

The lake holds all of sample_data (demo + real samples) ingested with the demo's costlab.toml,
as the README's quick start does; the report covers October 2026. ``SOURCE_DATE_EPOCH`` fixes
``generated_at``; the lake path and the metrics path are replaced by placeholders. Regenerate
with ``COSTLAB_UPDATE_GOLDEN=1 pytest tests/test_report_golden.py`` and review the diff: a changed
number here is a changed answer to "where did the money go".
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CONFIG = ROOT / "sample_data" / "demo" / "costlab.toml"
PERIOD = ["--since", "2026-10-01", "--until", "2026-11-01"]
EPOCH = "1793412000"  # 2026-10-31T02:00:00Z: a fixed "generated_at"


@pytest.fixture(scope="module")
def demo(demo_lake: Path) -> Path:
    return demo_lake


def report(lake: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    r = CliRunner().invoke(app, ["--config", str(CONFIG), "report", "--lake", str(lake), *PERIOD, *args])
    return r.exit_code, r.stdout, r.stderr


def normalise(text: str, lake: Path) -> str:
    return text.replace(str(lake), "<lake>").replace(str(CONFIG.parent), "<demo>")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("COSTLAB_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with COSTLAB_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def test_json_golden_and_conservation(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = report(demo, "-f", "json", monkeypatch=monkeypatch)
    # the demo config sets fail_on = "none": alerts print, the exit code stays 0
    assert code == 0, err
    assert "BUDGET workflow ticket-triage" in err and "ANOMALY workflow ticket-triage on 2026-10-21" in err
    check_golden("demo_report.json", normalise(out, demo))
    data: dict[str, Any] = json.loads(out, parse_float=Decimal)
    head = data["headline"][0]
    # the demo bill, summed from the three billing files by tests/test_demo.py: 191.1971095795
    assert head["currency"] == "USD" and head["billed"] == Decimal("191.1971095795")
    assert head["attributed"] + head["unattributed"] == head["billed"]
    for row in data["sections"]["allocation_check"]["rows"]:
        assert row["attributed"] + row["unattributed"] == row["billed"] and row["difference"] == 0
    alloc = data["sections"]["allocation"]["rows"]
    assert sum(r["amount"] for r in alloc) == head["billed"]
    # the GPU hours of the self-hosted model go to eval-harness by its tag, never unattributed
    assert any(r["workflow"] == "eval-harness" and r["compute_kind"] == "gpu_hours" for r in alloc)
    unpriced = data["sections"]["unpriced"]["rows"]
    assert [(r["model"], r["calls"]) for r in unpriced] == [("northwind/llama-3.1-8b-triage-ft", 880)]


def test_markdown_golden(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = report(demo, "-f", "markdown", monkeypatch=monkeypatch)
    assert code == 0
    check_golden("demo_report.md", normalise(out, demo))


def test_exit_codes_follow_alerts(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a budget breach wins over an anomaly: 3; anomalies alone: 4; --no-fail: 0
    assert report(demo, "-f", "json", "--no-findings", "--fail-on", "budget,anomaly", monkeypatch=monkeypatch)[0] == 3
    assert report(demo, "-f", "json", "--no-findings", "--fail-on", "anomaly", monkeypatch=monkeypatch)[0] == 4
    code, _, err = report(demo, "-f", "json", "--no-findings", "--budget", "workflow:ticket-triage=100",
                          "--fail-on", "budget", monkeypatch=monkeypatch)
    assert code == 0 and "BUDGET" not in err  # the CLI budget replaces the config's 12 USD


def test_output_file_with_date_is_written_atomically(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "reports" / "{date}.html"
    code, out, _ = report(demo, "--no-findings", "-o", str(target), monkeypatch=monkeypatch)
    written = tmp_path / "reports" / "2026-10-31.html"  # SOURCE_DATE_EPOCH's date
    assert code == 0 and out == "" and written.exists()
    html = written.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "ticket-triage" in html and "<svg" in html
    assert [p.name for p in written.parent.iterdir()] == ["2026-10-31.html"]  # no temp file left
    # a rerun the same day replaces the file (idempotent)
    assert report(demo, "--no-findings", "-o", str(target), monkeypatch=monkeypatch)[0] == 0
    assert written.read_text(encoding="utf-8") == html


def test_notebook_api_gives_the_same_report(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    import costlab

    monkeypatch.setenv("COSTLAB_CONFIG", str(CONFIG))
    rep = costlab.build_report(costlab.Workspace(demo), since="2026-10-01", until="2026-11-01", findings=False)
    wf = rep.frames["cost_by_workflow"]
    assert isinstance(wf, pl.DataFrame)
    costs = dict(zip(wf["workflow"].to_list(), wf["cost"].to_list(), strict=True))
    # the five demo workflows; the self-hosted eval harness is unpriced (None, never 0)
    assert set(costs) == {"nightly-digest", "support-chat", "ticket-triage", "kb-search", "eval-harness"}
    assert costs["eval-harness"] is None
    assert rep.headline[0].billed == Decimal("191.1971095795")
    assert "<svg" in rep._repr_html_() and rep._repr_markdown_().startswith("# costlab report")
    # options from the notebook call override costlab.toml, as the CLI flags do
    assert costlab.build_report(demo, since="2026-10-01", until="2026-11-01", findings=False,
                                     policy="tag").options["allocation_policy"] == "tag"
