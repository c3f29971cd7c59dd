"""Every bundled scenario validates and runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.cli import cli

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.toml"))


def test_the_three_required_scenarios_ship() -> None:
    assert {"default", "healthy", "silent-defect"} <= {path.stem for path in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_scenario_validates_and_runs(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text().startswith("#"), "each scenario starts with a comment saying what it teaches"
    comparison = sim.compare(path, replications=3)
    assert not comparison.errors
    assert set(comparison.summaries) == {spec.name for spec in sim.load_scenario(path).strategies}


def test_the_scenarios_teach_what_their_headers_say() -> None:
    default = sim.compare("default", replications=64).summaries
    assert default["canary"].blast_radius_users.mean * 100 < default["bigbang"].blast_radius_users.mean
    assert default["flag-canary"].exposed_users.mean < 0.8 * default["canary"].exposed_users.mean
    harmed = default["flag-canary"].blast_radius_users.mean / default["canary"].blast_radius_users.mean
    assert 0.8 < harmed <= 1.0
    healthy = sim.compare("healthy", replications=40).summaries
    assert healthy["canary"].outcomes["false_rollback"] > 0 and healthy["bigbang"].outcomes["false_rollback"] == 0
    assert healthy["canary"].rollout_duration_s.mean > healthy["bigbang"].rollout_duration_s.mean
    silent = sim.compare("silent-defect", replications=10)
    assert set(silent.runs["caught_by"]) == {"user_reports"}
    assert silent.summaries["canary"].ttd_s.mean > silent.summaries["bigbang"].ttd_s.mean
