"""Wald's approximations for an untruncated SPRT without overshoot, the notes beside the SPRT's closed form:
its operating characteristic (the probability that it fails) and its average sample number, in requests
and as the look by which the canary has seen them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize

from sim.durations import format_duration
from sim.power.schedule import Measurements


def wald_notes(built: Any, rates: tuple[float, float], schedule: Measurements) -> tuple[str, ...]:
    """One note with the defect, one healthy."""
    labels = ("with the defect", "healthy")
    return tuple(_wald(built, rate, label, schedule) for rate, label in zip(rates, labels, strict=True))


def _wald(built: Any, rate: float, label: str, schedule: Measurements) -> str:
    """Wald's operating characteristic and average sample number for an untruncated SPRT, no overshoot."""
    # One request's log-likelihood ratio: ``up`` when it errs, ``down`` (below 0) when it succeeds.
    up, down = math.log(built.p1 / built.p0), -math.log((1 - built.p0) / (1 - built.p1))
    drift = rate * up + (1 - rate) * down  # per request
    variance = rate * (1 - rate) * (up - down) ** 2
    if variance == 0:  # no error ever (or every request errs): the ratio moves one way
        fails = 1.0 if drift > 0 else 0.0
        requests = (built.upper if drift > 0 else built.lower) / drift
    elif abs(drift) < 1e-12 * math.sqrt(variance):
        fails = -built.lower / (built.upper - built.lower)
        requests = -built.lower * built.upper / variance
    else:
        h = _wald_exponent(rate, up, down, drift)
        # (1 - e^(h lower)) / (e^(h upper) - e^(h lower)), divided through by its largest term (no overflow).
        if h > 0:
            gap = math.exp(h * (built.lower - built.upper))
            fails = (math.exp(-h * built.upper) - gap) / (1 - gap)
        else:
            fails = -math.expm1(-h * built.lower) / -math.expm1(h * (built.upper - built.lower))
        requests = (fails * built.upper + (1 - fails) * built.lower) / drift
    seen = np.cumsum(schedule.new)
    when = int(np.searchsorted(seen, requests))
    time = f"the look at {format_duration(schedule.times[when])}" if when < len(seen) else "beyond the longest bake"
    return (
        f"Wald, untruncated and without overshoot, {label}: fails {100 * fails:.1f}% after {requests:,.0f} "
        f"requests on average ({time})"
    )


def _wald_exponent(rate: float, up: float, down: float, drift: float) -> float:
    """The h != 0 with E[exp(h x one request's log-likelihood ratio)] = 1 (its sign opposite the drift's)."""

    def moment(h: float) -> float:
        return rate * math.exp(h * up) + (1 - rate) * math.exp(h * down) - 1.0

    sign = -1.0 if drift > 0 else 1.0
    far = sign
    while moment(far) <= 0:
        far *= 2
    return optimize.brentq(moment, sign * 1e-9, far, xtol=1e-12)
