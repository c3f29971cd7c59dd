"""A sequential judge's looks, as its closed forms (z-test, mSPRT, SPRT, CUSUM) take them: the measurements
at which both arms have ``min_requests`` (before that a measurement is inconclusive), the variance of the
difference of the arms' error rates at each, and a result per look spread back over every measurement."""

from __future__ import annotations

import numpy as np

from sim.power.schedule import Measurements


def cumulative(schedule: Measurements, min_requests: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative expected requests of each arm (new, reference) at each measurement, and which
    measurements are looks."""
    n, m = np.cumsum(schedule.new), np.cumsum(schedule.reference)
    low = max(min_requests, 1)
    return n, m, (n >= low) & (m >= low)


def variances(n: np.ndarray, m: np.ndarray, rates: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The variance of the difference of error rates (unpooled) and its pooled estimate, per look."""
    new, reference = rates
    unpooled = new * (1 - new) / n + reference * (1 - reference) / m
    pooled_rate = (n * new + m * reference) / (n + m)
    return unpooled, pooled_rate * (1 - pooled_rate) * (1 / n + 1 / m)


def spread(curve: np.ndarray, looked: np.ndarray) -> np.ndarray:
    """Per-look values spread over every measurement: a measurement that is no look keeps the value before."""
    out = np.zeros(len(looked))
    out[np.flatnonzero(looked)] = curve
    return np.maximum.accumulate(out) if len(out) else out
