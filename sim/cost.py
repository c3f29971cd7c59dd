"""What a command will cost, said before it starts, and refused past a ceiling unless forced.

The work is blocks (of ``BLOCK_SIZE`` replications) times strategies, each
over the same fixed ticks (one a minute, plus scrapes and edges), plus the
strategies' decisions, which only running them tells. So one block of each
strategy is run for a moment (a pilot, 3 s at most in all) to measure the
pace on this machine; ``validate`` states the tick count alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sim.durations import format_duration
from sim.scenario import Scenario, StrategySpec
from sim.simulation import BLOCK_SIZE, Simulation

CEILING_SECONDS = 3600.0
"""Work estimated above this is refused unless ``--force``."""
MAX_TICKS = 2_000_000
"""Ticks per block above this are refused unless ``--force`` (memory for the tick times, hours of work)."""
SECONDS_PER_TICK = 4e-4
"""Wall seconds of one tick of one block of 64 replications with 6 cohorts on a 2-core machine
(benchmarks/bench_core.py); it grows with the cohorts."""
SECONDS_PER_BLOCK = 1e-3
"""The least a block costs (building it): work over the ceiling at this pace is refused without a pilot."""
PILOT_SECONDS = 1.0
PILOT_TOTAL = 3.0  # seconds of pilot at most, shared by the strategies


@dataclass(frozen=True)
class Work:
    blocks: int
    strategies: int
    ticks: int  # per block, at most
    seconds: float  # estimate on this machine
    measured: bool  # from a pilot, not from the tick count alone

    def describe(self) -> str:
        how = "measured by a pilot block" if self.measured else "from the ticks; decisions not counted"
        return (
            f"work: {self.blocks:,} block{'s' if self.blocks != 1 else ''} of {BLOCK_SIZE} replications x "
            f"{self.strategies} strateg{'ies' if self.strategies != 1 else 'y'}, up to {self.ticks:,} ticks per "
            f"block; about {format_duration(self.seconds)} on this machine ({how})"
        )

    def problem(self) -> str | None:
        """Why this is over the ceiling, or None."""
        if self.ticks > MAX_TICKS:
            return (
                f"{self.ticks:,} ticks per block is over the ceiling of {MAX_TICKS:,} "
                "(scrape less often, or shorten the horizon)"
            )
        if self.seconds > CEILING_SECONDS:
            limit = format_duration(CEILING_SECONDS)
            return f"about {format_duration(self.seconds)} of work is over the ceiling of {limit}"
        return None


def ticks_per_block(scenario: Scenario) -> int:
    """Ticks of one block: minutes, scrapes and edges up to the horizon (without building them)."""
    horizon, interval = scenario.horizon, scenario.telemetry.scrape_interval
    minute, scrape = 60_000_000, max(1, round(interval * 1e6))  # microseconds, the engine's resolution
    both = minute * scrape // math.gcd(minute, scrape)  # scrapes falling on a minute are one tick
    shared = int(horizon * 1e6 // both)
    return int(horizon // 60) + int(horizon // interval) - shared + 2 * len(scenario.traffic.spikes) + 3


def estimate(scenario: Scenario, specs: Sequence[StrategySpec], replications: int, pilot: bool = True) -> Work:
    """The work of running ``specs`` over ``replications``; a pilot block measures it when it is large."""
    blocks = math.ceil(replications / BLOCK_SIZE)
    ticks = ticks_per_block(scenario)
    cohorts = len(scenario.population.segments) * len(scenario.population.rate_classes)
    bound = blocks * len(specs) * ticks * SECONDS_PER_TICK * max(1.0, cohorts / 6)
    least = blocks * len(specs) * SECONDS_PER_BLOCK
    if not pilot or ticks > MAX_TICKS or least > CEILING_SECONDS:
        return Work(blocks, len(specs), ticks, max(bound, least) if least > CEILING_SECONDS else bound, False)
    # Always a pilot: decisions are not in the tick count, and a strategy deciding every millisecond
    # would otherwise run for hours unannounced. A typical block takes milliseconds.
    budget = min(PILOT_SECONDS, PILOT_TOTAL / max(len(specs), 1))
    per_block = sum(_pilot(scenario, spec, budget) for spec in specs)
    return Work(blocks, len(specs), ticks, blocks * per_block, True)


def _pilot(scenario: Scenario, spec: StrategySpec, budget: float) -> float:
    """Wall seconds one block of ``spec`` takes, run for at most ``budget`` seconds and extrapolated."""
    simulation = Simulation(scenario, [spec], events=False)
    if simulation.errors:
        return 0.0
    start = time.perf_counter()
    step = 1.0  # simulated seconds, doubled while the pilot is cheap: a strategy may decide every millisecond
    while simulation.now < scenario.horizon and time.perf_counter() - start < budget:
        simulation.run_until(simulation.now + step)
        if simulation.all_terminal():
            return time.perf_counter() - start
        step = min(step * 2, max(scenario.horizon / 100.0, 60.0))
    spent = time.perf_counter() - start
    done = max(simulation.now, 1e-9) / scenario.horizon
    return spent / min(done, 1.0)


def sweep_estimate(variants: Sequence[Scenario], replications: int) -> Work:
    """The work of a sweep's variants (each its own ticks); a pilot of the first scales the bound when large."""
    if not variants:
        return Work(0, 0, 0, 0.0, False)
    works = [estimate(variant, variant.strategies, replications, pilot=False) for variant in variants]
    bound = sum(work.seconds for work in works)
    first = works[0]
    if bound <= 10 * PILOT_SECONDS or first.ticks > MAX_TICKS:
        return Work(sum(w.blocks for w in works), first.strategies, max(w.ticks for w in works), bound, False)
    measured = estimate(variants[0], variants[0].strategies, replications)
    pace = measured.seconds / first.seconds if first.seconds else 1.0
    return Work(sum(w.blocks for w in works), first.strategies, max(w.ticks for w in works), bound * pace, True)
