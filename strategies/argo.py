"""Argo Rollouts canary: an explicit list of steps (setWeight, pause, inline analysis) and a background analysis."""

from __future__ import annotations

from typing import Any

from sim import Decision, Exposure, Observation, RollbackStyle, parse_duration

DEFAULT_STEPS = (
    {"setWeight": 20},
    {"pause": {"duration": "10m"}},
    {"setWeight": 40},
    {"pause": {"duration": "10m"}},
    {"setWeight": 60},
    {"pause": {"duration": "10m"}},
    {"setWeight": 80},
    {"pause": {"duration": "10m"}},
)
IDLE = 3600.0
"""How long to wait for a verdict before looking again (a verdict wakes the strategy at once anyway)."""
EPSILON = 1e-6
"""The engine rounds event times to a microsecond."""
LONGEST_WAIT = 365 * 86400.0
"""The longest wait a decision may ask for (the longest horizon)."""

Step = tuple[str, Any]  # ("setWeight", share) | ("pause", seconds or None) | ("analysis", judge names)


def _judge_names(where: str, table: dict[str, Any], extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The judges an analysis table names: ``judge``, ``judges`` or Argo's ``templates``."""
    unknown = sorted(set(table) - {"judge", "judges", "templates", *extra})
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}; expected judge, judges or templates")
    given = [key for key in ("judge", "judges", "templates") if key in table]
    if len(given) > 1:
        raise ValueError(f"{where}: give one of judge, judges or templates, not {' and '.join(given)}")
    key = given[0] if given else "judge"
    value = table.get(key, "analysis")
    if key == "judge":
        value = [value]
    elif key == "templates":
        if not isinstance(value, list) or not all(isinstance(t, dict) and "templateName" in t for t in value):
            raise ValueError(f"{where}.templates must be a list of {{templateName = ...}} tables, got {value!r}")
        value = [t["templateName"] for t in value]
    if not isinstance(value, list) or not value or not all(isinstance(name, str) and name for name in value):
        raise ValueError(f"{where}.{key} must name one or more judges of the strategy, got {table[key]!r}")
    return tuple(dict.fromkeys(value))


def _step(index: int, step: object) -> Step:
    where = f"steps[{index}]"
    if not isinstance(step, dict) or len(step) != 1:
        raise ValueError(f"{where} must be a table with one of setWeight, pause or analysis, got {step!r}")
    ((kind, value),) = step.items()
    if kind == "setWeight":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValueError(f"{where}.setWeight must be a percentage from 0 to 100, got {value!r}")
        return kind, value / 100.0
    if kind == "pause":
        if not isinstance(value, dict) or set(value) - {"duration"}:
            raise ValueError(f"{where}.pause must be {{}} or {{duration = ...}}, got {value!r}")
        if "duration" not in value:
            return kind, None
        try:
            return kind, parse_duration(value["duration"])
        except ValueError as error:
            raise ValueError(f"{where}.pause.duration: {error}") from None
    if kind == "analysis":
        if not isinstance(value, dict):
            raise ValueError(f"{where}.analysis must be a table naming judges, got {value!r}")
        return kind, _judge_names(f"{where}.analysis", value)
    raise ValueError(f"{where}: unsupported step {kind!r}; expected setWeight, pause or analysis")


def _background(background: object, steps: int) -> tuple[tuple[str, ...], int]:
    if background is False:
        return (), 0
    if not isinstance(background, dict):
        raise ValueError(f"background must be a table {{judge = ..., startingStep = ...}} or false, got {background!r}")
    start = background.get("startingStep", 0)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < steps:
        raise ValueError(f"background.startingStep must be a step index from 0 to {steps - 1}, got {start!r}")
    return _judge_names("background", background, ("startingStep",)), start


class ArgoCanary:
    """Argo Rollouts canary: ``steps`` in order, an optional background analysis, then promotion.

    ``steps``: a list of tables, each one of

    - ``{setWeight = 20}``: send 20% of requests to the canary (instant);
    - ``{pause = {duration = "10m"}}``: hold the weight that long;
    - ``{pause = {}}``: hold until a person promotes it (``Decision.pause``:
      the approver of ``people.approver`` answers after their response time);
    - ``{analysis = {judge = "smoke"}}`` (or ``judges = [...]``, or Argo's
      ``templates = [{templateName = "smoke"}]``): an inline analysis. The
      step starts the named judges from scratch and blocks until they reach a
      verdict: all passed, the next step; one failed, abort; one
      inconclusive (and none failed), pause for a person, who resumes it
      with a new run (the judges restart, as Argo creates a new AnalysisRun).

    Before the first ``setWeight`` the canary serves nothing. After the last
    step it is promoted (``Decision.done``). Default: 20% / 10 min / 40% /
    10 min / 60% / 10 min / 80% / 10 min, Argo's documentation example:
    40 minutes on a healthy release.

    ``background``: ``{judge = "analysis", startingStep = 2}`` (``judges``
    or ``templates`` also work): these judges run from step index
    ``startingStep`` (0-based, as Argo counts) until the promotion. A failed
    verdict aborts at once; an inconclusive one pauses for a person, who
    resumes with a new run. Not given: the judge ``analysis`` from step 0 if
    the strategy has one and no inline step uses it (as every built-in runs
    the scenario's ``detection.analysis``); ``background = false``: none.
    Judges of the strategy named nowhere do not run.

    An abort snaps the weight to 0: the rollback is ``instant``, whatever
    the scenario's ``[rollback]`` (``abortScaleDownDelaySeconds`` only delays
    scaling the canary pods down, after traffic has left them).

    Argo's analysis options are the judge's params in the scenario, e.g.
    ``judges.analysis = {use = "threshold", params = {rule = "argo", ...}}``:

    - ``interval`` -> ``interval`` (a measurement at every scrape at or after
      each interval; Argo's metric ``interval``);
    - ``initialDelay`` -> ``initial_delay``;
    - ``count`` -> ``count`` (passed after this many measurements; an inline
      step's judge needs it, or the step never completes, as in Argo with an
      interval and no count);
    - ``failureLimit`` -> ``failure_limit`` (failed when failures exceed it;
      Argo's default is 0: the first failed measurement);
    - ``inconclusiveLimit`` -> ``inconclusive_limit`` (with ``rule = "argo"``
      a measurement with too few requests is inconclusive);
    - ``consecutiveErrorLimit`` -> ``consecutive_error_limit`` (default 4):
      a missing scrape is a query error (no measurement); more in a row than
      the limit fail the judge, as Argo's Error phase aborts the rollout.

    A judge's first measurement comes one ``interval`` (plus
    ``initial_delay``) after it starts, at a scrape: an inline step of
    ``count = 1`` takes one interval, where Argo, without an interval, would
    measure at once. With ``rule = "argo"`` the verdict is failed once
    ``failures > failure_limit``: every measurement failing, an inline step
    entered at t aborts at ``t + initial_delay + (failure_limit + 1) *
    interval`` (on the scrape grid), a background run started at t likewise.

    ``Decision.pause`` keeps the exposure in force, so a pause right after a
    ``setWeight`` (or one that must restart judges) sets the weight first and
    pauses 1 ms later; the approver's response time counts from the pause.

    A judge reaching a verdict (or a watcher's alarm) during a ``pause {}``
    or an inconclusive pause wakes the strategy, which ends that wait in the
    engine; unless a judge failed, the strategy pauses again and the
    approver's response time starts over. Argo itself does not act on the
    watchers' alarms: their people roll back.
    """

    rollback = RollbackStyle.instant()

    def __init__(self, steps: list[dict[str, Any]] = DEFAULT_STEPS, background: dict[str, Any] | bool | None = None):
        if not isinstance(steps, (list, tuple)) or not 1 <= len(steps) <= 1000:
            raise ValueError(f"steps must be a list of 1 to 1000 steps, got {repr(steps)[:60]}")
        self.steps = [_step(index, step) for index, step in enumerate(steps)]
        inline = {name for kind, value in self.steps if kind == "analysis" for name in value}
        self._named_background = background is not None
        if background is None:
            background = {"judge": "analysis"} if "analysis" not in inline else False
        self.background, self.starting_step = _background(background, len(self.steps))
        both = sorted(inline & set(self.background))
        if both:
            raise ValueError(f"judge {both[0]!r} cannot run both in the background and in an analysis step")
        self._step = 0
        self._started = 0.0  # when the current step started
        self._entered = -1  # the analysis step whose judges were (re)started
        self._weight = 0.0
        self._background_on = False
        self._restart: tuple[str, ...] = ()  # judges to restart with the next decision
        self._paused_on: tuple[object, ...] | None = None  # verdicts and alarms when it paused

    def decide(self, obs: Observation) -> Decision:
        if obs.decisions == 0:
            self._check_judges(obs)
        for name in self._running():
            if obs.judge(name).failed:
                return Decision.rollback(f"{name} failed", by=name)
        if obs.phase == "paused":
            if self._woken_by(obs) != self._paused_on:  # a verdict or an alarm woke it, not the approver
                return self._pause(obs, "waiting for the approver")
            self._resume(obs)
        self._paused_on = None
        restarting = set(self._restart)
        inconclusive = [
            name
            for name in self.background
            if self._background_on and name not in restarting and self._inconclusive(obs, name)
        ]
        if inconclusive:
            return self._pause(obs, f"background {inconclusive[0]} inconclusive")
        return self._run_steps(obs)

    # -- steps -----------------------------------------------------------------------------

    def _run_steps(self, obs: Observation) -> Decision:
        """Carry out steps from the current one until one holds; its decision."""
        while self._step < len(self.steps):
            kind, value = self.steps[self._step]
            if kind == "setWeight":
                self._weight = value
            elif kind == "pause" and value is None:
                return self._pause(obs, f"pause step {self._step}")
            elif kind == "pause" and obs.now - self._started < value - EPSILON:
                return self._hold(obs, value - (obs.now - self._started))
            elif kind == "analysis":
                if self._entered != self._step:
                    self._entered = self._step
                    self._restart = (*self._restart, *value)
                    return self._hold(obs, IDLE)
                verdicts = [obs.judge(name).verdict for name in value]
                if "inconclusive" in verdicts:
                    return self._pause(obs, f"analysis step {self._step} inconclusive")
                if not all(verdict == "passed" for verdict in verdicts):
                    return self._hold(obs, IDLE)
            self._step += 1
            self._started = obs.now
        return Decision.done()

    def _resume(self, obs: Observation) -> None:
        """The approver answered: a pause step is over; an inconclusive run starts again."""
        kind, value = self.steps[self._step]
        if kind == "pause" and value is None:
            self._step += 1
            self._started = obs.now
        elif kind == "analysis" and any(self._inconclusive(obs, name) for name in value):
            self._entered = -1  # a new run of the step's analysis
        if self._background_on and any(self._inconclusive(obs, name) for name in self.background):
            self._restart = (*self._restart, *self.background)

    # -- decisions -------------------------------------------------------------------------

    def _running(self) -> tuple[str, ...]:
        """The judges that run now: the background (from its starting step) and the current inline step's."""
        names = self.background if self._background_on else ()
        if self._step < len(self.steps) and self.steps[self._step][0] == "analysis":
            names = (*names, *self.steps[self._step][1])
        return names

    def _hold(self, obs: Observation, wait: float) -> Decision:
        self._background_on |= self._step >= self.starting_step
        restart, self._restart = self._restart, ()
        wait = min(max(wait, 1e-3), LONGEST_WAIT)
        return Decision.set(Exposure.of(self._weight), wait=wait, judges=self._running(), reset=restart)

    def _pause(self, obs: Observation, reason: str) -> Decision:
        if self._restart or obs.weight != self._weight:
            # A pause keeps the exposure and restarts no judge: set them first, pause a millisecond later.
            return self._hold(obs, 1e-3)
        self._background_on |= self._step >= self.starting_step
        self._paused_on = self._woken_by(obs)
        return Decision.pause(reason, judges=self._running())

    # -- judges ----------------------------------------------------------------------------

    def _check_judges(self, obs: Observation) -> None:
        named = [name for kind, value in self.steps if kind == "analysis" for name in value]
        if self._named_background:
            named += self.background
        else:  # the default background runs only if the strategy has a judge called analysis
            self.background = tuple(name for name in self.background if name in obs.judges)
        missing = [name for name in named if name not in obs.judges]
        if missing:
            known = ", ".join(obs.judges) or "none"
            raise ValueError(f"judge {missing[0]!r} is not one of this strategy's judges ({known})")

    @staticmethod
    def _woken_by(obs: Observation) -> tuple[object, ...]:
        """What, besides the approver, wakes a paused strategy: every judge's verdict, and the alarms."""
        return (*(view.verdict for view in obs.judges.values()), len(obs.alerts))

    @staticmethod
    def _inconclusive(obs: Observation, name: str) -> bool:
        return obs.judge(name).verdict == "inconclusive"
