"""The report's own named queries on hand-made rows: input rows in, expected rows out.

The views `calls` and `charges` are stood in for by small tables with just the columns each query
reads, so every expected number below is arithmetic on the rows written here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import duckdb
import pytest

from costlab.sql import load_sql


def ts(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    c.execute("SET TimeZone = 'UTC'")
    c.execute("""
        CREATE TABLE calls (workflow VARCHAR, trace_id VARCHAR, start_time TIMESTAMPTZ, provider VARCHAR,
            model VARCHAR, price_model VARCHAR, usage_source VARCHAR, service_tier VARCHAR,
            input_tokens BIGINT, cache_read_tokens BIGINT, cache_write_tokens BIGINT,
            output_tokens BIGINT, reasoning_tokens BIGINT, cost DECIMAL(38,12), cost_currency VARCHAR,
            cost_source VARCHAR)""")
    rows = [
        # workflow, trace, time, provider, model, price_model, usage_source, tier, in, read, write, out, reasoning, cost, cur, source
        ("chat", "t1", ts(1), "openai", "gpt-4o", "gpt-4o", "reported", None, 1000, 0, 0, 100, None, D("0.010"), "USD", "computed"),
        ("chat", "t1", ts(1), "openai", "gpt-4o", "gpt-4o", "reported", None, 2000, 0, 0, 100, None, D("0.020"), "USD", "computed"),
        ("chat", "t2", ts(9), "openai", "gpt-4o", "gpt-4o", "reported", None, 3000, 0, 0, 100, None, D("0.030"), "USD", "computed"),
        ("digest", "t3", ts(2), "anthropic", "claude-x", None, "reported", None, 500, 0, 0, 50, None, None, None, "unpriced"),
        ("digest", "t4", ts(9), "anthropic", "claude-haiku", "claude-haiku", "reported", None, 800, 0, 0, 80, None, D("0.004"), "USD", "computed"),
        ("digest", "t5", ts(10), "anthropic", "claude-haiku", "claude-haiku", "missing", None, None, None, None, None, None, None, None, "unpriced"),
        (None, "t6", ts(10), "openai", "gpt-4o", "gpt-4o", "reported", None, 100, 0, 0, 10, None, D("0.001"), "USD", "computed"),
    ]
    c.executemany("INSERT INTO calls VALUES (" + ", ".join("?" * 16) + ")", rows)
    c.execute("CREATE TABLE _calls AS SELECT *, 1 AS n_calls, CAST(trace_id IS NULL AS BIGINT) AS n_untraced, CAST(0 AS BIGINT) AS n_sessions, "
              "input_tokens AS max_input_tokens, start_time AS last_start_time FROM calls")
    c.execute("DROP TABLE calls")
    c.execute("ALTER TABLE _calls RENAME TO calls")
    c.execute("CREATE VIEW call_marks AS SELECT * FROM calls WHERE false")  # as costlab.attribution makes it
    c.execute("""CREATE TABLE charges (charge_period_start TIMESTAMPTZ, service_provider_name VARCHAR,
            host_provider_name VARCHAR, billing_currency VARCHAR, billed_cost DECIMAL(38,12),
            effective_cost DECIMAL(38,12))""")
    c.executemany("INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?)", [
        (ts(1, 0), "OpenAI", None, "USD", D("1.50"), D("1.50")),
        (ts(1, 6), "OpenAI", None, "USD", D("0.25"), None),
        (ts(2, 0), None, "AWS", "EUR", D("-0.10"), D("-0.10")),
        (ts(31, 0), "OpenAI", None, "USD", D("9"), D("9")),
    ])
    c.execute("CREATE TABLE metrics (day DATE, metric VARCHAR, value DECIMAL(38,12), workflow VARCHAR)")
    c.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", [
        (date(2026, 10, 1), "tickets", D(4), "chat"),
        (date(2026, 10, 9), "tickets", D(6), "chat"),
        (date(2026, 10, 9), "users", D(2), None),
    ])
    return c


def run(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    sql = load_sql(name)
    cur = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_spend_by_day_groups_by_utc_day_provider_currency(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "spend_by_day", since=ts(1, 0), until=ts(31, 0))  # the Oct 31 line is excluded
    assert rows == [
        # 1.50 + 0.25; the effective cost of the second line is unknown, so the sum is the known part
        {"day": date(2026, 10, 1), "provider": "OpenAI", "currency": "USD", "billed_cost": D("1.75"), "effective_cost": D("1.50")},
        # no service provider: the host provider names it; EUR stays apart from USD
        {"day": date(2026, 10, 2), "provider": "AWS", "currency": "EUR", "billed_cost": D("-0.10"), "effective_cost": D("-0.10")},
    ]


def test_traced_by_day_counts_unpriced_without_costing_them(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "traced_by_day", since=None, until=None)
    by_key = {(r["day"].day, r["currency"]): (r["cost"], r["calls"], r["unpriced_calls"]) for r in rows}
    assert by_key == {
        (1, "USD"): (D("0.030"), 2, 0),        # 0.010 + 0.020
        (2, None): (None, 1, 1),               # the unpriced claude-x call: no cost, not 0
        (9, "USD"): (D("0.034"), 2, 0),        # 0.030 + 0.004
        (10, "USD"): (D("0.001"), 1, 0),
        (10, None): (None, 1, 1),
    }


def test_unpriced_calls_name_the_reason(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "unpriced_calls", since=None, until=None)
    assert [(r["provider"], r["model"], r["reason"], r["calls"], r["input_tokens"]) for r in rows] == [
        ("anthropic", "claude-haiku", "no usage", 1, None),   # usage_source missing
        ("anthropic", "claude-x", "no price", 1, 500),         # no price model
    ]


def test_top_movers_compare_equal_windows(con: duckdb.DuckDBPyConnection) -> None:
    # previous = [Oct 1, Oct 8), current = [Oct 8, Oct 15)
    rows = run(con, "top_movers", prev_start=ts(1, 0), cur_start=ts(8, 0), cur_end=ts(15, 0))
    assert [(r["workflow"], r["previous"], r["current"], r["change"], r["change_pct"]) for r in rows] == [
        # largest absolute change first
        ("digest", D("0"), D("0.004"), D("0.004"), None),          # new spend: no percentage
        ("(none)", D("0"), D("0.001"), D("0.001"), None),
        ("chat", D("0.030"), D("0.030"), D("0"), D("0.0")),          # 0.030 -> 0.030
    ]


def test_unit_costs_per_run_call_and_metric(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "unit_costs", since=None, until=None)
    got = {(r["metric"], r["workflow"]): (r["units"], r["cost"], r["cost_per_unit"], r["unpriced_calls"]) for r in rows}
    # chat: 2 runs (t1, t2), 3 priced calls, cost 0.060 -> 0.03 per run, 0.02 per call
    assert got[("(per run)", "chat")] == (D(2), D("0.060"), D("0.030000"), 0)
    assert got[("(per call)", "chat")] == (D(3), D("0.060"), D("0.020000"), 0)
    # digest: its unpriced calls count in its currency (USD) but add no cost: 3 runs, 1 priced call
    assert got[("(per run)", "digest")] == (D(3), D("0.004"), D("0.001333"), 2)
    assert got[("(per call)", "digest")] == (D(1), D("0.004"), D("0.004000"), 2)
    # tickets (chat, days 1 and 9): chat's cost on those days = 0.030 + 0.030 over 4 + 6 tickets
    assert got[("tickets", "chat")] == (D(10), D("0.060"), D("0.006000"), 0)
    # users (all workflows, day 9 only): 0.030 + 0.004 over 2 users
    assert got[("users", "(all)")] == (D(2), D("0.034"), D("0.017000"), 0)
