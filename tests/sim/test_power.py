"""rollout-sim power: a judge's detection and false-rollback rates by bake time, beside the closed form."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.cli import cli
from sim.power import _measurement_fails, _tail, power_curve
from tests.generators import make_scenario

# Steady traffic, a one-minute window equal to the interval: measurements are independent, the closed form holds.
STEADY = {
    "horizon": "3h",
    "traffic": {"rate": 200.0},
    "detection": {"analysis": {"window": "1m", "failure_limit": 1, "max_error_rate": 0.01, "min_requests": 50}},
    "strategies": [{"name": "canary"}],
}


def test_the_simulated_detection_rate_is_the_closed_forms() -> None:
    """Tolerance: 4 Monte Carlo standard errors, plus 0.02 for what the closed form leaves out (the traffic's
    change inside a window, the split of each tick's requests); measured at 0.006 and 0.003 here."""
    replications = 2_000
    _, rows = power_curve(make_scenario(**STEADY), weight=0.1, harm=0.01, bakes=[300, 600], replications=replications)
    for row in rows:
        error = math.sqrt(row.detection_closed * (1 - row.detection_closed) / replications)
        assert abs(row.detection - row.detection_closed) <= 4 * error + 0.02, row
        assert row.false_rollback == 0.0 and row.false_rollback_closed < 1e-6
    assert rows[0].detection < rows[1].detection  # a longer bake catches more


def test_the_closed_form_parts() -> None:
    # Many requests: the rate is about normal around p, and a measurement fails when it is above the limit.
    n, p, limit = 10_000, 0.011, 0.01
    normal = 1 - stats.norm.cdf((limit - p) / math.sqrt(p * (1 - p) / n))
    assert _measurement_fails(n, p, limit, 1) == pytest.approx(normal, abs=0.02)
    assert _measurement_fails(10, 0.5, 0.5, 1_000) == 0.0  # too few requests: no data, never a failure
    # More than one failure among three with probability 0.5 each: (3 + 1) / 8.
    assert _tail([0.5, 0.5, 0.5], 1) == pytest.approx(0.5)
    assert _tail([0.2], 0) == pytest.approx(0.2) and _tail([], 0) == 0.0


def test_power_prints_a_table_and_json() -> None:
    result = CliRunner().invoke(cli, ["power", "-n", "20", "--bake", "5m", "--bake", "20m"])
    assert result.exit_code == 0, result.output
    assert "judge analysis" in result.output and "5.0m" in result.output and "20.0m" in result.output
    result = CliRunner().invoke(cli, ["power", "-n", "20", "--bake", "5m", "--json", "--harm", "0.05"])
    document = json.loads(result.stdout)
    assert document["judge"] == "analysis" and document["harm"] == 0.05
    (row,) = document["rows"]
    assert row["bake_s"] == 300.0 and 0.0 <= row["detection"] <= 1.0 and row["replications"] == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight", "0"], "--weight must be a share in (0, 1]"),
        (["--weight", "1.5"], "--weight must be a share in (0, 1]"),
        (["--harm", "2"], "--harm must be a probability in (0, 1]"),
        (["--bake", "8d"], "--bake must be a duration above 0 and at most 7d"),
        (["--bake", "soon"], "--bake"),
        (["--strategy", "nope"], "--strategy: no strategy 'nope'"),
        (["--bake", "1m"] * 21, "give 1 to 20 bake times"),
        (["-n", "0"], "replications"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["power", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    weight=st.floats(-1, 2) | st.sampled_from([math.nan, math.inf, -math.inf]),
    harm=st.floats(-1, 2) | st.sampled_from([math.nan, math.inf, -math.inf]),
    bake=st.sampled_from(["0s", "1s", "7d", "8d", "-1m", "1e400", "nan", "5m"]),
)
def test_any_option_value_runs_or_is_refused_in_one_line(weight: float, harm: float, bake: str) -> None:
    args = ["power", "-n", "2", "--weight", repr(weight), "--harm", repr(harm), "--bake", bake, "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    else:
        assert json.loads(result.stdout)["rows"]


def test_the_default_scenarios_judge_cannot_see_a_half_percent_regression() -> None:
    """The lesson power exists for: a 1% threshold never fires on a 0.5% regression, however long the bake."""
    _, rows = power_curve(sim.load_scenario(sim.bundled_scenarios()["default"]), weight=0.05, harm=0.005,
                          bakes=[1800], replications=50)  # fmt: skip
    assert rows[0].detection < 0.1
