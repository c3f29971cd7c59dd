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
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import util as importlib_util
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.catalog import file_mode
from sim.durations import compact_duration, parse_duration
from sim.executors import Executor, LocalExecutor, Outcome
from sim.experiments import Progress, as_scenario, collect, comparison_tasks
from sim.grid import Axis, axes_from_table, parse_axis, points, variant
from sim.measures import OUTCOMES
from sim.plugins import GROUP, check_strategies
from sim.results import METRICS, MetricSummary, StrategySummary
from sim.scenario import Scenario, ScenarioError, split_file_reference, suggestion
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
_PRESENTATION_PACKAGES = {"tui", "report"}  # sim/tui/, sim/report/: how results are shown, not what they are


def code_version(scenario: Scenario) -> str:
    """A digest of what makes the numbers: the simulator's and strategies' source, strategy files
    given by path, the versions of installed strategy packages, and numpy's version (its draws)."""
    digest = hashlib.sha256(f"numpy {np.__version__}".encode())
    for package in ("sim", "strategies"):
        root = Path(importlib_util.find_spec(package).origin).parent
        for path in sorted(root.rglob("*.py")):
            folders = path.relative_to(root).parts[:-1]
            if path.name not in _PRESENTATION and not _PRESENTATION_PACKAGES.intersection(folders):
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
    os.chmod(handle.name, file_mode())  # a temporary file is private (0600): an ordinary file's mode instead
    os.replace(handle.name, path)


def _metric_row(name: str, measure: str, s: MetricSummary) -> dict[str, Any]:
    low, high = s.ci95 if s.ci95 else (None, None)
    return dict(
        strategy=name, measure=measure, mean=s.mean, median=s.median, p95=s.p95, ci_low=low, ci_high=high, n=s.n
    )


def rollout_time(summary: StrategySummary, horizon: float) -> MetricSummary:
    """Rollout time over every run: a run whose strategy never said it was done counts as the horizon
    (a lower bound of what it cost). Exact mean; median, p95 and interval when the runs were kept."""
    durations = summary.metrics["rollout_duration_s"]
    unfinished = summary.replications - durations.n
    if len(durations.values) == durations.n:  # the values were kept (not streamed)
        values = np.concatenate([durations.values, np.full(unfinished, float(horizon))])
        return MetricSummary.of(values)
    if not summary.replications:
        return MetricSummary.of([])
    if not unfinished:  # streamed, every run finished: the durations' own summary
        return durations
    mean = ((durations.mean or 0.0) * durations.n + unfinished * horizon) / summary.replications
    # The horizon is the largest value: a quantile that falls among the unfinished runs is the horizon.
    finished_share = durations.n / summary.replications
    median, p95 = (horizon if q > finished_share else None for q in (0.5, 0.95))
    return MetricSummary(mean, median, p95, None, summary.replications, np.empty(0))


def summary_rows(summaries: dict[str, StrategySummary], horizon: float | None = None) -> list[dict[str, Any]]:
    """Tidy rows (strategy x measure) of one item's summaries; with ``horizon``, also ``rollout_time_s``
    (every run, an unfinished one counted as the horizon)."""
    rows = []
    for name, summary in summaries.items():
        for metric in METRICS:
            rows.append(_metric_row(name, metric, summary.metrics[metric]))
        if horizon is not None:
            rows.append(_metric_row(name, "rollout_time_s", rollout_time(summary, horizon)))
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
    horizon = plan.items[item_id].scenario.horizon
    document = {"id": item_id, "rows": summary_rows(summaries, horizon), "errors": errors}
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
    answer: GoalAnswer | None = None  # with a goal: the setting that meets it (docs/sweeps.md)
    axes: tuple[Axis, ...] = ()  # the grid's axes, for other questions of the same table (answer_goal)


def prepare_sweep(
    scenario: Scenario,
    grid: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    out: str | Path = "reports",
    goal: list[Condition] | None = None,
) -> SweepPlan:
    """The plan for a grid given as ``PATH=V1,V2`` strings, or else the scenario's [sweep] table; a ``goal``
    is checked against it (before anything is written)."""
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
    if goal:
        check_goal(goal, plan)
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


def finish_sweep(plan: SweepPlan, errors: dict[str, str], goal: list[Condition] | None = None) -> SweepResult:
    """Assemble the table from the saved items, write Parquet and CSV, find the frontier (and the
    setting that meets ``goal``)."""
    table = sweep_table(plan)
    parquet, csv = write_table(table, plan.out, plan.name)
    frontier = sweep_frontier(table, plan.axes) if (table["release"] == "defective").any() else None
    answer = answer_goal(table, plan.axes, goal) if goal and len(table) else None
    errors = {**saved_errors(plan), **errors}
    return SweepResult(table, frontier, plan.directory, parquet, csv, errors, answer, tuple(plan.axes))


def sweep(
    scenario: Scenario | str | Path | None = None,
    grid: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    out: str | Path = "reports",
    executor: Executor | None = None,
    progress: Progress | None = None,
    goal: str | None = None,
) -> SweepResult:
    """Run (or resume) a sweep; the same operation as ``rollout-sim sweep``. ``goal``: conditions such as
    ``"users_harmed<=500,false_rollback<=0.05"``; ``SweepResult.answer`` then says which setting meets them."""
    conditions = parse_goal(goal) if goal is not None else None
    plan = prepare_sweep(as_scenario(scenario), grid, seed=seed, replications=replications, out=out, goal=conditions)
    errors = run_sweep(plan, executor or LocalExecutor(), progress)
    return finish_sweep(plan, errors, conditions)


# -- which setting should I use? the frontier and goals ------------------------------------------------------


@dataclass(frozen=True)
class GoalMeasure:
    """A measure a goal (and the frontier) can name: where it comes from in the sweep's table."""

    release: str  # "defective" or "healthy"
    measure: str  # the table's measure
    kind: str  # count, share or duration: how a limit is written and shown
    about: str


GOAL_MEASURES: dict[str, GoalMeasure] = {
    "users_harmed": GoalMeasure("defective", "blast_radius_users", "count", "distinct users harmed"),
    "users_harmed_share": GoalMeasure("defective", "blast_radius_share", "share", "share of the population harmed"),
    "requests_harmed": GoalMeasure("defective", "blast_radius_requests", "count", "requests harmed"),
    "users_exposed": GoalMeasure("defective", "exposed_users", "count", "distinct users served the new version"),
    "users_exposed_share": GoalMeasure("defective", "exposed_share", "share", "share of the population exposed"),
    "detection": GoalMeasure("defective", "detection_rate", "share", "detected runs over runs the defect reached"),
    "ttd": GoalMeasure("defective", "ttd_s", "duration", "time to detection from onset (detected runs)"),
    "ttm": GoalMeasure("defective", "ttm_s", "duration", "time to mitigation from onset (detected runs)"),
    "escaped": GoalMeasure("defective", "outcome_escaped", "share", "share of runs never rolled back"),
    "false_rollback": GoalMeasure(
        "healthy", "outcome_false_rollback", "share", "share of healthy releases rolled back"
    ),
    "rollout_time": GoalMeasure(
        "healthy", "rollout_time_s", "duration", "time to 100% on the healthy release (unfinished: the horizon)"
    ),
    "completed": GoalMeasure("healthy", "outcome_completed", "share", "share of healthy releases finished and kept"),
}
FRONTIER_OBJECTIVES = ("rollout_time", "users_harmed", "false_rollback")
"""What the frontier minimises: no setting on it is beaten on all three by another of its group."""
MAX_CONDITIONS = 20
_OPERATORS = ("<=", ">=", "<", ">")


@dataclass(frozen=True)
class Condition:
    name: str  # a GOAL_MEASURES key
    operator: str  # <=, <, >=, >
    limit: float

    @property
    def at_most(self) -> bool:
        return self.operator in ("<=", "<")

    def holds(self, value: float | None) -> bool:
        if value is None or pd.isna(value):
            return False  # no value (e.g. never detected): it cannot meet a limit
        return {
            "<=": value <= self.limit,
            "<": value < self.limit,
            ">=": value >= self.limit,
            ">": value > self.limit,
        }[self.operator]

    def shortfall(self, value: float | None) -> float:
        """0 when it holds; otherwise how far off, relative to the limit (inf without a value)."""
        if self.holds(value):
            return 0.0
        if value is None or pd.isna(value):
            return math.inf
        scale = max(abs(self.limit), {"count": 1.0, "share": 0.001, "duration": 1.0}[GOAL_MEASURES[self.name].kind])
        return max(abs(float(value) - self.limit) / scale, 1e-12)

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{format_limit(self.name, self.limit)}"


def format_limit(name: str, value: float) -> str:
    kind = GOAL_MEASURES[name].kind
    if kind == "duration":
        return compact_duration(value) if value > 0 else "0s"
    return f"{value:g}"


def parse_goal(text: str) -> list[Condition]:
    """``users_harmed<=500,false_rollback<=0.05`` -> conditions; a malformed goal raises ScenarioError (one
    line). Shares take 0.05 or 5%; durations 600, 10m or 1h30m; counts a number >= 0."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise ScenarioError(
            f"--goal {shown!r}: expected conditions like users_harmed<=500,false_rollback<=0.05 (empty condition)"
        )
    if len(parts) > MAX_CONDITIONS:
        raise ScenarioError(f"--goal: at most {MAX_CONDITIONS} conditions, got {len(parts)}")
    return [_condition(part, shown) for part in parts]


def _condition(part: str, shown: str) -> Condition:
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|=<|=>|==|=|<|>|!=)\s*(\S.*?)\s*", part)
    names = ", ".join(GOAL_MEASURES)
    if match is None:
        raise ScenarioError(f"--goal {shown!r}: {part[:40]!r} is not MEASURE<=VALUE (or <, >=, >); measures: {names}")
    name, operator, limit_text = match.groups()
    if name not in GOAL_MEASURES:
        raise ScenarioError(
            f"--goal {shown!r}: unknown measure {name!r}{suggestion(name, GOAL_MEASURES)} (measures: {names})"
        )
    if operator not in _OPERATORS:
        raise ScenarioError(f"--goal {shown!r}: {part[:40]!r}: use <=, <, >= or >, not {operator}")
    return Condition(name, operator, _limit(name, limit_text, shown))


def _limit(name: str, text: str, shown: str) -> float:
    kind = GOAL_MEASURES[name].kind
    try:
        if kind == "duration":
            number = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else text
            value = parse_duration(number)
        elif kind == "share" and text.endswith("%"):
            value = float(text[:-1]) / 100.0
        else:
            value = float(text)
    except ValueError:
        expected = {
            "count": "a number",
            "share": "a share like 0.05 or 5%",
            "duration": "a duration like 600, 10m or 1h30m",
        }
        raise ScenarioError(f"--goal {shown!r}: {name}: expected {expected[kind]}, got {text[:40]!r}") from None
    if not math.isfinite(value) or value < 0 or (kind == "share" and value > 1):
        bounds = "a share in [0, 1] (or 0% to 100%)" if kind == "share" else "a finite number >= 0"
        raise ScenarioError(f"--goal {shown!r}: {name}: the limit must be {bounds}, got {text[:40]!r}")
    return value


def check_goal(conditions: list[Condition], plan: SweepPlan) -> None:
    """Before the work: a condition on the defective release needs a defective release to measure."""
    refuse_healthy_goal(
        conditions,
        any(point.defective for point in plan.points),
        f"{plan.name}'s release is healthy at every grid point",
        " (add release.defect, or --grid release.defect.harm=...)",
    )


def refuse_healthy_goal(conditions: Sequence[Condition], defective: bool, healthy: str, hint: str = "") -> None:
    """A ScenarioError when a condition needs the defective release and the sweep has none (``healthy``
    says so in the message, ``hint`` what to do)."""
    if defective:
        return
    needing = [str(c) for c in conditions if GOAL_MEASURES[c.name].release == "defective"]
    if needing:
        raise ScenarioError(f"--goal {needing[0]}: {healthy}, so there is no defective release to measure{hint}")


def settings_table(table: pd.DataFrame, axes: list[Axis]) -> pd.DataFrame:
    """One row per setting of the world (the axes that do not touch a strategy, e.g. the defect size) and
    strategy setting: ``setting`` (its label) and a column per GOAL_MEASURES name (means)."""
    strategy_axes = [a.path for a in axes if a.is_strategy]
    group_axes = [a.path for a in axes if not a.is_strategy]
    keys = ["point", "strategy"]
    wanted = {(m.release, m.measure): name for name, m in GOAL_MEASURES.items()}
    if not (table["measure"] == "rollout_time_s").any():  # a table from before rollout_time_s existed
        wanted[("healthy", "rollout_duration_s")] = "rollout_time"
    rows = table[[(r, m) in wanted for r, m in zip(table["release"], table["measure"], strict=True)]]
    wide = rows.pivot(index=keys, columns=["release", "measure"], values="mean")
    wide.columns = [wanted[column] for column in wide.columns]
    wide = wide.reindex(columns=list(GOAL_MEASURES)).reset_index()
    values = table[[*keys, *strategy_axes, *group_axes]].drop_duplicates(keys)
    wide = wide.merge(values, on=keys, how="left")
    wide["setting"] = [_setting(row, strategy_axes) for row in wide.to_dict(orient="records")]
    wide["world"] = [json.dumps([row[path] for path in group_axes], default=str) for row in wide.to_dict("records")]
    # A strategy not touched by a strategy axis is the same at every point of a world: once.
    wide = wide.drop_duplicates(["world", "setting"], ignore_index=True)
    return wide[["world", *group_axes, "setting", "strategy", *GOAL_MEASURES]]


def _setting(row: dict[str, Any], strategy_axes: list[str]) -> str:
    own = []
    for path in strategy_axes:
        parts = path.split(".")
        if parts[1] == row["strategy"]:
            param = ".".join(parts[2:]).removeprefix("params.")
            own.append(f"{param}={row[path]}")
    return row["strategy"] + (f" ({', '.join(own)})" if own else "")


def sweep_frontier(table: pd.DataFrame, axes: list[Axis]) -> pd.DataFrame:
    """Per setting of the world axes: the strategy settings that no other beats on all of rollout time
    (healthy release, unfinished runs at the horizon), users harmed (defective release) and false-rollback
    rate (healthy release): beaten means no worse on the three and better on one."""
    group_axes = [a.path for a in axes if not a.is_strategy]
    columns = [*group_axes, "setting", *FRONTIER_OBJECTIVES, "completed"]
    settings = settings_table(table, axes)
    kept = []
    for _, group in settings.groupby("world", sort=False):
        objectives = group[list(FRONTIER_OBJECTIVES)].to_numpy(dtype=float)
        for index, row in enumerate(objectives):
            if np.isnan(row).any():  # a value missing (a strategy that failed): not comparable
                continue
            others = np.delete(objectives, index, axis=0)
            others = others[~np.isnan(others).any(axis=1)]
            beaten = ((others <= row).all(axis=1) & (others < row).any(axis=1)).any()
            if not beaten:
                kept.append(group.index[index])
    result = settings.loc[kept]
    order = result.assign(_world=pd.Categorical(result["world"], categories=list(dict.fromkeys(settings["world"]))))
    order = order.sort_values(["_world", "rollout_time", "users_harmed", "false_rollback"], kind="stable")
    return order[columns].reset_index(drop=True)


@dataclass(frozen=True)
class GoalChoice:
    """A setting and its values (the worst over the worlds it was judged in)."""

    setting: str
    values: dict[str, float | None]  # goal measure -> value (rollout_time always present)
    where: dict[str, str]  # goal measure -> the world of that worst value ("harm=0.005"), when several
    misses: tuple[Condition, ...]  # the conditions it does not meet (empty: it meets the goal)
    shortfall: float  # 0 when it meets the goal


@dataclass(frozen=True)
class GoalAnswer:
    """The fastest setting meeting every condition in every world of the sweep (``best``), or, when none
    does, the ``closest`` one; the same per world (``per_world``); conditions no setting meets alone."""

    conditions: tuple[Condition, ...]
    group_axes: tuple[str, ...]
    best: GoalChoice | None
    closest: GoalChoice | None
    unmet: dict[str, GoalChoice]  # str(condition) -> the setting closest to meeting it alone
    per_world: list[tuple[dict[str, Any], GoalChoice | None, GoalChoice | None]]  # world, best, closest


def answer_goal(table: pd.DataFrame, axes: list[Axis], conditions: list[Condition]) -> GoalAnswer:
    """Which setting meets the goal: the lowest rollout time (healthy release) among the settings meeting
    every condition, in every world of the sweep (the worst value over the world axes, e.g. defect sizes:
    a setting is chosen before the defect is known); ties go to fewer users harmed. Means throughout."""
    group_axes = [a.path for a in axes if not a.is_strategy]
    settings = settings_table(table, axes)
    per_world = []
    for _, group in settings.groupby("world", sort=False):
        world = {path: group.iloc[0][path] for path in group_axes}
        choices = [_judge(conditions, rows, group_axes) for _, rows in group.groupby("setting", sort=False)]
        per_world.append((world, *_pick(choices)))
    choices = [_judge(conditions, rows, group_axes) for _, rows in settings.groupby("setting", sort=False)]
    best, closest = _pick(choices)
    unmet = {}
    if best is None:
        for condition in conditions:
            alone = [_judge([condition], rows, group_axes) for _, rows in settings.groupby("setting", sort=False)]
            met, near = _pick(alone)
            if met is None and near is not None:
                unmet[str(condition)] = near
    return GoalAnswer(tuple(conditions), tuple(group_axes), best, closest, unmet, per_world)


def _judge(conditions: list[Condition], rows: pd.DataFrame, group_axes: list[str]) -> GoalChoice:
    """One setting's worst values over its worlds, and how it fares against each condition."""

    def worst(name: str, at_most: bool) -> tuple[float | None, int]:
        column = rows[name].astype(float).to_numpy()
        if np.isnan(column).any():  # no value in some world (never detected there): that is the worst
            return None, int(np.flatnonzero(np.isnan(column))[0])
        position = int(np.argmax(column) if at_most else np.argmin(column))
        return float(column[position]), position

    values: dict[str, float | None] = {}
    where: dict[str, str] = {}
    shown = [(c.name, c.at_most) for c in conditions] + [("rollout_time", True), ("users_harmed", True)]
    for name, at_most in shown:
        if name in values:
            continue
        values[name], position = worst(name, at_most)
        if group_axes and rows[name].nunique(dropna=False) > 1:  # say where only when it differs by world
            row = rows.iloc[position]
            where[name] = ", ".join(f"{axis_name(path)}={row[path]}" for path in group_axes)
    judged = [(c, worst(c.name, c.at_most)[0]) for c in conditions]
    misses = tuple(c for c, value in judged if not c.holds(value))
    shortfall = max((c.shortfall(value) for c, value in judged), default=0.0)
    return GoalChoice(str(rows.iloc[0]["setting"]), values, where, misses, shortfall)


def _pick(choices: list[GoalChoice]) -> tuple[GoalChoice | None, GoalChoice | None]:
    """(the fastest meeting every condition, None) or (None, the closest to meeting them)."""

    def speed(choice: GoalChoice) -> tuple[float, float]:
        rollout, harmed = choice.values.get("rollout_time"), choice.values.get("users_harmed")
        return (math.inf if rollout is None else rollout, math.inf if harmed is None else harmed)

    meeting = [choice for choice in choices if not choice.misses]
    if meeting:
        return min(meeting, key=speed), None
    if not choices:
        return None, None
    return None, min(choices, key=lambda choice: (choice.shortfall, *speed(choice)))


def axis_name(path: str) -> str:
    """A grid path as a short name: ``harm`` for release.defect.harm."""
    return path.rsplit(".", 1)[-1]
