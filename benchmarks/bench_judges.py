"""Speed of every installed judge on a canary judged at every scrape, beside a naive per-replication judge.

Run: ``python benchmarks/bench_judges.py`` (``--quick`` for a smoke run).

Two rows per judge, one process, replications per CPU-second:
- ``default``: the default scenario (its 5% error defect, one-day horizon)
  with one strategy, a day-long canary (5% -> 25% -> 50%, 8 hours each) with
  a baseline arm whose only judge is the one measured, measuring every
  minute; a run ends in effect when its judge (or a watcher) catches the
  defect;
- ``healthy day``: the same canary held at 5% for a whole day on the healthy
  release, so every one of the 1,440 scrapes is judged; and the share of
  that time spent inside the judge's ``measure``.
The naive row is the threshold judge written as a Python loop over
replications (benchmarks/plugins.py:NaiveThreshold). Prints figures; nothing
here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import sim
from sim.executors import InlineExecutor

HERE = Path(__file__).resolve().parent

# Parameters that make each judge look every minute (the others keep their defaults).
PARAMS: dict[str, dict[str, Any]] = {
    "ztest": {"boundary": "obrien-fleming", "looks": 50},
    "kayenta": {"score_every": 10},
}


def _scenario(judge: dict[str, Any], healthy: bool) -> sim.Scenario:
    base = sim.load_scenario(sim.bundled_scenarios()["default"])
    steps, bake = ([0.05], "1d") if healthy else ([0.05, 0.25, 0.5], "8h")  # a day-long canary either way
    spec = {
        "name": "canary",
        "use": "canary",
        "params": {"steps": steps, "bake": bake, "check": "1d" if healthy else "1m", "baseline": True, "judge": "j"},
        "judges": {"j": judge},
    }
    update: dict[str, Any] = {"strategies": [sim.scenario.StrategySpec(**spec)]}
    if healthy:
        update["release"] = base.release.model_copy(update={"defect": None})
    return base.model_copy(update=update)


def _rate(scenario: sim.Scenario, replications: int) -> float:
    sim.compare(scenario, replications=64, executor=InlineExecutor())  # warm: plugin loading, caches
    start = time.process_time()
    comparison = sim.compare(scenario, replications=replications, executor=InlineExecutor())
    if comparison.errors:
        raise SystemExit(f"bench_judges: {comparison.errors}")
    return replications / (time.process_time() - start)


def _judge_share(scenario: sim.Scenario, replications: int) -> float:
    """Share of CPU time spent inside judges' ``measure`` on the healthy day."""
    from sim import judging

    spent = 0.0
    call = judging.JudgeBoard._call

    def timed(board: judging.JudgeBoard, entry: Any, data: Any) -> Any:
        nonlocal spent
        start = time.process_time()
        try:
            return call(board, entry, data)
        finally:
            spent += time.process_time() - start

    judging.JudgeBoard._call = timed  # type: ignore[method-assign]
    try:
        start = time.process_time()
        sim.compare(scenario, replications=replications, executor=InlineExecutor())
        total = time.process_time() - start
    finally:
        judging.JudgeBoard._call = call  # type: ignore[method-assign]
    return spent / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer replications (a smoke run)")
    args = parser.parse_args()
    default_n, day_n = (256, 64) if args.quick else (2048, 256)
    judges = {name: {"use": name, "params": PARAMS.get(name, {})} for name in sim.installed_judges()}
    judges["naive-threshold"] = {"use": f"{HERE / 'plugins.py'}:NaiveThreshold"}
    print(f"{'judge':16s} {'default /s':>11s} {'healthy day /s':>15s} {'in judge':>9s}")
    for name, judge in judges.items():
        default = _rate(_scenario(judge, healthy=False), default_n)
        day = _scenario(judge, healthy=True)
        print(f"{name:16s} {default:11,.0f} {_rate(day, day_n):15,.1f} {_judge_share(day, day_n):9.0%}", flush=True)


if __name__ == "__main__":
    main()
