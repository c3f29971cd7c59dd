"""The SPRT's closed form: its log-likelihood ratio is a random walk with independent increments (Poisson
errors and successes in each window), carried from look to look on a grid between its two boundaries,
absorbed at either and stopped at the bake; the truncated SPRT with its overshoot, not an approximation
of it. Wald's approximations for the untruncated SPRT go beside it as notes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import signal

from sim.power.closed import ClosedForm
from sim.power.lattice import interpolated, normal_lattice, poisson_lattice
from sim.power.looks import cumulative
from sim.power.schedule import Measurements
from sim.power.wald import wald_notes

SPRT_CELLS = 1000  # grid steps between the two boundaries (the rates move by less than 1e-3 past 250)


def sprt_form(built: Any, schedule: Measurements, rates: tuple[float, float]) -> ClosedForm:
    _, _, looked = cumulative(schedule, built.min_requests)
    curves = [_sprt_walk(built, schedule.new * rate, schedule.new * (1 - rate), looked) for rate in rates]
    return ClosedForm(
        "random walk: the log-likelihood ratio, Poisson errors and successes per window, absorbed at both "
        "boundaries, stopped at the bake (numerically, on a grid)",
        schedule.times,
        *curves,
        notes=wald_notes(built, rates, schedule),
    )


def _sprt_walk(built: Any, errors: np.ndarray, successes: np.ndarray, looked: np.ndarray) -> np.ndarray:
    """P(failed by each measurement): the ratio ``a X - c Y`` (X errors, Y successes so far, Poisson with the
    windows' expected counts, independent as Poisson traffic thins) fails at a look at or above ``upper``
    and passes at or below ``lower`` (the judge stops either way).

    Its distribution between the boundaries is carried on a grid of ``SPRT_CELLS`` steps; each point of
    the walk is shared between its two nearest grid points (linear interpolation keeps the mean exact)."""
    up, down = math.log(built.p1 / built.p0), math.log((1 - built.p0) / (1 - built.p1))
    step = (built.upper - built.lower) / SPRT_CELLS
    start, first = interpolated(np.array([-built.lower / step]), np.ones(1))  # the ratio starts at 0
    mass = np.zeros(SPRT_CELLS + 1)  # grid point 0: lower, SPRT_CELLS: upper
    mass[first : first + len(start)] = start
    failed, out = 0.0, np.zeros(len(errors))
    pending = np.zeros(2)  # the counts of the measurements since the last look (before the first: too few)
    for j in range(len(errors)):
        pending += (errors[j], successes[j])
        if looked[j]:
            kernel, first, beyond = _increment(pending[0], pending[1], up / step, down / step)
            failed += beyond * float(mass.sum())  # so far up that it fails from anywhere inside
            moved = signal.fftconvolve(mass, kernel) if len(kernel) > 1 else mass * kernel[0]
            where = np.arange(len(moved)) + first  # the grid point of each entry
            failed += float(np.clip(moved[where >= SPRT_CELLS], 0.0, None).sum())
            inside = (where > 0) & (where < SPRT_CELLS)
            mass = np.zeros(SPRT_CELLS + 1)
            mass[where[inside]] = np.clip(moved[inside], 0.0, None)
            pending[:] = 0.0
        out[j] = failed
    return np.clip(out, 0.0, 1.0)


def _increment(errors: float, successes: float, up: float, down: float) -> tuple[np.ndarray, int, float]:
    """One look's change of the ratio in grid steps, ``up X - down Y`` with X ~ Poisson(``errors``) and
    Y ~ Poisson(``successes``) (normal: it has thousands): the kernel over grid offsets ``first, first + 1,
    ...`` less than one span of the boundaries away, and the probability of going a span or more up
    (failing from anywhere inside; a span or more down always passes)."""
    lattice, first_x = poisson_lattice(errors, up)
    normal, first_y = normal_lattice(-down * successes, down * math.sqrt(successes))
    # Error counts that go a span up however few the successes, or a span down however many, need no
    # convolving: the former fail from anywhere inside, the latter pass.
    offsets = first_x + np.arange(len(lattice))
    above = offsets + first_y >= SPRT_CELLS
    below = offsets + first_y + len(normal) - 1 <= -SPRT_CELLS
    beyond = float(lattice[above].sum())
    kept = ~above & ~below
    if not kept.any():
        return np.zeros(1), 0, beyond
    lattice, first_x = lattice[kept], int(offsets[np.argmax(kept)])
    # A single point needs no FFT: the products are exact.
    kernel = (
        signal.fftconvolve(lattice, normal) if min(len(lattice), len(normal)) > 1 else np.outer(lattice, normal).ravel()
    )
    offsets = first_x + first_y + np.arange(len(kernel))
    beyond += float(np.clip(kernel[offsets >= SPRT_CELLS], 0.0, None).sum())
    inside = (offsets > -SPRT_CELLS) & (offsets < SPRT_CELLS)
    if not inside.any():
        return np.zeros(1), 0, beyond
    return np.clip(kernel[inside], 0.0, None), int(offsets[np.argmax(inside)]), beyond
