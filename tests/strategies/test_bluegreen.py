"""The built-in blue-green: a preview on test traffic, a switch of everyone, a post-promotion analysis."""

from __future__ import annotations

import functools
from typing import Any

import sim
from tests.generators import NO_DETECTION, compared_runs, make_scenario

PREVIEW, POST, PREVIEW_RATE = 600.0, 600.0, 5.0
REPLICATIONS = 64
ANALYSIS = {
    # One failed one-minute measurement fails the judge; 300 test requests a minute are enough data.
    "analysis": {"failure_limit": 0, "min_requests": 50, "max_error_rate": 0.02},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(**overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "1h",
        "population": {"users": 20_000},
        "traffic": {"rate": 50.0},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [
            {"name": "bluegreen", "params": {"preview": PREVIEW, "post": POST, "preview_rate": PREVIEW_RATE}}
        ],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def test_preview_exposes_nobody_then_everyone_is_switched() -> None:
    simulation = sim.Simulation(_scenario(release={"defect": {"harm": 0.05}}), replications=REPLICATIONS)
    simulation.run_until(PREVIEW + 1.0)  # the last preview tick has been drawn; the switch happened at 600
    snapshot = simulation.snapshot()
    assert (snapshot["exposed_users"] == 0).all()
    assert (snapshot["harmed_users"] == 0).all() and (snapshot["harmed_requests"] == 0).all()
    assert (snapshot["stable_requests"] == snapshot["requests"]).all()
    assert (snapshot["new_requests"] > 0).all()  # test traffic
    assert (snapshot["weight"] == 1.0).all()
    simulation.run()
    (measures,) = simulation.measures().values()
    assert all(m.blast_radius_users > 0 for m in measures)
    assert all(m.onset_s is not None and m.onset_s < PREVIEW for m in measures)  # test traffic reached it


def test_the_timeline_previews_then_switches() -> None:
    timeline = sim.run(_scenario()).timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, PREVIEW, PREVIEW + POST]
    assert changes["event"].tolist()[0].startswith("exposure: preview")
    assert changes["weight"].tolist()[1:] == [1.0, 1.0]


def test_a_visible_defect_is_caught_in_preview() -> None:
    runs = _runs(_scenario(release={"defect": {"harm": 0.2}}, detection=ANALYSIS))
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["blast_radius_users"] == 0).all() and (runs["exposed_users"] == 0).all()
    assert (runs["rollback_s"] == 60.0).all()  # the first measurement: ~300 test requests, 20% failing
    assert (runs["mitigation_s"] == runs["rollback_s"]).all()


def test_a_defect_only_after_the_switch_is_caught_by_the_post_promotion_analysis() -> None:
    onset = PREVIEW + 100.0
    runs = _runs(_scenario(release={"defect": {"harm": 0.2, "onset": onset}}, detection=ANALYSIS))
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["onset_s"] >= onset).all()
    # Measurements restart at the switch: the one at 660 s is clean, the one at 720 s sees the defect.
    assert (runs["detection_s"] == PREVIEW + 120.0).all()
    assert (runs["mitigation_s"] == runs["rollback_s"]).all()  # the blue stack is still up: instant
    assert (runs["blast_radius_users"] > 0).all()
    assert runs["rollout_duration_s"].isna().all()


def test_a_healthy_release_completes_at_preview_plus_post() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == PREVIEW + POST).all()


def test_scale_down_delay_ends_the_post_analysis_and_later_rollbacks_redeploy() -> None:
    import sim
    from tests.generators import NO_DETECTION, make_scenario

    params = {"preview": "5m", "post": "30m", "scale_down_delay": "2m", "redeploy": "4m"}
    strategies = [{"name": "bluegreen", "params": params}]
    healthy = sim.run(make_scenario(horizon="2h", release={}, detection=NO_DETECTION, strategies=strategies))
    healthy = healthy.measures.iloc[0]
    assert healthy["outcome"] == "completed" and healthy["rollout_duration_s"] == 300.0 + 120.0
    # A silent defect after the switch: only the service alert ... none here; user reports catch it later,
    # and the old stack is gone: the rollback is a redeploy of 4 minutes.
    late = sim.run(
        make_scenario(
            horizon="6h",
            traffic={"rate": 200.0},
            release={"defect": {"harm": 0.5, "kind": "silent", "onset": "10m"}},
            detection={
                "analysis": {"enabled": False},
                "service_alert": {"enabled": False},
                "user_reports": {"report_probability": 0.5, "delay": "1m", "reports_needed": 3, "response": "0s"},
            },
            strategies=[{"name": "bluegreen", "params": params}],
        )
    ).measures.iloc[0]
    assert late["outcome"] == "rolled_back" and late["mitigation_s"] == late["rollback_s"] + 240.0
