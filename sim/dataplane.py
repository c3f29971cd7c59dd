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
from sim.telemetry import CANARY, ERRORS, REQUESTS, SLOW, STABLE
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
    newly_harmed_users: np.ndarray  # per replication


class DataPlane:
    """Ground truth of a block of replications: who was served by which version, who was harmed.

    Arrays carry a leading replication axis R; per-replication state is never
    a Python object, so one numpy call advances every replication of the block.
    """

    def __init__(self, scenario: Scenario, cohorts: Cohorts, replications: int, unit: str, streams: Streams) -> None:
        self._streams = streams
        self.traffic = TrafficClock(cohorts, replications, streams.cells, streams.splits)
        self.exposure = Exposure(cohorts.users, replications, unit)
        self.weights = np.zeros(replications)
        self._shares = self.exposure.shares(self.weights, streams.routing)
        self._shares_stale = False
        defect = scenario.release.defect
        self._kind = defect.kind if defect else "silent"
        self._harm = self._harm_per_cohort(scenario, cohorts)
        self._defect_active = False
        self._error_rate = scenario.telemetry.baseline_error_rate
        self._slow_rate = scenario.telemetry.baseline_slow_rate
        self.onset = np.full(replications, np.nan)
        self.requests = np.zeros(replications, dtype=np.int64)
        self.new_requests = np.zeros(replications, dtype=np.int64)
        self.harmed_requests = np.zeros(replications, dtype=np.int64)
        self.counters = np.zeros((replications, 2, 3), dtype=np.int64)  # cumulative telemetry

    @property
    def position(self) -> float:
        return self.traffic.position

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

    def set_weight(self, replication: int, weight: float) -> None:
        """Takes effect from the current position on (bring the plane up to now first)."""
        self.weights[replication] = weight
        self._shares_stale = True

    def advance(self, until: float) -> Span:
        """Draw everything that happens in every replication from the current position until ``until``."""
        start = self.traffic.position
        requests = self.traffic.take(until)
        new = self._route(requests)
        harmed = self._harm_requests(new, start, until)
        newly_harmed = self.exposure.record(new, harmed, self._streams.routing)
        self._count(requests.sum(axis=1), new.sum(axis=(1, 2)), harmed.sum(axis=(1, 2)))
        return Span(start, until, newly_harmed)

    def _route(self, requests: np.ndarray) -> np.ndarray:
        """New-version requests per replication, cohort and band."""
        if self._shares_stale:  # many replications may change weight at one instant: recompute once
            self._shares = self.exposure.shares(self.weights, self._streams.routing)
            self._shares_stale = False
        if not self.weights.any():
            return np.zeros(self._shares.shape, dtype=np.int64)
        if self._shares.shape[2] == 1:
            return self._streams.routing.binomial(requests[:, :, None], self._shares)
        rest = np.clip(1.0 - self._shares.sum(axis=2, keepdims=True), 0.0, 1.0)
        split = self._streams.routing.multinomial(requests, np.concatenate([self._shares, rest], axis=2))
        return split[:, :, :-1]

    def _harm_requests(self, new: np.ndarray, start: float, end: float) -> np.ndarray:
        if not self._defect_active:
            return np.zeros_like(new)
        self._find_onset(new, start, end)
        return self._streams.harm.binomial(new, self._harm[None, :, None])

    def _find_onset(self, new: np.ndarray, start: float, end: float) -> None:
        reachable = new[:, self._harm > 0, :].sum(axis=(1, 2))
        first_time = np.isnan(self.onset) & (reachable > 0)
        if first_time.any():
            # The first of n uniform arrival times: start + span * Beta(1, n).
            first = -np.expm1(np.log(self._streams.harm.random(int(first_time.sum()))) / reachable[first_time])
            self.onset[first_time] = start + (end - start) * first

    def _count(self, requests: np.ndarray, new: np.ndarray, harmed: np.ndarray) -> None:
        self.requests += requests
        self.new_requests += new
        self.harmed_requests += harmed
        old, clean_new = requests - new, new - harmed
        served = np.stack([old, clean_new, old, clean_new], axis=1)
        rates = np.array([self._error_rate, self._error_rate, self._slow_rate, self._slow_rate])
        drawn = self._streams.harm.binomial(served, rates)
        self.counters[:, STABLE, REQUESTS] += old
        self.counters[:, CANARY, REQUESTS] += new
        self.counters[:, :, ERRORS] += drawn[:, :2]
        self.counters[:, :, SLOW] += drawn[:, 2:]
        if self._kind == "errors":
            self.counters[:, CANARY, ERRORS] += harmed
        elif self._kind == "latency":
            self.counters[:, CANARY, SLOW] += harmed
