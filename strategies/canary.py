"""Canary: a list of weights, each baked for a while, judged all along."""

from __future__ import annotations

import functools
import math

from sim import Decision, Duration, Exposure, Observation, parse_duration


@functools.lru_cache(maxsize=256)
def _exposures(steps: tuple[float, ...], unit: str, instances: int, baseline: bool) -> tuple[Exposure, ...]:
    """Every replication builds its own Canary from the same params: their exposures are built once
    (they are immutable, so sharing them is safe)."""
    return tuple(Exposure((("*", float(weight)),), unit, instances, "serve", baseline) for weight in steps)


# Every replication builds its own Canary: the two checks below are the costly part, written for speed.


def _weights(steps: list | tuple) -> bool:
    """Whether every step is a weight in (0, 1] (a number, not a bool)."""
    for weight in steps:
        if not (isinstance(weight, (int, float)) and not isinstance(weight, bool) and 0.0 < weight <= 1.0):
            return False
    return True


def _duration(value: Duration) -> float:
    """``parse_duration(value)``; a finite float of seconds (what the engine passes) is one already."""
    return value if type(value) is float and 0.0 <= value < math.inf else parse_duration(value)


class Canary:
    """Argo Rollouts-style steps (``setWeight`` + ``pause``) with a background judge.

    ``steps``: weights in (0, 1], in order; ``bake``: time at each step;
    ``check``: how often the strategy looks at its judge; ``unit``:
    ``"request"`` (service mesh), ``"user"`` (sticky flag buckets) or
    ``"instance"`` (with ``instances``); ``judge``: the name of the
    strategy's judge it acts on (default ``analysis``, or its only judge; every judge of the
    strategy runs from the start until the release is promoted);
    ``baseline``: also send the same share to a fresh copy of stable, for a
    judge that compares against it (Kayenta-style; steps must be <= 0.5).

    ``on_failure``: ``"rollback"`` (Argo) keeps stepping while single
    measurements fail and rolls back when the judge fails; ``"hold"``
    (Flagger) also holds the weight while the latest measurement failed, so a
    failing canary never grows. After the last step the release is promoted.
    """

    def __init__(
        self,
        steps: list[float] = (0.05, 0.25, 0.5),
        bake: Duration = 600.0,
        check: Duration = 60.0,
        unit: str = "request",
        instances: int = 0,
        on_failure: str = "rollback",
        judge: str | None = None,
        baseline: bool = False,
    ) -> None:
        if not isinstance(steps, (list, tuple)) or not steps or len(steps) > 1000:
            shown = f"{len(steps)} steps" if isinstance(steps, (list, tuple)) else repr(steps)[:60]
            raise ValueError(f"steps must be a list of 1 to 1000 weights, got {shown}")
        if not _weights(steps):
            raise ValueError(f"steps must be weights in (0, 1], got {list(steps)}")
        if unit not in ("request", "user", "instance"):
            raise ValueError(f"unit must be 'request', 'user' or 'instance', got {unit!r}")
        if on_failure not in ("rollback", "hold"):
            raise ValueError(f"on_failure must be 'rollback' or 'hold', got {on_failure!r}")
        self.steps, self.bake, self.check = list(steps), _duration(bake), _duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        self.unit, self.instances, self.on_failure = unit, instances, on_failure
        self.judge = judge or "analysis"
        self._named = judge is not None
        if unit == "instance" and not (isinstance(instances, int) and 1 <= instances <= 100_000):
            raise ValueError(f"unit 'instance' needs instances between 1 and 100000, got {instances!r}")
        if not isinstance(baseline, bool) or (baseline and max(self.steps) > 0.5):
            raise ValueError("baseline must be true or false, and with a baseline arm every step must be <= 0.5")
        self._exposures = _exposures(tuple(self.steps), unit, instances if unit == "instance" else 0, baseline)
        self._step = 0
        self._step_started = 0.0
        self._measured = 0

    def decide(self, obs: Observation) -> Decision:
        if obs.decisions == 0 and self.judge not in obs.judges and (self._named or obs.judges):
            if not self._named and len(obs.judges) == 1:
                self.judge = next(iter(obs.judges))  # its only judge
            else:
                names = ", ".join(obs.judges) or "none"
                raise ValueError(f"judge {self.judge!r} is not one of this strategy's judges ({names}): name one")
        judge = obs.judge(self.judge)
        if judge.failed:
            return Decision.rollback(f"{self.judge} failed")
        if self.on_failure == "hold" and judge.last == "failed" and judge.measurements > self._measured:
            self._step_started = obs.now  # Flagger: a failed check halts advancement
        self._measured = judge.measurements
        if obs.decisions > 0 and obs.now - self._step_started >= self.bake:
            self._step += 1
            self._step_started = obs.now
        if self._step >= len(self.steps):
            return Decision.done()
        remaining = self.bake - (obs.now - self._step_started)
        return Decision.set(self._exposures[self._step], wait=max(min(self.check, remaining), 1e-3))
