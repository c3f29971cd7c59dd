"""The steppable Simulation: stepping changes nothing; snapshots, subscribers and recordings.

A scenario that exercises every kind of process: the data plane's ticks,
lagged and missing scrapes, judges, the service alert and user reports with
random response times, a gate answered by the approver, rollbacks that
take time, and strategies of every built-in kind.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim import BLOCK_SIZE, Simulation
from sim.measures import RunMeasures
from tests.generators import make_scenario

V2 = Path(__file__).parent.parent / "plugins" / "v2.py"
SNAPSHOT_COLUMNS = [
    "strategy",
    "replication",
    "time_s",
    "phase",
    "exposure",
    "weight",
    "shares",
    "requests",
    "new_requests",
    "new_errors",
    "stable_requests",
    "stable_errors",
    "baseline_requests",
    "baseline_errors",
    "harmed_requests",
    "harmed_users",
    "exposed_users",
    "verdicts",
    "events",
]
PHASES = {"deciding", "paused", "done", "rolling_back", "mitigated"}


def _scenario(healthy: bool = False) -> sim.Scenario:
    return make_scenario(
        horizon="2h",
        seed=7,
        population={
            "users": 20_000,
            "segments": [
                {"name": "internal", "share": 0.02},
                {"name": "beta", "share": 0.08},
                {"name": "general", "share": 0.9},
            ],
        },
        traffic={"rate": 40.0},
        release={} if healthy else {"defect": {"harm": 0.03, "onset": "10m"}},
        telemetry={"scrape_interval": "60s", "scrape_lag": "30s", "missing_scrapes": 0.05},
        detection={
            "analysis": {"max_error_rate": 0.01, "failure_limit": 1, "min_requests": 20, "window": "2m"},
            "service_alert": {
                "max_error_rate": 0.02,
                "window": "5m",
                "for": "2m",
                "response": {"mean": "5m", "distribution": "exponential"},
            },
            "user_reports": {
                "report_probability": 0.05,
                "delay": "10m",
                "reports_needed": 3,
                "response": {"mean": "10m", "distribution": "lognormal"},
            },
        },
        rollback={"duration": "30s"},
        people={"approver": {"mean": "7m", "distribution": "exponential"}},
        strategies=[
            {"name": "bigbang"},
            {"name": "canary", "params": {"steps": [0.05, 0.2, 0.5], "bake": "5m"}},
            {
                "name": "rings",
                "params": {
                    "rings": [
                        {"segments": ["internal"], "bake": "10m"},
                        {"segments": ["beta"], "bake": "10m"},
                        {"segments": ["*"], "bake": "0s"},
                    ]
                },
            },
            {"name": "gate", "use": f"{V2}:Gate", "params": {"weight": 0.2, "bake": 300}},
            {"name": "bluegreen", "params": {"preview": "5m", "post": "10m"}},
        ],
    )


def _state(simulation: Simulation) -> tuple[dict[str, list[RunMeasures]], list[sim.Event], pd.DataFrame]:
    assert simulation.errors == {}
    return simulation.measures(), list(simulation.events), simulation.snapshot()


def _assert_same(a: Simulation, b: Simulation) -> None:
    measures_a, events_a, snapshot_a = _state(a)
    measures_b, events_b, snapshot_b = _state(b)
    assert a.now == b.now
    assert measures_a == measures_b
    assert events_a == events_b
    pd.testing.assert_frame_equal(snapshot_a, snapshot_b)


# -- stepping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("healthy", [False, True])
@pytest.mark.parametrize(
    ("t1", "t2"),
    [
        (337.5, 1800.0),  # between ticks, then on one
        (600.0, 600.0 + 1e-7),  # the defect's onset edge and a step shorter than the clock
        (90.0, 5400.0),  # a scrape's arrival (lag 30 s), then most of the horizon
    ],
)
def test_running_to_t1_then_t2_is_running_to_t2(healthy: bool, t1: float, t2: float) -> None:
    scenario = _scenario(healthy)
    stepped, straight = Simulation(scenario), Simulation(scenario)
    stepped.run_until(t1)
    stepped.run_until(t2)
    straight.run_until(t2)
    _assert_same(stepped, straight)
    stepped.run()
    finished = Simulation(scenario)
    finished.run()
    _assert_same(stepped, finished)


def test_many_small_steps_change_nothing() -> None:
    scenario = _scenario()
    stepped, straight = Simulation(scenario), Simulation(scenario)
    for time in np.arange(7.3, 3000.0, 7.3):
        stepped.run_until(float(time))
    stepped.run_until(3000.0)
    straight.run_until(3000.0)
    _assert_same(stepped, straight)


def test_running_backwards_or_past_the_horizon_does_nothing_wrong() -> None:
    scenario = _scenario()
    simulation = Simulation(scenario)
    simulation.run_until(1200.0)
    events = len(simulation.events)
    simulation.run_until(600.0)
    assert simulation.now == 1200.0 and len(simulation.events) == events
    simulation.run_until(10 * scenario.horizon)
    assert simulation.now == scenario.horizon
    finished = Simulation(scenario)
    finished.run()
    simulation.run()
    _assert_same(simulation, finished)


def test_everything_before_the_time_has_happened_and_nothing_after() -> None:
    simulation = Simulation(_scenario())
    simulation.run_until(900.0)
    times = [event.time for event in simulation.events]
    assert times and max(times) < 900.0
    # Events come in time order, except a defect onset: it is found when its tick is drawn
    # (at the tick's end) and carries its own, earlier time.
    in_order = [event.time for event in simulation.events if event.kind != "defect onset"]
    assert all(earlier <= later for earlier, later in itertools.pairwise(in_order))
    onsets = [event for event in simulation.events if event.kind == "defect onset"]
    assert onsets and all(600.0 <= event.time < 660.0 for event in onsets)


def test_after_run_every_run_ends_at_the_horizon() -> None:
    scenario = _scenario(healthy=True)
    simulation = Simulation(scenario)
    simulation.run()
    ends = {m.end_s for measures in simulation.measures().values() for m in measures}
    assert ends == {scenario.horizon}


# -- snapshot, subscribe, record ---------------------------------------------------------------


def test_snapshot_has_a_row_per_strategy_and_replication_with_the_documented_columns() -> None:
    scenario = _scenario()
    simulation = Simulation(scenario, block=1)
    simulation.run_until(1500.0)
    snapshot = simulation.snapshot()
    names = [spec.name for spec in scenario.strategies]
    assert list(snapshot.columns) == SNAPSHOT_COLUMNS
    assert len(snapshot) == len(names) * BLOCK_SIZE
    assert snapshot["strategy"].tolist() == [name for name in names for _ in range(BLOCK_SIZE)]
    assert snapshot["replication"].tolist() == list(range(BLOCK_SIZE, 2 * BLOCK_SIZE)) * len(names)
    assert (snapshot["time_s"] == 1500.0).all()
    assert set(snapshot["phase"]) <= PHASES and len(set(snapshot["phase"])) > 1
    assert snapshot["weight"].between(0.0, 1.0).all()
    served = snapshot["stable_requests"] + snapshot["new_requests"] + snapshot["baseline_requests"]
    copies = snapshot["strategy"] == "bluegreen"  # preview requests are copies, not served requests
    assert (served[~copies] == snapshot["requests"][~copies]).all()
    assert (snapshot["harmed_users"] <= snapshot["exposed_users"]).all()
    assert (snapshot["harmed_requests"] <= snapshot["new_requests"] + snapshot["new_errors"]).all()
    counted = pd.Series([(e.strategy, BLOCK_SIZE + e.replication) for e in simulation.events]).value_counts()
    for row in snapshot.itertuples():
        assert row.events == counted.get((row.strategy, row.replication), 0)
    assert snapshot["verdicts"].str.contains("analysis=").all()


def test_a_subscriber_receives_every_event_as_it_happens() -> None:
    simulation = Simulation(_scenario())
    seen: list[sim.Event] = []
    simulation.subscribe(seen.append)
    simulation.run_until(1000.0)
    assert seen == simulation.events and seen
    later: list[sim.Event] = []
    simulation.subscribe(later.append)
    already = len(simulation.events)
    simulation.run()
    assert seen == simulation.events
    assert later == simulation.events[already:] and later


def test_record_appends_a_snapshot_every_interval_from_now_on() -> None:
    scenario = _scenario()
    simulation = Simulation(scenario)
    simulation.run_until(0.25)
    simulation.record(100.0)
    simulation.run_until(1000.0)
    times = [float(frame["time_s"].iloc[0]) for frame in simulation.recording]
    assert times == pytest.approx([0.25 + 100.0 * k for k in range(10)], abs=1e-9)
    for frame in simulation.recording:
        assert len(frame) == len(scenario.strategies) * BLOCK_SIZE
    # Each is the snapshot a simulation run to that time would take (nothing happens at x.25 s).
    for k in (1, 6, 9):
        fresh = Simulation(scenario)
        fresh.run_until(0.25 + 100.0 * k)
        pd.testing.assert_frame_equal(simulation.recording[k], fresh.snapshot())


def test_recording_does_not_change_the_run() -> None:
    scenario = _scenario()
    recorded, plain = Simulation(scenario), Simulation(scenario)
    recorded.record(450.0)
    recorded.run()
    plain.run()
    assert recorded.measures() == plain.measures() and recorded.events == plain.events


# -- common random numbers across the strategies of a simulation ---------------------------------


def test_a_strategys_numbers_do_not_depend_on_the_strategies_beside_it() -> None:
    """On-call and support response times are random (exponential, lognormal): each strategy's
    replication k must get the same k-th answers whoever else runs beside it."""
    scenario = _scenario()
    together = Simulation(scenario)
    together.run()
    for spec in scenario.strategies:
        alone = Simulation(scenario, [spec])
        alone.run()
        assert alone.measures()[spec.name] == together.measures()[spec.name], spec.name


def test_requests_count_the_traffic_to_the_horizon_when_every_run_ended_early() -> None:
    """Runs go on to the horizon in every phase: a run mitigated in minutes still counts the
    service's requests to the horizon (Poisson, mean rate x horizon on a flat daily curve)."""
    rate, horizon, replications = 20.0, 7200.0, BLOCK_SIZE
    scenario = make_scenario(
        horizon=horizon,
        traffic={"rate": rate},
        release={"defect": {"harm": 0.5}},
        detection={
            "analysis": {"enabled": False},
            "user_reports": {"enabled": False},
            "service_alert": {"window": "1m", "for": "1m", "response": "0s"},
        },
        rollback={"duration": "0s"},
        strategies=[{"name": "bigbang"}],
    )
    runs = sim.compare(scenario, replications=replications).runs
    assert (runs["mitigation_s"] < 600.0).all()
    expected = rate * horizon
    tolerance = 4.0 * math.sqrt(expected / replications)
    assert abs(runs["requests"].mean() - expected) <= tolerance, (runs["requests"].mean(), expected)


def test_every_strategy_sees_the_same_rng_numbers() -> None:
    scenario = make_scenario(
        release={},
        strategies=[
            {"name": "first", "use": f"{V2}:Dice"},
            {"name": "second", "use": f"{V2}:Dice", "params": {"weight": 0.5}},
        ],
    )
    simulation = Simulation(scenario)
    simulation.run()
    measures = simulation.measures()
    first = [m.rollout_duration_s for m in measures["first"]]
    second = [m.rollout_duration_s for m in measures["second"]]
    assert first == second
    assert len(set(first)) == len(first)  # one stream per replication


# -- compare and run agree -----------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    missing = [value is None or (isinstance(value, float) and math.isnan(value)) for value in (a, b)]
    return all(missing) if any(missing) else a == b


def test_compare_row_k_is_run_replication_k_for_every_measure() -> None:
    scenario = _scenario()
    runs = sim.compare(scenario, replications=BLOCK_SIZE + 6).runs
    for k in (0, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 5):
        measures = sim.run(scenario, replication=k).measures.set_index("strategy")
        rows = runs[runs["replication"] == k].set_index("strategy")
        assert list(rows.index) == list(measures.index) == [spec.name for spec in scenario.strategies]
        for name in rows.index:
            for column in RunMeasures.__dataclass_fields__:
                assert _same(rows.at[name, column], measures.at[name, column]), (k, name, column)


def test_run_ends_each_timeline_at_the_run_s_end_and_marks_the_detection() -> None:
    """``sim.run()`` gives the timeline ``rollout-sim run`` shows: no row after the mitigation (or the horizon,
    for a run never mitigated), and a ``detected by`` row at the detection."""
    for healthy in (False, True):
        scenario = _scenario(healthy)
        for k in (0, 1, 2):
            result = sim.run(scenario, replication=k)
            measures = result.measures.set_index("strategy")
            assert list(result.ends) == [spec.name for spec in scenario.strategies]
            for name, end in result.ends.items():
                rows = result.timeline[result.timeline["strategy"] == name]
                mitigation = measures.at[name, "mitigation_s"]
                assert end.time_s == (scenario.horizon if _same(mitigation, None) else mitigation), (k, name)
                assert (rows["time_s"] <= end.time_s).all(), (k, name)
                detection = measures.at[name, "detection_s"]
                marked = rows[rows["event"].str.startswith("detected by")]
                if _same(detection, None):
                    assert marked.empty, (k, name)
                    continue
                assert marked["time_s"].tolist() == [detection], (k, name)
                assert marked["event"].iloc[0] == f"detected by {measures.at[name, 'caught_by']}"
