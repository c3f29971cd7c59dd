"""A non-editable install finds the bundled scenarios and the built-in strategies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.skipif(os.environ.get("ROLLOUT_SIM_SKIP_WHEEL") == "1", reason="wheel build skipped by request")
def test_wheel_install_finds_default_scenario(tmp_path: Path) -> None:
    target = tmp_path / "site"
    build = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True)
    assert (target / "sim" / "_scenarios" / "default.toml").is_file()
    code = "import sim, sim.catalog; print(sim.catalog.scenarios_dir()); print(sorted(sim.installed_strategies()))"
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    scenarios_dir, strategies = out.stdout.splitlines()
    assert Path(scenarios_dir) == target / "sim" / "_scenarios"
    installed = set(strategies.strip("[]").replace("'", "").split(", "))
    assert {"bigbang", "canary", "rings", "bluegreen", "rolling", "waves", "flag", "shadow", "abtest"} <= installed
