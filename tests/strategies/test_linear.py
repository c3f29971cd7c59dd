"""AWS-style schedules: CodeDeploy linear and two-step canary, AppConfig exponential, final bake, alarm rollback."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import sim
from tests.generators import NO_DETECTION, compared_runs, make_scenario

LINEAR = Path(__file__).resolve().parents[2] / "strategies" / "linear.py"
REPLICATIONS = 64


def _scenario(kind: str, params: dict[str, Any], judges: dict[str, Any] | None = None, **fields: Any) -> sim.Scenario:
    """One schedule (no judge unless given, no watcher: detection off) on a healthy release unless told."""
    strategy = {"name": kind, "use": f"{LINEAR}:{kind}", "params": params, "judges": judges or {}}
    defaults: dict[str, Any] = {"horizon": "2h", "release": {}, "detection": NO_DETECTION, "strategies": [strategy]}
    return make_scenario(**{**defaults, **fields})


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _exposures(scenario: sim.Scenario) -> list[tuple[float, float]]:
    """(time, weight) of every exposure change of replication 0, and the promotion if any."""
    result = sim.run(scenario)
    assert not result.errors, result.errors
    timeline = result.timeline
    rows = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    return list(zip(rows["time_s"], rows["weight"].round(6), strict=True))


def test_linear_shifts_ten_percent_a_minute_like_codedeploy() -> None:
    # Linear10PercentEvery1Minute: 10% at the start of the first increment, +10% a minute, 100% at 9 min.
    scenario = _scenario("Linear", {"step": 0.1, "every": "1m"})
    assert _exposures(scenario) == [(60.0 * k, round(0.1 * (k + 1), 6)) for k in range(10)] + [(540.0, 1.0)]
    assert (_runs(scenario)["rollout_duration_s"] == 540.0).all()


def test_linear_is_done_after_the_final_bake() -> None:
    # 20% every 6 minutes (AppConfig's Linear20PercentEvery6Minutes shape): 100% at 24 min, then a
    # 30-minute final bake: done at 54 min.
    scenario = _scenario("Linear", {"step": 0.2, "every": "6m", "bake": "30m"})
    assert _exposures(scenario) == [(0.0, 0.2), (360.0, 0.4), (720.0, 0.6), (1080.0, 0.8), (1440.0, 1.0), (3240.0, 1.0)]
    assert (_runs(scenario)["rollout_duration_s"] == 3240.0).all()


def test_a_step_that_does_not_divide_100_ends_at_100() -> None:
    assert _exposures(_scenario("Linear", {"step": 0.3})) == [
        (0.0, 0.3),
        (60.0, 0.6),
        (120.0, 0.9),
        (180.0, 1.0),
        (180.0, 1.0),
    ]


def test_exponential_doubles_the_growth_factor() -> None:
    # AppConfig's example, G = 2: 2%, 4%, 8%, 16%, 32%, 64%, then 100%.
    scenario = _scenario("Exponential", {"growth_factor": 2, "every": "1m"})
    weights = [0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0]
    assert _exposures(scenario) == [(60.0 * k, w) for k, w in enumerate(weights)] + [(360.0, 1.0)]
    # Canary10Percent20Minutes: G = 10 over 20 minutes (5 steps of 4 minutes), then a 10-minute bake.
    scenario = _scenario("Exponential", {"growth_factor": 10, "every": "4m", "bake": "10m"})
    assert _exposures(scenario) == [(0.0, 0.1), (240.0, 0.2), (480.0, 0.4), (720.0, 0.8), (960.0, 1.0), (1560.0, 1.0)]
    assert (_runs(scenario)["rollout_duration_s"] == 1560.0).all()


def test_two_step_canary_shifts_the_rest_after_the_wait() -> None:
    # Canary10Percent5Minutes: 10%, then the remaining 90% after 5 minutes.
    scenario = _scenario("TwoStepCanary", {"first": 0.1, "wait": "5m"})
    assert _exposures(scenario) == [(0.0, 0.1), (300.0, 1.0), (300.0, 1.0)]
    assert (_runs(scenario)["rollout_duration_s"] == 300.0).all()


def test_a_failed_judge_rolls_back_at_its_verdict() -> None:
    # Every measurement fails; failure_limit 2: the third, at 3 minutes. The rollback is instant.
    judge = {"use": "threshold", "params": {"rule": "argo", "failure_limit": 2, "interval": "1m", "min_requests": 10}}
    for kind in ("Linear", "Exponential", "TwoStepCanary"):
        runs = _runs(_scenario(kind, {}, {"alarm": judge}, release={"defect": {"harm": 1.0}}))
        assert (runs["rollback_s"] == 180.0).all() and (runs["mitigation_s"] == 180.0).all(), kind
        assert (runs["caught_by"] == "alarm").all(), kind


def test_an_alarm_during_the_final_bake_rolls_back_at_the_alarm() -> None:
    # 100% at 9 minutes, then a one-hour bake; the defect starts at 10 minutes. The service alert fires
    # (a CloudWatch alarm) and wakes the strategy, which rolls back at once, before the on-call engineer
    # (5 minutes later) would; the release was never done.
    detection = {"analysis": {"enabled": False}, "user_reports": {"enabled": False}}
    scenario = _scenario(
        "Linear", {"bake": "1h"}, release={"defect": {"harm": 0.2, "onset": "10m"}}, detection=detection
    )
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    alarms: dict[int, float] = {}
    simulation.subscribe(lambda e: alarms.setdefault(e.replication, e.time) if e.kind == "alarm" else None)
    simulation.run()
    assert not simulation.errors, simulation.errors
    (measures,) = simulation.measures().values()
    for r, m in enumerate(measures):
        assert m.caught_by == "service_alert" and m.caught_late and m.rollout_duration_s is None
        assert 600.0 < alarms[r] == m.detection_s == m.rollback_s == m.mitigation_s < 540.0 + 3600.0


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("Linear", {"step": 0}, r"step must be a share in \(0, 1\]"),
        ("Linear", {"step": 1.5}, r"step must be a share in \(0, 1\]"),
        ("Linear", {"every": "0s"}, "every must be a positive duration"),
        ("Linear", {"unit": "instance"}, "unit must be 'request' or 'user'"),
        ("Exponential", {"growth_factor": 0.5}, "growth_factor must be a percentage from 1 to 100"),
        ("Exponential", {"growth_factor": 101}, "growth_factor must be a percentage from 1 to 100"),
        ("TwoStepCanary", {"first": 1.0}, r"first must be a share in \(0, 1\)"),
        ("TwoStepCanary", {"wait": "0s"}, "wait must be a positive duration"),
        ("TwoStepCanary", {"bake": "later"}, "param 'bake': expected a duration"),
    ],
)
def test_bad_params_are_refused_naming_the_param(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(sim.ScenarioError, match=message):
        sim.compare(_scenario(kind, params), replications=1, workers=1)
