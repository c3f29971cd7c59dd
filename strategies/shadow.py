"""Shadow, then canary: mirrored traffic is judged first (users served by stable), then a canary."""

from __future__ import annotations

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6  # the engine's clock resolution: times this close are the same instant


class ShadowThenCanary:
    """A dark launch (Flagger ``mirror``, Argo ``setMirrorRoute``) for ``shadow``, then canary steps.

    During the shadow, ``mirror_share`` of the requests are copied to the new
    version, whose answers are thrown away: its telemetry fills and its
    judges run, but no user is served by it (exposed and harmed users stay
    0). Then the canary: ``steps`` (weights in (0, 1], in order, ``unit``
    ``request`` or ``user``), each held for ``bake``, then the promotion
    (``done``) at ``shadow + len(steps) * bake`` (no steps: promoted right
    after the shadow, as Flagger's mirrored blue-green). The judges (``judge``: the
    one it runs; default every judge of the strategy) run from t = 0 and
    restart from scratch when the first canary step starts serving users.

    A failed judge rolls back at the verdict: during the shadow the mirror is
    simply removed, an instant rollback with nobody harmed (a watcher's
    rollback then is instant too); during the canary the scenario's
    ``[rollback]`` applies. ``check``: how often it decides.
    """

    def __init__(
        self,
        mirror_share: float = 1.0,
        shadow: Duration = 1800.0,
        steps: list[float] = (0.05, 0.25, 0.5),
        bake: Duration = 600.0,
        unit: str = "request",
        check: Duration = 60.0,
        judge: str | None = None,
    ) -> None:
        if isinstance(mirror_share, bool) or not isinstance(mirror_share, (int, float)) or not 0 < mirror_share <= 1:
            raise ValueError(f"mirror_share must be a share in (0, 1], got {mirror_share!r}")
        if not isinstance(steps, (list, tuple)) or len(steps) > 1000:
            raise ValueError(f"steps must be a list of at most 1000 weights, got {steps!r:.60}")
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 < w <= 1.0 for w in steps):
            raise ValueError(f"steps must be weights in (0, 1], got {list(steps)}")
        if unit not in ("request", "user"):
            raise ValueError(f"unit must be 'request' or 'user', got {unit!r}")
        self.shadow, self.bake, self.check = parse_duration(shadow), parse_duration(bake), parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        if judge is not None and not isinstance(judge, str):
            raise ValueError(f"judge must be the name of one of the strategy's judges, got {judge!r}")
        self.mirror = Exposure.of(float(mirror_share), unit="request", mode="mirror")
        self.canary = [Exposure.of(float(weight), unit=unit) for weight in steps]
        self.judge = judge
        self.duration = self.shadow + len(self.canary) * self.bake
        self._serving = False

    @property
    def rollback(self) -> RollbackStyle | None:
        """Instant while only mirrored (nothing to take back); the scenario's once users are served."""
        return None if self._serving else RollbackStyle.instant()

    def decide(self, obs: Observation) -> Decision:
        judges = tuple(obs.judges) if self.judge is None else (self.judge,)
        for name in judges:
            if obs.judge(name).failed:
                where = "in canary" if self._serving else "in shadow"
                return Decision.rollback(f"{name} failed {where}", style=self.rollback, by=name)
        if obs.now + EPSILON < self.shadow:
            wait = min(self.check, self.shadow - obs.now)
            return Decision.set(self.mirror, wait=max(wait, 1e-3), judges=judges)
        if obs.now + EPSILON >= self.duration:
            return Decision.done()
        step = min(int((obs.now + EPSILON - self.shadow) // self.bake), len(self.canary) - 1)  # bake > 0 here
        started, self._serving = not self._serving, True
        wait = min(self.check, self.shadow + (step + 1) * self.bake - obs.now)
        return Decision.set(self.canary[step], wait=max(wait, 1e-3), judges=judges, reset=judges if started else ())
