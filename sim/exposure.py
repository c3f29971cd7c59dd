"""Who is served by the new version, and which distinct users were exposed or harmed.

Users are never tracked one by one. Each replication's users of a cohort are
split into *bands* of sticky hash buckets ``[edge_j, edge_j+1)``; users of a
band share a history, so they are alike. A band holds three counts: users,
users never exposed, users never harmed. Exposure by request (or instance)
serves every band alike; exposure by user serves the bands below the
segment's threshold ``round(share * BUCKETS)``.

What a band's users receive during a tick is a *served probability*: the
time average over the tick of "a request from this band goes to the new
version", which is exact for Poisson thinning when the rate is constant in
the tick. The engine keeps its integral as decisions change the exposure
inside a tick, so a tick costs the same however the replications' decision
times interleave.

Distinct users. Within a band of ``n`` alike users, ``K`` requests fall
uniformly on them: an occupancy problem. The number ``D`` of distinct users
hit is drawn with its exact conditional mean ``n * (1 - (1 - 1/n) ** K)``
and never more than ``K`` or ``n``. Approximation, made here: ``D`` is
binomial rather than the exact occupancy law, whose variance is a little
smaller. Which of the ``D`` users are new to a state is then exact:
hypergeometric.

Bounded bands. Adjacent bands whose users were served alike for a whole
tick and still are (e.g. both inside a rising threshold) are merged at the
end of the tick: exact as long as no later threshold falls between them,
which only a threshold that goes down and then up again between the two can
do. A split of a merged band then takes a random subset of its users
(approximation, documented; exact when they had one history). So the cost
does not grow with the number of distinct thresholds a ramp uses.
"""

from __future__ import annotations

import numpy as np

from sim.population import BUCKETS

CAPACITY = 8
"""Bands per replication and cohort; a tick with more distinct thresholds merges the most alike."""


def distinct(requests: np.ndarray, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct users hit when ``requests`` fall uniformly on ``users`` alike users (elementwise)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.where(users > 0, np.exp(requests * np.log1p(-1.0 / np.maximum(users, 1))), 1.0)
        expected = users * (1.0 - miss)
        few = requests <= users
        hit_share = np.where(few & (requests > 0), expected / np.maximum(requests, 1), 0.0)
    trials = np.concatenate([np.where(few, requests, 0), np.where(few, 0, users)])
    chance = np.concatenate([np.clip(hit_share, 0.0, 1.0), np.where(few, 0.0, np.clip(miss, 0.0, 1.0))])
    drawn = rng.binomial(trials, chance).reshape(2, *requests.shape)
    return np.where(few, drawn[0], users - drawn[1])


class Bands:
    """Per replication, cohort and band: users, users never exposed, users never harmed.

    Arrays are (R, C, CAPACITY); bands past a segment's ``count`` are empty.
    Edges are per replication and segment, shared by the segment's cohorts.
    """

    def __init__(self, cohort_users: np.ndarray, segment: np.ndarray, segments: int, replications: int) -> None:
        self._cohort_users = cohort_users.astype(np.int64)
        self._segment = segment
        self._cohorts_of = [np.flatnonzero(segment == s) for s in range(segments)]
        self._segment_starts = np.searchsorted(segment, np.arange(segments))
        shape = (replications, len(cohort_users), CAPACITY)
        self.edges = np.full((replications, segments, CAPACITY + 1), BUCKETS, dtype=np.int64)
        self.edges[:, :, 0] = 0
        self.count = np.ones((replications, segments), dtype=np.int64)
        self.users = np.zeros(shape, dtype=np.int64)
        self.users[:, :, 0] = self._cohort_users
        self.unexposed = self.users.copy()
        self.unharmed = self.users.copy()

    @property
    def used(self) -> int:
        """Bands in use by any replication (arrays past it are empty everywhere)."""
        return int(self.count.max())

    @property
    def exposed_users(self) -> np.ndarray:
        return (self.users - self.unexposed).sum(axis=(1, 2))

    @property
    def harmed_users(self) -> np.ndarray:
        return (self.users - self.unharmed).sum(axis=(1, 2))

    def harmed_per_cohort(self) -> np.ndarray:
        return (self.users - self.unharmed).sum(axis=2)

    def inside(self, replication: int, segment: int, threshold: int) -> np.ndarray:
        """Per band of the segment (CAPACITY,): 1.0 where the band lies below ``threshold``."""
        return (self.edges[replication, segment, 1:] <= threshold).astype(float)

    def split(self, replication: int, segment: int, threshold: int, rng: np.random.Generator, keep: list) -> None:
        """Make ``threshold`` an edge of the segment's bands in one replication.

        ``keep`` lists per-band arrays of shape (R, C, CAPACITY) (served
        probabilities and their integrals) whose values both halves inherit.
        """
        r, edges = replication, self.edges[replication, segment]
        n = int(self.count[r, segment])
        band = int(np.searchsorted(edges[: n + 1], threshold, side="right")) - 1
        if threshold <= 0 or threshold >= BUCKETS or edges[band] == threshold:
            return
        if n == CAPACITY:
            self._merge_most_alike(r, segment, keep)
            self.split(r, segment, threshold, rng, keep)
            return
        cohorts = self._cohorts_of[segment]
        sizes = self._cohort_users[cohorts]
        below = sizes * threshold // BUCKETS - sizes * edges[band] // BUCKETS
        users = self.users[r, cohorts, band]
        unharmed, unexposed = self.unharmed[r, cohorts, band], self.unexposed[r, cohorts, band]
        # Which of the band's users fall below: a random subset, so its mix is hypergeometric.
        unharmed_below = rng.hypergeometric(unharmed, users - unharmed, below)
        unexposed_below = rng.hypergeometric(unexposed, unharmed - unexposed, unharmed_below)
        edges[band + 1 :] = np.concatenate([[threshold], edges[band + 1 : -1]])
        self.count[r, segment] = n + 1
        for array, part in ((self.users, below), (self.unharmed, unharmed_below), (self.unexposed, unexposed_below)):
            rows = array[r, cohorts]
            rows[:, band + 1 :] = rows[:, band:-1].copy()
            rows[:, band] = part
            rows[:, band + 1] -= part
            array[r, cohorts] = rows
        for array in keep:
            rows = array[r, cohorts]
            rows[:, band + 1 :] = rows[:, band:-1].copy()
            array[r, cohorts] = rows

    def merge_alike(self, served: np.ndarray, average: np.ndarray, keep: list) -> None:
        """Merge adjacent bands served alike over the last tick and now (``served``, ``average``: (R, C, CAPACITY))."""
        if self.count.max() < 2:
            return
        alike = (served[:, :, :-1] == served[:, :, 1:]) & (average[:, :, :-1] == average[:, :, 1:])
        alike = np.logical_and.reduceat(alike, self._segment_starts, axis=1)  # (R, S, CAPACITY - 1)
        alike &= np.arange(CAPACITY - 1)[None, None, :] < (self.count - 1)[:, :, None]
        # From the right, so that merging one pair does not move the next pair to look at.
        for r, segment, band in sorted(zip(*np.nonzero(alike), strict=True), reverse=True):
            self._merge(int(r), int(segment), int(band), keep)

    def _merge_most_alike(self, r: int, segment: int, keep: list) -> None:
        cohorts = self._cohorts_of[segment]
        n = int(self.count[r, segment])
        with np.errstate(divide="ignore", invalid="ignore"):
            users = np.maximum(self.users[r, cohorts, :n], 1)
            state = np.concatenate([self.unexposed[r, cohorts, :n] / users, self.unharmed[r, cohorts, :n] / users])
        distance = np.abs(np.diff(state, axis=1)).sum(axis=0)
        self._merge(r, segment, int(np.argmin(distance)), keep)

    def _merge(self, r: int, segment: int, band: int, keep: list) -> None:
        """Band ``band + 1`` joins band ``band``."""
        cohorts = self._cohorts_of[segment]
        edges = self.edges[r, segment]
        edges[band + 1 : -1] = edges[band + 2 :].copy()
        edges[-1] = BUCKETS
        self.count[r, segment] -= 1
        for array in (self.users, self.unharmed, self.unexposed):
            rows = array[r, cohorts]
            rows[:, band] += rows[:, band + 1]
            rows[:, band + 1 : -1] = rows[:, band + 2 :].copy()
            rows[:, -1] = 0
            array[r, cohorts] = rows
        for array in keep:
            rows = array[r, cohorts]
            rows[:, band + 1 : -1] = rows[:, band + 2 :].copy()
            rows[:, -1] = 0
            array[r, cohorts] = rows

    def record(self, served: np.ndarray, harmed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Update distinct users from served and harmed requests, each (R, C, bands used).

        Returns the number of users harmed for the first time, per replication.
        """
        used = served.shape[2]
        users = self.users[:, :, :used]
        unexposed, unharmed = self.unexposed[:, :, :used], self.unharmed[:, :, :used]
        newly_harmed = np.zeros(len(served), dtype=np.int64)
        if harmed.any():
            hit = distinct(harmed, users, rng)
            first_harm = rng.hypergeometric(unharmed, users - unharmed, hit)
            fresh = rng.hypergeometric(unexposed, unharmed - unexposed, first_harm)
            unexposed -= fresh
            unharmed -= first_harm
            newly_harmed = first_harm.sum(axis=(1, 2))
        # Harmed and unharmed requests of a user are independent (Poisson
        # thinning), so the unharmed ones land on users regardless of harm.
        clean = served - harmed
        if clean.any():
            hit = distinct(clean, users, rng)
            unexposed -= rng.hypergeometric(unexposed, users - unexposed, hit)
        return newly_harmed
