"""Watchers: scenario-owned detectors that watch every strategy, big-bang included.

Each is a small state machine with one entry per replication of a block.
The service alert reads telemetry (with the stable history from before
t = 0); user reports model people noticing harm done to them, the only
watcher that sees ground truth.
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario import BurnAlert, ServiceAlert, SloBurn, UserReports
from sim.telemetry import ERRORS, REQUESTS, SLOW, TelemetryLog, scrapes_in


def service_totals(counts: np.ndarray) -> np.ndarray:
    """Per replication and metric, the counts of every version in the users' segments (not the test
    traffic), from (R, segments + 1, arms, metrics) counts. (``einsum``: exactly the integer sum, at a
    third of the cost of ``sum`` over two middle axes of such small arrays; it runs at every scrape.)"""
    return np.einsum("rsam->rm", counts[:, :-1])


class ServiceAlertRule:
    """Service-wide error rate above a threshold for a while (a Prometheus alert with ``for``)."""

    def __init__(self, config: ServiceAlert, scrape_interval: float, replications: int) -> None:
        self.config = config
        self.scrapes = scrapes_in(config.window, scrape_interval)
        self._pending_since = np.full(replications, np.nan)

    def evaluate(self, log: TelemetryLog, now: float) -> np.ndarray:
        """Per replication: does the alert fire at ``now``."""
        if not self.config.enabled:
            return np.zeros(len(self._pending_since), dtype=bool)
        total = service_totals(log.window(self.scrapes))  # users' segments: not the test traffic
        with np.errstate(divide="ignore", invalid="ignore"):
            breached = (total[:, REQUESTS] > 0) & (total[:, ERRORS] / total[:, REQUESTS] > self.config.max_error_rate)
        self._pending_since[~breached] = np.nan
        self._pending_since[breached & np.isnan(self._pending_since)] = now
        return breached & (now - self._pending_since >= self.config.for_)


class BurnRateAlerts:
    """Multiwindow, multi-burn-rate SLO alerts (Google SRE Workbook, chapter 5).

    An alert fires at a scrape when the service's bad-request ratio (errors,
    or slow requests) over both its long and its short window reaches
    ``burn_rate x (1 - objective)``: the error budget is burning that many
    times faster than it may, and still is. No ``for`` clause, as in the
    workbook. Windows read the telemetry log, stable history before t = 0
    included.
    """

    def __init__(self, config: SloBurn, scrape_interval: float) -> None:
        self.config = config
        self._bad = ERRORS if config.indicator == "errors" else SLOW
        self._alerts = [
            (alert, scrapes_in(alert.long, scrape_interval), scrapes_in(alert.short, scrape_interval))
            for alert in (config.alerts if config.enabled else [])
        ]

    @property
    def alerts(self) -> list[BurnAlert]:
        return [alert for alert, _, _ in self._alerts]

    def evaluate(self, log: TelemetryLog) -> list[tuple[BurnAlert, np.ndarray]]:
        """Each alert and, per replication, whether it fires at this scrape."""
        fired = []
        for alert, long, short in self._alerts:
            limit = alert.burn_rate * (1.0 - self.config.objective)
            fired.append((alert, self._reaches(log, long, limit) & self._reaches(log, short, limit)))
        return fired

    def _reaches(self, log: TelemetryLog, scrapes: int, limit: float) -> np.ndarray:
        total = service_totals(log.window(scrapes))  # users' segments, every version
        requests = total[:, REQUESTS]
        # bad / requests >= limit, without dividing (exact for integer counts).
        return (requests > 0) & (total[:, self._bad] >= limit * requests)


class ReportQueue:
    """The k earliest user reports of each replication; support escalates at the k-th.

    Only the k earliest reports can decide the escalation time, so only they
    are kept: an (R, k) array, +inf where no report has arrived yet.
    """

    def __init__(self, config: UserReports, replications: int) -> None:
        self.config = config
        self._earliest = np.full((replications, config.reports_needed), np.inf)

    def add_harm(
        self, users: np.ndarray, first: np.ndarray, last: np.ndarray, end: float, rng: np.random.Generator
    ) -> list[int]:
        """Users first harmed in a tick (between ``first`` and ``last``, per replication) each report
        with some probability, after an exponential delay. Returns replications whose escalation moved.

        The tick is drawn at its ``end``, so a report due earlier is clamped to
        ``end``: at most one tick (a minute, or a scrape interval) late.
        """
        # Where support has already escalated, later reports (all due after ``end``) cannot change it.
        users = np.where(self._earliest[:, -1] <= end, 0, users)
        if not self.config.enabled or not users.any():
            return []
        reporters = rng.binomial(users, self.config.report_probability)
        total = int(reporters.sum())
        if total == 0:
            return []
        rows = np.repeat(np.arange(len(reporters)), reporters)
        low, high = np.nan_to_num(first, nan=end)[rows], np.nan_to_num(last, nan=end)[rows]
        harmed_at = low + (np.maximum(high, low) - low) * rng.random(total)
        arrive = np.maximum(harmed_at + rng.exponential(self.config.delay, total), end)
        columns = np.arange(total) - np.repeat(np.cumsum(reporters) - reporters, reporters)
        padded = np.full((len(reporters), int(reporters.max())), np.inf)
        padded[rows, columns] = arrive
        k = self.config.reports_needed
        merged = np.concatenate([self._earliest, padded], axis=1)
        earliest = np.sort(np.partition(merged, k - 1, axis=1)[:, :k], axis=1)
        moved = np.flatnonzero(earliest[:, -1] != self._earliest[:, -1]).tolist()
        self._earliest = earliest
        return moved

    def escalation_time(self, replication: int) -> float | None:
        """When the k-th report arrives in a replication, given the reports known so far."""
        time = float(self._earliest[replication, -1])
        return None if math.isinf(time) else time
