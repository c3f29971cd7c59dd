"""The built-in flag rollout: sticky user buckets on a schedule, and a kill switch."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest

import sim
from strategies.flag import FlagRollout
from tests.generators import NO_DETECTION, compared_runs, make_scenario

USE = f"{Path(__file__).resolve().parents[2] / 'strategies' / 'flag.py'}:FlagRollout"
SCHEDULE = [["0s", 0.01], ["10m", 0.1], ["30m", 0.5], ["1h", 1.0]]
DONE = 3600.0
REPLICATIONS = 64
USERS, RATE = 20_000, 50.0
CHECK = {
    # A failed one-minute measurement fails the judge; 1% of users send about 30 requests a minute.
    "analysis": {"failure_limit": 0, "min_requests": 5, "max_error_rate": 0.5},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def _scenario(params: dict[str, Any] | None = None, **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": "2h",
        "population": {"users": USERS},
        "traffic": {"rate": RATE},
        "release": {},
        "detection": NO_DETECTION,
        "strategies": [{"name": "flag", "use": USE, "params": params or {"schedule": SCHEDULE}}],
        **overrides,
    }
    return make_scenario(**fields)


_runs = functools.partial(compared_runs, replications=REPLICATIONS)


def test_exposed_users_never_exceed_the_sticky_share() -> None:
    simulation = sim.Simulation(_scenario(release={"defect": {"harm": 0.05}}), replications=REPLICATIONS)
    for time, share in ((300.0, 0.01), (600.0, 0.01), (1200.0, 0.1), (1800.0, 0.1), (3000.0, 0.5)):
        simulation.run_until(time + 1.0)  # the tick ending at ``time`` has been drawn
        snapshot = simulation.snapshot()
        assert (snapshot["exposed_users"] <= math.floor(share * USERS)).all(), time
        assert (snapshot["harmed_users"] <= snapshot["exposed_users"]).all(), time
    # The 50% have had 20 minutes at 0.0025 requests per second each (3 on average): most of them came.
    assert (snapshot["exposed_users"] > 0.45 * USERS).all()


def test_the_flag_timeline_follows_the_schedule() -> None:
    timeline = sim.run(_scenario()).timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert changes["time_s"].tolist() == [0.0, 600.0, 1800.0, DONE, DONE]
    assert changes["weight"].tolist() == [0.01, 0.1, 0.5, 1.0, 1.0]
    assert changes["event"].tolist()[0] == "exposure: 0.01 user"


def test_a_healthy_release_completes_at_the_first_full_share() -> None:
    runs = _runs(_scenario())
    assert (runs["outcome"] == "completed").all()
    assert (runs["rollout_duration_s"] == DONE).all()


def test_a_schedule_may_start_later_and_never_finish() -> None:
    result = sim.run(_scenario({"schedule": [["5m", 0.2], ["20m", 0.4]]}))
    timeline = result.timeline
    changes = timeline[timeline["event"].str.startswith(("exposure", "done"))]
    assert list(zip(changes["time_s"], changes["weight"], strict=True)) == [(0.0, 0.0), (300.0, 0.2), (1200.0, 0.4)]
    measures = result.measures.iloc[0]
    assert measures["outcome"] == "stalled" and measures["rollout_duration_s"] is None


def test_the_kill_switch_flips_at_the_first_failed_check() -> None:
    runs = _runs(_scenario(release={"defect": {"harm": 1.0}}, detection=CHECK))
    assert (runs["outcome"] == "rolled_back").all()
    assert (runs["caught_by"] == "analysis").all()
    assert (runs["rollback_s"] == 60.0).all()
    assert (runs["mitigation_s"] == 60.0).all()  # a flag flip: instant, whatever the scenario's rollback
    assert (runs["exposed_users"] <= 0.01 * USERS).all()


def test_the_kill_switch_flips_when_a_watcher_alarms() -> None:
    detection = {
        "analysis": {"enabled": False},
        "service_alert": {"max_error_rate": 0.05, "window": "1m", "for": "0s", "response": "30m"},
        "user_reports": {"enabled": False},
    }
    schedule = [["0s", 0.01], ["10m", 0.1], ["1h", 1.0]]
    result = sim.run(_scenario({"schedule": schedule}, release={"defect": {"harm": 1.0}}, detection=detection))
    timeline = result.timeline
    # 1% of errors never alarms; 10% does at the first scrape after 10 minutes, seen by the flag at once.
    assert timeline.loc[timeline["event"] == "alarm: service_alert", "time_s"].tolist() == [660.0]
    assert timeline.loc[timeline["event"].str.startswith("rolling_back"), "time_s"].tolist() == [660.0]
    measures = result.measures.iloc[0]
    assert measures["caught_by"] == "service_alert"
    assert measures["mitigation_s"] == 660.0


@pytest.mark.parametrize(
    "params",
    [
        {"schedule": []},
        {"schedule": "1h"},
        {"schedule": [["0s"]]},
        {"schedule": [["soon", 0.1]]},
        {"schedule": [["0s", 1.5]]},
        {"schedule": [["0s", True]]},
        {"schedule": [["1h", 0.1], ["10m", 0.5]]},
        {"schedule": [["0s", 0.5], ["1h", 0.1]]},
        {"check": "0s"},
        {"judge": 3},
    ],
)
def test_bad_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as error:
        FlagRollout(**params)
    assert "\n" not in str(error.value)
