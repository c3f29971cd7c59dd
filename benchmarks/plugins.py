"""Strategies the benchmarks use (loaded by path, like any user plugin)."""

import math

import numpy as np

from sim import Decision, JudgeData, Observation, Verdicts


class Periodic:
    """Decide every ``every`` seconds at a per-replication random phase (or aligned), holding ``weight``.

    ``ramp``: add this much weight at each decision (up to 1), for ramps in fine steps.
    """

    def __init__(
        self, weight: float = 0.05, every: float = 60.0, phase: bool = False, ramp: float = 0.0, unit: str = "request"
    ) -> None:
        self.weight, self.every, self.phase, self.ramp, self.unit = weight, every, phase, ramp, unit

    def decide(self, obs: Observation) -> Decision:
        wait = self.every
        if obs.decisions == 0 and self.phase:
            wait = float(obs.rng.uniform(1.0, self.every))
        if self.ramp and obs.decisions > 0:
            self.weight = min(1.0, self.weight + self.ramp)
        return Decision.set(self.weight, wait=wait)


class NaiveThreshold:
    """The threshold judge (Argo rule, failure limit 1) written one replication at a time: the naive
    baseline of benchmarks/bench_judges.py."""

    interval = 60.0

    def __init__(self, max_error_rate: float = 0.01, failure_limit: int = 1, min_requests: int = 100) -> None:
        self.max_error_rate, self.failure_limit, self.min_requests = max_error_rate, failure_limit, min_requests
        self._failures: list[int] = []
        self._measurements: list[int] = []

    def measure(self, data: JudgeData) -> Verdicts:
        replications = len(data.due)
        if not self._failures:
            self._failures, self._measurements = [0] * replications, [0] * replications
        verdict, last, statistic = [], [], []
        for r in range(replications):
            if data.restarted[r]:
                self._failures[r] = self._measurements[r] = 0
            requests, errors = int(data.new.requests[r]), int(data.new.errors[r])
            rate = errors / requests if requests else math.nan
            outcome = 0
            if data.due[r] and not data.missing[r] and requests >= self.min_requests:
                self._measurements[r] += 1
                failed = rate > self.max_error_rate
                self._failures[r] += failed
                outcome = 2 if failed else 1
            verdict.append(2 if self._failures[r] > self.failure_limit else 0)
            last.append(outcome)
            statistic.append(rate)
        return Verdicts(
            verdict=np.array(verdict),
            statistic=np.array(statistic, dtype=float),
            last=np.array(last),
            measurements=np.array(self._measurements),
            failures=np.array(self._failures),
        )
