"""A steppable simulation: every strategy of a scenario over one block of replications.

``Simulation`` is what ``compare``, ``run`` and the terminal UI drive::

    simulation = Simulation(scenario, block=0)
    simulation.subscribe(print)          # every event as it happens
    simulation.run_until(600)            # ten simulated minutes
    simulation.snapshot()                # a DataFrame: strategy x replication, as of now
    simulation.run_until(scenario.horizon)
    simulation.measures()                # RunMeasures per strategy and replication

Stepping changes nothing: running to t1 then to t2 gives exactly what
running to t2 gives. Replication k of block b depends only on the scenario,
the seed and k; every strategy shares the block's traffic, baseline errors
and people (common random numbers).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
import simpy

from sim.contract import Exposure
from sim.defects import DefectModel
from sim.engine import RESOLUTION, Priority, at, receive, start_strategies, ticker
from sim.lane import PHASES, Event, Lane, describe, longest_watcher_window
from sim.latency import LatencyModel
from sim.measures import RunMeasures, measure, measure_columns
from sim.people import People
from sim.plugins import PluginError, judge_factories, strategy_factory
from sim.population import build_cohorts
from sim.scenario import Scenario, StrategySpec
from sim.telemetry import BASELINE, ERRORS, NEW, REQUESTS, STABLE, history, scrapes_in
from sim.traffic import Clock

P = ParamSpec("P")
R = TypeVar("R")

BLOCK_SIZE = 64
"""Replications simulated together. A constant, so that replication k's numbers
depend only on the scenario, the seed and k: never on batch sizes or workers."""

_FACTORIES: dict[tuple[int, int], tuple[Scenario, StrategySpec, tuple]] = {}
_SHARED = ("cells", "splits", "errors", "history", "telemetry", "release")
_PER_LANE = ("routing", "harm", "reports")


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """The seed of block ``block``: ``SeedSequence(seed).spawn(n)[block]`` for any n > block."""
    return np.random.SeedSequence(seed, spawn_key=(block,))


def _carriers(scenario: Scenario, replications: int, streams: dict[str, np.random.Generator]) -> np.ndarray:
    """Which replications' releases carry the defect (a mix when ``release.defective_share`` < 1)."""
    release = scenario.release
    if release.defect is None:
        return np.zeros(replications, dtype=bool)
    if release.defective_share >= 1.0:
        return np.ones(replications, dtype=bool)
    return streams["release"].random(replications) < release.defective_share


class _Streams(dict):
    """Independent streams per purpose; derived without ``spawn()`` so every lane gets the same ones.

    Each is made when first asked for: a generator costs about as much as a tick, and some purposes
    (a mix of releases, missing scrapes) draw nothing in most scenarios.
    """

    def __init__(self, seed: np.random.SeedSequence, names: Sequence[str], offset: int) -> None:
        super().__init__()
        self._seed = seed
        self._offsets = {name: offset + k for k, name in enumerate(names)}

    def __missing__(self, name: str) -> np.random.Generator:
        seed = self._seed
        child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, self._offsets[name]))
        stream = self[name] = np.random.default_rng(child)
        return stream


def _streams(seed: np.random.SeedSequence, names: Sequence[str], offset: int) -> dict[str, np.random.Generator]:
    """The streams named ``names`` of ``seed``, numbered from ``offset`` (made when first used)."""
    return _Streams(seed, names, offset)


def _collector_paused(method: Callable[P, R]) -> Callable[P, R]:
    """Python's cycle collector off while ``method`` builds or runs a block.

    A block makes almost no reference cycles (about ten), yet its
    allocations trigger collections that walk every object of the process:
    8% of a short block's time, for nothing. Memory is still freed by
    reference counting; the few cycles go at the next collection after.
    """

    @functools.wraps(method)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


class Simulation:
    """Strategies side by side over one block of replications, advanced with ``run_until``."""

    @_collector_paused
    def __init__(
        self,
        scenario: Scenario,
        strategies: Sequence[StrategySpec | str] | None = None,
        *,
        seed: int | None = None,
        block: int = 0,
        replications: int = BLOCK_SIZE,
        events: bool = True,
    ) -> None:
        """``events=False`` keeps no events and calls no subscribers (faster, for ``compare``)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.block = block
        self.replications = replications
        self.env = simpy.Environment()
        self.events: list[Event] = []
        self.errors: dict[str, str] = {}
        self._subscribers: list[Callable[[Event], None]] = []
        self.recording: list[pd.DataFrame] = []
        root = block_seed(self.seed, block)
        shared = _streams(root, _SHARED, 0)
        cohorts = build_cohorts(scenario)
        self.cohorts = cohorts
        telemetry = scenario.telemetry
        rates = (telemetry.baseline_error_rate, telemetry.baseline_slow_rate)
        self.defective = _carriers(scenario, replications, shared)
        self.defect = DefectModel(scenario, cohorts, self.defective)
        self.latency = LatencyModel.of(scenario)
        spikes = [edge for spike in scenario.traffic.spikes for edge in (spike.at, spike.at + spike.duration)]
        self.clock = Clock(
            cohorts,
            replications,
            scenario.horizon,
            telemetry.scrape_interval,
            [*spikes, *self.defect.edges],
            rates,
            shared,
            self.latency,
        )
        self._shared = shared
        by_name = {spec.name: spec for spec in scenario.strategies}
        specs = [
            by_name[s] if isinstance(s, str) else s for s in (scenario.strategies if strategies is None else strategies)
        ]
        built = {spec.name: self._build(spec) for spec in specs}
        past = history(
            cohorts,
            replications,
            _history_scrapes(scenario),
            telemetry.scrape_interval,
            rates,
            shared["history"],
            self.latency,
        )
        self.lanes: list[Lane] = []
        for spec in specs:
            if built[spec.name] is None:
                continue
            make, judges = built[spec.name]
            try:
                lane = Lane(
                    self.env, scenario, cohorts, spec.name, [make() for _ in range(replications)], judges,
                    # Each lane its own people, from the same seed: the k-th answer is the same for every strategy.
                    _streams(root, _PER_LANE, 100), People(root, scenario.traffic.start_hour), past,
                    self._publish if events else None,
                )  # fmt: skip
            except PluginError as error:  # a constructor or judge that fails on a later build
                self.errors[spec.name] = str(error)
                continue
            lane.defective = self.defective
            self.lanes.append(lane)
        self.env.process(ticker(self.env, self))
        for lane in self.lanes:
            start_strategies(self.env, lane)

    def _build(self, spec: StrategySpec) -> tuple | None:
        key = (id(self.scenario), id(spec))
        known = _FACTORIES.get(key)
        if known is not None and known[0] is self.scenario and known[1] is spec:
            return known[2]  # every block of a comparison builds the same: load and check once
        try:
            built = strategy_factory(spec), judge_factories(self.scenario, spec)
        except PluginError as error:
            self.errors[spec.name] = str(error)
            return None
        if len(_FACTORIES) > 64:
            _FACTORIES.clear()
        _FACTORIES[key] = (self.scenario, spec, built)
        return built

    # -- running ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return float(self.env.now)

    @_collector_paused
    def run_until(self, time: float) -> None:
        """Advance to ``time`` (at most the horizon); everything before ``time`` has happened."""
        time = min(float(time), self.scenario.horizon)
        if time > self.env.now:
            self.env.run(until=time)
        self._collect_errors()

    @_collector_paused
    def run(self) -> None:
        """Advance to the horizon, and past its last tick."""
        self.run_until(self.scenario.horizon)
        self.env.run(until=self.scenario.horizon + 2 * RESOLUTION)  # the horizon's own tick
        self._collect_errors()

    def _collect_errors(self) -> None:
        for lane in self.lanes:
            if lane.error is not None:
                self.errors.setdefault(lane.name, lane.error)

    def live_lanes(self) -> list[Lane]:
        return [lane for lane in self.lanes if lane.error is None]

    def all_terminal(self) -> bool:
        return all(lane.settled or lane.error is not None for lane in self.lanes)

    def scrape(self, time: float) -> None:
        """Take a scrape of every lane; it reaches judges and watchers after the scrape lag."""
        telemetry = self.scenario.telemetry
        if telemetry.missing_scrapes > 0:
            missing = self._shared["telemetry"].random(self.replications) < telemetry.missing_scrapes
        else:  # never below 0: skipping the draw changes nothing (the stream serves these draws only)
            missing = np.zeros(self.replications, dtype=bool)
        if any(gap.at <= time < gap.at + gap.duration for gap in telemetry.gaps):
            missing[:] = True
        snapshots = [lane.plane.counters + lane.history_end for lane in self.lanes]
        arrival = at(self.env, time + telemetry.scrape_lag, Priority.TELEMETRY)
        arrival.callbacks.append(lambda _: self._deliver(snapshots, missing))

    def _deliver(self, snapshots: list[np.ndarray], missing: np.ndarray) -> None:
        for lane, snapshot in zip(self.lanes, snapshots, strict=True):
            if lane.error is None:
                receive(self.env, lane, snapshot, missing)

    # -- watching --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for every event from now on (exposure, pause, verdict, alarm, ...)."""
        self._subscribers.append(callback)

    def _publish(self, event: Event) -> None:
        self.events.append(event)
        for callback in self._subscribers:
            callback(event)

    def record(self, every: float) -> None:
        """Append a snapshot to ``recording`` every ``every`` simulated seconds (at least 1) from now on."""
        if not every >= 1.0:
            raise ValueError(f"record every must be at least 1 second, got {every!r}")

        def recorder(env: simpy.Environment):
            while True:
                self.recording.append(self.snapshot())
                yield at(env, env.now + every, Priority.STRATEGY)

        self.env.process(recorder(self.env))

    def snapshot(self) -> pd.DataFrame:
        """Per strategy and replication, as of the last tick: phase, exposure, traffic, harm, verdicts."""
        return pd.DataFrame(self.snapshot_rows())

    def snapshot_rows(self) -> list[dict]:
        """``snapshot()`` as plain rows (one dict per strategy and replication): cheaper, for a live view.

        ``shares`` holds the new version's share of each segment, for
        strategies that target segments."""
        rows = []
        segments = list(self.cohorts.segment_names)
        for lane in self.lanes:
            plane = lane.plane
            totals = plane.counters.sum(axis=1)
            harmed_users, exposed_users = plane.bands.harmed_users, plane.bands.exposed_users
            for r in range(self.replications):
                rows.append(
                    {
                        "strategy": lane.name,
                        "replication": self.block * BLOCK_SIZE + r,
                        "time_s": self.now,
                        "phase": PHASES[lane.phase[r]],
                        "exposure": describe(plane.exposures[r]),
                        "weight": plane.exposures[r].weight,
                        "shares": _served_shares(plane.exposures[r], segments),
                        "requests": int(plane.requests[r]),
                        "new_requests": int(totals[r, NEW, REQUESTS]),
                        "new_errors": int(totals[r, NEW, ERRORS]),
                        "stable_requests": int(totals[r, STABLE, REQUESTS]),
                        "stable_errors": int(totals[r, STABLE, ERRORS]),
                        "baseline_requests": int(totals[r, BASELINE, REQUESTS]),
                        "baseline_errors": int(totals[r, BASELINE, ERRORS]),
                        "harmed_requests": int(plane.harmed_requests[r]),
                        "harmed_users": int(harmed_users[r]),
                        "exposed_users": int(exposed_users[r]),
                        "verdicts": ", ".join(f"{n}={v.verdict}" for n, v in lane.board.views(r).items()),
                        "events": sum(1 for e in self.events if e.strategy == lane.name and e.replication == r),
                    }
                )
        return rows

    def measures(self) -> dict[str, list[RunMeasures]]:
        """The measures of every replication of every strategy that ran, as they stand now."""
        now = min(self.now, self.scenario.horizon)
        return {lane.name: [measure(lane, r, now) for r in range(self.replications)] for lane in self.live_lanes()}

    def measure_columns(self) -> dict[str, dict[str, list]]:
        """The same measures as columns (field -> one value per replication), built without per-run objects."""
        now = min(self.now, self.scenario.horizon)
        return {lane.name: measure_columns(lane, now) for lane in self.live_lanes()}


def _served_shares(exposure: Exposure, segments: list[str]) -> dict[str, float]:
    """The share of each segment's requests the new version serves (mirrored or preview traffic serves none)."""
    serving = exposure.mode == "serve"
    return {name: exposure.share(name) if serving else 0.0 for name in segments}


def _history_scrapes(scenario: Scenario) -> int:
    """Scrapes of stable history before t = 0: the longest window of a watcher or of the default analysis.

    It depends on the scenario alone, so a strategy's numbers never depend on
    which other strategies run beside it; a judge with a longer window sees
    only this much history.
    """
    detection = scenario.detection
    longest = max(longest_watcher_window(scenario), detection.analysis.window)
    return scrapes_in(longest, scenario.telemetry.scrape_interval)
