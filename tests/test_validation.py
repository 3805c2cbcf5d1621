"""Never crash on what was accepted; never answer silently wrong (issue 13 section 3).

One test (or a few) per defect class, each failing before its fix:

- implausible numbers (an INT64_MAX "unknown" token count, money near the DECIMAL(38,12) limit)
  are quarantined with a reason, and the report of the period runs with exact numbers;
- reversed periods and impossible times are quarantined;
- money and counts are ASCII digits (no ``1_000``, Arabic-Indic or full-width digits);
- a date span past year 1 is a one-line usage error;
- FIFOs and devices are refused without being opened; an empty file is a warning, not an error;
- an over-long line costs bounded memory and is quarantined with its line number;
- every exception reaches the user as one line (a traceback only with COSTLAB_DEBUG=1).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import CostlabError
from costlab.ingest import util as u
from costlab.ingest.run import ingest
from costlab.limits import Limits
from costlab.workspace import Workspace

runner = CliRunner()
INT64_MAX = 2**63 - 1


def run(*args: str, **env: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args), env=env or None)
    return r.exit_code, r.stdout, r.stderr


def quarantine(lake: Path) -> list[tuple[str, str]]:
    return [(loc, reason) for loc, reason in Workspace(lake).rows("SELECT location, reason FROM quarantine ORDER BY 1")]


# -- implausible counts: the INT64_MAX sentinel -----------------------------------------------


def litellm_line(rid: str, start: str, prompt: Any, completion: Any = 200, end: str | None = None) -> str:
    """One LiteLLM spend-log row (the fields tests/fixtures/litellm/spend_logs.jsonl uses)."""
    return json.dumps(
        {
            "request_id": rid, "call_type": "acompletion", "spend": 0.002,
            "prompt_tokens": prompt, "completion_tokens": completion,
            "startTime": start, "endTime": end or start,
            "model": "gpt-4o-mini", "custom_llm_provider": "openai", "status": "success",
        }
    )  # fmt: skip


def report_json(lake: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(
        "report", "--lake", str(lake), "--since", "2025-06-01", "--until", "2025-07-01",
        "-f", "json", "--no-findings", *args,
    )  # fmt: skip
    assert code == 0, err
    data: dict[str, Any] = json.loads(out, parse_float=Decimal)
    return data


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        (INT64_MAX, f"input_tokens = {INT64_MAX} is past the plausible 1,000,000,000,000 per call"),
        (str(INT64_MAX), f"input_tokens = {INT64_MAX} is past the plausible 1,000,000,000,000 per call"),
        (10**12 + 1, "input_tokens = 1000000000001 is past the plausible"),
        (-1, "negative prompt_tokens: -1"),  # LiteLLM's own check; the central one is below
    ],
    ids=["int64-max", "int64-max-text", "just-past-the-limit", "minus-one"],
)
def test_sentinel_token_count_is_quarantined_and_the_report_is_exact(
    tmp_path: Path, prompt: Any, reason: str
) -> None:
    """Before: the span was written and every report of June crashed on
    CAST(sum(input_tokens) AS BIGINT) (INT64_MAX + 1000 does not fit)."""
    f = tmp_path / "spend.jsonl"
    f.write_text(
        litellm_line("sentinel", "2025-06-04T07:00:00Z", prompt) + "\n"
        + litellm_line("normal", "2025-06-04T08:00:00Z", 1000) + "\n"
    )
    res = ingest([f], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (1, 1)
    [(loc, why)] = quarantine(tmp_path / "lake")
    assert loc == "1" and why.startswith(reason) and "\n" not in why
    rows = report_json(tmp_path / "lake")["sections"]["cost_by_model"]["rows"]
    # the normal call alone: gpt-4o-mini at $0.15 / $0.60 per million tokens (genai-prices
    # 0.2.3): 1000 x 0.15e-6 + 200 x 0.60e-6 = 0.00015 + 0.00012 = 0.00027
    assert [(r["model"], r["calls"], r["input_tokens"], r["output_tokens"], r["cost"]) for r in rows] == [
        ("gpt-4o-mini", 1, 1000, 200, Decimal("0.00027"))
    ]


def test_token_sums_past_bigint_are_exact(tmp_path: Path) -> None:
    """100 calls at the highest configurable limit (1e17 input tokens each) on one day: accepted,
    and their sum 1e19 (past BIGINT's 9.2e18, where the old CAST(sum(..) AS BIGINT) failed) is
    exact, because token sums are taken in DECIMAL(38,0)."""
    f = tmp_path / "spend.jsonl"
    f.write_text("".join(litellm_line(f"r{i}", f"2025-06-04T07:{i // 60:02d}:{i % 60:02d}Z", 10**17, 0) + "\n" for i in range(100)))
    res = ingest([f], lake=tmp_path / "lake", config={"max_tokens_per_call": 10**17})
    assert (res.rows_written, res.rows_quarantined) == (100, 0)
    rows = report_json(tmp_path / "lake")["sections"]["cost_by_model"]["rows"]
    # cost: 1e19 tokens x $0.15 per million = $1.5e12
    assert [(r["calls"], r["input_tokens"], r["output_tokens"], r["cost"]) for r in rows] == [
        (100, 10**19, 0, Decimal("1500000000000"))
    ]


def test_every_source_is_held_to_the_count_rules() -> None:
    """pipeline._check_row holds the rows of every source: a negative count in spans and usage
    is refused, a billing line's may be negative (a reversal) but not past the limit."""
    from datetime import UTC, datetime

    from costlab.ingest.run import _check_row

    at = datetime(2025, 6, 4, tzinfo=UTC)
    lim = Limits()
    assert _check_row("usage", {"period_start": at, "row_key": "k", "cache_read_tokens": -5}, "x", lim) == (
        "cache_read_tokens is negative (-5); a count cannot be"
    )
    assert _check_row("usage", {"period_start": at, "row_key": "k", "requests": 10**15}, "x", lim) is None
    assert _check_row("charges", {"charge_period_start": at, "row_key": "k", "tokens": -(10**15)}, "x", lim) is None
    assert _check_row("charges", {"charge_period_start": at, "row_key": "k", "tokens": -(10**15) - 1}, "x", lim) == (
        "tokens = -1000000000000001 is past the plausible 1,000,000,000,000,000 per line "
        "(ingest.max_tokens_per_line in costlab.toml): an 'unknown' sentinel or a unit error"
    )
    span = {"start_time": at, "row_key": "k", "output_tokens": 10**12, "reported_cost": Decimal("1e15")}
    assert _check_row("spans", span, "x", lim) is None


@pytest.mark.parametrize("workers", ["1", "2"])  # in process, and in parser processes
def test_token_limits_are_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    monkeypatch.setenv("COSTLAB_INGEST_WORKERS", workers)
    f, g = tmp_path / "spend.jsonl", tmp_path / "more.jsonl"
    f.write_text(litellm_line("big", "2025-06-04T07:00:00Z", 5000) + "\n")
    g.write_text(litellm_line("small", "2025-06-04T07:00:00Z", 4999) + "\n")
    res = ingest([f, g], lake=tmp_path / "lake", config={"max_tokens_per_call": 4999})
    assert (res.rows_written, res.rows_quarantined) == (1, 1)
    assert "past the plausible 4,999 per call (ingest.max_tokens_per_call" in quarantine(tmp_path / "lake")[0][1]
    with pytest.raises(CostlabError, match="ingest.max_tokens_per_call = 'lots'"):
        ingest([f], lake=tmp_path / "lake", config={"max_tokens_per_call": "lots"})
    with pytest.raises(CostlabError, match=r"from 1 to 1e\+17"):  # sums must stay exact
        Limits.from_config({"max_tokens_per_call": 10**18})


# -- implausible money: bill lines near the DECIMAL(38,12) limit ------------------------------

FOCUS_HEADER = [
    "BillingAccountId", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargeCategory", "BillingCurrency", "BilledCost", "EffectiveCost", "ServiceName", "ProviderName",
    "ChargeDescription",
]  # fmt: skip


def focus_file(path: Path, lines: list[dict[str, str]]) -> Path:
    """A FOCUS CSV; each line names what it changes from a plain June Usage line."""
    base = {
        "BillingAccountId": "acct", "ChargePeriodStart": "2025-06-04T00:00:00Z",
        "ChargePeriodEnd": "2025-06-05T00:00:00Z", "BillingPeriodStart": "2025-06-01T00:00:00Z",
        "BillingPeriodEnd": "2025-07-01T00:00:00Z", "ChargeCategory": "Usage", "BillingCurrency": "USD",
        "BilledCost": "1", "EffectiveCost": "1", "ServiceName": "Example Model API", "ProviderName": "Example AI",
    }  # fmt: skip
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, FOCUS_HEADER)
        w.writeheader()
        for i, line in enumerate(lines):
            w.writerow({**base, "ChargeDescription": f"line {i}", **line})
    return path


EDGE = "999999999999999.999999999999"  # the largest 12-decimal amount under the 1e15 limit


def test_bill_lines_near_the_money_limit_report_exactly(tmp_path: Path) -> None:
    """Before: two accepted lines just under 1e26 crashed every report of the period with
    'Overflow in HUGEINT addition'; 11 lines at the new limit then summed past Python's default
    28 significant digits in the headline (silently rounded) and budget alerts (a crash)."""
    over = [{"BilledCost": "99999999999999999999999999", "EffectiveCost": "99999999999999999999999999"}] * 2
    cap = [{"BilledCost": EDGE, "EffectiveCost": EDGE}] * 11
    just_over = [{"BilledCost": "1000000000000000.000000000001", "EffectiveCost": "1"}]
    res = ingest([focus_file(tmp_path / "focus.csv", over + cap + just_over)], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (11, 3)
    reasons = dict(quarantine(tmp_path / "lake"))
    assert reasons["2"] == reasons["3"] == (
        "billed_cost = 99999999999999999999999999 is past the plausible 1,000,000,000,000,000 per line "
        "(ingest.max_money_per_line in costlab.toml): a unit error or a damaged file"
    )
    assert reasons["15"].startswith("billed_cost = 1000000000000000.000000000001 is past the plausible")
    data = report_json(tmp_path / "lake", "--budget", "total=1000", "--fail-on", "none")
    # 11 x 999999999999999.999999999999 = 10999999999999999.999999999989 (29 significant digits)
    total = Decimal("10999999999999999.999999999989")
    [head] = data["headline"]
    assert head["currency"] == "USD" and head["billed"] == total and head["unattributed"] == total
    [day] = data["sections"]["spend_by_day"]["rows"]
    assert (day["day"], day["billed_cost"]) == ("2025-06-04", total)


def test_credits_and_quantities_are_not_held_to_the_money_limit(tmp_path: Path) -> None:
    """A credit is negative money (allowed down to -limit); a quantity is not money at all."""
    lines = [{"ChargeCategory": "Credit", "BilledCost": "-" + EDGE, "EffectiveCost": "-" + EDGE}]
    res = ingest([focus_file(tmp_path / "focus.csv", lines)], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (1, 0)
    res = ingest([tmp_path / "focus.csv"], lake=tmp_path / "lake2", config={"max_money_per_line": "1e14"})
    assert res.rows_quarantined == 1


# -- reversed periods and impossible times -----------------------------------------------------


def test_periods_that_end_before_they_start_are_quarantined(tmp_path: Path) -> None:
    lines = [
        {"ChargePeriodEnd": "2025-06-03T00:00:00Z"},  # ends the day before it starts
        {"BillingPeriodStart": "2025-07-01T00:00:00Z", "BillingPeriodEnd": "2025-06-01T00:00:00Z"},
        {"ChargePeriodEnd": "2025-06-04T00:00:00Z"},  # an instant (a purchase): kept
        {"ChargePeriodStart": "1970-01-01T00:00:00Z", "ChargePeriodEnd": "1970-01-02T00:00:00Z"},  # epoch 0
    ]
    res = ingest([focus_file(tmp_path / "focus.csv", lines)], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (1, 3)
    assert quarantine(tmp_path / "lake") == [
        ("2", "charge_period_end (2025-06-03T00:00:00+00:00) is before charge_period_start (2025-06-04T00:00:00+00:00)"),
        ("3", "billing_period_end (2025-06-01T00:00:00+00:00) is before billing_period_start (2025-07-01T00:00:00+00:00)"),
        ("5", "charge_period_start 1970-01-01T00:00:00+00:00 is outside 2000-01-01 to 2099-12-31: "
              "an unset time (epoch 0) or a damaged value"),
    ]  # fmt: skip


def test_a_span_ending_before_it_starts_is_kept(tmp_path: Path) -> None:
    """Clock skew between the processes that stamped a span does not make its tokens unreal;
    costlab computes no durations from spans (costlab/schema.py PERIOD_COLUMNS)."""
    f = tmp_path / "spend.jsonl"
    f.write_text(litellm_line("skew", "2025-06-04T08:00:00Z", 1000, end="2025-06-04T07:59:59Z") + "\n")
    res = ingest([f], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (1, 0)


# -- numbers are ASCII digits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", Decimal("12")), (" 12 ", Decimal("12")), ("+1.5", Decimal("1.5")), ("-0.25", Decimal("-0.25")),
        (".5", Decimal("0.5")), ("5.", Decimal("5")), ("1,234.50", Decimal("1234.50")),
        ("-1,234", Decimal("-1234")), ("1.2E-05", Decimal("0.000012")), ("3e2", Decimal("300")),
    ],
)  # fmt: skip
def test_money_text_that_is_read(text: str, value: Decimal) -> None:
    assert u.money(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1_000", "not a number: '1_000' (digits are grouped with ',' only)"),
        ("\u0661\u0662\u0663", "not a number: '\u0661\u0662\u0663' (only ASCII digits 0-9 are read)"),  # Arabic-Indic
        ("\uff11\uff12\uff13", "not a number: '\uff11\uff12\uff13' (only ASCII digits 0-9 are read)"),  # full-width
        ("1.2.3", "not a number: '1.2.3'"),
        ("--5", "not a number: '--5'"),
        ("+-1", "not a number: '+-1'"),
        ("1,23", "not a number: '1,23'"),
        ("0x1F", "not a number: '0x1F'"),
        ("Infinity", "not a number: 'Infinity'"),
        ("1e", "not a number: '1e'"),
    ],
)
def test_money_text_that_is_refused(text: str, reason: str) -> None:
    """Before: Decimal() read all of these but the last five as numbers (1000, 123, 123, ...)."""
    for parse in (u.money, u.integer, u.dec):
        with pytest.raises(ValueError) as err:
            parse(text)
        assert str(err.value) == reason


def test_refused_money_text_reaches_quarantine_with_its_reason(tmp_path: Path) -> None:
    lines = [{"BilledCost": "1_000"}, {"EffectiveCost": "\u0661\u0662\u0663"}, {"BilledCost": "\uff11\uff12"}]
    res = ingest([focus_file(tmp_path / "focus.csv", lines)], lake=tmp_path / "lake")
    assert (res.rows_written, res.rows_quarantined) == (0, 3)
    assert [r for _, r in quarantine(tmp_path / "lake")] == [
        "BilledCost: not a number: '1_000' (digits are grouped with ',' only)",
        "EffectiveCost: not a number: '\u0661\u0662\u0663' (only ASCII digits 0-9 are read)",
        "BilledCost: not a number: '\uff11\uff12' (only ASCII digits 0-9 are read)",
    ]


def test_huge_exponents_and_digits_are_refused_fast() -> None:
    """int(Decimal('1e9999999')) runs for minutes and abs() of it raises decimal.Overflow (not a
    ValueError, so it escaped the parsers): a number that size is refused when it is read."""
    start = time.monotonic()
    for value in ("1e9999999", "-1e9999999", Decimal("1e9999999")):  # Decimal: JSON read exactly
        for parse in (u.integer, u.money, u.dec):
            with pytest.raises(ValueError, match="number out of range"):
                parse(value)
    with pytest.raises(ValueError, match="integer out of range"):
        u.integer("1e30")
    with pytest.raises(ValueError, match="epoch out of range"):
        u.ts(Decimal("1e9999999"))
    assert time.monotonic() - start < 1


def test_money_rounding_past_28_digits_does_not_raise() -> None:
    """Before: decimal.InvalidOperation (not a ValueError) escaped the parser: 17 integer digits
    and 13 decimals need 30 digits to round to 12 places, past the default context's 28."""
    assert u.money("12345678901234567.1234567890125") == Decimal("12345678901234567.123456789012")


@pytest.mark.parametrize("text", ["\u0661/\u0662/\u0662\u0660\u0662\u0664", "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660"])
def test_timestamps_are_ascii_digits_too(text: str) -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        u.ts(text)


def test_metric_values_are_ascii_numbers(tmp_path: Path) -> None:
    from costlab.money.metrics import load_metrics

    f = tmp_path / "metrics.csv"
    f.write_text("day,metric,value\n2025-06-04,tickets,1_000\n")
    with pytest.raises(CostlabError, match=r"metrics.csv:2: value '1_000' is not a number"):
        load_metrics(f)


# -- dates on the command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--since", "100000000d"],
        ["report", "--until", "99999999w"],
        ["reconcile", "--since", "100000000d"],
        ["analyze", "--since", "100000000d"],
        ["export", "focus", "-o", "out.csv", "--since", "100000000d"],
        ["query", "cost_by_day", "-p", "since=100000000d"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_date_before_year_one_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    """Before: OverflowError with a traceback."""
    code, out, err = run(*args, "--lake", str(tmp_path / "lake"))
    assert code == 2, (code, out, err)
    assert err.startswith("Error: cannot read date '") and "before year 1" in err and err.count("\n") == 1


def test_the_widest_dates_still_report(tmp_path: Path) -> None:
    """--since 0001-01-01: the budget/anomaly history before it is clamped, not overflowed."""
    f = tmp_path / "spend.jsonl"
    f.write_text(litellm_line("normal", "2025-06-04T08:00:00Z", 1000) + "\n")
    ingest([f], lake=tmp_path / "lake")
    for since, until in (("0001-01-01", "9999-12-31"), ("0001-01-02", None)):
        code, _, err = run(
            "report", "--lake", str(tmp_path / "lake"), "--since", since, *(["--until", until] if until else []),
            "-f", "json", "--no-findings",
        )  # fmt: skip
        assert code == 0, err


# -- special files and empty files --------------------------------------------------------------


def costlab(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess (a FIFO that was opened would hang it)."""
    return subprocess.run(
        [sys.executable, "-m", "costlab", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX only")
def test_fifos_and_devices_are_refused_without_being_opened(tmp_path: Path) -> None:
    """Before: both were reported as 'no such file or directory' (and a FIFO named in a folder of
    the right name was never the problem; opening one blocks forever)."""
    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    link = tmp_path / "link.jsonl"
    link.symlink_to(fifo)
    r = costlab("ingest", str(fifo), "/dev/zero", str(link), "--lake", str(tmp_path / "lake"), timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"Error: {fifo}: not a regular file (a named pipe (FIFO)); nothing was read",
        "Error: /dev/zero: not a regular file (a character device); nothing was read",
        f"Error: {link}: not a regular file (a named pipe (FIFO)); nothing was read",
    ]
    # a FIFO inside a folder is passed over like any non-file; the folder's files still land
    focus_file(tmp_path / "focus.csv", [{}])
    res = ingest([tmp_path], lake=tmp_path / "lake")
    assert (res.rows_written, res.failed) == (1, [])
    # files named as settings, prices and metrics are held to the same rule
    for args in (["--config", str(fifo), "sources"], ["report", "--prices", "/dev/zero"],
                 ["report", "--metrics", str(fifo)]):  # fmt: skip
        r = costlab(*args, "--lake", str(tmp_path / "lake"), timeout=60) if args[0] == "report" else costlab(*args)
        assert r.returncode in (1, 2) and "not a regular file" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


@pytest.mark.parametrize("workers", ["1", "2"])  # in process, and in parser processes
def test_an_empty_file_is_a_warning_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    """Before: 'file is empty' failed the ingest (exit 1). An export that had nothing to say is
    skipped with a warning, exit 0 (also with --strict: no row was quarantined)."""
    monkeypatch.setenv("COSTLAB_INGEST_WORKERS", workers)
    (tmp_path / "a.csv").write_bytes(b"")
    (tmp_path / "b.jsonl").write_bytes(b" \n\n")
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "d.parquet").write_bytes(b"")
    files = [str(tmp_path / n) for n in ("a.csv", "b.jsonl", "c.csv.gz", "d.parquet")]
    code, out, err = run("ingest", *files, "--lake", str(tmp_path / "lake"), "--strict")
    assert code == 0, err
    assert err.splitlines() == [f"Warning: {f}: empty file, nothing to ingest" for f in files]
    assert out.startswith("0 files ingested, 0 unchanged, 0 failed")
    code, _, err = run("ingest", files[0], "--source", "focus", "--lake", str(tmp_path / "lake"), "-q")
    assert code == 0 and err == ""


# -- over-long lines ----------------------------------------------------------------------------

BIG = 10 << 20  # a 10 MiB line against a 64 KiB limit (the default is 64 MiB)


CLAUDE_SESSION = Path(__file__).parent / "fixtures" / "claude_code" / "assembled" / "session_cb2e607c.jsonl"


def _long_line_files(tmp_path: Path) -> dict[str, tuple[Path, int, int]]:
    """Per line-oriented reader (JSONL text in a .gz, CSV rows, Claude Code's byte reader): a
    file with one line over BIG long, that line's number, and its length with its line end."""
    pad = "x" * BIG
    lit = [litellm_line("a", "2025-06-04T07:00:00Z", 10), litellm_line("b", "2025-06-04T08:00:00Z", 10)]
    long_json = json.dumps({"pad": pad})
    jsonl = tmp_path / "litellm.jsonl.gz"
    jsonl.write_bytes(gzip.compress(f"{lit[0]}\n{long_json}\n{lit[1]}\n".encode(), 1))
    focus = focus_file(tmp_path / "focus.csv", [{}, {"ChargeDescription": pad}, {}])
    claude = CLAUDE_SESSION.read_text().splitlines()
    session = tmp_path / "session.jsonl"
    session.write_text("\n".join([claude[0], long_json, *claude[1:]]) + "\n")
    return {
        "litellm": (jsonl, 2, len(long_json) + 1),
        "focus": (focus, 3, len(focus.read_bytes().split(b"\n")[2]) + 1),  # after the header; CRLF
        "claude_code": (session, 2, len(long_json) + 1),
    }


def test_an_over_long_line_is_quarantined_in_bounded_memory(tmp_path: Path) -> None:
    """Before: each line was read whole (a 300 MB line in a small .gz took about 1 GB). Now the
    line is read and dropped in 1 MiB pieces and quarantined with its number and length."""
    cfg = {"max_line_bytes": 65536}  # records of the Claude Code fixture are up to ~3 KB
    for name, (path, line, size) in _long_line_files(tmp_path).items():
        ingest([path], lake=tmp_path / f"warm-{name}", config=cfg)  # imports and caches first
        tracemalloc.start()
        res = ingest([path], lake=tmp_path / f"lake-{name}", config=cfg)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert [f.source for f in res.files] == [name if name != "litellm" else "litellm_spendlogs"]
        assert not res.failed and res.rows_written > 0, res.files
        assert peak < 4 << 20, f"{name}: Python peak {peak / 2**20:.1f} MiB for a {BIG >> 20} MiB line"
        unit = "bytes" if name == "claude_code" else "characters"  # the byte reader counts bytes
        reasons = dict(quarantine(tmp_path / f"lake-{name}"))
        # (a JSONL source may put its own prefix first: "invalid JSON: line too long: ...")
        assert reasons[str(line)].endswith(
            f"line too long: {size:,} {unit}, past 65,536 (ingest.max_line_bytes in costlab.toml); not read"
        ), (name, reasons)


def test_the_line_limit_reaches_parser_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTLAB_INGEST_WORKERS", "2")  # forces worker processes on small input
    files = _long_line_files(tmp_path)
    res = ingest([p for p, _, _ in files.values()], lake=tmp_path / "lake", config={"max_line_bytes": 65536})
    assert not res.failed and res.rows_quarantined == 3
    got = Workspace(tmp_path / "lake").rows("SELECT source_format, location, reason FROM quarantine ORDER BY 1")
    assert [(fmt, loc) for fmt, loc, _ in got] == [("claude_code", "2"), ("focus", "3"), ("litellm_spendlogs", "2")]
    assert all("line too long" in why for _, _, why in got)


def test_an_over_long_first_line_is_passed_over_in_bounded_memory(tmp_path: Path) -> None:
    """Sniff.first_line read the whole first line (for a JSONL record longer than the 256 KiB
    head); past the limit it now drops it in pieces and the next line is the first."""
    from costlab.ingest.base import Sniff

    claude = CLAUDE_SESSION.read_text()
    f = tmp_path / "session.jsonl"
    f.write_text('{"pad": "' + "x" * BIG + '"}\n' + claude)
    with u.line_limit(65536):
        tracemalloc.start()
        first = Sniff(f).first_line
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert first == claude.split("\n", 1)[0] + "\n"
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB"
    # named, the file ingests: the long line is quarantined, the session's calls land
    res = ingest([f], lake=tmp_path / "lake", source="claude_code", config={"max_line_bytes": 65536})
    assert res.rows_written > 0 and res.rows_quarantined == 1
    assert quarantine(tmp_path / "lake")[0] == (
        "1", f"line too long: {BIG + 12:,} bytes, past 65,536 (ingest.max_line_bytes in costlab.toml); not read"
    )


# -- every error is one line --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (ZeroDivisionError("division by zero"), "Error: internal error: ZeroDivisionError: division by zero "
         "(set COSTLAB_DEBUG=1 for a traceback, and please report it)"),
        (KeyError("workflow"), "Error: internal error: KeyError: 'workflow' "
         "(set COSTLAB_DEBUG=1 for a traceback, and please report it)"),
        (PermissionError(13, "Permission denied", "/data/lake/_manifest.json"),
         "Error: /data/lake/_manifest.json: Permission denied"),
        (MemoryError(), "Error: out of memory; free memory or narrow the command (e.g. a shorter --since)"),
    ],
    ids=["ZeroDivisionError", "KeyError", "PermissionError", "MemoryError"],
)  # fmt: skip
def test_any_exception_in_a_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception, line: str
) -> None:
    """Before: only CostlabError was caught; anything else printed a traceback."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    import costlab.money.focus_export
    import costlab.report.build

    monkeypatch.setattr(costlab.report.build, "build_report", boom)
    monkeypatch.setattr(costlab.money.focus_export, "export_focus", boom)
    for args in (["report"], ["export", "focus", "-o", str(tmp_path / "x.csv")]):  # the sub-app too
        code, out, err = run(*args, "--lake", str(tmp_path / "lake"))
        assert (code, err) == (1, line + "\n"), args
        assert "Traceback" not in out + err


def test_a_traceback_only_with_costlab_debug() -> None:
    code = (
        "import costlab.report.build as b\n"
        "def boom(*a, **k): raise ZeroDivisionError('division by zero')\n"
        "b.build_report = boom\n"
        "from costlab.cli import main\nmain()\n"
    )
    plain = subprocess.run([sys.executable, "-c", code, "report"], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.splitlines() == [
        "Error: internal error: ZeroDivisionError: division by zero "
        "(set COSTLAB_DEBUG=1 for a traceback, and please report it)"
    ]
    debug = subprocess.run(
        [sys.executable, "-c", code, "report"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "COSTLAB_DEBUG": "1"},
    )  # fmt: skip
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ZeroDivisionError" in debug.stderr


def test_usage_errors_and_exits_keep_their_codes(tmp_path: Path) -> None:
    code, _, err = run("report", "--format", "pdf", "--lake", str(tmp_path / "lake"))
    assert code == 2 and "Usage:" in err  # typer's own usage error, as before
    code, _, _ = run("version")
    assert code == 0


def test_a_closed_pipe_ends_quietly(demo_lake: Path) -> None:
    """`costlab sql ... | head -1`: no 'Exception ignored' or traceback when the reader leaves."""
    lake = str(demo_lake)
    proc = subprocess.Popen(
        [sys.executable, "-m", "costlab", "sql", "select * from range(200000)", "--lake", lake, "-f", "csv"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"range"
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
