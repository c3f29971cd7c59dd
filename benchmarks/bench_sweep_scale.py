"""Time and memory of planning a 10,000-point sweep and building its table and frontier.

Run: ``python benchmarks/bench_sweep_scale.py``. The items are copies of one
real item file each (running 10,000 points for real would take hours); the
table, the frontier and the plan are built exactly as a real sweep builds them.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import sim
from sim.executors import InlineExecutor
from sim.sweeps import prepare_sweep, run_sweep, sweep_frontier, sweep_table


def main() -> None:
    scenario = sim.load_scenario(sim.bundled_scenarios()["sweep"])
    out = Path(tempfile.mkdtemp(prefix="sweep-scale-"))
    try:
        seed = prepare_sweep(scenario, ["strategies.canary.bake=5m"], replications=64, out=out / "seed")
        run_sweep(seed, InlineExecutor())
        items = seed.directory / "items"
        defective = next(items.glob("point-*.json")).read_text()
        healthy = next(items.glob("healthy-*.json")).read_text()
        grid = [
            "strategies.canary.steps.0=" + ",".join(str(0.001 * i) for i in range(1, 101)),
            "strategies.canary.bake=" + ",".join(f"{m}m" for m in range(1, 101)),
        ]
        start = time.perf_counter()
        plan = prepare_sweep(scenario, grid, out=out)
        planned = time.perf_counter() - start
        (plan.directory / "items").mkdir(parents=True)
        for item_id in plan.items:
            text = defective if item_id.startswith("point") else healthy
            (plan.directory / "items" / f"{item_id}.json").write_text(text)
        start = time.perf_counter()
        table = sweep_table(plan)
        tabled = time.perf_counter() - start
        start = time.perf_counter()
        sweep_frontier(table, plan.axes)
        frontier = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{len(plan.points):,} points, {len(plan.items):,} items: plan {planned:.1f} s, "
            f"table {tabled:.1f} s ({len(table):,} rows), frontier {frontier:.1f} s, peak RSS {peak:.0f} MiB"
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
