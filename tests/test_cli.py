"""The CLI through its real entry point (subprocess for start-up cost, CliRunner elsewhere)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from toysource import write
from typer.testing import CliRunner

from costlab.cli import app
from costlab.lake import Lake

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, runpy; sys.argv=['costlab','--help'];\n"
        "try:\n    runpy.run_module('costlab', run_name='__main__')\nexcept SystemExit: pass\n"
        "heavy=[m for m in ('duckdb','polars','pyarrow','tiktoken','jinja2') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Usage: costlab" in out
    assert "HEAVY []" in out


def test_a_nightly_report_does_not_import_polars(demo_lake: Path) -> None:
    """The report's alerts read DuckDB rows, not a polars frame: importing polars is ~0.1 s of a
    nightly run. Through the real entry point, with the demo's budgets and anomalies."""
    config = Path(__file__).resolve().parents[1] / "sample_data" / "demo" / "costlab.toml"
    argv = ["costlab", "--config", str(config), "report", "--lake", str(demo_lake), "--format", "json",
            "--no-findings", "--no-fail"]  # fmt: skip
    code = (
        f"import sys, runpy; sys.argv={argv!r}\n"
        "try:\n    runpy.run_module('costlab', run_name='__main__')\nexcept SystemExit as e: assert not e.code, e.code\n"
        "print('POLARS', 'polars' in sys.modules, file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"alerts"' in r.stdout and "POLARS False" in r.stderr, r.stderr


def test_console_script_and_module_entry_points() -> None:
    exe = Path(sys.executable).with_name("costlab")
    for cmd in ([str(exe), "--help"], [sys.executable, "-m", "costlab", "--help"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0 and "ingest" in r.stdout


def _command_paths() -> list[list[str]]:
    """Every command and group of the app, as the words that name it ([] is the app itself)."""
    import typer.main

    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


# Python types or typer's type names, which help must not show (`<list[str]>`, `TEXT`, `INTEGER`).
PYTHON_TYPES = re.compile(r"\[str\]|list\[|<list|<(str|int|float|bool|Path|path\])>|\b(TEXT|INTEGER|FLOAT|BOOLEAN|PATH|DIRECTORY|FILENAME)\b")


def test_every_command_has_plain_help_with_an_example() -> None:
    paths = _command_paths()
    assert ["export", "focus"] in paths and ["lake", "repair"] in paths and len(paths) > 15
    for path in paths:
        code, out, err = run(*path, "--help")
        assert code == 0, (path, err)
        assert out.startswith(f"Usage: {' '.join(['costlab', *path])} [options]"), (path, out)
        assert re.search(r"^  Examples?:$", out, re.M), f"no Example block in `costlab {' '.join(path)} --help`"
        assert not PYTHON_TYPES.search(out), (path, PYTHON_TYPES.findall(out), out)
        assert "-h, --help" in out, path
        assert run(*path, "-h")[:2] == (0, out), path  # -h is --help


def test_help_names_values_plainly() -> None:
    out = run("ingest", "--help")[1]
    assert "Usage: costlab ingest [options] <path>..." in out
    assert "--exclude <glob>" in out and "--wait <seconds>" in out and "--lake <dir>" in out
    out = run("report", "--help")[1]
    assert "--since <date>" in out and "--top <n>" in out and "--budget <scope=amount>" in out
    assert "--limit <n>" in run("runs", "--help")[1]
    assert "-o, --output <dir>" in run("export", "sql", "--help")[1]
    assert "Usage: costlab analyze [options] [<analyzer>]" in run("analyze", "--help")[1]
    # examples are printed as written, one command a line, not wrapped to the terminal
    assert "    costlab report --budget total=5000 --budget workflow:support-chat=1200 --fail-on budget\n" in (
        run("report", "--help")[1]
    )


def test_version() -> None:
    from costlab import __version__

    for flag in ("--version", "-V"):
        assert run(flag) == (0, f"costlab {__version__}\n", "")
    assert run("version") == (0, f"{__version__}\n", "")


def test_no_arguments_prints_a_short_help_and_exits_2() -> None:
    code, out, err = run()
    assert code == 2 and out == ""
    assert err.startswith("Usage: costlab [options] <command> [<args>]...")
    assert "Commands:" in err and "  ingest " in err and "Options:" not in err
    assert err.rstrip().endswith("Run 'costlab <command> -h' for its options and examples.")
    code, out, err = run("lake")
    assert code == 2 and "  check " in err and "  repair " in err and "costlab lake <command> -h" in err


def test_config_before_or_after_the_command(tmp_path: Path) -> None:
    import costlab.cli as cli

    config = tmp_path / "x.toml"
    config.write_text(f'lake = "{tmp_path / "from-toml"}"\n')
    for args in (
        ["--config", str(config), "runs"],
        ["runs", "--config", str(config)],
        ["runs", f"--config={config}"],
        ["lake", "check", "--config", str(config)],
        ["export", "focus", "-o", str(tmp_path / "f.csv"), "--config", str(config)],
    ):
        code, _, err = run(*args)
        assert code == 1 and f"no costlab lake at {tmp_path / 'from-toml'}" in err, (args, err)
        assert cli.config_path() == config
    run("runs", "--lake", str(tmp_path / "nope"))
    assert cli.config_path() is None  # each run starts without one


def test_config_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    for args, message in (
        (["runs", "--config"], "Error: --config needs a value: the settings file (costlab.toml)"),
        (["--config"], "Error: --config needs a value: the settings file (costlab.toml)"),
        (["runs", "--config="], "Error: --config needs a value: the settings file (costlab.toml)"),
        (["report", "--config", "--lake", "x"], "Error: --config needs a value: the settings file (costlab.toml)"),
        (["runs", "--config", str(tmp_path / "no.toml")], f"Error: --config {tmp_path / 'no.toml'}: no such file or directory"),
        (["--config", str(tmp_path), "runs"], f"Error: --config {tmp_path}: is a directory"),
    ):
        code, out, err = run(*args)
        assert (code, out, err) == (2, "", message + "\n"), args
    # after `--` it is not an option: the SQL text here is "--config"
    code, _, err = run("sql", "--lake", str(tmp_path / "lake"), "--", "--config")
    assert code == 1 and "--config needs" not in err


def test_ingest_sql_formats_and_exit_codes(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    write(tmp_path / "a.csv", [(1, "1.10", "2024-01-01"), (2, "0.000000000003", "2024-01-02")])
    code, out, err = run("ingest", str(tmp_path / "a.csv"), "--lake", lake)
    assert code == 0, err
    assert "1 files ingested" in out and "2 rows written" in out
    code, out, _ = run("sql", "select sum(billed_cost) as total, count(*) as n from charges", "--lake", lake, "-f", "json")
    assert code == 0
    assert json.loads(out) == [{"total": 1.100000000003, "n": 2}]
    assert '"total": 1.100000000003' in out  # exact digits, not a float round trip
    code, out, _ = run("sql", "select billing_currency, billed_cost from charges order by 2", "--lake", lake, "-f", "csv")
    assert out.splitlines() == ["billing_currency,billed_cost", "USD,0.000000000003", "USD,1.1"]
    code, out, _ = run("sql", "select count(*) as n from charges", "--lake", lake)
    assert code == 0 and "2" in out


def test_bad_file_is_one_line_error_exit_1_and_others_ingested(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    (tmp_path / "junk.json").write_text("{not json")
    # named on the command line (found in a folder it would be skipped with a warning)
    code, out, err = run("ingest", str(tmp_path / "a.csv"), str(tmp_path / "junk.json"), "--lake", lake)
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "junk.json" in lines[0]
    assert "Traceback" not in err + out
    code, out, _ = run("sql", "select count(*) from charges", "--lake", lake, "-f", "csv")
    assert out.splitlines()[1] == "1"


def test_quarantine_warns_and_strict_fails(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    f = tmp_path / "a.csv"
    f.write_text("toy_id,cost,day\n1,1,2024-01-01\n2,oops,2024-01-01\n")
    code, _, err = run("ingest", str(f), "--lake", lake)
    assert code == 0 and "1 rows quarantined" in err
    code, _, _ = run("ingest", str(f), "--lake", lake, "--force", "--strict")
    assert code == 1
    code, out, _ = run("quarantine", "--lake", lake, "-f", "json")
    rows = json.loads(out)
    assert rows[0]["reason"] == "not a number: 'oops'" and rows[0]["location"] == "3"


def test_sql_is_read_only(tmp_path: Path) -> None:
    for stmt in ("drop view charges", "copy (select 1) to 'x.csv'", "attach 'x.db'", "install httpfs",
                 "create table t as select 1", "select 1; delete from charges", "set threads = 1"):
        code, _, err = run("sql", stmt, "--lake", str(tmp_path / "lake"))
        assert code == 1 and "read-only" in err, stmt


def test_sql_error_is_one_line(tmp_path: Path) -> None:
    Lake(tmp_path / "lake").create()
    code, _, err = run("sql", "select nope from charges", "--lake", str(tmp_path / "lake"))
    assert code == 1 and err.startswith("Error: query failed") and err.count("\n") == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("nonsense")[0] == 2
    assert run("sql", "select 1", "--format")[0] == 2


def test_unknown_source_and_format(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", [(1, "1", "2024-01-01")])
    code, _, err = run("ingest", str(tmp_path / "a.csv"), "--source", "nope", "--lake", str(tmp_path / "l"))
    assert code == 1 and "unknown source 'nope'" in err
    Lake(tmp_path / "l").create()
    code, _, err = run("sql", "select 1", "-f", "xml", "--lake", str(tmp_path / "l"))
    assert code == 1 and "unknown format" in err


def test_lake_location_precedence(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from costlab.config import resolve_lake

    monkeypatch.setenv("COSTLAB_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert resolve_lake() == tmp_path / "home" / "lake"
    (tmp_path / "costlab.toml").write_text('lake = "from-toml"\n')
    assert resolve_lake() == tmp_path / "from-toml"
    monkeypatch.setenv("COSTLAB_LAKE", str(tmp_path / "env"))
    assert resolve_lake() == tmp_path / "env"
    assert resolve_lake(tmp_path / "flag") == tmp_path / "flag"


def test_runs_and_report(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    write(tmp_path / "a.csv", [(1, "2.5", "2024-01-01")])
    run("ingest", str(tmp_path / "a.csv"), "--lake", lake)
    code, out, _ = run("runs", "--lake", lake, "-f", "json")
    assert code == 0 and json.loads(out)[0]["rows_written"] == 1
    code, out, _ = run("report", "--lake", lake, "-f", "json", "--no-findings")
    data = json.loads(out)
    spend = data["sections"]["spend_by_day"]["rows"]
    # the toy source bills 2.5 USD on 2024-01-01 with no provider name and no effective cost
    assert spend == [{"day": "2024-01-01", "provider": "(none)", "currency": "USD",
                      "billed_cost": 2.5, "effective_cost": None}]
    # no workflow on the charge and no traced calls: the whole bill is unattributed, exactly
    assert data["headline"][0]["billed"] == 2.5 and data["headline"][0]["unattributed"] == 2.5
    code, out, _ = run("report", "--lake", lake, "--since", "2024-02-01", "-f", "json", "--no-findings")
    assert json.loads(out)["sections"]["spend_by_day"]["rows"] == []
    code, _, err = run("report", "--lake", lake, "--since", "last tuesday")
    assert code == 2 and "cannot read date" in err  # a usage error


def test_prices_command() -> None:
    code, out, _ = run("prices", "o3", "--at", "2025-06-01", "-f", "json")
    assert code == 0
    rows = {(r["service_tier"], r["price_type"]): r["price"] for r in __import__("json").loads(out)}
    # genai-prices 0.2.3: o3 was $10 / $40 per MTok until 2025-06-10 (then $2 / $8)
    assert rows[("standard", "input_uncached")] == 10 and rows[("standard", "output")] == 40
    code, out, _ = run("prices", "o3", "--at", "2025-07-01", "-f", "json")
    rows = {(r["service_tier"], r["price_type"]): r["price"] for r in __import__("json").loads(out)}
    assert rows[("standard", "input_uncached")] == 2 and rows[("standard", "output")] == 8
    code, _, err = run("prices", "no-such-model-xyz")
    assert code == 1 and err.startswith("Error: no price for model")


def test_month_grammar(tmp_path: Path) -> None:
    """--month YYYY-MM / last / this on report, reconcile, analyze and export focus; a month is
    [first day, next month's first day) in UTC, and it is never combined with --since."""
    from datetime import UTC, date, datetime

    from costlab.periods import Period

    demo = Path(__file__).resolve().parent.parent / "sample_data" / "demo"
    lake = tmp_path / "lake"
    assert run("ingest", str(demo / "billing"), str(demo / "traces"), "--lake", str(lake), "-q")[0] == 0
    by_month = json.loads(run("report", "--lake", str(lake), "--month", "2026-10", "--no-findings", "-f", "json")[1])
    by_dates = json.loads(run("report", "--lake", str(lake), "--since", "2026-10-01", "--until", "2026-11-01",
                              "--no-findings", "-f", "json")[1])  # fmt: skip
    assert by_month["period"] == by_dates["period"] == {"since": "2026-10-01T00:00:00+00:00", "until": "2026-11-01T00:00:00+00:00"}
    assert by_month["headline"] == by_dates["headline"]
    for args in (["reconcile"], ["analyze", "batch"], ["export", "focus", "-o", str(tmp_path / "f.csv")]):
        code, out, err = run(*args, "--lake", str(lake), "--month", "2026-10")
        assert code == 0, (args, err)
    code, out, err = run("reconcile", "--lake", str(lake), "--month", "2026-10", "--since", "2026-10-02")
    assert code == 2 and "--month cannot be combined" in err and err.count("\n") == 1
    code, out, err = run("reconcile", "--lake", str(lake), "--month", "october")
    assert code == 2 and "cannot read month 'october'" in err
    for month in ("9999-12", "0000-01", "2026-13"):  # sentinels: one line, exit 2, never a traceback
        code, out, err = run("reconcile", "--lake", str(lake), "--month", month)
        assert code == 2 and err.startswith(f"Error: cannot read month '{month}'") and err.count("\n") == 1, err
    # last and this, against a fixed today; December wraps to January
    assert Period.month("last", date(2026, 1, 15)) == Period(datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert Period.month("this", date(2026, 12, 5)) == Period(datetime(2026, 12, 1, tzinfo=UTC), None)
    assert Period.month("2026-12").until == datetime(2027, 1, 1, tzinfo=UTC)
    # the same month in a named query's parameters: YYYY-MM is the month's first day
    rows = json.loads(run("query", "cost_by_day", "-p", "since=2026-10", "-p", "until=2026-11", "--lake", str(lake), "-f", "json")[1])
    assert rows and all(r["day"].startswith("2026-10") for r in rows)


def test_report_output_suffix_without_a_format_is_an_error(tmp_path: Path) -> None:
    Lake(tmp_path / "l").create()
    code, out, err = run("report", "--lake", str(tmp_path / "l"), "-o", str(tmp_path / "x.pdf"))
    assert code == 2 and "no report format writes .pdf files" in err and err.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists()


def test_an_unrecognised_file_in_a_folder_is_a_warning_unless_strict(tmp_path: Path) -> None:
    data = tmp_path / "exports"
    data.mkdir()
    write(data / "bill.csv", [(1, "2.5", "2024-01-01")])
    (data / "metrics.csv").write_text("day,metric,value\n2024-01-01,tickets,3\n")
    code, out, err = run("ingest", str(data), "--lake", str(tmp_path / "l"))
    assert code == 0, err
    assert "metrics.csv: not a recognised export" in err and "skipped" in err
    assert "1 files ingested, 0 unchanged, 1 not recognised, 0 failed" in out
    code, out, err = run("ingest", str(data), "--lake", str(tmp_path / "l2"), "--strict")
    assert code == 1 and "metrics.csv: not a recognised export" in err
