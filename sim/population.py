"""The population as cohorts: segment x rate class, users alike within each.

Users are never objects. A cohort holds a count of users who share a segment,
a request rate and a daily curve; everything the engine draws is per cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Scenario

CELL_SECONDS = 60.0
"""Traffic is drawn on a fixed one-minute grid; the daily curve is constant within a cell."""

BUCKETS = 10_000
"""Sticky exposure hashes users into this many buckets, as Statsig does."""


@dataclass(frozen=True)
class Cohorts:
    """Per-cohort arrays (length C) and the per-segment hourly curves."""

    segment_names: tuple[str, ...]
    segment: np.ndarray  # segment index of each cohort
    users: np.ndarray  # users in each cohort (int64)
    rate: np.ndarray  # requests per second of one user, daily average
    hourly: np.ndarray  # (segments, 24) multiplier by UTC hour, mean 1 over the day
    start_hour: float
    spikes: tuple[tuple[float, float, float], ...] = ()  # (start, end, multiplier), seconds from rollout start

    @property
    def size(self) -> int:
        return len(self.users)

    @property
    def population(self) -> int:
        return int(self.users.sum())

    @property
    def segment_starts(self) -> np.ndarray:
        """Index of each segment's first cohort (cohorts are ordered by segment), for ``np.add.reduceat``."""
        return np.searchsorted(self.segment, np.arange(len(self.segment_names)))

    def cell_means(self, first: int, count: int) -> np.ndarray:
        """Expected requests per cohort in grid cells ``first .. first+count-1``: shape (count, C)."""
        cell_start = (first + np.arange(count)) * CELL_SECONDS
        hour = np.floor(self.start_hour + cell_start / 3600.0).astype(np.int64) % 24
        multiplier = self.hourly[:, hour].T[:, self.segment]
        return multiplier * self.spike_factor(cell_start)[:, None] * (self.users * self.rate * CELL_SECONDS)

    def spike_factor(self, cell_start: np.ndarray) -> np.ndarray:
        """Mean load multiplier of each one-minute cell from the spikes (1 without any)."""
        factor = np.ones(len(cell_start))
        for start, end, multiplier in self.spikes:
            overlap = np.clip(np.minimum(cell_start + CELL_SECONDS, end) - np.maximum(cell_start, start), 0, None)
            factor += (multiplier - 1.0) * overlap / CELL_SECONDS
        return factor

    def service_rate(self, time: float) -> float:
        """Expected requests per second over the whole service at ``time`` (daily curve and spikes)."""
        cell = int(np.floor(time / CELL_SECONDS))
        return float(self.cell_means(cell, 1).sum()) / CELL_SECONDS


def _apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Split ``total`` by ``shares`` into integers that add up to ``total`` (largest remainder)."""
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _hourly_curves(scenario: Scenario) -> np.ndarray:
    curve = np.ones(24) if scenario.traffic.daily_curve is None else np.asarray(scenario.traffic.daily_curve)
    curve = curve / curve.mean()
    utc_hours = np.arange(24)
    rows = []
    for segment in scenario.population.segments:
        local = np.floor(utc_hours + segment.utc_offset_hours).astype(np.int64) % 24
        rows.append(curve[local])
    return np.array(rows)


_BUILT: dict[int, tuple[Scenario, Cohorts]] = {}


def build_cohorts(scenario: Scenario) -> Cohorts:
    """Cohorts of the scenario's population, with rates scaled to the scenario's total traffic.

    Remembered for the last few scenario objects: every block of a comparison asks again.
    """
    known = _BUILT.get(id(scenario))
    if known is not None and known[0] is scenario:
        return known[1]
    cohorts = _build_cohorts(scenario)
    if len(_BUILT) > 16:
        _BUILT.clear()
    _BUILT[id(scenario)] = (scenario, cohorts)
    return cohorts


def _build_cohorts(scenario: Scenario) -> Cohorts:
    population = scenario.population
    segments, classes = population.segments, population.rate_classes
    shares = np.array([s.share * c.share for s in segments for c in classes])
    relative = np.array([s.relative_rate * c.relative_rate for s in segments for c in classes])
    users = _apportion(population.users, shares)
    rate = relative * scenario.traffic.rate / float((users * relative).sum())
    return Cohorts(
        segment_names=tuple(s.name for s in segments),
        segment=np.repeat(np.arange(len(segments)), len(classes)),
        users=users,
        rate=np.where(users > 0, rate, 0.0),
        hourly=_hourly_curves(scenario),
        start_hour=scenario.traffic.start_hour,
        spikes=tuple((s.at, s.at + s.duration, s.multiplier) for s in scenario.traffic.spikes),
    )
