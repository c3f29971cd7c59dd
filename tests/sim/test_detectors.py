"""Detectors: Argo-style cumulative failure limits, alert ``for`` durations, user reports."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import sim
from sim.detectors import AnalysisJudge, ReportQueue, ServiceAlertRule
from sim.scenario import Analysis, ServiceAlert, UserReports
from sim.telemetry import TelemetryLog
from tests.generators import make_scenario, plugin


def _scrape(log: TelemetryLog, canary: tuple[int, int], stable: tuple[int, int] = (0, 0)) -> TelemetryLog:
    """Add one scrape in which every replication saw these counts."""
    snapshot = np.array([[stable[0], stable[1], 0], [canary[0], canary[1], 0]])
    log.receive(log.latest + snapshot)
    return log


def test_analysis_fails_only_when_failures_exceed_the_limit() -> None:
    judge = AnalysisJudge(Analysis(max_error_rate=0.01, failure_limit=2, min_requests=10), 60.0, 2)
    log = TelemetryLog(2, 1)
    for expected_failed in (False, False, True):  # Argo: failed > failureLimit, so the 3rd failure
        judge.measure(_scrape(log, canary=(100, 50)))
        assert judge.failed.tolist() == [expected_failed] * 2
    assert judge.status(1).failures == 3 and judge.status(1).failed


def test_analysis_with_too_few_requests_is_inconclusive_and_without_traffic_is_skipped() -> None:
    judge = AnalysisJudge(Analysis(min_requests=100), 60.0, 1)
    log = TelemetryLog(1, 1)
    judge.measure(_scrape(log, canary=(50, 50)))
    judge.measure(_scrape(log, canary=(0, 0)))
    status = judge.status(0)
    assert (status.measurements, status.inconclusive, status.failures) == (1, 1, 0)


def test_analysis_judges_each_replication_on_its_own_counts() -> None:
    judge = AnalysisJudge(Analysis(max_error_rate=0.01, failure_limit=0, min_requests=10), 60.0, 3)
    log = TelemetryLog(3, 1)
    log.receive(np.array([[[0, 0, 0], [100, 5, 0]], [[0, 0, 0], [100, 0, 0]], [[0, 0, 0], [5, 5, 0]]]))
    judge.measure(log)
    assert judge.failed.tolist() == [True, False, False]
    assert judge.inconclusive.tolist() == [0, 0, 1]


def test_service_alert_fires_after_the_condition_held_for_its_duration() -> None:
    rule = ServiceAlertRule(ServiceAlert(max_error_rate=0.01, window=60, **{"for": 120}), 60.0, 1)
    log = TelemetryLog(1, 1)
    fired = []
    for minute in range(1, 6):
        fired.append(bool(rule.evaluate(_scrape(log, canary=(0, 0), stable=(1000, 50)), minute * 60.0)[0]))
    assert fired == [False, False, True, True, True]


def test_service_alert_resets_when_the_condition_clears() -> None:
    rule = ServiceAlertRule(ServiceAlert(max_error_rate=0.01, window=60, **{"for": 60}), 60.0, 1)
    log = TelemetryLog(1, 1)
    results = []
    for minute, errors in enumerate([50, 0, 50, 50], start=1):
        results.append(bool(rule.evaluate(_scrape(log, canary=(0, 0), stable=(1000, errors)), minute * 60.0)[0]))
    assert results == [False, False, False, True]


def test_report_queue_escalates_at_the_kth_report_never_before_it_is_drawn() -> None:
    queue = ReportQueue(UserReports(report_probability=1.0, delay=60.0, reports_needed=3), 2)
    rng = np.random.default_rng(0)
    queue.add_harm(np.array([2, 0]), 0.0, 10.0, rng)
    assert queue.escalation_time(0) is None and queue.changed == set()
    queue.add_harm(np.array([5, 3]), 10.0, 20.0, rng)
    assert queue.escalation_time(0) >= 10.0 and queue.escalation_time(1) >= 20.0
    assert queue.changed == {0, 1}


def test_report_queue_keeps_the_k_earliest_reports() -> None:
    queue = ReportQueue(UserReports(report_probability=1.0, delay=1e-9, reports_needed=2), 1)
    rng = np.random.default_rng(1)
    queue.add_harm(np.array([1]), 100.0, 200.0, rng)
    queue.add_harm(np.array([1]), 300.0, 400.0, rng)
    later = queue.escalation_time(0)
    assert 300.0 <= later <= 400.0
    queue.add_harm(np.array([1]), 500.0, 600.0, rng)
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
