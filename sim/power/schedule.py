"""When a judge's measurements arrive and what each one counts: scheduled as the engine schedules them
(sim/judging.py), each window holding its arms' shares of the requests the scenario's traffic expects."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.durations import parse_duration
from sim.population import CELL_SECONDS, build_cohorts
from sim.scenario import MAX_WINDOW, Scenario, Telemetry
from sim.telemetry import scrapes_in


@dataclass(frozen=True)
class Measurements:
    """The judge's measurements up to a time, and the expected requests of each arm in each window."""

    times: np.ndarray  # arrival of each measurement's scrape
    new: np.ndarray  # expected new-version requests in each window
    reference: np.ndarray  # expected requests of the arm the judge compares with (the new one when none)
    overlapping: bool  # some window begins before the previous one ends


def measurements(scenario: Scenario, built: Any, weight: float, until: float, baseline: bool) -> Measurements:
    """The measurements of the judge ``built`` arriving by ``until``, the canary at ``weight`` (and a baseline
    arm as large when ``baseline``)."""
    times, starts, ends = _windows(scenario.telemetry, built, until)
    expected = _expected_requests(scenario, until)
    requests = expected(ends) - expected(np.maximum(starts, 0.0))
    share = _reference_share(built, weight, baseline)
    overlapping = bool(len(starts) > 1 and (starts[1:] < ends[:-1] - 1e-9).any())
    return Measurements(times, weight * requests, share * requests, overlapping)


def _windows(telemetry: Telemetry, built: Any, until: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each measurement's arrival, and the start and end of its window.

    Scrapes are taken at multiples of the scrape interval and arrive ``scrape_lag`` later; a judge
    measures at the first arrival at or after it is due (``initial_delay + interval``, then every
    interval, catching up in one step), over the window ending at that scrape."""
    scrape, lag = telemetry.scrape_interval, telemetry.scrape_lag
    interval = max(parse_duration(getattr(built, "interval", scrape)), scrape)
    window = min(max(parse_duration(getattr(built, "window", scrape)), scrape), MAX_WINDOW)
    span = scrapes_in(window, scrape) * scrape
    due = parse_duration(getattr(built, "initial_delay", 0.0)) + interval
    windows = []
    for index in range(1, int((until - lag) / scrape + 1e-9) + 1):
        taken = round(index * scrape, 6)
        arrival = taken + lag
        if arrival + 1e-9 >= due:
            windows.append((arrival, taken - span, taken))
            due += (math.floor((arrival + 1e-9 - due) / interval) + 1) * interval
    times, starts, ends = (np.array([w[i] for w in windows], dtype=float) for i in range(3))
    return times, starts, ends


def _reference_share(built: Any, weight: float, baseline: bool) -> float:
    """The request share of the arm the judge compares with: the baseline arm (none: 0), stable (the rest),
    or, comparing with none, the new version's own."""
    against = getattr(built, "against", None)
    stable = 1.0 - weight - (weight if baseline else 0.0)
    return {"baseline": weight if baseline else 0.0, "stable": stable}.get(against, weight)


def _expected_requests(scenario: Scenario, until: float) -> Callable[[np.ndarray], np.ndarray]:
    """Expected requests of the whole service from the start to each time (piecewise linear per cell)."""
    cohorts = build_cohorts(scenario)
    cells = math.ceil(until / CELL_SECONDS) + 1
    per_cell = cohorts.cell_means(0, cells).sum(axis=1)
    edges = np.arange(cells + 1) * CELL_SECONDS
    cumulative = np.concatenate([[0.0], np.cumsum(per_cell)])
    return lambda times: np.interp(times, edges, cumulative)
