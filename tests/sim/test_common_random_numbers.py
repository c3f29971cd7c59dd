"""Common random numbers: strategies of one replication share traffic, baseline errors and people.

Two strategies side by side in one ``Simulation`` (and in ``compare``) must
differ only by what they decide: the k-th cell of traffic, the baseline
errors among those requests, and the k-th answer of the approver are the
same for both in a replication.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import sim
from sim.telemetry import ERRORS, SLOW
from tests.generators import NO_DETECTION, make_scenario
from tests.shapes import shape

# Fixed examples (derandomized), and no shrinking: every example is a whole simulation, and a
# failure names its seed and strategies anyway.
PROPERTY = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
REPLICATIONS = 16
PAUSES = 3
APPROVER = {"mean": "10m", "distribution": "exponential"}

exposures = st.fixed_dictionaries(
    {
        "weight": st.sampled_from([0.01, 0.1, 0.3, 0.5]),
        "unit": st.sampled_from(["request", "user"]),
        "gap": st.sampled_from([1.0, 90.0, 420.0]),
    }
)


def _scenario(seed: int, first: dict[str, Any], second: dict[str, Any]) -> sim.Scenario:
    return make_scenario(
        horizon="3h",
        seed=seed,
        population={
            "users": 3_000,
            "rate_classes": [{"share": 0.8, "relative_rate": 0.5}, {"share": 0.2, "relative_rate": 3.0}],
        },
        traffic={"rate": 30.0, "start_hour": 8},
        release={},
        detection=NO_DETECTION,
        people={"approver": APPROVER},
        strategies=[
            {"name": "a", "use": shape("Pauser"), "params": {"pauses": PAUSES, **first}},
            {"name": "b", "use": shape("Pauser"), "params": {"pauses": PAUSES, **second}},
        ],
    )


def _errors(lane: Any) -> np.ndarray:
    """Errors and slow requests per replication, summed over segments and arms (stable, new, baseline)."""
    return lane.plane.counters[..., [ERRORS, SLOW]].sum(axis=(1, 2))


def _side_by_side(seed: int, first: dict[str, Any], second: dict[str, Any]) -> tuple[Any, Any]:
    """The two lanes of one Simulation of both strategies, run to the horizon."""
    simulation = sim.Simulation(_scenario(seed, first, second), replications=REPLICATIONS)
    simulation.run()
    assert not simulation.errors, simulation.errors
    return tuple(simulation.lanes)


@PROPERTY
@given(st.integers(0, 2**32 - 1), exposures, exposures)
def test_two_strategies_of_one_replication_see_the_same_traffic_and_baseline_errors(
    seed: int, first: dict[str, Any], second: dict[str, Any]
) -> None:
    a, b = _side_by_side(seed, first, second)
    assert (a.plane.requests == b.plane.requests).all()
    assert (a.plane.requests > 0).all()
    # A healthy release: every error and slow request is a baseline one, wherever it was routed.
    assert (_errors(a) == _errors(b)).all()


@PROPERTY
@given(st.integers(0, 2**32 - 1), exposures, exposures)
def test_two_strategies_of_one_replication_get_the_same_approver_answers(
    seed: int, first: dict[str, Any], second: dict[str, Any]
) -> None:
    a, b = _side_by_side(seed, first, second)
    for r in range(REPLICATIONS):
        ours, theirs = a.strategies[r], b.strategies[r]
        answered = min(len(ours.resumed_at), len(theirs.resumed_at))
        assert answered > 0
        # Equal up to the engine's clock resolution (event times are rounded to a microsecond).
        assert ours.responses[:answered] == pytest.approx(theirs.responses[:answered], abs=2e-6), r


@PROPERTY
@given(st.integers(0, 2**32 - 1), exposures, exposures)
def test_the_same_traffic_and_approver_in_compare(seed: int, first: dict[str, Any], second: dict[str, Any]) -> None:
    second = {**second, "gap": first["gap"]}  # then the rollout ends at the same time for both
    comparison = sim.compare(_scenario(seed, first, second), replications=REPLICATIONS, workers=1)
    assert not comparison.errors, comparison.errors
    runs = comparison.runs
    a, b = runs[runs["strategy"] == "a"], runs[runs["strategy"] == "b"]
    assert a["replication"].tolist() == b["replication"].tolist()
    assert a["requests"].tolist() == b["requests"].tolist()
    # Done after PAUSES answers, each a gap after the last: the same answers give the same end.
    assert a["rollout_duration_s"].fillna(-1.0).tolist() == b["rollout_duration_s"].fillna(-1.0).tolist()


def test_run_gives_replication_k_of_compare_for_a_strategy_at_a_gate() -> None:
    # sim.run promises replication k of compare; a strategy's approver answers must not depend on
    # which other strategies run beside it.
    scenario = _scenario(
        7, {"weight": 0.1, "unit": "request", "gap": 60.0}, {"weight": 0.3, "unit": "user", "gap": 60.0}
    )
    compared = sim.compare(scenario, replications=1, workers=1).runs.set_index("strategy")
    traced = sim.run(scenario).measures.set_index("strategy")
    for name in ("a", "b"):
        assert traced.loc[name, "rollout_duration_s"] == compared.loc[name, "rollout_duration_s"], name


def test_two_strategies_of_one_replication_get_the_same_strategy_rng() -> None:
    # Observation.rng is "a numpy Generator of this replication, the same for every strategy".
    scenario = make_scenario(
        horizon="30m",
        release={},
        detection=NO_DETECTION,
        strategies=[
            {"name": "a", "use": shape("Draws"), "params": {"weight": 0.1}},
            {"name": "b", "use": shape("Draws"), "params": {"weight": 0.5}},
        ],
    )
    simulation = sim.Simulation(scenario, replications=4)
    simulation.run()
    a, b = simulation.lanes
    for r in range(4):
        assert len(a.strategies[r].draws) >= 30  # every minute from t = 0
        assert a.strategies[r].draws == b.strategies[r].draws, r
