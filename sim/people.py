"""People: response times of the approver at a gate, the on-call engineer and support.

Each replication has one random stream per actor, derived from the block's
seed and the replication's index alone, so the k-th answer of an actor in a
replication is the same for every strategy (common random numbers), however
many draws other actors or other replications made.
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario import ResponseTime

ACTORS = ("approver", "on_call", "support", "strategy")
"""Stream names; ``strategy`` is the ``rng`` a strategy sees (not a person, but drawn the same way)."""


class People:
    """Per replication and actor streams, created when first needed."""

    def __init__(self, seed: np.random.SeedSequence, start_hour: float) -> None:
        self._seed = seed
        self._start_hour = start_hour
        self._streams: dict[tuple[str, int], np.random.Generator] = {}

    def stream(self, actor: str, replication: int) -> np.random.Generator:
        key = (actor, replication)
        if key not in self._streams:
            child = np.random.SeedSequence(
                self._seed.entropy, spawn_key=(*self._seed.spawn_key, 1000 + ACTORS.index(actor), replication)
            )
            self._streams[key] = np.random.default_rng(child)
        return self._streams[key]

    def respond(self, actor: str, replication: int, config: ResponseTime, now: float) -> float:
        """Seconds until ``actor`` acts on something raised at ``now`` (rollout-start seconds)."""
        hour = (self._start_hour + now / 3600.0) % 24.0
        start, end = config.working_hours
        working = start <= hour < end if start <= end else (hour >= start or hour < end)
        mean = config.mean if working or config.night_mean is None else config.night_mean
        if config.distribution == "fixed" or mean == 0:
            return float(mean)
        rng = self.stream(actor, replication)
        if config.distribution == "exponential":
            return float(rng.exponential(mean))
        sigma = config.sigma
        return float(rng.lognormal(math.log(mean) - sigma * sigma / 2.0, sigma))
