"""The built-in canary with a Flagger-style judge: hold on a failed check, roll back at the threshold.

Flagger's settings from the issue: a check every minute, ``threshold`` 5
failed checks, ``stepWeight`` 10%, ``maxWeight`` 50%.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import sim
from tests.generators import NO_DETECTION, make_scenario
from tests.shapes import shape

Z = 4.0
REPLICATIONS = 64
USERS, RATE = 10_000, 50.0
FLAGGER_STEPS = [0.1, 0.2, 0.3, 0.4, 0.5]
FLAGGER_JUDGE = {
    "use": "threshold",
    "params": {"rule": "flagger", "threshold": 5, "interval": "1m", "max_error_rate": 0.01, "min_requests": 10},
}


def _canary(name: str, on_failure: str) -> dict[str, Any]:
    params = {"steps": FLAGGER_STEPS, "bake": "1m", "check": "1m", "on_failure": on_failure, "judge": "flagger"}
    return {"name": name, "use": shape("RecordingCanary"), "params": params, "judges": {"flagger": FLAGGER_JUDGE}}


def _simulation(harm: float, *strategies: dict[str, Any], horizon: str = "1h") -> sim.Simulation:
    scenario = make_scenario(
        horizon=horizon,
        population={"users": USERS},
        traffic={"rate": RATE},
        release={"defect": {"harm": harm}},
        detection=NO_DETECTION,
        telemetry={"scrape_interval": "1m"},
        strategies=list(strategies),
    )
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    simulation.run()
    assert not simulation.errors, simulation.errors
    return simulation


def _lane(simulation: sim.Simulation, name: str) -> Any:
    return next(lane for lane in simulation.lanes if lane.name == name)


def _weights(trace: list[tuple[float, Any, sim.Decision]]) -> list[float]:
    """The weight each decision left in place (a rollback keeps the last one)."""
    weights, current = [], 0.0
    for _, _, decision in trace:
        current = decision.weight if decision.weight is not None else current
        weights.append(current)
    return weights


def test_hold_never_increases_the_weight_after_a_failed_check_and_rolls_back_at_the_fifth() -> None:
    # An error rate close to the limit: some checks fail, some pass.
    simulation = _simulation(0.01, _canary("hold", "hold"))
    lane = _lane(simulation, "hold")
    (measures,) = simulation.measures().values()
    held = advanced_after_a_pass = 0
    for r in range(REPLICATIONS):
        trace = lane.strategies[r].trace
        weights = _weights(trace)
        for i in range(1, len(trace)):
            now, view, decision = trace[i]
            fresh = view.measurements > trace[i - 1][1].measurements
            if fresh and view.last == "failed":
                assert weights[i] <= weights[i - 1], (r, now)
                held += decision.action == "continue"
            elif weights[i] > weights[i - 1]:
                advanced_after_a_pass += 1
        failures = [view.failures for _, view, _ in trace]
        rollbacks = [i for i, (_, _, decision) in enumerate(trace) if decision.action == "rollback"]
        if failures[-1] >= 5:
            # The fifth failed check fails the judge; the canary rolls back at that check.
            (last,) = rollbacks
            assert last == len(trace) - 1 and failures[last] == 5 and failures[last - 1] == 4
            assert trace[last][1].verdict == "failed"
            assert measures[r].rollback_s == trace[last][0]
            assert measures[r].caught_by == "flagger"
        else:
            assert not rollbacks and measures[r].rollback_s is None
    # The property is not vacuous: checks failed and the canary held, and passes let it advance.
    assert held > 0 and advanced_after_a_pass > 0
    assert sum(m.rollback_s is not None for m in measures) > 0


def test_flagger_settings_hold_harms_far_fewer_users_than_big_bang() -> None:
    harm = 0.05
    simulation = _simulation(harm, _canary("hold", "hold"), _canary("argo", "rollback"), {"name": "bigbang"})
    measures = simulation.measures()
    hold, argo, bigbang = measures["hold"], measures["argo"], measures["bigbang"]
    # Every check fails from the first minute: the judge fails at the fifth, at 5 minutes.
    assert all(m.rollback_s == 300.0 and m.caught_by == "flagger" for m in hold + argo)
    hold_trace = [_weights(strategy.trace) for strategy in _lane(simulation, "hold").strategies]
    argo_trace = [_weights(strategy.trace) for strategy in _lane(simulation, "argo").strategies]
    assert all(max(weights) == 0.1 for weights in hold_trace)  # held at the first step
    assert all(weights == [*FLAGGER_STEPS, 0.5] for weights in argo_trace)  # kept stepping to max weight
    hold_users = np.array([m.blast_radius_users for m in hold], dtype=float)
    argo_users = np.array([m.blast_radius_users for m in argo], dtype=float)
    bigbang_users = np.array([m.blast_radius_users for m in bigbang], dtype=float)
    assert hold_users.mean() < 0.05 * bigbang_users.mean()
    assert hold_users.mean() < argo_users.mean()
    # Closed form for hold: 10% of the traffic until the 30 s redeploy after 5 minutes is over.
    lam = RATE / USERS
    exposure = 0.1 * (300.0 + 30.0)
    requests = np.array([m.blast_radius_requests for m in hold], dtype=float)
    expected = RATE * exposure * harm
    assert abs(requests.mean() - expected) <= Z * math.sqrt(expected / len(requests))
    expected_users = USERS * -math.expm1(-lam * harm * exposure)
    assert abs(hold_users.mean() - expected_users) <= Z * hold_users.std(ddof=1) / math.sqrt(len(hold_users))
    # Big-bang, with no watcher: every user's requests for the whole hour.
    expected_users = USERS * -math.expm1(-lam * harm * 3600.0)
    tolerance = Z * bigbang_users.std(ddof=1) / math.sqrt(len(bigbang_users))
    assert abs(bigbang_users.mean() - expected_users) <= tolerance


def test_rollback_mode_keeps_stepping_while_checks_fail() -> None:
    timeline = sim.run(
        make_scenario(
            horizon="1h",
            population={"users": USERS},
            traffic={"rate": RATE},
            release={"defect": {"harm": 0.05}},
            detection=NO_DETECTION,
            strategies=[_canary("argo", "rollback")],
        )
    ).timeline
    changes = timeline[timeline["event"].str.startswith("exposure")]
    assert list(zip(changes["time_s"], changes["weight"], strict=True)) == [
        (0.0, 0.1),
        (60.0, 0.2),
        (120.0, 0.3),
        (180.0, 0.4),
        (240.0, 0.5),
        (330.0, 0.0),  # rolled back at the fifth failed check, 300 s, plus the 30 s redeploy
    ]
