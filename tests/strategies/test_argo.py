"""The Argo Rollouts canary: setWeight, pause and analysis steps, a background analysis, instant aborts."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import sim
from tests.generators import NO_DETECTION, compared_runs, make_scenario

ARGO = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'argo.py'}:ArgoCanary"
REPLICATIONS = 64
PAUSE_10M = {"pause": {"duration": "10m"}}
DOCS_STEPS = [{"setWeight": 20}, PAUSE_10M, {"setWeight": 40}, PAUSE_10M, {"setWeight": 60}, PAUSE_10M]
DOCS_STEPS += [{"setWeight": 80}, PAUSE_10M]


def _judge(**params: Any) -> dict[str, Any]:
    return {"use": "threshold", "params": {"rule": "argo", "max_error_rate": 0.01, "min_requests": 10, **params}}


def _scenario(params: dict[str, Any], judges: dict[str, Any] | None = None, **fields: Any) -> sim.Scenario:
    """One Argo canary (no judge unless given: detection off), a healthy release with no baseline errors."""
    strategy = {"name": "argo", "use": ARGO, "params": params, "judges": judges or {}}
    defaults: dict[str, Any] = {
        "horizon": "1h",
        "release": {},
        "telemetry": {"baseline_error_rate": 0.0},
        "detection": NO_DETECTION,
        "people": {"approver": {"mean": "10m"}},  # a table: fixed, 10 minutes, day and night
        "strategies": [strategy],
    }
    return make_scenario(**{**defaults, **fields})


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def _events(scenario: sim.Scenario) -> list[tuple[float, float, str]]:
    """(time, weight, event) of replication 0, without the defect onset."""
    result = sim.run(scenario)
    assert not result.errors, result.errors
    rows = result.timeline[~result.timeline["event"].str.startswith("defect onset")]
    return list(zip(rows["time_s"].round(6), rows["weight"].round(6), rows["event"], strict=True))


def test_the_docs_steps_promote_after_the_four_pauses() -> None:
    # 20% / 10m / 40% / 10m / 60% / 10m / 80% / 10m, then promoted: 40 minutes (also the default steps).
    for params in ({"steps": DOCS_STEPS}, {}):
        scenario = _scenario(params)
        assert (_runs(scenario)["rollout_duration_s"] == 2400.0).all()
    assert [(t, w) for t, w, e in _events(scenario) if e.startswith(("exposure", "done"))] == [
        (0.0, 0.2),
        (600.0, 0.4),
        (1200.0, 0.6),
        (1800.0, 0.8),
        (2400.0, 1.0),
        (2400.0, 1.0),
    ]


def test_a_failing_background_analysis_aborts_at_the_failure_limit() -> None:
    # Argo's docs example: background analysis from step 2 (40%, at 10 min), interval 5m, failureLimit 3.
    # Argo's code fails the run when failures > failureLimit: the 4th failed measurement, 4 x 5 min after
    # it started: 600 + 1,200 = 1,800 s. The abort snaps the weight to 0 at once.
    judges = {"analysis": _judge(interval="5m", failure_limit=3)}
    scenario = _scenario(
        {"steps": DOCS_STEPS, "background": {"judge": "analysis", "startingStep": 2}},
        judges,
        release={"defect": {"harm": 1.0}},
    )
    runs = _runs(scenario)
    assert (runs["rollback_s"] == 1800.0).all() and (runs["mitigation_s"] == 1800.0).all()
    assert (runs["caught_by"] == "analysis").all() and (runs["outcome"] == "rolled_back").all()
    assert [(t, w) for t, w, e in _events(scenario) if e.startswith("exposure")] == [
        (0.0, 0.2),
        (600.0, 0.4),
        (1200.0, 0.6),
        (1800.0, 0.0),
    ]


def test_the_default_background_is_the_analysis_judge_from_the_start() -> None:
    # failure_limit 1: the second failed measurement, at 2 minutes.
    runs = _runs(_scenario({}, {"analysis": _judge(interval="1m", failure_limit=1)}, release={"defect": {"harm": 1.0}}))
    assert (runs["rollback_s"] == 120.0).all()
    runs = _runs(
        _scenario({"background": False}, {"analysis": _judge(interval="1m")}, release={"defect": {"harm": 1.0}})
    )
    assert runs["rollback_s"].isna().all() and (runs["rollout_duration_s"] == 2400.0).all()


INLINE = [{"setWeight": 10}, {"pause": {"duration": "5m"}}, {"analysis": {"judge": "smoke"}}, {"setWeight": 50}]
INLINE += [{"pause": {"duration": "5m"}}]


def test_an_inline_analysis_that_passes_moves_to_the_next_step() -> None:
    # The step starts the judge at 5 min; count 2 at 1m: passed at 7 min; then 50% for 5 min.
    scenario = _scenario({"steps": INLINE}, {"smoke": _judge(interval="1m", count=2)})
    assert (_runs(scenario)["rollout_duration_s"] == 720.0).all()
    assert _events(scenario) == [
        (0.0, 0.1, "exposure: 0.1 request"),
        (420.0, 0.1, "verdict: smoke: passed"),
        (420.0, 0.5, "exposure: 0.5 request"),
        (720.0, 1.0, "exposure: 1 request"),
        (720.0, 1.0, "done"),
    ]


def test_an_inline_analysis_that_fails_aborts() -> None:
    # failureLimit 0: the first measurement, one interval after the step started at 5 min.
    scenario = _scenario(
        {"steps": INLINE}, {"smoke": _judge(interval="1m", count=2)}, release={"defect": {"harm": 1.0}}
    )
    runs = _runs(scenario)
    assert (runs["rollback_s"] == 360.0).all() and (runs["caught_by"] == "smoke").all()
    assert max(w for _, w, _ in _events(scenario)) == 0.1  # never reached 50%


def test_an_inconclusive_inline_analysis_pauses_and_runs_again_when_resumed() -> None:
    # Too few requests for the judge: inconclusive at its first measurement (limit 0). The approver
    # answers 10 minutes later and Argo starts a new AnalysisRun: inconclusive again one minute on.
    judges = {"smoke": _judge(interval="1m", count=2, min_requests=10**9, inconclusive_limit=0)}
    events = _events(_scenario({"steps": INLINE}, judges))
    paused = [t for t, _, e in events if e.startswith("paused")]
    assert paused[:3] == [360.0, 1020.0, 1680.0]
    assert all(e.endswith("analysis step 2 inconclusive") for t, _, e in events if e.startswith("paused"))
    assert max(w for _, w, _ in events) == 0.1


def test_a_pause_without_duration_waits_for_the_approver() -> None:
    # The approver answers 10 minutes (fixed) after the pause; then 40% for 5 minutes, then promoted.
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": "5m"}}]
    events = _events(_scenario({"steps": steps}))
    (paused,) = [t for t, _, e in events if e.startswith("paused")]
    (next_step,) = [t for t, w, e in events if e.startswith("exposure") and w == 0.4]
    # A pause keeps the exposure in force, so the 20% is set at 0 and the pause starts 1 ms later.
    assert paused == pytest.approx(0.001, abs=1e-9)
    assert next_step - paused == pytest.approx(600.0, abs=1e-6)
    assert events[-1][2] == "done" and events[-1][0] == pytest.approx(next_step + 300.0, abs=1e-6)


def test_an_alarm_during_a_pause_is_not_the_approvers_answer() -> None:
    # The service alert fires a few minutes in and wakes the paused strategy: it pauses again, and the
    # next step comes 10 minutes after that (the on-call person, 1 hour away, has not rolled back yet).
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": "1h"}}]
    detection = {"analysis": {"enabled": False}, "user_reports": {"enabled": False}}
    detection["service_alert"] = {"response": "1h"}
    events = _events(_scenario({"steps": steps}, release={"defect": {"harm": 0.2}}, detection=detection))
    (alarm,) = [t for t, _, e in events if e.startswith("alarm")]
    paused = [t for t, _, e in events if e.startswith("paused")]
    (next_step,) = [t for t, w, e in events if e.startswith("exposure") and w == 0.4]
    assert 0.001 < alarm < 600.001 and paused == [0.001, alarm]
    assert next_step == pytest.approx(alarm + 600.0, abs=1e-6)


def test_judges_given_as_argo_templates() -> None:
    steps = [{"setWeight": 10}, {"analysis": {"templates": [{"templateName": "a"}, {"templateName": "b"}]}}]
    judges = {"a": _judge(interval="1m", count=1), "b": _judge(interval="1m", count=3)}
    assert (_runs(_scenario({"steps": steps}, judges))["rollout_duration_s"] == 180.0).all()  # when both passed


def test_a_judge_the_strategy_lacks_fails_the_strategy() -> None:
    scenario = _scenario({"steps": [{"setWeight": 10}, {"analysis": {"judge": "missing"}}]})
    comparison = sim.compare(scenario, replications=1, workers=1)
    assert "judge 'missing' is not one of this strategy's judges" in comparison.errors["argo"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"steps": []}, "steps must be a list of 1 to 1000 steps"),
        ({"steps": [{"setWeight": 150}]}, r"steps\[0\].setWeight must be a percentage"),
        ({"steps": [{"setWeight": 10, "pause": {}}]}, r"steps\[0\] must be a table with one of"),
        ({"steps": [{"experiment": {}}]}, "unsupported step 'experiment'"),
        ({"steps": [{"pause": {"duration": "soon"}}]}, r"steps\[0\].pause.duration: expected a duration"),
        ({"steps": [{"analysis": {"judge": "a", "judges": ["b"]}}]}, "give one of judge, judges or templates"),
        ({"background": {"judge": "analysis", "startingStep": 8}}, "startingStep must be a step index from 0 to 7"),
        ({"steps": [{"analysis": {"judge": "a"}}], "background": {"judge": "a"}}, "both in the background"),
    ],
)
def test_bad_params_are_refused_naming_the_param(params: dict[str, Any], message: str) -> None:
    with pytest.raises(sim.ScenarioError, match=message):
        sim.compare(_scenario(params), replications=1, workers=1)
