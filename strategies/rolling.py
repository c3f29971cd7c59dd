"""Rolling update: old pods are replaced by new ones a batch at a time (Kubernetes, Argo Rollouts' basic canary)."""

from __future__ import annotations

import math

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6  # the engine's clock resolution: times this close are the same instant


def _pods(name: str, value: object, replicas: int, round_up: bool) -> int:
    """A pod count from an int or a Kubernetes percentage (``"25%"``: surge rounds up, unavailable down)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name} must be an integer >= 0 or a percentage like '25%', got {value!r}")
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            percent = math.nan
        if 0.0 <= percent <= 100.0:
            pods = replicas * percent / 100.0
            return math.ceil(pods - 1e-9) if round_up else math.floor(pods + 1e-9)
    raise ValueError(f"{name} must be an integer >= 0 or a percentage like '25%', got {value!r}")


class RollingUpdate:
    """Kubernetes rolling update by pods: ``replicas`` pods, ``max_surge`` extra, ``max_unavailable`` missing.

    ``max_surge`` and ``max_unavailable`` are pod counts or percentages of
    ``replicas`` (``"25%"``; surge rounds up, unavailable rounds down, as in
    Kubernetes; they may not both be 0). The controller keeps at most
    ``replicas + surge`` pods and at least ``replicas - unavailable`` ready
    ones, so ``surge + unavailable`` new pods start at a time; each becomes
    ready after ``ready``. The new version's traffic share is its ready pods
    over ``replicas``: k/n, whole pods only (unit ``instance`` with ``instances = replicas``; the capacity missing
    while old pods are down is not modelled: stable serves the rest):
    after j ready periods, k = min(n, j * (surge + unavailable)). Nothing is
    served by it before the first batch is ready; it is done (100%) at
    ``ceil(n / (surge + unavailable)) * ready``. The defaults (10 replicas,
    25%/25%: 3 + 2 pods a batch, ready "30s") give 0.5 at 30 s and 1.0 at
    60 s.

    It rolls back at once when one of its judges fails (``judge``: the one
    it runs; default every judge of the strategy, all running from t = 0) or
    at a watcher's alarm (which wakes it). The rollback is a rolling update back to the old pods, as in
    Kubernetes and Argo's basic canary: a redeploy that takes as long as the
    rollout had taken (its time at the rollback; for a watcher's rollback
    started by a person, its time at its latest decision, the whole rollout
    once done), or ``rollback`` when given.
    """

    def __init__(
        self,
        replicas: int = 10,
        max_surge: int | str = "25%",
        max_unavailable: int | str = "25%",
        ready: Duration = 30.0,
        check: Duration = 60.0,
        judge: str | None = None,
        rollback: Duration | None = None,
    ) -> None:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 100_000:
            raise ValueError(f"replicas must be an integer from 1 to 100000, got {replicas!r}")
        surge = _pods("max_surge", max_surge, replicas, round_up=True)
        unavailable = _pods("max_unavailable", max_unavailable, replicas, round_up=False)
        if surge + unavailable == 0:
            raise ValueError("max_surge and max_unavailable may not both be 0 (no pod could ever be replaced)")
        self.ready, self.check = parse_duration(ready), parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        if judge is not None and not isinstance(judge, str):
            raise ValueError(f"judge must be the name of one of the strategy's judges, got {judge!r}")
        self._fixed_rollback = None if rollback is None else parse_duration(rollback)
        self.replicas, self.surge, self.unavailable, self.judge = replicas, surge, unavailable, judge
        self.batch = min(replicas, surge + unavailable)
        self.batches = math.ceil(replicas / self.batch)
        self._elapsed = 0.0  # how long the rollout has taken, as of its latest decision

    @property
    def rollback(self) -> RollbackStyle:
        """A rolling update back: a redeploy as long as the rollout so far (or ``rollback``)."""
        duration = self._elapsed if self._fixed_rollback is None else self._fixed_rollback
        return RollbackStyle.redeploy(duration)

    def share(self, batches_ready: int) -> float:
        """The traffic share after ``batches_ready`` batches are ready: ready new pods over replicas."""
        return min(self.replicas, batches_ready * self.batch) / self.replicas

    def decide(self, obs: Observation) -> Decision:
        self._elapsed = obs.now
        judges = tuple(obs.judges) if self.judge is None else (self.judge,)
        for name in judges:
            if obs.judge(name).failed:
                return Decision.rollback(f"{name} failed", style=self.rollback, by=name)
        if obs.alerts:
            watcher = obs.alerts[0].watcher
            return Decision.rollback(f"{watcher} alarm", style=self.rollback, by=watcher)
        ready = math.inf if self.ready <= 0 else math.floor((obs.now + EPSILON) / self.ready)
        if ready >= self.batches:
            return Decision.done()
        exposure = Exposure.of(self.share(ready), unit="instance", instances=self.replicas)
        wait = min(self.check, (ready + 1) * self.ready - obs.now)
        return Decision.set(exposure, wait=max(wait, 1e-3), judges=judges)
