"""A sweep's part of a report, made from its tidy table (what ``rollout-sim sweep`` writes, see
``sim.sweeps``): ``sweep_data`` takes the Pareto frontier, every setting's measures and (with a goal) the
answer from ``sim.sweeps`` itself (``sweep_frontier``, ``settings_table``, ``answer_goal``), so that the
report shows what ``rollout-sim sweep`` prints for the same table; from that come the summary per grid
point and strategy, the frontier table, the goal's answer and the charts (the trade-off, and users
harmed, time to detect and outcomes across the grid).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.grid import Axis
from sim.measures import OUTCOMES
from sim.render import _count, _in, _percent, _unit_of, axis_label, goal_answer
from sim.report.blocks import Block, Cell, Chart, Code, Heading, Paragraph, Table
from sim.report.charts import outcome_chart, time_to_detect_chart, time_unit, tradeoff_chart, users_harmed_chart
from sim.report.words import value_text
from sim.sweeps import Condition, GoalAnswer, answer_goal, refuse_healthy_goal, settings_table, sweep_frontier

_GRID_DOTS = "grid points (means)"
GOAL_WIDTH = 100  # columns of the goal's answer, as `rollout-sim sweep --goal` prints it in such a terminal


@dataclass(frozen=True)
class SweepData:
    table: pd.DataFrame
    axes: list[str]
    frontier: pd.DataFrame | None  # sim.sweeps.sweep_frontier, numbered; None when no grid point is defective
    candidates: pd.DataFrame | None  # sim.sweeps.settings_table, with each setting's frontier number (0: not on it)
    strategies: list[str]
    replications: int | None
    answer: GoalAnswer | None = None  # with a goal: sim.sweeps.answer_goal

    @property
    def group_axes(self) -> list[str]:
        """The axes that are not a strategy's (the worlds): each of their settings is a group of the frontier."""
        return _group_axes(self.axes)

    @property
    def horizon_counted(self) -> bool:
        """Whether the table has ``rollout_time_s`` (an unfinished run counted as the horizon); a table saved
        before it existed has only ``rollout_duration_s`` (finished runs), which sim.sweeps then reads."""
        return _horizon_counted(self.table)

    @property
    def rollout_measure(self) -> str:
        return "rollout_time_s" if self.horizon_counted else "rollout_duration_s"


def _group_axes(axes: list[str]) -> list[str]:
    return [path for path in axes if not Axis(path, ()).is_strategy]


def _horizon_counted(table: pd.DataFrame) -> bool:
    return bool((table["measure"] == "rollout_time_s").any())  # the test sim.sweeps.settings_table makes


def sweep_data(table: pd.DataFrame, axes: list[str], goal: Sequence[Condition] | None = None) -> SweepData:
    """The frontier (as ``rollout-sim sweep`` finds it: only when some grid point has a defective release) and,
    with ``goal``, its answer (as ``rollout-sim sweep --goal`` gives it)."""
    strategies = list(dict.fromkeys(table["strategy"].dropna()))
    runs = table[(table["measure"] == "blast_radius_users")]["n"]
    replications = int(runs.max()) if len(runs) and pd.notna(runs.max()) else None
    grid = [Axis(path, ()) for path in axes]  # sim.sweeps needs only the paths (is_strategy), not the values
    answer = None
    if goal:
        _check_goal(goal, table)
        answer = answer_goal(table, grid, list(goal)) if len(table) else None
    if not (table["release"] == "defective").any():
        return SweepData(table, axes, None, None, strategies, replications, answer)
    frontier = sweep_frontier(table, grid)
    frontier = frontier.assign(number=range(1, len(frontier) + 1))
    return SweepData(table, axes, frontier, _candidates(table, grid, frontier), strategies, replications, answer)


def _check_goal(goal: Sequence[Condition], table: pd.DataFrame) -> None:
    """As ``rollout-sim sweep`` refuses it: a condition on the defective release needs one to measure."""
    defective = bool((table["release"] == "defective").any())
    refuse_healthy_goal(goal, defective, "the release is healthy at every grid point of this sweep")


def _candidates(table: pd.DataFrame, grid: list[Axis], frontier: pd.DataFrame) -> pd.DataFrame:
    """Every setting per world (``settings_table``: rollout time, users harmed, false rollbacks, ...) and its
    number on the frontier (0: not on it)."""
    settings = settings_table(table, grid)
    group_axes = [axis.path for axis in grid if not axis.is_strategy]

    def world(row: dict[str, Any]) -> str:  # settings_table's label of a world
        return json.dumps([row[path] for path in group_axes], default=str)

    numbers = {(world(row), row["setting"]): row["number"] for row in frontier.to_dict(orient="records")}
    marks = [numbers.get(key, 0) for key in zip(settings["world"], settings["setting"], strict=True)]
    return settings.assign(frontier=marks)


def _means(table: pd.DataFrame, release: str, measures: Sequence[str]) -> dict[tuple[Any, str], dict[str, float]]:
    """(point, strategy) -> measure -> mean, on one release."""
    rows = table[(table["release"] == release) & table["measure"].isin(measures)]
    picked: dict[tuple[Any, str], dict[str, float]] = {}
    for point, strategy, measure, mean in zip(
        rows["point"], rows["strategy"], rows["measure"], rows["mean"], strict=True
    ):
        picked.setdefault((point, strategy), {})[measure] = mean
    return picked


def _horizon_words(data: SweepData) -> str:
    if data.horizon_counted:
        return "a run that did not finish counted as the horizon"
    return (
        "over the finished runs only: this table was saved before rollout_time_s, which counts an unfinished run "
        "as the horizon, existed, and rollout-sim sweep reads it so too"
    )


def _rollout_words(data: SweepData) -> str:
    return f"rollout time ({_horizon_words(data)})"


def sweep_summary(data: SweepData) -> Table:
    """Per grid point and strategy, as ``sweep`` prints it (all rows): users harmed and time to detect on the
    defective release, rollout time, false rollbacks and (when some did not) completed on the healthy one
    (means; one duration unit per column)."""
    table, axes = data.table, data.axes
    rollout = data.rollout_measure
    defective = _means(table, "defective", ("blast_radius_users", "ttd_s"))
    healthy = _means(table, "healthy", (rollout, "outcome_false_rollback", "outcome_completed"))
    wanted = (
        ("users harmed", defective, "blast_radius_users", _count),
        ("time to detect", defective, "ttd_s", None),
        ("rollout time", healthy, rollout, None),
        ("false rollbacks", healthy, "outcome_false_rollback", _percent),
        ("completed", healthy, "outcome_completed", _percent),
    )
    points = table.drop_duplicates("point").set_index("point")[axes]
    keys = [(p, s) for p in points.index for s in data.strategies if (p, s) in healthy or (p, s) in defective]
    present, formats = [], {}
    for label, source, measure, fmt in wanted:
        values = [source.get(key, {}).get(measure) for key in keys]
        values = [float(v) for v in values if v is not None and not pd.isna(v)]
        if not values or (measure == "outcome_completed" and min(values) >= 1.0):
            continue  # no value at all; or every healthy run finished: nothing to say (as sweep prints it)
        present.append((label, source, measure))
        formats[measure] = fmt if fmt is not None else _in(_unit_of(values))
    rows, row_data = [], []
    for point, strategy in keys:
        cells = [Cell(value_text(v)) for v in points.loc[point]] + [Cell(strategy)]
        for _, source, measure in present:
            value = source.get((point, strategy), {}).get(measure)
            missing = value is None or pd.isna(value)
            data_attributes = {} if missing else {"measure": measure, "value": float(value)}
            cells.append(Cell("-" if missing else formats[measure](float(value)), data_attributes, True))
        rows.append(cells)
        row_data.append({"point": int(point), "strategy": strategy})
    labels = [label for label, _, _ in present]
    on_defective = " and ".join(label for label, source, _ in present if source is defective)
    said = {"rollout time": _rollout_words(data), "completed": "completed (finished and kept)"}
    on_healthy = ", ".join(said.get(label, label) for label, source, _ in present if source is healthy)
    words = [f"{on_defective} on the defective release"] if on_defective else []
    words += [f"{on_healthy} on the same scenario with a healthy release"] if on_healthy else []
    return Table(
        "sweep-summary",
        [*map(axis_label, axes), "strategy", *labels],
        rows,
        row_data,
        "; ".join(["means per grid point", *words]),
    )


_FRONTIER_MEASURES = ("rollout_time", "completed", "users_harmed", "false_rollback")


def frontier_rows(data: SweepData) -> Table:
    """The frontier ``rollout-sim sweep`` prints (``sim.render.frontier_table``), numbered as on the trade-off
    chart: the same rows, values and units; ``completed`` only when some setting did not finish every healthy run."""
    frontier = data.frontier
    assert frontier is not None
    partial = bool((frontier["completed"].dropna() < 1.0).any())
    formats = {"rollout_time": _in(_unit_of(frontier["rollout_time"])), "users_harmed": _count}
    formats |= {"completed": _percent, "false_rollback": _percent}
    shown = [name for name in _FRONTIER_MEASURES if partial or name != "completed"]
    headers = {
        "rollout_time": "rollout time",
        "completed": "completed",
        "users_harmed": "users harmed",
        "false_rollback": "false rollbacks",
    }
    rows, row_data = [], []
    for row in frontier.to_dict(orient="records"):
        cells = [Cell(str(row["number"]), numeric=True)]
        cells += [Cell(value_text(row[path]), {"axis": path}) for path in data.group_axes]
        cells.append(Cell(row["setting"]))
        for name in shown:
            value = row[name]
            missing = value is None or pd.isna(value)
            attributes = {} if missing else {"measure": name, "value": float(value)}
            cells.append(Cell("-" if missing else formats[name](float(value)), attributes, True))
        rows.append(cells)
        row_data.append({"setting": row["setting"], "number": row["number"]})
    return Table(
        "frontier",
        ["#", *map(axis_label, data.group_axes), "setting", *(headers[name] for name in shown)],
        rows,
        row_data,
        "Pareto frontier, per setting of the axes that do not touch a strategy: the settings no other beats on "
        f"all three of {_rollout_words(data)} and false rollbacks (share of healthy releases rolled back), both "
        "on the healthy release, and users harmed on the defective release; beaten means no worse on the three "
        "and better on one. # is the number on the trade-off chart",
    )


def goal_blocks(data: SweepData) -> list[Block]:
    """The goal's answer, as ``rollout-sim sweep --goal`` prints it (``sim.render.goal_answer``)."""
    answer = data.answer
    if answer is None:
        return []
    conditions = ", ".join(map(str, answer.conditions))
    worlds = ", ".join(map(axis_label, answer.group_axes))
    every = f" at every {worlds} (its worst value over them: a setting is chosen before the defect is known)"
    shown = f"The answer is {answer.best.setting}." if answer.best is not None else "No setting meets it."
    return [
        Heading("Goal"),
        Paragraph(
            f"Which setting to use for the goal {conditions}: among the settings meeting every condition"
            f"{every if worlds else ''}, the one with the lowest rollout time on the healthy release "
            f"({_horizon_words(data)}); ties go to fewer users harmed; means throughout. {shown} As rollout-sim "
            "sweep --goal prints it:"
        ),
        Code(cli_text(goal_answer(answer))),
    ]


def cli_text(renderable: Any, width: int = GOAL_WIDTH) -> str:
    """A rich renderable as the command line prints it in a terminal ``width`` columns wide, without colour
    (the same text whatever the terminal or the environment)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system=None,
        force_terminal=False,
        force_interactive=False,
        no_color=True,
        emoji=False,
        highlight=False,
        legacy_windows=False,
    )
    console.print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


def sweep_charts(data: SweepData) -> list[Chart]:
    trade_off = [] if data.candidates is None else [_tradeoff(data)]
    return trade_off + _across_the_grid(data)


def _tradeoff(data: SweepData) -> Chart:
    candidates, frontier = data.candidates, data.frontier
    assert candidates is not None and frontier is not None
    undrawn = int(candidates[["rollout_time", "users_harmed"]].isna().any(axis=1).sum())
    note = ""
    if undrawn:
        why = "failed" if data.horizon_counted else "never completed on the healthy release, or failed"
        note = f" {undrawn} setting(s) have no rollout time or no users harmed ({why}) and are not drawn."
    numbers = ", ".join(f"{n}: {s}" for n, s in zip(frontier["number"], frontier["setting"], strict=True))
    chosen = data.answer.best.setting if data.answer is not None and data.answer.best is not None else None
    star = f" Starred: {chosen}, the goal's answer." if chosen is not None else ""
    return Chart(
        "tradeoff.png",
        "Trade-off: rollout time against users harmed, with the Pareto frontier",
        "Each marker is a strategy setting at a setting of the other axes (means): its "
        f"{_rollout_words(data)} on the healthy release against the users it harmed on the defective one. "
        f"Ringed and numbered: the Pareto frontier ({numbers}). False rollbacks (the share of healthy releases "
        "rolled back) are the frontier's third objective, written beside each number (fr): a ringed setting that "
        f"looks beaten on these two axes is on the frontier because it rolls back fewer healthy releases.{star}{note}",
        tradeoff_chart(candidates, data.group_axes, data.strategies, chosen, data.horizon_counted),
    )


def _across_the_grid(data: SweepData) -> list[Chart]:
    """Users harmed, time to detect and outcomes per strategy, with a grid point's mean where a comparison
    has a run (on the defective release; the healthy one when no grid point has a defect)."""
    table, names = data.table, data.strategies
    points = table["point"].nunique()
    release = "defective" if (table["release"] == "defective").any() else "healthy"
    means = _means(table, release, ("blast_radius_users", "ttd_s", *(f"outcome_{o}" for o in OUTCOMES)))

    def across(measure: str) -> list[np.ndarray]:
        """Per strategy, the means of ``measure`` at the grid points that have one."""
        values: dict[str, list[float]] = {name: [] for name in names}
        for (_, strategy), row in means.items():
            if strategy in values and pd.notna(row.get(measure)):
                values[strategy].append(float(row[measure]))
        return [np.array(values[name], dtype=float) for name in names]

    ttd = across("ttd_s")
    unit = time_unit([float(np.median(values)) for values in ttd if len(values)])
    caption = (
        f"Each dot is one grid point's mean on the {release} release ({points} points); the box spans the "
        "middle half of them, its whiskers the 5th to the 95th percentile."
    )
    harmed_title = f"Users harmed per run (mean per grid point, {release} release)"
    ttd_title = f"Time to detect (mean per grid point, {release} release)"
    by_outcome = {outcome: across(f"outcome_{outcome}") for outcome in OUTCOMES}
    shares = [
        {o: float(np.mean(by_outcome[o][i])) if len(by_outcome[o][i]) else 0.0 for o in OUTCOMES}
        for i in range(len(names))
    ]
    return [
        Chart(
            "users-harmed.png",
            "Users harmed per strategy, across the grid",
            caption,
            users_harmed_chart(harmed_title, names, across("blast_radius_users"), None, dots=_GRID_DOTS),
        ),
        Chart(
            "time-to-detect.png",
            "Time to detect per strategy, across the grid",
            caption,
            time_to_detect_chart(ttd_title, unit, names, ttd, None, dots=_GRID_DOTS),
        ),
        Chart(
            "outcomes.png",
            "Outcome shares per strategy, averaged over the grid",
            f"How the runs ended on the {release} release: each outcome's share, averaged over the {points} "
            "grid points.",
            outcome_chart(f"How the runs ended ({release} release, mean over grid points)", names, shares),
        ),
    ]
