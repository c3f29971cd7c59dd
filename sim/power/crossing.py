"""The z-test's and the mSPRT's closed forms: a z boundary at each look, crossed by the difference of the
arms' error rates taken as a Brownian motion with drift on the information scale, by recursive numerical
integration (``_crossing``); the z-test's boundaries are its own, the mSPRT's its likelihood-ratio rule."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import signal, stats

from sim.durations import format_duration
from sim.power.closed import ClosedForm
from sim.power.looks import cumulative, spread, variances
from sim.power.schedule import Measurements


def ztest_form(built: Any, schedule: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = cumulative(schedule, built.min_requests)
    looked[np.cumsum(looked) > built.looks] = False  # passed after its planned looks: no more
    index = np.flatnonzero(looked)
    bounds = built.bounds[: len(index)]
    curves = []
    for new in rates:
        with np.errstate(divide="ignore", invalid="ignore"):  # no errors on either arm: nothing crosses
            unpooled, pooled = variances(n[index], m[index], (new, rates[1]))
            # The judge divides by the pooled standard error: on the scale of the true one, its boundary moves.
            scaled = bounds * np.sqrt(pooled / unpooled)
        curves.append(spread(_crossing(1 / unpooled, scaled, new - rates[1]), looked))
    return ClosedForm(
        "normal: z at each look a Brownian motion on the information scale, the boundary crossing by "
        "recursive numerical integration",
        schedule.times,
        *curves,
        notes=_ztest_notes(built, schedule.times[index]),
    )


def _ztest_notes(built: Any, looked_at: np.ndarray) -> tuple[str, ...]:
    """Its boundaries, and how many of its planned looks the longest bake allows (``looked_at``: when)."""
    shown = ", ".join(f"{bound:.2f}" for bound in built.bounds[:5]) + (", ..." if built.looks > 5 else "")
    planned = f"{built.looks} planned looks, z boundaries {shown}"
    if len(looked_at) == built.looks:
        last = format_duration(looked_at[-1])
        return planned, f"it passes after its last look, at {last}: a longer bake catches nothing more"
    if len(looked_at):
        return planned, f"the longest bake allows {len(looked_at)} of its {built.looks} looks"
    return (planned,)


def msprt_form(built: Any, schedule: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = cumulative(schedule, built.min_requests)
    if built.max_looks:
        looked[np.cumsum(looked) > built.max_looks] = False
    index = np.flatnonzero(looked)
    curves = []
    for new in rates:
        with np.errstate(divide="ignore", invalid="ignore"):
            unpooled, _ = variances(n[index], m[index], (new, rates[1]))
            bounds = _msprt_bounds(unpooled, built.tau, built.alpha)
        curves.append(spread(_crossing(1 / unpooled, bounds, new - rates[1]), looked))
    note = f"always valid: false rollbacks at most alpha = {100 * built.alpha:g}% at any bake"
    return ClosedForm(
        "normal: its likelihood-ratio rule as a z boundary at each look (the variance at its expected value), "
        "crossed by recursive numerical integration",
        schedule.times,
        *curves,
        notes=(note,),
    )


def _msprt_bounds(variance: np.ndarray, tau: float, alpha: float) -> np.ndarray:
    """The z above which the mixture likelihood ratio reaches ``1 / alpha``, the variance of the difference
    ``variance`` at each look (``c_k`` in the docstring of ``sim.power``)."""
    mixed = variance + tau**2
    return np.sqrt(2 * mixed / tau**2 * (math.log(1 / alpha) + 0.5 * np.log(mixed / variance)))


def _crossing(information: np.ndarray, bounds: np.ndarray, drift: float) -> np.ndarray:
    """P(``Z_j > bounds[j]`` at some look j <= k), for each look k.

    ``Z_k = S_k / sqrt(I_k)`` where ``S`` is a Brownian motion with drift ``drift`` in information time
    ``I`` (``S_k`` normal, mean ``drift I_k``, variance ``I_k``, independent increments). As
    ``strategies.sequential.crossing_probability`` (Armitage, McPherson and Rowe), with a drift and
    unequal increments: the density of ``W(t) = S / sqrt(I_K)`` less its drift is carried on a grid
    from look to look and cut at each boundary. Deterministic.
    """
    if not len(information):
        return np.zeros(0)
    if not (np.isfinite(information).all() and information[-1] > 0):
        return np.zeros(len(information))  # no errors at all on either arm: z stays 0, nothing crosses
    total = information[-1]
    fractions = information / total
    increments = np.diff(fractions, prepend=0.0)
    shift = drift * math.sqrt(total)
    smallest = float(increments[increments > 0].min())
    step = min(0.01, max(1e-3, math.sqrt(smallest) / 40))  # 40 cells per sd of the smallest increment
    grid = np.arange(-10.0, 10.0 + step / 2, step)  # W(t) less its drift: variance at most 1
    mass = _normal_cells(grid, math.sqrt(fractions[0]), step)
    out = np.zeros(len(information))
    for k, (fraction, increment, bound) in enumerate(zip(fractions, increments, bounds, strict=True)):
        if k > 0 and increment > 0:
            mass = np.clip(signal.fftconvolve(mass, _kernel(math.sqrt(increment), step), mode="same"), 0.0, None)
        edge = bound * math.sqrt(fraction) - shift * fraction
        # Each grid point stands for a cell of width ``step``: keep the share of the cell below the boundary.
        mass = mass * np.clip((edge - grid) / step + 0.5, 0.0, 1.0)
        out[k] = 1.0 - mass.sum()
    return np.clip(out, 0.0, 1.0)


def _normal_cells(grid: np.ndarray, sd: float, step: float) -> np.ndarray:
    """P(N(0, sd^2) falls in each grid point's cell)."""
    if sd <= 0:
        return (np.abs(grid) < step / 2).astype(float)
    return np.diff(stats.norm.cdf(np.append(grid - step / 2, grid[-1] + step / 2) / sd))


def _kernel(sd: float, step: float) -> np.ndarray:
    """An increment N(0, sd^2) as cell probabilities, centred (odd length) for ``mode="same"``."""
    half = max(1, math.ceil(9 * sd / step))
    return _normal_cells(np.arange(-half, half + 1) * step, sd, step)
