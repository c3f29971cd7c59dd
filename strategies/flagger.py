"""Flagger: a canary analysis that ticks every interval, holds on a failed check, rolls back at a threshold."""

from __future__ import annotations

from sim import Decision, Duration, Exposure, JudgeView, Observation, RollbackStyle, parse_duration

MIN_INTERVAL = 10.0
"""Flagger's code raises a shorter ``analysis.interval`` to 10 s."""
DEFAULT_STEP = 10.0
"""Flagger has no default ``stepWeight`` (0 never advances); this one reaches 100% in ten steps."""
EPSILON = 1e-6
LONGEST_WAIT = 365 * 86400.0
"""The longest wait a decision may ask for (the longest horizon)."""


def _percent(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
        raise ValueError(f"{name} must be a percentage in (0, 100], got {value!r}")
    return float(value)


class FlaggerCanary:
    """Flagger's canary analysis, tick by tick, as its scheduler (``pkg/controller/scheduler.go``) runs it.

    Every ``interval`` (default 60 s; less than 10 s is 10 s, as in Flagger's
    code) the strategy ticks. The first tick, at t = 0, runs no analysis
    (Flagger runs its pre-rollout hooks there) and sets the first weight.
    Each later tick:

    1. rolls back if the failed checks counted at earlier ticks reached the
       threshold (Flagger checks ``failedChecks >= threshold`` at the start
       of a tick, before that tick's analysis);
    2. checks the judge ``judge`` (default ``analysis``): the tick's check
       failed if a measurement since the last tick failed or had no data
       (inconclusive), as Flagger counts "no values found" as a failure. A
       failed check halts advancement: the weight is kept;
    3. otherwise advances.

    Threshold: with ``threshold`` unset the judge's own verdict decides (a
    ``threshold`` judge with ``rule = "flagger"`` fails when its failed
    checks reach its ``threshold``, default 1, Flagger's default too).
    ``threshold = N`` also counts the strategy's failed ticks against N
    (N <= 0 means 1, as in Flagger's code); give the judge a threshold of at
    least N, since a judge stops measuring at its verdict. A judge verdict of
    ``failed`` (or ``inconclusive``, which Flagger does not have) counts as
    reaching the threshold. Only ``rule = "flagger"`` counts a measurement
    without data toward the judge's own verdict, as Flagger does; with an
    ``argo`` judge, such checks hold the weight and count toward ``threshold``
    only.

    **When it rolls back.** With every check failing (a judge measuring every
    ``interval`` from t = 0, so its first check is at one interval), the
    threshold-th failed check is at ``threshold x interval`` and the rollback
    at the next tick: ``(threshold + 1) x interval`` after t = 0 (Flagger's
    docs round this to ``interval x threshold``: 1 m x 10 = 10 min; the code
    rolls back at 11 min). The weight stays at the first step meanwhile. The
    rollback is ``instant`` (all traffic back to the primary), whatever the
    scenario's ``[rollback]``.

    **Modes**, as Flagger picks them (``Canary.DeploymentStrategy``):

    - canary (no ``iterations``): weights in percent. ``stepWeight`` (default
      10, which Flagger lacks) added at each passing tick, up to
      ``maxWeight`` (default 100); or ``stepWeights = [1, 2, 10, 80]``,
      whose last entry is the max weight. As in Flagger's code the weight may
      pass ``maxWeight`` when ``stepWeight`` does not divide it (max 50,
      step 20: 20, 40, 60), never 100%. At the first passing tick after the
      weight reached the max weight, the release is promoted (``done``):
      with n weight steps, at ``n x interval`` when every check passes.
      Flagger's docs example, ``maxWeight = 50``, ``stepWeight = 2``,
      ``interval = "1m"``: weights 2% at 0 s up to 50% at 24 min, promotion
      at 25 min. ``mirror = true`` first mirrors all traffic for one tick
      (one more tick to promotion).
    - A/B (``iterations`` and ``match_segment``): every request of that
      segment goes to the canary (a header or cookie match) from t = 0; each
      passing tick counts an iteration; promotion at the tick after
      ``iterations`` of them: ``iterations x interval`` when all pass.
    - blue-green (``iterations`` alone): the canary gets test traffic only
      (``preview_rate`` requests per second, Flagger's load tester on the
      Kubernetes provider), or with ``mirror = true`` a copy of every request
      (a mesh), then all traffic for the last tick. Promotion at
      ``(iterations + 1) x interval`` when all pass, as Flagger's
      ``runBlueGreen`` counts one more iteration than asked.

    The judge should measure every ``interval`` too (its ``window`` is
    Flagger's metric ``interval``, default 1m). A tick at which the judge has
    not measured since the last one (a scrape lag, a longer judge interval)
    holds the weight without counting a failed check.
    """

    rollback = RollbackStyle.instant()

    def __init__(
        self,
        interval: Duration = 60.0,
        threshold: int | None = None,
        maxWeight: float | None = None,  # Flagger's field names
        stepWeight: float | None = None,
        stepWeights: list[float] | None = None,
        iterations: int = 0,
        match_segment: str | None = None,
        mirror: bool = False,
        preview_rate: float = 5.0,
        judge: str | None = None,
    ) -> None:
        self.interval = max(parse_duration(interval), MIN_INTERVAL)
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int)):
            raise ValueError(f"threshold must be an integer, got {threshold!r}")
        self.threshold = None if threshold is None else max(threshold, 1)
        if isinstance(iterations, bool) or not isinstance(iterations, int) or not 0 <= iterations <= 100_000:
            raise ValueError(f"iterations must be an integer from 0 to 100000, got {iterations!r}")
        if not isinstance(mirror, bool):
            raise ValueError(f"mirror must be true or false, got {mirror!r}")
        if not (isinstance(preview_rate, (int, float)) and not isinstance(preview_rate, bool)):
            raise ValueError(f"preview_rate must be a number of requests per second, got {preview_rate!r}")
        if not 0 < preview_rate <= 1e6:
            raise ValueError(f"preview_rate must be between 0 and 1e6 requests per second, got {preview_rate!r}")
        if match_segment is not None and (not iterations or not isinstance(match_segment, str) or mirror):
            raise ValueError("match_segment (A/B testing) needs iterations and a segment name, and no mirror")
        self.iterations, self.match_segment, self.mirror = iterations, match_segment, mirror
        self.step_weights: list[float] = []
        self.step_weight = self.max_weight = 0.0
        if iterations:
            if (maxWeight, stepWeight, stepWeights) != (None, None, None):
                raise ValueError("iterations (blue-green or A/B) moves no weights: drop maxWeight and stepWeight(s)")
        else:
            self._weights(maxWeight, stepWeight, stepWeights)
        self.judge = judge or "analysis"
        self._named = judge is not None
        self._preview = Exposure.preview(float(preview_rate))
        self._exposure = Exposure.none()
        self._ticks = 0
        self._weight = 0.0  # percent
        self._done_iterations = 0
        self._mirrored = False
        self._measured = self._bad = self._failed_checks = 0
        self._doomed = False

    def _weights(self, max_weight: object, step_weight: object, step_weights: object) -> None:
        if step_weights is not None:
            if step_weight is not None or max_weight is not None:
                raise ValueError("give stepWeights alone: its last weight is the max weight")
            if not isinstance(step_weights, (list, tuple)) or not 1 <= len(step_weights) <= 1000:
                raise ValueError(f"stepWeights must be a list of 1 to 1000 percentages, got {step_weights!r}")
            self.step_weights = [_percent("stepWeights", w) for w in step_weights]
            if any(b <= a for a, b in zip(self.step_weights, self.step_weights[1:], strict=False)):
                raise ValueError(f"stepWeights must increase, got {list(step_weights)}")
            self.max_weight = self.step_weights[-1]
        else:
            self.step_weight = DEFAULT_STEP if step_weight is None else _percent("stepWeight", step_weight)
            self.max_weight = 100.0 if max_weight is None else _percent("maxWeight", max_weight)

    def decide(self, obs: Observation) -> Decision:
        if self._named and obs.decisions == 0 and self.judge not in obs.judges:
            raise ValueError(f"judge {self.judge!r} is not one of this strategy's judges ({', '.join(obs.judges)})")
        next_tick = self._ticks * self.interval
        if obs.now < next_tick - EPSILON:  # a verdict woke it between ticks: Flagger acts at ticks only
            return self._hold(next_tick - obs.now)
        self._ticks += 1
        if self._doomed:
            reason = f"{self.judge}: {self._failed_checks} failed checks"
            return Decision.rollback(reason, by=self.judge)
        if self._ticks > 1:  # the first tick runs no analysis
            check = self._check(obs.judge(self.judge))
            if check != "passed":
                return self._hold(self.interval)  # halt advancement
        return self._advance()

    def _check(self, view: JudgeView) -> str | None:
        """This tick's check: passed, failed, or None (the judge has not measured since the last tick)."""
        measured, bad = view.measurements - self._measured, view.failures + view.inconclusive - self._bad
        self._measured, self._bad = view.measurements, view.failures + view.inconclusive
        gave_up = view.verdict in ("failed", "inconclusive")
        if bad > 0 or gave_up:
            self._failed_checks += 1
            reached = self.threshold is not None and self._failed_checks >= self.threshold
            self._doomed = gave_up or reached
            return "failed"
        if measured > 0 or not view.running or view.verdict == "passed":
            return "passed"
        return None

    def _advance(self) -> Decision:
        if self.iterations and self.match_segment is not None:  # A/B testing
            if self._done_iterations == self.iterations:
                return Decision.done()
            self._done_iterations += 1
            self._exposure = Exposure.of({self.match_segment: 1.0})
        elif self.iterations:  # blue-green
            if self._done_iterations > self.iterations:
                return Decision.done()
            if self._done_iterations == self.iterations and self.mirror:
                self._exposure = Exposure.of(1.0)  # stop mirroring, route all traffic to the canary
            elif self._done_iterations < self.iterations:
                self._exposure = Exposure.of(1.0, mode="mirror") if self.mirror else self._preview
            self._done_iterations += 1
        elif self._weight >= self.max_weight:
            return Decision.done()
        elif self.mirror and self._weight == 0 and not self._mirrored:
            self._mirrored = True
            self._exposure = Exposure.of(1.0, mode="mirror")
        else:
            self._weight = min(100.0, self._weight + self._next_step())
            self._exposure = Exposure.of(self._weight / 100.0)
        return self._hold(self.interval)

    def _next_step(self) -> float:
        """Flagger's ``nextStepWeight``: the step to the next weight of the list, or ``stepWeight``."""
        if not self.step_weights:
            return self.step_weight
        left = 100.0 - self._weight
        if self._weight == 0:
            return min(left, self.step_weights[0])
        for current, following in zip(self.step_weights, self.step_weights[1:], strict=False):
            if current == self._weight:
                return min(left, following - self._weight)
        return left

    def _hold(self, wait: float) -> Decision:
        return Decision.set(self._exposure, wait=min(max(wait, 1e-3), LONGEST_WAIT))
