"""DESIGN.md section 1 invariants, as properties over generated scenarios."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from sim.engine import run_block
from sim.plugins import strategy_factory
from sim.population import build_cohorts
from sim.scenario import Scenario
from tests.generators import scenarios

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_run(scenario: Scenario, traced: int = 0):
    """One replication (of a block) with its timeline."""
    spec = scenario.strategies[0]
    seed = np.random.SeedSequence(scenario.seed)
    measures, timeline = run_block(
        scenario, build_cohorts(scenario), strategy_factory(spec), spec.name, seed, traced=traced
    )
    return measures[traced], timeline


@PROPERTY
@given(scenarios())
def test_counts_are_nested(scenario: Scenario) -> None:
    spec = scenario.strategies[0]
    seed = np.random.SeedSequence(scenario.seed)
    block, _ = run_block(scenario, build_cohorts(scenario), strategy_factory(spec), spec.name, seed)
    population = scenario.population.users
    for measures in block:  # every replication of the block, not only a traced one
        assert 0 <= measures.blast_radius_users <= measures.exposed_users <= population
        assert measures.blast_radius_users <= measures.blast_radius_requests
        assert measures.blast_radius_requests <= measures.new_requests <= measures.requests
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
    measures, timeline = _one_run(scenario)
    if measures.mitigation_s is None:
        return
    events = [row[-1] for row in timeline]
    after = timeline[events.index("mitigated") :]
    assert after[0][0] == measures.mitigation_s and after[0][1] == 0.0
    assert {row[3] for row in after} == {measures.new_requests}  # new_requests stops growing
    assert measures.end_s == measures.mitigation_s


@PROPERTY
@given(scenarios())
def test_times_are_ordered(scenario: Scenario) -> None:
    measures, _ = _one_run(scenario)
    if measures.detection_s is not None and measures.mitigation_s is not None:
        assert measures.detection_s <= measures.mitigation_s
    if measures.ttd_s is not None:
        assert 0.0 <= measures.ttd_s <= measures.ttm_s if measures.ttm_s is not None else measures.ttd_s >= 0
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
    assert first_timeline == second_timeline
