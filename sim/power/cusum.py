"""The CUSUM's closed form: each look's z is normal, its mean the difference of error rates over the pooled
standard error of that interval's counts, and ``S = max(0, S + z - k)`` is a Markov chain on a grid over
``[0, h]`` (Brook and Evans), absorbed above ``h``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sim.power.closed import ClosedForm
from sim.power.looks import cumulative, spread, variances
from sim.power.schedule import Measurements


def cusum_form(built: Any, schedule: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = cumulative(schedule, built.min_requests)
    index = np.flatnonzero(looked)
    # Each look's z takes the counts since the previous look (the first, everything before it).
    new, reference = (np.diff(counts[index], prepend=0.0) for counts in (n, m))
    curves = []
    for rate in rates:
        with np.errstate(divide="ignore", invalid="ignore"):
            unpooled, pooled = variances(new, reference, (rate, rates[1]))
            usable = (new > 0) & (reference > 0) & (pooled > 0)  # else the judge's z is 0
            means = np.where(usable, (rate - rates[1]) / np.sqrt(pooled), 0.0)
            sds = np.where(usable, np.sqrt(unpooled / pooled), 0.0)
        curves.append(spread(_cusum_chain(means, sds, built.k, built.h), looked))
    return ClosedForm(
        "Markov chain: S = max(0, S + z - k) on a grid over [0, h] (Brook and Evans), each look's z normal",
        schedule.times,
        *curves,
    )


def _cusum_chain(means: np.ndarray, sds: np.ndarray, k: float, h: float, cells: int = 400) -> np.ndarray:
    """P(S > h by each look), S starting at 0 and each look's z normal(``means[j]``, ``sds[j]^2``)."""
    step = h / cells
    grid = np.arange(cells + 1) * step
    mass = np.zeros(cells + 1)
    mass[0] = 1.0
    out = np.zeros(len(means))
    for j, (mean, sd) in enumerate(zip(means, sds, strict=True)):
        kernel, half = _step_kernel(mean - k, sd, step)
        moved = np.convolve(mass, kernel)  # index i + half: grid position i (may be below 0 or above h)
        positions = (np.arange(len(moved)) - half) * step
        below = moved[positions < step / 2].sum()  # S = max(0, ...): everything at or below 0 is 0
        inside = moved[(positions >= step / 2) & (positions <= h + step / 2)]
        mass = np.concatenate([[below], inside])[: cells + 1]
        mass = np.pad(mass, (0, cells + 1 - len(mass)))
        mass = mass * np.clip((h - grid) / step + 0.5, 0.0, 1.0)  # above h: failed
        out[j] = 1.0 - mass.sum()
    return np.clip(out, 0.0, 1.0)


def _step_kernel(shift: float, sd: float, step: float) -> tuple[np.ndarray, int]:
    """``z - k`` normal(``shift``, ``sd^2``) as the probabilities of grid offsets ``-half`` to ``half``."""
    if sd > 0:
        half = math.ceil((abs(shift) + 9 * sd) / step)
        offsets = np.arange(-half, half + 1) * step
        return np.diff(stats.norm.cdf((np.append(offsets - step / 2, offsets[-1] + step / 2) - shift) / sd)), half
    # No data in either arm: z = 0, S drops by k.
    half = math.ceil(abs(shift) / step)
    offsets = np.arange(-half, half + 1) * step
    return (np.abs(offsets - shift) < step / 2).astype(float), half
