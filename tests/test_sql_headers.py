"""Every SQL file in queries/ keeps the header grammar of queries/README.md (`costlab.sql.header_fields`):
a title line, then ``-- purpose:``, ``-- parameters:``, ``-- grain:`` (and optionally ``allowed``,
``columns``, ``notes``), each spelled so, with continuation lines indented; the parameters a header
declares are exactly the ``$name`` placeholders its SQL uses, includes expanded."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from costlab.errors import CostlabError
from costlab.sql import (
    analyzer_queries,
    declared_parameters,
    expand_includes,
    header_fields,
    list_queries,
    load_sql,
    queries_root,
    read_sql,
)

ROOT = Path(__file__).resolve().parent.parent / "queries"
FILES = sorted(str(p.relative_to(ROOT))[:-4] for p in ROOT.rglob("*.sql"))
PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")


def used_parameters(name: str) -> set[str]:
    """The ``$name`` placeholders of ``queries/<name>.sql``, includes expanded: by DuckDB's parser
    for a statement, by pattern for a fragment (a piece of a statement, not one on its own)."""
    sql = load_sql(name)
    if name.startswith("fragments/"):
        body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
        return set(PLACEHOLDER.findall(body))
    return {p for st in duckdb.extract_statements(sql) for p in st.named_parameters}


def test_the_files_checked_are_the_ones_the_loader_reads() -> None:
    assert Path(str(queries_root())) == ROOT
    assert len(FILES) > 30
    assert {f for f in FILES if "/" not in f} == set(list_queries())
    assert {f for f in FILES if f.startswith("analyze/")} == set(analyzer_queries())
    assert {f.split("/")[0] for f in FILES if "/" in f} == {"analyze", "views", "fragments"}


@pytest.mark.parametrize("name", FILES)
def test_header_has_each_key_spelled_right(name: str) -> None:
    title, fields = header_fields(read_sql(name), name)
    assert title and not title.startswith(("purpose:", "parameters:", "grain:"))
    assert set(fields) >= {"purpose", "parameters", "grain"}


@pytest.mark.parametrize("name", FILES)
def test_declared_parameters_are_the_ones_used(name: str) -> None:
    declared = declared_parameters(read_sql(name), name)
    used = used_parameters(name)
    assert used - declared == set(), f"queries/{name}.sql uses parameters its header does not declare"
    assert declared - used == set(), f"queries/{name}.sql declares parameters its SQL does not use"
    if not declared:
        assert header_fields(read_sql(name), name)[1]["parameters"][0].startswith("none"), name


@pytest.mark.parametrize("name", FILES)
def test_allowed_lines_name_declared_parameters(name: str) -> None:
    fields = header_fields(read_sql(name), name)[1]
    declared = declared_parameters(read_sql(name), name)
    for value in fields.get("allowed", []):
        m = re.fullmatch(r"([A-Za-z_]\w*) = (\S+( \| \S+)*)", value)
        assert m, (name, value)
        assert m.group(1) in declared, (name, value)


def test_includes_are_expanded_on_every_path() -> None:
    """The cost_by_* queries share their period filter and group currency (fragments/cost_groups):
    what DuckDB, the Spark transpiler and `costlab export sql` read has no include line left."""
    from costlab.engines.sql_export import export_sql

    for name in [*list_queries(), *analyzer_queries()]:
        assert "-- include:" not in load_sql(name) and "{{" not in load_sql(name), name
    text = load_sql("cost_by_team")
    assert "FROM calls_attributed" in text and "GROUP BY g.team) AS k" in text
    files = export_sql("spark")
    assert not [f for f, t in files.items() if "include:" in t or "{{" in t]
    assert "20_allocation.sql" in files and any(f.endswith("_analyze_caching_calls.sql") for f in files)


# -- the grammar refuses what it should -----------------------------------------------------------

GOOD = """-- A title.
-- purpose: what it is for,
--   continued.
-- parameters: $since TIMESTAMPTZ or NULL (inclusive)
-- grain: one row per day.
SELECT $since AS s
"""


def test_a_good_header_parses() -> None:
    title, fields = header_fields(GOOD)
    assert title == "A title."
    assert fields == {
        "purpose": ["what it is for, continued."],
        "parameters": ["$since TIMESTAMPTZ or NULL (inclusive)"],
        "grain": ["one row per day."],
    }
    assert declared_parameters(GOOD) == {"since"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("-- parameters:", "-- params:"), "'params' is not a header key"),
        (GOOD.replace("-- purpose:", "-- purpse:"), "'purpse' is not a header key"),
        (GOOD.replace("-- grain: one row per day.\n", ""), "no 'grain' line"),
        (GOOD.replace("--   continued.", "-- continued."), "no key"),
        (GOOD.replace("-- A title.\n", ""), "must start with a title line"),
        (GOOD.replace("-- grain: one row per day.", "-- grain: one row.\n-- grain: again."), "'grain' given twice"),
        ("-- A title.\n--   stray\n-- purpose: x\n", "continuation line before the first key"),
        (GOOD.replace("one row per day.", ""), "'grain' is empty"),
    ],
)
def test_a_bad_header_is_refused(text: str, message: str | None) -> None:
    if message is None:
        header_fields(text)
        return
    with pytest.raises(CostlabError, match=message):
        header_fields(text)


def test_include_substitutions_must_match_the_slots() -> None:
    ok = "WITH\n-- include: fragments/cost_groups | columns = * | groups = g.workflow | marks = false\nSELECT 1 FROM c"
    assert "GROUP BY g.workflow) AS k" in expand_includes(ok)
    assert "WHERE (false)" in expand_includes(ok)
    with pytest.raises(CostlabError, match="takes columns, groups, marks; given columns"):
        expand_includes("-- include: fragments/cost_groups | columns = *\n")
    with pytest.raises(CostlabError, match="given colour, columns, groups, marks"):
        expand_includes("-- include: fragments/cost_groups | columns = * | groups = g.x | marks = true | colour = red\n")
    with pytest.raises(CostlabError, match="bad substitution"):
        expand_includes("-- include: fragments/cost_groups | columns *\n")
    with pytest.raises(CostlabError, match="bad include line"):
        expand_includes("-- include: views/calls\n")
    with pytest.raises(CostlabError, match="fragments/call_totals includes itself"):
        expand_includes("-- include: fragments/call_totals\n", "fragments/call_totals")
