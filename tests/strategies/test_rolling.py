"""The built-in rolling update: pods replaced a batch at a time, traffic quantized to k of n pods."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from strategies.rolling import RollingUpdate
from tests.generators import NO_DETECTION, compared_runs, make_scenario

USE = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'rolling.py'}:RollingUpdate"
REPLICATIONS = 64
CHECK = {
    # A failed one-minute measurement fails the judge; harm 1.0 gives an error rate near 1, stable 0.001.
    "analysis": {"failure_limit": 0, "min_requests": 5, "max_error_rate": 0.5},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(params: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "1h",
        "population": {"users": 20_000},
        "traffic": {"rate": 50.0},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [{"name": "rolling", "use": USE, "params": params or {}}],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _exposures(result: sim.RunResult) -> list[tuple[float, float]]:
    timeline = result.timeline
    changes = timeline[timeline["event"].str.startswith("exposure")]
    return list(zip(changes["time_s"], changes["weight"], strict=True))


def test_the_defaults_replace_five_of_ten_pods_at_a_time() -> None:
    # 25% of 10: surge rounds up to 3, unavailable down to 2; 5 new pods start at once, ready after 30 s.
    strategy = RollingUpdate()
    assert (strategy.surge, strategy.unavailable, strategy.batch, strategy.batches) == (3, 2, 5, 2)
    result = sim.run(_scenario())
    assert not result.errors, result.errors
    assert _exposures(result) == [(0.0, 0.0), (30.0, 0.5), (60.0, 1.0)]
    events = result.timeline.loc[result.timeline["event"].str.startswith("exposure"), "event"].tolist()
    assert events[:2] == ["exposure: 0 of 10 instances", "exposure: 0.5 of 10 instances"]
    measures = result.measures.iloc[0]
    assert measures["outcome"] == "completed" and measures["rollout_duration_s"] == 60.0


def test_one_pod_at_a_time_walks_every_tenth() -> None:
    result = sim.run(_scenario({"max_surge": 1, "max_unavailable": 0, "ready": "2m"}))
    exposures = _exposures(result)
    assert [time for time, _ in exposures] == [120.0 * k for k in range(11)]
    weights = np.array([weight for _, weight in exposures])
    assert np.allclose(weights * 10, np.round(weights * 10))  # multiples of 1/n
    assert np.allclose(weights, np.arange(11) / 10)


@pytest.mark.parametrize(
    ("params", "weights", "done"),
    [
        ({"replicas": 4}, [0.0, 0.5, 1.0], 60.0),  # 25% of 4: 1 + 1 pods a batch
        ({"replicas": 10, "max_surge": "41%", "max_unavailable": 0}, [0.0, 0.5, 1.0], 60.0),  # 4.1 -> 5 pods
        ({"replicas": 7, "max_surge": 0, "max_unavailable": "50%"}, [0.0, 3 / 7, 6 / 7, 1.0], 90.0),  # 3.5 -> 3
        ({"replicas": 3, "max_surge": 1, "max_unavailable": 0, "ready": "1m"}, [0.0, 1 / 3, 2 / 3, 1.0], 180.0),
    ],
)
def test_weights_are_whole_pods_of_the_replicas(params: dict[str, Any], weights: list[float], done: float) -> None:
    result = sim.run(_scenario(params))
    exposures = _exposures(result)
    assert [weight for _, weight in exposures] == pytest.approx(weights)
    for _, weight in exposures:
        pods = weight * params["replicas"]
        assert pods == pytest.approx(round(pods))
    assert result.measures.iloc[0]["rollout_duration_s"] == done


def test_a_healthy_release_completes_at_the_last_batch_in_every_replication() -> None:
    runs = _runs(_scenario({"replicas": 20, "max_surge": 2, "max_unavailable": 1, "ready": "5m"}))
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == 7 * 300.0).all()  # ceil(20 / 3) batches of 5 minutes


def test_a_failing_check_rolls_back_at_the_verdict_as_a_rolling_update_back() -> None:
    runs = _runs(_scenario({"ready": "2m"}, release={"defect": {"harm": 1.0}}, detection=CHECK))
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    # No pod is ready before 120 s (the 120 s measurement has no new requests); the 180 s one fails.
    assert (runs["onset_s"] >= 120.0).all()
    assert (runs["rollback_s"] == 180.0).all()
    # Rolling back takes as long as the rollout had taken: 180 s.
    assert (runs["mitigation_s"] == 360.0).all()
    assert runs["rollout_duration_s"].isna().all()


def test_the_rollback_param_fixes_the_rollback_time() -> None:
    runs = _runs(_scenario({"ready": "2m", "rollback": "45s"}, release={"defect": {"harm": 1.0}}, detection=CHECK))
    assert (runs["rollback_s"] == 180.0).all()
    assert (runs["mitigation_s"] == 225.0).all()


def test_a_watcher_alarm_rolls_back_at_its_next_decision() -> None:
    detection = {
        "analysis": {"enabled": False},
        "service_alert": {"max_error_rate": 0.05, "window": "1m", "for": "0s", "response": "30m"},
        "user_reports": {"enabled": False},
    }
    params = {"replicas": 10, "max_surge": 1, "max_unavailable": 0, "ready": "10m", "check": "1m"}
    result = sim.run(_scenario(params, release={"defect": {"harm": 1.0}}, detection=detection))
    timeline = result.timeline
    alarm = timeline.loc[timeline["event"] == "alarm: service_alert", "time_s"].min()
    rolling_back = timeline.loc[timeline["event"].str.startswith("rolling_back"), "time_s"].tolist()
    # One pod (10%) is ready at 600 s; 10% errors fail the 5% alert at the 660 s scrape; the strategy
    # sees it at its 660 s decision (the same instant, after the scrape), long before the on-call's 30 minutes.
    assert alarm == 660.0
    assert rolling_back == [660.0]
    measures = result.measures.iloc[0]
    assert measures["caught_by"] == "service_alert"
    assert measures["mitigation_s"] == 660.0 + 660.0


@pytest.mark.parametrize(
    "params",
    [
        {"replicas": 0},
        {"replicas": 2.5},
        {"max_surge": 0, "max_unavailable": 0},
        {"max_surge": "abc"},
        {"max_unavailable": -1},
        {"max_surge": "150%"},
        {"ready": "soon"},
        {"check": "0s"},
        {"rollback": "later"},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as error:
        RollingUpdate(**params)
    assert "\n" not in str(error.value)


def test_percentages_round_as_kubernetes_rounds_them() -> None:
    # 10% of 5 pods: surge rounds up to 1, unavailable down to 0.
    strategy = RollingUpdate(replicas=5, max_surge="10%", max_unavailable="10%")
    assert (strategy.surge, strategy.unavailable, strategy.batch) == (1, 0, 1)
