"""The documentation documents what the code does, and lives in the repository.

Every source is in docs/sources.md, every command the README shows parses with its flags, the
README stays short, every relative link resolves, and no tracked file points outside the
repository (a sibling checkout, an absolute machine path, or notes that are not in the repo).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer

from costlab.cli import app
from costlab.ingest import sources

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
SOURCES_DOC = (ROOT / "docs" / "sources.md").read_text()


def test_every_source_is_in_the_sources_table() -> None:
    for name, cls in sources().items():
        if name == "toy":  # test-only source
            continue
        assert f"| `{name}` | {cls.title.replace('|', chr(92) + '|')} |" in SOURCES_DOC, name


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


# -- the README: short, and every command it shows parses --------------------------------------


def test_readme_is_at_most_300_lines() -> None:
    assert len(README.splitlines()) <= 300


def _code_blocks(text: str, langs: tuple[str, ...]) -> list[str]:
    return [
        m.group(2)
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)
        if m.group(1) in langs
    ]


def readme_commands() -> list[list[str]]:
    """Every `costlab ...` invocation in the README's sh and cron blocks, as argv after `costlab`."""
    out: list[list[str]] = []
    blocks = [(kind, b) for kind in ("sh", "cron") for b in _code_blocks(README, (kind,))]
    for kind, block in blocks:
        for line in block.splitlines():
            if kind == "cron":
                line = line.split(None, 5)[5] if len(line.split()) > 5 else ""
            words = shlex.split(line, comments=True)
            cmd: list[str] = []
            for w in [*words, "&&"]:
                if w in ("&&", "||", "|", ";", "<", ">"):
                    if cmd and Path(cmd[0]).name == "costlab":
                        out.append(cmd[1:])
                    cmd = []
                else:
                    cmd.append(w)
    return out


def test_the_readme_shows_commands() -> None:
    names = {c[0] if not c[0].startswith("-") else c[2] for c in readme_commands()}
    assert {"ingest", "report", "query", "sql", "analyze"} <= names


def _rest(ctx: object) -> list[str]:
    """What a group's context left for its subcommand (click keeps the subcommand name apart)."""
    protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
    return [*protected, *getattr(ctx, "args", [])]


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_readme_command_parses(argv: list[str]) -> None:
    """Each command resolves to a real subcommand whose options and arguments parse (nothing runs):
    click makes the context for the group, then for each subcommand, as it would before invoking."""
    group = typer.main.get_command(app)
    ctx = group.make_context("costlab", list(argv), resilient_parsing=False)
    cmd = group
    args = _rest(ctx)
    while hasattr(cmd, "resolve_command"):  # a group (typer's click)
        assert args, f"no subcommand in {argv}"
        name, sub, rest = cmd.resolve_command(ctx, args)
        assert sub is not None, f"unknown command {name!r} in {argv}"
        ctx = sub.make_context(name or "", list(rest), parent=ctx)
        cmd = sub
        args = _rest(ctx)
    assert not ctx.args, f"unexpected arguments {ctx.args} in {argv}"


# -- links ---------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.M | re.S)
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # URLs and in-page anchors
        path = target.split("#", 1)[0]
        assert (doc.parent / path).exists(), f"{doc.name}: broken link {target}"


def test_docs_exist() -> None:
    names = {p.name for p in DOCS}
    assert {"schema.md", "architecture.md", "sources.md", "analyzers.md", "safety.md"} <= names
    schema = " ".join((ROOT / "docs" / "schema.md").read_text().replace("*", "").split())
    assert "extends, never renames" in schema


# -- nothing refers outside the repository -------------------------------------------------------

# Built from parts so this file does not match its own patterns.
_DOT2 = "." + "."
_NOTES = ["billing" + "_formats", "trace" + "_formats", "peers", "aesthetics", "SCHEMA"]
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape(_DOT2 + "/shared"),  # a sibling checkout
            r"(?<![\w/.])" + "shared" + r"/data/",  # the same folder named without its ../
            r"(?<![\w.])/" + "work/",  # an absolute machine path
            r"(?<![\w.])/" + "root/",
            r"(?<![\w])" + "research" + "/",  # notes kept outside the repository
            *[r"(?<![\w])" + re.escape(n) + r"\.md" for n in _NOTES],
        ]
    )
)
# docs/analyzers.md is ours; a bare name elsewhere is the outside note (inside docs/ it is the page).
BARE_ANALYZERS = re.compile(r"(?<![\w/])" + "analyzers" + r"\.md")
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [f for f in out.decode().split("\0") if f and f != SELF]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    hits: list[str] = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (Parquet, gz)
        for n, line in enumerate(text.splitlines(), 1):
            m = OUTSIDE.search(line)
            if not m and not name.startswith("docs/"):
                m = BARE_ANALYZERS.search(line)
            if m:
                hits.append(f"{name}:{n}: {m.group(0)}")
    assert not hits, "\n".join(hits[:50])


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("see " + _DOT2 + "/shared/data", True),
        ("copied from `" + "shared" + "/data/traces/x/`", True),
        ("packages/shared" + "/data/x.json", False),
        ("cp /" + "work/shared/x .", True),
        ("PY=/" + "root/.pyenv/bin/python", True),
        ("research" + "/notes.md", True),
        ("billing" + "_formats.md section 5", True),
        ("analyzers" + ".md section 2", True),
        ("SCHEMA" + ".md", True),
        ('"cwd":"/home/dev/' + 'src/shop.app"', False),
        ("see docs/" + "analyzers" + ".md", False),
        ("[analyzers](" + "analyzers" + ".md)", True),
        ("costlab research" + "ers", False),
    ],
)
def test_outside_pattern(text: str, bad: bool) -> None:
    assert bool(OUTSIDE.search(text) or BARE_ANALYZERS.search(text)) == bad


def test_readme_python_runs_on_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The "From Python" block, run as written over the demo data (its folders renamed)."""
    (block,) = _code_blocks(README, ("python",))
    demo = ROOT / "sample_data" / "demo"
    code = (
        block.replace('"exports/"', repr(str(demo / "billing")))
        .replace('"traces/"', repr(str(demo / "traces")))
        .replace('"lake/"', repr(str(tmp_path / "lake")))
    )
    monkeypatch.chdir(tmp_path)  # no costlab.toml here: the defaults
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    ws, report = scope["ws"], scope["report"]
    by_workflow = ws.query("cost_by_workflow")  # type: ignore[attr-defined]
    assert {"support-chat", "kb-search"} <= set(by_workflow["workflow"].to_list())
    assert report.headline and report.headline[0].billed > 0  # type: ignore[attr-defined]


def test_readme_crontab_runs_as_pasted(tmp_path: Path) -> None:
    """The README's cron line, run as cron would (``sh -c``, a bare PATH, no costlab.toml in the
    working folder), with its paths pointed at this checkout's costlab, the demo and a temp lake."""
    import os
    import sys

    (block,) = _code_blocks(README, ("cron",))
    (line,) = [x for x in block.splitlines() if x and not x.startswith(("#", "MAILTO"))]
    command = line.split(None, 5)[5]
    costlab = Path(sys.executable).parent / "costlab"
    assert costlab.is_file(), "the test needs the installed costlab script beside the interpreter"
    demo = ROOT / "sample_data" / "demo"
    config = tmp_path / "costlab.toml"
    config.write_text(f'lake = "{tmp_path / "lake"}"\n' + (demo / "costlab.toml").read_text())
    (tmp_path / "metrics.csv").write_bytes((demo / "metrics.csv").read_bytes())  # named by the config
    (tmp_path / "reports").mkdir()
    for old, new in (
        ("/opt/costlab/.venv/bin/costlab", str(costlab)),
        ("/etc/costlab/costlab.toml", str(config)),
        ("/data/exports", str(demo / "billing")),
        ("/data/traces", str(demo / "traces")),
        ("/data/reports", str(tmp_path / "reports")),
        ("--since yesterday --until today", "--since 2026-10-21 --until 2026-10-22"),  # the demo's day
    ):
        assert old in command, old
        command = command.replace(old, new)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh", "LANG": "C.UTF-8"}
    cron = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert cron.returncode == 0 and "costlab stopped" not in cron.stdout, cron.stdout + cron.stderr
    assert [p.suffix for p in (tmp_path / "reports").iterdir()] == [".html"], (cron.stdout, cron.stderr)
    assert "ANOMALY workflow ticket-triage on 2026-10-21" in cron.stderr  # the mail says what happened
    assert "Traceback" not in cron.stdout + cron.stderr and os.environ.get("COSTLAB_CONFIG") is None
