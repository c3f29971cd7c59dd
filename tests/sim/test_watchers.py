"""Watchers: alert ``for`` durations, user reports, and the analysis false-alarm law end to end."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import sim
from sim.scenario import ServiceAlert, UserReports
from sim.telemetry import NEW, STABLE, TelemetryLog
from sim.watchers import ReportQueue, ServiceAlertRule
from tests.generators import make_scenario, plugin


def _log(replications: int) -> TelemetryLog:
    return TelemetryLog(np.zeros((1, replications, 2, 3, 3), dtype=np.int64), keep=10)


def _scrape(log: TelemetryLog, new: tuple[int, int], stable: tuple[int, int] = (0, 0)) -> TelemetryLog:
    """Add one scrape in which every replication saw these counts (one segment)."""
    snapshot = np.zeros_like(log.latest)
    snapshot[:, 0, STABLE, :2] = stable
    snapshot[:, 0, NEW, :2] = new
    log.receive(log.latest + snapshot, np.zeros(len(snapshot), dtype=bool))
    return log


def test_service_alert_fires_after_the_condition_held_for_its_duration() -> None:
    rule = ServiceAlertRule(ServiceAlert(max_error_rate=0.01, window=60, **{"for": 120}), 60.0, 1)
    log = _log(1)
    fired = []
    for minute in range(1, 6):
        fired.append(bool(rule.evaluate(_scrape(log, new=(0, 0), stable=(1000, 50)), minute * 60.0)[0]))
    assert fired == [False, False, True, True, True]


def test_service_alert_resets_when_the_condition_clears() -> None:
    rule = ServiceAlertRule(ServiceAlert(max_error_rate=0.01, window=60, **{"for": 60}), 60.0, 1)
    log = _log(1)
    results = []
    for minute, errors in enumerate([50, 0, 50, 50], start=1):
        results.append(bool(rule.evaluate(_scrape(log, new=(0, 0), stable=(1000, errors)), minute * 60.0)[0]))
    assert results == [False, False, False, True]


def test_report_queue_escalates_at_the_kth_report_never_before_it_is_drawn() -> None:
    queue = ReportQueue(UserReports(report_probability=1.0, delay=60.0, reports_needed=3), 2)
    rng = np.random.default_rng(0)
    moved = queue.add_harm(np.array([2, 0]), np.zeros(2), np.full(2, 10.0), 10.0, rng)
    assert queue.escalation_time(0) is None and moved == []
    moved = queue.add_harm(np.array([5, 3]), np.full(2, 10.0), np.full(2, 20.0), 20.0, rng)
    assert queue.escalation_time(0) >= 20.0 and queue.escalation_time(1) >= 20.0
    assert moved == [0, 1]


def test_report_queue_keeps_the_k_earliest_reports() -> None:
    queue = ReportQueue(UserReports(report_probability=1.0, delay=1e-9, reports_needed=2), 1)
    rng = np.random.default_rng(1)
    queue.add_harm(np.array([1]), np.array([100.0]), np.array([200.0]), 200.0, rng)
    queue.add_harm(np.array([1]), np.array([300.0]), np.array([400.0]), 400.0, rng)
    later = queue.escalation_time(0)
    assert later == 400.0  # clamped to the end of the tick in which it was drawn
    queue.add_harm(np.array([1]), np.array([500.0]), np.array([600.0]), 600.0, rng)
    assert queue.escalation_time(0) == later


def test_canary_analysis_detection_probability_matches_the_binomial_law() -> None:
    """Weight and traffic fixed: each minute's canary count is Poisson, errors binomial given it.

    With failure_limit 0 the first measurement alone decides whether the
    analysis has failed after one minute. Its failure probability is a
    closed form: sum over n of Poisson(n) * P(Binomial(n, p) > 1% of n).
    """
    rate, weight, p = 10.0, 0.5, 0.015
    scenario = make_scenario(
        horizon="70s",
        population={"users": 1000},
        traffic={"rate": rate},
        release={},
        telemetry={"baseline_error_rate": p, "scrape_interval": "60s"},
        detection={
            "analysis": {"max_error_rate": 0.01, "failure_limit": 0, "min_requests": 1, "window": "60s"},
            "service_alert": {"enabled": False},
            "user_reports": {"enabled": False},
        },
        strategies=[{"name": "c", "use": plugin("Rollback"), "params": {"weight": weight, "at": 60.0}}],
        rollback={"duration": "1s"},
    )
    replications = 2000
    runs = sim.compare(scenario, replications=replications).runs
    observed = float((runs["outcome"] == "false_rollback").mean())
    mean = rate * weight * 60
    n = np.arange(1, int(stats.poisson.isf(1e-12, mean)))
    fail_given_n = stats.binom.sf(np.floor(0.01 * n), n, p)
    expected = float((stats.poisson.pmf(n, mean) * fail_given_n).sum())
    assert 0.05 < expected < 0.95  # a check that can tell a wrong law from a right one
    tolerance = 4 * math.sqrt(expected * (1 - expected) / replications)
    assert abs(observed - expected) <= tolerance, (observed, expected, tolerance)
