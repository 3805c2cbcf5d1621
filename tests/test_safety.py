"""Safety: `costlab sql` is read-only and cannot reach files outside the lake; command-line filters
reach SQL as parameters; ``--redact`` leaves no user id or e-mail address in the lake; reports
escape every string that came from data."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from toysource import write
from typer.testing import CliRunner

from costlab.cli import app
from costlab.ingest.run import ingest
from costlab.workspace import Workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # a crash, not a clean exit: show its traceback
    return r.exit_code, r.stdout, r.stderr


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (to prove nothing changed on disk)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def toy_lake(tmp_path: Path) -> Path:
    """A lake with two toy charges: 1.50 + 2.25 = 3.75 USD."""
    (tmp_path / "data").mkdir()
    data = write(tmp_path / "data" / "bill.csv", [(1, "1.50", "2024-01-01"), (2, "2.25", "2024-01-02")])
    lake = tmp_path / "lake"
    ingest([data], lake=lake)
    return lake


# -- costlab sql is read-only --------------------------------------------------------------------

REFUSED = [
    "INSERT INTO charges (billed_cost) VALUES (1)",
    "UPDATE charges SET billed_cost = 0",
    "DELETE FROM charges",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m() AS 1",
    "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
    "DROP VIEW calls",
    "ALTER VIEW calls RENAME TO c2",
    "COPY charges TO '{out}/charges.csv'",
    "COPY (SELECT 1) TO '{lake}/charges/evil.parquet' (FORMAT parquet)",
    "COPY charges FROM '/etc/hostname'",
    "EXPORT DATABASE '{out}/export'",
    "ATTACH '{out}/x.duckdb' AS x",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET threads",
    "USE memory",
    "PRAGMA version",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "WITH x AS (SELECT 1) INSERT INTO charges (billed_cost) SELECT * FROM x",
    "select 1; drop view calls",
    "select 1; COPY (SELECT 1) TO '{out}/x.csv'",
    "/* select */ DROP VIEW calls",
    "-- select 1\nDROP VIEW calls",
    "select 1 /* ; */ ; /* hidden */ drop view calls -- trailing",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/x.csv'",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
    "explain /* c */ analyze (format json) insert into charges (billed_cost) values (1)",
    "MERGE INTO charges USING (SELECT 1 AS a) s ON false WHEN NOT MATCHED THEN INSERT (billed_cost) VALUES (1)",
    "UPDATE EXTENSIONS",
    "",
    "   ;  ",
]

# Readable by the statement check but outside the lake: DuckDB refuses them at run time because
# `costlab sql` locks the connection to the lake folder (allowed_directories, no external access).
OUTSIDE = [
    "SELECT * FROM read_csv('{secret}')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('{secret}')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '{secret}'",
    "SELECT * FROM read_csv('{lake}/../secret.csv')",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SELECT * FROM 'https://example.com/x.csv'",
    "EXPLAIN ANALYZE SELECT * FROM read_csv('{secret}')",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_sql_refuses_writes(tmp_path: Path, toy_lake: Path, statement: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(tmp_path)
    code, stdout, stderr = run("sql", "--lake", str(toy_lake), "--", statement.format(out=out, lake=toy_lake))
    assert code == 1, (stdout, stderr)
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr + stdout
    assert snapshot(tmp_path) == before
    # the lake still answers with the original total: 1.50 + 2.25 = 3.75
    assert Workspace(toy_lake).rows("SELECT sum(billed_cost) FROM charges") == [(Decimal("3.75"),)]


@pytest.mark.parametrize("statement", OUTSIDE)
def test_sql_cannot_reach_files_outside_the_lake(tmp_path: Path, toy_lake: Path, statement: str) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    before = snapshot(tmp_path)
    code, stdout, stderr = run("sql", "--lake", str(toy_lake), "--", statement.format(secret=secret, lake=toy_lake))
    assert code == 1, (stdout, stderr)
    assert stderr.startswith("Error: ") and stderr.count("\n") == 1, stderr
    assert "hunter2" not in stdout + stderr
    assert snapshot(tmp_path) == before


def test_sql_reads_the_lake(toy_lake: Path) -> None:
    code, out, err = run("sql", "select count(*) AS n, sum(billed_cost) AS total from charges", "--lake", str(toy_lake), "-f", "json")
    assert code == 0, err
    assert json.loads(out, parse_float=Decimal) == [{"n": 2, "total": Decimal("3.75")}]
    # reading the lake's own files directly is allowed (they are inside the lake folder)
    code, out, err = run(
        "sql", f"select count(*) AS n from read_parquet('{toy_lake}/charges/**/*.parquet')", "--lake", str(toy_lake), "-f", "json"
    )
    assert code == 0, err
    assert json.loads(out) == [{"n": 2}]
    for ok in ("EXPLAIN SELECT * FROM calls", "EXPLAIN ANALYZE SELECT count(*) FROM charges", "select 1 AS a; select 2 AS a"):
        code, out, err = run("sql", ok, "--lake", str(toy_lake))
        assert code == 0, (ok, err)


# -- filters are parameters ----------------------------------------------------------------------

HOSTILE = ["'; drop view calls; --", "' OR 1=1 --", "2024-01-01' OR '1'='1", "$since", "\\x00"]


@pytest.mark.parametrize("value", HOSTILE)
def test_query_params_are_bound(toy_lake: Path, value: str) -> None:
    before = snapshot(toy_lake)
    code, out, err = run("query", "spend_by_provider_month", "-p", f"since={value}", "--lake", str(toy_lake))
    # an unreadable date is a usage error (exit 2), one line
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1, (code, out, err)
    assert "Traceback" not in out + err
    code, out, err = run("query", "spend_by_provider_month", "-p", f"bogus={value}", "--lake", str(toy_lake))
    assert code == 1 and "no parameter bogus" in err, err
    assert snapshot(toy_lake) == before


def test_query_params_filter_correctly(toy_lake: Path) -> None:
    # since=2024-01-02 keeps only the 2.25 line; until left out means no upper bound
    code, out, err = run(
        "query", "spend_by_provider_month", "-p", "since=2024-01-02", "--lake", str(toy_lake), "-f", "json"
    )
    assert code == 0, err
    rows = json.loads(out, parse_float=Decimal)
    assert [(r["billed_cost"], r["lines"]) for r in rows] == [(Decimal("2.25"), 1)]


@pytest.mark.parametrize("value", HOSTILE)
def test_report_dates_are_validated(toy_lake: Path, value: str) -> None:
    for opt in ("--since", "--until"):
        code, out, err = run("report", "--lake", str(toy_lake), opt, value, "-f", "json")
        assert code == 2 and err.startswith("Error: cannot read date"), (code, err)


# -- strings from data: hostile workflow, step, user and model names -------------------------------

EVIL_WORKFLOW = "<script>alert(1)</script>"
EVIL_STEP = "click](javascript:x) | a|b"
EVIL_USER = "<img src=x onerror=alert(1)>|u\nline2"
SQLI_WORKFLOW = "'; drop view calls; --"
OR_WORKFLOW = "' OR 1=1 --"


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _span(n: int, workflow: str, step: str, user: str, tokens: tuple[int, int]) -> dict[str, Any]:
    start = 1748779200000000000 + n * 1_000_000_000  # 2025-06-01T12:00:00Z + n s
    return {
        "traceId": f"{n:032x}",
        "spanId": f"{n:016x}",
        "parentSpanId": "",
        "name": step,
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 500_000_000),
        "attributes": [
            _attr("gen_ai.operation.name", "chat"),
            _attr("gen_ai.provider.name", "openai"),
            _attr("gen_ai.request.model", "gpt-4o-mini"),
            _attr("gen_ai.response.id", f"resp-{n}"),
            _attr("gen_ai.workflow.name", workflow),
            _attr("user.id", user),
            _attr("gen_ai.usage.input_tokens", tokens[0]),
            _attr("gen_ai.usage.output_tokens", tokens[1]),
        ],
        "status": {"code": 0},
    }


def hostile_otlp(path: Path) -> Path:
    """OTLP/JSON (constructed from the GenAI semconv shape of tests/fixtures/otlp) whose workflow,
    span name and user id are hostile strings."""
    spans = [
        _span(1, EVIL_WORKFLOW, EVIL_STEP, EVIL_USER, (1000, 100)),
        _span(2, EVIL_WORKFLOW, EVIL_STEP, EVIL_USER, (2000, 200)),
        _span(3, SQLI_WORKFLOW, "step\r\nwith | newline", "user@example.com", (300, 30)),
        _span(4, OR_WORKFLOW, "plain", "u-4", (400, 40)),
    ]
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "evil-bot")]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def evil_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    res = ingest([hostile_otlp(tmp_path / "data" / "evil.json")], lake=lake)
    assert not res.failed and res.rows_written == 4, res
    return lake


def test_hostile_names_are_data_not_sql(evil_lake: Path) -> None:
    """Workflow names reach every query as values: the totals per workflow are right and the
    analyzers (which filter by workflow) run."""
    got = dict(Workspace(evil_lake).rows("SELECT workflow, sum(input_tokens) FROM calls GROUP BY 1"))
    # by construction: evil workflow 1000 + 2000; the others one call each
    assert got == {EVIL_WORKFLOW: 3000, SQLI_WORKFLOW: 300, OR_WORKFLOW: 400}
    code, out, err = run("report", "--lake", str(evil_lake), "-f", "json", "--no-fail")
    assert code == 0, err
    rep = json.loads(out)
    wf = {r["workflow"]: r for r in _section_rows(rep, "cost_by_workflow")}
    assert set(wf) == {EVIL_WORKFLOW, SQLI_WORKFLOW, OR_WORKFLOW}
    assert wf[EVIL_WORKFLOW]["calls"] == 2 and wf[OR_WORKFLOW]["calls"] == 1
    code, out, err = run("analyze", "all", "--lake", str(evil_lake), "-f", "json")
    assert code == 0, err
    budget = f"workflow:{SQLI_WORKFLOW}=0.000001"
    code, out, err = run("report", "--lake", str(evil_lake), "-f", "json", "--budget", budget, "--fail-on", "none")
    assert code == 0, err
    assert Workspace(evil_lake).rows("SELECT count(*) FROM calls") == [(4,)]


def _section_rows(rep: dict[str, Any], key: str) -> list[dict[str, Any]]:
    sec = rep["sections"].get(key)
    assert sec is not None, f"no section {key} in the report: {list(rep['sections'])}"
    return [r if isinstance(r, dict) else dict(zip(sec["columns"], r, strict=True)) for r in sec["rows"]]


def _report(lake: Path, fmt: str, tmp_path: Path) -> str:
    out = tmp_path / f"report.{ {'markdown': 'md'}.get(fmt, fmt)}"
    code, stdout, err = run("report", "--lake", str(lake), "-f", fmt, "-o", str(out), "--no-fail")
    assert code == 0, err
    return out.read_text(encoding="utf-8")


def test_html_report_escapes_data(evil_lake: Path, tmp_path: Path) -> None:
    html = _report(evil_lake, "html", tmp_path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL_WORKFLOW not in html
    assert "<img src=x" not in html
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _tables(md: str) -> Iterator[list[str]]:
    block: list[str] = []
    for line in md.split("\n"):
        if line.startswith("|"):
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def test_markdown_report_escapes_data(evil_lake: Path, tmp_path: Path) -> None:
    md = _report(evil_lake, "markdown", tmp_path)
    assert "<script" not in md and "<img" not in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    tables = list(_tables(md))
    assert tables
    for table in tables:
        widths = {_unescaped_pipes(line) for line in table}
        assert len(widths) == 1, "a data string broke a table:\n" + "\n".join(table)
    # no line of a table was split by a newline inside a value
    assert not any(line.startswith("line2") for line in md.split("\n"))
    assert "alert(1)" in md  # the workflow is shown, escaped, not dropped


def test_csv_and_json_reports_keep_data_exact(evil_lake: Path, tmp_path: Path) -> None:
    text = _report(evil_lake, "csv", tmp_path)
    cells = list(csv.reader(io.StringIO(text)))
    assert cells and all(len(r) == len(cells[0]) for r in cells)
    values = {r[-1] for r in cells}
    assert {EVIL_WORKFLOW, SQLI_WORKFLOW, OR_WORKFLOW} <= values
    rep = json.loads(_report(evil_lake, "json", tmp_path))
    assert {r["workflow"] for r in _section_rows(rep, "cost_by_workflow")} == {EVIL_WORKFLOW, SQLI_WORKFLOW, OR_WORKFLOW}


# -- --redact ----------------------------------------------------------------------------------

REDACT_CORPUS = [
    "langfuse/constructed/traces_page.json",
    "langfuse/real/pydantic-ai-2025-06-06.trace.json",
    "litellm/spend_logs.jsonl",
    "otlp/genai_semconv.jsonl",
    "helicone/export.jsonl",
    "codex/constructed/malformed.jsonl",
    "azure/EA_ActualCost_Small.csv",
    "aws_cur/bedrock_cur2.csv",
    "langsmith/constructed/export_runs.jsonl",
    "claude_code/ccusage/test-transcript.jsonl",
]
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _corpus(tmp_path: Path) -> list[Path]:
    files = [FIXTURES / f for f in REDACT_CORPUS]
    # plus identities in quarantined lines: an OTLP line that is JSON but not a batch (raw kept as
    # JSON), and a broken Mooncake line (raw kept as text)
    otlp = tmp_path / "data" / "identities.jsonl"
    good = json.loads(hostile_otlp(tmp_path / "data" / "evil.json").read_text())
    (tmp_path / "data" / "evil.json").unlink()
    stray = {"resourceSpans": "none", "user.id": "carol-secret-id", "contact": "carol@example.org"}
    otlp.write_text(json.dumps(good) + "\n" + json.dumps(stray) + "\n")
    mooncake = tmp_path / "data" / "mooncake_ids.jsonl"
    head = (FIXTURES / "mooncake" / "synthetic_trace_head200.jsonl").read_text().splitlines()[:3]
    broken = '{"timestamp": 9, "user_id": "dave-secret-id", "mail": "dave@example.org", "input_length": '
    mooncake.write_text("\n".join([*head, broken]) + "\n")
    return [*files, otlp, mooncake]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def lake_strings(lake: Path) -> Iterator[tuple[str, str, str]]:
    """(file, column, text) for every string in every Parquet file of the lake (all tables,
    quarantine included, maps and lists walked), and the manifest."""
    import pyarrow.parquet as pq

    for f in sorted(lake.rglob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            for col, value in row.items():
                for s in _strings(value):
                    yield f.relative_to(lake).as_posix(), col, s


def test_redact_leaves_no_identity_in_the_lake(tmp_path: Path) -> None:
    files = _corpus(tmp_path)
    plain = ingest(files, lake=tmp_path / "plain")
    assert not plain.failed
    ids = {
        r[0]
        for r in Workspace(tmp_path / "plain").rows(
            "SELECT user_id FROM spans WHERE user_id IS NOT NULL "
            "UNION SELECT principal FROM charges WHERE principal IS NOT NULL"
        )
    }
    emails = {m for _, _, s in lake_strings(tmp_path / "plain") for m in EMAIL.findall(s)}
    # the corpus really holds identities: these are in the fixtures / the constructed lines
    assert {"u-7", "u-data", EVIL_USER, "user@example.com"} <= ids
    assert {"user@example.com", "carol@example.org", "dave@example.org"} <= emails
    ids |= {"carol-secret-id", "dave-secret-id"}

    red = ingest(files, lake=tmp_path / "red", redact=True)
    assert not red.failed and red.rows_written == plain.rows_written
    assert red.rows_quarantined == plain.rows_quarantined > 0
    leaks = []
    for where, col, s in lake_strings(tmp_path / "red"):
        if EMAIL.search(s):
            leaks.append((where, col, s[:120]))
        for i in ids:
            if s == i or (len(i) >= 3 and re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", s)):
                leaks.append((where, col, i))
    manifest = (tmp_path / "red" / "_manifest.json").read_text()
    assert not EMAIL.search(manifest)
    assert not leaks, leaks[:10]

    # stable: a token is sha256 of the value, first 12 hex digits, the same in every run
    got = {r[0] for r in Workspace(tmp_path / "red").rows("SELECT DISTINCT user_id FROM spans WHERE user_id IS NOT NULL")}
    assert "redacted:" + hashlib.sha256(b"u-7").hexdigest()[:12] in got
    again = ingest(files, lake=tmp_path / "red2", redact=True)
    assert not again.failed
    got2 = {r[0] for r in Workspace(tmp_path / "red2").rows("SELECT DISTINCT user_id FROM spans WHERE user_id IS NOT NULL")}
    assert got == got2 and all(g.startswith("redacted:") for g in got)
    # per-user grouping survives: the two calls of EVIL_USER share one token
    evil = "redacted:" + hashlib.sha256(EVIL_USER.encode()).hexdigest()[:12]
    assert Workspace(tmp_path / "red").rows("SELECT count(*) FROM calls WHERE user_id = $u", {"u": evil}) == [(2,)]
