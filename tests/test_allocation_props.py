"""Conservation, property-tested: for random bills (several currencies and days, credits, every
compute kind, tagged and untagged lines) and random traces, under every policy and grain,
attributed + unattributed equals the bill exactly for every period and currency, and a second
run gives identical rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_allocation import CALL_COLS, CHARGE_COLS, ONE_CALL, _arrow, call, charge, connect, run

from costlab.money.allocation import GRAINS, POLICIES, TOKEN_POLICIES

DAYS = ["2025-06-01", "2025-06-02", "2025-07-01"]  # few: pools and traces must meet
CURRENCIES = ["USD", "USD", "USD", "EUR", "JPY"]
WORKFLOWS = [None, "a", "b", "c"]
UNATTRIBUTED_BASES = ("untraced", "no_model", "no_workflows", "no_policy", "workflow_unknown")
# bills and traces name one model differently (CUR vs Bedrock id); m2 is never traced
BILL_MODELS = [None, "m1", "m1", "m2", "claude-3-5-sonnet", "claude-3-5-sonnet"]
TRACE_MODELS = [None, "m1", "claude-3-5-sonnet-20240620"]

# money with up to 12 decimals, both signs, from tiny to large
money = st.builds(
    lambda units, scale: Decimal(units).scaleb(-scale),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.integers(min_value=0, max_value=12),
)


@st.composite
def charge_rows(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["tokens", "tokens", "tokens", "storage", "gpu_hours", "egress", None])
    )
    wf = draw(st.sampled_from([None, None, *WORKFLOWS]))
    how = draw(st.sampled_from(["column", "tag", "app_tag"]))
    extra: dict[str, Any] = {}
    if wf is not None:
        extra = (
            {"workflow": wf}
            if how == "column"
            else {"tags": {"workflow" if how == "tag" else "App": wf}}
        )
    amount = draw(st.one_of(money, st.none())) if draw(st.booleans()) else draw(money)
    row = charge("0", day=draw(st.sampled_from(DAYS)), kind=kind,
                 billing_currency=draw(st.sampled_from(CURRENCIES)),
                 model=draw(st.sampled_from(BILL_MODELS)) if kind == "tokens" else None,
                 token_type=draw(st.sampled_from([None, "output"])) if kind == "tokens" else None,
                 **extra)  # fmt: skip
    row["billed_cost"] = amount
    return row


@st.composite
def call_rows(draw: st.DrawFn) -> dict[str, Any]:
    cost = None if draw(st.integers(0, 3)) == 0 else draw(money.map(abs))
    row = call(draw(st.sampled_from(["a", "b", "c", None])), None, day=draw(st.sampled_from(DAYS)),
               model=draw(st.sampled_from(TRACE_MODELS)), hour=draw(st.integers(0, 23)))  # fmt: skip
    if cost is not None:
        row.update(
            cost=cost,
            cost_currency=draw(st.sampled_from(["USD", "USD", "USD", "EUR"])),
            cost_source="computed",
        )
    return row


def _period(day: str, grain: str) -> date:
    d = date.fromisoformat(day)
    return d if grain == "day" else d.replace(day=1)


_CON: list[duckdb.DuckDBPyConnection] = []


def _load(charges: list[dict[str, Any]], calls: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """One connection for every example (connecting is the slow part); the tables are refilled."""
    if not _CON:
        _CON.append(connect([], []))
    con = _CON[0]
    for name, cols, rows in (("charges", CHARGE_COLS, charges), ("calls", CALL_COLS, calls)):
        con.register("_rows", _arrow(cols, rows))
        con.execute(f"DELETE FROM {name}")
        con.execute(f"INSERT INTO {name} SELECT *{', ' + ONE_CALL if name == 'calls' else ''} FROM _rows")
        con.unregister("_rows")
    return con


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(charge_rows(), min_size=6, max_size=30),
    st.lists(call_rows(), min_size=6, max_size=30),
    st.sampled_from(GRAINS),
    st.sampled_from(POLICIES),
    st.sampled_from(TOKEN_POLICIES),
)
def test_attributed_plus_unattributed_is_the_bill(
    charges: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    grain: str,
    policy: str,
    token_policy: str,
) -> None:
    con = _load(charges, calls)
    # the bill per period and currency, summed here in Python with Decimal
    billed: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for c in charges:
        if c["billed_cost"] is not None:
            day = c["charge_period_start"].date().isoformat()
            billed[(_period(day, grain), c["billing_currency"])] += c["billed_cost"]
    want = {k: v for k, v in billed.items() if v != 0}
    p = {"grain": grain, "policy": policy, "token_policy": token_policy}
    rows = run(con, "allocation", **p)
    assert rows == run(con, "allocation", **p)  # deterministic
    for basis in sorted({r[4] for r in rows}):
        event(f"basis {basis}")  # --hypothesis-show-statistics: which rules the examples reach
    got: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for period, currency, workflow, _kind, basis, amount in rows:
        assert amount == amount.quantize(Decimal("1e-12"))
        assert (workflow == "unattributed") == (basis in UNATTRIBUTED_BASES)
        got[(period, currency)] += amount
    assert {k: v for k, v in got.items() if v != 0} == want
    checks = run(con, "allocation_check", **p)
    assert all(r[-1] == 0 for r in checks), checks
    assert {(r[0], r[1]): r[2] for r in checks if r[2] != 0} == want


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(money, st.sampled_from(DAYS)), min_size=1, max_size=8),
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), money.map(abs), st.sampled_from(DAYS)),
             min_size=1, max_size=12),
    st.sampled_from(GRAINS),
    st.sampled_from(TOKEN_POLICIES),
)  # fmt: skip
def test_token_pools_split_exactly(
    bill: list[tuple[Decimal, str]],
    traces: list[tuple[str | None, Decimal, str]],
    grain: str,
    token_policy: str,
) -> None:
    """Dense case: untagged token lines of one model and priced traces of it, so every pool meets
    its traces and is split (scaled shares, rounding remainders)."""
    charges = [charge(str(a), day=d, kind="tokens", model="claude-3-5-sonnet") for a, d in bill]
    calls = [call(w, str(c), day=d, model="claude-3-5-sonnet-20240620") for w, c, d in traces]
    con = _load(charges, calls)
    want: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for a, d in bill:
        want[(_period(d, grain), "USD")] += a
    rows = run(con, "allocation", grain=grain, policy="even", token_policy=token_policy)
    got: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for period, currency, *_, amount in rows:
        got[(period, currency)] += amount
    assert {k: v for k, v in got.items() if v != 0} == {k: v for k, v in want.items() if v != 0}
