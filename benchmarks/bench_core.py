"""Speed and memory of the simulation core, beside a naive per-request simpy model.

Run: ``python benchmarks/bench_core.py`` (add ``--quick`` for a smoke run).
Prints its figures; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import simpy

import sim
from sim.engine import run_replication
from sim.plugins import strategy_factory
from sim.population import build_cohorts


def full_day_scenario(users: int | None = None, rate: float | None = None, horizon: float = 86400.0) -> sim.Scenario:
    """The default scenario's service with a healthy release, so a canary runs the whole horizon."""
    base = sim.load_scenario(sim.bundled_scenarios()["default"])
    population = base.population.model_copy(update={"users": users or base.population.users})
    traffic = base.traffic.model_copy(update={"rate": rate or base.traffic.rate})
    return base.model_copy(
        update={
            "horizon": horizon,
            "population": population,
            "traffic": traffic,
            "release": base.release.model_copy(update={"defect": None}),
            "strategies": [s for s in base.strategies if s.name == "canary"],
        }
    )


def engine_day(scenario: sim.Scenario, replications: int) -> dict[str, float]:
    cohorts = build_cohorts(scenario)
    spec = scenario.strategies[0]
    make = strategy_factory(spec)
    requests = 0
    start = time.perf_counter()
    for seed in np.random.SeedSequence(1).spawn(replications):
        measures, _ = run_replication(scenario, cohorts, make, spec.name, seed)
        requests += measures.requests
    wall = time.perf_counter() - start
    return {
        "wall_s_per_run": wall / replications,
        "requests_per_day": requests / replications,
        "requests_per_s": requests / wall,
    }


def naive_model(rate: float, users: int, weight: float, harm: float, horizon: float, seed: int = 1) -> dict[str, float]:
    """One simpy event and one Python decision per request: what the engine avoids."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    harmed_users: set[int] = set()
    counts = {"requests": 0, "harmed": 0}

    def arrivals(env: simpy.Environment):
        while True:
            yield env.timeout(rng.exponential(1.0 / rate))
            counts["requests"] += 1
            user = int(rng.integers(users))
            if rng.random() < weight and rng.random() < harm:
                counts["harmed"] += 1
                harmed_users.add(user)

    env.process(arrivals(env))
    start = time.perf_counter()
    env.run(until=horizon)
    wall = time.perf_counter() - start
    return {"requests": counts["requests"], "requests_per_s": counts["requests"] / wall}


def default_compare() -> dict[str, float]:
    start = time.perf_counter()
    comparison = sim.compare("default")
    wall = time.perf_counter() - start
    runs = comparison.replications * len(comparison.summaries)
    return {"wall_s": wall, "replications": comparison.replications, "runs": runs, "runs_per_s": runs / wall}


def peak_memory(users: int, rate: float, days: float) -> dict[str, float]:
    """Peak resident memory of one run in a fresh process (so earlier work does not count)."""
    code = (
        "import json, resource, sys; sys.path.insert(0, 'benchmarks'); import bench_core as b; "
        f"r = b.engine_day(b.full_day_scenario({users}, {rate}, {days * 86400.0}), 1); "
        "r['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller memory check")
    args = parser.parse_args()
    scenario = full_day_scenario()
    engine = engine_day(scenario, 1 if args.quick else 5)
    naive_seconds = 10.0 if args.quick else 60.0
    naive = naive_model(scenario.traffic.rate, scenario.population.users, 0.05, 0.05, naive_seconds)
    print("default scenario service, healthy canary, one simulated day (one core):")
    print(
        f"  engine: {engine['wall_s_per_run']:.3f} s wall per simulated day, "
        f"{engine['requests_per_day']:.3g} requests, {engine['requests_per_s']:.3g} simulated requests/s"
    )
    print(
        f"  naive per-request simpy ({naive_seconds:.0f} simulated s, {naive['requests']:,} requests): "
        f"{naive['requests_per_s']:.3g} requests/s"
    )
    print(f"  speed-up: {engine['requests_per_s'] / naive['requests_per_s']:,.0f}x")
    if not args.quick:
        result = default_compare()
        print(
            f"default compare: {result['replications']} replications x {result['runs'] // result['replications']} "
            f"strategies in {result['wall_s']:.2f} s ({result['runs_per_s']:.0f} runs/s)"
        )
    users, rate, days = (1_000_000, 10_000.0, 1.0) if args.quick else (10_000_000, 100_000.0, 7.0)
    memory = peak_memory(users, rate, days)
    print(
        f"memory: {users:,} users at {rate:,.0f} requests/s for {days:g} days: "
        f"peak RSS {memory['peak_rss_mib']:.0f} MiB, {memory['requests_per_day']:.3g} requests, "
        f"{memory['wall_s_per_run']:.1f} s wall"
    )
    print(f"(peak RSS of this process so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
