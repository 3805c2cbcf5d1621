"""Budgets, anomalies and exit codes (costlab.money.alerts) over constructed daily series whose numbers
are worked out by hand in the comments, plus queries/daily_cost_by_scope.sql over constructed
spans and over a lake of the real trace samples."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab import attribution, schema
from costlab.errors import CostlabError
from costlab.money import alerts
from costlab.money.alerts import (
    EXIT_ANOMALY,
    EXIT_BUDGET,
    Alert,
    Budget,
    budget_warnings,
    check_budgets,
    detect_anomalies,
    exit_code,
    fmt_money,
    parse_budget_option,
    parse_budgets,
)
from costlab.pricing import PriceBook, add_price_tables
from costlab.sql import load_sql
from costlab.views import create_call_views
from costlab.workspace import Workspace

FIX = Path(__file__).resolve().parent / "fixtures"
D = Decimal


def day(text: str) -> date:
    return date.fromisoformat(text)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def frame(rows: list[tuple[str, str | None, str, str, Any]]) -> pl.DataFrame:
    """(scope, name, day, currency, cost) rows as the query returns them (cost DECIMAL(38,12))."""
    return pl.DataFrame(
        {
            "scope": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "day": [day(r[2]) for r in rows],
            "currency": [r[3] for r in rows],
            "cost": [D(str(r[4])) for r in rows],
        },
        schema={"scope": pl.String, "name": pl.String, "day": pl.Date, "currency": pl.String,
                "cost": pl.Decimal(38, 12)},  # fmt: skip
    )


def series(name: str, start: str, values: list[Any], scope: str = "workflow", currency: str = "USD") -> list[tuple[str, str | None, str, str, Any]]:
    """One row per day from ``start``; a None value leaves the day out (no calls that day)."""
    d0 = day(start)
    return [(scope, name, (d0 + timedelta(days=i)).isoformat(), currency, v)
            for i, v in enumerate(values) if v is not None]  # fmt: skip


# -- budgets --------------------------------------------------------------------------------------

OCT = (utc("2026-10-01"), utc("2026-11-01"))


def test_budget_message_and_numbers() -> None:
    # 400.00 + 512.40 + 400.00 = 1,312.40 in October; over 1,200 by 112.40; 1312.40/1200 = 109.37%
    daily = frame(series("support-chat", "2026-10-05", [400, "512.40", 400]))
    got = check_budgets(daily, [Budget("workflow", "support-chat", D(1200))], *OCT)
    assert got == [Alert("budget", "workflow", "support-chat", "2026-10", "USD", D("1312.40"), D(1200), None,
                         "BUDGET workflow support-chat: $1,312.40 spent in 2026-10, over its $1,200.00 "
                         "monthly budget by $112.40 (109%)")]  # fmt: skip
    assert exit_code(got) == EXIT_BUDGET


def test_spend_equal_to_budget_is_not_a_breach() -> None:
    # 400 + 500 + 300 = 1,200 == the budget: within it. One cent more (1,200.01) is over by $0.01.
    exact = frame(series("support-chat", "2026-10-05", [400, 500, 300]))
    assert check_budgets(exact, [Budget("workflow", "support-chat", D(1200))], *OCT) == []
    over = frame(series("support-chat", "2026-10-05", [400, 500, "300.01"]))
    (a,) = check_budgets(over, [Budget("workflow", "support-chat", D(1200))], *OCT)
    assert a.amount == D("1200.01")
    assert a.message.endswith("over its $1,200.00 monthly budget by $0.01 (100%)")


def test_budget_never_compares_another_currency() -> None:
    # 500 USD against a 100 EUR budget: not comparable, no alert (and a warning says why);
    # 150 EUR against it: over by 50 (150%).
    usd = frame(series("support-chat", "2026-10-05", [500]))
    eur_budget = Budget("workflow", "support-chat", D(100), "EUR")
    assert check_budgets(usd, [eur_budget], *OCT) == []
    assert budget_warnings(usd, [eur_budget]) == [
        "budget workflow support-chat (EUR): its spend is in USD, never converted to EUR; it cannot fire"
    ]
    both = frame(series("support-chat", "2026-10-05", [500]) + series("support-chat", "2026-10-06", [150], currency="EUR"))
    (a,) = check_budgets(both, [eur_budget], *OCT)
    assert (a.currency, a.amount) == ("EUR", D(150))
    assert a.message == ("BUDGET workflow support-chat: €150.00 spent in 2026-10, over its €100.00 monthly "
                         "budget by €50.00 (150%)")  # fmt: skip


def test_months_are_calendar_months_in_utc() -> None:
    # Sept: 700 (09-20) + 800 (09-30) = 1,500 > 1,000; Oct: 800 (10-01) + 100 (10-14) = 900 <= 1,000.
    # The period 09-15..10-15 overlaps both months; only September is over.
    daily = frame(series("x", "2026-09-20", [700]) + series("x", "2026-09-30", [800, 800])
                  + series("x", "2026-10-14", [100]))  # fmt: skip
    got = check_budgets(daily, [Budget("workflow", "x", D(1000))], utc("2026-09-15"), utc("2026-10-15"))
    assert [(a.period, a.amount) for a in got if a.kind == "budget"] == [("2026-09", D(1500))]


def test_month_to_date_counts_days_before_since() -> None:
    # --since 2026-10-20 on a cron run: the October budget still sees 10-01..10-19 (600 + 600)
    # plus 10-20 (100) = 1,300 > 1,000; the data ends 10-20, so the month is partial ("so far")
    # and the linear forecast is 1,300 / 20 days x 31 days = 2,015.
    daily = frame(series("total", "2026-10-01", [600]) + series("total", "2026-10-19", [600, 100]))
    daily = daily.with_columns(pl.lit("total").alias("scope"), pl.lit(None, pl.String).alias("name"))
    (a,) = check_budgets(daily, [Budget("total", None, D(1000))], utc("2026-10-20"), None)
    assert a.message == ("BUDGET total: $1,300.00 spent in 2026-10 so far, over its $1,000.00 monthly "
                         "budget by $300.00 (130%); month-end forecast $2,015.00")  # fmt: skip


def test_forecast_is_a_warning_that_does_not_fail() -> None:
    # 10 days at 50 = 500 <= 1,200, until 10-11 (10 of 31 days): 500 / 10 x 31 = 1,550 > 1,200.
    daily = frame(series("support-chat", "2026-10-01", [50] * 10))
    (a,) = check_budgets(daily, [Budget("workflow", "support-chat", D(1200))], utc("2026-10-01"), utc("2026-10-11"))
    assert (a.kind, a.amount, a.threshold, a.baseline) == ("forecast", D(500), D(1200), D(1550))
    assert a.message == ("FORECAST workflow support-chat: $500.00 spent in 2026-10 so far (10 of 31 days), "
                         "on track to exceed its $1,200.00 monthly budget: month-end forecast "
                         "$1,550.00 (129%)")  # fmt: skip
    assert exit_code([a]) == 0
    # a 1,600 budget is not on track to be exceeded (1,550 <= 1,600)
    assert check_budgets(daily, [Budget("workflow", "support-chat", D(1600))], utc("2026-10-01"), utc("2026-10-11")) == []
    # two days in (100 so far, forecast 1,550) is too early to warn
    two = frame(series("support-chat", "2026-10-01", [50, 50]))
    assert check_budgets(two, [Budget("workflow", "support-chat", D(1200))], utc("2026-10-01"), utc("2026-10-03")) == []


def test_daily_budget_checks_each_day_of_the_period() -> None:
    # 300/day: 10-20 at 300 exactly is within; 10-21 at 412.10 is over by 112.10 (137.37% -> 137%);
    # 10-22 at 500 is outside [10-20, 10-22).
    daily = frame(series("ops", "2026-10-20", [300, "412.10", 500], scope="team"))
    got = check_budgets(daily, [Budget("team", "ops", D(300), period="day")], utc("2026-10-20"), utc("2026-10-22"))
    assert [a.message for a in got] == [
        "BUDGET team ops: $412.10 spent on 2026-10-21, over its $300.00 daily budget by $112.10 (137%)"
    ]


def test_budget_for_a_misspelt_name_is_reported() -> None:
    daily = frame(series("support-chat", "2026-10-05", [10]) + series("triage", "2026-10-05", [10]))
    assert budget_warnings(daily, [Budget("workflow", "suport-chat", D(5))]) == [
        "budget workflow suport-chat (USD): no spend in the data (known workflows: support-chat, triage); it cannot fire"
    ]


# -- anomalies ------------------------------------------------------------------------------------


def test_brief_example_flat_series_with_one_spike() -> None:
    # 20 days at 95.80, 10-21 at 412.10, 9 more at 95.80. History of 10-21: 14 x 95.80 -> median
    # 95.80, MAD 0; threshold 95.80 + max(0, 1.0 x 95.80, 1) = 191.60 < 412.10; 412.10 / 95.80 =
    # 4.30 -> "4.3x". After it the spike is one of 14 history values: the median stays 95.80.
    values: list[Any] = ["95.80"] * 20 + ["412.10"] + ["95.80"] * 9
    daily = frame(series("ticket-triage", "2026-10-01", values))
    got = detect_anomalies(daily, utc("2026-10-01"), utc("2026-11-01"))
    assert got == [Alert("anomaly", "workflow", "ticket-triage", "2026-10-21", "USD", D("412.10"), D("191.60"),
                         D("95.80"), "ANOMALY workflow ticket-triage on 2026-10-21: $412.10, 4.3x its "
                         "14-day median of $95.80")]  # fmt: skip
    assert exit_code(got) == EXIT_ANOMALY


def test_rows_fetched_from_duckdb_give_the_same_alerts_as_the_frame() -> None:
    """The report passes `DailyRows` (columns in the query's order, any order works) instead of
    a polars frame; budgets, forecasts, anomalies and warnings must not change."""
    values: list[Any] = ["95.80"] * 20 + ["412.10"] + ["95.80"] * 9
    daily = frame(series("ticket-triage", "2026-10-01", values) + series("x", "2026-10-01", ["1"], currency="EUR"))
    order = ("cost", "currency", "day", "name", "scope")
    rows = alerts.DailyRows(order, [tuple(r[c] for c in order) for r in daily.iter_rows(named=True)])
    budgets = [Budget("workflow", "ticket-triage", D("3000"), "USD"), Budget("workflow", "x", D("5"), "USD")]
    for got, want in [
        (detect_anomalies(rows, *OCT), detect_anomalies(daily, *OCT)),
        (check_budgets(rows, budgets, *OCT), check_budgets(daily, budgets, *OCT)),
        (alerts.budget_warnings(rows, budgets), alerts.budget_warnings(daily, budgets)),
    ]:
        assert got == want and got
    with pytest.raises(CostlabError, match="missing column"):
        detect_anomalies(alerts.DailyRows(("scope",), []), *OCT)


def test_mad_term_threshold_exactly() -> None:
    # History alternating 60 / 140 (7 each): median (60 + 140) / 2 = 100; every |x - 100| = 40 ->
    # MAD 40; k x 1.4826 x MAD = 5 x 1.4826 x 40 = 296.52 > 1.0 x 100 -> threshold 396.52.
    # (Only 10-15 is in the period: earlier days of this bimodal history are not the point.)
    history: list[Any] = [60, 140] * 7
    at = frame(series("w", "2026-10-01", [*history, "396.52"]))
    assert detect_anomalies(at, utc("2026-10-15"), None) == []  # equal to the threshold: not above
    above = frame(series("w", "2026-10-01", [*history, "396.53"]))
    (a,) = detect_anomalies(above, utc("2026-10-15"), None)
    assert (a.period, a.threshold, a.baseline) == ("2026-10-15", D("396.52"), D(100))


def test_rel_and_abs_floors() -> None:
    # Flat 100: MAD 0, so the floor min_rel x median = 100 decides: threshold 200. 200 is not an
    # anomaly, 200.01 is; with min_rel 0.5 the threshold is 150 and 160 is one.
    flat: list[Any] = [100] * 14
    assert detect_anomalies(frame(series("w", "2026-10-01", [*flat, 200])), None, None) == []
    assert len(detect_anomalies(frame(series("w", "2026-10-01", [*flat, "200.01"])), None, None)) == 1
    assert len(detect_anomalies(frame(series("w", "2026-10-01", [*flat, 160])), None, None, min_rel=0.5)) == 1
    # Flat 0.30: threshold 0.30 + max(0, 0.30, min_abs 1) = 1.30: 1.00 (3.3x, but 70 cents) is not
    # reported, 1.31 is.
    cents: list[Any] = ["0.30"] * 14
    assert detect_anomalies(frame(series("w", "2026-10-01", [*cents, "1.00"])), None, None) == []
    (a,) = detect_anomalies(frame(series("w", "2026-10-01", [*cents, "1.31"])), None, None)
    assert a.threshold == D("1.30")
    assert a.message == "ANOMALY workflow w on 2026-10-15: $1.31, 4.4x its 14-day median of $0.30"


def test_short_history_is_not_judged() -> None:
    # The series starts 10-01. 10-07 has 6 prior days (< min_history 7): no alert however high;
    # 10-08 has 7: judged against a 7-day median of 100 (threshold 200).
    six = frame(series("w", "2026-10-01", [100] * 6 + [1000]))
    assert detect_anomalies(six, None, None) == []
    seven = frame(series("w", "2026-10-01", [100] * 7 + [1000]))
    (a,) = detect_anomalies(seven, None, None)
    assert a.message == "ANOMALY workflow w on 2026-10-08: $1,000.00, 10.0x its 7-day median of $100.00"


def test_only_days_in_the_period_are_reported_but_history_reaches_back() -> None:
    # 20 days at 100 from 09-20, spike of 900 on 10-10 (day 21), then 100 again.
    daily = frame(series("w", "2026-09-20", [100] * 20 + [900] + [100] * 5))
    assert detect_anomalies(daily, utc("2026-10-11"), None) == []  # spike before since
    assert detect_anomalies(daily, None, utc("2026-10-10")) == []  # until is exclusive
    # since = the spike day: its 14-day history (09-26..10-09) lies wholly before since
    (a,) = detect_anomalies(daily, utc("2026-10-10"), utc("2026-10-11"))
    assert (a.period, a.baseline) == ("2026-10-10", D(100))


def test_missing_days_inside_a_series_count_as_zero() -> None:
    # 10-01..10-14 with 3 days without calls (10-03, 10-08, 10-12): history for 10-15 is 11 x 100
    # and 3 x 0 -> median 100, deviations 11 x 0 and 3 x 100 -> MAD 0; threshold 200, 250 alerts.
    vals: list[Any] = [100, 100, None, 100, 100, 100, 100, None, 100, 100, 100, None, 100, 100, 250]
    (a,) = detect_anomalies(frame(series("w", "2026-10-01", vals)), None, None)
    assert (a.period, a.baseline, a.threshold) == ("2026-10-15", D(100), D(200))
    # An idle series (4 active days of 14: median 0) has no typical day: not judged.
    idle: list[Any] = [100] * 4 + [None] * 10 + [150]
    assert detect_anomalies(frame(series("w", "2026-10-01", idle)), None, None) == []


def test_series_are_per_scope_name_and_currency() -> None:
    # The USD series is flat at 100; a EUR series of the same workflow has 14 days at 10 then 30
    # (threshold 10 + max(0, 10, 1) = 20 < 30): only the EUR day alerts, in euros.
    daily = frame(series("w", "2026-10-01", [100] * 15) + series("w", "2026-10-01", [10] * 14 + [30], currency="EUR"))
    (a,) = detect_anomalies(daily, None, None)
    assert a.message == "ANOMALY workflow w on 2026-10-15: €30.00, 3.0x its 14-day median of €10.00"


@settings(max_examples=200, deadline=None)
@given(
    level=st.integers(100, 1_000_000),  # cents: $1.00 .. $10,000.00
    pcts=st.lists(st.integers(70, 130), min_size=30, max_size=45),
    spike_at=st.integers(7, 29),
)
def test_noise_never_alerts_and_a_4x_day_always_does(level: int, pcts: list[int], spike_at: int) -> None:
    # Any values within +-30% of a level b: the median is >= 0.7b, so the threshold is >= 2 x
    # 0.7b = 1.4b > 1.3b (min_rel 1 floor): no alert, whatever the noise.
    b = D(level) / 100
    values = [b * p / 100 for p in pcts]
    assert detect_anomalies(frame(series("w", "2026-01-01", values)), None, None) == []
    # A day at 4b: the median is <= 1.3b and the MAD <= 0.3b (half the values lie on one side of
    # the median, within 0.6b of it), so the threshold is <= 1.3b + max(5 x 1.4826 x 0.3b, 1.3b, 1)
    # = 3.52b < 4b (b >= 1): exactly one alert, since later days see a median >= 0.7b again.
    spiked = values[:spike_at] + [4 * b] + values[spike_at + 1 :]
    got = detect_anomalies(frame(series("w", "2026-01-01", spiked)), None, None)
    assert [a.period for a in got] == [(day("2026-01-01") + timedelta(days=spike_at)).isoformat()]


# -- exit codes -----------------------------------------------------------------------------------


def _alert(kind: str) -> Alert:
    return Alert(kind, "total", None, "2026-10", "USD", D(1), D(1), None, kind)


def test_exit_codes() -> None:
    assert (EXIT_BUDGET, EXIT_ANOMALY) == (3, 4)
    assert exit_code([]) == 0
    assert exit_code([_alert("anomaly")]) == EXIT_ANOMALY
    assert exit_code([_alert("anomaly"), _alert("budget")]) == EXIT_BUDGET  # budget wins
    assert exit_code([_alert("forecast")]) == 0
    assert exit_code([_alert("anomaly"), _alert("budget")], alerts.parse_fail_on("anomaly")) == EXIT_ANOMALY
    assert exit_code([_alert("anomaly"), _alert("budget")], alerts.parse_fail_on("none")) == 0
    # --fail-on text passed as it is: "budget" is one kind, not the letters b, u, d, g, e, t
    # (read as letters it matched no kind and a cron job over budget exited 0)
    assert exit_code([_alert("budget")], "budget") == EXIT_BUDGET
    assert exit_code([_alert("anomaly"), _alert("budget")], "anomaly") == EXIT_ANOMALY
    assert exit_code([_alert("budget")], "none") == 0
    assert alerts.parse_fail_on(["budget", "anomaly"]) == alerts.parse_fail_on("all") == alerts.DEFAULT_FAIL_ON
    with pytest.raises(CostlabError, match="unknown kind forecast; use budget, anomaly"):
        alerts.parse_fail_on("budget,forecast")


# -- configuration --------------------------------------------------------------------------------

TOML = """
[budgets]
total = 5000
currency = "USD"
[budgets.workflow]
"support-chat" = 1200
"ticket-triage" = { amount = 40, period = "day" }
"eu-bot" = ["900 EUR", 1000.5]
[budgets.team]
support = "2000 EUR/month"
"""


def test_parse_budgets_from_toml() -> None:
    assert parse_budgets(tomllib.loads(TOML)) == [
        Budget("total", None, D(5000)),
        Budget("workflow", "support-chat", D(1200)),
        Budget("workflow", "ticket-triage", D(40), period="day"),
        Budget("workflow", "eu-bot", D(900), "EUR"),
        Budget("workflow", "eu-bot", D("1000.5")),
        Budget("team", "support", D(2000), "EUR"),
    ]
    assert parse_budgets({}) == []
    eur = parse_budgets(tomllib.loads('[budgets]\ncurrency = "eur"\nperiod = "day"\ntotal = 10'))
    assert eur == [Budget("total", None, D(10), "EUR", "day")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[budgets]\nweekly = 5", "costlab.toml [budgets]: unknown key 'weekly'; expected total, currency"),
        ("[budgets]\ntotal = -5", "[budgets] total: budget -5 must be a number >= 0"),
        ("[budgets]\ntotal = true", "[budgets] total: cannot read True as a budget; use an amount like 1200"),
        ("[budgets.workflow]\nx = 'lots'", "[budgets.workflow] 'x': cannot read 'lots' as a budget amount"),
        ("[budgets.workflow]\nx = '5/week'", "[budgets.workflow] 'x': unknown budget period 'week'; use month or day"),
        ("[budgets.team]\nx = { amount = 5, curency = 'EUR' }", "[budgets.team] 'x': unknown key 'curency'"),
        ("[budgets]\ncurrency = 'dollars'\ntotal = 5", "[budgets] currency: 'dollars' is not a currency code"),
        ("[budgets]\nworkflow = 5", "costlab.toml [budgets] workflow: must be a table of name = amount"),
        ("[budgets.workflow]\nx = [5, 6]", "two month USD budgets for workflow x; keep one per currency and period"),
    ],
)
def test_bad_budgets_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(CostlabError) as ex:
        parse_budgets(tomllib.loads(text))
    assert message in str(ex.value) and "\n" not in str(ex.value)


def test_budget_option() -> None:
    assert parse_budget_option("workflow:support-chat=1200") == Budget("workflow", "support-chat", D(1200))
    assert parse_budget_option("total=5000") == Budget("total", None, D(5000))
    assert parse_budget_option("team:ops=300EUR") == Budget("team", "ops", D(300), "EUR")
    assert parse_budget_option("team:ops = 300 eur/day") == Budget("team", "ops", D(300), "EUR", "day")
    assert parse_budget_option("workflow:a:b=$1,200.50") == Budget("workflow", "a:b", D("1200.50"))
    for bad, msg in [
        ("5000", "--budget '5000': expected SCOPE[:NAME]=AMOUNT; use total=5000, workflow:NAME=1200"),
        ("user:x=5", "--budget 'user:x=5': unknown scope 'user'"),
        ("workflow=5", "--budget 'workflow=5': workflow needs a name"),
        ("total:x=5", "--budget 'total:x=5': total takes no name"),
        ("total=five", "--budget 'total=five': cannot read 'five' as a budget amount; use total=5000"),
        ("total=$5EUR", "$ and EUR disagree"),
    ]:
        with pytest.raises(CostlabError, match=None) as ex:
            parse_budget_option(bad)
        assert msg in str(ex.value), (bad, str(ex.value))


def test_cli_budgets_replace_config_ones() -> None:
    cfg = [Budget("total", None, D(5000)), Budget("workflow", "a", D(10))]
    cli = [parse_budget_option("workflow:a=20"), parse_budget_option("workflow:a=3/day")]
    assert alerts.merge_budgets(cfg, cli) == [Budget("total", None, D(5000)), Budget("workflow", "a", D(20)),
                                              Budget("workflow", "a", D(3), period="day")]  # fmt: skip


def test_anomaly_settings() -> None:
    assert alerts.anomaly_settings({}) == {"window": 14, "min_history": 7, "k": 5.0, "min_abs": D(1), "min_rel": 1.0}
    got = alerts.anomaly_settings(tomllib.loads("[anomaly]\nwindow = 28\nk = 4\nmin_abs = 0.5")["anomaly"])
    assert (got["window"], got["k"], got["min_abs"]) == (28, 4.0, D("0.5"))
    assert alerts.parse_anomaly_option("min_history=3") == ("min_history", 3)
    for section, msg in [
        ({"windw": 3}, "[anomaly] windw: unknown anomaly option; use one of window, min_history, k"),
        ({"window": 0}, "[anomaly] window: 0 is not a whole number of days >= 1"),
        ({"k": "high"}, "[anomaly] k: 'high' is not a number >= 0"),
        ({"window": 5}, "min_history (7) exceeds window (5)"),
    ]:
        with pytest.raises(CostlabError) as ex:
            alerts.anomaly_settings(section)
        assert msg in str(ex.value)
    with pytest.raises(CostlabError, match="--anomaly 'k': expected KEY=VALUE"):
        alerts.parse_anomaly_option("k")


def test_history_start() -> None:
    # mid-month: the month start (10-01) is earlier than since - 14 days (10-06)
    assert alerts.history_start(utc("2026-10-20"), 14) == utc("2026-10-01")
    # early in the month: since - 14 days (09-19) is earlier
    assert alerts.history_start(utc("2026-10-03"), 14) == utc("2026-09-19")
    assert alerts.history_start(None) is None


def test_money_format() -> None:
    assert fmt_money(D("1312.4"), "USD") == "$1,312.40"
    assert fmt_money(D("0.0042"), "USD") == "$0.0042"  # under a cent: two significant digits
    # the tables' rule: half-up to the cent (0.4906 was $0.4906 in alerts, 0.49 in the report)
    assert fmt_money(D("0.4906"), "USD") == "$0.49" and fmt_money(D("0.125"), "USD") == "$0.13"
    assert fmt_money(D("0.5"), "GBP") == "£0.50"
    assert fmt_money(D("1200"), "CHF") == "1,200.00 CHF"


def test_missing_columns_is_a_clear_error() -> None:
    with pytest.raises(CostlabError, match="daily cost frame: missing column"):
        detect_anomalies(pl.DataFrame({"day": [date(2026, 1, 1)]}), None, None)


# -- the query --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook(None)


def _calls(book: PriceBook, rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """``spans`` holding ``rows`` (unknown models, so each call's cost is its reported cost),
    with the price tables and the ``calls`` view."""
    cols = schema.TABLES["spans"] + schema.TABLE_PARTITIONS["spans"]
    full = []
    for i, r in enumerate(rows):
        base: dict[str, Any] = {"trace_id": "t", "span_id": f"s{i}", "span_kind": "llm", "usage_scope": "self",
                                "usage_source": "reported", "source_format": "test", "source_line": i,
                                "model": "no-such-model", "input_tokens": 1, "output_tokens": 1,
                                "reported_cost_currency": "USD"}  # fmt: skip
        base.update(r)
        full.append(base)
    table = pa.table({n: pa.array([r.get(n) for r in full], type=schema.arrow_type(t)) for n, t in cols})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_in", table)
    con.execute("CREATE TABLE spans AS SELECT * FROM _in")
    add_price_tables(con, book)
    create_call_views(con)
    charges = ", ".join(f'"{n}" {t}' for n, t in schema.TABLES["charges"] + schema.TABLE_PARTITIONS["charges"])
    con.execute(f"CREATE TABLE charges ({charges})")  # empty: attribution.register views it too
    attribution.add_attributed_views(con)  # calls_attributed: team = tags['team'] by default
    return con


def test_query_over_constructed_calls(book: PriceBook) -> None:
    con = _calls(book, [
        # 2026-09-30 23:30 -02:00 is 10-01 01:30 UTC: an October day
        {"start_time": datetime.fromisoformat("2026-09-30T23:30:00-02:00"), "workflow": "chat",
         "reported_cost": D("1.25"), "tags": {"team": "support"}},
        {"start_time": utc("2026-10-01T10:00"), "workflow": "chat", "reported_cost": D("0.75"),
         "tags": {"team": "support"}},
        {"start_time": utc("2026-10-01T11:00"), "workflow": None, "reported_cost": D("2")},  # no team
        {"start_time": utc("2026-10-01T12:00"), "workflow": "chat", "reported_cost": None},  # unpriced
        {"start_time": utc("2026-10-02T00:00"), "workflow": "chat", "reported_cost": D("3"),
         "reported_cost_currency": "EUR", "tags": {"team": "support"}},
        {"start_time": utc("2026-10-03T00:00"), "workflow": "chat", "reported_cost": D("9")},  # >= until
    ])  # fmt: skip
    df = con.sql(load_sql("daily_cost_by_scope"), params={"since": utc("2026-10-01"), "until": utc("2026-10-03")}).pl()
    assert df.schema["cost"] == pl.Decimal(38, 12)
    # order: scope, name, currency, day. 10-01 USD: total 1.25 + 0.75 + 2 = 4.00 (the unpriced call is left out, not 0);
    # chat 1.25 + 0.75 = 2.00; (none) 2; team support 2.00 (the untagged call has no team row).
    assert [tuple(r) for r in df.iter_rows()] == [
        ("team", "support", day("2026-10-02"), "EUR", D(3)),
        ("team", "support", day("2026-10-01"), "USD", D(2)),
        ("total", None, day("2026-10-02"), "EUR", D(3)),
        ("total", None, day("2026-10-01"), "USD", D(4)),
        ("workflow", "(none)", day("2026-10-01"), "USD", D(2)),
        ("workflow", "chat", day("2026-10-02"), "EUR", D(3)),
        ("workflow", "chat", day("2026-10-01"), "USD", D(2)),
    ]
    (a,) = check_budgets(df, [parse_budget_option("team:support=1.99")], utc("2026-10-01"), utc("2026-11-01"))
    assert a.message == "BUDGET team support: $2.00 spent in 2026-10, over its $1.99 monthly budget by $0.01 (101%)"


def test_team_follows_the_attribution_rules(book: PriceBook) -> None:
    # [attribution.teams] maps workflow "chat" to team "support": its untagged 2.50 counts for
    # that team, as in cost_by_team; the tagged call keeps its tag's team "ops" (1.00).
    con = _calls(book, [
        {"start_time": utc("2026-10-01T10:00"), "workflow": "chat", "reported_cost": D("2.50")},
        {"start_time": utc("2026-10-01T11:00"), "workflow": "chat", "reported_cost": D("1"),
         "tags": {"Team": "ops"}},
    ])  # fmt: skip
    attribution.add_attributed_views(con, attribution.AttributionRules(teams={"chat": "support"}))
    df = con.sql(load_sql("daily_cost_by_scope"), params={"since": None, "until": None}).pl()
    teams = df.filter(pl.col("scope") == "team")
    assert [(r[1], r[4]) for r in teams.iter_rows()] == [("ops", D(1)), ("support", D("2.50"))]


def test_query_over_a_lake_of_real_trace_samples(tmp_path: Path) -> None:
    import costlab
    from costlab.lake import Lake

    lake = Lake(tmp_path / "lake")
    costlab.ingest([FIX / "claude_code" / "records", FIX / "langsmith" / "real", FIX / "langfuse" / "real"], lake=lake)
    with Workspace(lake).connect() as con:
        attribution.add_attributed_views(con)
        df = con.sql(load_sql("daily_cost_by_scope"), params={"since": None, "until": None}).pl()
    expect = Workspace(lake).rows(
        "SELECT CAST(timezone('UTC', start_time) AS DATE) AS d, cost_currency, sum(cost), count(*) FROM calls "
        "WHERE cost IS NOT NULL GROUP BY ALL ORDER BY 1, 2"
    )
    assert expect, "the samples have priced calls"
    total = df.filter(pl.col("scope") == "total").sort("day", "currency")
    # the total series is the priced calls summed per UTC day, and each scope adds up to it
    assert [(r[2], r[3], r[4]) for r in total.iter_rows()] == [(d, c, s) for d, c, s, _ in expect]
    by_scope = df.group_by("scope", "currency").agg(pl.col("cost").sum()).sort("scope", "currency")
    wf = by_scope.filter(pl.col("scope") == "workflow")["cost"].to_list()
    assert wf == by_scope.filter(pl.col("scope") == "total")["cost"].to_list()
    # every budget over the real data behaves: a budget of the whole traced spend minus a cent
    # breaches by exactly one cent
    cur, spent = expect[0][1], sum(s for _, c, s, _ in expect if c == expect[0][1])
    month = expect[0][0].replace(day=1)
    in_month = sum(s for d, c, s, _ in expect if c == cur and d.replace(day=1) == month)
    b = Budget("total", None, in_month - D("0.01"), cur)
    got = [a for a in check_budgets(df, [b], month, None) if a.period == month.strftime("%Y-%m")]
    assert len(got) == 1 and got[0].amount - got[0].threshold == D("0.01") and spent >= in_month
