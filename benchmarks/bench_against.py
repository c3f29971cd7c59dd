"""Replications per CPU-second of this checkout against another one (say Engine v1), interleaved.

Run: ``git worktree add /tmp/v1 30b1646`` (Engine v1), then
``python benchmarks/bench_against.py /tmp/v1 --strategies bigbang,canary,flag-canary --rounds 5``.
Each round runs both checkouts in fresh processes, one after the other, on the default scenario
(a warm-up compare, then 2,048 replications inline, process CPU time); the machine's drift cancels out
of the per-round ratio, whose median is printed. Prints figures; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PROBE = """
import gc, sys, time
import sim
from sim.executors import InlineExecutor
scenario = sim.load_scenario(sim.bundled_scenarios()["default"])
for name in sys.argv[1].split(","):
    sim.compare(scenario, replications=128, strategies=[name], executor=InlineExecutor())
    gc.collect()
    start = time.process_time()
    sim.compare(scenario, replications=2048, strategies=[name], executor=InlineExecutor())
    print(name, 2048 / (time.process_time() - start))
"""


def rates(checkout: Path, strategies: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, strategies],
        cwd=checkout,
        env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines() if line)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--strategies", default="bigbang,canary,flag-canary")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    names = args.strategies.split(",")
    here: dict[str, list[float]] = {name: [] for name in names}
    there: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name, value in rates(HERE, args.strategies).items():
            here[name].append(value)
        for name, value in rates(args.other, args.strategies).items():
            there[name].append(value)
    print(f"replications per CPU-second, default scenario, median of {args.rounds} interleaved rounds:")
    for name in names:
        ratio = statistics.median(a / b for a, b in zip(here[name], there[name], strict=True))
        print(
            f"  {name:12s} this {statistics.median(here[name]):7,.0f}   other {statistics.median(there[name]):7,.0f}"
            f"   this/other {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
