"""Summaries kept as the runs arrive, so that memory does not grow with replications.

``compare`` keeps every run (a DataFrame row) up to ``STREAM_ABOVE`` runs;
past that it keeps, per strategy and measure, a count, an exact mean and
variance (Chan's parallel update) and a histogram on logarithmic bins for
the median and p95. Approximation, made here: a quantile from the histogram
is within one bin, 0.64% of its value (exact zeros are exact).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from sim.measures import OUTCOMES

STREAM_ABOVE = 250_000
"""Runs (replications x strategies) above which ``compare`` streams its summaries."""

_LOW, _HIGH, _BINS = -9.0, 16.0, 9000  # log10 range of the bins (every measure is >= 0): 0.64% wide
_WIDTH = (_HIGH - _LOW) / _BINS


class MetricStream:
    """Count, mean, variance and a log histogram of one measure's values, updated chunk by chunk."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.zeros = 0
        self.histogram = np.zeros(_BINS + 2, dtype=np.int64)  # under the low edge, bins, over the high edge

    def add(self, values: list[Any]) -> None:
        array = np.array([math.nan if v is None else v for v in values], dtype=float)
        array = array[~np.isnan(array)]
        if not len(array):
            return
        count, mean = len(array), float(array.mean())
        m2 = float(((array - mean) ** 2).sum())
        delta, total = mean - self.mean, self.n + count
        self.m2 += m2 + delta * delta * self.n * count / total
        self.mean += delta * count / total
        self.n = total
        positive = array[array > 0]
        self.zeros += int((array <= 0).sum())
        index = np.clip(np.floor((np.log10(positive) - _LOW) / _WIDTH).astype(np.int64) + 1, 0, _BINS + 1)
        self.histogram += np.bincount(index, minlength=_BINS + 2)

    @property
    def sd(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None

    def quantile(self, q: float) -> float | None:
        """The q-quantile, linear inside its logarithmic bin."""
        if not self.n:
            return None
        rank = q * (self.n - 1)
        if rank < self.zeros:
            return 0.0
        cumulative = self.zeros + np.cumsum(self.histogram)
        k = int(np.searchsorted(cumulative, rank, side="right"))
        k = min(k, _BINS + 1)
        before = cumulative[k - 1] if k else self.zeros
        inside = (rank - before) / max(self.histogram[k], 1)
        low = _LOW + (k - 1) * _WIDTH
        return float(10 ** (low + inside * _WIDTH))


class StrategyStream:
    """Everything ``StrategySummary`` needs about one strategy's runs, without the runs."""

    def __init__(self, metrics: tuple[str, ...]) -> None:
        self.metrics = {metric: MetricStream() for metric in metrics}
        self.replications = 0
        self.outcomes: Counter[str] = Counter()
        self.caught_by: Counter[str] = Counter()
        self.caught_late = 0
        self.reached = 0
        self.detected = 0

    def add(self, columns: dict[str, list[Any]]) -> None:
        for metric, stream in self.metrics.items():
            stream.add(columns[metric])
        self.replications += len(columns["outcome"])
        self.outcomes.update(columns["outcome"])
        self.caught_by.update(by for by in columns["caught_by"] if by is not None)
        self.caught_late += sum(bool(late) for late in columns["caught_late"])
        onsets, detections = columns["onset_s"], columns["detection_s"]
        self.reached += sum(onset is not None for onset in onsets)
        self.detected += sum(o is not None and d is not None for o, d in zip(onsets, detections, strict=True))

    def outcome_counts(self) -> dict[str, int]:
        return {outcome: int(self.outcomes.get(outcome, 0)) for outcome in OUTCOMES}
