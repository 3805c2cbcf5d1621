"""Attribution and allocation: constructed charges and calls in, hand-computed rows out.

Most tests build the two input relations (``charges`` and ``calls``, the same columns the lake
views have) in an in-memory DuckDB and run the real SQL; one runs the whole path through the lake
with constructed FOCUS and LiteLLM files (tests/fixtures/allocation).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from costlab import schema
from costlab.attribution import AttributionRules, add_attributed_views
from costlab.errors import CostlabError
from costlab.money.allocation import AllocationSettings, allocate, check
from costlab.sql import load_sql
from costlab.workspace import Workspace

FIX = Path(__file__).resolve().parent / "fixtures" / "allocation"
D = Decimal
JUNE = date(2025, 6, 1)

CHARGE_COLS = schema.TABLES["charges"] + schema.TABLE_PARTITIONS["charges"]
CALL_COLS = (
    schema.TABLES["spans"]
    + schema.TABLE_PARTITIONS["spans"]
    + [("cost", schema.MONEY), ("cost_currency", "VARCHAR"), ("cost_source", "VARCHAR")]
)
#: What a row of `calls` holds for the call it stands for (views/calls.sql: one call).
ONE_CALL = (
    "CAST(1 AS BIGINT) AS n_calls, CAST(trace_id IS NULL AS BIGINT) AS n_untraced, CAST(0 AS BIGINT) AS n_sessions, "
    "input_tokens AS max_input_tokens, start_time AS last_start_time"
)


def _at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _arrow(cols: list[tuple[str, str]], rows: list[dict[str, Any]]) -> pa.Table:
    def value(name: str, r: dict[str, Any]) -> Any:
        v = r.get(name)
        return list(v.items()) if isinstance(v, dict) else v

    return pa.table(
        {n: pa.array([value(n, r) for r in rows], type=schema.arrow_type(t)) for n, t in cols}
    )


def charge(amount: str, day: str = "2025-06-04", **kw: Any) -> dict[str, Any]:
    """A billed line; ``kind='tokens'`` marks token lines (compute_kind)."""
    row = {"billed_cost": D(amount), "billing_currency": "USD", "charge_period_start": _at(day)}
    if "kind" in kw:
        row["compute_kind"] = kw.pop("kind")
    row.update(kw)
    return row


def call(
    workflow: str | None, cost: str | None, day: str = "2025-06-04", **kw: Any
) -> dict[str, Any]:
    """A traced billable call (the `calls` view's columns)."""
    row = {
        "workflow": workflow,
        "cost": None if cost is None else D(cost),
        "cost_currency": None if cost is None else "USD",
        "cost_source": "unpriced" if cost is None else "reported",
        "start_time": _at(day, kw.pop("hour", 12)),
        "span_kind": "llm",
        "usage_scope": "self",
        "model": "m",
    }
    row.update(kw)
    return row


def connect(
    charges: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    rules: AttributionRules | None = None,
) -> duckdb.DuckDBPyConnection:
    """In-memory tables ``charges`` and ``calls`` with the attribution views registered."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_charges", _arrow(CHARGE_COLS, charges))
    con.register("_calls", _arrow(CALL_COLS, calls))
    con.execute("CREATE TABLE charges AS SELECT * FROM _charges")
    con.execute(f"CREATE TABLE calls AS SELECT *, {ONE_CALL} FROM _calls")
    add_attributed_views(con, rules or AttributionRules())
    return con


def run(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[tuple[Any, ...]]:
    sql = load_sql(name)
    given = {"since": None, "until": None, "grain": "month", "policy": "proportional",
             "token_policy": "traced", **params}  # fmt: skip
    return con.execute(sql, {k: v for k, v in given.items() if f"${k}" in sql}).fetchall()


def alloc(con: duckdb.DuckDBPyConnection, **params: Any) -> list[tuple[Any, ...]]:
    rows = run(con, "allocation", **params)
    diffs = run(con, "allocation_check", **params)
    assert all(r[-1] == 0 for r in diffs), diffs  # conservation holds in every test
    return rows


# -- attribution keys ----------------------------------------------------------------------


def test_charge_workflow_precedence_and_team() -> None:
    rules = AttributionRules(
        projects={"p1": "proj-wf", "acct-9": "acct-wf"},
        teams={"proj-wf": "platform", "own": "core"},
    )
    con = connect(
        [
            charge("1", workflow="own", tags={"workflow": "tagged"}, row_key="a"),
            # tag_keys order is workflow, costlab.workflow, app: costlab.workflow beats app
            charge("1", tags={"User:App": "app-wf", "costlab.workflow": "cl-wf"}, row_key="b"),
            # AWS prefixes are ignored, keys compare lower-case
            charge("1", tags={"resourceTags/user:App": "app-wf", "Team": "data"}, row_key="c"),
            # a blank tag is no tag: the project map applies, then the team map
            charge(
                "1", tags={"workflow": "  "}, project_id="p1", sub_account_id="acct-9", row_key="d"
            ),
            charge("1", sub_account_id="acct-9", row_key="e"),
            charge("1", row_key="f"),
        ],
        [],
        rules,
    )
    got = con.execute(
        "SELECT row_key, alloc_workflow, alloc_source, team, period_day FROM charges_attributed ORDER BY row_key"
    ).fetchall()
    day = date(2025, 6, 4)
    assert got == [
        ("a", "own", "charge", "core", day),
        ("b", "cl-wf", "tag", None, day),
        ("c", "app-wf", "tag", "data", day),
        ("d", "proj-wf", "project", "platform", day),
        ("e", "acct-wf", "sub_account", None, day),
        ("f", None, None, None, day),
    ]


def test_call_team_from_tag_then_map() -> None:
    con = connect([], [call("a", "1", tags={"team": "red"}), call("b", "1"), call("c", "1")],
                  AttributionRules(teams={"b": "blue"}))  # fmt: skip
    got = con.execute("SELECT workflow, team FROM calls_attributed ORDER BY workflow").fetchall()
    assert got == [("a", "red"), ("b", "blue"), ("c", None)]


def test_rules_from_config() -> None:
    r = AttributionRules.from_config(
        {
            "attribution": {
                "tag_keys": ["App"],
                "projects": {"proj_1": "bot"},
                "teams": {"bot": "cx"},
            }
        }
    )
    assert r.tag_keys == ("App",) and r.team_tag_keys == ("team",)
    assert ("tag_key", "app", "0") in r.rows() and ("project", "proj_1", "bot") in r.rows()
    assert AttributionRules.from_config({}) == AttributionRules()
    for bad in ({"tag_keys": "x", "colour": 1}, {"tag_keys": [1]}, {"projects": {"a": 2}}):
        with pytest.raises(CostlabError, match=r"\[attribution"):
            AttributionRules.from_config({"attribution": bad})


# -- token lines --------------------------------------------------------------------------

HAIKU_BILL = [
    charge("0.05", kind="tokens", model="claude-3-5-haiku", token_type="input_uncached"),
    charge("0.02", kind="tokens", model="claude-3-5-haiku", token_type="output"),
]
HAIKU_CALLS = [
    call("nightly-etl", "0.012", model="claude-3-5-haiku-20241022"),
    call("nightly-etl", "0.012", model="claude-3-5-haiku-20241022"),
    call("support-bot", "0.012", model="claude-3-5-haiku-20241022"),
    call(None, "0.012", model="claude-3-5-haiku-20241022"),
]


def test_tokens_traced_fit() -> None:
    # pool 0.05 + 0.02 = 0.07; traced 0.024 + 0.012 + 0.012 (no workflow) = 0.048 <= 0.07:
    # each workflow gets its traced cost, the call without a workflow keeps its 0.012
    # unattributed, and 0.07 - 0.048 = 0.022 is untraced.
    con = connect(HAIKU_BILL, HAIKU_CALLS)
    assert alloc(con) == [
        (JUNE, "USD", "nightly-etl", "tokens", "traced", D("0.024")),
        (JUNE, "USD", "support-bot", "tokens", "traced", D("0.012")),
        (JUNE, "USD", "unattributed", "tokens", "untraced", D("0.022")),
        (JUNE, "USD", "unattributed", "tokens", "workflow_unknown", D("0.012")),
    ]


def test_tokens_proportional() -> None:
    # whole pool 0.07 by traced shares 0.024 : 0.012 : 0.012 = 1/2 : 1/4 : 1/4
    con = connect(HAIKU_BILL, HAIKU_CALLS)
    assert alloc(con, token_policy="proportional") == [
        (JUNE, "USD", "nightly-etl", "tokens", "proportional", D("0.035")),
        (JUNE, "USD", "support-bot", "tokens", "proportional", D("0.0175")),
        (JUNE, "USD", "unattributed", "tokens", "workflow_unknown", D("0.0175")),
    ]


def test_tokens_traced_scaled_down() -> None:
    # traced 0.03 + 0.01 = 0.04 > pool 0.03: scaled by 0.03 / 0.04 -> 0.0225 and 0.0075
    con = connect(
        [charge("0.03", kind="tokens", model="m")], [call("a", "0.03"), call("b", "0.01")]
    )
    assert alloc(con) == [
        (JUNE, "USD", "a", "tokens", "traced", D("0.0225")),
        (JUNE, "USD", "b", "tokens", "traced", D("0.0075")),
    ]


def test_token_credit_pool_traced() -> None:
    # a net credit of -0.02 on model m, traced 0.01: the workflow gets -0.01, -0.01 stays
    con = connect([charge("0.05", kind="tokens", model="m"),
                   charge("-0.07", kind="tokens", model="m", charge_category="Credit")],
                  [call("a", "0.01")])  # fmt: skip
    assert alloc(con) == [
        (JUNE, "USD", "a", "tokens", "traced", D("-0.01")),
        (JUNE, "USD", "unattributed", "tokens", "untraced", D("-0.01")),
    ]


def test_model_names_meet_across_bills_and_traces() -> None:
    # each pool has one traced workflow whose cost fits: it receives exactly its traced cost
    bill = [
        charge("1", kind="tokens", model="claude-3-5-sonnet"),  # CUR usage type Claude3.5Sonnet
        charge("1", kind="tokens", model="claude-sonnet-4-6"),  # CUR Claude4.6Sonnet
        charge("1", kind="tokens", model="gpt-4o-2024-08-06"),  # Azure meter gpt-4o-0806
        charge("1", kind="tokens", model="titanembedtextv2"),  # CUR TitanEmbedTextV2
        charge("1", kind="tokens", model="gpt-4o-mini"),  # no trace: a different model
    ]
    calls = [
        call("w1", "0.1", model="claude-3-5-sonnet-20240620"),  # normalised Bedrock id
        call("w2", "0.2", model="claude-sonnet-4-6"),
        call("w3", "0.3", model="gpt-4o"),
        call("w4", "0.4", model="amazon.titan-embed-text-v2:0"),
    ]
    got = alloc(connect(bill, calls))
    assert got == [
        (JUNE, "USD", "w1", "tokens", "traced", D("0.1")),
        (JUNE, "USD", "w2", "tokens", "traced", D("0.2")),
        (JUNE, "USD", "w3", "tokens", "traced", D("0.3")),
        (JUNE, "USD", "w4", "tokens", "traced", D("0.4")),
        # 5 - 1.0 traced; gpt-4o-mini's whole 1 is part of it
        (JUNE, "USD", "unattributed", "tokens", "untraced", D("4.0")),
    ]


def test_untraced_by_currency_and_no_model() -> None:
    # EUR bill vs USD traces never meet; a token line without a model cannot be matched
    con = connect(
        [charge("2", kind="tokens", model="m", billing_currency="EUR"),
         charge("3", kind="tokens", token_type="output")],
        [call("a", "1")],
    )  # fmt: skip
    assert alloc(con) == [
        (JUNE, "EUR", "unattributed", "tokens", "untraced", D("2")),
        (JUNE, "USD", "unattributed", "tokens", "no_model", D("3")),
    ]


# -- non-token lines ----------------------------------------------------------------------

MIXED_BILL = [
    charge("3", kind="tokens", model="m", tags={"workflow": "x"}),
    charge("1", kind="tokens", model="m", tags={"app": "y"}),
    charge("2", kind="storage"),
    charge("0.1"),  # the source did not say what kind: 'unknown'
    charge("-0.4", kind="gpu_hours", charge_category="Credit"),
    charge("7", kind="gpu_hours", tags={"workflow": "x"}),
]


def test_non_token_proportional() -> None:
    # token money x = 3, y = 1 (both tagged): storage 2 -> 1.5 / 0.5, unknown 0.1 -> 0.075 /
    # 0.025, the gpu credit -0.4 -> -0.3 / -0.1; the tagged gpu line 7 goes to x
    con = connect(MIXED_BILL, [call("x", "1"), call("y", "1"), call("z", "1")])
    assert alloc(con) == [
        (JUNE, "USD", "x", "gpu_hours", "proportional", D("-0.3")),
        (JUNE, "USD", "x", "gpu_hours", "tag", D("7")),
        (JUNE, "USD", "x", "storage", "proportional", D("1.5")),
        (JUNE, "USD", "x", "tokens", "tag", D("3")),
        (JUNE, "USD", "x", "unknown", "proportional", D("0.075")),
        (JUNE, "USD", "y", "gpu_hours", "proportional", D("-0.1")),
        (JUNE, "USD", "y", "storage", "proportional", D("0.5")),
        (JUNE, "USD", "y", "tokens", "tag", D("1")),
        (JUNE, "USD", "y", "unknown", "proportional", D("0.025")),
    ]


def test_non_token_even_with_rounding_remainder() -> None:
    # three workflows have calls in June: 2 / 3 = 0.666666666667 (rounded), 0.1 / 3 and
    # -0.4 / 3 likewise; each pool's remainder goes to its largest share, ties by name: x
    # storage: 0.666666666667 x 3 = 2.000000000001 -> x gets 0.666666666666
    # unknown: 0.033333333333 x 3 = 0.099999999999 -> x gets 0.033333333334
    # credit: -0.133333333333 x 3 = -0.399999999999 -> x gets -0.133333333334
    con = connect(MIXED_BILL, [call("x", "1"), call("y", "1"), call("z", None)])
    got = {(r[2], r[3]): r[5] for r in alloc(con, policy="even") if r[4] == "even"}
    assert got == {
        ("x", "gpu_hours"): D("-0.133333333334"),
        ("y", "gpu_hours"): D("-0.133333333333"),
        ("z", "gpu_hours"): D("-0.133333333333"),
        ("x", "storage"): D("0.666666666666"),
        ("y", "storage"): D("0.666666666667"),
        ("z", "storage"): D("0.666666666667"),
        ("x", "unknown"): D("0.033333333334"),
        ("y", "unknown"): D("0.033333333333"),
        ("z", "unknown"): D("0.033333333333"),
    }


@pytest.mark.parametrize("policy", ["tag", "none"])
def test_non_token_tag_only(policy: str) -> None:
    con = connect(MIXED_BILL, [call("x", "1")])
    assert alloc(con, policy=policy) == [
        (JUNE, "USD", "x", "gpu_hours", "tag", D("7")),
        (JUNE, "USD", "x", "tokens", "tag", D("3")),
        (JUNE, "USD", "y", "tokens", "tag", D("1")),
        (JUNE, "USD", "unattributed", "gpu_hours", "no_policy", D("-0.4")),
        (JUNE, "USD", "unattributed", "storage", "no_policy", D("2")),
        (JUNE, "USD", "unattributed", "unknown", "no_policy", D("0.1")),
    ]


def test_non_token_without_workflows_stays_unattributed() -> None:
    # EUR storage: no EUR token money (proportional); no calls at all in July (even)
    con = connect([charge("5", kind="storage", billing_currency="EUR"),
                   charge("4", kind="egress", day="2025-07-02")], [call("a", "1")])  # fmt: skip
    july = date(2025, 7, 1)
    assert alloc(con) == [
        (JUNE, "EUR", "unattributed", "storage", "no_workflows", D("5")),
        (july, "USD", "unattributed", "egress", "no_workflows", D("4")),
    ]
    assert alloc(con, policy="even") == [
        (JUNE, "EUR", "a", "storage", "even", D("5")),
        (july, "USD", "unattributed", "egress", "no_workflows", D("4")),
    ]


def test_grain_day_and_range() -> None:
    bill = [charge("1", kind="tokens", model="m", day="2025-06-01"),
            charge("1", kind="tokens", model="m", day="2025-06-02"),
            charge("9", kind="tokens", model="m", day="2025-05-31")]  # fmt: skip
    calls = [call("a", "0.4", day="2025-06-01"), call("b", "0.5", day="2025-06-02"),
             call("c", "0.5", day="2025-05-31")]  # fmt: skip
    con = connect(bill, calls)
    d1, d2 = date(2025, 6, 1), date(2025, 6, 2)
    since = _at("2025-06-01")
    assert alloc(con, grain="day", since=since) == [
        (d1, "USD", "a", "tokens", "traced", D("0.4")),
        (d1, "USD", "unattributed", "tokens", "untraced", D("0.6")),
        (d2, "USD", "b", "tokens", "traced", D("0.5")),
        (d2, "USD", "unattributed", "tokens", "untraced", D("0.5")),
    ]
    # a June month pool of 2 with 0.9 traced; May is outside the range
    assert alloc(con, since=since, until=_at("2025-07-01")) == [
        (JUNE, "USD", "a", "tokens", "traced", D("0.4")),
        (JUNE, "USD", "b", "tokens", "traced", D("0.5")),
        (JUNE, "USD", "unattributed", "tokens", "untraced", D("1.1")),
    ]


def test_check_columns_and_totals() -> None:
    con = connect(MIXED_BILL + HAIKU_BILL, HAIKU_CALLS)
    rows = run(con, "allocation_check", policy="even")
    # billed 3 + 1 + 2 + 0.1 - 0.4 + 7 + 0.05 + 0.02 = 12.77; attributed = the tagged 11 + the
    # haiku workflows' 0.036; nobody called in June besides the haiku workflows, so 'even'
    # splits storage, unknown and credit (1.7) over nightly-etl and support-bot
    assert rows == [(JUNE, "USD", D("12.77"), D("12.736"), D("0.034"), D("0"))]


# -- options --------------------------------------------------------------------------------


def test_settings_validation() -> None:
    assert AllocationSettings.from_config({"allocation": {"policy": "even", "grain": "day"}}) == (
        AllocationSettings(policy="even", token_policy="traced", grain="day")
    )
    assert (
        AllocationSettings.from_config({"allocation": {"policy": "even"}}, policy="tag").policy
        == "tag"
    )
    with pytest.raises(CostlabError, match="proportional, even, tag, none"):
        AllocationSettings(policy="weird")
    with pytest.raises(CostlabError, match="traced, proportional"):
        AllocationSettings.from_config({"allocation": {"tokens": "all"}})
    with pytest.raises(CostlabError, match="month, day"):
        AllocationSettings(grain="week")


# -- through the lake -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    path = tmp_path_factory.mktemp("alloc") / "lake"
    ingest([FIX], lake=path)
    return Lake(path)


def test_lake_allocation_end_to_end(lake: Any) -> None:
    # bill (focus_bill.csv): haiku tokens 0.05 + 0.02, gpu 10 tagged rag-search, storage 3,
    # credit -1. Traces (spend_logs.jsonl): 4 Bedrock haiku calls of 10,000 in / 1,000 out,
    # priced by genai-prices at $0.80 / $4 per million: 0.008 + 0.004 = 0.012 each.
    rules = AttributionRules(teams={"support-bot": "customer-care"})
    got = allocate(lake, grain="month", policy="proportional", token_policy="traced", rules=rules)
    rows = [tuple(r) for r in got.iter_rows()]
    assert got.columns == ["period", "currency", "workflow", "compute_kind", "basis", "amount"]
    # token money nightly-etl 0.024, support-bot 0.012 (2 : 1): storage 3 -> 2 / 1, the credit
    # (compute_kind other) -1 -> -0.666666666667 / -0.333333333333
    assert rows == [
        (JUNE, "USD", "nightly-etl", "other", "proportional", D("-0.666666666667")),
        (JUNE, "USD", "nightly-etl", "storage", "proportional", D("2")),
        (JUNE, "USD", "nightly-etl", "tokens", "traced", D("0.024")),
        (JUNE, "USD", "rag-search", "gpu_hours", "tag", D("10")),
        (JUNE, "USD", "support-bot", "other", "proportional", D("-0.333333333333")),
        (JUNE, "USD", "support-bot", "storage", "proportional", D("1")),
        (JUNE, "USD", "support-bot", "tokens", "traced", D("0.012")),
        (JUNE, "USD", "unattributed", "tokens", "untraced", D("0.022")),
        (JUNE, "USD", "unattributed", "tokens", "workflow_unknown", D("0.012")),
    ]
    chk = check(lake, policy="proportional", token_policy="traced", grain="month", rules=rules)
    # billed 0.05 + 0.02 + 10 + 3 - 1 = 12.07; unattributed 0.022 + 0.012 = 0.034
    assert [tuple(r) for r in chk.iter_rows()] == [
        (JUNE, "USD", D("12.07"), D("12.036"), D("0.034"), D("0"))
    ]
    with pytest.raises(CostlabError, match="unknown allocation policy 'fair'"):
        allocate(lake, policy="fair", rules=rules)


def test_lake_cost_by_workflow_and_team(lake: Any) -> None:
    rules = AttributionRules(teams={"support-bot": "customer-care"})
    wf = Workspace(lake).query("cost_by_workflow", {}, rules=rules)
    # nightly-etl: one session/trace id etl-1, 2 calls x 0.012; support-bot 1 call; the call
    # without a workflow is its own trace (alloc-0004). Durations (endTime - startTime in
    # spend_logs.jsonl): nightly-etl 3 s and 3 s, alloc-0004 2 s, support-bot (alloc-0003) 2 s
    assert [tuple(r) for r in wf.iter_rows()] == [
        ("nightly-etl", "data", "USD", 1, 2, 20000, 2000, D("0.024"), 0, D("0.024"), D("0.012"), 3.0, 3.0),
        ("(none)", "(none)", "USD", 1, 1, 10000, 1000, D("0.012"), 0, D("0.012"), D("0.012"), 2.0, 2.0),
        ("support-bot", "customer-care", "USD", 1, 1, 10000, 1000, D("0.012"), 0, D("0.012"), D("0.012"),
         2.0, 2.0),
    ]
    team = Workspace(lake).query("cost_by_team", {"since": _at("2025-06-05")}, rules=rules)
    # from 06-05: support-bot's call and the one without a workflow (no workflow counted);
    # equal cost and calls sort by team name
    assert [tuple(r[:5]) for r in team.iter_rows()] == [
        ("(none)", "USD", 0, 1, 1),
        ("customer-care", "USD", 1, 1, 1),
    ]


# -- cost by ... ------------------------------------------------------------------------------

BY_CALLS = [
    # durations (end_time - start_time) for p50/p95: A s1 2 s and 1.5 s, A s2 4 s; B has no
    # end_time; the EUR call ends before it starts (left out)
    call("A", "0.10", day="2025-06-01", trace_id="t1", step="s1", model="m1", provider="p",
         user_id="u1", session_id="s-1", input_tokens=100, output_tokens=10, tags={"team": "red"},
         end_time=_at("2025-06-01", 12) + timedelta(seconds=2)),
    call("A", "0.20", day="2025-06-01", trace_id="t1", step="s2", model="m2", provider="p",
         user_id="u1", session_id="s-1", input_tokens=200, output_tokens=20, tags={"team": "red"},
         end_time=_at("2025-06-01", 12) + timedelta(seconds=4)),
    call("A", None, day="2025-06-02", trace_id="t2", step="s1", model="m1", provider="p",
         user_id="u1", session_id="s-1", input_tokens=50, output_tokens=5, tags={"team": "red"},
         end_time=_at("2025-06-02", 12) + timedelta(seconds=1.5)),
    call("B", "0.05", day="2025-06-02", trace_id="t3", model="m1", provider="p", user_id="u2",
         session_id="s-2", input_tokens=10, output_tokens=1),
    call(None, "0.01", day="2025-06-02", trace_id="t4", model=None, cost_currency="EUR",
         input_tokens=1, output_tokens=1, end_time=_at("2025-06-02", 11)),
]  # fmt: skip


@pytest.fixture
def by_con() -> duckdb.DuckDBPyConnection:
    return connect([], BY_CALLS, AttributionRules(teams={"B": "blue"}))


def test_cost_by_workflow(by_con: duckdb.DuckDBPyConnection) -> None:
    # A: runs t1, t2; 3 calls; 350 / 35 tokens; 0.10 + 0.20 = 0.30 with one unpriced call,
    # which joins A's only currency; cost per run unknown (a run is short), per priced call 0.15.
    # Latency of A over [1.5, 2, 4] s (quantile_cont interpolates at (n - 1) * q): p50 = 2,
    # p95 at 1.9 = 2 + 0.9 * (4 - 2) = 3.8; B and the EUR row have no usable duration: NULL
    assert run(by_con, "cost_by_workflow") == [
        ("A", "red", "USD", 2, 3, 350, 35, D("0.30"), 1, None, D("0.15"), 2.0, pytest.approx(3.8)),
        ("B", "blue", "USD", 1, 1, 10, 1, D("0.05"), 0, D("0.05"), D("0.05"), None, None),
        ("(none)", "(none)", "EUR", 1, 1, 1, 1, D("0.01"), 0, D("0.01"), D("0.01"), None, None),
    ]


def test_cost_by_step_and_model(by_con: duckdb.DuckDBPyConnection) -> None:
    # A s1 over [1.5, 2] s: p50 = 1.75, p95 = 1.5 + 0.95 * 0.5 = 1.975; A s2 one call of 4 s
    assert run(by_con, "cost_by_step") == [
        ("A", "s2", "m2", "USD", 1, 200, 20, D("0.20"), 0, D("0.20"), 4.0, 4.0),
        ("A", "s1", "m1", "USD", 2, 150, 15, D("0.10"), 1, D("0.10"), 1.75, pytest.approx(1.975)),
        ("B", "(none)", "m1", "USD", 1, 10, 1, D("0.05"), 0, D("0.05"), None, None),
        ("(none)", "(none)", "(none)", "EUR", 1, 1, 1, D("0.01"), 0, D("0.01"), None, None),
    ]
    # m1: 0.10 + 0.05 over 2 priced calls = 0.075
    assert run(by_con, "cost_by_model") == [
        ("p", "m2", "USD", 1, 200, 20, D("0.20"), 0, D("0.20")),
        ("p", "m1", "USD", 3, 160, 16, D("0.15"), 1, D("0.075")),
        ("(none)", "(none)", "EUR", 1, 1, 1, D("0.01"), 0, D("0.01")),
    ]


def test_cost_by_team_user_session(by_con: duckdb.DuckDBPyConnection) -> None:
    assert run(by_con, "cost_by_team") == [
        ("red", "USD", 1, 2, 3, 350, 35, D("0.30"), 1, None, D("0.15")),
        ("blue", "USD", 1, 1, 1, 10, 1, D("0.05"), 0, D("0.05"), D("0.05")),
        ("(none)", "EUR", 0, 1, 1, 1, 1, D("0.01"), 0, D("0.01"), D("0.01")),
    ]
    assert run(by_con, "cost_by_user") == [
        ("u1", "USD", 1, 2, 3, 350, 35, D("0.30"), 1, None, D("0.15")),
        ("u2", "USD", 1, 1, 1, 10, 1, D("0.05"), 0, D("0.05"), D("0.05")),
        ("(none)", "EUR", 0, 1, 1, 1, 1, D("0.01"), 0, D("0.01"), D("0.01")),
    ]
    sessions = run(by_con, "cost_by_session")
    assert [r[:6] + r[8:] for r in sessions] == [
        ("s-1", "u1", "USD", 1, 2, 3, 350, 35, D("0.30"), 1, None),
        ("s-2", "u2", "USD", 1, 1, 1, 10, 1, D("0.05"), 0, D("0.05")),
        ("(none)", "(none)", "EUR", 0, 1, 1, 1, 1, D("0.01"), 0, D("0.01")),
    ]
    assert sessions[0][6:8] == (_at("2025-06-01", 12), _at("2025-06-02", 12))


def test_cost_by_day(by_con: duckdb.DuckDBPyConnection) -> None:
    d1, d2 = date(2025, 6, 1), date(2025, 6, 2)
    # on 06-02 A has only an unpriced call: no currency, no cost, counted
    assert run(by_con, "cost_by_day") == [
        (d1, "A", "USD", D("0.30"), 2, 0, 300, 30),
        (d2, "(none)", "EUR", D("0.01"), 1, 0, 1, 1),
        (d2, "A", None, None, 1, 1, 50, 5),
        (d2, "B", "USD", D("0.05"), 1, 0, 10, 1),
    ]
    assert [r[:2] for r in run(by_con, "cost_by_day", since=_at("2025-06-02"))] == [
        (d2, "(none)"), (d2, "A"), (d2, "B")
    ]  # fmt: skip
