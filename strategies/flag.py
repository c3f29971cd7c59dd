"""Feature-flag percentage rollout: sticky user buckets on a schedule, with a kill switch."""

from __future__ import annotations

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6  # the engine's clock resolution: times this close are the same instant
DEFAULT_SCHEDULE = (("0s", 0.01), ("1h", 0.1), ("4h", 0.5), ("1d", 1.0))


class FlagRollout:
    """A flag's percentage rollout on a schedule (LaunchDarkly progressive rollouts); any alarm kills it.

    ``schedule``: ``[[time, share], ...]``, times from the rollout start in
    increasing order, shares in [0, 1] that never go down. From each time on,
    that share of every segment's users gets the new version; users are
    sticky (hash buckets): the same users throughout, and a larger share
    adds users to them. Before the first time, nobody. The release is
    promoted (``done``) at the first entry whose share is 1; a schedule that
    never reaches 1 holds its last share (the run stays in progress).

    Kill switch: when one of its judges fails (``judge``: the one it runs;
    default every judge of the strategy, all running from t = 0 without
    restarts) it rolls back at the verdict; at a watcher's alarm (which wakes it) it
    rolls back at once. Either way the flag is
    turned off: an instant rollback ("kill switch in seconds"), also for a
    rollback a watcher's person starts.
    """

    unit = "user"
    rollback = RollbackStyle.instant()

    def __init__(
        self,
        schedule: list[list[str | float]] = DEFAULT_SCHEDULE,
        check: Duration = 60.0,
        judge: str | None = None,
    ) -> None:
        if not isinstance(schedule, (list, tuple)) or not schedule or len(schedule) > 1000:
            raise ValueError(f"schedule must be a list of 1 to 1000 [time, share] pairs, got {schedule!r:.60}")
        self.schedule: list[tuple[float, float]] = []
        for index, entry in enumerate(schedule):
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise ValueError(f"schedule[{index}] must be a [time, share] pair, got {entry!r}")
            try:
                time = parse_duration(entry[0])
            except ValueError as error:
                raise ValueError(f"schedule[{index}] time: {error}") from None
            share = entry[1]
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
                raise ValueError(f"schedule[{index}] share must be a number between 0 and 1, got {share!r}")
            if self.schedule and time <= self.schedule[-1][0]:
                raise ValueError(f"schedule[{index}] time must come after the previous entry's, got {entry[0]!r}")
            if self.schedule and share < self.schedule[-1][1]:
                raise ValueError(f"schedule[{index}] share must not be below the previous entry's, got {share!r}")
            self.schedule.append((time, float(share)))
        self.check = parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        if judge is not None and not isinstance(judge, str):
            raise ValueError(f"judge must be the name of one of the strategy's judges, got {judge!r}")
        self.judge = judge
        self.duration = next((time for time, share in self.schedule if share >= 1.0), None)

    def decide(self, obs: Observation) -> Decision:
        judges = tuple(obs.judges) if self.judge is None else (self.judge,)
        for name in judges:
            if obs.judge(name).failed:
                return Decision.rollback("kill switch", style=self.rollback, by=name)
        if obs.alerts:
            watcher = obs.alerts[0].watcher
            return Decision.rollback("kill switch", style=self.rollback, by=watcher)
        if self.duration is not None and obs.now + EPSILON >= self.duration:
            return Decision.done()
        share, wait = 0.0, self.check
        for time, entry_share in self.schedule:
            if time <= obs.now + EPSILON:
                share = entry_share
            else:
                wait = min(wait, time - obs.now)
                break
        return Decision.set(Exposure.of(share), wait=max(wait, 1e-3), judges=judges)
