"""A mix of releases (``release.defective_share``): healthy and defective runs in one comparison."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import sim
from sim.executors import InlineExecutor
from tests.generators import make_scenario

CANARY = {"name": "canary", "params": {"steps": [0.1, 0.5], "bake": "5m"}}


def _mix(share: float, replications: int = 640, **overrides: object) -> sim.Comparison:
    scenario = make_scenario(
        replications=replications,
        release={"defect": {"harm": 0.05}, "defective_share": share},
        strategies=[{"name": "bigbang"}, CANARY],
        **overrides,
    )
    return sim.compare(scenario, executor=InlineExecutor())


def test_the_defective_share_is_a_binomial_draw_shared_by_every_strategy() -> None:
    comparison = _mix(0.3)
    runs = comparison.runs
    by_strategy = runs.pivot(index="replication", columns="strategy", values="defective")
    assert (by_strategy["bigbang"] == by_strategy["canary"]).all()  # the same releases for every strategy
    defective = int(by_strategy["bigbang"].sum())
    # Two-sided binomial test at 1e-3: fails by chance once in a thousand seeds, never for a wrong share.
    assert stats.binomtest(defective, len(by_strategy), 0.3).pvalue > 1e-3


def test_healthy_runs_of_a_mix_are_never_harmed_and_end_as_healthy_releases_do() -> None:
    runs = _mix(0.5, replications=256).runs
    healthy = runs[~runs["defective"]]
    assert len(healthy) > 0
    assert healthy["onset_s"].isna().all()
    assert (healthy["blast_radius_users"] == 0).all() and (healthy["blast_radius_requests"] == 0).all()
    assert set(healthy["outcome"]) <= {"completed", "stalled", "false_rollback"}
    defective = runs[runs["defective"]]
    assert set(defective["outcome"]) <= {"rolled_back", "escaped", "false_rollback"}
    assert (defective["blast_radius_users"] > 0).any()


def test_detection_and_false_rollback_rates_are_reported_per_strategy() -> None:
    comparison = _mix(0.5, replications=256)
    for name, summary in comparison.summaries.items():
        runs = comparison.runs[comparison.runs["strategy"] == name]
        quiet = runs["outcome"].isin(["completed", "stalled", "false_rollback"])
        expected = (runs["outcome"] == "false_rollback").sum() / quiet.sum()
        assert math.isclose(summary.false_rollback_rate, expected)
        assert summary.reached == int(runs["onset_s"].notna().sum())
        document = summary.as_dict()
        assert document["false_rollback_rate"] == summary.false_rollback_rate
        assert document["detection_rate"] == summary.detection_rate


def test_a_share_of_one_changes_nothing() -> None:
    whole = _mix(1.0, replications=64).runs
    plain = sim.compare(
        make_scenario(replications=64, strategies=[{"name": "bigbang"}, CANARY]), executor=InlineExecutor()
    ).runs
    columns = [c for c in plain.columns if c != "defective"]
    assert whole[columns].equals(plain[columns])
    assert whole["defective"].all()


def test_a_share_of_zero_is_a_healthy_release_with_a_defect_configured() -> None:
    runs = _mix(0.0, replications=64).runs
    assert not runs["defective"].any()
    assert np.all(runs["blast_radius_users"] == 0)
