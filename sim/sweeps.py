"""Sweeps: every grid point runs every strategy, resumably, into one tidy table.

Each grid point's scenario (and, for a defective release, the same scenario
with a healthy release, to measure what caution costs) is an *item*. A
finished item is written atomically to its own file in the sweep's
directory as soon as it completes, so an interrupted sweep loses nothing:
running the same command again computes only the missing items. The
directory's name carries a digest of the scenario, the grid, the seed, the
replications and the code, so a changed scenario or code version starts a
new directory instead of mixing results.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import util as importlib_util
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.executors import Executor, LocalExecutor, Outcome
from sim.experiments import Progress, as_scenario, collect, comparison_tasks
from sim.grid import Axis, axes_from_table, parse_axis, points, variant
from sim.measures import OUTCOMES
from sim.pareto import pareto_frontier
from sim.plugins import GROUP, check_strategies
from sim.results import METRICS, StrategySummary
from sim.scenario import Scenario, ScenarioError, split_file_reference
from sim.simulation import BLOCK_SIZE
from sim.streaming import STREAM_ABOVE, StrategyStream


@dataclass(frozen=True)
class Item:
    """One scenario variant to run over every strategy."""

    id: str
    scenario: Scenario


@dataclass(frozen=True)
class Point:
    index: int
    values: dict[str, Any]
    defective: str | None  # item id; None when the point's release is healthy
    healthy: str  # item id


@dataclass(frozen=True)
class SweepPlan:
    name: str
    axes: list[Axis]
    seed: int
    replications: int
    out: Path
    directory: Path
    points: list[Point]
    items: dict[str, Item] = field(repr=False)

    def done(self) -> set[str]:
        """Items saved and readable; a damaged file (a crash mid-write elsewhere) counts as not done."""
        return {path.stem for path in (self.directory / "items").glob("*.json") if _readable(path)}

    def pending(self) -> list[Item]:
        done = self.done()
        return [item for item_id, item in self.items.items() if item_id not in done]


def _readable(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:12]


# Presentation only: these cannot change a number, so editing them must not
# throw away a half-done sweep. Everything else in sim/ and strategies/ counts.
_PRESENTATION = {"cli.py", "render.py", "__main__.py"}


def code_version(scenario: Scenario) -> str:
    """A digest of what makes the numbers: the simulator's and strategies' source, strategy files
    given by path, the versions of installed strategy packages, and numpy's version (its draws)."""
    digest = hashlib.sha256(f"numpy {np.__version__}".encode())
    for package in ("sim", "strategies"):
        root = Path(importlib_util.find_spec(package).origin).parent
        for path in sorted(root.rglob("*.py")):
            if path.name not in _PRESENTATION and "tui" not in path.relative_to(root).parts:
                digest.update(path.read_bytes())
    installed = {ep.name: ep for ep in entry_points(group=GROUP)}
    for strategy in scenario.strategies:
        reference = split_file_reference(strategy.plugin)
        if reference:
            path = Path(reference[0])
            digest.update(path.read_bytes() if path.is_file() else reference[0].encode())
        elif strategy.plugin in installed and installed[strategy.plugin].dist is not None:
            dist = installed[strategy.plugin].dist
            digest.update(f"{dist.name} {dist.version}".encode())
    return digest.hexdigest()[:12]


def plan_sweep(scenario: Scenario, axes: list[Axis], seed: int, replications: int, out: Path) -> SweepPlan:
    """Grid points, the items they need, and the sweep's directory (nothing runs yet)."""
    base = scenario.model_dump(by_alias=True, exclude={"sweep"})
    source = f"sweep of {scenario.name}"
    items: dict[str, Item] = {}
    plan_points = []
    for index, values in enumerate(points(axes)):
        point = variant(base, values, source)
        check_strategies(point)  # bad params at any point are bad input: fail before any work
        healthy = point.model_copy(update={"release": point.release.model_copy(update={"defect": None})})
        healthy_id = "healthy-" + _digest(healthy.model_dump(by_alias=True))
        items.setdefault(healthy_id, Item(healthy_id, healthy))
        defective_id = None
        if not point.healthy:
            defective_id = f"point-{index:05d}"
            items[defective_id] = Item(defective_id, point)
        plan_points.append(Point(index, values, defective_id, healthy_id))
    identity = {
        "scenario": base,
        "axes": [(a.path, a.values) for a in axes],
        "seed": seed,
        "replications": replications,
        "code": code_version(scenario),
    }
    directory = out / "sweeps" / f"{scenario.name}-{_digest(identity)}"
    return SweepPlan(scenario.name, axes, seed, replications, out, directory, plan_points, items)


def write_atomically(path: Path, text: str) -> None:
    """Write then rename, with the data on disk first: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


def summary_rows(summaries: dict[str, StrategySummary]) -> list[dict[str, Any]]:
    """Tidy rows (strategy x measure) of one item's summaries."""
    rows = []
    for name, summary in summaries.items():
        for metric in METRICS:
            s = summary.metrics[metric]
            low, high = s.ci95 if s.ci95 else (None, None)
            rows.append(
                dict(
                    strategy=name,
                    measure=metric,
                    mean=s.mean,
                    median=s.median,
                    p95=s.p95,
                    ci_low=low,
                    ci_high=high,
                    n=s.n,
                )
            )
        rows.append(dict(strategy=name, measure="detection_rate", mean=summary.detection_rate, n=summary.reached))
        for outcome in OUTCOMES:
            count = summary.outcomes[outcome]
            rows.append(dict(strategy=name, measure=f"outcome_{outcome}", mean=count / summary.replications, n=count))
    return rows


def run_sweep(plan: SweepPlan, executor: Executor, progress: Progress | None = None) -> dict[str, str]:
    """Run every pending item; each is written as soon as all its tasks are done. Returns plugin errors."""
    for leftover in (plan.directory / "items").glob("*.tmp"):  # from a run killed mid-write
        leftover.unlink()
    pending = plan.pending()
    blocks = -(-plan.replications // BLOCK_SIZE)
    per_item = {item.id: blocks * len(item.scenario.strategies) for item in pending}
    total = sum(per_item.values())
    tasks = (
        task
        for item in pending
        for task in comparison_tasks(item.scenario, item.scenario.strategies, plan.seed, plan.replications, item.id)
    )
    # A large item keeps streamed summaries, not its runs: memory does not grow with replications.
    streamed = (
        plan.replications * max(len(item.scenario.strategies) for item in pending) > STREAM_ABOVE if pending else False
    )
    finished: dict[str, list[Outcome]] = {item_id: [] for item_id in per_item}
    streams: dict[str, dict[str, StrategyStream]] = {}
    counts = dict.fromkeys(per_item, 0)
    errors: dict[str, str] = {}
    for done, outcome in enumerate(executor.run(tasks, total), start=1):
        item_id = outcome.task.key
        counts[item_id] += 1
        if streamed and outcome.error is None:
            names = [spec.name for spec in plan.items[item_id].scenario.strategies]
            item_streams = streams.setdefault(item_id, {name: StrategyStream(METRICS) for name in names})
            item_streams[outcome.task.spec.name].add(outcome.columns)
            outcome = Outcome(outcome.task, {})  # the summary has it: drop the rows
        finished[item_id].append(outcome)
        if counts[item_id] == per_item[item_id]:
            specs = plan.items[item_id].scenario.strategies
            errors.update(_write_item(plan, item_id, finished.pop(item_id), specs, streams.pop(item_id, None)))
        if progress:
            progress(done, total)
    return errors


def _write_item(
    plan: SweepPlan,
    item_id: str,
    outcomes: list[Outcome],
    specs: list,
    streams: dict[str, StrategyStream] | None = None,
) -> dict[str, str]:
    errors = {o.task.spec.name: o.error for o in sorted(outcomes, key=lambda o: -o.task.block) if o.error}
    names = [spec.name for spec in specs if spec.name not in errors]
    if streams is not None:
        summaries = {name: StrategySummary.of_stream(name, streams[name]) for name in names}
    else:
        runs, errors = collect(iter(outcomes))
        summaries = (
            {name: StrategySummary.of(name, runs[runs["strategy"] == name]) for name in names} if len(runs) else {}
        )
    document = {"id": item_id, "rows": summary_rows(summaries), "errors": errors}
    write_atomically(plan.directory / "items" / f"{item_id}.json", json.dumps(document, default=float))
    return errors


def _read_item(plan: SweepPlan, item_id: str) -> dict[str, Any] | None:
    """A saved item, or None if it is missing or unreadable (then it is simply run again)."""
    try:
        return json.loads((plan.directory / "items" / f"{item_id}.json").read_text())
    except (OSError, ValueError):
        return None


_ROW_COLUMNS = ("strategy", "measure", "mean", "median", "p95", "ci_low", "ci_high", "n")


def sweep_table(plan: SweepPlan) -> pd.DataFrame:
    """The tidy table: one row per grid point x release x strategy x measure.

    Built column by column from each item's rows, read once (healthy items are
    shared by many points): a million rows fit in a few hundred MiB.
    """
    cache: dict[str, dict[str, list[Any]]] = {}
    first = ["point", *[axis.path for axis in plan.axes], "release"]
    columns: dict[str, list[Any]] = {name: [] for name in (*first, *_ROW_COLUMNS)}
    for point in plan.points:
        for release, item_id in (("defective", point.defective), ("healthy", point.healthy)):
            if item_id is None:
                continue
            if item_id not in cache:
                rows = (_read_item(plan, item_id) or {}).get("rows", [])
                cache[item_id] = {name: [row.get(name) for row in rows] for name in _ROW_COLUMNS}
            item = cache[item_id]
            count = len(item["strategy"])
            for name, value in (("point", point.index), *point.values.items(), ("release", release)):
                columns[name].extend([value] * count)
            for name in _ROW_COLUMNS:
                columns[name].extend(item[name])
    return pd.DataFrame(columns)


def saved_errors(plan: SweepPlan) -> dict[str, str]:
    """Strategy failures recorded in the saved items (so a resumed sweep still reports them)."""
    errors: dict[str, str] = {}
    for item_id in plan.items:
        errors.update((_read_item(plan, item_id) or {}).get("errors", {}))
    return errors


def write_table(table: pd.DataFrame, out: Path, name: str) -> tuple[Path, Path]:
    """Parquet and CSV under ``out``, each written atomically."""
    parquet, csv = out / f"{name}-sweep.parquet", out / f"{name}-sweep.csv"
    out.mkdir(parents=True, exist_ok=True)
    for path, write in (
        (parquet, lambda p: _parquet_safe(table).to_parquet(p, index=False)),
        (csv, lambda p: table.to_csv(p, index=False)),
    ):
        temporary = path.with_suffix(path.suffix + ".tmp")
        write(temporary)
        os.replace(temporary, path)
    return parquet, csv


def _parquet_safe(table: pd.DataFrame) -> pd.DataFrame:
    # Grid values may mix types (lists, strings, numbers) in one column; Parquet needs one type.
    mixed = [c for c in table.columns if table[c].dtype == object and c not in ("release", "strategy", "measure")]
    return table.assign(**{c: table[c].map(lambda v: None if v is None else json.dumps(v)) for c in mixed})


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: the tidy table, its Pareto frontier, and where they were written."""

    table: pd.DataFrame
    frontier: pd.DataFrame | None  # None for a healthy base scenario (no blast radius to trade)
    directory: Path
    parquet: Path
    csv: Path
    errors: dict[str, str]


def prepare_sweep(
    scenario: Scenario,
    grid: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    out: str | Path = "reports",
) -> SweepPlan:
    """The plan for a grid given as ``PATH=V1,V2`` strings, or else the scenario's [sweep] table."""
    axes = [parse_axis(option) for option in grid or ()]
    if not axes and scenario.sweep is not None:
        axes = axes_from_table(scenario.sweep.grid)
    if not axes:
        raise ScenarioError(f"{scenario.source}: no grid: give --grid PATH=V1,V2 or a [sweep] table")
    _check_axes(axes, scenario.source)
    if replications is None:
        replications = scenario.sweep.replications if scenario.sweep and scenario.sweep.replications else None
    replications = replications or scenario.replications
    plan = plan_sweep(scenario, axes, scenario.seed if seed is None else seed, replications, Path(out))
    check_writable(plan.directory)
    return plan


def check_writable(folder: Path) -> None:
    """Fail now, in one line, if ``folder`` cannot be created or written (not after all the work)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp"):
            pass
    except OSError as error:
        raise ScenarioError(f"--out {folder}: cannot write there: {error.strerror or error}") from None


_NOT_GRID_PATHS = ("name", "seed", "replications", "sweep")  # the sweep itself fixes these


def _check_axes(axes: list[Axis], source: str) -> None:
    problems = []
    paths = [axis.path for axis in axes]
    for path in sorted({p for p in paths if paths.count(p) > 1}):
        problems.append(f"{source}: --grid {path}: given more than once")
    for path in paths:
        parts = path.split(".")
        if parts[0] in _NOT_GRID_PATHS:
            problems.append(f"{source}: --grid {path}: {parts[0]} is set by the sweep, not by a grid axis")
        if parts[0] == "strategies" and len(parts) > 1 and parts[1].isdigit():
            # By name, so that the frontier can tell one strategy's settings from another's.
            problems.append(f"{source}: --grid {path}: name the strategy (strategies.NAME...), not its position")
    if problems:
        raise ScenarioError("\n".join(problems))


def finish_sweep(plan: SweepPlan, errors: dict[str, str]) -> SweepResult:
    """Assemble the table from the saved items, write Parquet and CSV, find the frontier."""
    table = sweep_table(plan)
    parquet, csv = write_table(table, plan.out, plan.name)
    frontier = pareto_frontier(table, plan.axes) if (table["release"] == "defective").any() else None
    return SweepResult(table, frontier, plan.directory, parquet, csv, {**saved_errors(plan), **errors})


def sweep(
    scenario: Scenario | str | Path | None = None,
    grid: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    out: str | Path = "reports",
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run (or resume) a sweep; the same operation as ``rollout-sim sweep``."""
    plan = prepare_sweep(as_scenario(scenario), grid, seed=seed, replications=replications, out=out)
    errors = run_sweep(plan, executor or LocalExecutor(), progress)
    return finish_sweep(plan, errors)
