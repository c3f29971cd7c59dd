"""The threshold judge's closed form, binomial tails: each window's errors binomial among Poisson requests,
the judge failing when too many of its independent measurements fail (a Poisson-binomial tail); and the
warning when its limit is not below the defective release's error rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sim.durations import format_duration
from sim.power.closed import ClosedForm
from sim.power.schedule import Measurements


def threshold_form(built: Any, schedule: Measurements, rates: tuple[float, float]) -> ClosedForm | str:
    limit_rate = error_limit(built)
    why_none = _why_none(built, schedule, limit_rate)
    if why_none is not None:
        return why_none
    flagger = built.rule == "flagger"
    limit = built.threshold - 1 if flagger else built.failure_limit
    curves = [_tails(_failures(built, schedule.new, rate, limit_rate), limit, built.count) for rate in rates]
    rule = f"more than {limit} of them" if not flagger else f"{built.threshold} of them (no data fails)"
    return ClosedForm(
        "binomial: each window's errors binomial among Poisson requests, the judge failing when "
        f"{rule} fail (a Poisson-binomial tail)",
        schedule.times,
        *curves,
    )


def _why_none(built: Any, schedule: Measurements, limit_rate: float | None) -> str | None:
    if limit_rate is None or built.max_slow_rate is not None:
        return "only for a threshold on errors alone (this one judges latency or slow requests)"
    if built.inconclusive_limit is not None:
        return "only without an inconclusive_limit"
    if schedule.overlapping:  # overlapping windows share requests: measurements are not independent
        return (
            f"its {format_duration(built.window)} windows overlap (one every {format_duration(built.interval)}): "
            "measurements that share requests are not independent"
        )
    return None


def error_limit(built: Any) -> float | None:
    """The error rate above which a measurement fails, when errors alone are judged (else None)."""
    if getattr(built, "max_latency", None) is not None:
        return None
    limits = [built.max_error_rate]
    success = getattr(built, "min_success_rate", None)
    limits.append(None if success is None else 1.0 - success)  # success below s: error rate above 1 - s
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def below_the_limit(built: Any, defective: float) -> tuple[str, ...]:
    """A warning when a threshold judge's limit is not below ``defective``, the defective release's error
    rate: then only noise can fail a measurement, and a larger canary (less noise) detects it less often."""
    # Imported here, as sim/importers.py does: the built-in judges import sim, which must not need them.
    from strategies.judges import Threshold

    limit = error_limit(built) if type(built) is Threshold else None
    if limit is None or defective > limit:
        return ()
    return (
        f"the defective release errs on {100 * defective:.3g}% of requests, not above the judge's limit of "
        f"{100 * limit:.3g}%: only noise can fail a measurement",
    )


def _failures(built: Any, requests: np.ndarray, rate: float, limit_rate: float) -> list[float]:
    """P(each measurement fails), its window expecting ``requests``; with Flagger's rule a check with no data
    fails too."""
    fails = [_measurement_fails(n, rate, limit_rate, built.min_requests) for n in requests]
    if built.rule == "flagger":
        fails = [q + _no_data(n, built.min_requests) for q, n in zip(fails, requests, strict=True)]
    return fails


def _measurement_fails(requests: float, rate: float, limit: float, min_requests: int) -> float:
    """P(a measurement fails): its request count is Poisson(``requests``), its errors binomial given it;
    it fails when errors exceed ``limit`` x requests, with at least ``min_requests`` (else no data)."""
    spread = 8.0 * math.sqrt(requests) + 10.0
    counts = np.arange(max(max(min_requests, 1), math.floor(requests - spread)), math.ceil(requests + spread) + 1)
    if not len(counts):
        return 0.0
    fails = stats.binom.sf(np.floor(limit * counts), counts, rate)
    return float((stats.poisson.pmf(counts, requests) * fails).sum())


def _no_data(requests: float, min_requests: int) -> float:
    """P(fewer than ``min_requests`` requests, or none) in a window of Poisson(``requests``) requests."""
    return float(stats.poisson.cdf(max(min_requests, 1) - 1, requests))


def _tail(probabilities: list[float], failure_limit: int) -> float:
    """P(more than ``failure_limit`` of independent events with these probabilities happen)."""
    return float(_tails(probabilities, failure_limit)[-1]) if probabilities else 0.0


def _tails(probabilities: list[float], failure_limit: int, count: int = 0) -> np.ndarray:
    """After each event: P(more than ``failure_limit`` of the events so far happened); the judge stops
    after ``count`` measurements (when set), so later events change nothing."""
    distribution = np.zeros(failure_limit + 2)
    distribution[0] = 1.0
    out = []
    for index, q in enumerate(probabilities):
        if not count or index < count:  # the last cell holds "more than failure_limit"
            moved = distribution * q
            distribution = distribution * (1 - q)
            distribution[1:] += moved[:-1]
            distribution[-1] += moved[-1]
        out.append(distribution[-1])
    return np.array(out, dtype=float)
