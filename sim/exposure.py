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
    """Band state per cohort: users, users never exposed, users never harmed."""

    def __init__(self, cohort_users: np.ndarray, unit: str) -> None:
        if unit not in ("request", "user"):
            raise ValueError(f"exposure unit must be 'request' or 'user', got {unit!r}")
        self.unit = unit
        self._cohort_users = cohort_users.astype(np.int64)
        self._edges = [0, BUCKETS]
        self._users = self._cohort_users[:, None].copy()
        self._unexposed = self._users.copy()
        self._unharmed = self._users.copy()

    @property
    def exposed_users(self) -> int:
        return int((self._users - self._unexposed).sum())

    @property
    def harmed_users(self) -> int:
        return int((self._users - self._unharmed).sum())

    def shares(self, weight: float, rng: np.random.Generator) -> np.ndarray:
        """Probability that a request of each cohort lands in each band, shape (C, bands)."""
        if self.unit == "request":
            return np.full_like(self._users, weight, dtype=float)
        threshold = round(weight * BUCKETS)
        self._split_at(threshold, rng)
        inside = np.array(self._edges[1:]) <= threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            share = self._users / self._cohort_users[:, None]
        return np.where(inside & (self._cohort_users[:, None] > 0), share, 0.0)

    def record(self, requests: np.ndarray, harmed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Update distinct users from new-version requests and harmed requests per band.

        Returns the number of users harmed for the first time, per band.
        """
        newly_harmed = np.zeros_like(harmed)
        if harmed.any():
            hit = _distinct(harmed, self._users, rng)
            newly_harmed = rng.hypergeometric(self._unharmed, self._users - self._unharmed, hit)
            fresh = rng.hypergeometric(self._unexposed, self._unharmed - self._unexposed, newly_harmed)
            self._unexposed -= fresh
            self._unharmed -= newly_harmed
        # Harmed and unharmed requests of a user are independent (Poisson
        # thinning), so the unharmed ones land on users regardless of harm.
        hit = _distinct(requests - harmed, self._users, rng)
        self._unexposed -= rng.hypergeometric(self._unexposed, self._users - self._unexposed, hit)
        return newly_harmed

    def _split_at(self, threshold: int, rng: np.random.Generator) -> None:
        """Make ``threshold`` a band edge; split the band that contains it."""
        if threshold in self._edges:
            return
        band = int(np.searchsorted(self._edges, threshold)) - 1
        low = self._edges[band]
        # Users are spread over buckets as evenly as integers allow, so the
        # count below any threshold is deterministic and nested.
        below = self._cohort_users * threshold // BUCKETS - self._cohort_users * low // BUCKETS
        left = np.stack([self._split_state(c, band, below[c], rng) for c in range(len(below))])
        self._edges.insert(band + 1, threshold)
        for name, column in zip(("_users", "_unexposed", "_unharmed"), left.T, strict=True):
            whole = getattr(self, name)
            setattr(self, name, np.insert(whole, band, column, axis=1))
            getattr(self, name)[:, band + 1] -= column

    def _split_state(self, cohort: int, band: int, below: int, rng: np.random.Generator) -> np.ndarray:
        """Users, unexposed and unharmed among ``below`` users taken at random from a band."""
        users = int(self._users[cohort, band])
        unexposed = int(self._unexposed[cohort, band])
        unharmed = int(self._unharmed[cohort, band])
        if below == users or unexposed == users:
            return np.array([below, min(below, unexposed), min(below, unharmed)])
        # Three kinds in the band: harmed, exposed-unharmed, unexposed.
        colors = np.array([users - unharmed, unharmed - unexposed, unexposed])
        drawn = rng.multivariate_hypergeometric(colors, below)
        return np.array([below, drawn[2], drawn[1] + drawn[2]])
