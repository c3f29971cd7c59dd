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

Bounded bands. At the end of a tick, adjacent bands are merged when their
users are alike for the future: both never exposed (exact), or both served
alike over the whole tick and still (e.g. both inside a rising threshold:
exact as long as no later threshold falls between them, which only a
threshold that goes down and then up again can do; a split of a merged band
then takes a random subset of its users, an approximation). Bands that were
served and no longer are keep their own history. So the cost does not grow
with the number of distinct thresholds a ramp uses; a tick with more than
``CAPACITY`` distinct bands merges the two most alike (approximation).
"""

from __future__ import annotations

import numpy as np

from sim.population import BUCKETS

CAPACITY = 8
"""Bands per replication and cohort; a tick with more distinct thresholds merges the most alike."""


def distinct(
    requests: np.ndarray, users: np.ndarray, rng: np.random.Generator, stay: np.ndarray | None = None
) -> np.ndarray:
    """Distinct users hit when ``requests`` fall uniformly on ``users`` alike users (elementwise).

    ``stay``: ``log_stay(users)``, when the caller has it already (it depends on the users alone).
    """
    few = requests <= users
    if stay is None:
        stay = log_stay(users)
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.where(users > 0, np.exp(requests * stay), 1.0)
        expected = users * (1.0 - miss)
        if few.all():  # the usual case; the general one draws exactly this (its second half draws nothing)
            hit_share = np.where(requests > 0, expected / np.maximum(requests, 1), 0.0)
            return rng.binomial(requests, np.clip(hit_share, 0.0, 1.0))
        hit_share = np.where(few & (requests > 0), expected / np.maximum(requests, 1), 0.0)
    trials = np.concatenate([np.where(few, requests, 0), np.where(few, 0, users)])
    chance = np.concatenate([np.clip(hit_share, 0.0, 1.0), np.where(few, 0.0, np.clip(miss, 0.0, 1.0))])
    drawn = rng.binomial(trials, chance).reshape(2, *requests.shape)
    return np.where(few, drawn[0], users - drawn[1])


def log_stay(users: np.ndarray) -> np.ndarray:
    """log(1 - 1/n) for ``users`` alike users (n >= 1): the log of the chance that one request misses a user."""
    with np.errstate(divide="ignore"):  # one user: log(0)
        return np.log1p(-1.0 / np.maximum(users, 1))


def _shifted(values: np.ndarray) -> np.ndarray:
    """``values`` moved one place along the last axis (the first value stays, the last drops out)."""
    return np.concatenate([values[..., :1], values[..., :-1]], axis=-1)


class Bands:
    """Per replication, cohort and band: users, users never exposed, users never harmed.

    Arrays are (R, C, CAPACITY); bands past a segment's ``count`` are empty.
    Edges are per replication and segment, shared by the segment's cohorts.
    """

    def __init__(self, cohort_users: np.ndarray, segment: np.ndarray, segments: int, replications: int) -> None:
        self._cohort_users = cohort_users.astype(np.int64)
        self._segment = segment
        # Cohorts are ordered by segment, so a segment's cohorts are a slice (views, not copies).
        self._segment_starts = np.searchsorted(segment, np.arange(segments))
        ends = [*self._segment_starts[1:].tolist(), len(segment)]
        self._cohorts_of = [slice(int(a), int(b)) for a, b in zip(self._segment_starts.tolist(), ends, strict=True)]
        self._cohort_count = np.diff([*self._segment_starts.tolist(), len(segment)])
        shape = (replications, len(cohort_users), CAPACITY)
        self.edges = np.full((replications, segments, CAPACITY + 1), BUCKETS, dtype=np.int64)
        self.edges[:, :, 0] = 0
        self.count = np.ones((replications, segments), dtype=np.int64)
        self.users = np.zeros(shape, dtype=np.int64)
        self.users[:, :, 0] = self._cohort_users
        self.unexposed = self.users.copy()
        self.unharmed = self.users.copy()
        self.version = 0  # changes with every split and merge: what depends on the layout of the bands reads it
        self._unmerged: tuple | None = None  # (served now, over the tick, version) of a merge_alike that merged none
        self._stay: tuple | None = None  # ((version, bands used), log_stay of their users)

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

    def are_edges(self, thresholds: np.ndarray) -> bool:
        """Whether every threshold of an (R, S) array is an edge already (0 and ``BUCKETS`` always are)."""
        return bool((self.edges == thresholds[:, :, None]).any(axis=2).all())

    def split(self, rows: np.ndarray, segments: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator) -> None:
        """Make each ``thresholds[i]`` an edge of segment ``segments[i]`` in replication ``rows[i]``.

        Vectorised over the pairs; a pair may appear several times (its
        thresholds are applied one round at a time).
        """
        keep = (thresholds > 0) & (thresholds < BUCKETS)
        rows, segments, thresholds = rows[keep], segments[keep], thresholds[keep]
        if not len(rows) or (self.edges[rows, segments] == thresholds[:, None]).any(axis=1).all():
            return  # every threshold is an edge already (the usual tick of a held step): nothing to split
        while len(rows):
            order = np.lexsort((thresholds, segments, rows))
            rows, segments, thresholds = rows[order], segments[order], thresholds[order]
            first = np.ones(len(rows), dtype=bool)
            first[1:] = (rows[1:] != rows[:-1]) | (segments[1:] != segments[:-1])
            self._split_once(rows[first], segments[first], thresholds[first], rng)
            rows, segments, thresholds = rows[~first], segments[~first], thresholds[~first]

    def _split_once(
        self, rows: np.ndarray, segments: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Split at most one threshold per (replication, segment) pair."""
        edges = self.edges[rows, segments]  # (n, CAPACITY + 1)
        new = ~(edges == thresholds[:, None]).any(axis=1)
        rows, segments, thresholds, edges = rows[new], segments[new], thresholds[new], edges[new]
        if not len(rows):
            return
        full = self.count[rows, segments] >= CAPACITY
        for r, segment in zip(rows[full].tolist(), segments[full].tolist(), strict=True):
            self._merge_most_alike(r, segment)
        edges = self.edges[rows, segments]
        band = (edges[:, 1:] <= thresholds[:, None]).sum(axis=1)  # the band holding the threshold
        column = np.arange(CAPACITY + 1)[None, :]
        moved = np.where(column <= band[:, None], edges, _shifted(edges))  # edges above the band move up one
        moved[column == band[:, None] + 1] = thresholds
        self.edges[rows, segments] = moved
        self.count[rows, segments] += 1
        self.version += 1
        # The same for every cohort of each pair's segment.
        per_pair = self._cohort_count[segments]
        pair = np.repeat(np.arange(len(rows)), per_pair)
        r = rows[pair]
        c = self._segment_starts[segments][pair] + (
            np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        )
        b = band[pair]
        sizes = self._cohort_users[c]
        low = edges[pair, b]
        below = sizes * thresholds[pair] // BUCKETS - sizes * low // BUCKETS
        users, unharmed, unexposed = self.users[r, c], self.unharmed[r, c], self.unexposed[r, c]
        pick = np.arange(len(pair))
        unharmed_below, unexposed_below = below.copy(), below.copy()
        exposed = unexposed[pick, b] != users[pick, b]
        if exposed.any():  # which of the band's users fall below: a random subset, so its mix is hypergeometric
            band_users, band_unharmed, band_unexposed = (
                users[pick, b][exposed],
                unharmed[pick, b][exposed],
                unexposed[pick, b][exposed],
            )
            unharmed_below[exposed] = rng.hypergeometric(band_unharmed, band_users - band_unharmed, below[exposed])
            unexposed_below[exposed] = rng.hypergeometric(
                band_unexposed, band_unharmed - band_unexposed, unharmed_below[exposed]
            )
        # The three counts at once: bands above b move up one; b keeps the part below, b + 1 the rest.
        counts, parts = np.stack([users, unharmed, unexposed]), np.stack([below, unharmed_below, unexposed_below])
        moved = np.where(np.arange(CAPACITY) <= b[:, None], counts, _shifted(counts))
        moved[:, pick, b] = parts
        moved[:, pick, b + 1] = counts[:, pick, b] - parts
        self.users[r, c], self.unharmed[r, c], self.unexposed[r, c] = moved

    def merge_alike(self, served_now: np.ndarray, served_tick: np.ndarray, mitigated: np.ndarray) -> None:
        """Merge adjacent bands whose users are alike for the future: both served alike over the
        last tick and now, or both never exposed. ``served_now``, ``served_tick``: (R, C, CAPACITY)."""
        used = self.used
        if used < 2:
            return
        unmerged = self._unmerged
        if unmerged and unmerged[0] is served_now and unmerged[1] is served_tick and unmerged[2] == self.version:
            # The same served arrays and bands as a call that merged none: the same pairs are served alike,
            # pristine bands only ever stop being pristine, mitigated replications only grow. None merge now.
            return
        # Only the bands in use anywhere: past them every pair is empty and never merges.
        starts = self._segment_starts
        now, tick = served_now[:, :, :used], served_tick[:, :, :used]
        alike = (now[:, :, :-1] == now[:, :, 1:]) & (tick[:, :, :-1] == tick[:, :, 1:])
        alike &= now[:, :, :-1] > 0
        alike = np.logical_and.reduceat(alike, starts, axis=1)  # (R, S, used - 1)
        pristine = np.logical_and.reduceat(self.unexposed[:, :, :used] == self.users[:, :, :used], starts, axis=1)
        alike |= pristine[:, :, :-1] & pristine[:, :, 1:]
        alike &= np.arange(used - 1)[None, None, :] < (self.count - 1)[:, :, None]
        alike &= ~mitigated[:, None, None]  # nothing reaches them any more: not worth the work
        if alike.any():
            joins = np.zeros((*self.count.shape, CAPACITY - 1), dtype=bool)
            joins[:, :, : used - 1] = alike
            self._merge(joins)
        else:
            self._unmerged = (served_now, served_tick, self.version)

    def _merge(self, joins: np.ndarray) -> None:
        """Band k + 1 joins band k wherever ``joins[r, s, k]``; vectorised over every pair."""
        rows, segments = np.nonzero(joins.any(axis=2))
        starts = np.ones((len(rows), CAPACITY), dtype=bool)
        starts[:, 1:] = ~joins[rows, segments]
        group = np.cumsum(starts, axis=1) - 1  # (n, CAPACITY): the new band of each old band
        edges = self.edges[rows, segments]
        merged = np.full_like(edges, BUCKETS)
        pair = np.repeat(np.arange(len(rows)), CAPACITY)
        merged[pair[starts.ravel()], group[starts]] = edges[:, :-1][starts]
        merged[:, 0] = 0
        self.edges[rows, segments] = merged
        self.version += 1
        self.count[rows, segments] -= joins[rows, segments].sum(axis=1)
        per_pair = self._cohort_count[segments]
        cohort_pair = np.repeat(np.arange(len(rows)), per_pair)
        r = rows[cohort_pair]
        c = self._segment_starts[segments][cohort_pair] + (
            np.arange(len(cohort_pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        )
        target = (np.arange(len(cohort_pair))[:, None] * CAPACITY + group[cohort_pair]).ravel()
        for array in (self.users, self.unharmed, self.unexposed):
            summed = np.bincount(target, weights=array[r, c].ravel(), minlength=len(cohort_pair) * CAPACITY)
            array[r, c] = np.rint(summed).astype(np.int64).reshape(len(cohort_pair), CAPACITY)

    def _merge_most_alike(self, r: int, segment: int) -> None:
        """Make room when every band is in use: merge the two adjacent bands whose users are most alike."""
        cohorts = self._cohorts_of[segment]
        n = int(self.count[r, segment])
        users = np.maximum(self.users[r, cohorts, :n], 1)
        state = np.concatenate([self.unexposed[r, cohorts, :n] / users, self.unharmed[r, cohorts, :n] / users])
        distance = np.abs(np.diff(state, axis=1)).sum(axis=0)
        joins = np.zeros((*self.count.shape, CAPACITY - 1), dtype=bool)
        joins[r, segment, int(np.argmin(distance))] = True
        self._merge(joins)

    def _log_stay(self, used: int) -> np.ndarray:
        """``log_stay`` of the bands in use; the same until a split or merge changes them."""
        key = (self.version, used)
        if self._stay is None or self._stay[0] != key:
            self._stay = (key, log_stay(self.users[:, :, :used]))
        return self._stay[1]

    def record(self, served: np.ndarray, harmed: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """Update distinct users from served and harmed requests, each (R, C, bands used).

        Returns the number of users harmed for the first time, per replication.
        """
        used = served.shape[2]
        users = self.users[:, :, :used]
        unexposed, unharmed = self.unexposed[:, :, :used], self.unharmed[:, :, :used]
        stay = self._log_stay(used)
        newly_harmed = np.zeros(len(served), dtype=np.int64)
        if harmed is not None and harmed.any():
            hit = distinct(harmed, users, rng, stay)
            first_harm = rng.hypergeometric(unharmed, users - unharmed, hit)
            fresh = rng.hypergeometric(unexposed, unharmed - unexposed, first_harm)
            unexposed -= fresh
            unharmed -= first_harm
            newly_harmed = first_harm.sum(axis=(1, 2))
        # Harmed and unharmed requests of a user are independent (Poisson
        # thinning), so the unharmed ones land on users regardless of harm.
        clean = served if harmed is None else served - harmed
        if clean.any() and unexposed.any():
            hit = distinct(clean, users, rng, stay)
            unexposed -= rng.hypergeometric(unexposed, users - unexposed, hit)
        return newly_harmed
