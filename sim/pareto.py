"""The Pareto frontier of a sweep: what caution costs against what it saves.

For each setting of the axes that do not touch a strategy (e.g. each defect
size), the strategy settings that no other beats on both rollout duration on
the healthy release and blast radius in users on the defective one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.grid import Axis


def pareto_frontier(table: pd.DataFrame, axes: list[Axis]) -> pd.DataFrame:
    """Per setting of the non-strategy axes: the strategy settings no other beats on both
    rollout duration (healthy release) and blast radius in users (defective release)."""
    strategy_axes = [a.path for a in axes if a.is_strategy]
    group_axes = [a.path for a in axes if not a.is_strategy]
    duration = _measure(table, "healthy", "rollout_duration_s", "duration_s")
    harm = _measure(table, "defective", "blast_radius_users", "blast_radius_users")
    keys = ["point", "strategy"]
    candidates = duration.merge(harm, on=keys).merge(
        table[[*keys, *strategy_axes, *group_axes]].drop_duplicates(keys), on=keys
    )
    # A strategy not touched by a strategy axis is the same at every point of a group.
    candidates["setting"] = candidates.apply(lambda r: _setting(r, strategy_axes), axis=1)
    candidates = candidates.drop_duplicates([*group_axes, "setting"])
    frontier = []
    for _, group in candidates.groupby(group_axes, sort=False, dropna=False) if group_axes else [(0, candidates)]:
        frontier.append(group[[not _dominated(row, group) for row in group.itertuples()]])
    columns = [*group_axes, "setting", "duration_s", "blast_radius_users"]
    result = pd.concat(frontier, ignore_index=True) if frontier else pd.DataFrame(columns=columns)
    return result[columns].sort_values([*group_axes, "duration_s"], ignore_index=True)


def _measure(table: pd.DataFrame, release: str, measure: str, column: str) -> pd.DataFrame:
    rows = table[(table["release"] == release) & (table["measure"] == measure)]
    return rows[["point", "strategy", "mean"]].rename(columns={"mean": column})


def _setting(row: Any, strategy_axes: list[str]) -> str:
    own = [f"{path.split('.', 2)[2]}={row[path]}" for path in strategy_axes if path.split(".")[1] == row["strategy"]]
    return row["strategy"] + (f" ({', '.join(own)})" if own else "")


def _dominated(row: Any, group: pd.DataFrame) -> bool:
    # A setting that never completed has no duration (NaN): it cannot be on the frontier.
    if pd.isna(row.duration_s) or pd.isna(row.blast_radius_users):
        return True
    better_or_equal = (group["duration_s"] <= row.duration_s) & (group["blast_radius_users"] <= row.blast_radius_users)
    strictly = (group["duration_s"] < row.duration_s) | (group["blast_radius_users"] < row.blast_radius_users)
    return bool((better_or_equal & strictly).any())
