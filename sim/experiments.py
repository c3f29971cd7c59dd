"""Running strategies: one replication with its timeline (``run``) or many side by side (``compare``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sim.catalog import resolve_scenario
from sim.engine import Priority, at
from sim.executors import Executor, LocalExecutor, Outcome, Task
from sim.importers import import_file
from sim.lane import Event, Lane, describe
from sim.measures import RunMeasures
from sim.plugins import check_strategies
from sim.population import build_cohorts
from sim.results import METRICS, Comparison, RunEnd, RunResult, StrategySummary
from sim.scenario import Scenario, ScenarioError, StrategySpec, load_scenario, split_file_reference
from sim.simulation import BLOCK_SIZE, Simulation
from sim.streaming import STREAM_ABOVE, StrategyStream
from sim.telemetry import ERRORS, NEW

TIMELINE_COLUMNS = (
    "time_s",
    "weight",
    "exposure",
    "requests",
    "new_requests",
    "new_errors",
    "harmed_requests",
    "exposed_users",
    "harmed_users",
    "event",
)

Progress = Callable[[int, int], None]
"""Called with the runs (replication x strategy) finished so far and the total."""


def as_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    """A Scenario object from an object, a file path, a bundled name, or None (the default)."""
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(resolve_scenario(scenario))


def select_strategies(scenario: Scenario, names: Sequence[str | StrategySpec] | None) -> list[StrategySpec]:
    """The scenario's strategies, or those named; a name not in the scenario may be any installed one,
    a preset, ``path/file.py:Class``, or an Argo Rollout / Flagger Canary file (``.yaml``)."""
    if not names:
        return list(scenario.strategies)
    by_name = {spec.name: spec for spec in scenario.strategies}
    specs = []
    for name in names:
        if isinstance(name, StrategySpec):
            specs.append(name)
        elif name.endswith((".yaml", ".yml")):
            specs.extend(import_file(name).specs)
        elif name in by_name:
            specs.append(by_name[name])
        else:
            specs.append(_named(name))
    return specs


def _named(name: str) -> StrategySpec:
    """A strategy given only by name on the command line: installed, a preset, or path/file.py:Class."""
    try:
        return StrategySpec(name=_label(name), use=name)
    except ValidationError:
        raise ScenarioError(f"--strategy: expected a strategy name or path/file.py:Class, got {name!r}") from None


def _label(reference: str) -> str:
    """A file strategy is labelled by its class name in results."""
    file_reference = split_file_reference(reference)
    return file_reference[1] if file_reference and file_reference[1] else reference


def comparison_tasks(
    scenario: Scenario, specs: Sequence[StrategySpec], seed: int, replications: int, key: object = None
) -> list[Task]:
    """Every strategy on every block that holds one of the first ``replications`` replications."""
    blocks = -(-replications // BLOCK_SIZE)
    return [
        Task(scenario, spec, seed, block, min(BLOCK_SIZE, replications - block * BLOCK_SIZE), key)
        for block in range(blocks)
        for spec in specs
    ]


def _each_result(
    outcomes: Iterable[Outcome], take: Callable[[Outcome], None], progress: Progress | None, total: int
) -> dict[str, str]:
    """Hand every finished task's rows to ``take``; returns the first error per strategy."""
    errors: dict[str, tuple[int, str]] = {}
    done = 0
    for outcome in outcomes:
        task = outcome.task
        if outcome.error is not None:
            # Completion order varies between executors; report the error of the earliest block.
            if task.spec.name not in errors or task.block < errors[task.spec.name][0]:
                errors[task.spec.name] = (task.block, outcome.error)
        else:
            take(outcome)
        done += task.keep
        if progress:
            progress(done, total)
    return {name: error for name, (_, error) in errors.items()}


def collect(outcomes: Iterable[Outcome], progress: Progress | None = None, total: int = 0) -> tuple[pd.DataFrame, dict]:
    """Rows of finished tasks as one DataFrame in replication order, and the first error per strategy."""
    columns: dict[tuple[int, str], dict[str, list]] = {}

    def take(outcome: Outcome) -> None:
        columns[(outcome.task.block, outcome.task.spec.name)] = outcome.columns

    errors = _each_result(outcomes, take, progress, total)
    parts = [columns[key] for key in sorted(columns)]
    frame = pd.DataFrame({name: [v for part in parts for v in part[name]] for name in parts[0]} if parts else {})
    if len(frame):
        frame = frame.sort_values("replication", kind="stable", ignore_index=True)
    return frame, errors


def compare(
    scenario: Scenario | str | Path | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    strategies: Sequence[str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Comparison:
    """Run every strategy on the same replications (common random numbers) and summarise them.

    ``workers``: local processes (default: all cores; small jobs stay in this
    process). ``executor`` overrides it (e.g. a Dask executor). The numbers
    never depend on either.
    """
    scenario = as_scenario(scenario)
    seed = scenario.seed if seed is None else seed
    replications = scenario.replications if replications is None else replications
    if replications < 1:
        raise ScenarioError(f"replications must be at least 1, got {replications}")
    specs = select_strategies(scenario, strategies)
    check_strategies(scenario, specs)  # bad names and params are bad input: fail before any work
    tasks = comparison_tasks(scenario, specs, seed, replications)
    executor = executor or LocalExecutor(workers)
    total = replications * len(specs)
    outcomes = executor.run(tasks, len(tasks))
    if total > STREAM_ABOVE:  # memory must not grow with replications
        summaries, errors = collect_streaming(outcomes, [spec.name for spec in specs], progress, total)
        runs = pd.DataFrame(columns=["replication", "strategy", *RunMeasures.__dataclass_fields__])
    else:
        runs, errors = collect(outcomes, progress, total)
    order = [spec.name for spec in specs if spec.name not in errors]
    if total <= STREAM_ABOVE:
        runs = _strategy_order(runs, order)
        summaries = {name: StrategySummary.of(name, runs[runs["strategy"] == name]) for name in order}
    return Comparison(
        scenario=scenario.name,
        seed=seed,
        replications=replications,
        population=build_cohorts(scenario).population,
        healthy=scenario.healthy,
        runs=runs,
        summaries={name: summaries[name] for name in order},
        errors=errors,
        streamed=total > STREAM_ABOVE,
    )


def collect_streaming(
    outcomes: Iterable[Outcome], names: list[str], progress: Progress | None, total: int
) -> tuple[dict[str, StrategySummary], dict[str, str]]:
    """Summaries built as the tasks finish, keeping no runs; and the first error per strategy."""
    streams = {name: StrategyStream(METRICS) for name in names}
    failed = _each_result(
        outcomes, lambda outcome: streams[outcome.task.spec.name].add(outcome.columns), progress, total
    )
    return {name: StrategySummary.of_stream(name, streams[name]) for name in names if name not in failed}, failed


def _strategy_order(runs: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Within each replication, strategies in the scenario's order."""
    if not len(runs):
        return runs
    rank = runs["strategy"].map({name: i for i, name in enumerate(order)})
    return runs.assign(_rank=rank).sort_values(["replication", "_rank"], ignore_index=True).drop(columns="_rank")


def run(
    scenario: Scenario | str | Path | None = None,
    *,
    seed: int | None = None,
    replication: int = 0,
    strategies: Sequence[str] | None = None,
    every: float | None = None,
) -> RunResult:
    """One replication of each strategy, with the timeline of every event (and a row per ``every`` seconds)
    up to the run's end: the timeline ``rollout-sim run`` prints and ``run --json`` writes.

    The run ends at the mitigation when the defect's harm does not persist (nothing changes after it),
    else at the horizon; no row comes after it, and the detection is marked (``detected by NAME``, or
    ``false alarm by NAME`` for a rollback with nothing to catch). ``RunResult.ends`` says where each
    strategy's run ends and why; a strategy that failed keeps its timeline as it was.
    Replication k here is replication k of ``compare`` with the same seed.
    Timeline counts are cumulative and as of the last tick of the data plane.
    """
    scenario = as_scenario(scenario)
    seed = scenario.seed if seed is None else seed
    if every is not None and not every >= 1.0:
        raise ScenarioError(f"--every: must be at least 1 second, got {every!r}")
    block, traced = divmod(replication, BLOCK_SIZE)
    specs = select_strategies(scenario, strategies)
    check_strategies(scenario, specs)
    simulation = Simulation(scenario, specs, seed=seed, block=block)
    rows: list[tuple] = []
    simulation.subscribe(lambda event: _timeline_row(simulation, event, traced, rows))
    if every:
        simulation.env.process(_every(simulation, traced, every, rows))
    simulation.run()
    measures = [{"strategy": name, **values[traced].as_dict()} for name, values in simulation.measures().items()]
    timeline = pd.DataFrame(rows, columns=["strategy", *TIMELINE_COLUMNS])
    timeline = timeline.sort_values(["strategy", "time_s"], kind="stable", ignore_index=True)
    order = {spec.name: i for i, spec in enumerate(specs)}
    timeline = timeline.iloc[timeline["strategy"].map(order).argsort(kind="stable")].reset_index(drop=True)
    measures_frame = pd.DataFrame(measures, columns=["strategy", *RunMeasures.__dataclass_fields__])
    timeline, ends = _to_the_end(timeline[[*TIMELINE_COLUMNS, "strategy"]], measures_frame, scenario)
    return RunResult(
        scenario=scenario.name,
        seed=seed,
        replication=replication,
        population=build_cohorts(scenario).population,
        measures=measures_frame,
        timeline=timeline,
        errors=dict(simulation.errors),
        ends=ends,
    )


def _time(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _to_the_end(
    timeline: pd.DataFrame, measures: pd.DataFrame, scenario: Scenario
) -> tuple[pd.DataFrame, dict[str, RunEnd]]:
    """The timeline with the detection marked (``detected by X``, or ``false alarm by X``) and no row after
    the run's end: the mitigation when the defect's harm does not persist (nothing can change after it:
    no exposure, no harm, no alarm, no decision), else the horizon. Also, per strategy, where it ends."""
    persistent = bool(scenario.release.defect and scenario.release.defect.persistent)
    by_name = {row["strategy"]: row for row in measures.to_dict(orient="records")}
    frames, ends = [], {}
    for name, frame in timeline.groupby("strategy", sort=False):
        measure = by_name.get(name)
        if measure is None:  # the strategy failed: its timeline as it was
            frames.append(frame)
            continue
        mitigation = _time(measure["mitigation_s"])
        if mitigation is not None and not persistent:
            end = RunEnd(mitigation, "mitigated, nothing changes after")
        else:
            why = " (its harm persists after the mitigation)" if mitigation is not None else ""
            end = RunEnd(scenario.horizon, f"the horizon{why}")
        ends[name] = end
        rows = [row for row in frame.to_dict(orient="records") if row["time_s"] <= end.time_s + 1e-9]
        detection, alarm = _time(measure["detection_s"]), _time(measure["alarm_s"])
        if detection is not None:
            _mark(rows, detection, str(measure["caught_by"]), f"detected by {measure['caught_by']}")
        elif alarm is not None and measure["outcome"] == "false_rollback":
            _mark(rows, alarm, str(measure["alarm_by"]), f"false alarm by {measure['alarm_by']}")
        frames.append(pd.DataFrame(rows, columns=frame.columns))
    return (pd.concat(frames, ignore_index=True) if frames else timeline), ends


def _mark(rows: list[dict[str, Any]], time: float, by: str, text: str) -> None:
    """A row at ``time`` saying ``text``, right after the alarm or verdict of ``by`` at that time (else after
    the last row before it), with that row's counts."""
    raised = (f"alarm: {by}", f"verdict: {by}:")
    raised_at = [
        i for i, row in enumerate(rows) if abs(row["time_s"] - time) <= 1e-9 and str(row["event"]).startswith(raised)
    ]
    before = [i for i, row in enumerate(rows) if row["time_s"] <= time + 1e-9]
    position = (raised_at[-1] if raised_at else before[-1] if before else -1) + 1
    if position > 0:
        mark = dict(rows[position - 1], time_s=time, event=text)
    elif rows:
        counts = ("requests", "new_requests", "new_errors", "harmed_requests", "exposed_users", "harmed_users")
        mark = dict(rows[0], time_s=time, event=text, **dict.fromkeys(counts, 0))
    else:
        return
    rows.insert(position, mark)


def _counts(lane: Lane, r: int, time: float) -> tuple:
    plane = lane.plane
    totals = plane.counters[r].sum(axis=0)
    exposure = plane.exposures[r]
    return (
        time,
        exposure.weight,
        describe(exposure),
        int(plane.requests[r]),
        int(plane.new_requests[r]),
        int(totals[NEW, ERRORS]),
        int(plane.harmed_requests[r]),
        int(plane.bands.exposed_users[r]),
        int(plane.bands.harmed_users[r]),
    )


def _timeline_row(simulation: Simulation, event: Event, traced: int, rows: list[tuple]) -> None:
    if event.replication != traced:
        return
    lane = next(lane for lane in simulation.lanes if lane.name == event.strategy)
    text = event.kind if not event.detail else f"{event.kind}: {event.detail}"
    rows.append((lane.name, *_counts(lane, traced, event.time), text))


def _every(simulation: Simulation, traced: int, every: float, rows: list[tuple]):
    while True:
        yield at(simulation.env, simulation.env.now + every, Priority.STRATEGY)
        for lane in simulation.live_lanes():
            rows.append((lane.name, *_counts(lane, traced, simulation.now), ""))
