"""Test plugins for the v2 engine: exposure shapes, rollbacks, pauses and a recording judge.

Loaded by path (``tests.shapes.shape(name)``), exactly as a user's file would
be; they import only ``sim``'s public API (and the built-in canary, to wrap it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim import Decision, Duration, Exposure, JudgeData, Observation, RollbackStyle, Verdicts
from strategies.canary import Canary

FOREVER = 1e7
"""A wait longer than any test's horizon."""


class Serve:
    """One exposure for the whole run: ``shares`` (a share or ``{segment: share}``) and Exposure options.

    ``preview_rate`` set: ``Exposure.preview(preview_rate)`` instead.
    """

    def __init__(
        self,
        shares: float | Mapping[str, float] = 0.1,
        unit: str = "request",
        instances: int = 0,
        mode: str = "serve",
        baseline: bool = False,
        preview_rate: float | None = None,
    ) -> None:
        self.unit = unit
        if preview_rate is not None:
            self.exposure = Exposure.preview(rate=preview_rate)
        else:
            self.exposure = Exposure.of(shares, unit=unit, instances=instances, mode=mode, baseline=baseline)

    def decide(self, obs: Observation) -> Decision:
        return Decision.set(self.exposure, wait=FOREVER)


def rollback_style(kind: str | None, duration: float = 0.0, steps: list[float] = (), wait: float = 60.0):
    """A RollbackStyle by name (None: the scenario's default)."""
    if kind is None:
        return None
    if kind == "instant":
        return RollbackStyle.instant()
    if kind == "redeploy":
        return RollbackStyle.redeploy(duration)
    return RollbackStyle.gradual(steps, wait=wait)


class ServeThenRollback:
    """Serve ``weight`` (by ``unit``) until ``at`` seconds, then roll back with ``style`` (None: the scenario's)."""

    def __init__(
        self,
        weight: float,
        at: Duration,
        style: str | None = None,
        duration: Duration = 0.0,
        steps: list[float] = (),
        wait: Duration = 60.0,
        unit: str = "request",
    ) -> None:
        self.weight, self.at, self.unit = weight, at, unit
        self.style = rollback_style(style, duration, list(steps), wait)

    def decide(self, obs: Observation) -> Decision:
        if obs.now < self.at:
            return Decision.set(self.weight, wait=self.at - obs.now)
        return Decision.rollback("test rollback", style=self.style)


class Pauser:
    """Serve ``weight``, then pause ``pauses`` times at a gate, ``gap`` seconds after each answer.

    ``paused_at`` and ``resumed_at`` record when each pause started and was answered.
    """

    def __init__(self, weight: float = 0.1, pauses: int = 3, gap: Duration = 1.0, unit: str = "request") -> None:
        self.weight, self.pauses, self.gap, self.unit = weight, pauses, max(gap, 1e-3), unit
        self.paused_at: list[float] = []
        self.resumed_at: list[float] = []
        self._gate = False  # the last decision was a pause
        self._ready = False  # the gap since the last answer (or the start) is over

    @property
    def responses(self) -> list[float]:
        return [end - start for start, end in zip(self.paused_at, self.resumed_at, strict=False)]

    def decide(self, obs: Observation) -> Decision:
        if self._gate:
            self._gate = False
            self.resumed_at.append(obs.now)
        if not self._ready:
            self._ready = True
            return Decision.set(self.weight, wait=self.gap)
        if len(self.paused_at) >= self.pauses:
            return Decision.done()
        self._gate, self._ready = True, False
        self.paused_at.append(obs.now)
        return Decision.pause("gate")


class Draws:
    """Serve ``weight``, deciding every minute; records a draw from ``obs.rng`` at each decision."""

    def __init__(self, weight: float = 0.1) -> None:
        self.weight = weight
        self.draws: list[float] = []

    def decide(self, obs: Observation) -> Decision:
        self.draws.append(float(obs.rng.random()))
        return Decision.set(self.weight, wait=60.0)


class RecordingCanary(Canary):
    """The built-in canary, recording what it saw and decided: ``(now, judge view, decision)``."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.trace: list[tuple[float, Any, Decision]] = []

    def decide(self, obs: Observation) -> Decision:
        decision = super().decide(obs)
        view = obs.judges.get(self.judge)
        self.trace.append((obs.now, view, decision))
        return decision


class Recorder:
    """A judge that never concludes and records every call: ``(now, due, missing, new requests)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []

    def measure(self, data: JudgeData) -> Verdicts:
        self.calls.append((data.now, data.due.copy(), data.missing.copy(), data.new.requests.copy()))
        zeros = np.zeros(len(data.due), dtype=np.int64)
        return Verdicts(
            verdict=zeros.copy(),
            statistic=np.full(len(data.due), np.nan),
            last=zeros.copy(),
            measurements=zeros.copy(),
            failures=zeros.copy(),
        )
