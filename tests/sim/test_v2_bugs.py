"""Bugs of the first engine that Engine v2 fixes, one test each, through the public API.

Where a test uses only what the first engine also had (``sim.compare``,
``Decision.set(weight, wait)``, ``obs.analysis``, ``obs.canary``, the old
scenario fields, the measures ``outcome``, ``onset_s``, ``detection_s``,
``ttd_s``, ``mitigation_s``, ``rollout_duration_s``), its first assertions use
only those, so that it fails on the old engine with an assertion, not an
import or key error.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from tests.generators import NO_DETECTION, make_scenario, plugin

V2 = Path(__file__).parent.parent / "plugins" / "v2.py"
RESOLUTION = 1e-6  # the engine's clock resolution (sim.engine.RESOLUTION)
Z = 4.0


def v2(name: str) -> str:
    return f"{V2}:{name}"


# -- (1) an alarm before defect onset is a false rollback --------------------------------


def _noisy_analysis(onset: str, rollback: str) -> sim.Scenario:
    """Baseline errors (0.5%) just under the analysis threshold (1%), failure limit 0, about 60 new-version
    requests a minute: each measurement fails with probability 1 - 0.995^60 = 26% on a healthy version."""
    return make_scenario(
        horizon="3h",
        population={"users": 1000},
        traffic={"rate": 2.0},
        release={"defect": {"harm": 0.2, "onset": onset}},
        telemetry={"baseline_error_rate": 0.005, "scrape_interval": "60s"},
        detection={
            "analysis": {"max_error_rate": 0.01, "failure_limit": 0, "min_requests": 1, "window": "60s"},
            "service_alert": {"enabled": False},
            "user_reports": {"enabled": False},
        },
        rollback={"duration": rollback},
        strategies=[{"name": "watch", "use": v2("Watch"), "params": {"weight": 0.5}}],
    )


def _false_alarm_probability() -> float:
    """One measurement of the healthy version failing: Poisson(60) requests, 0.5% errors, more than 1%."""
    n = np.arange(1, 200)
    return float((stats.poisson.pmf(n, 60.0) * stats.binom.sf(np.floor(0.01 * n), n, 0.005)).sum())


def test_rollback_before_a_late_onset_is_a_false_rollback() -> None:
    comparison = sim.compare(_noisy_analysis("2h", "0s"), replications=200)
    runs = comparison.runs
    early = runs[runs["mitigation_s"].notna() & (runs["mitigation_s"] < 7200)]
    assert len(early) > 150  # the noisy analysis stops almost every run long before onset
    assert (early["outcome"] == "false_rollback").all(), early["outcome"].value_counts()
    assert early["detection_s"].isna().all() and early["ttd_s"].isna().all()
    summary = comparison.summaries["watch"]
    assert summary.detected == int((runs["outcome"] == "rolled_back").sum())


def test_time_to_detection_is_exact_and_counts_only_alarms_at_or_after_onset() -> None:
    # Onset at 5 min and a 2 min redeploy: an alarm at 3-5 min still lets the defect reach users.
    replications = 200
    comparison = sim.compare(_noisy_analysis("5m", "2m"), replications=replications)
    runs = comparison.runs
    outcome = runs["outcome"]
    rolled_back = runs[outcome == "rolled_back"]
    # Old engine: an alarm before onset counted as detection, and ttd was clamped to 0.
    assert (rolled_back["detection_s"] >= rolled_back["onset_s"]).all()
    assert (rolled_back["ttd_s"] == rolled_back["detection_s"] - rolled_back["onset_s"]).all()
    assert (runs["ttd_s"].dropna() >= 0).all()
    assert runs.loc[outcome == "false_rollback", ["detection_s", "ttd_s"]].isna().all().all()
    summary = comparison.summaries["watch"]
    assert summary.detected == len(rolled_back)
    assert summary.reached == int(runs["onset_s"].notna().sum())
    assert summary.detection_rate == len(rolled_back) / summary.reached
    # Caught: the five healthy measurements (60 s .. 300 s) all passed; the sixth, on 20% errors, fails.
    survive = (1.0 - _false_alarm_probability()) ** 5
    tolerance = Z * math.sqrt(replications * survive * (1.0 - survive))
    assert abs(len(rolled_back) - replications * survive) <= tolerance, (len(rolled_back), replications * survive)
    # v2 fields: the alarm that led to every rollback, and outcomes split exactly at onset.
    stopped = runs[runs["rollback_s"].notna()]
    assert len(stopped) == len(runs)
    onset = stopped["onset_s"].astype(float)
    caught = stopped["alarm_s"] >= onset  # NaN onset (never reached) compares False
    assert ((stopped["outcome"] == "rolled_back") == caught).all()
    assert (rolled_back["detection_s"] == rolled_back["alarm_s"]).all()
    reached_after_alarm = stopped[(stopped["outcome"] == "false_rollback") & onset.notna()]
    assert len(reached_after_alarm) > 0  # the case the old engine got wrong
    assert (reached_after_alarm["alarm_s"] < reached_after_alarm["onset_s"]).all()


# -- (2) order at equal times: a decision at t sees the scrape taken at t ------------------


def _two_schedules(what: str) -> sim.Scenario:
    analysis = {"max_error_rate": 1.0, "failure_limit": 0, "min_requests": 1, "window": "60s"}
    return make_scenario(
        horizon="1h",
        population={"users": 1000},
        traffic={"rate": 5.0},
        release={},
        telemetry={"scrape_interval": "60s", "scrape_lag": "0s"},
        detection={"analysis": analysis, "service_alert": {"enabled": False}, "user_reports": {"enabled": False}},
        strategies=[
            {"name": "offset", "use": v2("Seen"), "params": {"waits": [30, 90], "what": what}},
            {"name": "aligned", "use": v2("Seen"), "params": {"waits": [60, 60], "what": what}},
        ],
    )


def _seen_at_120(what: str) -> pd.DataFrame:
    comparison = sim.compare(_two_schedules(what), replications=64)
    assert comparison.errors == {}
    durations = comparison.runs.pivot(index="replication", columns="strategy", values="rollout_duration_s")
    return durations - 121.0  # Seen reports its value as rollout_duration_s = 120 + 1 + value


@pytest.mark.parametrize("what", ["canary", "analysis"])
def test_a_decision_at_a_scrape_time_sees_that_scrape_whatever_its_schedule(what: str) -> None:
    seen = _seen_at_120(what)
    assert (seen["offset"] == seen["aligned"]).all(), seen.head()
    if what == "analysis":
        assert (seen["aligned"] == 2).all()  # the measurements at 60 s and at 120 s
    else:
        assert seen["aligned"].min() > 0


def test_a_telemetry_window_at_a_scrape_time_is_the_same_whatever_the_schedule() -> None:
    seen = _seen_at_120("telemetry")
    assert (seen["offset"] == seen["aligned"]).all(), seen.head()
    assert seen["aligned"].min() > 0


# -- (3) params are a private copy per replication -----------------------------------------


def test_a_strategy_that_changes_its_params_changes_nothing_else() -> None:
    steps = [0.1, 0.2, 0.5]
    scenario = make_scenario(
        release={},
        detection=NO_DETECTION,
        strategies=[{"name": "popper", "use": v2("Popper"), "params": {"steps": steps}}],
    )
    before = copy.deepcopy(scenario.strategies[0].params)
    comparison = sim.compare(scenario, replications=8, workers=1)
    assert scenario.strategies[0].params == before == {"steps": steps}
    # Each replication popped its own three steps: done after three minutes, every one.
    assert (comparison.runs["rollout_duration_s"] == 180.0).all(), comparison.runs["rollout_duration_s"].tolist()
    again = sim.compare(scenario, replications=8, workers=1)
    assert again.runs.equals(comparison.runs)
    for k in (0, 5):
        one = sim.run(scenario, replication=k).measures.iloc[0]
        row = comparison.runs.iloc[k]
        for column in ("rollout_duration_s", "exposed_users", "new_requests", "requests"):
            assert one[column] == row[column], (k, column)
    assert scenario.strategies[0].params == before


# -- (4) baseline errors are common random numbers -----------------------------------------


def test_strategies_of_a_replication_see_the_same_errors_in_total() -> None:
    scenario = make_scenario(
        horizon="2h",
        release={},
        telemetry={"baseline_error_rate": 0.01},
        detection=NO_DETECTION,
        strategies=[
            {"name": "low", "use": plugin("Hold"), "params": {"weight": 0.01}},
            {"name": "high", "use": plugin("Hold"), "params": {"weight": 0.5}},
        ],
    )
    simulation = sim.Simulation(scenario)
    simulation.run()
    snapshot = simulation.snapshot()
    snapshot["errors"] = snapshot["stable_errors"] + snapshot["new_errors"] + snapshot["baseline_errors"]
    errors = snapshot.pivot(index="replication", columns="strategy", values="errors")
    new_errors = snapshot.pivot(index="replication", columns="strategy", values="new_errors")
    assert (errors["low"] == errors["high"]).all()
    assert errors["low"].nunique() > 1  # replications differ
    assert (new_errors["low"] < new_errors["high"]).all()  # the split between versions differs
    totals = {lane.name: lane.plane.counters.sum(axis=(1, 2)) for lane in simulation.lanes}
    assert (totals["low"] == totals["high"]).all()  # requests, errors and slow requests alike


# -- (5) a user-report escalation is acted on at its own time --------------------------------


def _user_reports_only(response: str = "0s") -> sim.Scenario:
    return make_scenario(
        horizon="3h",
        population={"users": 10_000},
        traffic={"rate": 20.0},
        release={"defect": {"harm": 0.05}},
        telemetry={"scrape_interval": "5m"},
        detection={
            "analysis": {"enabled": False},
            "service_alert": {"enabled": False},
            "user_reports": {"report_probability": 0.05, "delay": "10m", "reports_needed": 3, "response": response},
        },
        rollback={"duration": "0s"},
        strategies=[{"name": "bigbang"}],
    )


def test_a_user_report_escalation_starts_the_rollback_at_once_not_at_the_next_scrape() -> None:
    runs = sim.compare(_user_reports_only(), replications=100).runs
    assert (runs["outcome"] == "rolled_back").all()
    # With a zero response and an instant redeploy, mitigation is the escalation itself.
    gap = (runs["mitigation_s"] - runs["detection_s"]).abs()
    assert (gap <= RESOLUTION).all(), gap.max()
    on_scrape_grid = (runs["mitigation_s"] / 300.0 - (runs["mitigation_s"] / 300.0).round()).abs() < 1e-6
    assert on_scrape_grid.mean() < 0.5, on_scrape_grid.mean()
    assert ((runs["rollback_s"] - runs["alarm_s"]).abs() <= RESOLUTION).all()
    assert (runs["alarm_by"] == "user_reports").all()


def test_a_user_report_alarm_time_is_on_the_engine_clock() -> None:
    """A zero response: the alarm and the rollback it starts are the same instant, exactly."""
    runs = sim.compare(_user_reports_only(), replications=100).runs
    mismatched = runs[runs["alarm_s"] != runs["rollback_s"]]
    assert mismatched.empty, mismatched[["alarm_s", "rollback_s"]].head().to_dict("records")


# -- (6) the service alert has stable history before t = 0 ---------------------------------


def test_the_service_alert_window_starts_with_stable_history() -> None:
    """Errors of 8% on every request from t = 0 and a 10-minute window: the share of new
    scrapes in the window must exceed 2%/8%, i.e. 3 scrapes (taken at 180 s, seen at 210 s);
    held for 2 minutes, the alert fires when the scrape of 300 s arrives, at 330 s. Without
    history the first scrape alone (seen at 90 s) breaches, and it fires at 210 s."""
    scenario = make_scenario(
        horizon="1h",
        population={"users": 100_000},
        traffic={"rate": 5000.0},
        release={"defect": {"harm": 0.08}},
        telemetry={"scrape_interval": "60s", "scrape_lag": "30s", "baseline_error_rate": 1e-6},
        detection={
            "analysis": {"enabled": False},
            "user_reports": {"enabled": False},
            "service_alert": {"max_error_rate": 0.02, "window": "10m", "for": "2m", "response": "0s"},
        },
        strategies=[{"name": "bigbang"}],
    )
    runs = sim.compare(scenario, replications=64).runs
    assert (runs["detection_s"] == 330.0).all(), runs["detection_s"].unique()
    assert (runs["alarm_s"] == 330.0).all() and (runs["caught_by"] == "service_alert").all()
