"""Azure LLM inference trace 2023 -> spans (source `azure_llm_trace`).

Real data (CC-BY-4.0): fixtures/azure_llm_trace/*_head300.csv (header + first 300 rows of each
file) and the full files (fixtures/azure_llm_trace/AzureLLMInferenceTrace_{code,conv}.csv). Expected numbers from a one-off command
independent of costlab:

  python3 -c "import csv; r=list(csv.DictReader(open(F))); print(len(r),
      sum(int(x['ContextTokens']) for x in r), sum(int(x['GeneratedTokens']) for x in r))"
  code full: 8819 18059974 245896     conv full: 19366 22361870 4088665
  code head:  300   627529   7126     conv head:   300   270000   76870
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from costlab.ingest import detect, sources
from costlab.ingest.base import ParseContext, Sniff
from costlab.ingest.parse import parse_file
from costlab.workspace import Workspace

FIX = Path(__file__).parent / "fixtures"
DIR = FIX / "azure_llm_trace"
CODE = DIR / "AzureLLMInferenceTrace_code_head300.csv"
CONV = DIR / "AzureLLMInferenceTrace_conv_head300.csv"
FULL = DIR
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "real"


def _spans(path: Path, **config: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse_file(path, ctx=ParseContext(config=config))
    return parsed.table("spans"), parsed.bad


@pytest.mark.parametrize("path", [CODE, CONV])
def test_detect_own_fixtures_only(path: Path) -> None:
    assert detect(path).name == "azure_llm_trace"
    assert {n for n, c in sources().items() if c.detect(Sniff(path))} == {"azure_llm_trace"}


def test_detect_claims_no_other_file() -> None:
    cls = sources()["azure_llm_trace"]
    for root in [FIX, SAMPLES]:
        for f in root.rglob("*"):
            if (
                f.is_file()
                and f.suffix not in (".md", ".txt", ".py")
                and "AzureLLMInference" not in f.name
            ):
                assert not cls.detect(Sniff(f)), f


@pytest.mark.parametrize(
    ("path", "rows", "inp", "out"), [(CODE, 300, 627529, 7126), (CONV, 300, 270000, 76870)]
)
def test_head_numbers(path: Path, rows: int, inp: int, out: int) -> None:
    spans, bad = _spans(path)
    assert (len(spans), len(bad)) == (rows, 0)
    assert sum(s["input_tokens"] for s in spans) == inp
    assert sum(s["output_tokens"] for s in spans) == out


@pytest.mark.parametrize(
    ("name", "rows", "inp", "out"),
    [
        ("AzureLLMInferenceTrace_code.csv", 8819, 18059974, 245896),
        ("AzureLLMInferenceTrace_conv.csv", 19366, 22361870, 4088665),
    ],
)
def test_full_files(name: str, rows: int, inp: int, out: int) -> None:
    spans, bad = _spans(FULL / name)
    assert (len(spans), len(bad)) == (rows, 0)
    assert (sum(s["input_tokens"] for s in spans), sum(s["output_tokens"] for s in spans)) == (
        inp,
        out,
    )


def test_mapping() -> None:
    spans, _ = _spans(CODE)
    s = spans[0]
    assert (s["trace_id"], s["span_id"], s["workflow"]) == (
        "AzureLLMInferenceTrace_code_head300",
        "2",
        "AzureLLMInferenceTrace_code_head300",
    )
    # "2023-11-16 18:17:03.9799600": naive = UTC, 7th digit dropped
    assert s["start_time"] == datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=UTC)
    assert (s["input_tokens"], s["output_tokens"]) == (4808, 10)
    assert (s["span_kind"], s["usage_scope"], s["usage_source"]) == ("llm", "self", "reported")
    assert s.get("prefix_hashes") is None and s["provider"] is None
    spans, _ = _spans(
        CODE, azure_llm_provider="azure", azure_llm_model="gpt-4", azure_llm_workflow="code"
    )
    assert {(s["provider"], s["model"], s["workflow"]) for s in spans} == {
        ("azure", "gpt-4", "code")
    }


def test_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:03.9799600,10,2\n"
        "not a time,1,1\n"
        "2023-11-16 18:17:04.0000000,-5,1\n"
        "2023-11-16 18:17:05.0000000,1.5,1\n"
        "2023-11-16 18:17:06.0000000,1\n"
        ",1,1\n"
    )
    spans, bad = _spans(f)
    assert [s["span_id"] for s in spans] == ["2"]
    assert [(b.location, b.reason) for b in bad] == [
        ("3", "not a timestamp: 'not a time'"),
        ("4", "contexttokens must be a non-negative integer, found '-5'"),
        ("5", "not an integer: '1.5'"),
        ("6", "expected 3 fields, found 2"),
        ("7", "row has no TIMESTAMP"),
    ]


def test_lake_end_to_end(lake_dir: Path) -> None:
    from costlab.ingest.run import ingest
    from costlab.lake import Lake

    res = ingest([CODE, CONV], lake=lake_dir)
    assert not res.failed and res.rows_quarantined == 0
    lake = Lake(lake_dir)
    assert Workspace(lake).rows(
        "SELECT workflow, count(*), sum(input_tokens), sum(output_tokens) FROM calls "
        "GROUP BY workflow ORDER BY workflow"
    ) == [
        ("AzureLLMInferenceTrace_code_head300", 300, 627529, 7126),
        ("AzureLLMInferenceTrace_conv_head300", 300, 270000, 76870),
    ]
    again = ingest([CODE, CONV], lake=lake_dir)
    assert again.rows_written == 0
    assert Workspace(lake).rows("SELECT count(*) FROM spans") == [(600,)]
