"""Sequential judges, written exactly as a user's judge plugin would be (only ``sim``'s public API).

Both add up the counts of every measurement since the judge (re)started, so
each look sees all the data so far, which is what their error rates assume.
Each measurement covers one ``interval`` (the window is the interval); a
measurement whose scrape is missing is skipped, and its interval's requests
are not counted.

- ``ztest``: a one-sided two-proportion z-test of the new version's error
  rate against the baseline arm (or stable) at every look, for a planned
  number of ``looks``: uncorrected (the normal quantile at every look, what
  many hand-written analyses do, whose false-alarm rate grows with the
  looks), or with Pocock or O'Brien-Fleming boundaries, which keep it at
  ``alpha`` over all the looks. Passed after the last look without failing.
- ``msprt``: an always-valid test (a mixture SPRT on the difference of error
  rates, after Johari, Pekelis and Walsh): it may be looked at after every
  scrape, for as long as one likes, and still fails a healthy release with
  probability at most ``alpha``.
- ``cusum``: a one-sided CUSUM on the standardized difference of each
  interval's error rates (new minus reference): ``S = max(0, S + z - k)``,
  failed when ``S > h`` (in-control average run length about 930 looks for
  the defaults, Siegmund's approximation).
- ``sprt``: Wald's sequential probability ratio test on the new version's
  error rate, ``p0`` (acceptable) against ``p1`` (a regression), with error
  rates ``alpha`` and ``beta``: failed when the log-likelihood ratio reaches
  ``log((1 - beta) / alpha)``, passed when it falls to ``log(beta / (1 - alpha))``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize, signal, stats

from sim import FAILED, INCONCLUSIVE, PASSED, RUNNING, JudgeData, Verdicts, parse_duration

BOUNDARIES = ("none", "pocock", "obrien-fleming")


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def _count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def crossing_probability(bounds: tuple[float, ...], step: float = 0.01) -> float:
    """P(Z_k > bounds[k-1] for some look k) under the null, for looks at equal increments of information.

    ``Z_k = S_k / sqrt(k)`` where ``S_k`` is a sum of k independent standard
    normal increments; the density of ``S`` on a grid is carried from look to
    look (convolution with the normal kernel), cut at each boundary
    (Armitage, McPherson and Rowe's recursive integration). Deterministic.
    """
    looks = len(bounds)
    reach = max(bounds) * math.sqrt(looks) + 10.0
    # Below, S must reach 8 standard deviations at the last look: mass lost off the grid counts as crossing.
    grid = np.arange(-(8.0 * math.sqrt(looks) + 10.0), reach + step / 2, step)
    kernel = stats.norm.pdf(np.arange(-9.0, 9.0 + step / 2, step)) * step
    density = stats.norm.pdf(grid)
    for k, bound in enumerate(bounds, start=1):
        if k > 1:
            density = signal.fftconvolve(density, kernel, mode="same")
        # Each grid point stands for a cell of width ``step``: keep the share of the cell below the boundary.
        density = density * np.clip((bound * math.sqrt(k) - grid) / step + 0.5, 0.0, 1.0)
    return float(1.0 - density.sum() * step)


@functools.lru_cache(maxsize=128)
def boundaries(looks: int, alpha: float, kind: str) -> tuple[float, ...]:
    """One-sided z boundaries for looks 1..K with an overall false-alarm rate ``alpha`` (``none``: uncorrected)."""
    if kind == "none":
        return (float(stats.norm.ppf(1.0 - alpha)),) * looks
    shape = [1.0] * looks if kind == "pocock" else [math.sqrt(looks / k) for k in range(1, looks + 1)]
    scale = optimize.brentq(lambda c: crossing_probability(tuple(c * s for s in shape)) - alpha, 0.5, 8.0, xtol=1e-6)
    return tuple(scale * s for s in shape)


class _Sequential:
    """Counts added up per replication since the judge started; subclasses decide at each look."""

    def __init__(
        self,
        interval: str | float = "1m",
        initial_delay: str | float = 0.0,
        min_requests: int = 1,
        against: str | None = None,
    ) -> None:
        """``against``: the reference arm (``baseline`` or ``stable``), None for a test of the new version alone."""
        if against not in (None, "baseline", "stable"):
            raise ValueError(f"against must be 'baseline' or 'stable', got {against!r}")
        self.against = against
        self.interval = parse_duration(interval)
        if self.interval <= 0:
            raise ValueError("interval must be a positive duration")
        self.window = self.interval  # each look adds one interval's counts
        self.initial_delay = parse_duration(initial_delay)
        self.min_requests = _count("min_requests", min_requests, 0, 10**12)
        self._state: dict[str, np.ndarray] | None = None

    def _tallies(self, replications: int) -> dict[str, np.ndarray]:
        if self._state is None:
            zeros = np.zeros(replications, dtype=np.int64)
            self._state = {
                name: zeros.copy()
                for name in ("verdict", "last", "measurements", "failures", "inconclusive", "n", "x", "m", "y")
            }
            self._state["statistic"] = np.full(replications, np.nan)
        return self._state

    def measure(self, data: JudgeData) -> Verdicts:
        state = self._tallies(len(data.due))
        for values in state.values():
            values[data.restarted] = np.nan if values.dtype.kind == "f" else 0
        due = data.due & (state["verdict"] == RUNNING) & ~data.missing
        reference = self._reference(data)
        state["n"][due] += data.new.requests[due]
        state["x"][due] += data.new.errors[due]
        state["m"][due] += reference.requests[due]
        state["y"][due] += reference.errors[due]
        enough = (state["n"] >= max(self.min_requests, 1)) & (state["m"] >= max(self.min_requests, 1))
        looked = due & enough
        state["inconclusive"] += due & ~enough
        state["last"][due & ~enough] = INCONCLUSIVE
        state["measurements"] += looked
        statistic, failed, passed = self._look(state, looked)
        state["statistic"][looked] = statistic[looked]
        state["failures"] += failed
        state["last"][looked] = PASSED
        state["last"][failed] = FAILED
        state["verdict"][passed] = PASSED
        state["verdict"][failed] = FAILED
        return Verdicts(**{name: state[name].copy() for name in (*Verdicts.__dataclass_fields__,)})

    def _reference(self, data: JudgeData):
        if self.against is None:
            return data.new
        return data.baseline if self.against == "baseline" else data.stable

    def _look(self, state: dict[str, np.ndarray], looked: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class ZTest(_Sequential):
    """One-sided two-proportion z-test of the new version against a reference arm, at every look.

    ``looks``: the planned number of looks (1 to 50); ``boundary``: ``none``
    (uncorrected), ``pocock`` or ``obrien-fleming``; ``alpha``: the false-alarm
    rate the boundaries keep over all the looks; ``against``: ``baseline`` or
    ``stable``. The statistic is z (pooled variance). Boundaries assume looks
    at equal increments of data, which steady traffic gives.
    """

    def __init__(
        self,
        against: str = "baseline",
        alpha: float = 0.05,
        looks: int = 5,
        boundary: str = "pocock",
        min_requests: int = 100,
        interval: str | float = "1m",
        initial_delay: str | float = 0.0,
    ) -> None:
        super().__init__(interval, initial_delay, min_requests, against)
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
        self.alpha = _probability("alpha", alpha)
        if not 1e-6 <= self.alpha < 0.5:  # below 1e-6 the boundaries are beyond what the integration resolves
            raise ValueError(f"alpha must be from 1e-06 to below 0.5, got {alpha!r}")
        self.looks = _count("looks", looks, 1, 50)
        self.bounds = np.array(boundaries(self.looks, self.alpha, boundary))

    def _look(self, state: dict[str, np.ndarray], looked: np.ndarray) -> tuple[np.ndarray, ...]:
        n, x, m, y = state["n"], state["x"], state["m"], state["y"]
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (x + y) / np.maximum(n + m, 1)
            spread = np.sqrt(pooled * (1.0 - pooled) * (1.0 / np.maximum(n, 1) + 1.0 / np.maximum(m, 1)))
            z = np.where(spread > 0, (x / np.maximum(n, 1) - y / np.maximum(m, 1)) / spread, 0.0)
        look = np.clip(state["measurements"], 1, self.looks) - 1
        failed = looked & (z > self.bounds[look])
        passed = looked & ~failed & (state["measurements"] >= self.looks)
        return z, failed, passed


class SPRT(_Sequential):
    """Wald's SPRT on the new version's error rate: ``p0`` acceptable, ``p1`` a regression.

    ``alpha``: P(fail | p0); ``beta``: P(pass | p1). The statistic is the
    log-likelihood ratio of all the new version's requests so far.
    """

    def __init__(
        self,
        p0: float = 0.001,
        p1: float = 0.01,
        alpha: float = 0.05,
        beta: float = 0.2,
        min_requests: int = 0,
        interval: str | float = "1m",
        initial_delay: str | float = 0.0,
    ) -> None:
        super().__init__(interval, initial_delay, min_requests)
        self.p0, self.p1 = _probability("p0", p0), _probability("p1", p1)
        if not self.p0 < self.p1:
            raise ValueError(f"p1 must be above p0, got p0 {p0!r} and p1 {p1!r}")
        self.alpha, self.beta = _probability("alpha", alpha), _probability("beta", beta)
        if self.alpha + self.beta >= 1.0:
            raise ValueError(f"alpha + beta must be below 1, got {alpha!r} + {beta!r}")
        self.upper = math.log((1.0 - self.beta) / self.alpha)
        self.lower = math.log(self.beta / (1.0 - self.alpha))

    def _look(self, state: dict[str, np.ndarray], looked: np.ndarray) -> tuple[np.ndarray, ...]:
        n, x = state["n"], state["x"]
        ratio = x * math.log(self.p1 / self.p0) + (n - x) * math.log((1.0 - self.p1) / (1.0 - self.p0))
        failed = looked & (ratio >= self.upper)
        passed = looked & ~failed & (ratio <= self.lower)
        return ratio, failed, passed


class AlwaysValid(_Sequential):
    """A mixture SPRT on the difference of error rates (new minus reference): always valid.

    With the difference ``d`` of the rates so far, its estimated variance
    ``V`` and a normal mixture of scale ``tau`` over the alternatives, the
    mixture likelihood ratio is ``sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))``
    (a normal approximation of the counts); the verdict is failed once it
    reaches ``1 / alpha`` with ``d > 0``. Its likelihood ratio is a martingale
    under the null, so checking it at every look keeps P(fail | healthy) at
    most ``alpha`` however many looks there are (only regressions fail: the
    rate is below ``alpha``). Passed after ``max_looks`` looks without failing
    (0: it runs until stopped). The statistic is the log of the ratio.
    """

    def __init__(
        self,
        against: str = "baseline",
        alpha: float = 0.05,
        tau: float = 0.005,
        max_looks: int = 0,
        min_requests: int = 100,
        interval: str | float = "1m",
        initial_delay: str | float = 0.0,
    ) -> None:
        super().__init__(interval, initial_delay, min_requests, against)
        self.alpha = _probability("alpha", alpha)
        self.tau = _probability("tau", tau)
        self.max_looks = _count("max_looks", max_looks, 0, 10**9)

    def _look(self, state: dict[str, np.ndarray], looked: np.ndarray) -> tuple[np.ndarray, ...]:
        n, m = np.maximum(state["n"], 1), np.maximum(state["m"], 1)
        new, reference = state["x"] / n, state["y"] / m
        difference = new - reference
        # The variance of the difference, kept off zero (no errors yet) by one error's worth on each side.
        variance = np.maximum(new * (1 - new), 1.0 / n) / n + np.maximum(reference * (1 - reference), 1.0 / m) / m
        spread = variance + self.tau**2
        log_ratio = 0.5 * np.log(variance / spread) + self.tau**2 * difference**2 / (2 * variance * spread)
        failed = looked & (difference > 0) & (log_ratio >= math.log(1.0 / self.alpha))
        passed = looked & ~failed & (self.max_looks > 0) & (state["measurements"] >= self.max_looks)
        return log_ratio, failed, passed


class Cusum(_Sequential):
    """One-sided CUSUM of the standardized difference of each interval's error rates (new minus reference).

    Per look, ``z`` is the pooled two-proportion z of that interval's counts
    alone (0 when either arm had no request); ``S = max(0, S + z - k)`` and
    the verdict is failed when ``S > h``. ``k`` is half the shift (in
    standard errors) it is tuned to catch; ``h`` sets the false-alarm rate:
    with standard normal increments the in-control average run length is about
    ``(exp(2 k b) - 2 k b - 1) / (2 k^2)`` looks, ``b = h + 1.166``
    (Siegmund). The statistic is ``S``.
    """

    def __init__(
        self,
        against: str = "baseline",
        k: float = 0.5,
        h: float = 5.0,
        min_requests: int = 1,
        interval: str | float = "1m",
        initial_delay: str | float = 0.0,
    ) -> None:
        super().__init__(interval, initial_delay, min_requests, against)
        for name, value, high in (("k", k, 10.0), ("h", h, 1000.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= high:
                raise ValueError(f"{name} must be a number above 0 and at most {high:g}, got {value!r}")
        self.k, self.h = float(k), float(h)

    def _tallies(self, replications: int) -> dict[str, np.ndarray]:
        if self._state is None:
            state = super()._tallies(replications)
            for name in ("pn", "px", "pm", "py"):  # the counts at the previous look
                state[name] = np.zeros(replications, dtype=np.int64)
        return super()._tallies(replications)

    def _look(self, state: dict[str, np.ndarray], looked: np.ndarray) -> tuple[np.ndarray, ...]:
        n, x = state["n"] - state["pn"], state["x"] - state["px"]
        m, y = state["m"] - state["pm"], state["y"] - state["py"]
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (x + y) / np.maximum(n + m, 1)
            spread = np.sqrt(pooled * (1.0 - pooled) * (1.0 / np.maximum(n, 1) + 1.0 / np.maximum(m, 1)))
            z = np.where((n > 0) & (m > 0) & (spread > 0), (x / np.maximum(n, 1) - y / np.maximum(m, 1)) / spread, 0.0)
        previous = np.nan_to_num(state["statistic"])  # NaN: no look yet, or restarted
        total = np.where(looked, np.maximum(0.0, previous + z - self.k), previous)
        for name, source in (("pn", "n"), ("px", "x"), ("pm", "m"), ("py", "y")):
            state[name][looked] = state[source][looked]
        failed = looked & (total > self.h)
        return total, failed, np.zeros_like(looked)
