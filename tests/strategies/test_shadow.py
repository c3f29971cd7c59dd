"""The built-in shadow-then-canary: mirrored traffic judged with nobody served, then canary steps."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import sim
from strategies.shadow import ShadowThenCanary
from tests.generators import NO_DETECTION, compared_runs, make_scenario

USE = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'shadow.py'}:ShadowThenCanary"
SHADOW, BAKE = 1800.0, 600.0
PARAMS = {"shadow": "30m", "steps": [0.1, 0.5], "bake": "10m"}
DONE = SHADOW + 2 * BAKE
REPLICATIONS = 64
CHECK = {
    # A failed one-minute measurement fails the judge (above 20% errors); harm 1.0 errs on every request, stable 0.001.
    "analysis": {"failure_limit": 0, "min_requests": 5, "max_error_rate": 0.2},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(params: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "1h",
        "population": {"users": 20_000},
        "traffic": {"rate": 50.0},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [{"name": "shadow", "use": USE, "params": params or PARAMS}],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def test_nobody_is_exposed_during_the_shadow() -> None:
    simulation = sim.Simulation(_scenario(release={"defect": {"harm": 0.05}}), replications=REPLICATIONS)
    for time in (60.0, 900.0, SHADOW):
        simulation.run_until(time + 1.0)  # the tick ending at ``time`` has been drawn
        snapshot = simulation.snapshot()
        assert (snapshot["exposed_users"] == 0).all(), time
        assert (snapshot["harmed_users"] == 0).all() and (snapshot["harmed_requests"] == 0).all(), time
        assert (snapshot["stable_requests"] == snapshot["requests"]).all(), time  # stable serves everyone
        assert (snapshot["new_requests"] > 0).all(), time  # the mirrored copies
    simulation.run_until(SHADOW + 120.0)
    assert (simulation.snapshot()["exposed_users"] > 0).all()  # the canary serves users


def test_the_shadow_timeline() -> None:
    timeline = sim.run(_scenario()).timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, SHADOW, SHADOW + BAKE, DONE, DONE]
    assert changes["event"].tolist()[0] == "exposure: mirror 1 request"
    assert changes["weight"].tolist()[1:] == [0.1, 0.5, 1.0, 1.0]


def test_a_healthy_release_completes_after_the_shadow_and_every_step() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == DONE).all()
    runs = _runs(_scenario({"shadow": "20m", "steps": []}))  # mirrored blue-green: promoted after the shadow
    assert (runs["rollout_duration_s"] == 1200.0).all()


def test_a_defect_caught_in_the_shadow_harms_nobody() -> None:
    runs = _runs(_scenario({**PARAMS, "mirror_share": 0.2}, release={"defect": {"harm": 1.0}}, detection=CHECK))
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["onset_s"] < 60.0).all()  # the mirrored copies meet the defect
    assert (runs["rollback_s"] == 60.0).all()  # the first measurement: ~600 mirrored requests, all failing
    assert (runs["mitigation_s"] == 60.0).all()  # instant: the mirror is removed
    assert (runs["blast_radius_users"] == 0).all() and (runs["blast_radius_requests"] == 0).all()
    assert (runs["exposed_users"] == 0).all()


def test_a_defect_that_starts_after_the_shadow_is_caught_in_the_canary() -> None:
    release = {"defect": {"harm": 1.0, "onset": SHADOW + 90.0}}
    runs = _runs(_scenario(release=release, detection=CHECK))
    assert (runs["outcome"] == "rolled_back").all()
    # The judge restarted at 1800 s: the 1860 s measurement is clean, the 1920 s one (half defective) fails.
    assert (runs["rollback_s"] == SHADOW + 120.0).all()
    assert (runs["mitigation_s"] == SHADOW + 150.0).all()  # the scenario's rollback: a 30 s redeploy
    assert (runs["blast_radius_users"] > 0).all()


@pytest.mark.parametrize(
    "params",
    [
        {"mirror_share": 0.0},
        {"mirror_share": 1.5},
        {"mirror_share": True},
        {"steps": [0.0]},
        {"steps": [1.2]},
        {"steps": "0.5"},
        {"unit": "instance"},
        {"shadow": "soon"},
        {"check": "0s"},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as error:
        ShadowThenCanary(**params)
    assert "\n" not in str(error.value)
