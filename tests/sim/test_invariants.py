"""DESIGN.md section 1 invariants, as properties over generated scenarios."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

import sim
from sim.experiments import run
from sim.scenario import Scenario
from sim.simulation import Simulation
from tests.generators import scenarios

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_run(scenario: Scenario, traced: int = 0):
    """One replication (of block 0) with its timeline."""
    result = run(scenario, replication=traced)
    measures = sim.RunMeasures(**result.measures.drop(columns="strategy").iloc[0].to_dict())
    return measures, result.timeline


@PROPERTY
@given(scenarios())
def test_counts_are_nested(scenario: Scenario) -> None:
    simulation = Simulation(scenario)
    simulation.run()
    (block,) = simulation.measures().values()
    population = scenario.population.users
    for measures in block:  # every replication of the block, not only a traced one
        assert 0 <= measures.blast_radius_users <= measures.exposed_users <= population
        assert measures.blast_radius_users <= measures.blast_radius_requests
        assert measures.blast_radius_requests - measures.harmed_after_mitigation <= measures.new_requests
        assert measures.new_requests <= measures.requests
        assert measures.exposed_share == measures.exposed_users / population
        assert 0.0 <= measures.blast_radius_share <= 1.0


@PROPERTY
@given(scenarios(healthy=True))
def test_healthy_release_harms_nobody(scenario: Scenario) -> None:
    measures, _ = _one_run(scenario)
    assert measures.blast_radius_requests == 0 and measures.blast_radius_users == 0
    assert measures.outcome in ("completed", "false_rollback", "stalled")
    assert measures.onset_s is None and measures.ttd_s is None


@PROPERTY
@given(scenarios())
def test_nothing_reaches_the_new_version_after_mitigation(scenario: Scenario) -> None:
    result = run(scenario, every=60.0)
    measures = sim.RunMeasures(**result.measures.drop(columns="strategy").iloc[0].to_dict())
    if measures.mitigation_s is None:
        return
    timeline = result.timeline
    after = timeline[timeline["time_s"] > measures.mitigation_s]
    assert (after["weight"] == 0.0).all()
    # Counts are as of the last tick (at most a minute old): a tick later they stop growing.
    settled = after[after["time_s"] >= measures.mitigation_s + 60.0]
    assert (settled["new_requests"] == measures.new_requests).all()
    assert measures.end_s == scenario.horizon


@PROPERTY
@given(scenarios())
def test_times_are_ordered(scenario: Scenario) -> None:
    measures, _ = _one_run(scenario)
    if measures.detection_s is not None and measures.mitigation_s is not None:
        assert measures.detection_s <= measures.mitigation_s
    if measures.ttd_s is not None:  # no clamp: TTD exists only for alarms at or after onset
        assert measures.ttd_s >= 0.0 and measures.caught_by is not None
        assert measures.ttm_s is None or measures.ttd_s <= measures.ttm_s
    if measures.outcome == "false_rollback":
        assert measures.ttd_s is None and measures.detection_s is None
    if measures.onset_s is not None:
        assert 0.0 <= measures.onset_s <= scenario.horizon
        assert scenario.release.defect is not None and measures.onset_s >= scenario.release.defect.onset
    assert measures.end_s <= scenario.horizon


@settings(max_examples=25, deadline=None)
@given(scenarios())
def test_same_seed_same_results(scenario: Scenario) -> None:
    first, first_timeline = _one_run(scenario, traced=3)
    second, second_timeline = _one_run(scenario, traced=3)
    assert first == second
    assert first_timeline.equals(second_timeline)
