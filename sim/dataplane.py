"""The data plane: traffic, routing, harm and telemetry counters between two control events.

Everything here is drawn in aggregate per cohort with numpy: Poisson counts
(from the traffic grid), binomial routing to the new version, binomial
thinning for harm, errors and slow requests. Nothing is per request, so the
cost of a span does not depend on how many requests it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.exposure import Exposure
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.telemetry import CANARY, ERRORS, SLOW, STABLE
from sim.traffic import TrafficClock

_STREAMS = ("cells", "splits", "routing", "harm", "people")


@dataclass(frozen=True)
class Streams:
    """Independent random streams of one replication, one per purpose.

    Every strategy of a replication gets the same streams, so the traffic
    grid is identical and the rest stays aligned as long as the strategies do.
    """

    cells: np.random.Generator
    splits: np.random.Generator
    routing: np.random.Generator
    harm: np.random.Generator
    people: np.random.Generator

    @classmethod
    def of(cls, seed: np.random.SeedSequence) -> Streams:
        # spawn() would mutate ``seed``; derive the same children without it so
        # that each strategy of a replication starts from identical streams.
        children = [np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k)) for k in range(len(_STREAMS))]
        return cls(*(np.random.default_rng(child) for child in children))


@dataclass
class Span:
    """What one advance of the data plane produced."""

    start: float
    end: float
    newly_harmed_users: int


class DataPlane:
    """Ground truth of one run: who was served by which version, and who was harmed."""

    def __init__(self, scenario: Scenario, cohorts: Cohorts, unit: str, streams: Streams) -> None:
        self._streams = streams
        self.traffic = TrafficClock(cohorts, streams.cells, streams.splits)
        self.exposure = Exposure(cohorts.users, unit)
        self.weight = 0.0
        self._shares = self.exposure.shares(0.0, streams.routing)
        defect = scenario.release.defect
        self._kind = defect.kind if defect else "silent"
        self._harm = self._harm_per_cohort(scenario, cohorts)
        self._defect_active = False
        self._error_rate = scenario.telemetry.baseline_error_rate
        self._slow_rate = scenario.telemetry.baseline_slow_rate
        self.onset: float | None = None
        self.requests = 0
        self.new_requests = 0
        self.harmed_requests = 0
        self.counters = np.zeros((2, 3), dtype=np.int64)  # cumulative telemetry, version x measure

    @staticmethod
    def _harm_per_cohort(scenario: Scenario, cohorts: Cohorts) -> np.ndarray:
        defect = scenario.release.defect
        if defect is None:
            return np.zeros(cohorts.size)
        if defect.segment is None:
            return np.full(cohorts.size, defect.harm)
        target = cohorts.segment_names.index(defect.segment)
        return np.where(cohorts.segment == target, defect.harm, 0.0)

    def activate_defect(self) -> None:
        self._defect_active = bool(self._harm.any())

    def set_weight(self, weight: float) -> None:
        self.weight = weight
        self._shares = self.exposure.shares(weight, self._streams.routing)

    def advance(self, until: float) -> Span:
        """Draw everything that happens from the current position until ``until``."""
        start = self.traffic.position
        requests = self.traffic.take(until)
        new = self._route(requests)
        harmed = self._harm_requests(new, start, until)
        newly_harmed = self.exposure.record(new, harmed, self._streams.routing) if new.any() else new
        self._count(int(requests.sum()), int(new.sum()), int(harmed.sum()))
        return Span(start, until, int(newly_harmed.sum()))

    def _route(self, requests: np.ndarray) -> np.ndarray:
        """New-version requests per cohort and band."""
        if self.weight == 0.0:
            return np.zeros_like(self._shares, dtype=np.int64)
        if self._shares.shape[1] == 1:
            return self._streams.routing.binomial(requests[:, None], self._shares)
        rest = np.clip(1.0 - self._shares.sum(axis=1, keepdims=True), 0.0, 1.0)
        split = self._streams.routing.multinomial(requests, np.hstack([self._shares, rest]))
        return split[:, :-1]

    def _harm_requests(self, new: np.ndarray, start: float, end: float) -> np.ndarray:
        if not self._defect_active:
            return np.zeros_like(new)
        if self.onset is None:
            self._find_onset(new, start, end)
        return self._streams.harm.binomial(new, self._harm[:, None])

    def _find_onset(self, new: np.ndarray, start: float, end: float) -> None:
        reachable = int(new[self._harm > 0].sum())
        if reachable:
            # The first of `reachable` uniform arrival times: start + span * Beta(1, n).
            first = 1.0 - self._streams.harm.random() ** (1.0 / reachable)
            self.onset = start + (end - start) * first

    def _count(self, requests: int, new: int, harmed: int) -> None:
        self.requests += requests
        self.new_requests += new
        self.harmed_requests += harmed
        old, clean_new = requests - new, new - harmed
        served = np.array([old, clean_new, old, clean_new])
        rates = (self._error_rate, self._error_rate, self._slow_rate, self._slow_rate)
        drawn = self._streams.harm.binomial(served, rates)
        self.counters[STABLE, 0] += old
        self.counters[CANARY, 0] += new
        self.counters[:, ERRORS] += drawn[:2]
        self.counters[:, SLOW] += drawn[2:]
        if self._kind == "errors":
            self.counters[CANARY, ERRORS] += harmed
        elif self._kind == "latency":
            self.counters[CANARY, SLOW] += harmed
