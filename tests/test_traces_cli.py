"""Issue acceptance through the real entry point: the real trace samples ingest, and
`costlab sql "select workflow, count(*), sum(input_tokens) from calls group by 1"` answers with
the counts computed by hand from the files (see each source's test for the per-file arithmetic)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from costlab.cli import app

FIX = Path(__file__).resolve().parent / "fixtures"


def test_calls_by_workflow_over_real_trace_samples(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    runner = CliRunner()
    paths = [FIX / "claude_code" / "records", FIX / "langsmith" / "real", FIX / "langfuse" / "real",
             FIX / "otlp" / "opentelemetry-proto_examples_trace.json"]
    r = runner.invoke(app, ["ingest", *map(str, paths), "--lake", lake, "-q"])
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["sql", "select source_format, count(*) as calls, sum(input_tokens) as input, "
                            "sum(output_tokens) as output from calls group by 1 order by 1", "--lake", lake, "-f", "json"])
    got = {row["source_format"]: (row["calls"], row["input"], row["output"]) for row in json.loads(r.stdout)}
    # Claude Code records: 20 replies with usage, one written in two files -> 19 calls
    # (479,930 input / 2,505 output), plus one reply without usage (NULL, not zero)
    assert got["claude_code"] == (20, 479930, 2505)
    # LangSmith python + js: (9 + 43 + 9 + 9) x 2 input; 9+1901+9+9 + 9+2497+9+9 output; the two
    # stream-without-usage runs are estimated with tiktoken at 9 / 9
    assert got["langsmith"] == (8, 140, 4452)
    r = runner.invoke(app, ["sql", "select workflow, count(*), sum(input_tokens) from calls group by 1",
                            "--lake", lake, "-f", "csv"])
    assert r.exit_code == 0
    rows = r.stdout.splitlines()
    assert rows[0] == "workflow,count_star(),sum(input_tokens)"
    assert "ChatOpenAI,8,140" in rows
