"""The control plane: simpy processes for the rollout, scrapes, detectors and rollback.

Each process is a generator that takes ``env`` first and is named for its
actor. One run loop (``run_replication``) runs them until the run finishes:
at the horizon, or when a rollback has taken the new version out of service.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.contract import Decision, Strategy
from sim.dataplane import Streams
from sim.measures import RunMeasures, measure
from sim.plugins import PluginError
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.world import World

Process = Generator[simpy.Event, object, None]


def rollout(env: simpy.Environment, world: World, strategy: Strategy, name: str) -> Process:
    """The strategy: decides at t = 0 and again whenever its last decision's wait is over."""
    while world.deciding:
        world.advance()
        decision = _ask(strategy, world, name)
        if decision.action == "rollback":
            alarm(env, world, "strategy", response=0.0)
            return
        if decision.action == "done":
            world.set_weight(1.0, "done")
            world.done_at = env.now
            return
        if decision.weight is not None and decision.weight != world.plane.weight:
            world.set_weight(decision.weight)
        yield env.timeout(decision.wait)


def _ask(strategy: Strategy, world: World, name: str) -> Decision:
    try:
        decision = strategy.decide(world.observe())
    except Exception as error:  # a plugin's bug must name the plugin, not crash the comparison
        raise PluginError(f"strategy {name!r} raised {type(error).__name__}: {error}") from error
    if not isinstance(decision, Decision):
        raise PluginError(f"strategy {name!r} returned {decision!r}, expected a sim.Decision")
    problem = decision.problem()
    if problem:
        raise PluginError(f"strategy {name!r} returned a bad decision: {problem}")
    return decision


def scraper(env: simpy.Environment, world: World, pending: deque[np.ndarray]) -> Process:
    """Prometheus: snapshots the counters every scrape interval."""
    interval = world.scenario.telemetry.scrape_interval
    while True:
        yield env.timeout(interval)
        world.advance()
        pending.append(world.plane.counters.copy())


def watcher(env: simpy.Environment, world: World, pending: deque[np.ndarray]) -> Process:
    """Detectors that read telemetry: each scrape arrives ``scrape_lag`` after it was taken."""
    telemetry = world.scenario.telemetry
    yield env.timeout(telemetry.scrape_interval + telemetry.scrape_lag)
    escalation_watched: float | None = None
    while True:
        world.log.receive(pending.popleft())
        world.analysis.measure(world.log)
        if world.service_alert.evaluate(world.log, env.now):
            alarm(env, world, "service_alert", world.service_alert.config.response)
        escalation = world.reports.escalation_time()
        if escalation is not None and escalation != escalation_watched:
            escalation_watched = escalation
            env.process(support(env, world, escalation))
        yield env.timeout(telemetry.scrape_interval)


def support(env: simpy.Environment, world: World, escalation: float) -> Process:
    """Support escalates when the k-th user report arrives."""
    if escalation > env.now:
        yield env.timeout(escalation - env.now)
    if world.reports.escalation_time() == escalation:
        alarm(env, world, "user_reports", world.reports.config.response, at=escalation)


def alarm(env: simpy.Environment, world: World, detector: str, response: float, at: float | None = None) -> None:
    """A detector fired; after its response time a rollback starts, unless another started first."""
    if world.rollback_at is None and not world.finished.triggered:
        env.process(responder(env, world, detector, env.now if at is None else at, response))


def responder(env: simpy.Environment, world: World, detector: str, alarm_at: float, response: float) -> Process:
    """The person or controller who acts on an alarm and rolls the release back."""
    if response > 0:
        yield env.timeout(response)
    if world.rollback_at is not None:
        return
    world.rollback_at, world.detection_at, world.detected_by = env.now, alarm_at, detector
    world.advance(f"rollback ({detector})")
    yield env.timeout(world.scenario.rollback.duration)
    world.set_weight(0.0, "mitigated")
    world.mitigation_at = env.now
    world.finish()


def defect_onset(env: simpy.Environment, world: World, delay: float) -> Process:
    """The defect becomes active ``delay`` after rollout start."""
    if delay > 0:
        yield env.timeout(delay)
    world.advance("defect active")
    world.plane.activate_defect()


def horizon(env: simpy.Environment, world: World, until: float) -> Process:
    yield env.timeout(until)
    world.advance("horizon")
    world.finish()


def run_replication(
    scenario: Scenario,
    cohorts: Cohorts,
    make_strategy: Callable[[], Strategy],
    name: str,
    seed: np.random.SeedSequence,
    timeline: bool = False,
) -> tuple[RunMeasures, list[tuple] | None]:
    """Run one strategy for one replication; returns its measures and, if asked, its timeline."""
    strategy = make_strategy()
    unit = getattr(strategy, "unit", "request")
    env = simpy.Environment()
    world = World(env, scenario, cohorts, unit, Streams.of(seed))
    if timeline:
        world.timeline = []
    pending: deque[np.ndarray] = deque()
    if scenario.release.defect is not None:
        env.process(defect_onset(env, world, scenario.release.defect.onset))
    # Started in this order so that, at equal times, a scrape and its detectors
    # come before the strategy's decision: a strategy that checks on the scrape
    # interval sees the scrape of that moment.
    env.process(scraper(env, world, pending))
    env.process(watcher(env, world, pending))
    env.process(rollout(env, world, strategy, name))
    env.process(horizon(env, world, scenario.horizon))
    env.run(until=world.finished)
    return measure(world), world.timeline
