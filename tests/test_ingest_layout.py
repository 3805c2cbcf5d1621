"""The ingest package keeps one shape: one registry, public module names, no borrowed privates,
and every source module documents the same sections in the same order."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from costlab.ingest import registry, sources

INGEST = Path(__file__).resolve().parents[1] / "costlab" / "ingest"
SECTIONS = ["Detect", "Parse", "Normalise", "Row key", "Quirks"]


def test_every_builtin_source_comes_from_the_registry_list() -> None:
    modules = {cls.__module__.rsplit(".", 1)[-1] for cls in sources().values()}
    assert modules - {"toysource"} == set(registry.BUILTIN_MODULES)
    for module in registry.BUILTIN_MODULES:
        assert (INGEST / f"{module}.py").is_file()


def test_source_modules_document_the_same_sections_in_order() -> None:
    for module in registry.BUILTIN_MODULES:
        doc = importlib.import_module(f"costlab.ingest.{module}").__doc__ or ""
        found = re.findall(r"^(Detect|Parse|Normalise|Row key|Quirks):", doc, re.M)
        assert found == SECTIONS, module


def test_module_names_are_public_and_no_private_name_is_imported() -> None:
    for path in sorted(INGEST.glob("*.py")):
        if path.name == "run.py":
            continue  # its lake helpers (`_q`, `_sql_list`) are for the lake to make public
        assert path.name == "__init__.py" or not path.name.startswith("_"), path.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                names = [node.module or "", *(a.name for a in node.names)]
                private = [n for n in names for part in n.split(".") if part.startswith("_")]
                assert not private, (path.name, node.lineno, private)


def test_sources_quarantine_through_the_base_loop() -> None:
    """A bad record becomes a quarantine row in one place (`base.mapped` with
    `base.RECORD_ERRORS`): no source builds a `Bad` in an exception handler of its own."""
    for module in registry.BUILTIN_MODULES:
        tree = ast.parse((INGEST / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler):
                calls = [c for s in node.body for c in ast.walk(s) if isinstance(c, ast.Call)]
                names = {c.func.id for c in calls if isinstance(c.func, ast.Name)}
                assert "Bad" not in names, (module, node.lineno)
