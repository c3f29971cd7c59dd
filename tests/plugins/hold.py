"""Test plugins: loaded by path, exactly as a workshop attendee's file would be."""

from sim import Decision, Observation


class Hold:
    """Serve a fixed weight for the whole run and never finish."""

    def __init__(self, weight: float = 0.1, unit: str = "request") -> None:
        self.weight = weight
        self.unit = unit

    def decide(self, obs: Observation) -> Decision:
        return Decision.set(self.weight, wait=3600.0)


class Steps:
    """Weights at given times (seconds), then done at ``done_at``."""

    def __init__(self, schedule: list[list[float]], done_at: float | None = None, unit: str = "request") -> None:
        self.schedule = sorted(schedule)
        self.done_at = done_at
        self.unit = unit

    def decide(self, obs: Observation) -> Decision:
        if self.done_at is not None and obs.now >= self.done_at:
            return Decision.done()
        current = [w for t, w in self.schedule if t <= obs.now][-1]
        later = [t for t, _ in self.schedule if t > obs.now] + ([self.done_at] if self.done_at else [])
        return Decision.set(current, wait=(min(later) - obs.now) if later else 3600.0)


class Explodes:
    """A broken plugin: raises on its first decision."""

    def decide(self, obs: Observation) -> Decision:
        raise RuntimeError("boom")


class BadWeight:
    def decide(self, obs: Observation) -> Decision:
        return Decision.set(1.5, wait=60.0)


class Rollback:
    """Serve ``weight``; at ``at`` seconds roll back if the analysis has failed, else finish."""

    def __init__(self, weight: float, at: float) -> None:
        self.weight = weight
        self.at = at

    def decide(self, obs: Observation) -> Decision:
        if obs.now < self.at:
            return Decision.set(self.weight, wait=self.at - obs.now)
        return Decision.rollback("analysis") if obs.analysis.failed else Decision.done()
