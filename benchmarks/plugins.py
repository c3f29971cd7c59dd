"""Strategies the benchmarks use (loaded by path, like any user plugin)."""

from sim import Decision, Observation


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
