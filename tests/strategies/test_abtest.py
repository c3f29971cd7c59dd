"""The built-in segment A/B test: one matched segment gets the new version, judged, then everyone."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.population import build_cohorts
from strategies.abtest import SegmentAB
from tests.generators import NO_DETECTION, compared_runs, make_scenario

USE = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'abtest.py'}:SegmentAB"
SEGMENTS = [
    {"name": "internal", "share": 0.05},
    {"name": "beta", "share": 0.15},
    {"name": "general", "share": 0.8},
]
DURATION = 600.0  # Flagger's A/B example: 10 iterations of 1m
PARAMS = {"segment": "beta", "duration": "10m"}
REPLICATIONS = 64
USERS, RATE = 20_000, 50.0
CHECK = {
    # A failed one-minute measurement fails the judge; the beta segment sends about 450 requests a minute.
    "analysis": {"failure_limit": 0, "min_requests": 5, "max_error_rate": 0.5},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(params: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "1h",
        "population": {"users": USERS, "segments": SEGMENTS},
        "traffic": {"rate": RATE},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [{"name": "ab", "use": USE, "params": params or PARAMS}],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _beta_users(scenario: sim.Scenario) -> int:
    return int(build_cohorts(scenario).users[1])  # one rate class: one cohort per segment, in order


def test_only_the_matched_segment_is_exposed_during_the_test() -> None:
    scenario = _scenario(release={"defect": {"harm": 0.05}})
    beta = _beta_users(scenario)
    assert beta == 3000
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    for time in (60.0, 300.0, DURATION):
        simulation.run_until(time + 1.0)  # the tick ending at ``time`` has been drawn
        snapshot = simulation.snapshot()
        assert (snapshot["exposed_users"] <= beta).all(), time
        assert (snapshot["harmed_users"] <= snapshot["exposed_users"]).all(), time
    # Every beta user's requests all went to the new version for 10 minutes (1.5 requests each on average).
    assert (snapshot["exposed_users"] > 0.6 * beta).all()
    simulation.run_until(DURATION + 300.0)
    assert (simulation.snapshot()["exposed_users"] > beta).all()  # promoted to everyone


def test_the_ab_timeline() -> None:
    timeline = sim.run(_scenario()).timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, DURATION, DURATION]
    assert changes["event"].tolist()[0] == "exposure: beta=1 user"
    assert changes["weight"].tolist()[1:] == [1.0, 1.0]


def test_a_healthy_release_is_promoted_after_the_test() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == DURATION).all()


def test_a_failing_check_rolls_back_the_segment_at_once() -> None:
    scenario = _scenario(release={"defect": {"harm": 1.0}}, detection=CHECK)
    runs = _runs(scenario)
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["rollback_s"] == 60.0).all()  # the first measurement
    assert (runs["mitigation_s"] == 60.0).all()  # the route is removed: instant
    beta = _beta_users(scenario)
    assert (runs["exposed_users"] <= beta).all() and (runs["blast_radius_users"] <= beta).all()
    assert (runs["blast_radius_users"] > 0).all()


def test_a_defect_outside_the_segment_is_not_seen_before_the_promotion() -> None:
    runs = _runs(_scenario(release={"defect": {"harm": 1.0, "segment": "general"}}, detection=CHECK))
    assert (runs["onset_s"] >= DURATION).all()
    assert (runs["rollout_duration_s"] == DURATION).all()
    assert (runs["outcome"] == "escaped").all()  # its judges stop at the promotion; no watcher here


@pytest.mark.parametrize(
    "params",
    [{}, {"segment": ""}, {"segment": "*"}, {"segment": 3}, {"segment": "beta", "duration": "soon"}, {"check": "0s"}],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as error:
        SegmentAB(**params)
    assert "\n" not in str(error.value)
