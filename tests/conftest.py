from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import toysource  # noqa: E402,F401  (registers the test-only source)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real lake or config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COSTLAB_HOME", str(home))
    monkeypatch.delenv("COSTLAB_LAKE", raising=False)
    monkeypatch.delenv("COSTLAB_CONFIG", raising=False)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"
