"""The Flagger canary: a tick every interval, a held weight after a failed check, a rollback at the threshold.

Times are those of Flagger's scheduler (``pkg/controller/scheduler.go``): the
tick at t = 0 sets the first weight and runs no analysis; each later tick
first rolls back if earlier ticks' failed checks reached the threshold, then
runs the check, then advances.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sim
from tests.generators import NO_DETECTION, compared_runs, make_scenario

FLAGGER = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'flagger.py'}:FlaggerCanary"
REPLICATIONS = 64
SEGMENTS = [{"name": "beta", "share": 0.1}, {"name": "general", "share": 0.9}]


def _judge(threshold: int) -> dict[str, Any]:
    params = {"rule": "flagger", "threshold": threshold, "interval": "1m", "max_error_rate": 0.01, "min_requests": 10}
    return {"analysis": {"use": "threshold", "params": params}}


def _scenario(params: dict[str, Any], judges: dict[str, Any] | None = None, **fields: Any) -> sim.Scenario:
    """One Flagger canary (no judge unless given: detection off) on a healthy release unless told."""
    strategy = {"name": "flagger", "use": FLAGGER, "params": params, "judges": judges or {}}
    defaults: dict[str, Any] = {
        "horizon": "1h",
        "population": {"users": 10_000, "segments": SEGMENTS},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [strategy],
    }
    return make_scenario(**{**defaults, **fields})


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _changes(scenario: sim.Scenario) -> list[tuple[float, float, str]]:
    """(time, weight, event) of every exposure change and the promotion, in replication 0."""
    result = sim.run(scenario)
    assert not result.errors, result.errors
    timeline = result.timeline
    rows = timeline[timeline["event"].str.startswith(("exposure", "done", "rolling_back"))]
    return list(zip(rows["time_s"], rows["weight"].round(6), rows["event"], strict=True))


def test_the_docs_example_promotes_after_25_intervals() -> None:
    # Flagger's docs: maxWeight 50, stepWeight 2, interval 1m promotes after 25 minutes. In the code the
    # tick at 0 sets 2%, the ticks at 1..24 min raise it to 50%, and the tick at 25 min sees 50% >= maxWeight
    # and promotes: 25 x 60 = 1,500 s.
    scenario = _scenario({"maxWeight": 50, "stepWeight": 2, "interval": "1m"})
    assert (_runs(scenario)["rollout_duration_s"] == 1500.0).all()
    changes = _changes(scenario)
    expected = [(60.0 * k, round(0.02 * (k + 1), 6)) for k in range(25)] + [(1500.0, 1.0), (1500.0, 1.0)]
    assert [(time, weight) for time, weight, _ in changes] == expected
    assert changes[-1][2] == "done"
    assert max(weight for _, weight, event in changes if event != "done" and weight < 1.0) == 0.5


def test_every_check_failing_rolls_back_one_interval_after_the_threshold() -> None:
    # Flagger's docs: interval x threshold (1m x 10 = 10 min). Its code: checks fail at 1..10 min, the 10th
    # makes failedChecks reach the threshold, and the next tick (11 min) rolls back: (10 + 1) x 60 = 660 s.
    scenario = _scenario(
        {"maxWeight": 50, "stepWeight": 2, "interval": "1m"}, _judge(threshold=10), release={"defect": {"harm": 1.0}}
    )
    runs = _runs(scenario)
    assert (runs["rollback_s"] == 660.0).all()
    assert (runs["mitigation_s"] == 660.0).all()  # instant: all traffic back to the primary
    assert (runs["caught_by"] == "analysis").all() and (runs["outcome"] == "rolled_back").all()
    # Every check failed, so the weight never left the first step.
    assert _changes(scenario) == [
        (0.0, 0.02, "exposure: 0.02 request"),
        (660.0, 0.02, "rolling_back: analysis"),
        (660.0, 0.0, "exposure: 0 request"),
    ]


def test_the_strategy_threshold_counts_failed_ticks() -> None:
    # threshold = 3 on the strategy: failed checks at 1, 2 and 3 min, rollback at the tick at 4 min,
    # long before the judge's own threshold of 10.
    scenario = _scenario(
        {"maxWeight": 50, "stepWeight": 10, "threshold": 3}, _judge(threshold=10), release={"defect": {"harm": 1.0}}
    )
    assert (_runs(scenario)["rollback_s"] == 240.0).all()


def _recording(decide: Callable[[sim.Observation], sim.Decision], trace: list[tuple]) -> Callable:
    def wrapped(obs: sim.Observation) -> sim.Decision:
        decision = decide(obs)
        trace.append((obs.now, obs.judge("analysis"), decision))
        return decision

    return wrapped


def test_a_failed_check_holds_the_weight_and_the_weight_never_exceeds_max_weight() -> None:
    # An error rate at the judge's limit: some checks fail, some pass.
    scenario = _scenario({"maxWeight": 50, "stepWeight": 10}, _judge(threshold=5), release={"defect": {"harm": 0.01}})
    simulation = sim.Simulation(scenario, replications=REPLICATIONS)
    (lane,) = simulation.lanes
    traces: list[list[tuple]] = [[] for _ in lane.strategies]
    for strategy, trace in zip(lane.strategies, traces, strict=True):
        strategy.decide = _recording(strategy.decide, trace)
    simulation.run()
    assert not simulation.errors, simulation.errors
    held = advanced = 0
    for trace in traces:
        weight, bad = 0.0, 0
        for now, view, decision in trace:
            assert now % 60.0 == 0.0  # the judge measures on the ticks: every call is a tick
            new_weight = weight if decision.weight is None else decision.weight
            failed = view.failures + view.inconclusive > bad
            bad = view.failures + view.inconclusive
            if decision.action == "done":
                assert not failed and weight == 0.5  # promoted from max weight, after a passed check
                continue
            assert new_weight <= 0.5
            if failed:
                assert new_weight == weight, (now, weight, new_weight)
                held += decision.action == "continue"
            advanced += new_weight > weight
            weight = new_weight
    assert held > 0 and advanced > 0


def test_a_failure_from_a_later_onset_holds_the_weight_reached() -> None:
    # Checks at 1 and 2 min pass (20%, 30%); the defect starts at 150 s, so the checks at 3, 4 and 5 min
    # fail (threshold 3): the weight stays at 30% until the rollback at 6 min.
    scenario = _scenario(
        {"maxWeight": 50, "stepWeight": 10},
        _judge(threshold=3),
        release={"defect": {"harm": 1.0, "onset": "150s"}},
        telemetry={"baseline_error_rate": 0.0},
    )
    assert [(time, weight) for time, weight, _ in _changes(scenario)] == [
        (0.0, 0.1),
        (60.0, 0.2),
        (120.0, 0.3),
        (360.0, 0.3),  # rolling back
        (360.0, 0.0),
    ]


def test_the_weight_may_pass_max_weight_as_flaggers_code_lets_it() -> None:
    # maxWeight 50, stepWeight 20: Flagger's runCanary adds a step while the weight is below the max.
    changes = _changes(_scenario({"maxWeight": 50, "stepWeight": 20}))
    assert [(time, weight) for time, weight, _ in changes] == [
        (0.0, 0.2),
        (60.0, 0.4),
        (120.0, 0.6),
        (180.0, 1.0),
        (180.0, 1.0),
    ]


def test_step_weights_end_at_their_last_weight() -> None:
    changes = _changes(_scenario({"stepWeights": [1, 2, 10, 80]}))
    assert [(time, weight) for time, weight, _ in changes] == [
        (0.0, 0.01),
        (60.0, 0.02),
        (120.0, 0.1),
        (180.0, 0.8),
        (240.0, 1.0),  # 80% is the max weight: promoted at the next tick
        (240.0, 1.0),
    ]


def test_ab_testing_routes_one_segment_for_the_iterations() -> None:
    changes = _changes(_scenario({"iterations": 10, "match_segment": "beta"}))
    assert changes == [
        (0.0, 1.0, "exposure: beta=1 request"),
        (600.0, 1.0, "exposure: 1 request"),
        (600.0, 1.0, "done"),
    ]


def test_blue_green_previews_and_promotes_one_iteration_late_as_in_the_code() -> None:
    changes = _changes(_scenario({"iterations": 10}))
    assert changes == [(0.0, 0.0, "exposure: preview 5/s"), (660.0, 1.0, "exposure: 1 request"), (660.0, 1.0, "done")]


def test_flaggers_defaults_and_bounds() -> None:
    cls = sim.load_strategy_class(FLAGGER)
    assert cls().interval == 60.0 and cls(interval="5s").interval == 10.0
    assert cls().threshold is None and cls(threshold=0).threshold == 1 and cls(threshold=-3).threshold == 1
    assert cls().max_weight == 100.0 and cls(stepWeights=[5, 50]).max_weight == 50.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stepWeight": 10, "stepWeights": [10, 20]}, "give stepWeights alone"),
        ({"stepWeights": [20, 10]}, "stepWeights must increase"),
        ({"stepWeight": 0}, "stepWeight must be a percentage"),
        ({"maxWeight": 150}, "maxWeight must be a percentage"),
        ({"match_segment": "beta"}, "match_segment"),
        ({"iterations": 5, "stepWeight": 10}, "iterations"),
        ({"threshold": 2.5}, "threshold must be an integer"),
        ({"interval": "soon"}, "expected a duration"),
    ],
)
def test_bad_params_are_refused_naming_the_param(params: dict[str, Any], message: str) -> None:
    with pytest.raises(sim.ScenarioError, match=message):
        sim.compare(_scenario(params), replications=1, workers=1)
