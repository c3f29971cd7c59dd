"""Detectors: they read telemetry (or, for people, their own experience) and raise alarms.

Each detector is a small state machine fed by the engine; none reads the
simulator's ground truth about which requests the defect harmed, except
``UserReports``, which models people noticing harm done to them.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import replace

import numpy as np

from sim.contract import AnalysisStatus
from sim.scenario import Analysis, ServiceAlert, UserReports
from sim.telemetry import CANARY, ERRORS, REQUESTS, SLOW, TelemetryLog


def scrapes_in(window: float, scrape_interval: float) -> int:
    """Number of whole scrapes that cover ``window`` seconds (at least one)."""
    return max(1, math.ceil(window / scrape_interval - 1e-9))


class AnalysisJudge:
    """Background analysis of the new version with a cumulative failure limit (Argo Rollouts)."""

    def __init__(self, config: Analysis, scrape_interval: float) -> None:
        self.config = config
        self._scrapes = scrapes_in(config.window, scrape_interval)
        self._status = AnalysisStatus(failure_limit=config.failure_limit, enabled=config.enabled)

    @property
    def status(self) -> AnalysisStatus:
        return self._status

    def measure(self, log: TelemetryLog) -> None:
        """Take one measurement of the canary over the window; no traffic means no measurement."""
        if not self.config.enabled or self._status.failed:
            return
        canary = log.window(self._scrapes)[CANARY]
        if canary[REQUESTS] == 0:
            return
        s = self._status
        if canary[REQUESTS] < self.config.min_requests:
            self._status = replace(s, measurements=s.measurements + 1, inconclusive=s.inconclusive + 1)
        elif self._fails(canary):
            self._status = replace(s, measurements=s.measurements + 1, failures=s.failures + 1)
        else:
            self._status = replace(s, measurements=s.measurements + 1)

    def _fails(self, canary: np.ndarray) -> bool:
        error_rate = canary[ERRORS] / canary[REQUESTS]
        slow_rate = canary[SLOW] / canary[REQUESTS]
        limit = self.config.max_slow_rate
        return error_rate > self.config.max_error_rate or (limit is not None and slow_rate > limit)


class ServiceAlertRule:
    """Service-wide error rate above a threshold for a while (a Prometheus alert with ``for``)."""

    def __init__(self, config: ServiceAlert, scrape_interval: float) -> None:
        self.config = config
        self._scrapes = scrapes_in(config.window, scrape_interval)
        self._pending_since: float | None = None

    def evaluate(self, log: TelemetryLog, now: float) -> bool:
        """True when the alert fires at ``now``."""
        if not self.config.enabled:
            return False
        total = log.window(self._scrapes).sum(axis=0)
        breached = total[REQUESTS] > 0 and total[ERRORS] / total[REQUESTS] > self.config.max_error_rate
        if not breached:
            self._pending_since = None
            return False
        if self._pending_since is None:
            self._pending_since = now
        return now - self._pending_since >= self.config.for_


class ReportQueue:
    """User reports in arrival order; support escalates at the k-th report."""

    def __init__(self, config: UserReports) -> None:
        self.config = config
        self._times: list[float] = []

    def add_harm(self, users: int, start: float, end: float, rng: np.random.Generator) -> None:
        """Users first harmed in ``[start, end)`` each report with some probability, after a delay.

        A report is known to the engine only once the span is drawn, so its
        time is clamped to ``end``: at most one control interval late.
        """
        if not self.config.enabled or users == 0:
            return
        reporters = int(rng.binomial(users, self.config.report_probability))
        if reporters == 0:
            return
        harmed_at = start + (end - start) * rng.random(reporters)
        arrive = np.maximum(harmed_at + rng.exponential(self.config.delay, reporters), end)
        for time in arrive.tolist():
            heapq.heappush(self._times, time)

    def escalation_time(self) -> float | None:
        """When the k-th report arrives, given the reports known so far."""
        k = self.config.reports_needed
        if len(self._times) < k:
            return None
        return heapq.nsmallest(k, self._times)[-1]
