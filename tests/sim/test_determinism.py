"""Same seed, same numbers: across processes, and common random numbers across strategies."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import sim
from sim.population import build_cohorts
from sim.simulation import _SHARED, _streams
from sim.traffic import TrafficClock
from tests.generators import NO_DETECTION, make_scenario, plugin


def _compare_json(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    command = [sys.executable, "-m", "sim", "compare", "default", "-n", "4", "--seed", "5", "--json"]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def test_same_seed_gives_the_same_json_in_fresh_processes() -> None:
    first, second = _compare_json("1"), _compare_json("2")
    assert first == second
    assert '"seed": 5' in first


def test_a_different_seed_gives_different_numbers() -> None:
    a = sim.compare("default", replications=3, seed=1).runs
    b = sim.compare("default", replications=3, seed=2).runs
    assert not a["blast_radius_requests"].equals(b["blast_radius_requests"])


def test_strategies_see_the_same_traffic() -> None:
    # Detection off and no rollout end: both runs last the whole horizon.
    scenario = make_scenario(
        horizon="2h",
        detection=NO_DETECTION,
        strategies=[
            {"name": "low", "use": plugin("Hold"), "params": {"weight": 0.01}},
            {"name": "high", "use": plugin("Steps"), "params": {"schedule": [[0, 0.2], [1234.5, 0.7]]}},
        ],
    )
    runs = sim.compare(scenario, replications=6).runs
    per_strategy = runs.pivot(index="replication", columns="strategy", values="requests")
    assert (per_strategy["low"] == per_strategy["high"]).all()
    assert per_strategy["low"].nunique() > 1  # and replications differ from each other


def test_traffic_totals_do_not_depend_on_where_control_events_fall() -> None:
    cohorts = build_cohorts(make_scenario())
    seed = np.random.SeedSequence(9)
    streams = _streams(seed, _SHARED, 0)
    coarse = TrafficClock(cohorts, 8, streams["cells"], streams["splits"])
    fine = TrafficClock(cohorts, 8, _streams(seed, _SHARED, 0)["cells"], np.random.default_rng(123))
    for end in (600.0, 1800.0):
        many_steps = sum(fine.take(float(t)) for t in np.arange(fine.position + 7.3, end, 7.3))
        assert (many_steps + fine.take(end) == coarse.take(end)).all()


def test_replication_k_of_run_is_row_k_of_compare_whatever_the_count() -> None:
    many = sim.compare("default", replications=70, strategies=["canary"]).runs.set_index("replication")
    few = sim.compare("default", replications=10, strategies=["canary"]).runs.set_index("replication")
    assert many.loc[:9].equals(few)
    one = sim.run("default", replication=66, strategies=["canary"]).measures.iloc[0]
    row = many.loc[66]
    for column in ("blast_radius_users", "blast_radius_requests", "exposed_users", "detection_s", "outcome"):
        assert one[column] == row[column]
