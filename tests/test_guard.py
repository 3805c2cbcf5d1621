"""Let no one in (issue 13 §2, §3): every way in that the attacker review found, one test per class.

* named queries come from the catalogue only and run through the `costlab sql` guard;
* ``costlab sql --engine spark`` cannot call Java or reach outside the lake (pure parsing here;
  tests/test_spark.py runs it on a live session);
* ``Workspace.sql`` / ``Workspace.rows`` are read-only unless ``write=True``;
* terminal, Markdown and error output print data as text, control characters escaped;
* ``--redact`` hashes e-mail addresses in file and folder names too, and still skips unchanged files;
* ``report -f csv`` neutralises formula-like text cells; numbers stay numbers;
* named-query parameters are checked against their ``-- allowed:`` sets.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import test_safety
from test_safety import EMAIL, _attr, _span, lake_strings, run, snapshot
from toysource import write

from costlab.errors import CostlabError, QueryNotFoundError, ReadOnlyError
from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.sql import analyzer_queries, list_queries, load_sql, queries_root
from costlab.workspace import Workspace, run_query

toy_lake = test_safety.toy_lake  # the fixture: two toy charges, 1.50 + 2.25 = 3.75 USD
ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "sample_data" / "demo"


# -- named queries: the catalogue only, through the guard ------------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file read with Path.read_text / read_bytes from now on (to prove one was not)."""
    seen: list[str] = []
    for method in ("read_text", "read_bytes"):
        original = getattr(pathlib.Path, method)

        def spy(self: Path, *a: Any, _original: Any = original, **k: Any) -> Any:
            seen.append(str(self))
            return _original(self, *a, **k)

        monkeypatch.setattr(pathlib.Path, method, spy)
    return seen


def _planted(tmp_path: Path) -> Path:
    """A .sql file outside queries/ that writes a file and prints /etc/passwd."""
    out = tmp_path / "pwned.csv"
    planted = tmp_path / "planted" / "evil.sql"
    planted.parent.mkdir()
    planted.write_text(f"COPY (SELECT 'x' AS a) TO '{out}';\nSELECT * FROM read_csv('/etc/passwd');\n")
    return planted


def test_query_names_outside_the_catalogue_are_refused_unread(tmp_path: Path, toy_lake: Path, reads: list[str]) -> None:
    planted = _planted(tmp_path)
    stem = str(planted)[: -len(".sql")]
    names = [
        os.path.relpath(stem, str(queries_root())),  # ../../../tmp/.../planted/evil
        stem,  # absolute
        "views/calls",  # internal: loaded by code only
        "fragments/token_cost",
        "views/../allocation",
        "./allocation",
        "allocation/",
        "",
    ]
    before = snapshot(tmp_path)
    reads.clear()  # snapshot read every file
    for name in names:
        code, out, err = run("query", "--lake", str(toy_lake), "--", name)
        assert code == 1, (name, out, err)
        assert err.startswith("Error: no query named ") and err.count("\n") == 1, (name, err)
        assert "root:" not in out + err
        for call in (
            lambda n=name: run_query(Lake(toy_lake), n),
            lambda n=name: Workspace(toy_lake, config={}).query(n),
        ):
            with pytest.raises(QueryNotFoundError):
                call()
    with pytest.raises(QueryNotFoundError):  # before any Spark session is started
        Workspace(toy_lake, engine="spark").query(names[0], {})
    assert not [r for r in reads if r.startswith(str(planted.parent))], "the planted file was read"
    assert snapshot(tmp_path) == before  # nothing written (pwned.csv absent)


@pytest.fixture
def planted_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """queries/ copied to a temp folder with planted named queries that write, attach and read
    files outside the lake: what a tampered install or a bad contribution could ship."""
    root = tmp_path / "queries"
    shutil.copytree(queries_root(), root)  # type: ignore[arg-type]
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    (root / "evil_copy.sql").write_text(f"-- planted\nCOPY (SELECT 1 AS a) TO '{tmp_path / 'pwned.csv'}';\n")
    (root / "evil_attach.sql").write_text(f"-- planted\nATTACH '{tmp_path / 'x.duckdb'}' AS x;\n")
    (root / "evil_write_then_read.sql").write_text(
        f"-- planted\nSELECT 1 AS a;\nCOPY (SELECT 1 AS a) TO '{tmp_path / 'pwned2.csv'}';\n"
    )
    (root / "evil_read.sql").write_text(f"-- planted\nSELECT * FROM read_csv('{secret}');\n")
    monkeypatch.setattr("costlab.sql.queries_root", lambda: root)
    return root


def test_named_queries_run_through_the_read_only_guard(tmp_path: Path, toy_lake: Path, planted_catalogue: Path) -> None:
    assert {"evil_copy", "evil_attach", "evil_read"} <= set(list_queries())
    before = snapshot(tmp_path)
    for name in ("evil_copy", "evil_attach", "evil_write_then_read"):
        code, out, err = run("query", name, "--lake", str(toy_lake))
        assert code == 1 and "read-only" in err and err.count("\n") == 1, (name, err)
        for call in (
            lambda n=name: run_query(Lake(toy_lake), n),
            lambda n=name: Workspace(toy_lake, config={}).query(n),
            lambda n=name: Workspace(toy_lake, engine="duckdb").query(n, {}),
            lambda n=name: Workspace(toy_lake, engine="spark").query(n, {}),  # refused before Spark starts
        ):
            with pytest.raises(ReadOnlyError):
                call()
    # a SELECT is allowed, but runs on the locked-down connection: outside the lake is refused
    code, out, err = run("query", "evil_read", "--lake", str(toy_lake))
    assert code == 1 and err.startswith("Error: query 'evil_read' failed") and "hunter2" not in out + err, err
    with pytest.raises(CostlabError, match="failed: Permission Error"):
        Workspace(toy_lake, config={}).query("evil_read")
    assert snapshot(tmp_path) == before
    # the real queries in the same catalogue still run: 1.50 + 2.25 = 3.75 billed
    code, out, err = run("query", "spend_by_provider_month", "--lake", str(toy_lake), "-f", "json")
    assert code == 0, err
    assert sum(Decimal(str(r["billed_cost"])) for r in json.loads(out)) == Decimal("3.75")


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("demo") / "lake"
    res = ingest([DEMO / "billing", DEMO / "traces"], lake=lake)
    assert not res.failed
    return lake


#: catalogue queries that read tables only their analyzer (or `report --metrics`) creates: `costlab
#: query` cannot run them alone, before or after the guard (a missing-table error, not a refusal)
NEEDS_ANALYZER = {"unit_costs"}
ALLOCATION = {"grain": "month", "policy": "proportional", "token_policy": "traced"}


def test_every_catalogue_query_runs_guarded_with_the_same_rows(demo_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard refuses none of costlab's own queries and changes no answer: each gives the
    same rows as on an unrestricted connection."""
    from costlab.sql import bind_parameters, frame_of

    monkeypatch.setenv("COSTLAB_CONFIG", str(DEMO / "costlab.toml"))
    lake = Lake(demo_lake)
    ran = []
    for name in list_queries():
        sql = load_sql(name)
        params = {k: v for k, v in ALLOCATION.items() if f"${k}" in sql}
        args = [x for k, v in params.items() for x in ("-p", f"{k}={v}")]
        code, out, err = run("query", name, *args, "--lake", str(demo_lake), "-f", "json")
        if name in NEEDS_ANALYZER:
            assert code == 1 and "does not exist" in err and "read-only" not in err, (name, err)
            continue
        assert code == 0, (name, err)
        guarded = run_query(lake, name, params)
        with Workspace(lake).connect() as con:  # unrestricted
            free = frame_of(con, sql, bind_parameters(name, sql, params))
        assert guarded.columns == free.columns, name
        assert sorted(map(repr, guarded.rows())) == sorted(map(repr, free.rows())), name
        ran.append(name)
    assert {"allocation", "allocation_check", "cost_by_workflow", "reconciliation_summary", "export_focus"} <= set(ran)
    assert len(ran) == len(list_queries()) - len(NEEDS_ANALYZER)


# -- §3: parameter values are checked --------------------------------------------------------------


def test_allocation_policy_typo_is_an_error(toy_lake: Path) -> None:
    code, out, err = run("query", "allocation", "-p", "policy=proportinal", "--lake", str(toy_lake))
    assert code == 1 and out == ""
    assert err == (
        "Error: query 'allocation': policy='proportinal' is not allowed; "
        "use one of proportional, even, tag, none\n"
    )
    code, out, err = run("query", "allocation_check", "-p", "grain=week", "-p", "policy=even",
                         "-p", "token_policy=traced", "--lake", str(toy_lake))  # fmt: skip
    assert code == 1 and err == "Error: query 'allocation_check': grain='week' is not allowed; use one of month, day\n"
    # left out: not silently NULL (which allocated nothing), but named with its values
    code, out, err = run("query", "allocation", "-p", "grain=month", "-p", "policy=even", "--lake", str(toy_lake))
    assert code == 1 and err == (
        "Error: query 'allocation' needs token_policy: one of traced, proportional (-p token_policy=VALUE)\n"
    )
    with pytest.raises(CostlabError, match="policy='tagged' is not allowed"):
        run_query(Lake(toy_lake), "allocation", {**ALLOCATION, "policy": "tagged"})
    with pytest.raises(CostlabError, match="policy='tagged' is not allowed"):  # checked before Spark starts
        Workspace(toy_lake, engine="spark").query("allocation", {**ALLOCATION, "policy": "tagged"})
    # all three given: runs; the toy bill has no workflow, so 1.50 + 2.25 = 3.75 is unattributed
    code, out, err = run("query", "allocation", *[f"-p{k}={v}" for k, v in ALLOCATION.items()], "--lake", str(toy_lake), "-f", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["workflow"] for r in rows} == {"unattributed"}
    assert sum(Decimal(str(r["amount"])) for r in rows) == Decimal("3.75")


def test_allowed_values_are_the_allocation_options() -> None:
    """The header's sets are the ones `costlab report` and `costlab.money.allocation` accept."""
    from costlab.money import allocation
    from costlab.sql import allowed_values, load_sql

    for name in ("allocation", "allocation_check"):
        assert allowed_values(load_sql(name)) == {
            "grain": allocation.GRAINS,
            "policy": allocation.POLICIES,
            "token_policy": allocation.TOKEN_POLICIES,
        }
    # every query taking one of these parameters declares its set
    for name in list_queries():
        sql = load_sql(name)
        for param in ("grain", "policy", "token_policy"):
            if f"${param}" in sql:
                assert param in allowed_values(sql), (name, param)


# -- Spark: no Java, nothing outside the lake (the guard is pure parsing) ------------------------------

JAVA = ["java_method", "reflect", "try_reflect"]
#: each call wrapped the ways an attacker hides it: case, quoting, comments, subquery, CTE,
#: lambda, nested call, WHERE, ORDER BY, set operation
SPARK_WRAPPERS = [
    "SELECT {f}('java.lang.System', 'getenv', 'HOME')",
    "SELECT {F}('java.lang.System', 'getenv', 'HOME')",
    'SELECT "{f}"(\'java.lang.System\', \'getenv\', \'HOME\')',
    "SELECT {f} /* c */ ('java.lang.System', 'getenv', 'HOME')",
    "SELECT * FROM (SELECT {f}('java.lang.System', 'getenv', 'HOME') AS h) AS s",
    "WITH c AS (SELECT {f}('java.lang.System', 'setProperty', 'a', 'b') AS h) SELECT * FROM c",
    "SELECT list_transform(['HOME'], x -> {f}('java.lang.System', 'getenv', x))",
    "SELECT upper(coalesce({f}('java.lang.System', 'getenv', 'HOME'), ''))",
    "SELECT count(*) FROM calls WHERE {f}('java.lang.System', 'getenv', 'HOME') IS NOT NULL",
    "SELECT workflow FROM calls ORDER BY {f}('java.lang.System', 'getenv', workflow)",
    "SELECT 1 UNION ALL SELECT length({f}('java.lang.System', 'getenv', 'HOME'))",
]


def _spark_check(sql: str, tables: list[str] | None = None) -> None:
    """What `SparkConnection.read_only` does before Spark sees a statement, without Spark."""
    from costlab.engines.spark_guard import check_spark_sql
    from costlab.engines.transpile import transpile
    from costlab.sql import check_read_only

    check_read_only(sql)
    for statement in transpile(sql, "spark", {}):
        check_spark_sql(statement, tables)


@pytest.mark.parametrize("function", JAVA)
@pytest.mark.parametrize("wrapper", SPARK_WRAPPERS)
def test_spark_refuses_java_reflection(function: str, wrapper: str) -> None:
    with pytest.raises(ReadOnlyError, match="calls Java methods"):
        _spark_check(wrapper.format(f=function, F=function.upper()), ["calls"])


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT current_user()", "the user"),
        ("SELECT user", "the user"),
        ("SELECT session_user", "the user"),
        ("SELECT from_protobuf(x, 'M', '/etc/passwd') FROM calls", "descriptor file"),
        ("SELECT xpath_string('<a/>', '//a') FROM calls", "XML"),
        ("SELECT * FROM python_worker_logs()", "Python workers"),
        ("SELECT system.builtin.upper('a')", "qualified function"),
        ("SELECT builtin.upper('a')", "qualified function"),
        ("SELECT my_jar_udf(workflow) FROM calls", "not one of Spark's built-in"),
        ('SELECT * FROM parquet."/etc/passwd"', "outside the lake"),
        ("SELECT * FROM spark_catalog.default.secrets", "outside the lake"),
        ("SELECT * FROM global_temp.v", "outside the lake"),
        ("SELECT * FROM secrets", "not one of the lake's views"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not one of Spark's built-in"),
        ("SELECT * FROM read_files('/etc')", "not one of Spark's built-in"),
    ],
)
def test_spark_refuses_the_way_out(sql: str, why: str) -> None:
    with pytest.raises(ReadOnlyError, match=why):
        _spark_check(sql, ["calls"])


@pytest.mark.parametrize(
    ("statement", "why"),
    [  # Spark text the transpiler would never write, checked as Spark SQL
        ("SELECT TRANSFORM(workflow) USING 'cat /etc/passwd' AS (x) FROM calls", "runs a program"),
        ("SELECT IDENTIFIER('java_method')('java.lang.System', 'getenv', 'HOME')", "cannot check"),
        ("SELECT `java_method`('java.lang.System', 'getenv', 'HOME')", "calls Java"),
        ("SELECT 1 AS reflect", "calls Java"),
        ("SET spark.sql.runSQLOnFiles=true", "only queries"),
        ("ADD JAR /tmp/x.jar", "only queries"),
        ("CREATE FUNCTION f AS 'x.Y' USING JAR '/tmp/x.jar'", "only queries"),
        ("LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE calls", "only queries"),
        ("CREATE TABLE t LOCATION '/etc' AS SELECT 1", "only queries"),
    ],
)
def test_spark_guard_on_spark_text(statement: str, why: str) -> None:
    from costlab.engines.spark_guard import check_spark_sql

    with pytest.raises(ReadOnlyError, match=why):
        check_spark_sql(statement, ["calls"])


def test_spark_guard_lets_the_lake_through() -> None:
    """Ordinary questions and every named query (transpiled as the Spark engine runs them) pass."""
    from costlab.engines.spark_guard import check_spark_sql
    from costlab.engines.transpile import Macro, transpile
    from costlab.sql import bind_parameters

    for ok in (
        "SELECT workflow, count(*) AS n, sum(cost) AS c FROM calls GROUP BY 1 ORDER BY 2 DESC",
        "WITH w AS (SELECT workflow, input_file_name() AS f FROM calls) SELECT * FROM w",
        "SELECT list_transform([1, 2], x -> x + 1), 'reflect' AS said, user_id AS \"user\" FROM calls",
    ):
        _spark_check(ok, ["calls"])
    macros = {"allocation_rows": Macro(load_sql("views/allocation_rows"))}
    for name in list_queries() + analyzer_queries():
        sql = load_sql(name)
        params = bind_parameters(name, sql, {k: v for k, v in ALLOCATION.items() if f"${k}" in sql})
        for statement in transpile(sql, "spark", params, macros):
            check_spark_sql(statement)  # tables: checked live in tests/test_spark.py


# -- Workspace.sql / Workspace.rows from Python--------------------------------------------------------


def test_workspace_sql_is_read_only_unless_asked(tmp_path: Path, toy_lake: Path) -> None:
    lake = Lake(toy_lake)
    out = tmp_path / "out.csv"
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    before = snapshot(tmp_path)
    ws = Workspace(lake)
    for call in (ws.sql, ws.rows):
        for statement in (f"COPY (SELECT 1 AS a) TO '{out}'", f"ATTACH '{tmp_path / 'x.duckdb'}' AS x", "DROP VIEW calls"):
            with pytest.raises(ReadOnlyError, match=r"read-only.*write=True"):
                call(statement)
        with pytest.raises(duckdb.PermissionException):  # SELECTs are locked to the lake folder
            call(f"SELECT * FROM read_csv('{secret}')")
    assert snapshot(tmp_path) == before
    assert Workspace(lake).rows("SELECT sum(billed_cost) FROM charges") == [(Decimal("3.75"),)]  # 1.50 + 2.25
    assert Workspace(lake).sql("SELECT count(*) AS n FROM charges")["n"].to_list() == [2]
    # the explicit opt-in: the caller's own SQL, with files
    Workspace(lake).sql(f"COPY (SELECT sum(billed_cost) AS total FROM charges) TO '{out}' (HEADER)", write=True)
    assert out.read_text().splitlines() == ["total", "3.750000000000"]
    assert Workspace(lake).rows(f"SELECT * FROM read_csv('{secret}')", write=True) == [("hunter2",)]


# -- data is text, not markup -----------------------------------------------------------------------

#: markup, a link, an emoji code, colour escapes and a right-to-left override
HOSTILE = "[/x] [link=http://e]x[/link] :x: \x1b[31mred\x1b[0m \u202eevil"
#: how it must print in a terminal table or error line
SHOWN = "[/x] [link=http://e]x[/link] :x: \\x1b[31mred\\x1b[0m \\u202eevil"
#: and in Markdown (punctuation backslashed, so the escapes' backslashes are too)
MD_SHOWN = "\\[/x\\] \\[link=http://e\\]x\\[/link\\] :x: \\\\x1b\\[31mred\\\\x1b\\[0m \\\\u202eevil"


def _traces(path: Path, workflows: list[str]) -> Path:
    """OTLP/JSON with one gpt-4o-mini call (1000 in, 100 out) per workflow name (test_safety's shape)."""
    spans = [_span(n, wf, "s", "u", (1000, 100)) for n, wf in enumerate(workflows, 1)]
    doc = {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "bot")]},
                              "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}  # fmt: skip
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder, so tables holding a path stay narrower than the 200 columns of a pipe."""
    path = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def markup_lake(short_tmp: Path) -> Path:
    """Two traced calls of workflow HOSTILE, and a toy bill whose second line has the cost
    HOSTILE (quarantined) in a folder and file whose names hold markup and control characters."""
    traces = _traces(short_tmp / "t.json", [HOSTILE, HOSTILE])
    folder = short_tmp / "["
    folder.mkdir()
    bill = write(folder / "x] :x: \x1b[31m\u202e.csv", [(1, "1.50", "2025-06-01"), (2, HOSTILE, "2025-06-01")])
    lake = short_tmp / "lake"
    res = ingest([traces, bill], lake=lake)
    assert not res.failed and res.rows_quarantined == 1 and res.rows_written == 3, res
    return lake


FILE_SHOWN = "[/x] :x: \\x1b[31m\\u202e.csv"


def _inert(text: str) -> None:
    """No raw control or override character, no emoji, no link escape reached the output."""
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text)
    assert "❌" not in text and "\x1b]8;" not in text


def test_quarantine_sql_query_runs_print_data_as_text(markup_lake: Path) -> None:
    lake = str(markup_lake)
    code, out, err = run("quarantine", "--lake", lake)
    assert code == 0, err
    _inert(out)
    assert f"not a number: '{SHOWN[:40]}" in out  # the reason quotes the value (cut short)
    assert "\\u001b[31mred\\u001b[0m" in out  # the raw line, as JSON text
    assert FILE_SHOWN in out  # source_file

    code, out, err = run("sql", "select workflow, count(*) AS n from calls group by 1", "--lake", lake)
    assert code == 0, err
    _inert(out)
    assert re.search(rf"{re.escape(SHOWN)} +│ 2", out), out
    code, out, err = run("sql", f"select '{HOSTILE}' AS \"{HOSTILE}\"", "--lake", lake)
    assert code == 0, err
    assert out.count(SHOWN) == 2  # the column name too

    code, out, err = run("query", "cost_by_workflow", "--lake", lake)
    assert code == 0, err
    _inert(out)
    assert SHOWN in out

    code, out, err = run("runs", "--lake", lake)
    assert code == 0, err
    _inert(out)
    code, out, err = run("sql", "select list_sort(flatten(list(files))) AS files from runs", "--lake", lake)
    assert code == 0, err
    _inert(out)
    assert "[/x] :x: \\u001b[31m\\u202e.csv" in out  # runs.files, a list shown as JSON


def test_sources_print_titles_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from costlab.ingest import registry
    from costlab.ingest.base import Source

    class Hostile(Source):
        name = "hostile"
        title = HOSTILE
        tables = ("charges",)
        row_key = "[/y]"

    registry.sources()  # the built-in sources first, then the planted one
    monkeypatch.setitem(registry._SOURCES, "hostile", Hostile)
    code, out, err = run("sources")
    assert code == 0, err
    _inert(out)
    assert re.search(rf"hostile +│ {re.escape(SHOWN)} +│ charges +│ \[/y\]", out), out


def test_reports_print_data_as_text(markup_lake: Path) -> None:
    code, out, err = run("report", "--lake", str(markup_lake), "--no-fail", "--no-findings")
    assert code == 0, err
    _inert(out)
    assert SHOWN in out, out
    code, out, err = run("report", "--lake", str(markup_lake), "--no-fail", "--no-findings", "-f", "markdown")
    assert code == 0, err
    _inert(out)
    assert f"| {MD_SHOWN} |" in out


def test_error_lines_escape_control_characters(short_tmp: Path) -> None:
    bad = short_tmp / "e\x1b[2Jx\u202e.csv"
    bad.write_text("not,a,known\nformat,at,all\n")
    code, out, err = run("ingest", str(bad), "--lake", str(short_tmp / "lake"), "-q")
    assert code == 1
    _inert(err)
    assert "e\\x1b[2Jx\\u202e.csv" in err and err.startswith("Error: ")


# -- --redact: file and folder names -----------------------------------------------------------------


def test_redact_hashes_emails_in_file_names_and_still_skips(tmp_path: Path) -> None:
    data = tmp_path / "exports" / "Carol.Smith@example.com"
    data.mkdir(parents=True)
    # 1.50 + 2.25 = 3.75 in the folder's file; one line with cost 'oops' is quarantined
    a = write(data / "bill.csv", [(1, "1.50", "2024-01-01"), (2, "2.25", "2024-01-02"), (3, "oops", "2024-01-03")])
    b = write(tmp_path / "exports" / "dave@example.org.csv", [(4, "10", "2024-01-05")])
    lake = tmp_path / "lake"
    first = ingest([tmp_path / "exports"], lake=lake, redact=True)
    assert not first.failed and first.rows_written == 3 and first.rows_quarantined == 1
    leaks = [(where, col, s) for where, col, s in lake_strings(lake) if EMAIL.search(s)]
    assert not leaks, leaks
    manifest = (lake / "_manifest.json").read_text()
    assert not EMAIL.search(manifest), manifest[:500]
    files = {r[0] for r in Workspace(lake).rows("SELECT DISTINCT source_file FROM charges UNION SELECT source_file FROM quarantine")}
    assert all("redacted:" in f for f in files) and len(files) == 2
    # unchanged files: skipped, nothing written, the lake as it was (the lock file names its holder)
    before = {k: v for k, v in snapshot(lake).items() if k != ".lock"}
    again = ingest([tmp_path / "exports"], lake=lake, redact=True)
    assert [f.status for f in again.files] == ["skipped", "skipped"] and again.rows_written == 0
    assert {k: v for k, v in snapshot(lake).items() if k != ".lock"} == before
    # a changed file is re-read and replaces its own earlier rows and quarantined lines, found by
    # its redacted name: 5.00 + 10 = 15 billed, the one bad line of the new version quarantined
    write(a, [(1, "5.00", "2024-01-01"), (5, "bad", "2024-01-03")])
    third = ingest([tmp_path / "exports"], lake=lake, redact=True)
    assert [f.status for f in third.files if f.path == str(a)] == ["ingested"] and not third.failed
    assert Workspace(lake).rows("SELECT sum(billed_cost), count(*) FROM charges") == [(Decimal("15"), 2)]
    assert Workspace(lake).rows("SELECT location FROM quarantine") == [("3",)]
    assert b.exists()


# -- CSV injection --------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://e","x")', "+1+1", "-2+3", "@SUM(A1)"]


@pytest.fixture
def formula_lake(tmp_path: Path) -> Path:
    """Traced calls of workflows named like formulas, and a bill that is one credit of -2.25."""
    (tmp_path / "d").mkdir()
    _traces(tmp_path / "d" / "t.json", FORMULAS)
    write(tmp_path / "d" / "credit.csv", [(1, "-2.25", "2025-06-01")])
    lake = tmp_path / "lake"
    assert not ingest([tmp_path / "d"], lake=lake).failed
    return lake


def _cells(text: str) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for section, _row, column, value in list(csv.reader(io.StringIO(text)))[1:]:
        out.setdefault((section, column), []).append(value)
    return out


def test_report_csv_neutralises_formulas(formula_lake: Path, tmp_path: Path) -> None:
    code, out, err = run("report", "--lake", str(formula_lake), "-f", "csv", "--no-fail", "--no-findings")
    assert code == 0, err
    cells = _cells(out)
    assert sorted(cells[("cost_by_workflow", "workflow")]) == sorted("'" + f for f in FORMULAS)
    assert cells[("headline", "billed")] == ["-2.25"]  # a negative amount stays a number
    assert not any(v.startswith(("=", "+", "@")) for v in (v for vs in cells.values() for v in vs))
    code, raw, err = run("report", "--lake", str(formula_lake), "-f", "csv", "--no-fail", "--no-findings", "--csv-raw")
    assert code == 0, err
    assert sorted(_cells(raw)[("cost_by_workflow", "workflow")]) == sorted(FORMULAS)
    # one CSV per table (a directory) too
    folder = tmp_path / "csv"
    code, _, err = run("report", "--lake", str(formula_lake), "-f", "csv", "-o", f"{folder}/", "--no-fail", "--no-findings")
    assert code == 0, err
    workflows = [r["workflow"] for r in csv.DictReader((folder / "cost_by_workflow.csv").open())]
    assert sorted(workflows) == sorted("'" + f for f in FORMULAS)
    # costlab sql -f csv is for programs: raw
    code, out, err = run("sql", "select workflow from calls", "--lake", str(formula_lake), "-f", "csv")
    assert code == 0, err
    assert sorted(r[0] for r in list(csv.reader(io.StringIO(out)))[1:]) == sorted(FORMULAS)


def test_csv_value_touches_text_only() -> None:
    from costlab.report.csvout import csv_value

    assert [csv_value(v) for v in (Decimal("-2.25"), -3, -1.5, "-2.25", "=1", "\tx", "\rx", "a=1", "")] == [
        "-2.25", "-3", "-1.5", "'-2.25", "'=1", "'\tx", "'\rx", "a=1", "",
    ]  # fmt: skip
    assert csv_value("=1", raw=True) == "=1"
