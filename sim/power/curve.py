"""``power_curve``: a judge's detection and false-rollback rates by bake time, as simulated (with their 95%
Wilson intervals) and as its closed form gives them, one ``PowerRow`` per bake; and the checks of the
command's options."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.power.closed import EVENT_RESOLUTION, ClosedForm
from sim.power.forms import closed_form, error_rates
from sim.power.judge import studied_judge
from sim.power.runs import rollback_times
from sim.power.threshold import below_the_limit
from sim.scenario import Scenario, ScenarioError

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


@dataclass(frozen=True)
class PowerCurve:
    """The judge studied, what its closed form computes (None: none for it), notes on it, and the rows."""

    judge: str
    use: str
    closed_form: str | None
    notes: tuple[str, ...]
    rows: list[PowerRow]


def power_curve(
    scenario: Scenario,
    *,
    weight: float,
    harm: float,
    bakes: Sequence[float],
    strategy: str | None = None,
    replications: int = 400,
    seed: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PowerCurve:
    """The judge's detection and false-rollback rates by bake time (see the docstring of ``sim.power``).

    One run per release with the longest bake answers every bake: a failed verdict rolls back at once."""
    _check(weight, harm, bakes, replications)
    judge = studied_judge(scenario, strategy)
    if judge.baseline and weight > 0.5:
        raise ScenarioError(
            f"--weight must be at most 0.5: judge {judge.name!r} compares against a baseline arm as large"
        )
    longest = max(bakes)
    rollbacks = rollback_times(
        scenario,
        judge,
        weight=weight,
        harm=harm,
        bake=longest,
        replications=replications,
        seed=seed,
        workers=workers,
        progress=progress,
    )
    closed = closed_form(scenario, judge.spec, weight=weight, harm=harm, until=longest, baseline=judge.baseline)
    blind = below_the_limit(judge.built, error_rates(scenario, harm)[0])
    if isinstance(closed, str):  # none: why
        rows = [_row(bake, rollbacks, None, replications) for bake in bakes]
        return PowerCurve(judge.name, judge.spec.use, None, (*blind, closed), rows)
    rows = [_row(bake, rollbacks, closed, replications) for bake in bakes]
    return PowerCurve(judge.name, judge.spec.use, closed.method, (*blind, *closed.notes), rows)


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


def _row(bake: float, rollbacks: list[np.ndarray], closed: ClosedForm | None, replications: int) -> PowerRow:
    """A row's rates are the shares of runs rolled back by its bake: they never fall as the bake grows."""
    detection, false_rollback = (float((times <= bake + EVENT_RESOLUTION).sum()) / replications for times in rollbacks)
    detection_closed, false_rollback_closed = (None, None) if closed is None else closed.at(bake)
    return PowerRow(
        bake_s=float(bake),
        detection=detection,
        detection_ci=_wilson(detection, replications),
        false_rollback=false_rollback,
        false_rollback_ci=_wilson(false_rollback, replications),
        detection_closed=detection_closed,
        false_rollback_closed=false_rollback_closed,
        replications=replications,
    )


def _wilson(rate: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a share of ``n`` runs."""
    z = 1.959963984540054
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At a rate of 0 (or 1) the bound is 0 (or 1) exactly; the formula leaves a rounding error.
    return (0.0 if rate <= 0 else max(0.0, centre - half), 1.0 if rate >= 1 else min(1.0, centre + half))
