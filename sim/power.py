"""How long must a canary bake? Detection and false-rollback rates of a judge as a function of bake time.

For each bake time, a canary at ``weight`` holds for the bake and is then
promoted; its judge is the only detector (watchers off). Simulated on a
release with an error defect of probability ``harm`` (detection: the share
of runs rolled back) and on the healthy release (false rollbacks), with the
same seed. Beside them, the closed form where one exists: for a ``threshold``
judge with the Argo rule whose windows do not overlap, measurement j fails
with probability ``q_j = P(Binomial(N_j, p) > r N_j)`` (``N_j`` the expected
new-version requests in its window, ``p`` the error rate, ``r`` the limit),
independently, and the judge fails when more than ``failure_limit`` of the
measurements before the bake ends fail (a Poisson-binomial tail).
Each request count is Poisson with mean ``N_j`` (its errors binomial given
it); the scrape lag is ignored, and so is the daily curve's change inside a
window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.experiments import compare
from sim.plugins import load_judge_class, strategy_judges
from sim.population import CELL_SECONDS, Cohorts, build_cohorts
from sim.scenario import Scenario, ScenarioError, StrategySpec, scenario_from_dict

MAX_BAKES = 20
MAX_BAKE = 7 * 86400.0


@dataclass(frozen=True)
class PowerRow:
    """One bake time: simulated rates (with their 95% intervals) and the closed form (None: none here)."""

    bake_s: float
    detection: float
    detection_ci: tuple[float, float]
    false_rollback: float
    false_rollback_ci: tuple[float, float]
    detection_closed: float | None
    false_rollback_closed: float | None
    replications: int


def power_curve(
    scenario: Scenario,
    *,
    weight: float,
    harm: float,
    bakes: Sequence[float],
    strategy: str | None = None,
    replications: int = 400,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, list[PowerRow]]:
    """The judge's name and one row per bake time (see the module's docstring)."""
    _check(weight, harm, bakes, replications)
    name, judge = _judge(scenario, strategy)
    rows = []
    for index, bake in enumerate(bakes):
        rates = []
        for defective in (True, False):
            variant = _variant(scenario, name, judge, weight, harm if defective else None, bake)
            runs = compare(variant, replications=replications, seed=seed, workers=1).runs
            rates.append(float((runs["outcome"] == ("rolled_back" if defective else "false_rollback")).mean()))
        closed = _closed_form(scenario, judge, weight, harm, bake)
        rows.append(
            PowerRow(
                bake_s=float(bake),
                detection=rates[0],
                detection_ci=_wilson(rates[0], replications),
                false_rollback=rates[1],
                false_rollback_ci=_wilson(rates[1], replications),
                detection_closed=None if closed is None else closed[0],
                false_rollback_closed=None if closed is None else closed[1],
                replications=replications,
            )
        )
        if progress:
            progress(index + 1, len(bakes))
    return name, rows


def _check(weight: float, harm: float, bakes: Sequence[float], replications: int) -> None:
    if not 0.0 < weight <= 1.0:
        raise ScenarioError(f"--weight must be a share in (0, 1], got {weight:g}")
    if not 0.0 < harm <= 1.0:
        raise ScenarioError(f"--harm must be a probability in (0, 1], got {harm:g}")
    if not 1 <= len(bakes) <= MAX_BAKES:
        raise ScenarioError(f"give 1 to {MAX_BAKES} bake times, got {len(bakes)}")
    for bake in bakes:
        if not 0.0 < bake <= MAX_BAKE:
            raise ScenarioError(f"--bake must be a duration above 0 and at most 7d, got {bake:g} s")
    if not 1 <= replications <= 100_000:
        raise ScenarioError(f"--replications must be from 1 to 100000, got {replications}")


def _judge(scenario: Scenario, strategy: str | None) -> tuple[str, Any]:
    """The judge to study: the first judge of ``strategy`` (default: the scenario's first strategy)."""
    specs = {spec.name: spec for spec in scenario.strategies}
    if strategy is not None and strategy not in specs:
        raise ScenarioError(f"--strategy: no strategy {strategy!r} in the scenario (it has {', '.join(specs)})")
    spec = specs[strategy] if strategy is not None else (scenario.strategies[0] if scenario.strategies else None)
    judges = strategy_judges(scenario, spec or StrategySpec(name="canary"))
    if not judges:
        raise ScenarioError("the strategy has no judge to study (detection.analysis is disabled)")
    name = next(iter(judges))
    return name, judges[name]


def _variant(
    scenario: Scenario, name: str, judge: Any, weight: float, harm: float | None, bake: float
) -> Scenario:
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["horizon"] = bake + 600.0
    data["detection"] = {**data["detection"], "service_alert": {"enabled": False}, "user_reports": {"enabled": False}}
    data["release"] = {} if harm is None else {"defect": {"harm": harm, "kind": "errors"}}
    data["strategies"] = [
        {
            "name": "power",
            "use": "canary",
            "params": {"steps": [weight], "bake": bake, "check": min(60.0, bake), "judge": name},
            "judges": {name: judge.model_dump(mode="json", exclude_none=True)},
        }
    ]
    return scenario_from_dict(data, f"{scenario.name} (power)")


def _closed_form(scenario: Scenario, judge: Any, weight: float, harm: float, bake: float) -> tuple[float, float] | None:
    if judge.use != "threshold":
        return None
    built = load_judge_class("threshold")(**judge.params)
    if built.rule != "argo" or built.max_slow_rate is not None or built.max_error_rate is None:
        return None
    if built.window > built.interval + 1e-9:  # overlapping windows: measurements are not independent
        return None
    times = [built.initial_delay + j * built.interval for j in range(1, int(bake / built.interval + 1e-9) + 1)]
    times = [t for t in times if t <= bake + 1e-9]
    if built.count:
        times = times[: built.count]
    cohorts = build_cohorts(scenario)
    requests = [weight * _expected(cohorts, t - built.window, t) for t in times]
    base = scenario.telemetry.baseline_error_rate
    return tuple(  # type: ignore[return-value]
        _tail(
            [_measurement_fails(n, p, built.max_error_rate, built.min_requests) for n in requests],
            built.failure_limit,
        )
        for p in (base + harm - base * harm, base)
    )


def _expected(cohorts: Cohorts, start: float, end: float) -> float:
    """Expected requests of the whole service in ``[start, end)`` (seconds from rollout start)."""
    first, last = math.floor(max(start, 0.0) / CELL_SECONDS), math.ceil(end / CELL_SECONDS)
    per_cell = cohorts.cell_means(first, max(last - first, 1)).sum(axis=1)
    cells = (first + np.arange(len(per_cell))) * CELL_SECONDS
    covered = np.clip(np.minimum(cells + CELL_SECONDS, end) - np.maximum(cells, max(start, 0.0)), 0, None)
    return float((per_cell * covered / CELL_SECONDS).sum())


def _measurement_fails(requests: float, rate: float, limit: float, min_requests: int) -> float:
    """P(a measurement fails): its request count is Poisson(``requests``), its errors binomial given it;
    it fails when errors exceed ``limit`` x requests, with at least ``min_requests`` (else no data)."""
    spread = 8.0 * math.sqrt(requests) + 10.0
    counts = np.arange(max(max(min_requests, 1), math.floor(requests - spread)), math.ceil(requests + spread) + 1)
    if not len(counts):
        return 0.0
    fails = stats.binom.sf(np.floor(limit * counts), counts, rate)
    return float((stats.poisson.pmf(counts, requests) * fails).sum())


def _tail(probabilities: list[float], failure_limit: int) -> float:
    """P(more than ``failure_limit`` of independent events with these probabilities happen)."""
    distribution = np.zeros(failure_limit + 2)
    distribution[0] = 1.0
    for q in probabilities:  # the last cell holds "more than failure_limit"
        moved = distribution * q
        distribution = distribution * (1 - q)
        distribution[1:] += moved[:-1]
        distribution[-1] += moved[-1]
    return float(distribution[-1])


def _wilson(rate: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
