"""Blue-green: the new stack is previewed with test traffic, then all traffic switches at once."""

from __future__ import annotations

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration


class BlueGreen:
    """Argo Rollouts blue-green: preview with a pre-promotion judge, switch, post-promotion judge.

    ``preview``: how long the preview stack is judged on test traffic
    (``preview_rate`` requests per second); then every user is switched to
    it, and ``post`` is the post-promotion analysis. A failed judge switches
    back at once (the old stack is still up: an instant rollback). ``judge``
    names the judge to run (default: every judge of the strategy).

    ``scale_down_delay`` (Argo's ``scaleDownDelaySeconds``): when set, the old
    stack is scaled down that long after the switch; as in Argo's code the
    post-promotion analysis is cancelled then (the release is done), and a
    later rollback (a watcher's alarm) is a redeploy of ``redeploy``. When
    not set, the old stack is kept until the post-promotion analysis ends.
    """

    rollback = RollbackStyle.instant()

    def __init__(
        self,
        preview: Duration = 600.0,
        preview_rate: float = 5.0,
        post: Duration = 600.0,
        check: Duration = 60.0,
        judge: str | None = None,
        scale_down_delay: Duration | None = None,
        redeploy: Duration = 300.0,
    ) -> None:
        self.scale_down_delay = None if scale_down_delay is None else parse_duration(scale_down_delay)
        self.redeploy = parse_duration(redeploy)
        if not (isinstance(preview_rate, (int, float)) and 0 < preview_rate <= 1e6):
            raise ValueError(f"preview_rate must be between 0 and 1e6 requests per second, got {preview_rate!r}")
        self.preview, self.post, self.check = parse_duration(preview), parse_duration(post), parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        self.preview_rate, self.judge = float(preview_rate), judge
        self._switched_at: float | None = None

    def decide(self, obs: Observation) -> Decision:
        judges = (self.judge,) if self.judge else tuple(obs.judges)  # a name it lacks is an error
        failed = [name for name in judges if obs.judge(name).failed]
        if failed:
            return Decision.rollback(f"{failed[0]} failed", style=self.rollback, by=failed[0])
        if obs.now < self.preview:
            wait = max(min(self.check, self.preview - obs.now), 1e-3)
            return Decision.set(Exposure.preview(self.preview_rate), wait=wait, judges=judges)
        if self._switched_at is None:
            self._switched_at = obs.now
            return Decision.set(Exposure.of(1.0), wait=self._wait(0.0), judges=judges, reset=judges)
        since = obs.now - self._switched_at
        if self.scale_down_delay is not None and since >= self.scale_down_delay:
            self.rollback = RollbackStyle.redeploy(self.redeploy)  # the old stack is gone
            return Decision.done()  # Argo cancels the post-promotion analysis at scale-down
        if since < self.post:
            return Decision.set(Exposure.of(1.0), wait=self._wait(since))
        return Decision.done()

    def _wait(self, since: float) -> float:
        """Until the next check, the end of the post-promotion analysis or the scale-down, whichever first."""
        left = self.post - since
        if self.scale_down_delay is not None:
            left = min(left, self.scale_down_delay - since)
        return max(min(self.check, left), 1e-3)
