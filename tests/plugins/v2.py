"""Test plugins for the Engine v2 tests, loaded by path as a user's file would be.

The first few use only the first contract (``Decision.set(weight, wait)``,
``Decision.rollback``, ``Decision.done``, ``obs.now``, ``obs.canary``,
``obs.analysis``), so the same file also runs on the old engine.
"""

from __future__ import annotations

from typing import Any

from sim import Decision, Observation


class Watch:
    """Serve ``weight`` and look at the analysis every ``check`` seconds; roll back once it has failed."""

    def __init__(self, weight: float = 0.5, check: float = 60.0) -> None:
        self.weight, self.check = weight, check

    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        return Decision.set(self.weight, wait=self.check)


class Seen:
    """Serve ``weight``, deciding after each of ``waits`` (seconds); at ``at`` report what it has seen.

    What it has seen at ``at`` (``what``: ``canary``, every new-version request
    received so far, summed over ``obs.canary``; ``analysis``, the analysis
    measurements; ``telemetry``, ``obs.telemetry("new", "1m").requests``) comes
    out as the rollout duration: it waits ``1 + value`` seconds and is done,
    so ``rollout_duration_s == at + 1 + value``.
    """

    def __init__(self, waits: list[float], at: float = 120.0, what: str = "canary", weight: float = 0.5) -> None:
        self.waits, self.at, self.what, self.weight = waits, at, what, weight
        self._next = 0
        self._canary = 0
        self._reported = False

    def decide(self, obs: Observation) -> Decision:
        self._canary += obs.canary.requests
        if self._reported:
            return Decision.done()
        if obs.now >= self.at - 1e-9:
            self._reported = True
            if self.what == "canary":
                value = self._canary
            elif self.what == "analysis":
                value = obs.analysis.measurements
            else:
                value = obs.telemetry("new", "1m").requests
            return Decision.set(self.weight, wait=1 + value)
        wait = self.waits[self._next] if self._next < len(self.waits) else self.at - obs.now
        self._next += 1
        return Decision.set(self.weight, wait=wait)


class Popper:
    """Serve each weight of ``steps`` for a minute, popping it from its own list; done when none is left."""

    def __init__(self, steps: list[float]) -> None:
        self.steps = steps

    def decide(self, obs: Observation) -> Decision:
        if not self.steps:
            return Decision.done()
        return Decision.set(self.steps.pop(0), wait=60.0)


class Shares:
    """Serve ``shares`` (a ``{segment: share}`` table) for the whole run."""

    def __init__(self, shares: dict[str, float]) -> None:
        self.shares = shares

    def decide(self, obs: Observation) -> Decision:
        return Decision.set(self.shares, wait="1h")


class _Lenient(Decision):
    """A Decision subclass that declares itself always valid."""

    def problem(self, segments: Any = None) -> str | None:
        return None


class Subclassed:
    """Returns a Decision subclass whose own check lets a share of 1.5 through."""

    def decide(self, obs: Observation) -> Decision:
        from sim import Exposure  # not in the first contract: imported here so the old engine loads this file

        return _Lenient("continue", Exposure.of(1.5), 60.0)


class ValidSubclass:
    """Returns a Decision subclass with a valid exposure."""

    def decide(self, obs: Observation) -> Decision:
        return _Lenient("continue", Decision.set(0.1, wait=60).exposure, 60.0)


class NotADecision:
    """Returns a dict instead of a Decision."""

    def decide(self, obs: Observation) -> Any:
        return {"action": "continue", "weight": 0.1, "wait": 60}


class Tampers:
    """Tries to change its observation."""

    def decide(self, obs: Observation) -> Decision:
        obs.now = 0.0  # type: ignore[misc]
        return Decision.done()


class Gate:
    """Serve ``weight`` for ``bake`` seconds, then pause for the approver; done once approved."""

    def __init__(self, weight: float = 0.2, bake: float = 300.0) -> None:
        self.weight, self.bake = weight, bake
        self._paused = False

    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        if self._paused:
            return Decision.done()
        if obs.now < self.bake:
            return Decision.set(self.weight, wait=min(60.0, self.bake - obs.now))
        self._paused = True
        return Decision.pause("approve")


class Dice:
    """Draws from ``obs.rng`` at t = 0 and reports the draw as its rollout duration: ``1 + 1000 u`` seconds."""

    def __init__(self, weight: float = 0.1) -> None:
        self.weight = weight
        self._rolled = False

    def decide(self, obs: Observation) -> Decision:
        if self._rolled:
            return Decision.done()
        self._rolled = True
        return Decision.set(self.weight, wait=1.0 + 1000.0 * float(obs.rng.random()))
