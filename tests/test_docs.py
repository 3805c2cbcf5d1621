"""The README documents what the code does: every source, every command, the test command."""

from __future__ import annotations

from pathlib import Path

from costlab.ingest import sources

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_source_is_in_the_readme_table() -> None:
    for name, cls in sources().items():
        if name == "toy":  # test-only source
            continue
        assert f"| `{name}` | {cls.title.replace('|', chr(92) + '|')} |" in README, name


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = README.split("```sh\n")
    test_cmd = next(b.split("\n", 1)[0] for b in blocks[1:] if "pytest" in b.split("\n", 1)[0])
    assert test_cmd in ci


def test_every_source_module_documents_its_sections() -> None:
    import importlib

    for name, cls in sources().items():
        if name == "toy":
            continue
        doc = importlib.import_module(cls.__module__).__doc__ or ""
        for section in ("Detect", "Row key", "Quirks"):
            assert section.lower() in doc.lower(), f"{cls.__module__} lacks {section}"
