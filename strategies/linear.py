"""AWS-style traffic shifting on a fixed schedule: linear, exponential, two-step canary; alarms roll back.

AWS CodeDeploy (Lambda and ECS) shifts traffic linearly or in two steps;
AWS AppConfig grows a deployment linearly or exponentially and then bakes.
Neither analyses a canary: both watch CloudWatch alarms and roll back when
one fires. Here that is a failed judge of the strategy, if it has any, or a
watcher's alarm (``obs.alerts``: the service alert, user reports). Both wake
the strategy at once, so it rolls back at the verdict or the alarm, without
waiting for the on-call person the alarm also calls.
"""

from __future__ import annotations

import math

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6
"""The engine rounds event times to a microsecond."""
LONGEST_WAIT = 365 * 86400.0
"""The longest wait a decision may ask for (the longest horizon)."""


def _positive(name: str, value: float) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive duration, got {value!r}")
    return seconds


class _Schedule:
    """Shares on a fixed schedule: share k from ``k x every``; the release is done ``bake`` after the last.

    A failed judge or any watcher's alarm rolls back at once, also during the
    final bake (every judge of the strategy runs from t = 0 to the end). The
    rollback is ``instant`` (traffic shifted back, the previous configuration
    restored), whatever the scenario's ``[rollback]``.
    """

    rollback = RollbackStyle.instant()

    def __init__(self, shares: list[float], every: float, bake: float, unit: str, every_name: str = "every") -> None:
        if unit not in ("request", "user"):
            raise ValueError(f"unit must be 'request' or 'user', got {unit!r}")
        self.shares, self.unit = shares, unit
        self.every = _positive(every_name, every)
        self.bake = parse_duration(bake)
        self.done_at = (len(shares) - 1) * self.every + self.bake

    def decide(self, obs: Observation) -> Decision:
        for name, view in obs.judges.items():
            if view.failed:
                return Decision.rollback(f"{name} failed", by=name)
        if obs.alerts:
            alert = obs.alerts[0]
            return Decision.rollback(f"{alert.watcher} alarm at {alert.time:g} s", by=alert.watcher)
        if obs.now >= self.done_at - EPSILON:
            return Decision.done()
        last = len(self.shares) - 1
        step = min(int((obs.now + EPSILON) // self.every), last)
        following = (step + 1) * self.every if step < last else self.done_at
        return Decision.set(Exposure.of(self.shares[step]), wait=min(max(following - obs.now, 1e-3), LONGEST_WAIT))


class Linear(_Schedule):
    """Equal steps: ``step``, ``2 x step``, ... up to 100%, one every ``every``, then a final ``bake``.

    Share k (k = 1, 2, ..., n = ceil(1 / step)) is served from ``(k - 1) x
    every`` (CodeDeploy shifts "at the start of each increment"); 100% from
    ``(n - 1) x every``; the release is done ``bake`` later (AppConfig's
    ``FinalBakeTimeInMinutes``: alarms are still watched after 100%, and one
    during the bake rolls back). ``step = 0.1``, ``every = "1m"``: 10%, 20%,
    ..., 100% at 0, 1, ..., 9 min, done at 9 min plus the bake
    (CodeDeploy's ``Linear10PercentEvery1Minute``). ``step = 1`` with a
    bake is AppConfig's ``AllAtOnce``. AppConfig's documented timeline
    starts at 0% and reaches each step one ``every`` later than here.

    ``unit``: ``request`` (Lambda and ECS traffic weights) or ``user`` (sticky, like
    AppConfig's entity-based gradual deployment).
    """

    def __init__(
        self,
        step: float = 0.1,
        every: Duration = 60.0,
        bake: Duration = 0.0,
        unit: str = "request",
    ) -> None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
            raise ValueError(f"step must be a share in (0, 1], got {step!r}")
        count = math.ceil(1.0 / step - 1e-9)
        shares = [round(min(k * step, 1.0), 12) for k in range(1, count + 1)]
        shares[-1] = 1.0
        super().__init__(shares, every, bake, unit)


class Exponential(_Schedule):
    """AppConfig's ``EXPONENTIAL`` growth: ``G x 2^N`` percent of the traffic at step N, then 100%, then a bake.

    ``growth_factor`` G in percent (1 to 100): step N = 0, 1, 2, ... serves
    ``G x 2^N`` percent from ``N x every`` until that reaches 100, which is
    the last step; the release is done ``bake`` after it. G = 2: 2%, 4%, 8%,
    16%, 32%, 64%, 100% (AppConfig's documentation example); G = 10: 10%,
    20%, 40%, 80%, 100%, which with ``every = "4m"`` and ``bake = "10m"`` is
    AppConfig's ``Canary10Percent20Minutes``. See ``Linear`` for ``unit``.
    """

    def __init__(
        self,
        growth_factor: float = 2.0,
        every: Duration = 60.0,
        bake: Duration = 0.0,
        unit: str = "request",
    ) -> None:
        valid = isinstance(growth_factor, (int, float)) and not isinstance(growth_factor, bool)
        if not valid or not 1 <= growth_factor <= 100:
            raise ValueError(f"growth_factor must be a percentage from 1 to 100, got {growth_factor!r}")
        shares, percent = [], float(growth_factor)
        while percent < 100.0:
            shares.append(percent / 100.0)
            percent *= 2
        super().__init__([*shares, 1.0], every, bake, unit)


class TwoStepCanary(_Schedule):
    """CodeDeploy's two-step canary: ``first`` of the traffic, then the rest ``wait`` later.

    ``first`` from t = 0, 100% from ``wait``, done ``bake`` after that
    (default 0: at ``wait``). ``first = 0.1``, ``wait = "5m"`` is
    ``Canary10Percent5Minutes``. See ``Linear`` for ``unit``.
    """

    def __init__(
        self,
        first: float = 0.1,
        wait: Duration = 300.0,
        bake: Duration = 0.0,
        unit: str = "request",
    ) -> None:
        if isinstance(first, bool) or not isinstance(first, (int, float)) or not 0 < first < 1:
            raise ValueError(f"first must be a share in (0, 1), got {first!r}")
        super().__init__([float(first), 1.0], wait, bake, unit, every_name="wait")
