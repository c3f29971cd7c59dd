"""The built-in canary and big-bang, through the same public API a plugin uses."""

from __future__ import annotations

import pytest

import sim
from strategies.canary import Canary
from tests.generators import NO_DETECTION, make_scenario


def _canary(params: dict, **overrides) -> sim.RunResult:
    fields = {"horizon": "3h", "strategies": [{"name": "canary", "params": params}], **overrides}
    return sim.run(make_scenario(**fields))


def test_healthy_canary_walks_its_steps_then_completes() -> None:
    result = _canary({"steps": [0.1, 0.5], "bake": "10m"}, release={}, detection=NO_DETECTION)
    changes = result.timeline[result.timeline["event"].str.startswith("exposure")]
    assert list(zip(changes["time_s"], changes["weight"], strict=True)) == [(0.0, 0.1), (600.0, 0.5), (1200.0, 1.0)]
    measures = result.measures.iloc[0]
    assert measures["outcome"] == "completed" and measures["rollout_duration_s"] == 1200.0


def test_canary_rolls_back_when_its_analysis_fails() -> None:
    result = _canary(
        {"steps": [0.2, 0.5], "bake": "10m", "check": "1m"},
        traffic={"rate": 200.0},
        release={"defect": {"harm": 0.2}},
        detection={
            "analysis": {"failure_limit": 1, "min_requests": 10},
            "service_alert": {"enabled": False},
            "user_reports": {"enabled": False},
        },
    )
    measures = result.measures.iloc[0]
    assert measures["outcome"] == "rolled_back" and measures["caught_by"] == "analysis"
    # Two failed one-minute measurements (at 1 and 2 minutes); the failed verdict wakes the canary.
    assert measures["detection_s"] == 120.0
    assert measures["mitigation_s"] == 150.0  # plus the 30 s default rollback
    assert result.timeline["weight"].max() == 0.2


def test_bigbang_serves_everyone_at_once() -> None:
    result = sim.run(make_scenario(release={}, detection=NO_DETECTION))
    measures = result.measures.iloc[0]
    assert measures["rollout_duration_s"] == 0.0 and measures["outcome"] == "completed"
    assert measures["new_requests"] == measures["requests"]


@pytest.mark.parametrize(
    "params",
    [{"steps": []}, {"steps": [0.0]}, {"steps": [1.5]}, {"unit": "pod"}, {"check": "0s"}, {"bake": "soon"}],
)
def test_bad_params_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        Canary(**params)
