"""Explain the gap: billed - traced per currency in named causes (queries/gap_causes.sql).

A constructed lake (an Anthropic cost report, a FOCUS file and OTLP traces written here, every
amount chosen so each cause is worked out by hand), the demo month (derived from the demo's
billing files), and a property test on constructed connections: the causes plus unexplained
always equal billed - traced exactly, and billed / traced equal the independent sums.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_allocation import CALL_COLS, CHARGE_COLS, ONE_CALL, _arrow
from test_reconciliation import _kv

from costlab.attribution import AttributionRules, add_attributed_views
from costlab.ingest.run import ingest
from costlab.money.gap import CAUSE_COLUMNS, EVIDENCE_COLUMNS, explain_gap, gap_sections
from costlab.sql import load_sql
from costlab.workspace import Workspace

D = Decimal
MARCH = {"since": "2026-03-01", "until": "2026-04-01"}


# -- the constructed lake ----------------------------------------------------------------------
def _cost_report(path: Path) -> Path:
    """Anthropic cost report, one day (2026-03-10), amounts in cents. Model 'zz-1' is a made-up
    name so no price list prices the traces: their cost is the one they report."""
    def line(cents: str, token_type: str, workspace: str, window: str = "0-200k") -> dict[str, Any]:
        return {"amount": cents, "context_window": window, "cost_type": "tokens", "currency": "USD",
                "description": f"zz-1 {token_type}", "inference_geo": None, "model": "zz-1",
                "service_tier": "standard", "speed": None, "token_type": token_type,
                "workspace_id": workspace}  # fmt: skip

    results = [
        line("3000", "uncached_input_tokens", "wrkspc_prod"),  # A1 30.00 matched
        line("1200", "output_tokens", "wrkspc_prod"),  # A2 12.00 matched
        line("800", "cache_creation.ephemeral_1h_input_tokens", "wrkspc_prod"),  # A3 8.00, 1h writes
        line("500", "uncached_input_tokens", "wrkspc_sandbox"),  # A4 5.00, a workspace never traced
        line("400", "uncached_input_tokens", "wrkspc_prod", "200k-1M"),  # A5 4.00, long context
    ]
    doc = {"data": [{"starting_at": "2026-03-10T00:00:00Z", "ending_at": "2026-03-11T00:00:00Z",
                     "results": results}], "has_more": False, "next_page": None}  # fmt: skip
    path.write_text(json.dumps(doc))
    return path


FOCUS_COLS = [
    "BilledCost", "ListCost", "EffectiveCost", "BillingCurrency", "BillingAccountId", "ChargeCategory",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
    "BillingPeriodEnd", "ConsumedQuantity", "ConsumedUnit", "ServiceCategory", "ServiceName", "SkuId",
    "SkuMeter", "SkuPriceDetails", "Tags", "ServiceProviderName", "HostProviderName",
]  # fmt: skip


def _focus(path: Path) -> Path:
    """FOCUS 1.3 lines of 2026-03-10 (the Anthropic one repeats A2 of the cost report)."""
    def line(cost: str, provider: str, desc: str, *, model: str | None = None, direction: str = "Input",
             workflow: str | None = "chat", category: str = "Usage", list_cost: str | None = None,
             qty: str = "", unit: str = "", service_category: str = "AI and Machine Learning") -> dict[str, str]:
        details = json.dumps({"ModelId": model, "TokenDirection": direction}) if model else ""
        return {"BilledCost": cost, "ListCost": list_cost or cost, "EffectiveCost": cost, "BillingCurrency": "USD",
                "BillingAccountId": "acct-1", "ChargeCategory": category, "ChargeDescription": desc,
                "ChargeFrequency": "Usage-Based", "ChargePeriodStart": "2026-03-10T00:00:00Z",
                "ChargePeriodEnd": "2026-03-11T00:00:00Z", "BillingPeriodStart": "2026-03-01T00:00:00Z",
                "BillingPeriodEnd": "2026-04-01T00:00:00Z", "ConsumedQuantity": qty, "ConsumedUnit": unit,
                "ServiceCategory": service_category, "ServiceName": f"{provider} API", "SkuId": desc,
                "SkuMeter": desc, "SkuPriceDetails": details,
                "Tags": json.dumps({"workflow": workflow}) if workflow else "",
                "ServiceProviderName": provider, "HostProviderName": provider}  # fmt: skip

    rows = [
        # F1 40.00 GPU hours: not tokens
        line("40.00", "Acme", "GPU instance hour", workflow="train", qty="10", unit="Hours", service_category="Compute"),
        # F2 12.00: A2 again, from FOCUS; the Anthropic report is the preferred source
        line("12.00", "Anthropic", "zz-1 output tokens", model="zz-1", direction="Output"),
        # F3 6.00: a model no call uses
        line("6.00", "Acme", "zz-beta input tokens", model="zz-beta"),
        # F4 9.00 billed, 10.00 list: a discount of -1.00
        line("9.00", "Acme", "zz-alpha input tokens", model="zz-alpha", list_cost="10.00"),
        # F5 3.00: a model whose only call is unpriced
        line("3.00", "Acme", "zz-gamma input tokens", model="zz-gamma"),
        # F6 -2.50: a credit
        line("-2.50", "Acme", "promotional credit", workflow=None, category="Credit"),
    ]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, FOCUS_COLS)
        w.writeheader()
        w.writerows(rows)
    return path


def _traces(path: Path, calls: list[dict[str, Any]]) -> Path:
    """One OTLP/JSON batch, a root chat span per call, with its workflow and reported cost."""
    spans = []
    for i, c in enumerate(calls, 1):
        start = int(datetime(2026, 3, 10, 12, i, tzinfo=UTC).timestamp()) * 10**9
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": c["provider"],
                 "gen_ai.request.model": c["model"], "gen_ai.workflow.name": "chat",
                 "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}  # fmt: skip
        if c.get("cost"):
            attrs["gen_ai.usage.cost"] = c["cost"]
        spans.append({"traceId": f"{i:032x}", "spanId": f"{i:016x}", "parentSpanId": "", "name": "chat",
                      "kind": 3, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 10**9),
                      "attributes": _kv(attrs), "events": [], "status": {"code": 0}})  # fmt: skip
    batch = {"resourceSpans": [{"resource": {"attributes": _kv({"service.name": "gap-test"})},
                                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]}]}  # fmt: skip
    path.write_text(json.dumps(batch) + "\n")
    return path


TRACES = [
    {"provider": "anthropic", "model": "zz-1", "cost": "46.00"},  # T1 against A1-A3, A5
    {"provider": "acme", "model": "zz-alpha", "cost": "9.50"},  # T2 against F4
    {"provider": "acme", "model": "zz-gamma"},  # T3 unpriced (no price, no reported cost)
    {"provider": "acme", "model": "zz-delta", "cost": "0.75"},  # T4 no bill line: traced_not_billed
]
RULES = {"attribution": {"projects": {"wrkspc_prod": "chat", "wrkspc_sandbox": "sandbox"}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("gap")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSTLAB_HOME", str(root / "home"))
        mp.delenv("COSTLAB_CONFIG", raising=False)
        files = [_cost_report(root / "cost_report_2026-03.json"), _focus(root / "focus_2026-03.csv"),
                 _traces(root / "traces.jsonl", TRACES)]  # fmt: skip
        result = ingest(files, lake=root / "lake", config={})
        assert not result.failed, result.failed
    return Workspace(root / "lake", config=RULES)


def _by_cause(rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    return {r[1]: r for r in rows}


def test_constructed_lake_causes(built: Workspace) -> None:
    got = explain_gap(built, **MARCH)
    causes = _by_cause(got.causes)
    # billed: A 30 + 12 + 8 + 5 + 4 = 59; FOCUS 40 + 12 + 6 + 9 + 3 - 2.50 = 67.50 -> 126.50
    # traced: T1 46 + T2 9.50 + T4 0.75 = 56.25 (T3 unpriced) -> gap 70.25
    want = {
        "credits_and_adjustments": D("-2.50"),  # F6
        "non_token_charges": D("40.00"),  # F1
        "duplicate_exports": D("12.00"),  # F2, superseded by the Anthropic report's A2
        "untraced_projects": D("5.00"),  # A4: wrkspc_sandbox -> workflow 'sandbox', no calls
        "models_never_traced": D("6.00"),  # F3: zz-beta
        "unpriced_calls": D("3.00"),  # F5: zz-gamma's one call is unpriced
        "traced_not_billed": D("-0.75"),  # T4: no zz-delta line
        "discounts": D("-1.00"),  # F4: 9.00 billed - 10.00 list
        "cache_write_ttl": D("3.00"),  # A3: 8.00 x (1 - 1.25/2) = 8 x 0.375; T1 has no 1h writes
        "long_context": D("2.00"),  # A5: 4.00 x 1/2 (input at 2x); T1's input is 1,000 tokens
        # matched: zz-1 (A1 30 + A2 12 + A3 8 + A5 4 = 54) - T1 46 - cache 3 - long 2 = 3.00;
        # zz-alpha F4 9.00 - T2 9.50 - discount (-1.00) = 0.50 -> 3.50
        "unexplained": D("3.50"),
    }
    assert {k: r[2] for k, r in causes.items()} == want
    assert sum(want.values()) == D("126.50") - D("56.25")
    # lines: F6, F1, F2, A4, F3, F5 one each; T4 one call; F4; A3; A5
    assert {k: r[4] for k, r in causes.items()} == {
        "credits_and_adjustments": 1, "non_token_charges": 1, "duplicate_exports": 1, "untraced_projects": 1,
        "models_never_traced": 1, "unpriced_calls": 1, "traced_not_billed": 1, "discounts": 1,
        "cache_write_ttl": 1, "long_context": 1, "unexplained": 0,
    }  # fmt: skip
    # share of the gap: 40 / 70.25 = 0.569395 (6 places)
    assert causes["non_token_charges"][3] == D("0.569395")
    assert "wrkspc_sandbox" in causes["untraced_projects"][5] and "[attribution.projects]" in causes["untraced_projects"][5]
    assert "zz-gamma" in causes["unpriced_calls"][5] and "1 call of zz-gamma unpriced" in causes["unpriced_calls"][5]
    ev = {(e[1], e[3]): e for e in got.evidence}
    # evidence rows: (currency, cause, provider, model, project_id, workflow, service, amount)
    assert ev[("untraced_projects", "zz-1")][2:] == ("anthropic", "zz-1", "wrkspc_sandbox", "sandbox", "Claude API", D("5"))
    assert ev[("traced_not_billed", "zz-delta")][2:] == ("acme", "zz-delta", None, "chat", None, D("-0.75"))
    assert ev[("duplicate_exports", "zz-1")][7] == D("12")
    assert ev[("non_token_charges", None)][6] == "Acme API / gpu_hours"
    # unexplained per (provider, model key): zz-1 3.00, zz-alpha 0.50
    assert ev[("unexplained", "zz-1")][7] == D("3") and ev[("unexplained", "zz-alpha")][7] == D("0.5")
    causes_df, evidence_df = got.frames()
    assert causes_df.columns == CAUSE_COLUMNS and evidence_df.columns == EVIDENCE_COLUMNS
    assert causes_df["amount"].sum() == D("70.25")


def test_period_outside_the_data_is_an_empty_gap(built: Workspace) -> None:
    # nothing billed or traced in February: no currency, so no row at all
    assert explain_gap(built, since="2026-02-01", until="2026-03-01").causes == []


def test_without_the_project_map_the_workspaces_are_untraced(built: Workspace) -> None:
    # no [attribution.projects]: every Anthropic line names a workspace and resolves to no
    # workflow, so A1-A5 (59.00) are untraced_projects, and T1's 46.00 meets no matched line:
    # unexplained = 70.25 - (-2.50 + 40 + 12 + 59 + 6 + 3 - 0.75 - 1.00) = -45.50 (zz-1: -46,
    # zz-alpha: +0.50)
    causes = _by_cause(explain_gap(Workspace(built.lake, config={}), **MARCH).causes)
    assert causes["untraced_projects"][2] == D("59.00")
    assert "cache_write_ttl" not in causes and "long_context" not in causes
    assert causes["unexplained"][2] == D("-45.50")


def test_gap_sections_runs_on_the_callers_connection(built: Workspace) -> None:
    with built.connect() as con:
        (ccols, crows), (ecols, erows) = gap_sections(con, built.period_of(**MARCH).params())
    assert ccols == CAUSE_COLUMNS and ecols == EVIDENCE_COLUMNS
    assert _by_cause(crows)["unexplained"][2] == D("3.50") and len(erows) >= 11


# -- the demo month --------------------------------------------------------------------------
def test_demo_month(demo_lake: Path) -> None:
    ws = Workspace(demo_lake, config=Path(__file__).resolve().parent.parent / "sample_data" / "demo" / "costlab.toml")
    got = explain_gap(ws, since="2026-10-01", until="2026-11-01")
    causes = _by_cause(got.causes)
    # From sample_data/demo/billing (October 2026), summed with jq/Python over the files:
    # CUR 2.0 non-token lines: EC2 g5.xlarge GPU hours 35.713 (user:workflow eval-harness),
    # OpenSearch instance 26.784 and its gp3 storage 2.4399999994 (kb-search), S3 storage
    # 4.1400000001 (untagged) -> 69.0769999995.
    # Untraced: the Anthropic report's wrkspc_01NwSandboxDev3Kx lines 4.61484 + 2.15259 = 6.76743
    # (sandbox), the OpenAI Costs API's proj_NwOpsScripts9zR lines 6.833588 + 1.960856 = 8.794444
    # (sla-report) -> 15.561874.
    # Every other token line meets its traces exactly (Bedrock 52.3556737 both sides; support-chat
    # 38.5683315; ticket-triage 14.773228; kb-search 0.86100238), so billed 191.1971095795 -
    # traced 106.55823558 = 84.6388739995 = 69.0769999995 + 15.561874 and nothing is unexplained.
    assert list(causes) == ["non_token_charges", "untraced_projects", "unexplained"]
    assert causes["non_token_charges"][2] == D("69.0769999995")
    assert causes["untraced_projects"][2] == D("15.561874")
    assert causes["unexplained"][2] == 0
    ev = {(e[1], e[5], e[6]): e[7] for e in got.evidence}
    assert ev[("non_token_charges", "eval-harness", "Amazon Elastic Compute Cloud / gpu_hours")] == D("35.713")
    assert ev[("non_token_charges", "kb-search", "Amazon OpenSearch Service / other")] == D("26.784")
    assert ev[("non_token_charges", "kb-search", "Amazon OpenSearch Service / storage")] == D("2.4399999994")
    assert ev[("non_token_charges", None, "Amazon Simple Storage Service / storage")] == D("4.1400000001")
    assert ev[("untraced_projects", "sandbox", "Claude API")] == D("6.76743")
    assert ev[("untraced_projects", "sla-report", "OpenAI API")] == D("8.794444")
    # the same billed and traced as the report's headline (allocation_check, traced_by_day)
    with ws.connect() as con:
        p = {"since": datetime(2026, 10, 1, tzinfo=UTC), "until": datetime(2026, 11, 1, tzinfo=UTC)}
        billed = con.execute(load_sql("allocation_check"), {**p, "grain": "month", "policy": "proportional",
                                                            "token_policy": "traced"}).fetchall()  # fmt: skip
        traced = con.execute(load_sql("traced_by_day"), p).fetchall()
    assert billed[0][2] == D("191.1971095795")
    assert sum(r[2] for r in traced if r[2] is not None) == D("106.55823558")
    assert sum(r[2] for r in got.causes) == billed[0][2] - D("106.55823558")


# -- property: the causes always close ---------------------------------------------------------
DAYS = ["2025-06-01", "2025-06-02"]
money = st.builds(lambda units, scale: Decimal(units).scaleb(-scale),
                  st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=0, max_value=12))  # fmt: skip


@st.composite
def charge_rows(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["tokens", "tokens", "tokens", "storage", "gpu_hours", None]))
    start = datetime.fromisoformat(draw(st.sampled_from(DAYS))).replace(tzinfo=UTC)
    row: dict[str, Any] = {
        "billed_cost": draw(st.one_of(money, st.none())) if draw(st.booleans()) else draw(money),
        "billing_currency": draw(st.sampled_from(["USD", "USD", "EUR", None])),
        "charge_period_start": start,
        "charge_period_end": start.replace(hour=23),
        "compute_kind": kind,
        "service_provider_name": draw(st.sampled_from(["OpenAI", "Anthropic", "Acme"])),
        "charge_category": draw(st.sampled_from(["Usage", "Usage", "Usage", "Credit", None])),
        "source_format": draw(st.sampled_from(["openai_costs", "focus", "anthropic_cost"])),
        "workflow": draw(st.sampled_from([None, "a", "b", "ghost"])),
        "project_id": draw(st.sampled_from([None, None, "p1"])),
    }
    if kind == "tokens":
        row["model"] = draw(st.sampled_from([None, "m1", "m2", "m3-20250101"]))
        row["token_type"] = draw(st.sampled_from(["input_uncached", "output", "input_cache_write_1h", "reasoning"]))
        row["list_cost"] = draw(st.one_of(st.none(), money))
        row["tokens"] = draw(st.sampled_from([None, 100]))
        row["charge_description"] = draw(st.sampled_from([None, "long context"]))
    return row


@st.composite
def call_rows(draw: st.DrawFn) -> dict[str, Any]:
    cost = None if draw(st.integers(0, 3)) == 0 else draw(money.map(abs))
    return {
        "workflow": draw(st.sampled_from(["a", "b", None])),
        "provider": draw(st.sampled_from(["openai", "anthropic", "acme"])),
        "model": draw(st.sampled_from([None, "m1", "m3", "m4"])),
        "start_time": datetime.fromisoformat(draw(st.sampled_from(DAYS))).replace(hour=draw(st.integers(0, 23)), tzinfo=UTC),
        "cost": cost,
        "cost_currency": None if cost is None else draw(st.sampled_from(["USD", "USD", "EUR"])),
        "cache_write_1h_tokens": draw(st.sampled_from([None, 0, 10])),
        "reasoning_tokens": draw(st.sampled_from([None, 5])),
        "input_tokens": draw(st.sampled_from([1000, 300_000])),
        "span_kind": "llm",
        "usage_scope": "self",
    }  # fmt: skip


_CON: list[duckdb.DuckDBPyConnection] = []


def _load(charges: list[dict[str, Any]], calls: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """Tables ``charges`` and ``calls`` (refilled per example) with the views the gap reads."""
    if not _CON:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for name, cols in (("charges", CHARGE_COLS), ("calls", CALL_COLS)):
            con.register("_rows", _arrow(cols, []))
            con.execute(f"CREATE TABLE {name} AS SELECT *{', ' + ONE_CALL if name == 'calls' else ''} FROM _rows")
            con.unregister("_rows")
        con.execute(f"CREATE VIEW charges_llm AS {load_sql('views/charges_llm')}")
        add_attributed_views(con, AttributionRules(projects={"p1": "a"}))
        _CON.append(con)
    con = _CON[0]
    for i, c in enumerate(charges):
        c["row_key"] = f"k{i}"  # unique, as ingest makes it
    for name, cols, rows in (("charges", CHARGE_COLS, charges), ("calls", CALL_COLS, calls)):
        con.register("_rows", _arrow(cols, rows))
        con.execute(f"DELETE FROM {name}")
        con.execute(f"INSERT INTO {name} SELECT *{', ' + ONE_CALL if name == 'calls' else ''} FROM _rows")
        con.unregister("_rows")
    return con


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(charge_rows(), min_size=0, max_size=25), st.lists(call_rows(), min_size=0, max_size=25))
def test_causes_close_the_gap_exactly(charges: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    con = _load(charges, calls)
    sql = load_sql("gap_causes")
    cur = con.execute(sql, {"since": None, "until": None})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    # independent sums, in Python
    billed: dict[str | None, Decimal] = defaultdict(Decimal)
    traced: dict[str | None, Decimal] = defaultdict(Decimal)
    for c in charges:
        if c["billed_cost"] is not None:
            billed[c["billing_currency"]] += c["billed_cost"]
    for k in calls:
        if k["cost"] is not None:
            traced[k["cost_currency"]] += k["cost"]
    currencies = set(billed) | set(traced)
    assert {r["currency"] for r in rows} == currencies
    for cur_ in currencies:
        mine = [r for r in rows if r["currency"] == cur_]
        assert [r["cause"] for r in mine].count("unexplained") == 1
        assert all(r["billed"] == billed[cur_] and r["traced"] == traced[cur_] for r in mine)
        assert sum(r["amount"] for r in mine) == billed[cur_] - traced[cur_]
        # every bill line in exactly one class: the line classes' lines add up to the lines
        classes = ("credits_and_adjustments", "non_token_charges", "duplicate_exports", "untraced_projects",
                   "models_never_traced", "unpriced_calls")  # fmt: skip
        n = sum(1 for c in charges if c["billed_cost"] is not None and c["billing_currency"] == cur_)
        assert sum(r["lines"] for r in mine if r["cause"] in classes) <= n


def test_reasoning_lines_and_identical_lines_of_two_counted_sources() -> None:
    day = datetime(2025, 6, 1, tzinfo=UTC)
    base = {"charge_period_start": day, "charge_period_end": day.replace(hour=23), "billing_currency": "USD",
            "charge_category": "Usage", "compute_kind": "tokens", "workflow": "a"}  # fmt: skip
    charges = [
        # OpenAI m1: output 1.00 and a reasoning line 2.00; the one call reports no reasoning tokens
        {**base, "source_format": "openai_costs", "service_provider_name": "OpenAI", "model": "m1",
         "token_type": "output", "billed_cost": D("1.00")},
        {**base, "source_format": "openai_costs", "service_provider_name": "OpenAI", "model": "m1",
         "token_type": "reasoning", "billed_cost": D("2.00")},
        # Acme m2 4.00 from GCP billing (account y) and the same line from FOCUS (account x): the
        # accounts differ, so charges_llm counts both; the FOCUS copy (rank 6 > 3) is the duplicate
        {**base, "source_format": "gcp_billing", "billing_account_id": "y", "service_provider_name": "Acme",
         "model": "m2", "token_type": "input_uncached", "tokens": 100, "billed_cost": D("4.00")},
        {**base, "source_format": "focus", "billing_account_id": "x", "service_provider_name": "Acme",
         "model": "m2", "token_type": "input_uncached", "tokens": 100, "billed_cost": D("4.00")},
    ]  # fmt: skip
    calls = [
        {"workflow": "a", "provider": "openai", "model": "m1", "start_time": day.replace(hour=9), "cost": D("1.00"),
         "cost_currency": "USD", "span_kind": "llm", "usage_scope": "self"},
        {"workflow": "a", "provider": "acme", "model": "m2", "start_time": day.replace(hour=9), "cost": D("4.00"),
         "cost_currency": "USD", "span_kind": "llm", "usage_scope": "self"},
    ]  # fmt: skip
    con = _load(charges, calls)
    (_, rows), (_, evidence) = gap_sections(con, {"since": None, "until": None})
    # billed 11.00 - traced 5.00 = 6.00 = reasoning 2.00 + duplicate 4.00; matched m1 3.00 - 1.00
    # - 2.00 = 0 and m2 4.00 - 4.00 = 0
    assert {r[1]: r[2] for r in rows} == {"duplicate_exports": D("4.00"), "reasoning_tokens": D("2.00"),
                                          "unexplained": D("0")}  # fmt: skip
    assert [e[2:4] for e in evidence if e[1] == "duplicate_exports"] == [("acme", "m2")]
