"""Distributions on the integers, for the SPRT's walk on its grid: a value at a real position is shared
between its two nearest integers (linear interpolation, which keeps the mean exact), for point masses, a
scaled Poisson count and a normal."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def interpolated(positions: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int]:
    """Weights at real positions shared between the two nearest integers: (weights, offset of the first)."""
    floor = np.floor(positions)
    share = positions - floor
    first = int(floor.min())
    out = np.zeros(int(floor.max()) - first + 2)
    index = (floor - first).astype(np.int64)
    np.add.at(out, index, weights * (1 - share))
    np.add.at(out, index + 1, weights * share)
    return out, first


def poisson_lattice(mean: float, spacing: float) -> tuple[np.ndarray, int]:
    """``spacing`` x Poisson(``mean``) on the integers, interpolated: (weights, offset of the first)."""
    if mean <= 0:
        return np.ones(1), 0
    low, high = (int(v) for v in stats.poisson.ppf([1e-13, 1 - 1e-13], mean))
    counts = np.arange(low, high + 1)
    return interpolated(counts * spacing, stats.poisson.pmf(counts, mean))


def normal_lattice(mean: float, sd: float) -> tuple[np.ndarray, int]:
    """N(``mean``, ``sd^2``) on the integers, each value shared between its two nearest (the expected
    tent function: E[(V - i + 1)+] - 2 E[(V - i)+] + E[(V - i - 1)+]): (weights, offset of the first)."""
    half = math.ceil(9 * sd) + 1
    points = np.arange(math.floor(mean) - half, math.ceil(mean) + half + 1)

    def excess(gap: np.ndarray) -> np.ndarray:  # E[(V - point)+] with gap = mean - point
        if sd <= 0:
            return np.maximum(gap, 0.0)
        return gap * stats.norm.cdf(gap / sd) + sd * stats.norm.pdf(gap / sd)

    gap = mean - points
    weights = excess(gap + 1) - 2 * excess(gap) + excess(gap - 1)
    return np.clip(weights, 0.0, None), int(points[0])
