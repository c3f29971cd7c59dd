"""rollout-sim power: a judge's detection and false-rollback rates by bake time, beside the closed form.

Simulated against closed form: a rate estimated from R replications has a standard error
sqrt(p (1 - p) / R); the checks allow 4 of them (a false failure about once in 15,000 checks) plus a
model-error allowance for what the closed form leaves out, stated per test with the largest gap measured.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.cli import cli
from sim.power import (
    PowerRow,
    _crossing,
    _cusum_chain,
    _measurement_fails,
    _sprt_walk,
    _tail,
    _wald,
    closed_form,
    measurements,
    power_curve,
)
from sim.scenario import JudgeSpec, Scenario
from strategies.judges import Threshold
from strategies.sequential import SPRT, boundaries, crossing_probability
from tests.generators import make_scenario

# Steady traffic, a one-minute window equal to the interval: measurements are independent, the closed form holds.
STEADY = {
    "horizon": "3h",
    "traffic": {"rate": 200.0},
    "detection": {"analysis": {"window": "1m", "failure_limit": 1, "max_error_rate": 0.01, "min_requests": 50}},
    "strategies": [{"name": "canary"}],
}


def _judged(judge: dict[str, Any], base: float = 0.01, **fields: Any) -> Scenario:
    """Steady traffic (200 requests a second) and a 1% baseline error rate: tens of errors per arm in each
    look of the tests below, where the normal approximations the closed forms make hold."""
    fields.setdefault("traffic", {"rate": 200.0})
    strategy = {"name": "canary", "judges": {"j": judge}}
    return make_scenario(horizon="3h", telemetry={"baseline_error_rate": base}, strategies=[strategy], **fields)


def _agree(rows: list[PowerRow], replications: int, allowance: float) -> None:
    for row in rows:
        for simulated, closed in (
            (row.detection, row.detection_closed),
            (row.false_rollback, row.false_rollback_closed),
        ):
            assert closed is not None, row
            error = math.sqrt(closed * (1 - closed) / replications)
            assert abs(simulated - closed) <= 4 * error + allowance, (row, simulated, closed)
    detections = [row.detection for row in rows]
    assert detections == sorted(detections)  # one run per release: a longer bake never catches less


# -- threshold --------------------------------------------------------------------------------------------


def test_the_simulated_detection_rate_is_the_closed_forms() -> None:
    """Tolerance: 4 Monte Carlo standard errors, plus 0.02 for what the closed form leaves out (the traffic's
    change inside a window, the split of each tick's requests); measured at 0.006 and 0.003 here."""
    replications = 2_000
    curve = power_curve(make_scenario(**STEADY), weight=0.1, harm=0.01, bakes=[300, 600], replications=replications)
    rows = curve.rows
    for row in rows:
        error = math.sqrt(row.detection_closed * (1 - row.detection_closed) / replications)
        assert abs(row.detection - row.detection_closed) <= 4 * error + 0.02, row
        assert row.false_rollback == 0.0 and row.false_rollback_closed < 1e-6
    assert rows[0].detection < rows[1].detection  # a longer bake catches more
    assert curve.use == "threshold" and curve.closed_form.startswith("binomial")


def test_the_threshold_closed_form_counts_the_scrape_lag_the_flagger_rule_and_count() -> None:
    """A measurement arrives 30 s after its scrape, so a bake ending at the scrape misses it; Flagger
    counts the failed checks up to ``threshold``; Argo's ``count`` passes the judge after 3. Measured: 0.012."""
    judge = {"use": "threshold", "params": {"rule": "flagger", "threshold": 2, "max_error_rate": 0.01,
                                            "min_requests": 50, "interval": "1m"}}  # fmt: skip
    lagged = make_scenario(
        horizon="3h", traffic={"rate": 200.0}, telemetry={"scrape_lag": "30s"},
        strategies=[{"name": "canary", "judges": {"j": judge}}],
    )  # fmt: skip
    curve = power_curve(lagged, weight=0.1, harm=0.01, bakes=[120, 150, 300], replications=1_000, seed=3)
    _agree(curve.rows, 1_000, 0.02)
    assert curve.rows[0].detection_closed == 0.0  # one measurement (at 90 s) by 2m: Flagger needs two
    assert curve.rows[1].detection_closed > 0.2  # the second arrives at 150 s
    capped = {"use": "threshold", "params": {"failure_limit": 1, "max_error_rate": 0.01, "min_requests": 50,
                                             "interval": "2m", "count": 3}}  # fmt: skip
    scenario = make_scenario(
        horizon="3h", traffic={"rate": 200.0}, telemetry={"scrape_lag": "30s"},
        strategies=[{"name": "canary", "judges": {"j": capped}}],
    )  # fmt: skip
    curve = power_curve(scenario, weight=0.1, harm=0.01, bakes=[300, 600, 900], replications=1_000, seed=4)
    _agree(curve.rows, 1_000, 0.02)
    assert curve.rows[1].detection_closed == curve.rows[2].detection_closed  # passed after its 3rd, at 6.5m


def test_measurements_arrive_after_the_scrape_lag() -> None:
    scenario = make_scenario(telemetry={"scrape_lag": "30s"}, traffic={"rate": 100.0})
    looks = measurements(scenario, Threshold(interval="2m"), 0.1, 600.0, baseline=False)
    assert looks.times.tolist() == [150.0, 270.0, 390.0, 510.0]  # scrapes at 2m, 4m, ... arrive 30 s later
    assert looks.new == pytest.approx([0.1 * 100 * 120] * 4)  # two minutes of a tenth of the traffic
    assert not looks.overlapping
    assert measurements(scenario, Threshold(interval="1m", window="2m"), 0.1, 600.0, False).overlapping


def test_the_closed_form_parts() -> None:
    # Many requests: the rate is about normal around p, and a measurement fails when it is above the limit.
    n, p, limit = 10_000, 0.011, 0.01
    normal = 1 - stats.norm.cdf((limit - p) / math.sqrt(p * (1 - p) / n))
    assert _measurement_fails(n, p, limit, 1) == pytest.approx(normal, abs=0.02)
    assert _measurement_fails(10, 0.5, 0.5, 1_000) == 0.0  # too few requests: no data, never a failure
    # More than one failure among three with probability 0.5 each: (3 + 1) / 8.
    assert _tail([0.5, 0.5, 0.5], 1) == pytest.approx(0.5)
    assert _tail([0.2], 0) == pytest.approx(0.2) and _tail([], 0) == 0.0


# -- the z-test and the mSPRT: boundary crossing -------------------------------------------------------------


def test_crossing_is_the_judges_own_integration_without_drift_and_the_normal_power_with_it() -> None:
    for looks, kind in ((1, "none"), (5, "none"), (5, "pocock"), (10, "obrien-fleming")):
        bounds = boundaries(looks, 0.05, kind)
        equal = np.arange(1.0, looks + 1)
        assert _crossing(equal, np.array(bounds), 0.0)[-1] == pytest.approx(crossing_probability(bounds), abs=2e-4)
    # One look at information 4 with drift 1: Z ~ N(2, 1).
    assert _crossing(np.array([4.0]), np.array([1.645]), 1.0)[0] == pytest.approx(1 - stats.norm.cdf(1.645 - 2))
    # Two unequal looks: (Z1, Z2) bivariate normal with correlation sqrt(I1 / I2) and means drift sqrt(I).
    information, bounds, drift = np.array([1.0, 5.0]), np.array([2.5, 2.0]), 0.6
    means = drift * np.sqrt(information)
    correlation = math.sqrt(information[0] / information[1])
    below = stats.multivariate_normal(means, [[1, correlation], [correlation, 1]]).cdf(bounds)
    assert _crossing(information, bounds, drift)[-1] == pytest.approx(1 - below, abs=2e-4)


def test_crossing_many_uncorrected_looks_matches_brownian_monte_carlo() -> None:
    """50 looks at the plain 5% quantile: 0.2701 by a Monte Carlo of 4 million paths (standard error 0.0002).
    (strategies.sequential.crossing_probability says 0.2718: its grid reaches only 3 standard deviations
    below 0 at look 50, and the mass lost there counts as crossing.)"""
    bounds = np.full(50, stats.norm.ppf(0.95))
    assert _crossing(np.arange(1.0, 51), bounds, 0.0)[-1] == pytest.approx(0.2701, abs=0.001)


@pytest.mark.parametrize("boundary", ["obrien-fleming", "none"])
def test_ztest_detection_and_false_rollbacks_are_the_closed_forms(boundary: str) -> None:
    """Six looks, 5 minutes apart, against a baseline arm of the same weight: about 30 errors per arm at the
    first look. Allowance 0.015 for the normal approximation of the counts (measured: 0.008 with O'Brien-
    Fleming, 0.005 uncorrected)."""
    judge = {"use": "ztest", "params": {"looks": 6, "boundary": boundary, "interval": "5m"}}
    replications = 1_500
    curve = power_curve(_judged(judge), weight=0.05, harm=0.003, bakes=[600, 1200, 1800, 2400],
                        replications=replications, seed=11)  # fmt: skip
    _agree(curve.rows, replications, 0.015)
    assert curve.rows[-1].detection > 0.8  # the baseline arm is there: the judge sees the defect
    # Healthy, steady traffic (equal increments): the nominal crossing probability of the looks taken.
    bounds = boundaries(6, 0.05, boundary)
    for row, looks in zip(curve.rows, (2, 4, 6, 6), strict=True):  # a look every 5m (no scrape lag), 6 at most
        assert row.false_rollback_closed == pytest.approx(crossing_probability(bounds[:looks]), abs=2e-3)
    assert "passes after its last look" in " ".join(curve.notes)


def test_msprt_detection_is_the_closed_form_and_false_rollbacks_stay_under_alpha() -> None:
    """Allowance 0.015 for the variance taken at its expected value (measured: 0.005)."""
    judge = {"use": "msprt", "params": {"alpha": 0.05, "tau": 0.005}}
    replications = 1_500
    curve = power_curve(_judged(judge), weight=0.05, harm=0.003, bakes=[600, 1800, 3600],
                        replications=replications, seed=12)  # fmt: skip
    _agree(curve.rows, replications, 0.015)
    for row in curve.rows:  # always valid, whatever the bake
        assert row.false_rollback_closed <= 0.05 and row.false_rollback <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / 1_500)
    assert curve.rows[-1].detection > 0.7
    assert any("at most alpha = 5%" in note for note in curve.notes)


# -- SPRT: the random walk between two boundaries -------------------------------------------------------------


def test_sprt_detection_and_false_rollbacks_are_the_truncated_walks() -> None:
    """Allowance 0.01 for the grid and the successes taken as normal (the walk is otherwise exact). Measured:
    0.016 at 5 minutes with this seed (1.6 standard errors), 0.004 after."""
    judge = {"use": "sprt", "params": {"p0": 0.01, "p1": 0.013, "alpha": 0.05, "beta": 0.1}}
    replications = 1_500
    curve = power_curve(_judged(judge), weight=0.05, harm=0.003, bakes=[300, 900, 1800],
                        replications=replications, seed=13)  # fmt: skip
    _agree(curve.rows, replications, 0.01)
    assert 0.1 < curve.rows[0].detection < curve.rows[-1].detection  # the bake truncates it
    assert sum("Wald" in note for note in curve.notes) == 2


def test_walds_operating_characteristic_is_alpha_and_one_minus_beta_at_p0_and_p1() -> None:
    judge = SPRT(p0=0.01, p1=0.02, alpha=0.05, beta=0.1)
    looks = measurements(make_scenario(), judge, 0.05, 3600.0, baseline=False)
    assert "fails 5.0%" in _wald(judge, 0.01, "healthy", looks)
    assert "fails 90.0%" in _wald(judge, 0.02, "with the defect", looks)
    assert "fails 0.0%" in _wald(judge, 1e-12, "healthy", looks)  # (almost) no errors: it only ever passes


def test_the_sprt_walk_at_one_look_is_the_exact_poisson_sum() -> None:
    """One look: the ratio a X - c Y (X errors, Y successes, independent Poisson) fails at ``upper``, so
    P(fail) = sum over x of P(X = x) P(Y <= (a x - upper) / c). The grid takes Y as normal (it has 980)."""
    judge = SPRT(p0=0.01, p1=0.02, alpha=0.05, beta=0.1)
    a, c = math.log(2), math.log(0.99 / 0.98)
    errors = np.arange(0, 80)
    exact = float(
        (stats.poisson.pmf(errors, 20) * stats.poisson.cdf(np.floor((a * errors - judge.upper) / c), 980)).sum()
    )
    once = _sprt_walk(judge, np.array([20.0]), np.array([980.0]), np.array([True]))
    assert once[0] == pytest.approx(exact, abs=3e-3)
    # A measurement that is no look (too few requests yet) adds its counts to the next look's.
    twice = _sprt_walk(judge, np.array([10.0, 10.0]), np.array([490.0, 490.0]), np.array([False, True]))
    assert twice.tolist() == pytest.approx([0.0, once[0]], abs=1e-9)


# -- CUSUM ----------------------------------------------------------------------------------------------------


def test_cusum_chain_run_length_is_siegmunds() -> None:
    """k = 0.5, h = 3, standard normal z: ARL0 about 119 looks (Siegmund, within about 3%)."""
    survival = 1 - _cusum_chain(np.zeros(3_000), np.ones(3_000), 0.5, 3.0)
    b = 3.0 + 1.166
    assert 1 + survival[:-1].sum() == pytest.approx((math.exp(b) - b - 1) / 0.5, rel=0.03)


def test_cusum_detection_and_false_rollbacks_are_the_chains() -> None:
    """A baseline arm of 20%: about 24 errors per arm in each one-minute look. Allowance 0.015 for the normal
    approximation of each look's z (measured: 0.008)."""
    judge = {"use": "cusum", "params": {"k": 0.5, "h": 5.0}}
    replications = 1_500
    curve = power_curve(_judged(judge), weight=0.2, harm=0.002, bakes=[600, 1200, 3600],
                        replications=replications, seed=14)  # fmt: skip
    _agree(curve.rows, replications, 0.015)
    assert curve.rows[-1].false_rollback_closed > 0.02  # it never passes: false alarms pile up with the bake


# -- the scenario the power run builds ------------------------------------------------------------------------


def test_a_judge_against_the_baseline_gets_a_baseline_arm_and_weights_above_half_are_refused() -> None:
    scenario = _judged({"use": "ztest", "params": {"looks": 2, "interval": "5m"}})
    with pytest.raises(sim.ScenarioError, match=r"--weight must be at most 0\.5"):
        power_curve(scenario, weight=0.6, harm=0.01, bakes=[600], replications=4)
    curve = power_curve(scenario, weight=0.1, harm=0.05, bakes=[660], replications=16)
    assert curve.rows[0].detection == 1.0  # without a baseline arm it would have seen nothing
    against_stable = _judged({"use": "ztest", "params": {"looks": 2, "interval": "5m", "against": "stable"}})
    assert power_curve(against_stable, weight=0.9, harm=0.05, bakes=[660], replications=16).rows[0].detection == 1.0


def test_a_judge_without_a_closed_form_says_why() -> None:
    curve = power_curve(_judged({"use": "baseline", "params": {"against": "stable"}}), weight=0.1, harm=0.05,
                        bakes=[300], replications=8)  # fmt: skip
    assert curve.closed_form is None and curve.rows[0].detection_closed is None
    assert curve.notes == ("none is known for a baseline judge",)
    judge = JudgeSpec(use="threshold", params={"window": "2m"})
    why = closed_form(make_scenario(), judge, weight=0.1, harm=0.01, until=600.0)
    assert why == "its 2.0m windows overlap (one every 60s): measurements that share requests are not independent"


def test_the_canary_acts_on_the_judge_its_strategy_names() -> None:
    strategy = {
        "name": "canary",
        "params": {"judge": "z"},
        "judges": {"t": {"use": "threshold"}, "z": {"use": "ztest", "params": {"looks": 2, "interval": "5m"}}},
    }
    curve = power_curve(make_scenario(strategies=[strategy]), weight=0.1, harm=0.05, bakes=[600], replications=4)
    assert curve.judge == "z" and curve.use == "ztest"


# -- the command ----------------------------------------------------------------------------------------------


def test_power_prints_a_table_and_json() -> None:
    result = CliRunner().invoke(cli, ["power", "-n", "20", "--bake", "5m", "--bake", "20m"])
    assert result.exit_code == 0, result.output
    assert "judge analysis (threshold)" in result.output and "5.0m" in result.output and "20.0m" in result.output
    assert "closed form:" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    result = CliRunner().invoke(cli, ["power", "-n", "20", "--bake", "5m", "--json", "--harm", "0.05"])
    document = json.loads(result.stdout)
    assert document["judge"] == "analysis" and document["use"] == "threshold" and document["harm"] == 0.05
    assert document["closed_form"] is None and "windows overlap" in document["notes"][0]  # the default's
    (row,) = document["rows"]
    assert row["bake_s"] == 300.0 and 0.0 <= row["detection"] <= 1.0 and row["replications"] == 20


def test_power_chart_draws_the_rates_against_bake_time(tmp_path: Any) -> None:
    path = tmp_path / "z.toml"
    path.write_text(
        'name = "z"\n[population]\nusers = 10000\n[traffic]\nrate = 200\n[telemetry]\nbaseline_error_rate = 0.01\n'
        '[[strategies]]\nname = "canary"\n'
        'judges = { z = { use = "ztest", params = { looks = 4, interval = "5m" } } }\n'
    )
    args = ["power", str(path), "-n", "20", "--bake", "10m", "--bake", "30m", "--harm", "0.01", "--chart"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "judge z: detection and false rollbacks (%) by bake time" in result.output
    assert "detection, closed form" in result.output and "false rollbacks" in result.output
    assert "100.0┤" in result.output  # the rate axis
    assert any("10.0m" in line and "30.0m" in line for line in result.output.splitlines())  # bake ticks
    assert "\x1b[" not in result.output  # not a terminal: no colours


def test_power_chart_without_plotext_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plotext", None)  # import plotext raises ImportError
    result = CliRunner().invoke(cli, ["power", "-n", "2", "--bake", "5m", "--chart"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'rollout-sim[tui]'" in lines[0], result.output


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
        (["--chart", "--json"], "--chart draws on the terminal: leave out --json"),
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
    curve = power_curve(sim.load_scenario(sim.bundled_scenarios()["default"]), weight=0.05, harm=0.005,
                        bakes=[1800], replications=50)  # fmt: skip
    assert curve.rows[0].detection < 0.1


def test_a_threshold_above_the_defective_error_rate_is_flagged() -> None:
    scenario = make_scenario(**STEADY)  # limit 1%, baseline 0.1% by default
    blind = power_curve(scenario, weight=0.05, harm=0.005, bakes=[600.0], replications=8)
    assert any("not above the judge's limit of 1%" in note for note in blind.notes)
    seen = power_curve(scenario, weight=0.05, harm=0.02, bakes=[600.0], replications=8)
    assert not any("limit" in note for note in seen.notes)
