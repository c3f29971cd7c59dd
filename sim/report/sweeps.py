"""A sweep's part of a report, made from its tidy table (what ``rollout-sim sweep`` writes, see
``sim.sweeps``): ``sweep_data`` finds the Pareto frontier and every strategy setting's rollout time
and users harmed; from that come the summary per grid point and strategy, the frontier table and the
charts (the trade-off, and users harmed, time to detect and outcomes across the grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.grid import Axis
from sim.measures import OUTCOMES
from sim.pareto import _measure, _setting, pareto_frontier
from sim.render import _count, _duration, _percent, axis_label
from sim.report.blocks import Cell, Chart, Table
from sim.report.charts import outcome_chart, time_to_detect_chart, time_unit, tradeoff_chart, users_harmed_chart
from sim.report.words import value_text

_GRID_DOTS = "grid points (means)"


@dataclass(frozen=True)
class SweepData:
    table: pd.DataFrame
    axes: list[str]
    frontier: pd.DataFrame | None  # None when no grid point has a defective release
    candidates: pd.DataFrame | None  # strategy settings per group: rollout time, users harmed, frontier number
    strategies: list[str]
    replications: int | None

    @property
    def group_axes(self) -> list[str]:
        """The axes that are not a strategy's: each of their settings is a group of the frontier."""
        return _group_axes(self.axes)


def _group_axes(axes: list[str]) -> list[str]:
    return [path for path in axes if not path.startswith("strategies.")]


def sweep_data(table: pd.DataFrame, axes: list[str]) -> SweepData:
    strategies = list(dict.fromkeys(table["strategy"].dropna()))
    runs = table[(table["measure"] == "blast_radius_users")]["n"]
    replications = int(runs.max()) if len(runs) and pd.notna(runs.max()) else None
    if not (table["release"] == "defective").any():
        return SweepData(table, axes, None, None, strategies, replications)
    frontier = pareto_frontier(table, [Axis(path, ()) for path in axes])
    frontier = frontier.assign(number=range(1, len(frontier) + 1))
    return SweepData(table, axes, frontier, _candidates(table, axes, frontier), strategies, replications)


def _candidates(table: pd.DataFrame, axes: list[str], frontier: pd.DataFrame) -> pd.DataFrame:
    """Each strategy setting per group: its mean rollout time (healthy), users harmed (defective) and
    number on the frontier (0: not on it)."""
    strategy_axes = [path for path in axes if path.startswith("strategies.")]
    group_axes = _group_axes(axes)
    keys = ["point", "strategy"]
    candidates = (
        _measure(table, "healthy", "rollout_duration_s", "duration_s")
        .merge(_measure(table, "defective", "blast_radius_users", "blast_radius_users"), on=keys)
        .merge(table[[*keys, *axes]].drop_duplicates(keys), on=keys)
    )
    candidates["setting"] = candidates.apply(lambda row: _setting(row, strategy_axes), axis=1)
    candidates = candidates.drop_duplicates([*group_axes, "setting"], ignore_index=True)
    marks = frontier[[*group_axes, "setting", "number"]].rename(columns={"number": "frontier"})
    candidates = candidates.merge(marks, on=[*group_axes, "setting"], how="left")
    candidates["frontier"] = candidates["frontier"].fillna(0).astype(int)
    return candidates


def _means(table: pd.DataFrame, release: str, measures: Sequence[str]) -> dict[tuple[Any, str], dict[str, float]]:
    """(point, strategy) -> measure -> mean, on one release."""
    rows = table[(table["release"] == release) & table["measure"].isin(measures)]
    picked: dict[tuple[Any, str], dict[str, float]] = {}
    for point, strategy, measure, mean in zip(
        rows["point"], rows["strategy"], rows["measure"], rows["mean"], strict=True
    ):
        picked.setdefault((point, strategy), {})[measure] = mean
    return picked


def sweep_summary(data: SweepData) -> Table:
    """Per grid point and strategy, as ``sweep`` prints it (all rows): users harmed and time to detect on the
    defective release, rollout time and false rollbacks on the healthy one (means)."""
    table, axes = data.table, data.axes
    defective = _means(table, "defective", ("blast_radius_users", "ttd_s"))
    healthy = _means(table, "healthy", ("rollout_duration_s", "outcome_false_rollback"))
    wanted = (
        ("users harmed", defective, "blast_radius_users", _count),
        ("time to detect", defective, "ttd_s", _duration),
        ("rollout time", healthy, "rollout_duration_s", _duration),
        ("false rollbacks", healthy, "outcome_false_rollback", _percent),
    )
    present = [w for w in wanted if w[1]]
    points = table.drop_duplicates("point").set_index("point")[axes]
    rows, row_data = [], []
    for point in points.index:
        for strategy in data.strategies:
            if (point, strategy) not in healthy and (point, strategy) not in defective:
                continue
            cells = [Cell(value_text(v)) for v in points.loc[point]] + [Cell(strategy)]
            for _, source, measure, fmt in present:
                value = source.get((point, strategy), {}).get(measure)
                missing = value is None or pd.isna(value)
                data_attributes = {} if missing else {"measure": measure, "value": float(value)}
                cells.append(Cell("-" if missing else fmt(float(value)), data_attributes, True))
            rows.append(cells)
            row_data.append({"point": int(point), "strategy": strategy})
    return Table(
        "sweep-summary",
        [*map(axis_label, axes), "strategy", *(w[0] for w in present)],
        rows,
        row_data,
        "means per grid point; users harmed and time to detect on the defective release, rollout time and "
        "false rollbacks on the same scenario with a healthy release",
    )


def frontier_rows(data: SweepData) -> Table:
    assert data.frontier is not None
    rows, row_data = [], []
    for row in data.frontier.to_dict(orient="records"):
        rows.append(
            [
                Cell(str(row["number"]), numeric=True),
                *(Cell(value_text(row[path])) for path in data.group_axes),
                Cell(row["setting"]),
                Cell(_duration(row["duration_s"]), {"value": float(row["duration_s"])}, True),
                Cell(_count(row["blast_radius_users"]), {"value": float(row["blast_radius_users"])}, True),
            ]
        )
        row_data.append({"setting": row["setting"], "number": row["number"]})
    return Table(
        "frontier",
        ["#", *map(axis_label, data.group_axes), "setting", "rollout time", "users harmed"],
        rows,
        row_data,
        "Pareto frontier: the settings no other beats on both rollout time (healthy release) and users harmed "
        "(defective release); # is the number on the trade-off chart",
    )


def sweep_charts(data: SweepData) -> list[Chart]:
    trade_off = [] if data.candidates is None else [_tradeoff(data)]
    return trade_off + _across_the_grid(data)


def _tradeoff(data: SweepData) -> Chart:
    assert data.candidates is not None and data.frontier is not None
    undrawn = int(data.candidates["duration_s"].isna().sum())
    note = f" {undrawn} setting(s) never completed on the healthy release and are not drawn." if undrawn else ""
    numbers = ", ".join(f"{n}: {s}" for n, s in zip(data.frontier["number"], data.frontier["setting"], strict=True))
    return Chart(
        "tradeoff.png",
        "Trade-off: rollout time against users harmed, with the Pareto frontier",
        "Each marker is a strategy setting at a grid point (means): its rollout time on the healthy release "
        "against the users it harmed on the defective one. Ringed and numbered: the Pareto frontier "
        f"({numbers}).{note}",
        tradeoff_chart(data.candidates, data.group_axes, data.strategies),
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
