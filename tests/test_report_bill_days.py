"""The report reads the bill (charges, usage) from only the day files its queries need
(costlab.report.build._bill_days): every answer is the one the whole history gives.

Lakes: the demo (sample_data: FOCUS, OpenAI and Anthropic bills and usage in October 2026,
budgets, an anomaly) and a generated lake (benchmarks/lakegen.py) with a billed line and two
platform fees every day for 100 days from 2026-10-01, priced with monthly commitments so their
whole-month draw-down is in the report. Periods: a day, a week across a month end, a whole month
(a previous month to compare with), a mid-month fortnight and two months.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from costlab.report import build
from costlab.report.build import build_report
from costlab.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
PERIODS = [
    ("2026-10-21", "2026-10-22"),
    ("2026-10-28", "2026-11-04"),
    ("2026-11-01", "2026-12-01"),
    ("2026-12-10", "2026-12-24"),
    ("2026-11-01", "2027-01-01"),
]
COMMITMENTS = """
[[commitment]]
provider = "OpenAI"
amount = 40
valid_from = 2026-10-01

[[commitment]]
provider = "anthropic"
amount = 25
valid_from = 2026-11-01
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.lakegen import write_lake
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("billdays")
    lake = write_lake(root / "lake", 30_000, days=100)
    (root / "prices.toml").write_text(COMMITMENTS)
    config = root / "costlab.toml"
    config.write_text('[prices]\noverrides = "prices.toml"\n')
    return lake, config


def _json(lake: Path, config: Path | None, since: str, until: str | None) -> dict[str, Any]:
    ws = Workspace(lake, config=config)
    from costlab.report.text import to_json

    out: dict[str, Any] = json.loads(to_json(build_report(ws, since=since, until=until, findings=False).to_dict()))
    out.pop("generated_at", None)
    return out


def _both(monkeypatch: pytest.MonkeyPatch, lake: Path, config: Path | None, since: str, until: str | None
          ) -> tuple[dict[str, Any], dict[str, Any], list[int]]:  # fmt: skip
    """The report with the bill's day window, the report over every day file, and how many
    files each of the window's views kept."""
    from costlab import views

    kept: list[int] = []
    select = views.table_select

    def spy(con: Any, table: str, files: list[str], file_column: str | None = None) -> str:
        kept.append(len(files))
        return select(con, table, files, file_column)

    with monkeypatch.context() as m:
        m.setattr(views, "table_select", spy)
        windowed = _json(lake, config, since, until)
    with monkeypatch.context() as m:
        m.setattr(build, "_bill_days", lambda *a, **k: None)
        whole = _json(lake, config, since, until)
    return windowed, whole, kept


@pytest.mark.parametrize(("since", "until"), PERIODS)
def test_the_generated_lake_gives_the_whole_historys_answers(
    monkeypatch: pytest.MonkeyPatch, generated: tuple[Path, Path], since: str, until: str
) -> None:
    lake, config = generated
    windowed, whole, _ = _both(monkeypatch, lake, config, since, until)
    assert windowed == whole
    sections = windowed["sections"]
    assert sections["spend_by_day"]["rows"]  # the bill is there, not an empty pair
    assert "Commitments" in (sections["reconciliation"]["note"] or "")


def test_a_day_reads_its_month_and_the_look_back_not_the_history(
    monkeypatch: pytest.MonkeyPatch, generated: tuple[Path, Path]
) -> None:
    """A report of 2026-12-10: the anomaly look-back (14 days by default) reaches back to
    2026-11-26 and the commitments run to the end of December, so 2026-11-26 .. 2027-01-01:
    37 day files of the 100, each a day's charges."""
    lake, config = generated
    windowed, whole, kept = _both(monkeypatch, lake, config, "2026-12-10", "2026-12-11")
    assert windowed == whole
    charges = len(list((lake / "charges").rglob("*.parquet")))
    assert charges == 100 and 37 in kept


def test_an_open_end_reads_every_day(monkeypatch: pytest.MonkeyPatch, generated: tuple[Path, Path]) -> None:
    lake, config = generated
    windowed, whole, _ = _both(monkeypatch, lake, config, "2026-12-01", None)
    assert windowed == whole


@pytest.mark.parametrize(("since", "until"), [("2026-10-21", "2026-10-22"), ("2026-10-01", "2026-11-01"),
                                              ("2026-11-01", "2026-11-02")])  # fmt: skip
def test_the_demo_gives_the_whole_historys_answers(
    monkeypatch: pytest.MonkeyPatch, demo_lake: Path, since: str, until: str
) -> None:
    """The demo's bills and usage of October: the headline, gap, alerts and the empty-period
    notice (November holds nothing, and says what the lake does hold) are the same."""
    config = ROOT / "sample_data" / "demo" / "costlab.toml"
    windowed, whole, _ = _both(monkeypatch, demo_lake, config, since, until)
    assert windowed == whole
    if since.startswith("2026-11"):
        assert windowed["notice"].startswith("No charges or calls in 2026-11-01 to 2026-11-02")
        assert windowed["notice"].endswith("to 2026-10-31.")  # the bills and traces end in October


def test_the_report_reads_one_snapshot_of_the_lake(monkeypatch: pytest.MonkeyPatch, generated: tuple[Path, Path]) -> None:
    """The views, the bill's day files and its first and last charge come from one read of the
    manifest: an ingest committing mid-report cannot mix two states of the lake in one answer."""
    from costlab.lake import Lake

    lake, config = generated
    reads: list[int] = []
    manifest = Lake.manifest

    def counted(self: Lake) -> Any:
        reads.append(1)
        return manifest(self)

    monkeypatch.setattr(Lake, "manifest", counted)
    _json(lake, config, "2026-12-10", "2026-12-11")  # the day window and the previous-period edge
    assert len(reads) == 1
