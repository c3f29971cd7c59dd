"""Scraped telemetry: per version, counts of requests, errors and slow requests.

This is all that detectors and strategies see. A scrape is a snapshot of the
cumulative counters; sums over a window are differences of two snapshots, as
Prometheus ``increase()`` does.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.contract import VersionStats

STABLE, CANARY = 0, 1
REQUESTS, ERRORS, SLOW = 0, 1, 2


def stats(counts: np.ndarray, version: int) -> VersionStats:
    """VersionStats of one version from one replication's (2, 3) array of counts."""
    row = counts[version]
    return VersionStats(int(row[REQUESTS]), int(row[ERRORS]), int(row[SLOW]))


class TelemetryLog:
    """The scrapes detectors have received, kept only as far back as a window needs.

    Snapshots are (R, 2, 3): replication x version x (requests, errors, slow).
    """

    def __init__(self, replications: int, longest_window_scrapes: int) -> None:
        self._snapshots: deque[np.ndarray] = deque(maxlen=longest_window_scrapes + 1)
        self._snapshots.append(np.zeros((replications, 2, 3), dtype=np.int64))

    @property
    def latest(self) -> np.ndarray:
        return self._snapshots[-1]

    def receive(self, snapshot: np.ndarray) -> None:
        self._snapshots.append(snapshot)

    def window(self, scrapes: int) -> np.ndarray:
        """Counts over the last ``scrapes`` scrapes (fewer if not yet received), shape (R, 2, 3)."""
        back = min(scrapes, len(self._snapshots) - 1)
        return self._snapshots[-1] - self._snapshots[-1 - back]
