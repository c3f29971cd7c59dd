"""Latency as Prometheus sees it: request durations counted in histogram buckets, and quantiles read back.

Each version's request latency is lognormal (``telemetry.latency``: median
and shape sigma). A request a ``latency`` defect harms takes ``slowdown``
times as long (the median moves, the shape stays). Telemetry keeps, per
scrape, arm and segment, how many requests fell in each bucket
``(bound[k-1], bound[k]]``, the last one up to +Inf, as a Prometheus
histogram's ``_bucket`` series do (there cumulative; here per bucket).

Quantiles are estimated from the buckets exactly as PromQL's
``histogram_quantile`` does: find the bucket holding the rank ``q x count``
and interpolate linearly inside it (from 0 for the first bucket); a rank in
the +Inf bucket gives the highest finite bound.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.scenario import Scenario


@functools.lru_cache(maxsize=64)
def bucket_probabilities(bounds: tuple[float, ...], median: float, sigma: float) -> np.ndarray:
    """Probability that a lognormal(median, sigma) latency falls in each bucket (the last: above every bound)."""
    # The lognormal CDF by hand: scipy.stats would add a third of a second to every command's start.
    below = np.array([0.5 * math.erfc(-math.log(bound / median) / (sigma * math.sqrt(2.0))) for bound in bounds])
    probabilities = np.diff(np.concatenate([[0.0], below, [1.0]]))
    probabilities = np.clip(probabilities, 0.0, 1.0)
    probabilities /= probabilities.sum()
    probabilities.setflags(write=False)  # cached: shared by every caller
    return probabilities


def split_buckets(rng: np.random.Generator, counts: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Which of ``counts`` (..., B) requests per bucket are among ``sample`` (...) of them, drawn without
    replacement: a multivariate hypergeometric draw, one bucket at a time."""
    taken = np.zeros_like(counts)
    if not sample.any():
        return taken
    left = sample.astype(np.int64, copy=True)
    others = counts.sum(axis=-1)
    for k in range(counts.shape[-1] - 1):
        others = others - counts[..., k]
        taken[..., k] = rng.hypergeometric(counts[..., k], others, left)
        left -= taken[..., k]
    taken[..., -1] = left
    return taken


def histogram_quantile(q: float, bounds: tuple[float, ...] | np.ndarray, counts: np.ndarray) -> np.ndarray:
    """PromQL's ``histogram_quantile(q, ...)`` of per-bucket ``counts`` (..., len(bounds) + 1).

    ``bounds``: the finite upper bounds, increasing and positive; the last
    bucket is +Inf. NaN where there are no observations.
    """
    bounds = np.asarray(bounds, dtype=float)
    counts = np.asarray(counts)
    cumulative = np.cumsum(counts, axis=-1)
    total = cumulative[..., -1]
    rank = q * total
    # The first bucket whose cumulative count reaches the rank (Prometheus: sort.Search).
    b = np.argmax(cumulative >= rank[..., None], axis=-1)
    finite = b < len(bounds)
    index = np.minimum(b, len(bounds) - 1)
    end = bounds[index]
    start = np.where(index > 0, bounds[np.maximum(index - 1, 0)], 0.0)
    before = np.where(b > 0, np.take_along_axis(cumulative, np.maximum(b - 1, 0)[..., None], axis=-1)[..., 0], 0)
    inside = np.take_along_axis(counts, b[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(inside > 0, (rank - before) / inside, 0.0)
    value = np.where(finite, start + (end - start) * share, bounds[-1])
    return np.where(total > 0, value, np.nan)


@dataclass(frozen=True)
class LatencyModel:
    """The buckets and the probability of each, for a healthy request and for one a defect slowed."""

    bounds: tuple[float, ...]
    healthy: np.ndarray
    slowed: np.ndarray

    @property
    def buckets(self) -> int:
        return len(self.bounds) + 1

    @classmethod
    def of(cls, scenario: Scenario) -> LatencyModel | None:
        """The scenario's model, or None when it keeps no histograms."""
        config = scenario.telemetry.latency
        if config is None:
            return None
        defect = scenario.release.defect
        slowdown = defect.slowdown if defect is not None else 1.0
        bounds = tuple(config.buckets)
        return cls(
            bounds,
            bucket_probabilities(bounds, config.median, config.sigma),
            bucket_probabilities(bounds, config.median * slowdown, config.sigma),
        )
