"""The simulated part of a power curve: the scenario it runs (a canary at the weight that bakes and is then
promoted, the judge its only detector, the run ending with the bake), once with the defect and once
healthy, and when each of those runs rolled back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.experiments import compare
from sim.plugins import PluginError
from sim.power.judge import StudiedJudge
from sim.scenario import Scenario, scenario_from_dict

Progress = Callable[[int, int], None]


def rollback_times(
    scenario: Scenario,
    judge: StudiedJudge,
    *,
    weight: float,
    harm: float,
    bake: float,
    replications: int,
    seed: int | None,
    workers: int | None,
    progress: Progress | None,
) -> list[np.ndarray]:
    """When each rolled-back run rolled back (the others are not in it): with the defect, then healthy.

    ``progress`` counts the runs of both releases, ``2 * replications`` in all."""
    times = []
    for index, defect in enumerate((harm, None)):
        variant = _variant(scenario, judge, weight, defect, bake)
        report = _counting(progress, index * replications, 2 * replications)
        times.append(_rolled_back(variant, replications, seed, workers, report))
    return times


def _variant(scenario: Scenario, judge: StudiedJudge, weight: float, harm: float | None, bake: float) -> Scenario:
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["horizon"] = bake + 60.0  # the run ends with the bake: nothing after it counts
    # The judge is the only detector: every watcher off (service alert, SLO burn, user reports, ...).
    data["detection"] = {
        key: value if key == "analysis" else {"enabled": False} for key, value in data["detection"].items()
    }
    data["release"] = {} if harm is None else {"defect": {"harm": harm, "kind": "errors"}}
    params = {
        "steps": [weight],
        "bake": bake,
        "check": min(60.0, bake),
        "judge": judge.name,
        "baseline": judge.baseline,
    }
    judges = {judge.name: judge.spec.model_dump(mode="json")}
    data["strategies"] = [{"name": "power", "use": "canary", "params": params, "judges": judges}]
    return scenario_from_dict(data, f"{scenario.name} (power)")


def _counting(progress: Progress | None, done: int, total: int) -> Progress:
    """One release's progress as part of both: ``done`` runs before its own, ``total`` in all."""

    def report(count: int, _total: int) -> None:
        if progress:
            progress(done + count, total)

    return report


def _rolled_back(
    variant: Scenario, replications: int, seed: int | None, workers: int | None, progress: Progress
) -> np.ndarray:
    comparison = compare(variant, replications=replications, seed=seed, workers=workers, progress=progress)
    if comparison.errors:
        raise PluginError(" ".join(next(iter(comparison.errors.values())).split()))
    runs = comparison.runs
    rolled = runs[runs["outcome"].isin(("rolled_back", "false_rollback"))]
    return rolled["rollback_s"].to_numpy(dtype=float)
