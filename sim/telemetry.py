"""Scraped telemetry: per segment and arm, counts of requests, errors and slow requests.

This is all that judges, watchers and strategies see. A scrape is a
snapshot of the cumulative counters; sums over a window are differences of
two snapshots, as Prometheus ``increase()`` does. A missing scrape carries
the previous snapshot forward (no new sample), so the next scrape's window
holds the whole increase, and judges are told that their data is missing.
The log starts with the stable version's history before t = 0.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from sim.contract import VersionStats
from sim.latency import LatencyModel
from sim.population import CELL_SECONDS, Cohorts

STABLE, NEW, BASELINE = 0, 1, 2
ARMS = {"stable": STABLE, "new": NEW, "baseline": BASELINE}
REQUESTS, ERRORS, SLOW = 0, 1, 2
FIRST_BUCKET = 3  # latency histogram buckets, when the scenario keeps them, follow the three counters


def scrapes_in(window: float, scrape_interval: float) -> int:
    """Number of whole scrapes that cover ``window`` seconds (at least one)."""
    return max(1, math.ceil(window / scrape_interval - 1e-9))


def history(
    cohorts: Cohorts,
    replications: int,
    scrapes: int,
    interval: float,
    rates: tuple[float, float],
    rng: np.random.Generator,
    latency: LatencyModel | None = None,
) -> np.ndarray:
    """Cumulative snapshots of the stable version at scrapes ``-scrapes * interval .. 0``.

    Shape (scrapes + 1, R, segments + 1, 3, metrics); the first is all zeros.
    Each interval's mean is the daily curve at its middle (history needs no more).
    """
    per_segment = _history_means(cohorts, scrapes, interval)
    segments = len(cohorts.segment_names)
    requests = rng.poisson(np.broadcast_to(per_segment[:, None, :], (scrapes, replications, segments)))
    counts = np.zeros((scrapes + 1, replications, segments + 1, 3, metrics(latency)), dtype=np.int64)
    errors, slow = both_rates(rng, requests, rates)
    for metric, drawn in ((REQUESTS, requests), (ERRORS, errors), (SLOW, slow)):
        counts[1:, :, :-1, STABLE, metric] = np.cumsum(drawn, axis=0)
    if latency is not None:
        counts[1:, :, :-1, STABLE, FIRST_BUCKET:] = np.cumsum(rng.multinomial(requests, latency.healthy), axis=0)
    return counts


_HISTORY_MEANS: dict[tuple[int, int, float], tuple[Cohorts, np.ndarray]] = {}


def _history_means(cohorts: Cohorts, scrapes: int, interval: float) -> np.ndarray:
    """Expected requests per segment in each interval of the history, (scrapes, segments); the same for
    every block of a comparison, so remembered (read-only)."""
    key = (id(cohorts), scrapes, interval)
    known = _HISTORY_MEANS.get(key)
    if known is not None and known[0] is cohorts:
        return known[1]
    middles = -(np.arange(scrapes, 0, -1) - 0.5) * interval
    cells = np.floor(middles / CELL_SECONDS).astype(np.int64)
    first = int(cells.min()) if scrapes else 0
    by_cell = cohorts.cell_means(first, int(cells.max()) - first + 1 if scrapes else 0)
    means = by_cell[cells - first] * (interval / CELL_SECONDS)
    segments = len(cohorts.segment_names)
    per_segment = np.add.reduceat(means, cohorts.segment_starts, axis=1) if scrapes else np.zeros((0, segments))
    per_segment.flags.writeable = False
    if len(_HISTORY_MEANS) >= 64:
        _HISTORY_MEANS.clear()
    _HISTORY_MEANS[key] = (cohorts, per_segment)
    return per_segment


def both_rates(rng: np.random.Generator, requests: np.ndarray, rates: tuple[float, float]) -> np.ndarray:
    """Binomial errors, then slow requests, among ``requests`` at the two ``rates``: exactly what two calls
    would draw (the first call's elements, then the second's), with one call's fixed cost."""
    return rng.binomial(np.stack([requests, requests]), np.array(rates, dtype=float).reshape(2, *[1] * requests.ndim))


def metrics(latency: LatencyModel | None) -> int:
    """Counters per arm: requests, errors, slow requests, and the latency buckets if kept."""
    return FIRST_BUCKET + (latency.buckets if latency is not None else 0)


class TelemetryLog:
    """The scrapes received so far, kept as far back as the longest window needs."""

    def __init__(self, snapshots: np.ndarray, keep: int) -> None:
        self._snapshots: deque[np.ndarray] = deque(snapshots[-(keep + 1) :], maxlen=keep + 1)
        self.latest: np.ndarray = self._snapshots[-1]  # (read at every decision)
        self.missing = np.zeros(snapshots.shape[1], dtype=bool)
        self.received = 0

    def receive(self, snapshot: np.ndarray, missing: np.ndarray) -> None:
        """A scrape arrives; where it is missing, the previous snapshot stands."""
        if missing.any():
            snapshot = np.where(missing[:, None, None, None], self._snapshots[-1], snapshot)
        self._snapshots.append(snapshot)
        self.latest = snapshot
        self.missing = missing
        self.received += 1

    def window(self, scrapes: int) -> np.ndarray:
        """Counts over the last ``scrapes`` scrapes (fewer if not kept), shape (R, segments + 1, 3, 3)."""
        back = min(scrapes, len(self._snapshots) - 1)
        return self._snapshots[-1] - self._snapshots[-1 - back]


def stats(counts: np.ndarray, arm: int, segment: int | None = None) -> VersionStats:
    """VersionStats of one arm from one replication's (segments + 1, 3, 3) counts (all segments: None)."""
    row = counts[:, arm].sum(axis=0) if segment is None else counts[segment, arm]
    return VersionStats(int(row[REQUESTS]), int(row[ERRORS]), int(row[SLOW]))
