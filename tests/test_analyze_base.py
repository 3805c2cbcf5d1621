"""Savings combine on the remaining cost, never as a plain sum (costlab.analyze.base)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costlab.analyze.base import Finding, Savings, combine
from costlab.lake import Lake

STEPS = Path(__file__).resolve().parent / "fixtures" / "analyze" / "litellm_steps.jsonl"


def _steps_lake(tmp_path: Path, **kwargs: object) -> Lake:
    """The analyzer fixture's LiteLLM steps ingested into ``tmp_path / "lake"``."""
    from costlab.ingest.run import ingest

    ingest([STEPS], lake=tmp_path / "lake", **kwargs)  # type: ignore[arg-type]
    return Lake(tmp_path / "lake")


def _f(analyzer: str, step: str | None, base: str, lo: float, hi: float, validated: bool = True) -> Finding:
    return Finding(
        analyzer=analyzer, workflow="wf", step=step, title="t", action="a", evidence={},
        monthly_savings_usd=Savings(Decimal(0), Decimal(0)), confidence="medium", validated=validated,
        base_monthly_cost_usd=Decimal(base), fraction_low=lo, fraction_high=hi,
    )


def test_step_findings_apply_to_what_earlier_ones_left() -> None:
    # step A costs $100: caching removes 50-60%, then trimming 20-30% of what is left
    #   low  = 100 x (1 - 0.5 x 0.8) = 60;  high = 100 x (1 - 0.4 x 0.7) = 72  (a plain sum: 70-90)
    found = [_f("trimming", "A", "100", 0.2, 0.3), _f("caching", "A", "100", 0.5, 0.6)]
    assert combine(found) == Savings(Decimal("60.00"), Decimal("72.00"))


def test_workflow_finding_applies_after_step_findings_and_unvalidated_never_counts() -> None:
    # the workflow costs $300; step A saves 60-72 (above); batch halves what remains:
    #   low  = 60 + (300 - 60) x 0.5 = 180;  high = 72 + (300 - 72) x 0.5 = 186
    found = [
        _f("caching", "A", "100", 0.5, 0.6),
        _f("trimming", "A", "100", 0.2, 0.3),
        _f("batch", None, "300", 0.5, 0.5),
        _f("downgrade", "B", "200", 0.9, 0.9, validated=False),  # potential only
    ]
    assert combine(found) == Savings(Decimal("180.00"), Decimal("186.00"))


def test_total_never_exceeds_the_cost() -> None:
    found = [_f(a, "A", "50", 1.0, 1.0) for a in ("caching", "trimming", "downgrade", "batch")]
    assert combine(found) == Savings(Decimal("50.00"), Decimal("50.00"))


def test_report_findings_accepts_date_text_and_returns_the_combined_total(tmp_path: Path) -> None:
    """`costlab report` passes --since/--until as text; the total is `combine`, not a sum."""
    from costlab.analyze.base import combine, report_findings
    lake = _steps_lake(tmp_path, keep_text=True)
    found, total, skipped = report_findings(lake, since="2025-06-04", until="2025-06-05", config={})
    assert found and all({"analyzer", "title", "monthly_savings_usd"} <= set(f) for f in found)
    assert skipped == {}
    same, _, _ = report_findings(lake, config={})  # the fixture lies inside that day
    assert [f["title"] for f in found] == [f["title"] for f in same]
    # the caching findings alone: 13.13 (block 0 moved) + 0.12 (exact repeats), combined per step
    assert total.low >= Decimal("13.25")
    empty, none, _ = report_findings(lake, since="2025-07-01", until="2025-07-02", config={})
    assert empty == [] and none == combine([])


def test_run_takes_one_analyzer_name_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    """``run(lake, "waste")`` runs that analyzer (a string was iterated into the names "w", "a",
    ... and failed with ModuleNotFoundError); "all" is every analyzer; an unknown name is a
    CostlabError naming the known ones, raised before any work."""
    from costlab.analyze.base import ORDER, run
    from costlab.errors import CostlabError
    lake = _steps_lake(tmp_path)
    one = run(lake, "waste", config={})
    assert [r.analyzer for r in one] == ["waste"] and one[0].summary["calls"] > 0
    assert [r.analyzer for r in run(lake, "all", config={})] == list(ORDER)
    for wrong in ("nope", "stats"):  # stats is a module of the package, not an analyzer
        with pytest.raises(CostlabError, match=f"no analyzer '{wrong}'; analyzers: caching, trimming"):
            run(lake, wrong)


def test_analyzers_out_of_memory_is_one_line_naming_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB at the analyzers' memory cap ([analyze] memory_limit) is a CostlabError saying what
    to change, and through the CLI one line, not 'internal error: OutOfMemoryException'."""
    import duckdb
    from typer.testing import CliRunner

    from costlab.analyze import base
    from costlab.cli import app
    from costlab.errors import CostlabError
    lake = _steps_lake(tmp_path)
    import costlab.analyze.waste  # noqa: F401 - registers it before it is replaced

    def full(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 32.0 MiB")

    monkeypatch.setitem(base.ANALYZERS, "waste", full)
    with pytest.raises(CostlabError, match=r"more memory for this period than \[analyze\] memory_limit = '1GB'"):
        base.run(lake, "waste", config={})
    # the suggestion is the next step up, never the limit that just ran out
    with pytest.raises(CostlabError, match=r"memory_limit = '4GB' allows.*e\.g\. memory_limit = '8GB'"):
        base.run(lake, "waste", config={"analyze": {"memory_limit": "4GB"}})
    assert [base._doubled(s) for s in ("1GB", "1.5 GiB", "512MB")] == ["2GB", "3GiB", "1024MB"]
    r = CliRunner().invoke(app, ["analyze", "waste", "--lake", str(tmp_path / "lake"), "--format", "json"])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "costlab report --no-findings" in r.stderr, r.stderr


def test_a_report_whose_analyzers_run_out_of_memory_still_renders_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nightly report is its spend, budgets and anomalies first: analyzers past their memory
    cap (a real DuckDB out-of-memory at [analyze] memory_limit = "1MB") leave the findings out,
    and the report says why in every format and on stderr, never "No findings."."""
    from typer.testing import CliRunner

    from costlab.cli import app

    _steps_lake(tmp_path)
    config = tmp_path / "costlab.toml"
    config.write_text('[analyze]\nmemory_limit = "1MB"\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(config))
    lake = str(tmp_path / "lake")
    r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["findings"] == [] and doc["savings_usd"] is None
    assert doc["findings_note"].startswith("Findings were not computed: ")
    assert "memory_limit = '1MB' allows" in doc["findings_note"]
    assert "e.g. memory_limit = '2MB'" in doc["findings_note"]
    assert doc["headline"][0]["traced_calls"] == 100  # the rest of the report is all there
    assert r.stderr.count("\n") == 1 and "memory_limit = '1MB'" in r.stderr, r.stderr
    for fmt in ("markdown", "table"):
        r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", fmt])
        assert r.exit_code == 0, r.output
        assert "Findings were not computed" in r.stdout and "No findings." not in r.stdout, fmt


def test_no_findings_is_not_an_all_clear(tmp_path: Path) -> None:
    """--no-findings said "No findings." under "What to change", as if the analyzers had found
    nothing; it says they were not run, in every format."""
    from typer.testing import CliRunner

    from costlab.cli import app
    from costlab.report.build import NOT_RUN

    _steps_lake(tmp_path)
    lake = str(tmp_path / "lake")
    r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", "json", "--no-findings"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["findings_note"] == NOT_RUN
    assert json.loads(CliRunner().invoke(app, ["report", "--lake", lake, "--format", "json"]).stdout)["findings_note"] is None
    for fmt in ("markdown", "table", "html", "csv"):
        r = CliRunner().invoke(app, ["report", "--lake", lake, "--format", fmt, "--no-findings"])
        assert r.exit_code == 0, r.output
        assert "Findings were not run" in r.stdout and "No findings." not in r.stdout, fmt


def test_analyze_all_builds_the_calls_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`costlab analyze all` ran each analyzer in a run of its own, and each run built the
    priced calls again and released them: five builds, 4 x 23 s more on 10M calls. One now."""
    from typer.testing import CliRunner

    from costlab import workspace
    from costlab.cli import app
    _steps_lake(tmp_path)
    builds: list[object] = []
    real = workspace._period_calls  # called once per build of the analyzers' calls

    def counted(*args: object) -> None:
        builds.append(args[3])
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace, "_period_calls", counted)
    r = CliRunner().invoke(app, ["analyze", "all", "--lake", str(tmp_path / "lake"), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    got = [a["analyzer"] for a in json.loads(r.stdout)]
    assert got == ["caching", "trimming", "downgrade", "batch", "waste", "combined"]
    assert len(builds) == 1


def test_a_skipped_analyzer_in_the_table_is_one_inert_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Why an analyzer was skipped names the lake's path, which may hold any character: the
    table writes it on one line with control characters escaped, and says the empty table is
    not an all-clear."""
    from costlab.analyze.base import AnalyzerResult
    from costlab.report.findings import render

    why = "/tmp/lake\x1b[31m\nfake: line: needs about 9.0 GiB"
    render([AnalyzerResult("caching", summary={"skipped": why}), AnalyzerResult("waste")], "table")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "No findings from the analyzers that ran."
    assert out[1] == "caching: not run, its findings are missing: /tmp/lake\\x1b[31m\\nfake: line: needs about 9.0 GiB"
