"""Speed and memory of the simulator, beside a naive per-request simpy model in the same run.

Run: ``python benchmarks/bench_core.py`` (``--quick`` for a smoke run).
Prints its figures; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

import sim
from sim.executors import InlineExecutor
from sim.simulation import BLOCK_SIZE, Simulation

HERE = Path(__file__).resolve().parent


def full_day_scenario(users: int | None = None, rate: float | None = None, horizon: float = 86400.0) -> sim.Scenario:
    """The default scenario's service with a healthy release, so a canary runs the whole horizon."""
    base = sim.load_scenario(sim.bundled_scenarios()["default"])
    return base.model_copy(
        update={
            "horizon": horizon,
            "population": base.population.model_copy(update={"users": users or base.population.users}),
            "traffic": base.traffic.model_copy(update={"rate": rate or base.traffic.rate}),
            "release": base.release.model_copy(update={"defect": None}),
            "strategies": [s for s in base.strategies if s.name == "canary"],
        }
    )


def engine_full_horizon(scenario: sim.Scenario, blocks: int) -> dict[str, float]:
    """Blocks of replications that each run the whole horizon."""
    requests = 0
    start = time.perf_counter()
    for block in range(blocks):
        simulation = Simulation(scenario, seed=1, block=block)
        simulation.run()
        requests += sum(m.requests for m in simulation.measures()[scenario.strategies[0].name])
    wall = time.perf_counter() - start
    runs = blocks * BLOCK_SIZE
    return {"wall_s_per_run": wall / runs, "requests_per_run": requests / runs, "requests_per_s": requests / wall}


def periodic_scenario(**params: object) -> sim.Scenario:
    """The default service for one day, healthy, with one strategy from benchmarks/plugins.py:Periodic."""
    base = full_day_scenario()
    spec = {"name": "periodic", "use": f"{HERE / 'plugins.py'}:Periodic", "params": params}
    return base.model_copy(update={"strategies": [sim.scenario.StrategySpec(**spec)]})


def block_seconds(scenario: sim.Scenario, repeats: int = 3) -> float:
    """Wall seconds of one block (64 replications) over the whole horizon, best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        Simulation(scenario, seed=1).run()
        best = min(best, time.perf_counter() - start)
    return best


def interleaving_ratios(repeats: int) -> dict[str, float]:
    """Cost of decision times that differ between replications, and of fine sticky ramps."""
    aligned = block_seconds(periodic_scenario(every=60.0), repeats)
    phased = block_seconds(periodic_scenario(every=60.0, phase=True), repeats)
    request_ramp = block_seconds(periodic_scenario(weight=0.002, ramp=0.002, unit="request"), repeats)
    sticky_ramp = block_seconds(periodic_scenario(weight=0.002, ramp=0.002, unit="user"), repeats)
    return {
        "aligned": aligned,
        "phased": phased,
        "request_ramp": request_ramp,
        "sticky_ramp": sticky_ramp,
    }


def naive_model(rate: float, users: int, weight: float, harm: float, horizon: float) -> dict[str, float]:
    """One simpy event and a few Python draws per request: what the engine avoids."""
    rng = np.random.default_rng(1)
    env = simpy.Environment()
    harmed_users: set[int] = set()
    counts = {"requests": 0}

    def arrivals(env: simpy.Environment):
        while True:
            yield env.timeout(rng.exponential(1.0 / rate))
            counts["requests"] += 1
            user = int(rng.integers(users))
            if rng.random() < weight and rng.random() < harm:
                harmed_users.add(user)

    env.process(arrivals(env))
    start = time.perf_counter()
    env.run(until=horizon)
    return {"requests": counts["requests"], "requests_per_s": counts["requests"] / (time.perf_counter() - start)}


def replications_per_second(replications: int) -> dict[str, float]:
    """Default scenario, each built-in strategy alone, in this process (one core)."""
    rates = {}
    sim.compare("default", replications=64, executor=InlineExecutor())  # first-use imports are not the engine
    for spec in sim.load_scenario(sim.bundled_scenarios()["default"]).strategies:
        gc.collect()  # the garbage of the previous strategy is not this one's cost
        start = time.perf_counter()
        sim.compare("default", replications=replications, strategies=[spec.name], executor=InlineExecutor())
        rates[spec.name] = replications / (time.perf_counter() - start)
    return rates


BUILT_INS = ("bigbang", "canary", "flag-canary", "rings", "bluegreen")


def compare_process_rate(strategy: str, replications: int) -> float:
    """Replications per second of ``rollout-sim compare`` (one worker) as a whole process, start-up
    subtracted: (N - 64) / (time for N - time for 64), each the best of three."""

    def seconds(count: int) -> float:
        command = [sys.executable, "-m", "sim", "compare", "default", "--strategy", strategy]
        command += ["-n", str(count), "--workers", "1", "--json"]
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            best = min(best, time.perf_counter() - start)
        return best

    return (replications - 64) / (seconds(replications) - seconds(64))


def timed_compare(replications: int, executor: object) -> float:
    start = time.perf_counter()
    sim.compare("default", replications=replications, executor=executor)
    return time.perf_counter() - start


def worker_speedup(replications: int) -> tuple[float, float]:
    """Wall seconds of the default compare on 1 and on 2 local workers, each the best of three,
    in a fresh process as a user's command would run (a parent that grew here forks slower)."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import bench_core as b; "
        "from sim.executors import InlineExecutor, LocalExecutor; "
        f"one = min(b.timed_compare({replications}, InlineExecutor()) for _ in range(3)); "
        f"two = min(b.timed_compare({replications}, LocalExecutor(workers=2, inline_below=0.0)) for _ in range(3)); "
        "print(json.dumps([one, two]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    one, two = json.loads(out.stdout)
    return one, two


def peak_memory(users: int, rate: float, days: float) -> dict[str, float]:
    """Peak resident memory of one block in a fresh process (so earlier work does not count)."""
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(HERE)!r}); import bench_core as b; "
        f"r = b.engine_full_horizon(b.full_day_scenario({users}, {rate}, {days * 86400.0}), 1); "
        "r['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    quick = parser.parse_args().quick

    scenario = full_day_scenario()
    engine = engine_full_horizon(scenario, 1 if quick else 3)
    naive_seconds = 10.0 if quick else 60.0
    naive = naive_model(scenario.traffic.rate, scenario.population.users, 0.05, 0.05, naive_seconds)
    print("default scenario service (1M users, 2,000 req/s), healthy canary, one simulated day, one core:")
    print(
        f"  engine: {engine['wall_s_per_run'] * 1e3:.1f} ms wall per replication-day, "
        f"{engine['requests_per_run']:.3g} requests each, {engine['requests_per_s']:.3g} simulated requests/s"
    )
    print(
        f"  naive per-request simpy ({naive_seconds:.0f} simulated s, {naive['requests']:,} requests): "
        f"{naive['requests_per_s']:.3g} requests/s"
    )
    print(f"  speed-up: {engine['requests_per_s'] / naive['requests_per_s']:,.0f}x")

    ratios = interleaving_ratios(1 if quick else 3)
    print("one block of 64 replications, one simulated day, default service, decisions every 60 s (best of 3):")
    print(
        f"  aligned {ratios['aligned']:.2f} s, random phase per replication {ratios['phased']:.2f} s: "
        f"ratio {ratios['phased'] / ratios['aligned']:.2f} (target <= 1.5)"
    )
    print(
        f"  ramp in 0.2% steps: per request {ratios['request_ramp']:.2f} s, sticky {ratios['sticky_ramp']:.2f} s: "
        f"ratio {ratios['sticky_ramp'] / ratios['request_ramp']:.2f} (target <= 2)"
    )

    rates = replications_per_second(256 if quick else 2048)
    print("default scenario (defect caught), replications per second per core, in this process:")
    for name, rate in rates.items():
        print(f"  {name:<12} {rate:,.0f}")
    count = 1024 if quick else 8192
    print(f"default scenario, whole `compare` process, one worker, start-up subtracted ({count} replications):")
    for name in BUILT_INS:
        print(f"  {name:<12} {compare_process_rate(name, count):,.0f} (target >= 5,000)")

    replications = 200 if quick else 8000
    one, two = worker_speedup(replications)
    print(
        f"default compare, {replications} replications x 3 strategies (best of 3): 1 worker {one:.2f} s, "
        f"2 workers {two:.2f} s, speed-up {one / two:.2f}x (cores: {os.cpu_count()})"
    )
    print(f"default compare as shipped (200 replications): {timed_compare(200, None):.2f} s")

    users, rate, days = (1_000_000, 10_000.0, 1.0) if quick else (10_000_000, 100_000.0, 7.0)
    memory = peak_memory(users, rate, days)
    print(
        f"memory: {users:,} users at {rate:,.0f} req/s for {days:g} days, one block of {BLOCK_SIZE} replications: "
        f"peak RSS {memory['peak_rss_mib']:.0f} MiB, {memory['requests_per_run']:.3g} requests per replication"
    )


if __name__ == "__main__":
    main()
