"""The wheel carries the SQL: build it, install it in a fresh venv, run a named query from there."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_queries_and_runs_a_named_query(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    wheel = next(dist.glob("costlab-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # dependencies come from this interpreter's site-packages (no network needed); costlab itself
    # must come from the fresh venv, not from the checkout
    deps = sysconfig.get_paths()["purelib"]
    code = (
        "import costlab, costlab.sql as s, pathlib;"
        "root = pathlib.Path(str(s.queries_root()));"
        f"assert 'site-packages' in str(root) and str(root).startswith({str(env_dir)!r}), root;"
        "assert 'spend_by_provider_month' in s.list_queries();"
        "assert 'p_cache_read' in s.load_sql('views/calls');"  # the included cost formula is packaged
        f"lake = costlab.Lake({str(tmp_path / 'lake')!r}); lake.create();"
        "df = costlab.Workspace(lake).query('spend_by_provider_month');"
        "print('OK', df.columns)"
    )
    env = {**os.environ, "PYTHONPATH": deps}
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "OK ['provider', 'month', 'currency', 'billed_cost'" in out.stdout
