"""One strategy over a block of replications: its data plane, telemetry, judges, watchers and lifecycle.

The simpy processes in ``sim.engine`` own time; a lane owns state. Each
replication is in exactly one phase, and only ``Lane.enter`` changes it:

- ``deciding``: the strategy is in charge;
- ``paused``: waiting for a person at a gate (the strategy is asked again after);
- ``done``: the strategy promoted the release and stopped deciding (watchers still watch);
- ``rolling_back``: a rollback has started; the new version may still serve;
- ``mitigated``: the new version serves nothing, for good.

Runs go on to the horizon in every phase, so persistent harm and late
alarms count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from sim.contract import (
    EVERY_SEGMENT,
    MAX_WAIT,
    MIN_WAIT,
    UNITS,
    Alert,
    Decision,
    Exposure,
    Judge,
    Observation,
    RollbackStyle,
    Strategy,
    VersionStats,
)
from sim.dataplane import Commons, DataPlane, Harm, Span
from sim.durations import short_repr
from sim.guard import PluginError, guarded
from sim.judging import JudgeBoard
from sim.latency import LatencyModel
from sim.people import People
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.telemetry import ARMS, TelemetryLog, scrapes_in, stats
from sim.watchers import BurnRateAlerts, ReportQueue, ServiceAlertRule

PHASES = ("deciding", "paused", "done", "rolling_back", "mitigated")
DECIDING, PAUSED, DONE, ROLLING_BACK, MITIGATED = range(5)
_NEXT = {
    DECIDING: {DECIDING, PAUSED, DONE, ROLLING_BACK},
    PAUSED: {DECIDING, PAUSED, DONE, ROLLING_BACK},
    DONE: {ROLLING_BACK},
    ROLLING_BACK: {MITIGATED},
    MITIGATED: set(),
}


@dataclass
class Event:
    """Something that happened in one replication, for timelines and subscribers."""

    strategy: str
    replication: int
    time: float
    kind: str  # exposure, paused, verdict, alarm, rolling_back, mitigated, done, defect onset
    detail: str


class Lane:
    """Everything one strategy's replications of a block know and have done."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        cohorts: Cohorts,
        name: str,
        strategies: list[Strategy],
        judges: dict[str, Callable[[], Judge]],
        streams: dict[str, np.random.Generator],
        people: People,
        history: np.ndarray,
        publish: Callable[[Event], None] | None,
    ) -> None:
        replications = len(strategies)
        telemetry = scenario.telemetry
        self.env, self.scenario, self.name = env, scenario, name
        self._label = f"strategy {name!r}"  # names the plugin in its errors
        self.strategies = strategies
        self.replications = replications
        self.population = cohorts.population
        self.segments = list(cohorts.segment_names)
        self.units = guarded(self._label, lambda: [getattr(s, "unit", "request") for s in strategies])
        if any(unit not in UNITS for unit in self.units):
            raise PluginError(f"strategy {name!r}: unit must be request, user or instance")
        self.plane = DataPlane(
            cohorts,
            replications,
            streams["routing"],
            streams["harm"],
            (telemetry.baseline_error_rate, telemetry.baseline_slow_rate),
            LatencyModel.of(scenario),
        )
        defect = scenario.release.defect
        self.plane.persistent = bool(defect and defect.persistent)
        # Whose release carries the defect (the simulation sets it for a mix of releases).
        self.defective = np.full(replications, defect is not None)
        self.board = JudgeBoard(judges, replications, telemetry.scrape_interval, name, self.plane.latency)
        detection = scenario.detection
        self.alert = ServiceAlertRule(detection.service_alert, telemetry.scrape_interval, replications)
        self.burn = BurnRateAlerts(detection.slo_burn, telemetry.scrape_interval)
        self.reports = ReportQueue(detection.user_reports, replications)
        self._reports_rng = streams["reports"]
        self._escalations: dict[int, float | None] = {}  # replication -> escalation not yet scheduled
        self.log = TelemetryLog(history, keep_scrapes(scenario, self.board.longest_window))
        self.people = people
        self._publish = publish
        # Python lists, not arrays: read one replication at a time, several times per decision.
        self.phase = [DECIDING] * replications
        self.decisions = [0] * replications
        self.waiting: list[simpy.Event | None] = [None] * replications  # what each strategy waits for
        self.deciders: list[Callable[[simpy.Event], None]] = []  # each replication's decision, as a callback
        self._judge_views = [partial(self.board.view, r) for r in range(replications)]  # one per Observation
        self.alerts: list[tuple[Alert, ...]] = [()] * replications
        self.history_end = history[-1]  # scrapes continue the history's cumulative counters
        self._seen = [history[-1]] * replications  # the snapshot each strategy last decided on (all rows)
        nan = np.full(replications, np.nan)
        self.done_at, self.full_at, self.rollback_at = nan.copy(), nan.copy(), nan.copy()
        self.alarm_at, self.mitigation_at = nan.copy(), nan.copy()
        self.alarm_by: list[str | None] = [None] * replications
        self.responding: set[tuple[int, str]] = set()
        # The same as arrays, for can_alarm at every scrape: phase before rolling_back; responding, per watcher.
        self._before_rollback = np.ones(replications, dtype=bool)
        self._responding_to: dict[str, np.ndarray] = {}
        self._asked: list[Exposure | None] = [None] * replications  # the last checked exposure
        self._asked_exposed: list[Exposure | None] = [None] * replications
        # Exposure objects are shared by many replications (a strategy's steps, the engine's promotion
        # and withdrawal): each is converted and checked once, keyed by identity (and kept, so ids stay unique).
        self._served: dict[tuple[int, str], tuple[Exposure, Exposure]] = {}
        self._variants: dict[tuple[int, float], tuple[Exposure, Exposure]] = {}
        self._checked: dict[int, Exposure] = {}  # exposures decisions asked for that passed the check, by id
        self.error: str | None = None
        self._default_style: RollbackStyle | None = None
        self.settled = False  # terminal, and its last tick drawn: the data plane stops

    # -- lifecycle -----------------------------------------------------------------------

    def enter(self, r: int, phase: int, detail: str = "") -> None:
        """The one place a replication changes phase."""
        if phase not in _NEXT[self.phase[r]]:
            raise AssertionError(f"{PHASES[self.phase[r]]} -> {PHASES[phase]}")
        self.phase[r] = phase
        if phase >= ROLLING_BACK:
            self._before_rollback[r] = False
        if phase == MITIGATED:
            self.plane.mitigated[r] = True  # the data plane stops harming (unless the defect persists)
        if phase != DECIDING:
            self.record(r, PHASES[phase], detail)

    def can_alarm(self, watcher: str) -> np.ndarray:
        """Replications in which an alarm from ``watcher`` could still start a rollback."""
        waiting = self._responding_to.get(watcher)
        return self._before_rollback.copy() if waiting is None else self._before_rollback & ~waiting

    def respond(self, r: int, watcher: str) -> None:
        """Someone acts on ``watcher``'s alarm in replication ``r`` (once: later alarms from it are moot)."""
        self.responding.add((r, watcher))
        if watcher not in self._responding_to:
            self._responding_to[watcher] = np.zeros(self.replications, dtype=bool)
        self._responding_to[watcher][r] = True

    def active(self, r: int) -> bool:
        """Can still be rolled back: not already rolling back or mitigated."""
        return self.phase[r] < ROLLING_BACK and self.error is None

    def settle(self, remaining: float) -> None:
        """Nothing more can change: the data plane stops, and the requests the service still gets
        until the horizon (``remaining`` expected) are drawn as one total per replication."""
        self.settled = True
        self.plane.requests_after_settling = self.plane.draw_total(remaining)

    def terminal(self) -> bool:
        """Nothing more can change in any replication (and harm does not persist)."""
        return self.error is not None or (all(phase == MITIGATED for phase in self.phase) and not self.plane.persistent)

    def record(self, r: int, kind: str, detail: str = "") -> None:
        if self._publish is not None:
            self._publish(Event(self.name, r, self.env.now, kind, detail))

    # -- what the strategy sees and does ---------------------------------------------------

    def observe(self, r: int) -> Observation:
        decisions = self.decisions[r]
        self.decisions[r] = decisions + 1
        previous, latest = self._seen[r], self.log.latest
        self._seen[r] = latest  # "since the last decision" starts again now
        return Observation(
            self.env.now,
            self.plane.exposures[r],
            decisions,
            lambda name: self._source(r, name, latest, previous),
            PHASES[self.phase[r]],
            self._judge_views[r],
        )

    def _source(self, r: int, name: str, latest: np.ndarray, previous: np.ndarray) -> object:
        """The fields of an Observation that are computed when first read (``canary`` and ``stable``:
        from the snapshot ``previous``, seen at the last decision, to ``latest``)."""
        if name == "judges":
            return self.board.views(r)
        if name.startswith("judge:"):
            return self.board.view(r, name.removeprefix("judge:"))
        if name in ("canary", "stable"):
            return stats(latest[r] - previous[r], ARMS["new" if name == "canary" else "stable"])
        if name == "alerts":
            return self.alerts[r]
        if name == "rng":
            return self.people.stream("strategy", r)
        return lambda version, window, segment: self._telemetry(r, version, window, segment)

    def _telemetry(self, r: int, version: str, window: float | None, segment: str | None) -> VersionStats:
        if version not in ARMS:
            raise ValueError(f"version must be one of {', '.join(ARMS)}, got {version!r}")
        if segment is not None and segment not in self.segments:
            raise ValueError(f"unknown segment {segment!r}; the scenario has {', '.join(self.segments)}")
        scrapes = (
            self.log.received + 10**9 if window is None else scrapes_in(window, self.scenario.telemetry.scrape_interval)
        )
        counts = self.log.window(scrapes)[r]
        return stats(counts, ARMS[version], None if segment is None else self.segments.index(segment))

    def ask(self, r: int) -> Decision:
        """The strategy's decision, checked; a plugin's failure names the plugin."""
        decision = guarded(self._label, self.strategies[r].decide, self.observe(r))
        if type(decision) is not Decision:  # a subclass could change what the engine relies on
            shown = short_repr(decision)
            raise PluginError(f"strategy {self.name!r} returned {shown}, expected a sim.Decision (not a subclass)")
        if not _plain_continue(decision, self._asked[r]):
            # An exposure equal to the one in force was checked when it was set; an exposure object checked
            # before (by any replication: strategies share theirs) is still valid (it is immutable).
            exposure = decision.exposure
            checked = exposure is not None and self._checked.get(id(exposure)) is exposure
            try:
                same = checked or (exposure is not None and exposure == self._asked[r])
                problem = Decision.problem(decision, self.segments, check_exposure=not same)  # a subclass can't skip it
            except Exception as error:  # fields of the wrong shape (e.g. shares not pairs)
                problem = f"malformed ({type(error).__name__}: {short_repr(error)})"
            if problem:
                raise PluginError(f"strategy {self.name!r} returned a bad decision: {problem}")
            if exposure is not None and not same:  # checked just now, and valid
                self._remember_checked(exposure)
        if decision.judges is not None or decision.reset:
            problem = self.board.apply(r, self.env.now, decision.judges, decision.reset)
            if problem:
                raise PluginError(f"strategy {self.name!r} returned a bad decision: {problem}")
        self._asked[r] = decision.exposure
        return decision

    def _remember_checked(self, exposure: Exposure) -> None:
        """Keep a checked exposure (and so its id) for ``ask``; immutable, so it stays valid."""
        _keep(self._checked, id(exposure), exposure)

    def expose(self, r: int, exposure: Exposure) -> None:
        """Serve ``exposure`` from now on (the strategy's own unit when the exposure names none)."""
        if exposure is self._asked_exposed[r] or exposure == self._asked_exposed[r]:
            return  # the same as last time, before the strategy's unit was filled in
        self._asked_exposed[r] = exposure
        exposure = self._as_served(exposure, self.units[r])
        if exposure == self.plane.exposures[r]:
            return
        full = self.plane.set_exposure(r, exposure, self.env.now)
        if full and math.isnan(self.full_at[r]):
            self.full_at[r] = self.env.now
        if self._publish is not None:
            self.record(r, "exposure", describe(exposure))

    def _as_served(self, exposure: Exposure, unit: str) -> Exposure:
        """``exposure`` with plain float shares and ``unit`` filled in when it names none, checked."""
        key = (id(exposure), unit)
        known = self._served.get(key)
        if known is not None and known[0] is exposure:
            return known[1]
        asked = exposure
        if any(type(share) is not float for _, share in exposure.shares):  # e.g. a Fraction: plain floats from here
            exposure = exposure.but(shares=tuple((name, float(share)) for name, share in exposure.shares))
        if exposure.unit is None:
            exposure = exposure.but(unit=unit)
            problem = Exposure.problem(exposure, self.segments)  # e.g. a class unit "instance" without instances
            if problem:
                raise PluginError(f"strategy {self.name!r} returned a bad decision: {problem}")
        _keep(self._served, key, (asked, exposure))
        return exposure

    def everyone(self, r: int) -> Exposure:
        """The exposure in force, serving every user (the release is promoted)."""
        return self._variant(r, 1.0)

    def no_one(self, r: int) -> Exposure:
        """The exposure in force, serving no user (the release is withdrawn)."""
        return self._variant(r, 0.0)

    def _variant(self, r: int, share: float) -> Exposure:
        current = self.plane.exposures[r]
        key = (id(current), share)
        known = self._variants.get(key)
        if known is None or known[0] is not current:
            known = (current, current.but(shares=((EVERY_SEGMENT, share),), mode="serve", baseline=False))
            _keep(self._variants, key, known)
        return known[1]

    def rollback_style(self, r: int, chosen: RollbackStyle | None) -> RollbackStyle:
        if chosen is not None:
            return chosen
        own = guarded(self._label, getattr, self.strategies[r], "rollback", None)
        if own is not None and not callable(own):  # a method named rollback is not a style
            if type(own) is not RollbackStyle or RollbackStyle.problem(own):
                raise PluginError(
                    f"strategy {self.name!r}: its rollback must be a sim.RollbackStyle, got {short_repr(own)}"
                )
            return own
        if self._default_style is None:
            default = self.scenario.rollback
            self._default_style = RollbackStyle(default.style, default.duration, tuple(default.steps), default.wait)
        return self._default_style

    # -- ticks and scrapes -------------------------------------------------------------------

    def advance(self, commons: Commons, harm: Harm | None) -> Span:
        """Draw the tick that ends now; a defect onset found in it becomes an event at its own time."""
        if self._publish is None:
            return self.plane.advance(commons, harm)
        unseen = np.isnan(self.plane.onset)
        span = self.plane.advance(commons, harm)
        for r in np.flatnonzero(unseen & ~np.isnan(self.plane.onset)).tolist():
            self._publish(Event(self.name, r, float(self.plane.onset[r]), "defect onset", ""))
        return span

    def escalations_due(self, span: Span, end: float, next_tick: float) -> list[tuple[int, float]]:
        """People notice harm done to them and may report it. Returns the support escalations
        (replication, time) that come before the next tick, each once.

        Later ticks only add reports due after they are drawn, so an escalation
        due after the next tick may still move earlier: it waits here, and
        costs nothing, until it is known.
        """
        for r in self.reports.add_harm(span.newly_harmed, span.first_on, span.last_on, end, self._reports_rng):
            self._escalations[r] = self.reports.escalation_time(r)
        due = [(r, time) for r, time in self._escalations.items() if time is not None and time <= next_tick]
        for r, _ in due:
            del self._escalations[r]
        return due


_KEPT = 1024  # exposures remembered per cache: a strategy that makes a new one per decision is bounded


def _keep(cache: dict, key: object, value: object) -> None:
    """Remember ``value`` under ``key``, starting afresh once the cache is full (it must not grow without end)."""
    if len(cache) >= _KEPT:
        cache.clear()
    cache[key] = value


def _plain_continue(decision: Decision, checked: Exposure | None) -> bool:
    """The most common decision, which needs no full check: keep the exposure already checked,
    decide again after a valid wait, nothing else."""
    action, exposure, wait, judges, reset, reason, style, by = decision  # one unpacking: cheaper than eight reads
    return (
        action == "continue"
        and exposure is checked
        and checked is not None
        and type(wait) is float
        and MIN_WAIT <= wait <= MAX_WAIT
        and judges is None
        and type(reset) is tuple
        and not reset
        and style is None
        and by is None
        and type(reason) is str
    )


def longest_watcher_window(scenario: Scenario) -> float:
    """The longest window a watcher reads (the service alert's, or an enabled SLO alert's long one)."""
    detection = scenario.detection
    burn = detection.slo_burn
    longest_burn = max((alert.long for alert in burn.alerts), default=0.0) if burn.enabled else 0.0
    return max(detection.service_alert.window, longest_burn)


def keep_scrapes(scenario: Scenario, longest_judge_window: float) -> int:
    """Scrapes the telemetry log keeps: the longest window of a watcher or judge (strategies asking
    ``obs.telemetry`` for a longer window get what is kept), and at least an hour."""
    detection = scenario.detection
    longest = max(detection.service_alert.window, longest_judge_window, 3600.0, longest_watcher_window(scenario))
    return scrapes_in(longest, scenario.telemetry.scrape_interval)


def describe(exposure: Exposure) -> str:
    """``0.05 request``, ``internal=1 user``, ``mirror 0.1 request``, ``preview 5/s``."""
    if exposure.mode == "preview":
        return f"preview {exposure.preview_rate:g}/s"
    shares = ", ".join(f"{share:.3g}" if name == "*" else f"{name}={share:.3g}" for name, share in exposure.shares)
    extras = [exposure.unit or "request"]
    if exposure.unit == "instance":
        extras[0] = f"of {exposure.instances} instances"
    if exposure.baseline:
        extras.append("+ baseline")
    prefix = "mirror " if exposure.mode == "mirror" else ""
    return f"{prefix}{shares} {' '.join(extras)}"
