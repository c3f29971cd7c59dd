"""A/B by segment: a header or cookie match sends one segment to the new version, judged, then promoted."""

from __future__ import annotations

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6  # the engine's clock resolution: times this close are the same instant


class SegmentAB:
    """Flagger A/B testing (``match`` + ``iterations``), Argo ``setHeaderRoute``: one segment, then everyone.

    Every user of ``segment`` (the users whose header or cookie matches) is
    served by the new version for ``duration`` (Flagger's iterations x
    interval: 10 x 1m by default), and nobody else; its judges (``judge``:
    the one it runs; default every judge of the strategy) run from t = 0.
    After ``duration`` without a failed judge the release is promoted to
    everyone (``done`` at ``duration``). A failed judge rolls back at the
    verdict; removing a route is instant (the stable version serves
    everyone), so its rollbacks are instant, a watcher's included.
    ``check``: how often it decides.
    """

    unit = "user"  # a header or cookie match: the same users throughout
    rollback = RollbackStyle.instant()

    def __init__(
        self,
        segment: str | None = None,
        duration: Duration = 600.0,
        check: Duration = 60.0,
        judge: str | None = None,
    ) -> None:
        if not isinstance(segment, str) or not segment or segment == "*":
            raise ValueError(f"segment must name a segment of the scenario (who the match sends), got {segment!r}")
        self.segment, self.duration, self.check = segment, parse_duration(duration), parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        if judge is not None and not isinstance(judge, str):
            raise ValueError(f"judge must be the name of one of the strategy's judges, got {judge!r}")
        self.judge = judge
        self.exposure = Exposure.of({segment: 1.0})

    def decide(self, obs: Observation) -> Decision:
        judges = tuple(obs.judges) if self.judge is None else (self.judge,)
        for name in judges:
            if obs.judge(name).failed:
                return Decision.rollback(f"{name} failed", style=self.rollback, by=name)
        if obs.now + EPSILON >= self.duration:
            return Decision.done()
        wait = min(self.check, self.duration - obs.now)
        return Decision.set(self.exposure, wait=max(wait, 1e-3), judges=judges)
