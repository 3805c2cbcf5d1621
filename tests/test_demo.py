"""The demo in sample_data/demo (Northwind Support, October 2026; see its README.md) through the
real CLI: `costlab ingest sample_data` (all of it, real samples included) must read every file,
and the lake must agree with sums computed here straight from the demo files (json/csv/gzip +
Decimal). tools/make_demo.py must regenerate the files byte for byte."""

from __future__ import annotations

import csv
import gzip
import json
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
DEMO = SAMPLE / "demo"
DEMO_SQL = "source_file LIKE '%/sample_data/demo/%'"
runner = CliRunner()


def cli(*args: str) -> Any:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.stderr
    return r


def sql(lake: str, query: str) -> list[dict[str, Any]]:
    out = cli("sql", query, "--lake", lake, "-f", "json").stdout
    return json.loads(out, parse_float=Decimal)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def lake(demo_lake: Path) -> str:
    return str(demo_lake)


# --------------------------------------------------------------------------- the files, by hand
def otlp_spans(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(span, attributes) for every span of an OTLP/JSON lines file."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        attrs = {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}
                        out.append((span, attrs))
    return out


def traced_calls_from_files() -> dict[str, list[dict[str, Any]]]:
    """Per workflow (the root span's gen_ai.workflow.name): the attributes of every chat or
    embeddings span."""
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted((DEMO / "traces" / "otlp").glob("*.jsonl.gz")):
        spans = otlp_spans(path)
        workflow = {s["traceId"]: a["gen_ai.workflow.name"] for s, a in spans if not s["parentSpanId"]}
        for s, a in spans:
            if a.get("gen_ai.operation.name") in ("chat", "embeddings"):
                calls[workflow[s["traceId"]]].append(a)
    return calls


def billed_from_files() -> dict[str, Decimal]:
    anthropic = json.loads((DEMO / "billing/anthropic/cost_report_2026-10.json").read_text())
    cents = sum((Decimal(r["amount"]) for b in anthropic["data"] for r in b["results"]), Decimal(0))
    openai = json.loads((DEMO / "billing/openai/costs_2026-10.json").read_text(), parse_float=Decimal)
    dollars = sum((Decimal(r["amount"]["value"]) for b in openai["data"] for r in b["results"]), Decimal(0))
    cur = next((DEMO / "billing/aws/cur2").rglob("*.csv"))
    with open(cur, newline="") as fh:
        aws = sum((Decimal(r["line_item_unblended_cost"]) for r in csv.DictReader(fh)), Decimal(0))
    return {"Anthropic": cents / 100, "OpenAI": dollars, "AWS": aws}


# --------------------------------------------------------------------------- the lake agrees
def test_billed_totals_per_provider_equal_the_files(lake: str) -> None:
    expected = billed_from_files()
    # pinned so a change to the generator is a conscious one (README story numbers):
    # Anthropic 168 cost lines (cents / 100), OpenAI 240 Costs API results, AWS 177 CUR lines
    assert expected == {
        "Anthropic": Decimal("45.3357615"),
        "OpenAI": Decimal("24.42867438"),
        "AWS": Decimal("121.4326736995"),
    }
    rows = sql(lake, f"SELECT service_provider_name AS p, sum(billed_cost) AS billed, "
                     f"sum(effective_cost) AS effective FROM charges WHERE {DEMO_SQL} GROUP BY 1")  # fmt: skip
    got = {r["p"]: r["billed"] for r in rows}
    assert got == expected
    assert {r["p"]: r["effective"] for r in rows} == expected  # no discounts or commitments


def test_traced_calls_per_workflow_equal_the_trace_files(lake: str) -> None:
    files = traced_calls_from_files()
    counts = {w: len(calls) for w, calls in files.items()}
    # 2,759 support-chat replies (chat + e-mail), 2,657 triage calls (~95 a weekday, 331 on the
    # retry-loop day), 808 queries x (embedding + answer), 31 nights x 21, 22 weekdays x 40
    assert counts == {"support-chat": 2759, "ticket-triage": 2657, "kb-search": 1616,
                      "nightly-digest": 651, "eval-harness": 880}  # fmt: skip
    rows = sql(lake, f"SELECT workflow, count(*) AS n, sum(input_tokens) AS i, sum(output_tokens) AS o "
                     f"FROM calls WHERE {DEMO_SQL} GROUP BY 1")  # fmt: skip
    assert {r["workflow"]: r["n"] for r in rows} == counts
    for r in rows:
        calls = files[r["workflow"]]
        assert r["i"] == sum(int(a["gen_ai.usage.input_tokens"]) for a in calls)
        assert r["o"] == sum(int(a.get("gen_ai.usage.output_tokens", 0)) for a in calls)


def test_traced_cost_covers_most_of_the_token_bill(lake: str) -> None:
    """The untraced cron script and the sandbox workspace are the gap (README: 87% coverage)."""
    [row] = sql(lake, f"SELECT (SELECT sum(cost) FROM calls WHERE {DEMO_SQL}) AS traced, "
                      f"(SELECT sum(billed_cost) FROM charges WHERE {DEMO_SQL} AND compute_kind = 'tokens') AS billed")  # fmt: skip
    # traced 106.55823558 = 52.3556737 Bedrock + 38.5683315 support-chat + 14.773228 triage
    #   + 0.86100238 kb-search; billed tokens 122.12010958 = 45.3357615 Anthropic
    #   + 24.42867438 OpenAI + 52.3556737 Bedrock; 106.558 / 122.120 = 87.3%
    assert row["traced"] == Decimal("106.55823558")
    assert row["billed"] == Decimal("122.12010958")
    assert Decimal("0.85") < row["traced"] / row["billed"] < Decimal("0.90")
    # Bedrock is fully traced: the nightly digest's CUR token lines are exactly its calls' cost
    [bedrock] = sql(lake, f"SELECT (SELECT sum(cost) FROM calls WHERE {DEMO_SQL} AND workflow = 'nightly-digest') AS t, "
                          f"(SELECT sum(billed_cost) FROM charges WHERE {DEMO_SQL} AND compute_kind = 'tokens' "
                          f"AND service_provider_name = 'AWS') AS b")  # fmt: skip
    assert bedrock["t"] == bedrock["b"]


def test_unpriced_self_hosted_calls_are_listed_with_tokens(lake: str) -> None:
    calls = traced_calls_from_files()["eval-harness"]
    out = cli("query", "unpriced_calls", "-p", "since=2026-10-01", "-p", "until=2026-11-01",
              "--lake", lake, "-f", "json").stdout  # fmt: skip
    rows = json.loads(out)
    assert [(r["provider"], r["model"], r["reason"]) for r in rows] == [
        ("vllm", "northwind/llama-3.1-8b-triage-ft", "no price")
    ]
    assert rows[0]["calls"] == len(calls) == 880
    assert rows[0]["input_tokens"] == sum(int(a["gen_ai.usage.input_tokens"]) for a in calls)
    assert rows[0]["output_tokens"] == sum(int(a["gen_ai.usage.output_tokens"]) for a in calls)
    [cost] = sql(lake, f"SELECT count(cost) AS n FROM calls WHERE {DEMO_SQL} AND workflow = 'eval-harness'")
    assert cost["n"] == 0  # NULL, never $0


def test_retry_loop_day_stands_out(lake: str) -> None:
    rows = sql(lake, f"SELECT CAST(timezone('UTC', start_time) AS DATE) AS day, sum(cost) AS cost "
                     f"FROM calls WHERE {DEMO_SQL} AND workflow = 'ticket-triage' GROUP BY 1 ORDER BY 1")  # fmt: skip
    daily = {r["day"]: r["cost"] for r in rows}
    previous = [daily[f"2026-10-{d:02d}"] for d in range(7, 21)]  # the 14 days before the 21st
    median = statistics.median(previous)
    assert daily["2026-10-21"] > 3 * median  # 4.0x: 331 calls with growing retries vs ~95
    per_call = Counter(r["day"] for r in sql(lake, f"SELECT CAST(timezone('UTC', start_time) AS DATE) AS day "
                                                   f"FROM calls WHERE {DEMO_SQL} AND workflow = 'ticket-triage'"))  # fmt: skip
    assert per_call["2026-10-21"] == 331


def test_teams_and_non_token_lines_are_tagged(lake: str) -> None:
    rows = sql(lake, f"SELECT workflow, list(DISTINCT tags['team']) AS teams FROM calls WHERE {DEMO_SQL} GROUP BY 1")
    assert {r["workflow"]: r["teams"] for r in rows} == {
        "support-chat": ["support"], "ticket-triage": ["ops"], "nightly-digest": ["ops"],
        "kb-search": ["platform"], "eval-harness": ["platform"],
    }  # fmt: skip
    rows = sql(lake, f"SELECT compute_kind AS k, tags['workflow'] AS w, sum(billed_cost) AS c FROM charges "
                     f"WHERE {DEMO_SQL} AND service_provider_name = 'AWS' GROUP BY ALL ORDER BY 1, 2")  # fmt: skip
    # GPU: 22 weekdays, 35.5 h x $1.006; OpenSearch: 31 x 24 h x $0.036 = 26.784 (+ gp3 volume
    # 20 GB-Mo x $0.122 in daily slices); S3: 180 GB-Mo x $0.023 untagged
    got = {(r["k"], r["w"]): r["c"] for r in rows}
    assert got[("gpu_hours", "eval-harness")] == Decimal("35.713")
    assert got[("other", "kb-search")] == Decimal("26.784")
    assert got[("storage", "kb-search")] == Decimal("2.4399999994")
    assert got[("storage", None)] == Decimal("4.1400000001")
    assert got[("tokens", "nightly-digest")] == Decimal("52.3556737")


# --------------------------------------------------------------------------- the generator
@pytest.mark.slow
def test_generator_rewrites_identical_files(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_demo.py"), "--out", str(tmp_path)],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(p.relative_to(DEMO) for p in DEMO.rglob("*") if p.is_file() and p.suffix != ".md")
    assert made == kept
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (DEMO / rel).read_bytes(), rel
