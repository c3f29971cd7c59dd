"""The control plane: simpy processes for ticks, scrapes, judges, watchers, people, strategies and rollbacks.

Each process is a generator that takes ``env`` first and is named for its
actor. Events at the same instant run in a fixed order, whatever order they
were scheduled in (``Priority``): the data plane's tick and its scrape, then
telemetry arriving at judges and watchers, then people, then strategies. So
a strategy deciding at t sees the scrape taken at t (when there is no lag).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from enum import IntEnum
from functools import partial
from heapq import heappush
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.contract import MIN_WAIT, Alert, Decision, RollbackStyle
from sim.lane import DECIDING, DONE, MITIGATED, PAUSED, ROLLING_BACK, Lane
from sim.plugins import PluginError
from sim.scenario import ResponseTime

if TYPE_CHECKING:
    from sim.simulation import Simulation

Process = Generator[simpy.Event, object, None]

RESOLUTION = 1e-6
"""Event times are rounded to a microsecond, so that 30 s + 90 s and 2 x 60 s are the same instant."""


class Priority(IntEnum):
    """Order of events at the same instant (simpy's own events use 0 and 1)."""

    TICK = 2
    TELEMETRY = 3
    PEOPLE = 4
    STRATEGY = 5


def at(env: simpy.Environment, time: float, priority: Priority) -> simpy.Event:
    """An event at ``time`` (rounded to the engine's resolution) with an order among same-time events."""
    now = env._now
    delay = round(time / RESOLUTION) * RESOLUTION - now
    return _queued(env, now + (delay if delay > 0.0 else 0.0), priority, [])


def soon(env: simpy.Environment, action: Callable[[], None]) -> None:
    """Call ``action`` once the current event is over, exactly where a new process would start.

    What needs no waiting runs this way rather than as a process: a process
    per alarm and rollback costs more than the rest of a replication.
    """
    _queued(env, env._now, _URGENT, [lambda _: action()])


def _queued(env: simpy.Environment, time: float, priority: int, callbacks: list) -> simpy.Event:
    """A triggered event, queued at ``time``: built by hand as ``simpy.Event(env)``, ``succeed`` and
    ``env.schedule`` would (simpy is pinned for it); the engine makes several per replication."""
    event = _new_event(_Event)
    event.env = env
    event.callbacks = callbacks
    event._ok = True
    event._value = None
    heappush(env._queue, (time, priority, next(env._eid), event))
    return event


_new_event = object.__new__
_Event = simpy.Event
_URGENT = simpy.events.URGENT


def then(event: simpy.Event, action: Callable[[], None]) -> None:
    """Call ``action`` when ``event`` happens."""
    event.callbacks.append(lambda _: action())


def ticker(env: simpy.Environment, sim: Simulation) -> Process:
    """The data plane: draws every lane's traffic tick by tick; takes a scrape at each scrape time."""
    times = sim.clock.times  # (a tuple shared by every block: a block that settles early reads few of them)
    for index, (time, scrape) in enumerate(sim.clock.ticks()):
        next_tick = times[index + 1] if index + 1 < len(times) else math.inf
        yield at(env, time, Priority.TICK)
        commons = sim.clock.commons(time)
        harm = sim.defect.during(commons.start, commons.end)
        for lane in sim.live_lanes():
            if lane.settled:
                continue  # nothing can change in it: its numbers never depend on the lanes beside it
            span = lane.advance(commons, harm)
            if lane.terminal():  # only once the tick holding the last mitigation is drawn
                lane.settle(sim.clock.expected_after(time))
            for r, escalation in lane.escalations_due(span, time, next_tick):
                support(env, lane, r, escalation)
        if scrape:
            sim.scrape(time)
        if sim.all_terminal():
            return


def receive(env: simpy.Environment, lane: Lane, snapshot: np.ndarray, missing: np.ndarray) -> None:
    """A scrape reaches one lane's judges and watchers; alarms and verdicts follow."""
    lane.log.receive(snapshot, missing)
    try:
        woken = lane.board.measure(lane.log, env.now)
    except PluginError as error:
        lane.error = str(error)
        return
    fired = lane.alert.evaluate(lane.log, env.now) & lane.can_alarm("service_alert")
    for r in np.flatnonzero(fired).tolist():
        alarm(env, lane, r, "service_alert", "on_call", lane.scenario.detection.service_alert.response)
    for alert, burning in lane.burn.evaluate(lane.log):
        for r in np.flatnonzero(burning & lane.can_alarm(alert.name)).tolist():
            alarm(env, lane, r, alert.name, "on_call", alert.response)
    for r in np.flatnonzero(woken).tolist():
        for name in lane.board.changed.get(r, ()):
            lane.record(r, "verdict", f"{name}: {lane.board.view(r, name).verdict}")
        if lane.phase[r] in (DECIDING, PAUSED):
            wake(env, lane, r)


def start_strategies(env: simpy.Environment, lane: Lane) -> None:
    """Every replication's strategy decides at t = 0, then when its wait is over, a person
    answered, or one of its judges reached a verdict.

    Each decision is a callback on the event it waits for, not a simpy
    process: at a few microseconds a decision, a process's own machinery
    would be a third of the cost.
    """
    lane.deciders = [partial(_decide_on, env, lane, r) for r in range(lane.replications)]

    def first_decisions() -> None:
        for r in range(lane.replications):
            _decide_on(env, lane, r, None)

    soon(env, first_decisions)  # at t = 0, where processes would start


def _decide_on(env: simpy.Environment, lane: Lane, r: int, _event: simpy.Event | None) -> None:
    lane.waiting[r] = None
    if lane.phase[r] not in (DECIDING, PAUSED) or lane.error is not None:
        return
    try:
        decision = lane.ask(r)  # after a pause it sees phase "paused"
    except PluginError as error:
        lane.error = str(error)
        return
    if lane.phase[r] == PAUSED and decision.action == "continue":
        lane.enter(r, DECIDING)
    delay = _apply(env, lane, r, decision)
    if delay is not None:
        _wait_for(lane, r, at(env, env.now + delay, Priority.STRATEGY))


def _wait_for(lane: Lane, r: int, event: simpy.Event) -> None:
    event.callbacks.append(lane.deciders[r])
    lane.waiting[r] = event


def wake(env: simpy.Environment, lane: Lane, r: int) -> None:
    """Make a replication's strategy decide now (after everything else at this instant), not at its wait.

    Nothing happens while it decides (it is not waiting) or once it stopped deciding.
    """
    if _stop_waiting(lane, r):
        _wait_for(lane, r, at(env, env.now, Priority.STRATEGY))


def _stop_waiting(lane: Lane, r: int) -> bool:
    """The strategy no longer decides when its wait is over; False if it was not waiting."""
    event = lane.waiting[r]
    if event is None:
        return False
    event.callbacks.remove(lane.deciders[r])
    lane.waiting[r] = None
    return True


def _apply(env: simpy.Environment, lane: Lane, r: int, decision: Decision) -> float | None:
    """Carry out a decision; returns how long until the strategy decides again (None: never)."""
    if decision.action == "rollback":
        by = decision.by or lane.board.failed(r) or "strategy"
        # A rollback on a watcher's alarm the strategy saw is detected when that alarm fired.
        seen = [alert.time for alert in lane.alerts[r] if alert.watcher == by]
        start_rollback(env, lane, r, by, seen[0] if seen else env.now, decision.style, decision.reason)
        return None
    if decision.action == "done":
        lane.expose(r, lane.everyone(r))
        lane.board.stop_all(r)
        lane.done_at[r] = env.now
        lane.enter(r, DONE)
        return None
    if decision.exposure is not None:
        lane.expose(r, decision.exposure)
    if decision.action == "pause":
        lane.enter(r, PAUSED, decision.reason)
        # At least MIN_WAIT: a strategy that pauses again at once must not stop simulated time.
        return max(MIN_WAIT, lane.people.respond("approver", r, lane.scenario.people.approver, env.now))
    return decision.wait


def alarm(
    env: simpy.Environment,
    lane: Lane,
    r: int,
    watcher: str,
    actor: str,
    config: ResponseTime,
    at_time: float | None = None,
) -> None:
    """A watcher fired; after a person's response time a rollback starts, unless one started first."""
    key = (r, watcher)
    if lane.active(r) and key not in lane.responding:
        lane.respond(r, watcher)
        when = env.now if at_time is None else at_time
        lane.alerts[r] = (*lane.alerts[r], Alert(watcher, when))
        lane.record(r, "alarm", watcher)
        if lane.phase[r] in (DECIDING, PAUSED):
            wake(env, lane, r)  # a strategy that acts on alarms (a kill switch) need not poll for them
        responder(env, lane, r, watcher, when, lane.people.respond(actor, r, config, when))


def responder(env: simpy.Environment, lane: Lane, r: int, watcher: str, alarm_at: float, response: float) -> None:
    """The person who acts on an alarm and rolls the release back, ``response`` seconds later."""

    def act() -> None:
        if lane.active(r):
            start_rollback(env, lane, r, watcher, alarm_at, None, "")

    if response > 0:
        soon(env, lambda: then(at(env, env.now + response, Priority.PEOPLE), act))
    else:
        soon(env, act)


def support(env: simpy.Environment, lane: Lane, r: int, escalation: float) -> None:
    """Support escalates when the k-th user report arrives (unless later reports moved that time)."""

    def escalate() -> None:
        if lane.reports.escalation_time(r) == escalation:
            on_clock = max(env.now, round(escalation / RESOLUTION) * RESOLUTION)  # the alarm time is an event time
            alarm(env, lane, r, "user_reports", "support", lane.scenario.detection.user_reports.response, on_clock)

    if escalation > env.now:
        soon(env, lambda: then(at(env, escalation, Priority.PEOPLE), escalate))
    else:
        soon(env, escalate)


def start_rollback(
    env: simpy.Environment, lane: Lane, r: int, by: str, alarm_at: float, chosen: RollbackStyle | None, reason: str
) -> None:
    """The strategy stops deciding and the rollback runs in its own process."""
    lane.rollback_at[r], lane.alarm_at[r], lane.alarm_by[r] = env.now, alarm_at, by
    lane.enter(r, ROLLING_BACK, by if not reason or reason.startswith(by) else f"{by}: {reason}")
    lane.board.stop_all(r)
    _stop_waiting(lane, r)  # it decides no more
    try:
        style = lane.rollback_style(r, chosen)
    except PluginError as error:
        lane.error = str(error)
        return
    if style.kind == "gradual":
        env.process(gradual_rollback(env, lane, r, style))
    elif style.kind == "redeploy" and style.duration > 0:
        soon(env, lambda: then(at(env, env.now + style.duration, Priority.PEOPLE), lambda: mitigate(env, lane, r)))
    else:
        soon(env, lambda: mitigate(env, lane, r))


def gradual_rollback(env: simpy.Environment, lane: Lane, r: int, style: RollbackStyle) -> Process:
    """Takes the new version out of service step by step."""
    current = lane.plane.exposures[r]
    for step in style.steps:
        shares = {name: min(share, step) for name, share in current.shares}
        lane.expose(r, current.but(shares=tuple(sorted(shares.items()))))
        yield at(env, env.now + style.wait, Priority.PEOPLE)
    mitigate(env, lane, r)


def mitigate(env: simpy.Environment, lane: Lane, r: int) -> None:
    """The new version is out of service: the rollback is complete."""
    lane.expose(r, lane.no_one(r))
    lane.mitigation_at[r] = env.now
    lane.enter(r, MITIGATED)
