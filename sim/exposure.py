"""Who reaches the new version, and which distinct users were exposed or harmed.

Two units of exposure:

- ``request`` (service-mesh canary): each request goes to the new version with
  probability ``w``; every user of a cohort is alike, so a cohort is one band.
- ``user`` (feature flag): users are hashed into ``BUCKETS`` buckets and the
  users in the first ``round(w * BUCKETS)`` buckets, and only they, are served
  by the new version. Bands are bucket ranges between thresholds seen so far;
  a band's users share a history, so they stay alike.

Distinct users are never tracked one by one. Within a band of ``n`` alike
users, ``K`` requests fall uniformly on them: an occupancy problem. The number
``D`` of distinct users hit is drawn with its exact conditional mean
``n * (1 - (1 - 1/n) ** K)`` (whose expectation over a Poisson ``K`` is the
closed form ``n * (1 - exp(-rate * time))``) and never more than ``K`` or
``n``. Approximation, made here: ``D`` is binomial (``Binomial(K, E[D]/K)``
when ``K <= n``, else ``n - Binomial(n, P(empty))``) rather than the exact
occupancy law, whose variance is a little smaller. Which of the ``D`` users
are new to a state (never exposed, never harmed) is then exact: hypergeometric.
"""

from __future__ import annotations

import numpy as np

from sim.population import BUCKETS


def _distinct(requests: np.ndarray, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct users hit when ``requests`` fall uniformly on ``users`` alike users (elementwise)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.where(users > 0, np.exp(requests * np.log1p(-1.0 / users)), 1.0)
        expected = users * (1.0 - miss)
        few = requests <= users
        hit_share = np.where(few & (requests > 0), expected / requests, 0.0)
    trials = np.concatenate([np.where(few, requests, 0), np.where(few, 0, users)])
    chance = np.concatenate([np.clip(hit_share, 0.0, 1.0), np.where(few, 0.0, miss)])
    drawn = rng.binomial(trials, chance).reshape(2, *requests.shape)
    return np.where(few, drawn[0], users - drawn[1])


class Exposure:
    """Per replication, cohort and band: users never exposed and users never harmed.

    Band edges are shared by all replications of a block (the union of the
    thresholds any of them used), so users per band are one (C, bands) array;
    the states are (R, C, bands).
    """

    def __init__(self, cohort_users: np.ndarray, replications: int, unit: str) -> None:
        if unit not in ("request", "user"):
            raise ValueError(f"exposure unit must be 'request' or 'user', got {unit!r}")
        self.unit = unit
        self._cohort_users = cohort_users.astype(np.int64)
        self._edges = [0, BUCKETS]
        self._users = self._cohort_users[:, None].copy()
        self._unexposed = np.broadcast_to(self._users, (replications, *self._users.shape)).copy()
        self._unharmed = self._unexposed.copy()

    @property
    def exposed_users(self) -> np.ndarray:
        """Distinct users ever served by the new version, per replication."""
        return (self._users - self._unexposed).sum(axis=(1, 2))

    @property
    def harmed_users(self) -> np.ndarray:
        """Distinct users ever harmed, per replication."""
        return (self._users - self._unharmed).sum(axis=(1, 2))

    def shares(self, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Probability that a request lands in each band, shape (R, C, bands)."""
        if self.unit == "request":
            return np.broadcast_to(weights[:, None, None], self._unexposed.shape).astype(float)
        thresholds = np.rint(weights * BUCKETS).astype(np.int64)
        for threshold in np.unique(thresholds):
            self._split_at(int(threshold), rng)
        inside = np.array(self._edges[1:])[None, :] <= thresholds[:, None]  # (R, bands)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self._cohort_users[:, None] > 0, self._users / self._cohort_users[:, None], 0.0)
        return np.where(inside[:, None, :], share[None, :, :], 0.0)

    def record(self, requests: np.ndarray, harmed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Update distinct users from new-version requests and harmed requests, each (R, C, bands).

        Returns the number of users harmed for the first time, per replication.
        """
        newly_harmed = np.zeros(len(harmed), dtype=np.int64)
        if harmed.any():
            hit = _distinct(harmed, self._users, rng)
            first_harm = rng.hypergeometric(self._unharmed, self._users - self._unharmed, hit)
            fresh = rng.hypergeometric(self._unexposed, self._unharmed - self._unexposed, first_harm)
            self._unexposed -= fresh
            self._unharmed -= first_harm
            newly_harmed = first_harm.sum(axis=(1, 2))
        # Harmed and unharmed requests of a user are independent (Poisson
        # thinning), so the unharmed ones land on users regardless of harm.
        hit = _distinct(requests - harmed, self._users, rng)
        self._unexposed -= rng.hypergeometric(self._unexposed, self._users - self._unexposed, hit)
        return newly_harmed

    def _split_at(self, threshold: int, rng: np.random.Generator) -> None:
        """Make ``threshold`` a band edge; split the band that contains it in every replication."""
        if threshold in self._edges:
            return
        band = int(np.searchsorted(self._edges, threshold)) - 1
        # Users are spread over buckets as evenly as integers allow, so the
        # count below any threshold is deterministic and nested.
        below = self._cohort_users * threshold // BUCKETS - self._cohort_users * self._edges[band] // BUCKETS
        users = self._users[:, band]
        unharmed, unexposed = self._unharmed[:, :, band], self._unexposed[:, :, band]
        # Which of the band's users fall below: a random subset, so its mix of
        # harmed / exposed / unexposed users is hypergeometric.
        unharmed_below = rng.hypergeometric(unharmed, users - unharmed, np.broadcast_to(below, unharmed.shape))
        unexposed_below = rng.hypergeometric(unexposed, unharmed - unexposed, unharmed_below)
        self._edges.insert(band + 1, threshold)
        self._users = np.insert(self._users, band, below, axis=1)
        self._users[:, band + 1] -= below
        for name, part in (("_unharmed", unharmed_below), ("_unexposed", unexposed_below)):
            whole = np.insert(getattr(self, name), band, part, axis=2)
            whole[:, :, band + 1] -= part
            setattr(self, name, whole)
