from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import toysource  # noqa: E402,F401  (registers the test-only source)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real lake or config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COSTLAB_HOME", str(home))
    monkeypatch.setenv("COSTLAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))  # shared by the session
    monkeypatch.delenv("COSTLAB_LAKE", raising=False)
    monkeypatch.delenv("COSTLAB_CONFIG", raising=False)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All of sample_data ingested as the README's quick start does (the demo's costlab.toml
    skips metrics.csv, which is not an export). Read-only for the tests that share it."""
    from typer.testing import CliRunner

    from costlab.cli import app

    lake = tmp_path_factory.mktemp("demo") / "lake"
    config = ROOT / "sample_data" / "demo" / "costlab.toml"
    r = CliRunner().invoke(app, ["--config", str(config), "ingest", str(ROOT / "sample_data"), "--lake", str(lake)])
    assert r.exit_code == 0, r.stderr
    assert "0 failed" in r.stdout and "0 quarantined" in r.stdout, r.stdout
    assert "Error" not in r.stderr and "Warning" not in r.stderr, r.stderr
    return lake
