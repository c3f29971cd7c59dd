"""The strategy plugin contract: what a strategy sees and what it may answer.

A strategy is any class whose instances have one method::

    def decide(self, obs: Observation) -> Decision: ...

The engine builds one instance per run (replication), passing the scenario's
``params`` as keyword arguments, and calls ``decide`` at t = 0 and then each
time the previous decision's ``wait`` has passed. An optional class attribute
``unit`` chooses the exposure unit: ``"request"`` (default; each request goes
to the new version with probability ``weight``) or ``"user"`` (sticky hash
buckets: the first ``weight`` of users, and only they).

Strategies see telemetry and detector verdicts, never ground truth.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Action = Literal["continue", "rollback", "done"]


@dataclass(frozen=True)
class VersionStats:
    """Counts one version served in some span of scraped telemetry."""

    requests: int = 0
    errors: int = 0
    slow: int = 0

    @property
    def error_rate(self) -> float:
        """Errors per request; NaN when there were no requests."""
        return self.errors / self.requests if self.requests else math.nan

    @property
    def slow_rate(self) -> float:
        """Share of requests slower than the latency objective; NaN without requests."""
        return self.slow / self.requests if self.requests else math.nan

    def __add__(self, other: VersionStats) -> VersionStats:
        return VersionStats(self.requests + other.requests, self.errors + other.errors, self.slow + other.slow)


@dataclass(frozen=True)
class AnalysisStatus:
    """The background analysis of the new version, as Argo Rollouts counts it (cumulative)."""

    measurements: int = 0
    failures: int = 0
    inconclusive: int = 0
    failure_limit: int = 0
    enabled: bool = False

    @property
    def failed(self) -> bool:
        """True once failures exceed the failure limit (Argo: ``failed > failureLimit``)."""
        return self.enabled and self.failures > self.failure_limit


@dataclass(frozen=True)
class Observation:
    """What a strategy knows when it decides. Times are seconds since rollout start."""

    now: float
    weight: float
    decisions: int
    analysis: AnalysisStatus
    canary: VersionStats
    stable: VersionStats


@dataclass(frozen=True)
class Decision:
    """A strategy's answer: the weight it wants and when to look again, or rollback, or done."""

    action: Action = "continue"
    weight: float | None = None
    wait: float = 0.0
    reason: str = ""

    @classmethod
    def set(cls, weight: float, wait: float) -> Decision:
        """Serve ``weight`` (0..1) of the traffic or users from the new version; look again in ``wait`` s."""
        return cls("continue", weight, wait)

    @classmethod
    def rollback(cls, reason: str = "") -> Decision:
        """Send all traffic back to the stable version."""
        return cls("rollback", None, 0.0, reason)

    @classmethod
    def done(cls) -> Decision:
        """Serve 100% from the new version and stop deciding."""
        return cls("done", 1.0, 0.0)

    def problem(self) -> str | None:
        """Why this decision cannot be applied, or None."""
        if self.action not in ("continue", "rollback", "done"):
            return f"action must be continue, rollback or done, got {self.action!r}"
        if self.action == "continue":
            if self.weight is not None and not (_is_number(self.weight) and 0.0 <= self.weight <= 1.0):
                return f"weight must be a number between 0 and 1, got {self.weight!r}"
            if not (_is_number(self.wait) and 0 < self.wait < math.inf):
                return f"wait must be a positive number of seconds, got {self.wait!r}"
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


@runtime_checkable
class Strategy(Protocol):
    """Anything with this method is a strategy."""

    def decide(self, obs: Observation) -> Decision: ...
