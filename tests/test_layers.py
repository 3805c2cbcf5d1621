"""The import structure of ``costlab``: layers that point one way, no cycles, no borrowed privates.

Every import counts: top-level, inside functions (lazy, for a fast ``--help``) and under
``TYPE_CHECKING``, because each is a dependency someone must understand. The layers, lowest
first (docs/architecture.md draws them):

    core -> pricing -> lake -> ingest -> engines -> workspace -> money -> analyze -> report -> cli

A module may import its own layer and the layers below it; a lower layer never imports a higher
one. The graph has no cycle, within a layer or across. No module imports a ``_private`` name from
another module: what is shared is public, and lives where both can see it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "costlab"

#: layer -> module name prefixes (dotted, under ``costlab``); the longest prefix wins
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("errors", "version", "config", "periods", "schema", "names", "redact", "limits", "tokens", "money_text"),
    "pricing": ("pricing", "price_cache"),
    "lake": ("lake", "sql", "views", "attribution", "calls_store", "rollups", "lake_check", "learned_rates"),
    "ingest": ("ingest",),
    "engines": ("engines",),
    "workspace": ("workspace",),
    "money": ("money",),
    "analyze": ("analyze",),
    "report": ("report",),
    "cli": ("cli", "__main__", ""),  # "": the package itself, the public API (costlab/__init__.py)
}
ORDER = list(LAYERS)


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def layer(module: str) -> str:
    rest = module.removeprefix("costlab").removeprefix(".")
    best, best_len = None, -1
    for name, prefixes in LAYERS.items():
        for prefix in prefixes:
            hit = rest == prefix or rest.startswith(prefix + ".") if prefix else rest == ""
            if hit and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> list[tuple[str, int, list[str]]]:
    """(imported costlab module, line, names taken from it) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name) if alias.name.startswith("costlab") else None
                if target and target != module:
                    out.append((target, node.lineno, []))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("costlab"):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # `from costlab import schema`: the module schema
                    out.append((submodule, node.lineno, []))
                else:
                    target = _resolve(source)
                    if target and target != module:
                        out.append((target, node.lineno, [alias.name]))
    return out


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer(module)


def test_no_import_points_up_a_layer() -> None:
    wrong = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)}) at line {line}"
        for module, edges in GRAPH.items()
        for target, line, _ in edges
        if ORDER.index(layer(target)) > ORDER.index(layer(module))
    ]
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles() == []


def test_no_private_names_cross_modules() -> None:
    borrowed = [
        f"{module} takes {', '.join(n for n in names if n.startswith('_'))} from {target} (line {line})"
        for module, edges in GRAPH.items()
        for target, line, names in edges
        if any(n.startswith("_") and not n.startswith("__") for n in names)
    ]
    borrowed += [
        f"{module} imports the private module {target} (line {line})"
        for module, edges in GRAPH.items()
        for target, line, _ in edges
        if target.rpartition(".")[2].startswith("_") and not target.endswith("__main__")
    ]
    assert not borrowed, "\n".join(sorted(set(borrowed)))


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("costlab.errors", "core"),
        ("costlab.lake", "lake"),
        ("costlab.lake_check", "lake"),
        ("costlab.ingest.run", "ingest"),
        ("costlab.money.alerts", "money"),
        ("costlab.report.build", "report"),
        ("costlab", "cli"),
    ],
)
def test_layer_names(module: str, expected: str) -> None:
    assert layer(module) == expected


def test_the_check_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test can fail: a core module importing the report is reported."""
    fake = tmp_path / "errors.py"
    fake.write_text("def f():\n    from costlab.report import build\n")
    monkeypatch.setitem(MODULES, "costlab.errors", fake)
    edges = imports("costlab.errors")
    assert ("costlab.report.build", 2, []) in edges
    assert ORDER.index(layer("costlab.report.build")) > ORDER.index(layer("costlab.errors"))
