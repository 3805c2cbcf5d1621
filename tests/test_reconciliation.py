"""Reconciliation: bill (charges) vs provider usage priced (usage_priced) vs traced calls (calls).

The lake is built from the real-shaped billing fixtures (tests/fixtures/openai, anthropic,
aws_cur; constructed from documentation, see their PROVENANCE.md) plus trace spans written here
as OTLP/JSON (constructed from the OTel GenAI attribute names, like tests/fixtures/otlp). Every
expected number is worked out by hand in a comment; prices are genai-prices 0.2.3's, per million
tokens (MTok), as `costlab prices <model> --at <day>` shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costlab import schema
from costlab.errors import CostlabError
from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.money.reconcile import reconcile
from costlab.pricing import PriceBook, add_price_tables
from costlab.sql import load_sql
from costlab.views import create_call_views
from costlab.workspace import Workspace

FIX = Path(__file__).resolve().parent / "fixtures"
D = Decimal


# -- helpers -----------------------------------------------------------------------------------
def _kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    def av(v: Any) -> dict[str, Any]:
        return {"intValue": str(v)} if isinstance(v, int) else {"stringValue": str(v)}

    return [{"key": k, "value": av(v)} for k, v in attrs.items()]


def write_traces(path: Path, calls: list[dict[str, Any]]) -> Path:
    """One OTLP/JSON batch; each call is a root `chat` span (its own trace) with GenAI usage."""
    spans = []
    for i, c in enumerate(calls, 1):
        start = int(datetime.fromisoformat(c["at"]).timestamp()) * 10**9
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": c["provider"],
            "gen_ai.request.model": c["model"],
            "gen_ai.usage.input_tokens": c["input"],
            "gen_ai.usage.output_tokens": c["output"],
        }
        if "cache_read" in c:
            attrs["gen_ai.usage.cache_read.input_tokens"] = c["cache_read"]
        spans.append({
            "traceId": f"{i:032x}", "spanId": f"{i:016x}", "parentSpanId": "",
            "name": f"chat {c['model']}", "kind": 3,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 10**9),
            "attributes": _kv(attrs), "events": [], "status": {"code": 0},
        })  # fmt: skip
    batch = {
        "_comment": "Constructed for tests/test_reconciliation.py (OTel GenAI attribute names).",
        "resourceSpans": [{
            "resource": {"attributes": _kv({"service.name": "recon-test"})},
            "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
        }],
    }  # fmt: skip
    path.write_text(json.dumps(batch) + "\n")
    return path


# Traced calls, each priced at its day's standard list price:
TRACES = [
    # gpt-4o-mini ($0.15 in / $0.60 out): 2,000,000 x 0.15/M = 0.30 + 250,000 x 0.60/M = 0.15 -> 0.45
    {"at": "2024-11-01T10:00:00+00:00", "provider": "openai", "model": "gpt-4o-mini-2024-07-18",
     "input": 2_000_000, "output": 250_000},
    # a model no price list knows: unpriced (listed, never costed at zero)
    {"at": "2024-11-01T11:00:00+00:00", "provider": "openai", "model": "acme-internal-model",
     "input": 100, "output": 10},
    # gpt-4o ($2.50 / $10): 1,000,000 x 2.5/M = 2.50 + 100,000 x 10/M = 1.00 -> 3.50 USD; the
    # bill has gpt-4o in EUR that day
    {"at": "2024-11-02T09:00:00+00:00", "provider": "openai", "model": "gpt-4o-2024-08-06",
     "input": 1_000_000, "output": 100_000},
    # claude-sonnet-4 ($3 / $15): 1,000,000 x 3/M = 3.00 + 430,000 x 15/M = 6.45 -> 9.45
    {"at": "2025-08-01T12:00:00+00:00", "provider": "anthropic", "model": "claude-sonnet-4-20250514",
     "input": 1_000_000, "output": 430_000},
    # Bedrock, regional Claude Sonnet 4.6 ($3.30 in / $0.33 cache read / $16.50 out), the very
    # tokens of the CUR 2.0 lines: uncached 143,000 - 120,000 = 23,000 x 3.3/M = 0.0759;
    # 120,000 x 0.33/M = 0.0396; 4,100 x 16.5/M = 0.06765 -> 0.18315
    {"at": "2025-03-10T14:30:00+00:00", "provider": "aws.bedrock",
     "model": "us.anthropic.claude-sonnet-4-6-v1:0", "input": 143_000, "cache_read": 120_000,
     "output": 4_100},
]  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("recon")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSTLAB_HOME", str(root / "home"))
        mp.delenv("COSTLAB_CONFIG", raising=False)
        traces = write_traces(root / "traces.jsonl", TRACES)
        paths = [
            FIX / "openai" / "costs_line_items.json",
            FIX / "openai" / "usage_all_kinds.jsonl",
            FIX / "anthropic" / "cost_report_grouped.json",
            FIX / "anthropic" / "usage_report_messages_1d.json",
            FIX / "aws_cur" / "bedrock_cur2.csv",
            traces,
        ]
        result = ingest(paths, lake=root / "lake", config={})
        assert not result.failed, result.failed
        yield Lake(root / "lake")


def row(df: pl.DataFrame, **key: Any) -> dict[str, Any]:
    hit = df.filter(*[pl.col(k).is_null() if v is None else pl.col(k) == v for k, v in key.items()])
    assert hit.height == 1, f"{key}: {hit.height} rows in\n{df}"
    return hit.row(0, named=True)


# -- daily reconciliation over the fixture lake ------------------------------------------------
def test_daily_openai(lake: Lake) -> None:
    df = reconcile(lake)
    r = row(df, day=datetime(2024, 11, 1).date(), provider="openai", model="gpt-4o-mini", currency="USD")
    # costs_line_items.json, 2024-11-01, gpt-4o-mini-2024-07-18 lines (all Usage):
    # input 0.10 + cached input 0.20 + output 0.30 + batch output 0.012345678901
    assert r["billed"] == D("0.612345678901")
    # usage_all_kinds.jsonl, 2024-11-01, gpt-4o-mini ($0.15 in, $0.075 cached, no cache-write
    # price -> input price, $0.60 out):
    #   standard: (12,000 - 4,000 - 1,000) x 0.15/M = 0.00105 + 4,000 x 0.075/M = 0.0003
    #             + 1,000 x 0.15/M = 0.00015 + 3,000 x 0.60/M = 0.0018          = 0.0033
    #   batch=true: genai-prices 0.2.3 batch prices start 2026-10-14, so standard:
    #             5,000 x 0.15/M = 0.00075 + 800 x 0.60/M = 0.00048                 = 0.00123
    assert r["usage_priced"] == D("0.00453")
    assert r["traced"] == D("0.45") and r["traced_calls"] == 1
    assert r["coverage"] == D("0.734879")  # 0.45 / 0.612345678901 = 0.7348790...
    assert r["gap"] == D("0.162345678901")  # 0.612345678901 - 0.45
    assert r["usage_coverage"] == D("0.007398")  # 0.00453 / 0.612345678901 = 0.0073977...
    assert r["billing_source"] == "openai_costs" and r["bill_grain"] == "day"
    # the unpriced call has no currency: its own row, counted, not costed
    r = row(df, day=datetime(2024, 11, 1).date(), provider="openai", model="acme-internal-model")
    assert (r["currency"], r["billed"], r["traced"], r["unpriced_calls"]) == (None, None, None, 1)
    assert r["coverage"] is None and r["gap"] is None
    # omni-moderation-latest usage (300 input tokens) has no price: an unpriced usage bucket
    r = row(df, day=datetime(2024, 11, 1).date(), provider="openai", model="omni-moderation")
    assert r["usage_unpriced_rows"] == 1 and r["usage_priced"] is None
    # non-token usage (images, tts, vector storage ...) is not in the reconciliation at all
    assert df.filter(pl.col("model").is_in(["dall-e-3", "tts-1", "whisper-1"])).height == 0


def test_daily_anthropic_and_bedrock(lake: Lake) -> None:
    df = reconcile(lake)
    r = row(df, day=datetime(2025, 8, 1).date(), provider="anthropic", model="claude-sonnet-4")
    # cost_report_grouped.json 2025-08-01, claude-sonnet-4-20250514 (cents / 100):
    # 123.45 + 750.00 + 0.06 + 15.009375 + 60.00 cents = 1.2345 + 7.5 + 0.0006 + 0.15009375 + 0.6
    assert r["billed"] == D("9.48519375")
    # usage_report_messages_1d.json 2025-08-01 ($3 in, $0.30 read, $3.75 5m write, $6 1h write, $15 out):
    #   (3,200 - 200 - 1,500) x 3/M = 0.0045 + 200 x 0.3/M = 0.00006 + 500 x 3.75/M = 0.001875
    #     + 1,000 x 6/M = 0.006 + 500 x 15/M = 0.0075                                 = 0.019935
    #   (442,000 - 180,000 - 12,000) x 3/M = 0.75 + 180,000 x 0.3/M = 0.054
    #     + 12,000 x 6/M = 0.072 + 3,000 x 15/M = 0.045                               = 0.921
    assert r["usage_priced"] == D("0.940935")
    assert r["traced"] == D("9.45") and r["coverage"] == D("0.996290")  # 9.45 / 9.48519375
    assert r["gap"] == D("0.03519375")
    # Bedrock: CUR 2.0 (bedrock_cur2.csv) Claude4.6Sonnet lines 0.069 + 0.036 + 0.0615 = 0.1665,
    # reconciled with the call traced under provider aws.bedrock and the Bedrock model id
    r = row(df, day=datetime(2025, 3, 10).date(), provider="aws.bedrock", model="claude-sonnet-4-6")
    assert r["billed"] == D("0.1665") and r["traced"] == D("0.18315")
    assert r["coverage"] == D("1.1") and r["gap"] == D("-0.01665")  # 0.18315 / 0.1665 = 1.1
    assert r["billing_source"] == "aws_cur2" and r["bill_grain"] == "hour"
    # Marketplace "Claude 3.5 Sonnet (Amazon Bedrock Edition)" 0.30 + usage type
    # Claude3.5Sonnet output 0.0375 share the key claude-3-5-sonnet
    r = row(df, day=datetime(2025, 3, 10).date(), provider="aws.bedrock", model="claude-3-5-sonnet")
    assert r["billed"] == D("0.3375") and r["traced_calls"] == 0 and r["coverage"] == 0


def test_the_headline_coverage_counts_only_traces_of_billed_models(lake: Lake) -> None:
    """The report's headline coverage is the share of the bill's LLM lines the traces explain,
    per currency. USD bill lines (test_summary_verdicts' rows): 37.5 + 9.50519375 + 3.005 +
    0.3375 + 0.1665 + 0.125 + 0.045 + 1.5 + 1.312345678901 + 0.04 + 0.003 + 0.00002 =
    53.539559428901; traced on those models 9.45 + 0.18315 + 0.45 = 10.08315, so 0.188333...
    The USD gpt-4o traces (3.50) are billed in EUR, not USD: counting them, as the headline did
    before, read 13.58315 / 53.539559428901 = 25.4% covered."""
    from typer.testing import CliRunner

    from costlab.cli import app

    r = CliRunner().invoke(app, ["report", "--lake", str(lake.path), "--format", "json", "--no-findings"])
    assert r.exit_code == 0, r.output
    usd = [h for h in json.loads(r.stdout)["headline"] if h["currency"] == "USD"][0]
    assert usd["coverage"] == 0.1883 and usd["traced_cost"] == 13.58315  # all traced money is still shown


def test_full_outer_join_keeps_every_key(lake: Lake) -> None:
    df = reconcile(lake)
    # o3 appears only in usage (2024-11-02: 700 x 10/M = 0.007 + 70 x 40/M = 0.0028; flex
    # prices start 2026-10-12 in genai-prices 0.2.3, so standard)
    r = row(df, provider="openai", model="o3")
    assert (r["billed"], r["usage_priced"], r["traced"]) == (None, D("0.0098"), None)
    # gpt-4o is billed in EUR (12.345) and traced in USD (3.50): two rows, never added
    eur = row(df, day=datetime(2024, 11, 2).date(), provider="openai", model="gpt-4o", currency="EUR")
    usd = row(df, day=datetime(2024, 11, 2).date(), provider="openai", model="gpt-4o", currency="USD")
    assert (eur["billed"], eur["traced"]) == (D("12.345"), None)
    assert (usd["billed"], usd["traced"], usd["traced_calls"]) == (None, D("3.5"), 1)


def test_summary_verdicts(lake: Lake) -> None:
    df = reconcile(lake, grain="summary")
    verdict = {(r["provider"], r["model"], r["currency"]): r["verdict"] for r in df.iter_rows(named=True)}
    # sonnet-4: billed 9.48519375 + 0.02 (2025-08-02, long-context input) = 9.50519375;
    # traced 9.45 -> 9.45 / 9.50519375 = 0.99419 within 95%..105%
    r = row(df, provider="anthropic", model="claude-sonnet-4")
    assert (r["billed"], r["traced"], r["coverage"]) == (D("9.50519375"), D("9.45"), D("0.994193"))
    assert r["first_day"] == datetime(2025, 8, 1).date() and r["last_day"] == datetime(2025, 8, 2).date()
    assert verdict[("anthropic", "claude-sonnet-4", "USD")] == "traces explain the bill"
    # gpt-4o-mini: billed 0.612345678901 + 0.70 (2024-11-02 input) = 1.312345678901;
    # 0.45 / 1.312345678901 = 0.342897 < 95%
    r = row(df, provider="openai", model="gpt-4o-mini", currency="USD")
    assert (r["billed"], r["coverage"]) == (D("1.312345678901"), D("0.342897"))
    assert r["verdict"] == "untraced spend"
    assert verdict[("aws.bedrock", "claude-sonnet-4-6", "USD")] == "traces exceed bill"  # 110%
    assert verdict[("anthropic", "claude-opus-4-1", "USD")] == "no traces"
    assert verdict[("openai", "acme-internal-model", None)] == "no billing data"
    assert verdict[("openai", "o3", "USD")] == "no billing data"
    assert verdict[("openai", "gpt-4o", "EUR")] == "different currency"
    assert verdict[("openai", "gpt-4o", "USD")] == "different currency"


def test_period_filter_and_arguments(lake: Lake) -> None:
    df = reconcile(lake, since="2025-08-01", until=datetime(2025, 8, 2, tzinfo=UTC), grain="summary")
    assert set(df["provider"]) == {"anthropic"}  # nothing else starts on 2025-08-01
    r = row(df, model="claude-sonnet-4")
    assert r["billed"] == D("9.48519375") and r["verdict"] == "traces explain the bill"
    with pytest.raises(CostlabError, match="grain"):
        reconcile(lake, grain="week")  # type: ignore[arg-type]
    with pytest.raises(CostlabError, match="not before"):
        reconcile(lake, since="2025-08-02", until="2025-08-01")


def test_named_query_runs_like_the_report_builder(lake: Lake) -> None:
    """build.py's _fetch: con.execute with datetime params (and None for an open bound)."""
    with Workspace(lake).connect() as con:
        for name in ("reconciliation", "reconciliation_summary"):
            cur = con.execute(load_sql(name), {"since": datetime(2024, 1, 1, tzinfo=UTC), "until": None})
            cols = [d[0] for d in cur.description or []]
            assert cur.fetchall()
            assert cols[:3] == (["day", "provider", "model"] if name == "reconciliation" else
                                ["provider", "model", "currency"])  # fmt: skip
    cols = reconcile(lake, grain="summary").columns
    assert cols[:8] == ["provider", "model", "currency", "billed", "usage_priced", "traced", "coverage", "gap"]


# -- double counting: the same Bedrock bill from CUR 1.0 and CUR 2.0 ------------------------------
def test_double_count_prefers_cur2(tmp_path: Path) -> None:
    both = tmp_path / "both"
    ingest([FIX / "aws_cur" / "bedrock_legacy_cur.csv", FIX / "aws_cur" / "bedrock_cur2.csv"],
           lake=both, config={})  # fmt: skip
    legacy = tmp_path / "legacy"
    ingest([FIX / "aws_cur" / "bedrock_legacy_cur.csv"], lake=legacy, config={})
    day = datetime(2025, 3, 10).date()
    # both hold payer 111122223333's March 2025 Bedrock bill: only CUR 2.0 counts
    df = reconcile(Lake(both))
    r = row(df, day=day, provider="aws.bedrock", model="claude-3-5-sonnet")
    assert r["billed"] == D("0.3375")  # CUR 2.0: 0.30 (Marketplace) + 0.0375 (output)
    # legacy CUR: 0.15 cache read + 0.151875 cache write + 0.03 input + 0.75 Marketplace
    assert r["billed_excluded"] == D("1.081875")
    assert (r["billing_source"], r["superseded_sources"]) == ("aws_cur2", "aws_cur")
    # a model only the superseded source has: no counted bill, its money shown as excluded
    r = row(reconcile(Lake(both), grain="summary"), provider="aws.bedrock", model="claude-3-opus")
    assert (r["billed"], r["billed_excluded"], r["verdict"]) == (None, D("0.9375"), "only in superseded source")
    with Workspace(both).connect() as con:
        got = con.execute("SELECT billing_source, counted, superseded_by, count(*) FROM charges_llm "
                          "GROUP BY ALL ORDER BY 1").fetchall()  # fmt: skip
    # legacy token lines: 13 (12 usage + the Credit); CUR 2.0: 7
    assert got == [("aws_cur", False, "aws_cur2", 13), ("aws_cur2", True, None, 7)]
    # the legacy CUR alone is counted in full, and its AWS Activate Credit (-5.00 on
    # Claude3Sonnet) is a credit, not negative traffic
    df = reconcile(Lake(legacy))
    r = row(df, day=day, provider="aws.bedrock", model="claude-3-5-sonnet")
    assert (r["billed"], r["billed_excluded"], r["billing_source"]) == (D("1.081875"), None, "aws_cur")
    r = row(df, day=day, provider="aws.bedrock", model="claude-3-sonnet")
    # usage 3.703701 + 1.481475 = 5.185176; the credit -5 apart
    assert (r["billed"], r["credits"]) == (D("5.185176"), D("-5"))
    # Claude3Haiku: 0.000003125 (12 input tokens) + 0.25 (batch input) + 0.1875 (batch output);
    # the provisioned-throughput model-unit hour ($20.50) is not a token charge
    assert row(df, day=day, provider="aws.bedrock", model="claude-3-haiku")["billed"] == D("0.437503125")


# -- constructed connections (no ingest): the rules one by one --------------------------------------
def _table(con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]]) -> None:
    cols = schema.TABLES[name] + schema.TABLE_PARTITIONS[name]
    tbl = pa.table({n: pa.array([r.get(n) for r in rows], type=schema.arrow_type(t)) for n, t in cols})
    con.register("_in", tbl)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _in")
    con.unregister("_in")


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook(None)


Rows = list[dict[str, Any]]


def views(book: PriceBook, charges: Rows | None = None, usage: Rows | None = None,
          spans: Rows | None = None) -> duckdb.DuckDBPyConnection:  # fmt: skip
    """A connection with these rows as the stored tables and the views lake.create_views makes."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    _table(con, "charges", [{"source_format": "focus", "charge_category": "Usage",
                             "compute_kind": "tokens", "billing_currency": "USD", **c} for c in charges or []])
    _table(con, "usage", [{"source_format": "openai_usage", "provider": "openai", **u} for u in usage or []])
    _table(con, "spans", [{"trace_id": "t", "span_id": f"s{i}", "span_kind": "llm", "usage_scope": "self",
                           "usage_source": "reported", "source_format": "test", "source_line": i, **s}
                          for i, s in enumerate(spans or [])])  # fmt: skip
    add_price_tables(con, book)
    create_call_views(con)
    for view in ("usage_priced", "charges_llm", "reconciliation_facts"):
        con.execute(f"CREATE VIEW {view} AS {load_sql(f'views/{view}')}")
    return con


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _charge(fmt: str, account: str | None, day: str, cost: str, **more: Any) -> dict[str, Any]:
    start = _at(day)
    return {"source_format": fmt, "billing_account_id": account, "billed_cost": D(cost),
            "charge_period_start": start, "charge_period_end": start.replace(hour=1),
            "service_provider_name": "AWS", "service_name": "Amazon Bedrock",
            "model": "claude-sonnet-4-6", **more}  # fmt: skip


def test_usage_priced_uses_the_price_valid_at_period_start(book: PriceBook) -> None:
    """OpenAI cut o3 from $10 / $40 to $2 / $8 per MTok on 2025-06-10 (cache read $0.50 both);
    genai-prices 0.2.3 has both periods."""
    bucket = {"usage_kind": "completions", "model": "o3-2025-04-16", "service_tier": "standard",
              "input_tokens": 1_000_000, "cache_read_tokens": 200_000, "output_tokens": 100_000}  # fmt: skip
    con = views(book, usage=[
        {**bucket, "period_start": _at("2025-06-09"), "period_end": _at("2025-06-10")},
        {**bucket, "period_start": _at("2025-06-10"), "period_end": _at("2025-06-11")},
    ])  # fmt: skip
    got = con.execute("SELECT period_start::DATE::VARCHAR, cost, cost_currency, cost_source, price_model "
                      "FROM usage_priced ORDER BY 1").fetchall()  # fmt: skip
    # before: 800,000 x 10/M = 8.00 + 200,000 x 0.5/M = 0.10 + 100,000 x 40/M = 4.00 = 12.10
    # after:  800,000 x  2/M = 1.60 + 200,000 x 0.5/M = 0.10 + 100,000 x  8/M = 0.80 =  2.50
    assert got == [("2025-06-09", D("12.1"), "USD", "computed", "o3"),
                   ("2025-06-10", D("2.5"), "USD", "computed", "o3")]  # fmt: skip


def test_usage_priced_unpriced_cases(book: PriceBook) -> None:
    day = {"period_start": _at("2025-06-10"), "period_end": _at("2025-06-11")}
    con = views(book, usage=[
        {**day, "usage_kind": "completions", "model": "no-such-model", "input_tokens": 10, "output_tokens": 1},
        {**day, "usage_kind": "images", "model": "dall-e-3", "quantity": D(3), "quantity_unit": "images"},
        # cache reads above the input: inconsistent, never a negative uncached part
        {**day, "usage_kind": "completions", "model": "o3", "input_tokens": 10, "cache_read_tokens": 20,
         "output_tokens": 1},
        # embeddings have no output count: NULL means 0 here. 1,000 x $0.02/M = 0.00002
        {**day, "usage_kind": "embeddings", "model": "text-embedding-3-small", "input_tokens": 1000},
    ])  # fmt: skip
    got = con.execute("SELECT model, cost, cost_source FROM usage_priced ORDER BY model").fetchall()
    assert got == [("dall-e-3", None, "unpriced"), ("no-such-model", None, "unpriced"),
                   ("o3", None, "unpriced"), ("text-embedding-3-small", D("0.00002"), "computed")]  # fmt: skip


tokens = st.integers(min_value=0, max_value=5_000_000)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inp=tokens, read=tokens, write=tokens, out=tokens,
       model=st.sampled_from([("openai", "gpt-4o-mini-2024-07-18"), ("anthropic", "claude-sonnet-4-20250514"),
                              ("anthropic", "claude-opus-4-1-20250805"), ("openai", "o3-2025-04-16")]),
       day=st.sampled_from(["2025-06-09", "2025-06-10", "2025-08-01"]))  # fmt: skip
def test_usage_priced_equals_calls_for_same_tokens(book: PriceBook, inp: int, read: int, write: int,
                                                   out: int, model: tuple[str, str], day: str) -> None:  # fmt: skip
    """The usage view repeats the calls view's formula: the same tokens cost the same."""
    provider, name = model
    total = inp + read + write  # inclusive input
    toks = {"input_tokens": total, "cache_read_tokens": read, "cache_write_tokens": write, "output_tokens": out}
    con = views(book, usage=[{"provider": provider, "model": name, "usage_kind": "completions",
                              "period_start": _at(day), **toks}],
                spans=[{"provider": provider, "model": name, "start_time": _at(day), **toks}])  # fmt: skip
    u = con.execute("SELECT cost, cost_currency FROM usage_priced").fetchone()
    c = con.execute("SELECT cost, cost_currency FROM calls").fetchone()
    assert u == c and u is not None and u[0] is not None


def test_double_count_rules(book: PriceBook) -> None:
    con = views(book, charges=[
        # same payer and month in CUR 2.0, legacy CUR and FOCUS: CUR 2.0 counts
        _charge("aws_cur2", "111", "2025-03-10", "1.00"),
        _charge("aws_cur", "111", "2025-03-11", "1.10"),
        _charge("focus", "111", "2025-03-12", "1.20"),
        # another payer's FOCUS the same month: a different bill, counted
        _charge("focus", "222", "2025-03-10", "2.00"),
        # FOCUS alone in April: counted
        _charge("focus", "111", "2025-04-01", "3.00"),
        # Azure: FOCUS writes the ARM path, the cost export the bare id -> the same account
        _charge("focus", "/providers/Microsoft.Billing/billingAccounts/8611537", "2025-06-03", "4.00",
                service_provider_name="Microsoft", service_name="Azure AI Services", model="gpt-4o"),
        _charge("azure_cost", "8611537", "2025-06-03", "4.10",
                service_provider_name="Microsoft", service_name="Cognitive Services", model="gpt-4o"),
        # OpenAI: the Costs API has no account; it overlaps the org's dashboard CSV of that month
        _charge("openai_costs", None, "2024-11-01", "5.00", service_provider_name="OpenAI",
                service_name="OpenAI API", model="gpt-4o-mini"),
        _charge("openai_cost_csv", "org-1", "2024-11-02", "5.10", service_provider_name="OpenAI",
                service_name="OpenAI API", model="gpt-4o-mini"),
    ])  # fmt: skip
    got = con.execute(
        "SELECT provider, billing_source, billing_account_key, billing_month::VARCHAR, counted, superseded_by "
        "FROM charges_llm ORDER BY provider, billing_month, source_rank, billing_account_key"
    ).fetchall()
    assert got == [
        ("aws.bedrock", "aws_cur2", "111", "2025-03-01", True, None),
        ("aws.bedrock", "aws_cur", "111", "2025-03-01", False, "aws_cur2"),
        ("aws.bedrock", "focus", "111", "2025-03-01", False, "aws_cur2"),
        ("aws.bedrock", "focus", "222", "2025-03-01", True, None),
        ("aws.bedrock", "focus", "111", "2025-04-01", True, None),
        ("azure", "azure_cost", "8611537", "2025-06-01", True, None),
        ("azure", "focus", "8611537", "2025-06-01", False, "azure_cost"),
        ("openai", "openai_costs", None, "2024-11-01", True, None),
        ("openai", "openai_cost_csv", "org-1", "2024-11-01", False, "openai_costs"),
    ]
    df = con.sql(load_sql("reconciliation_summary"), params={"since": None, "until": None}).pl()
    r = row(df, provider="aws.bedrock", model="claude-sonnet-4-6")
    # counted: CUR 2.0 1.00 + payer 222's 2.00 + April's 3.00 = 6.00; left out 1.10 + 1.20 = 2.30
    assert (r["billed"], r["billed_excluded"]) == (D("6"), D("2.3"))
    assert (r["billing_source"], r["superseded_sources"]) == ("aws_cur2, focus", "aws_cur, focus")


def test_provider_keys(book: PriceBook) -> None:
    """What the ingestors write (service_provider_name, service_name) -> the traces' provider."""
    cases = [("OpenAI", None, "OpenAI API", "openai"), ("Anthropic", None, "Claude API", "anthropic"),
             ("AWS", "Anthropic, PBC", "Claude 3.5 Sonnet (Amazon Bedrock Edition)", "aws.bedrock"),
             ("AWS", None, "Amazon Bedrock", "aws.bedrock"), ("AWS", None, "Amazon SageMaker", "aws"),
             ("Microsoft", None, "Foundry Models", "azure"), ("Google Cloud", None, "Vertex AI", "google"),
             (None, "Example Cloud", "Example Model API", "example cloud")]  # fmt: skip
    con = views(book, charges=[
        _charge("focus", str(i), "2025-03-10", "1", service_provider_name=sp, host_provider_name=hp,
                service_name=svc) for i, (sp, hp, svc, _) in enumerate(cases)
    ])  # fmt: skip
    got = con.execute("SELECT provider FROM charges_llm ORDER BY CAST(billing_account_id AS INT)").fetchall()
    assert [g[0] for g in got] == [c[3] for c in cases]


def test_model_key() -> None:
    """Snapshots of one model reconcile together; see reconciliation_facts.sql."""
    con = duckdb.connect()
    sql = load_sql("views/reconciliation_facts")
    expr = sql[sql.index("nullif(\n        regexp_replace"):sql.index(" AS model,")]
    names = ["gpt-4o-mini-2024-07-18", "gpt-4o-mini", "claude-3-5-sonnet-20240620", "claude-sonnet-4-20250514",
             "gpt-4-0613", "gemini-2.0-flash-001", "claude-3-5-sonnet-latest", "amazon.nova-pro-v1:0",
             "Claude-3-Opus", "o3-2025-04-16", "gpt-4.1", "claude-3-5-sonnet-v2", ""]  # fmt: skip
    got = [con.execute(f"SELECT {expr} FROM (SELECT ? AS model_raw)", [n]).fetchone()[0] for n in names]  # type: ignore[index]
    assert got == ["gpt-4o-mini", "gpt-4o-mini", "claude-3-5-sonnet", "claude-sonnet-4", "gpt-4",
                   "gemini-2.0-flash", "claude-3-5-sonnet", "nova-pro", "claude-3-opus", "o3", "gpt-4.1",
                   "claude-3-5-sonnet-v2", None]  # fmt: skip


def test_monthly_bill_and_other_verdicts(book: PriceBook) -> None:
    month = {"charge_period_start": _at("2025-05-01"), "charge_period_end": _at("2025-06-01"),
             "service_provider_name": "OpenAI", "service_name": "OpenAI API", "source_format": "openai_costs"}  # fmt: skip
    con = views(book, charges=[
        {**month, "model": "gpt-4o-mini", "billed_cost": D("0.30")},
        {**month, "model": "gpt-4o", "billed_cost": D("0")},
        {**month, "model": "o3", "billed_cost": D("1.00")},
    ], spans=[
        # 1,000,000 x 0.15/M = 0.15 + 250,000 x 0.60/M = 0.15 -> 0.30 on 2025-05-20
        {"provider": "openai", "model": "gpt-4o-mini", "start_time": _at("2025-05-20T10:00:00"),
         "input_tokens": 1_000_000, "output_tokens": 250_000},
        {"provider": "openai", "model": "gpt-4o", "start_time": _at("2025-05-20T10:00:00"),
         "input_tokens": 10, "output_tokens": 1},
        # o3 traced without usage: unpriced
        {"provider": "openai", "model": "o3", "start_time": _at("2025-05-20T10:00:00"), "usage_source": "missing"},
    ])  # fmt: skip
    whole = con.sql(load_sql("reconciliation_summary"), params={"since": None, "until": None}).pl()
    v = {r["model"]: r["verdict"] for r in whole.iter_rows(named=True)}
    assert v == {"gpt-4o-mini": "traces explain the bill", "gpt-4o": "nothing billed", "o3": "unpriced calls"}
    assert row(whole, model="gpt-4o-mini")["bill_grain"] == "multi-day"
    # a period ending mid-month: the May bill (starting 2025-05-01) counts but runs past it
    part = con.sql(load_sql("reconciliation_summary"),
                   params={"since": _at("2025-05-01"), "until": _at("2025-05-25")}).pl()  # fmt: skip
    assert row(part, model="gpt-4o-mini")["verdict"] == "bill extends past period"
    # daily: the whole month's bill sits on its first day, the trace on the 20th
    daily = con.sql(load_sql("reconciliation"), params={"since": None, "until": None}).pl()
    mini = daily.filter(pl.col("model") == "gpt-4o-mini").sort("day")
    assert mini.select("day", "billed", "traced").rows() == [
        (datetime(2025, 5, 1).date(), D("0.3"), None), (datetime(2025, 5, 20).date(), None, D("0.3"))]


def test_cost_formula_is_written_once_and_included_in_both_views() -> None:
    from costlab.errors import QueryNotFoundError
    from costlab.sql import INCLUDE, load_sql, queries_root

    body = load_sql("fragments/token_cost").split("\nCASE", 1)[1]  # past the header comment
    for view, requests in (("views/calls", "1"), ("views/usage_priced", "1"), ("views/call_groups", "p.n_calls")):
        text = load_sql(view)
        assert body.replace("{{requests}}", requests) in text and INCLUDE not in text, view
        assert "-- token_cost:" not in text  # the fragment's header is not copied in
    raw = [f for f in queries_root().joinpath("views").iterdir() if "fragments/token_cost" in f.read_text()]
    assert sorted(f.name for f in raw) == ["call_groups.sql", "calls.sql", "usage_priced.sql"]
    joined = [f for f in queries_root().joinpath("views").iterdir() if "fragments/price_join" in f.read_text()]
    assert sorted(f.name for f in joined) == ["analyze_base.sql", "call_groups.sql", "calls.sql", "usage_priced.sql"]
    with pytest.raises(QueryNotFoundError):
        load_sql("fragments/no_such_fragment")
