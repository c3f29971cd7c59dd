"""Canary: a list of weights, each baked for a while, with the analysis consulted at every check."""

from __future__ import annotations

from sim import Decision, Observation, parse_duration


class Canary:
    """Argo Rollouts-style steps (``setWeight`` + ``pause``) with a background analysis.

    ``steps``: weights in (0, 1], in order; ``bake``: time at each step;
    ``check``: how often the analysis is consulted during a bake;
    ``unit``: ``"request"`` (service mesh) or ``"user"`` (sticky flag buckets).
    After the last step the release is promoted to 100%.
    """

    def __init__(
        self,
        steps: list[float] = (0.05, 0.25, 0.5),
        bake: str | float = "10m",
        check: str | float = "1m",
        unit: str = "request",
    ) -> None:
        if not isinstance(steps, (list, tuple)) or not steps:
            raise ValueError(f"steps must be a non-empty list of weights, got {steps!r}")
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 < w <= 1.0 for w in steps):
            raise ValueError(f"steps must be weights in (0, 1], got {list(steps)}")
        if unit not in ("request", "user"):
            raise ValueError(f"unit must be 'request' or 'user', got {unit!r}")
        self.steps = list(steps)
        self.bake = _duration("bake", bake)
        self.check = _duration("check", check)
        if self.check <= 0:
            raise ValueError("check must be a positive duration")
        self.unit = unit
        self._step = 0
        self._step_started = 0.0

    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        if obs.decisions > 0 and obs.now - self._step_started >= self.bake:
            self._step += 1
            self._step_started = obs.now
        if self._step >= len(self.steps):
            return Decision.done()
        remaining = self.bake - (obs.now - self._step_started)
        return Decision.set(self.steps[self._step], wait=max(min(self.check, remaining), 1e-9))


def _duration(name: str, value: str | float) -> float:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
