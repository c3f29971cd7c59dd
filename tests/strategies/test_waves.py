"""The built-in waves: one box in the first region, then region by region, each wave judged afresh."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.population import build_cohorts
from strategies.waves import Waves
from tests.generators import NO_DETECTION, compared_runs, make_scenario

USE = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'waves.py'}:Waves"
SEGMENTS = [
    {"name": "us", "share": 0.5},
    {"name": "eu", "share": 0.3},
    {"name": "ap", "share": 0.2},
]
ONE_BOX, BAKE = 600.0, 1200.0
PARAMS = {"regions": ["us", "eu"], "bake": "20m", "one_box_bake": "10m", "instances": 20, "one_box": 1}
DONE = ONE_BOX + 2 * BAKE  # the one box, then two waves
REPLICATIONS = 64
USERS, RATE = 20_000, 50.0
CHECK = {
    # A failed one-minute measurement fails the judge; the one box gets about 75 requests a minute;
    # an eu-only defect is 37.5% of the requests once us and eu are served.
    "analysis": {"failure_limit": 0, "min_requests": 5, "max_error_rate": 0.2},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(params: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "2h",
        "population": {"users": USERS, "segments": SEGMENTS},
        "traffic": {"rate": RATE},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [{"name": "waves", "use": USE, "params": params or PARAMS}],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _users(scenario: sim.Scenario) -> dict[str, int]:
    users = build_cohorts(scenario).users  # one rate class: one cohort per segment, in order
    return {segment["name"]: int(users[i]) for i, segment in enumerate(SEGMENTS)}


def test_the_one_box_then_only_the_named_regions_are_exposed() -> None:
    scenario = _scenario()
    users = _users(scenario)
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    simulation.run_until(ONE_BOX + 1.0)  # the last one-box tick has been drawn; the first wave began at 600 s
    snapshot = simulation.snapshot()
    assert (snapshot["exposed_users"] > 0).all()
    assert (snapshot["exposed_users"] <= users["us"]).all()
    # One box of 20 in the first region: 5% of its requests for 10 minutes, far fewer users than all of it.
    assert snapshot["new_requests"].max() < 0.1 * RATE * 0.5 * ONE_BOX
    for time in (ONE_BOX + 600.0, ONE_BOX + BAKE):
        simulation.run_until(time + 1.0)
        snapshot = simulation.snapshot()
        assert (snapshot["exposed_users"] <= users["us"]).all(), time
    assert (snapshot["exposed_users"] > 0.9 * users["us"]).all()  # every us user, 20 minutes of requests
    simulation.run_until(DONE - 60.0)
    snapshot = simulation.snapshot()
    assert (snapshot["exposed_users"] <= users["us"] + users["eu"]).all()
    assert (snapshot["exposed_users"] > users["us"]).all()


def test_the_waves_timeline() -> None:
    result = sim.run(_scenario())
    timeline = result.timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, ONE_BOX, ONE_BOX + BAKE, DONE, DONE]
    one_box, first, second = changes["event"].tolist()[:3]
    assert one_box == "exposure: us=0.05 of 20 instances"  # one box of the 20 hosts in us
    assert first == "exposure: us=1 of 20 instances"
    assert second == "exposure: eu=1, us=1 of 20 instances"
    assert changes["weight"].tolist()[3:] == [1.0, 1.0]  # the promotion: every segment, ap included


def test_a_healthy_release_completes_after_the_one_box_and_every_wave() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == DONE).all()


def test_a_wave_may_bake_for_its_own_time() -> None:
    params = {**PARAMS, "regions": ["us", {"segments": ["eu", "ap"], "bake": "5m"}]}
    result = sim.run(_scenario(params))
    assert result.measures.iloc[0]["rollout_duration_s"] == ONE_BOX + BAKE + 300.0


def test_a_failing_check_in_the_one_box_rolls_back_at_its_first_measurement() -> None:
    scenario = _scenario({**PARAMS, "rollback": "instant"}, release={"defect": {"harm": 1.0}}, detection=CHECK)
    runs = _runs(scenario)
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["rollback_s"] == 60.0).all()
    assert (runs["mitigation_s"] == 60.0).all()  # rollback = "instant"
    assert (runs["exposed_users"] <= _users(scenario)["us"]).all()
    # The scenario's rollback by default (a 30 s redeploy).
    runs = _runs(_scenario(release={"defect": {"harm": 1.0}}, detection=CHECK))
    assert (runs["rollback_s"] == 60.0).all()
    assert (runs["mitigation_s"] == 90.0).all()


def test_each_wave_restarts_its_judge_and_a_defect_in_the_second_region_is_caught_there() -> None:
    release = {"defect": {"harm": 1.0, "segment": "eu"}}
    scenario = _scenario({**PARAMS, "rollback": "instant"}, release=release, detection=CHECK)
    runs = _runs(scenario)
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["onset_s"] >= ONE_BOX + BAKE).all()
    # The judge restarts when the eu wave starts; its first measurement, a minute later, fails.
    assert (runs["rollback_s"] == ONE_BOX + BAKE + 60.0).all()
    users = _users(scenario)
    assert (runs["exposed_users"] <= users["us"] + users["eu"]).all()
    assert (runs["blast_radius_users"] <= users["eu"]).all()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"regions": []},
        {"regions": "us"},
        {"regions": [""]},
        {"regions": [{"bake": "1h"}]},
        {"regions": [{"segments": ["us"], "soak": "1h"}]},
        {"regions": [{"segments": ["us"], "bake": "later"}]},
        {"regions": ["us"], "bake": "later"},
        {"regions": ["us"], "instances": 0},
        {"regions": ["us"], "instances": 10, "one_box": 11},
        {"regions": ["us"], "check": "0s"},
        {"regions": ["us"], "rollback": "gradual"},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as error:
        Waves(**params)
    assert "\n" not in str(error.value)
