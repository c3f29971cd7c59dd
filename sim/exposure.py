"""Who reaches the new version, and which distinct users were exposed or harmed.

Two units of exposure:

- ``request`` (service-mesh canary): each request goes to the new version with
  probability ``w``; every user of a cohort is alike, so a cohort is one band.
- ``user`` (feature flag): users are hashed into ``BUCKETS`` buckets and the
  users in the first ``round(w * BUCKETS)`` buckets, and only they, are served
  by the new version. Bands are bucket ranges between thresholds seen so far;
  a band's users share a history, so they stay alike.

Distinct users are never tracked one by one. Within a band of ``n`` alike
users, ``R`` requests fall uniformly on them; a given user is hit with
probability ``1 - (1 - 1/n) ** R``, whose expectation over a Poisson ``R`` is
exactly the closed form ``1 - exp(-rate * time)``. Approximation, made here:
the number of distinct users hit is drawn as a binomial with that probability
(the exact occupancy law has a slightly smaller variance) and capped at ``R``,
so the counts stay coherent (never more users hit than requests).
"""

from __future__ import annotations

import numpy as np

from sim.population import BUCKETS


def _hit_probability(requests: np.ndarray, users: np.ndarray) -> np.ndarray:
    """Chance that one given user of ``users`` receives at least one of ``requests``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.exp(requests * np.log1p(-1.0 / users))
    return np.where((requests > 0) & (users > 0), 1.0 - miss, 0.0)


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
        exposed_only = self._unharmed - self._unexposed
        hit_by_harm = _hit_probability(harmed, self._users)
        first_harm_fresh = rng.binomial(self._unexposed, hit_by_harm)
        first_harm_fresh = np.minimum(first_harm_fresh, harmed)
        first_harm_seen = np.minimum(rng.binomial(exposed_only, hit_by_harm), harmed - first_harm_fresh)
        still_fresh = self._unexposed - first_harm_fresh
        hit_by_rest = _hit_probability(requests - harmed, self._users)
        exposed_now = np.minimum(rng.binomial(still_fresh, hit_by_rest), requests - harmed)
        self._unexposed -= first_harm_fresh + exposed_now
        newly_harmed = first_harm_fresh + first_harm_seen
        self._unharmed -= newly_harmed
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
