"""The built-in rings: internal, then beta, then everyone, a whole segment at a time."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import sim
from sim.population import build_cohorts
from tests.generators import NO_DETECTION, compared_runs, make_scenario

SEGMENTS = [
    {"name": "internal", "share": 0.02},
    {"name": "beta", "share": 0.08},
    {"name": "general", "share": 0.9},
]
RINGS = [
    {"segments": ["internal"], "bake": "30m"},
    {"segments": ["beta"], "bake": "1h"},
    {"segments": ["*"], "bake": "0s"},
]
LAST_RING = 1800.0 + 3600.0  # the sum of the bakes
REPLICATIONS = 64
USERS, RATE = 20_000, 50.0
Z = 4.0


def _scenario(judges: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    """Rings over three segments; ``judges``: the strategy's own, each ring running all of them."""
    spec: dict[str, Any] = {"name": "rings", "params": {"rings": RINGS}}
    if judges:
        spec["judges"] = judges
        spec["params"]["rings"] = [{**ring, "judges": list(judges)} for ring in RINGS]
    fields: dict[str, Any] = {
        "horizon": "2h",
        "population": {"users": USERS, "segments": SEGMENTS},
        "traffic": {"rate": RATE},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [spec],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def test_only_internal_users_are_exposed_while_only_the_internal_ring_is_out() -> None:
    scenario = _scenario(release={"defect": {"harm": 0.05}})
    internal = int(build_cohorts(scenario).users[0])
    assert internal == 400
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    for time in (60.0, 600.0, 1200.0, 1800.0):
        simulation.run_until(time + 1.0)  # the tick ending at ``time`` has been drawn
        snapshot = simulation.snapshot()
        assert (snapshot["exposed_users"] <= internal).all(), time
        assert (snapshot["harmed_users"] <= snapshot["exposed_users"]).all(), time
    # Each internal user's requests all went to the new version for 30 minutes (Z = 4 standard errors).
    exposed = snapshot["exposed_users"].to_numpy(dtype=float)
    expected = internal * -math.expm1(-RATE / USERS * 1800.0)
    assert abs(exposed.mean() - expected) <= Z * exposed.std(ddof=1) / math.sqrt(len(exposed))
    simulation.run_until(LAST_RING - 60.0)
    snapshot = simulation.snapshot()
    assert (snapshot["exposed_users"] <= internal + 1600).all()
    assert (snapshot["exposed_users"] > internal).all()


def test_a_defect_in_the_general_segment_is_not_reached_before_the_last_ring() -> None:
    runs = _runs(_scenario(release={"defect": {"harm": 0.05, "segment": "general"}}))
    onset = runs["onset_s"].to_numpy(dtype=float)
    assert not np.isnan(onset).any()
    assert (onset >= LAST_RING).all()
    assert (runs["rollout_duration_s"] == LAST_RING).all()


def test_a_failing_judge_in_the_first_ring_rolls_back_and_is_named() -> None:
    smoke = {"use": "threshold", "params": {"max_error_rate": 0.05, "min_requests": 20}}
    scenario = _scenario({"smoke": smoke}, release={"defect": {"harm": 0.3}})
    runs = _runs(scenario)
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "smoke").all()
    # Its first one-minute measurement (about 60 internal requests, 30% failing) fails.
    assert (runs["rollback_s"] == 60.0).all()
    # Only the internal ring was ever exposed.
    assert (runs["exposed_users"] <= int(build_cohorts(scenario).users[0])).all()


def test_a_healthy_release_completes_at_the_sum_of_the_bakes() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == LAST_RING).all()


def test_the_rings_timeline() -> None:
    timeline = sim.run(_scenario()).timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, 1800.0, LAST_RING, LAST_RING]
    first, second = changes["event"].tolist()[:2]
    assert "internal=1" in first and "beta" not in first and "general" not in first
    assert "internal=1" in second and "beta=1" in second and "general" not in second
