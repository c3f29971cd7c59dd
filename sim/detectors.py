"""Detectors: they read telemetry (or, for people, their own experience) and raise alarms.

Each detector is a small state machine fed by the engine, with one entry per
replication of a block. None reads the simulator's ground truth about which
requests the defect harmed, except ``ReportQueue``, which models people
noticing harm done to them.
"""

from __future__ import annotations

import math

import numpy as np

from sim.contract import AnalysisStatus
from sim.scenario import Analysis, ServiceAlert, UserReports
from sim.telemetry import CANARY, ERRORS, REQUESTS, SLOW, TelemetryLog


def scrapes_in(window: float, scrape_interval: float) -> int:
    """Number of whole scrapes that cover ``window`` seconds (at least one)."""
    return max(1, math.ceil(window / scrape_interval - 1e-9))


class AnalysisJudge:
    """Background analysis of the new version with a cumulative failure limit (Argo Rollouts)."""

    def __init__(self, config: Analysis, scrape_interval: float, replications: int) -> None:
        self.config = config
        self._scrapes = scrapes_in(config.window, scrape_interval)
        self.measurements = np.zeros(replications, dtype=np.int64)
        self.failures = np.zeros(replications, dtype=np.int64)
        self.inconclusive = np.zeros(replications, dtype=np.int64)

    @property
    def failed(self) -> np.ndarray:
        """Per replication: failures exceed the failure limit (Argo: ``failed > failureLimit``)."""
        return self.config.enabled & (self.failures > self.config.failure_limit)

    def status(self, replication: int) -> AnalysisStatus:
        return AnalysisStatus(
            measurements=int(self.measurements[replication]),
            failures=int(self.failures[replication]),
            inconclusive=int(self.inconclusive[replication]),
            failure_limit=self.config.failure_limit,
            enabled=self.config.enabled,
        )

    def measure(self, log: TelemetryLog) -> None:
        """One measurement of each canary over the window; no traffic means no measurement."""
        if not self.config.enabled:
            return
        canary = log.window(self._scrapes)[:, CANARY]
        requests = canary[:, REQUESTS]
        measured = (requests > 0) & ~self.failed
        too_few = measured & (requests < self.config.min_requests)
        with np.errstate(divide="ignore", invalid="ignore"):
            fails = canary[:, ERRORS] / requests > self.config.max_error_rate
            if self.config.max_slow_rate is not None:
                fails |= canary[:, SLOW] / requests > self.config.max_slow_rate
        self.measurements += measured
        self.inconclusive += too_few
        self.failures += measured & ~too_few & fails


class ServiceAlertRule:
    """Service-wide error rate above a threshold for a while (a Prometheus alert with ``for``)."""

    def __init__(self, config: ServiceAlert, scrape_interval: float, replications: int) -> None:
        self.config = config
        self._scrapes = scrapes_in(config.window, scrape_interval)
        self._pending_since = np.full(replications, np.nan)

    def evaluate(self, log: TelemetryLog, now: float) -> np.ndarray:
        """Per replication: does the alert fire at ``now``."""
        if not self.config.enabled:
            return np.zeros(len(self._pending_since), dtype=bool)
        total = log.window(self._scrapes).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            breached = (total[:, REQUESTS] > 0) & (total[:, ERRORS] / total[:, REQUESTS] > self.config.max_error_rate)
        self._pending_since[~breached] = np.nan
        self._pending_since[breached & np.isnan(self._pending_since)] = now
        return breached & (now - self._pending_since >= self.config.for_)


class ReportQueue:
    """The k earliest user reports of each replication; support escalates at the k-th.

    Only the k earliest reports can decide the escalation time, so only they
    are kept: an (R, k) array, +inf where no report has arrived yet.
    """

    def __init__(self, config: UserReports, replications: int) -> None:
        self.config = config
        self._earliest = np.full((replications, config.reports_needed), np.inf)
        self.changed: set[int] = set()

    def add_harm(self, users: np.ndarray, start: float, end: float, rng: np.random.Generator) -> None:
        """Users first harmed in ``[start, end)`` each report with some probability, after a delay.

        A report is known to the engine only once the span is drawn, so its
        time is clamped to ``end``: at most one control interval late.
        """
        if not self.config.enabled or not users.any():
            return
        reporters = rng.binomial(users, self.config.report_probability)
        total = int(reporters.sum())
        if total == 0:
            return
        harmed_at = start + (end - start) * rng.random(total)
        arrive = np.maximum(harmed_at + rng.exponential(self.config.delay, total), end)
        # Scatter each replication's reports into a padded (R, most) array.
        rows = np.repeat(np.arange(len(reporters)), reporters)
        columns = np.arange(total) - np.repeat(np.cumsum(reporters) - reporters, reporters)
        padded = np.full((len(reporters), int(reporters.max())), np.inf)
        padded[rows, columns] = arrive
        k = self.config.reports_needed
        merged = np.concatenate([self._earliest, padded], axis=1)
        earliest = np.sort(np.partition(merged, k - 1, axis=1)[:, :k], axis=1)
        self.changed.update(np.flatnonzero(earliest[:, -1] != self._earliest[:, -1]).tolist())
        self._earliest = earliest

    def escalation_time(self, replication: int) -> float | None:
        """When the k-th report arrives in a replication, given the reports known so far."""
        time = float(self._earliest[replication, -1])
        return None if math.isinf(time) else time
