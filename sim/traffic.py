"""Request arrivals per cohort, drawn in aggregate on a fixed one-minute grid.

Why a grid: the count in every grid cell comes from its own stream in cell
order, whatever the strategy does, so every strategy of a comparison sees
the same traffic (common random numbers). A control event inside a cell
takes a binomial share of the cell's remaining count, which is exact for a
Poisson process with a constant rate inside the cell.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from sim.dataplane import Commons
from sim.latency import LatencyModel
from sim.population import CELL_SECONDS, Cohorts
from sim.telemetry import both_rates

_CELLS_PER_DRAW = 60  # cells drawn per numpy call at most: one simulated hour
_FIRST_DRAW = 4  # the first call draws this many, then twice as many each time: many blocks end within minutes


_CELL_MEANS: dict[tuple[int, int, int], tuple[Cohorts, np.ndarray]] = {}


def cell_means(cohorts: Cohorts, first: int, count: int) -> np.ndarray:
    """``cohorts.cell_means(first, count)``, remembered (read-only): every block of a comparison
    draws the same batches of cells (a few dozen a day) for the same cohorts."""
    key = (id(cohorts), first, count)
    known = _CELL_MEANS.get(key)
    if known is not None and known[0] is cohorts:
        return known[1]
    means = cohorts.cell_means(first, count)
    means.flags.writeable = False
    if len(_CELL_MEANS) >= 1024:
        _CELL_MEANS.clear()
    _CELL_MEANS[key] = (cohorts, means)
    return means


class TrafficClock:
    """Hands out the requests of each replication and cohort for consecutive time spans."""

    def __init__(
        self, cohorts: Cohorts, replications: int, cells: np.random.Generator, splits: np.random.Generator
    ) -> None:
        self._cohorts = cohorts
        self._shape = (replications, cohorts.size)
        self._cells = cells
        self._splits = splits
        self._drawn = np.zeros((0, *self._shape), dtype=np.int64)
        self._drawn_first = 0
        self._cell = -1
        self._cell_end = 0.0
        self._position = 0.0
        self._left = np.zeros(self._shape, dtype=np.int64)

    @property
    def position(self) -> float:
        return self._position

    def take(self, until: float) -> np.ndarray:
        """Requests per replication and cohort in ``[position, until)``; moves the position there.

        A cell is entered (and its batch drawn) only once time goes past its start: a block that
        ends on a cell's edge draws no cell it does not use.
        """
        taken = np.zeros(self._shape, dtype=np.int64)
        while until > self._position:
            if self._position >= self._cell_end:  # this cell is used up
                self._enter_next_cell()
            if until >= self._cell_end:  # the rest of this cell
                taken += self._left
                self._position = self._cell_end
            else:
                share = (until - self._position) / (self._cell_end - self._position)
                part = self._splits.binomial(self._left, share)
                self._left -= part
                taken += part
                self._position = until
        return taken

    def _enter_next_cell(self) -> None:
        self._cell += 1
        offset = self._cell - self._drawn_first
        if offset >= len(self._drawn):
            # Poisson draws consume the stream element by element, so how many cells
            # one call draws never changes the numbers.
            count = min(_CELLS_PER_DRAW, max(_FIRST_DRAW, 2 * len(self._drawn)))
            self._drawn_first = self._cell
            means = cell_means(self._cohorts, self._cell, count)[:, None, :]
            self._drawn = self._cells.poisson(np.broadcast_to(means, (count, *self._shape)))
            offset = 0
        self._left = self._drawn[offset].copy()
        self._position = self._cell * CELL_SECONDS
        self._cell_end = self._position + CELL_SECONDS


@functools.lru_cache(maxsize=32)
def _tick_times(horizon: float, scrape_interval: float, edges: tuple[float, ...]) -> tuple[tuple, tuple]:
    """Tick times (rounded to a microsecond) and whether each is a scrape; the same for every block."""
    cells = np.arange(1, int(horizon // CELL_SECONDS) + 1) * CELL_SECONDS
    scrapes = np.round(np.arange(1, int(horizon / scrape_interval + 1e-9) + 1) * scrape_interval, 6)
    times = np.round(np.concatenate([cells, scrapes, np.asarray(edges, dtype=float), [horizon]]), 6)
    times = np.unique(times[(times > 0) & (times <= horizon)])
    return tuple(times.tolist()), tuple(np.isin(times, scrapes).tolist())


class Clock:
    """The fixed ticks of a block and what every strategy shares at each: traffic and baseline errors.

    Ticks are the one-minute cells, the scrapes and the given ``edges``
    (spikes, defect onset), up to the horizon: the same for every strategy,
    whatever it decides. Times are rounded to a microsecond.
    """

    def __init__(
        self,
        cohorts: Cohorts,
        replications: int,
        horizon: float,
        scrape_interval: float,
        edges: list[float],
        rates: tuple[float, float],
        streams: dict[str, np.random.Generator],
        latency: LatencyModel | None = None,
    ) -> None:
        self._traffic = TrafficClock(cohorts, replications, streams["cells"], streams["splits"])
        self._cohorts, self._horizon = cohorts, horizon
        self._starts = cohorts.segment_starts  # (a property that computes it)
        self._errors = streams["errors"]
        self._rates = rates
        self._latency = latency
        self.times, self._scrape = _tick_times(horizon, scrape_interval, tuple(edges))
        self._start = 0.0

    def expected_after(self, time: float) -> float:
        """Expected requests over the whole service from ``time`` to the horizon."""
        first = int(time // CELL_SECONDS)
        last = int(np.ceil(self._horizon / CELL_SECONDS))
        if last <= first:
            return 0.0
        means = self._cohorts.cell_means(first, last - first).sum(axis=1)
        cells = first + np.arange(last - first)
        covered = np.clip(
            np.minimum((cells + 1) * CELL_SECONDS, self._horizon) - np.maximum(cells * CELL_SECONDS, time), 0, None
        )
        return float((means * covered / CELL_SECONDS).sum())

    def ticks(self) -> Iterator[tuple[float, bool]]:
        yield from zip(self.times, self._scrape, strict=True)

    def commons(self, end: float) -> Commons:
        requests = self._traffic.take(end)
        per_segment = np.add.reduceat(requests, self._starts, axis=1)
        errors, slow = both_rates(self._errors, per_segment, self._rates)
        latency = None if self._latency is None else self._errors.multinomial(per_segment, self._latency.healthy)
        commons = Commons(self._start, end, requests, per_segment, errors, slow, latency)
        self._start = end
        return commons
