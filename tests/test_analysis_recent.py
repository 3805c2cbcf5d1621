"""Without a start, the analyzers read the lake's last 30 days with calls
(costlab.analyze.base.recent, ``[analyze] default_days``), so `costlab report` and `costlab
analyze` with no --since cost what a month holds, not the history, and say which days they read.

Lake: tests/fixtures/analyze/litellm_steps.jsonl (100 calls on 2025-06-04, prompts kept) and a copy
moved to 2025-07-20 under new request ids. The last 30 days with calls, counted back from
2025-07-20, start on 2025-06-21: they hold the copy's 100 calls, not the June 4 ones.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.analyze.base import Recent, recent, run
from costlab.cli import app
from costlab.errors import CostlabError
from costlab.ingest.run import ingest
from costlab.workspace import Workspace

SRC = Path(__file__).resolve().parent / "fixtures" / "analyze" / "litellm_steps.jsonl"
NOTE = (
    "Findings cover the last 30 days with calls, 2025-06-21 to 2025-07-20; --since chooses another "
    "period ([analyze] default_days = 0: every call)."
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recent")
    logs = root / "logs"
    logs.mkdir()
    text = SRC.read_text()
    assert text.count("2025-06-04") >= 100  # every call of the fixture is on that day
    (logs / "june.jsonl").write_text(text)
    (logs / "july.jsonl").write_text(text.replace("2025-06-04", "2025-07-20").replace('"req-', '"req2-'))
    path = root / "lake"
    assert not ingest([logs], lake=path, keep_text=True).failed
    return path


def _caching(results: list[dict]) -> dict:
    return next(r for r in results if r["analyzer"] == "caching")


def test_the_last_30_days_with_calls_not_the_history(lake: Path) -> None:
    assert recent(Workspace(lake, config={})) == Recent(datetime(2025, 6, 21, tzinfo=UTC), date(2025, 7, 20), 30)
    got = [r.to_dict() for r in run(Workspace(lake, config={}))]
    assert got == [r.to_dict() for r in run(Workspace(lake, since="2025-06-21", config={}))]
    everything = [r.to_dict() for r in run(Workspace(lake, config={"analyze": {"default_days": 0}}))]
    assert (_caching(got)["summary"]["calls"], _caching(everything)["summary"]["calls"]) == (100, 200)
    windows = {(f["evidence"]["window_start"], f["evidence"]["window_days"]) for r in got for f in r["findings"]
               if "window_start" in f.get("evidence", {})}  # fmt: skip
    assert windows == {("2025-06-21", 30)}


def test_nothing_changes_when_the_calls_lie_within_the_days_or_a_start_is_given(lake: Path) -> None:
    assert recent(Workspace(lake, config={"analyze": {"default_days": 47}})) is None  # June 4 to July 20: 47 days
    assert recent(Workspace(lake, config={"analyze": {"default_days": 46}})) == Recent(
        datetime(2025, 6, 5, tzinfo=UTC), date(2025, 7, 20), 46
    )
    assert recent(Workspace(lake, since="2025-01-01", config={})) is None
    assert recent(Workspace(lake, until="2025-07-01", config={})) is None  # before July: one day of calls
    with pytest.raises(CostlabError, match="default_days"):
        recent(Workspace(lake, config={"analyze": {"default_days": "a month"}}))


def test_the_cli_and_the_report_say_which_days_the_findings_read(lake: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["analyze", "caching", "--lake", str(lake), "-f", "json"])
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == NOTE
    assert json.loads(r.stdout)["summary"]["calls"] == 100
    r = runner.invoke(app, ["analyze", "caching", "--lake", str(lake), "-f", "json", "--since", "2025-06-01"])
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["summary"]["calls"] == 200

    r = runner.invoke(app, ["report", "--lake", str(lake), "-f", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["findings_scope"], out["findings_note"]) == (NOTE, None)
    assert out["findings"]
    r = runner.invoke(app, ["report", "--lake", str(lake), "-f", "markdown"])
    assert r.exit_code == 0 and NOTE.replace("[", "\\[").replace("]", "\\]") in r.stdout.splitlines()
    r = runner.invoke(app, ["report", "--lake", str(lake), "-f", "table"])
    assert r.exit_code == 0 and NOTE in r.stdout.splitlines()
    r = runner.invoke(app, ["report", "--lake", str(lake), "-f", "json", "--since", "2025-06-01"])
    assert json.loads(r.stdout)["findings_scope"] is None
    r = runner.invoke(app, ["report", "--lake", str(lake), "-f", "json", "--no-findings"])
    assert json.loads(r.stdout)["findings_scope"] is None

    bad = tmp_path / "costlab.toml"
    bad.write_text('[analyze]\ndefault_days = "a month"\n')
    r = runner.invoke(app, ["--config", str(bad), "analyze", "--lake", str(lake)])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1 and "default_days" in r.output
