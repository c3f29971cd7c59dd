"""The control plane: simpy processes for the rollout, scrapes, detectors and rollback.

Each process is a generator that takes ``env`` first and is named for its
actor. A block of replications shares one simpy environment: scrapes and
detectors are one process each for the whole block (their work is numpy
across replications), while each replication has its own strategy and
responders. One run loop (``run_block``) runs them until every replication
has finished: at the horizon, or when a rollback has taken its new version
out of service.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.contract import Decision, Strategy
from sim.dataplane import Streams
from sim.measures import RunMeasures
from sim.plugins import PluginError
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.world import World

Process = Generator[simpy.Event, object, None]


BLOCK_SIZE = 64
"""Replications simulated together. A constant, so that replication k's numbers
depend only on the scenario, the seed and k: never on batch sizes or workers."""


def rollout(env: simpy.Environment, world: World, replication: int, strategy: Strategy, name: str) -> Process:
    """One replication's strategy: decides at t = 0 and again whenever its last wait is over."""
    r = replication
    while world.deciding(r):
        world.advance(r)
        decision = _ask(strategy, world, r, name)
        if decision.action == "rollback":
            alarm(env, world, r, "strategy", response=0.0)
            return
        if decision.action == "done":
            world.set_weight(r, 1.0, "done")
            world.done_at[r] = env.now
            return
        if decision.weight is not None and decision.weight != world.plane.weights[r]:
            world.set_weight(r, decision.weight)
        yield env.timeout(decision.wait)


def _ask(strategy: Strategy, world: World, replication: int, name: str) -> Decision:
    try:
        decision = strategy.decide(world.observe(replication))
    except (Exception, SystemExit) as error:  # a plugin's bug must name the plugin, not end the comparison
        raise PluginError(f"strategy {name!r} raised {type(error).__name__}: {error}") from error
    if not isinstance(decision, Decision):
        raise PluginError(f"strategy {name!r} returned {decision!r}, expected a sim.Decision")
    problem = decision.problem()
    if problem:
        raise PluginError(f"strategy {name!r} returned a bad decision: {problem}")
    return decision


def scraper(env: simpy.Environment, world: World, pending: deque[np.ndarray]) -> Process:
    """Prometheus: snapshots every replication's counters every scrape interval."""
    interval = world.scenario.telemetry.scrape_interval
    while True:
        yield env.timeout(interval)
        world.advance()
        pending.append(world.plane.counters.copy())


def watcher(env: simpy.Environment, world: World, pending: deque[np.ndarray]) -> Process:
    """Detectors that read telemetry: each scrape arrives ``scrape_lag`` after it was taken."""
    telemetry = world.scenario.telemetry
    yield env.timeout(telemetry.scrape_interval + telemetry.scrape_lag)
    watched: dict[int, float] = {}
    while True:
        world.log.receive(pending.popleft())
        world.analysis.measure(world.log)
        fired = world.service_alert.evaluate(world.log, env.now)
        for r in np.flatnonzero(fired).tolist():
            alarm(env, world, r, "service_alert", world.service_alert.config.response)
        for r in sorted(world.reports.changed):
            escalation = world.reports.escalation_time(r)
            if escalation is not None and escalation != watched.get(r):
                watched[r] = escalation
                env.process(support(env, world, r, escalation))
        world.reports.changed.clear()
        yield env.timeout(telemetry.scrape_interval)


def support(env: simpy.Environment, world: World, replication: int, escalation: float) -> Process:
    """Support escalates when the k-th user report arrives."""
    if escalation > env.now:
        yield env.timeout(escalation - env.now)
    if world.reports.escalation_time(replication) == escalation:
        alarm(env, world, replication, "user_reports", world.reports.config.response, at=escalation)


def alarm(
    env: simpy.Environment, world: World, replication: int, detector: str, response: float, at: float | None = None
) -> None:
    """A detector fired; after its response time a rollback starts, unless one started first."""
    key = (replication, detector)
    if world.rollback_at[replication] is None and not world.finished(replication) and key not in world.responding:
        world.responding.add(key)
        env.process(responder(env, world, replication, detector, env.now if at is None else at, response))


def responder(
    env: simpy.Environment, world: World, replication: int, detector: str, alarm_at: float, response: float
) -> Process:
    """The person or controller who acts on an alarm and rolls the release back."""
    r = replication
    if response > 0:
        yield env.timeout(response)
    if world.rollback_at[r] is not None or world.finished(r):
        return
    world.rollback_at[r], world.detection_at[r], world.detected_by[r] = env.now, alarm_at, detector
    world.advance(r, f"rollback ({detector})")
    yield env.timeout(world.scenario.rollback.duration)
    world.set_weight(r, 0.0, "mitigated")
    world.mitigation_at[r] = env.now
    world.finish(r)


def defect_onset(env: simpy.Environment, world: World, delay: float) -> Process:
    """The defect becomes active ``delay`` after rollout start."""
    if delay > 0:
        yield env.timeout(delay)
    world.advance(event="defect active")
    world.plane.activate_defect()


def horizon(env: simpy.Environment, world: World, until: float) -> Process:
    yield env.timeout(until)
    world.advance(event="horizon")
    for r in range(world.replications):
        world.finish(r)


def run_block(
    scenario: Scenario,
    cohorts: Cohorts,
    make_strategy: Callable[[], Strategy],
    name: str,
    seed: np.random.SeedSequence,
    traced: int | None = None,
) -> tuple[list[RunMeasures], list[tuple]]:
    """Run one strategy for one block of ``BLOCK_SIZE`` replications.

    Returns each replication's measures and, if ``traced`` names a replication,
    that replication's timeline (one row per control step).
    """
    strategies = [make_strategy() for _ in range(BLOCK_SIZE)]
    unit = getattr(strategies[0], "unit", "request")
    env = simpy.Environment()
    world = World(env, scenario, cohorts, BLOCK_SIZE, unit, Streams.of(seed), traced)
    pending: deque[np.ndarray] = deque()
    if scenario.release.defect is not None:
        env.process(defect_onset(env, world, scenario.release.defect.onset))
    # Started in this order so that, at equal times, a scrape and its detectors
    # come before the strategies' decisions: a strategy that checks on the
    # scrape interval sees the scrape of that moment.
    env.process(scraper(env, world, pending))
    env.process(watcher(env, world, pending))
    for r, strategy in enumerate(strategies):
        env.process(rollout(env, world, r, strategy, name))
    env.process(horizon(env, world, scenario.horizon))
    env.run(until=world.all_finished)
    return world.measures, world.timeline
