"""A Kayenta-style canary judge, written exactly as a user's judge plugin would be (only ``sim``'s public API).

Netflix's Kayenta (``NetflixACAJudge``) compares a canary with a control
metric by metric, turns the comparisons into a score from 0 to 100 and
classifies the score. This judge does the same over the simulator's
telemetry, vectorised over the replications of a block.

Samples. Every ``interval`` (the sample step; ``window`` defaults to the
interval, so samples do not overlap) the judge takes one sample per metric
of the new version and of the control arm (``against``: ``baseline``,
Kayenta's control, or ``stable``): ``error_rate`` (errors / requests) and
``slow_rate`` (slow / requests) over the window. A sample is skipped when
either arm has fewer than ``max(min_requests, 1)`` requests (a rate without
requests is NaN, and Kayenta's ``nanStrategy: remove`` drops it) or the
scrape is missing. The time still counts: judgments come at fixed times.

Judgments. After every ``score_every`` sample steps (a Kayenta analysis
interval: 60 steps of 1 m = 1 h) the judge scores every sample since it
(re)started, the latest ``lookback`` of them when that is set. This is
Kayenta's standalone canary analysis: without ``lookbackMins`` each
judgment's scope runs from the start of the analysis to the end of the
interval, a growing lookback (``SetupAndExecuteCanariesStage.java``,
``calculateStartAndEndForJudgement``). The judge keeps at most the latest
10,000 samples per arm and metric (a week of 1-minute samples).

Each metric is classified as Kayenta's ``MannWhitneyClassifier`` does:

- no sample in either arm: NODATA;
- High when the direction allows an increase and the new version is still
  above the control at ``confidence`` after its samples are lowered by
  ``tolerance`` x |HL|, HL being the Hodges-Lehmann shift (the median of the
  pairwise differences new - control). Kayenta's rule is "the lower bound of
  the confidence interval of the shift is above tolerance x |HL|"; that
  interval is the inversion of the two-sided Mann-Whitney U test (normal
  approximation, tie and continuity corrections, R's ``wilcox.test``), so
  the bound is above a shift d exactly when the test of the new samples
  minus d against the control rejects at 1 - confidence with U above its
  mean. Also needed: the mean ratio new / control at least
  ``allowed_increase`` (ignored when a mean is 0, as Kayenta does);
- Low likewise, downwards (samples raised by tolerance x |HL|, the mean
  ratio at most ``allowed_decrease``);
- Pass otherwise (identical or all-tied samples pass: U is at its mean).

The score is Kayenta's ``WeightedSumScorer`` with one group per metric:
100 x (weight of the metrics that pass or have no data) / (total weight),
rounded to 2 decimals; 0 when a ``critical`` metric is not Pass or when at
least half of the metrics have no data.

Verdict (Argo's Kayenta provider thresholds, Kayenta's standalone lifetime):
each judgment's result, in ``last``, is passed (score >= ``pass_score``),
inconclusive (``marginal_score`` <= score < ``pass_score``) or failed (below
``marginal_score``). The verdict is failed at the first failed judgment (the
standalone analysis stops at a judgment at or below marginal). A passing or
marginal judgment is not a verdict: in this project a verdict is final and
``passed`` means "may promote" (``Threshold`` with ``count``, the sequential
judges), while Kayenta decides only at the end of its lifetime. So the
verdict stays running, and after ``count`` judgments (Kayenta's lifetime /
interval; 0: until the judge is stopped) it is the last judgment's result,
passed or inconclusive. Like every built-in judge it stops measuring once it
has a verdict. ``statistic`` is the latest score (NaN before the first);
``measurements`` counts judgments, ``failures`` and ``inconclusive`` the
failed and marginal ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

from sim import FAILED, INCONCLUSIVE, PASSED, RUNNING, Arm, JudgeData, Verdicts, parse_duration

METRICS = ("error_rate", "slow_rate")
DIRECTIONS = ("increase", "decrease", "either")
SETTINGS = ("weight", "direction", "critical", "allowed_increase", "allowed_decrease")
PASS, HIGH, LOW, NODATA = 0, 1, 2, 3
MAX_SAMPLES = 10_000
MAX_SCORE_EVERY = 10_000


@dataclass(frozen=True)
class MetricRule:
    """How one metric is judged (Kayenta's per-metric ``analysisConfigurations.canary``)."""

    name: str
    weight: float = 1.0
    direction: str = "increase"
    critical: bool = False
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0


# -- validation --------------------------------------------------------------------------------


def _number(
    name: str, value: object, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> float:
    """A real number in the range; a one-line ValueError naming ``name`` and the range otherwise."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int too large for a float
            ok = False
        else:
            ok = math.isfinite(number) and (low < number if low_open else low <= number)
            ok = ok and (number < high if high_open else number <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {left}{low:g}, {high:g}{right}, got {value!r:.60}")
    return number


def _integer(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r:.60}")
    return value


def _lookback(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (value == 0 or 2 <= value <= MAX_SAMPLES):
        shown = f"{value!r:.60}"
        raise ValueError(f"lookback must be 0 (every sample since the start) or from 2 to {MAX_SAMPLES}, got {shown}")
    return value


def _seconds(name: str, value: object) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    return seconds


def _rule(name: str, settings: object) -> MetricRule:
    label = f"metrics.{name}"
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise ValueError(f"{label} must be a table of {', '.join(SETTINGS)}, got {settings!r:.60}")
    unknown = [key for key in settings if key not in SETTINGS]
    if unknown:
        raise ValueError(f"{label}: unknown setting {unknown[0]!r:.60}; use {', '.join(SETTINGS)}")
    direction = settings.get("direction", "increase")
    if direction not in DIRECTIONS:
        raise ValueError(f"{label}.direction must be one of {', '.join(DIRECTIONS)}, got {direction!r:.60}")
    critical = settings.get("critical", False)
    if not isinstance(critical, bool):
        raise ValueError(f"{label}.critical must be true or false, got {critical!r:.60}")
    return MetricRule(
        name=name,
        weight=_number(f"{label}.weight", settings.get("weight", 1.0), 0.0, 1e6, low_open=True),
        direction=direction,
        critical=critical,
        allowed_increase=_number(f"{label}.allowed_increase", settings.get("allowed_increase", 1.0), 1.0, 1e6),
        allowed_decrease=_number(
            f"{label}.allowed_decrease", settings.get("allowed_decrease", 1.0), 0.0, 1.0, low_open=True
        ),
    )


def _rules(metrics: object) -> tuple[MetricRule, ...]:
    shown = ", ".join(METRICS)
    if not isinstance(metrics, Mapping) or not metrics:
        raise ValueError(f"metrics must be a table naming 1 or 2 of {shown}, got {metrics!r:.60}")
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise ValueError(f"metrics: unknown metric {unknown[0]!r:.60}; the metrics are {shown}")
    return tuple(_rule(name, settings) for name, settings in metrics.items())


# -- statistics, vectorised over rows ------------------------------------------------------------


_MISSING = np.int64(0x7FF0_0000_0000_0000)
"""The key of a missing entry: above twice the bits of any float below 4 in size, so it sorts last."""


def _merged(first: np.ndarray, second: np.ndarray, counts: np.ndarray, presorted: bool = False) -> np.ndarray:
    """Each row's valid entries of ``first`` (tag 0) then ``second`` (tag 1), as sorted int64 keys.

    A key is twice a value's order-preserving integer plus its tag: one integer
    sort orders every row by value, a tie putting ``first`` before ``second``,
    and ``key >> 1`` / ``key & 1`` give the value's order and the tag back. A
    float's bits read as an integer order floats of one sign (negative ones are
    mirrored); values are quartered first (exact, order and ties kept) so that
    every key fits: values must be finite and below 4 in size, as rates and
    their shifts are. Missing entries (past ``counts``) sort last. With
    ``presorted`` rows (each input sorted), the stable sort only merges two runs.
    """
    width = first.shape[1]
    valid = np.arange(width) < counts[:, None]
    values = np.concatenate([first, second], axis=1) * 0.25 + 0.0  # + 0.0 turns -0.0 into 0.0
    bits = values.view(np.int64)
    tags = np.arange(2 * width) >= width
    keys = 2 * np.where(bits < 0, -(bits & np.int64(0x7FFF_FFFF_FFFF_FFFF)), bits) + tags
    # Missing entries may hold anything (inf, stale samples; their keys may wrap): they are overwritten.
    keys[~np.concatenate([valid, valid], axis=1)] = _MISSING
    keys.sort(axis=1, kind="stable" if presorted else None)
    return keys


def _u_and_ties(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of merged keys: U of the tag-0 entries (x) and the tie term sum(t^3 - t) over runs of equal values.

    U = #{x > y} + #{x = y} / 2. A tie puts x first, so an x entry at sorted
    position p has p minus the x entries before it y entries before it, all
    smaller. Runs of equal values are found in the flattened rows at once (a
    run never crosses rows), so rows of any length share the numpy calls.
    """
    rows, width = keys.shape
    valid = keys < _MISSING
    x_at = valid & ((keys & 1) == 0)
    n = np.count_nonzero(x_at, axis=1)
    greater = np.einsum("ij,j->i", x_at, np.arange(width, dtype=np.float64)) - n * (n - 1) / 2
    values = keys >> 1
    runs = np.zeros((rows, width + 1), dtype=np.int8)
    runs[:, 1:width] = (values[:, 1:] == values[:, :-1]) & valid[:, 1:]
    if not runs.any():
        return greater, np.zeros(rows)
    edges = np.diff(runs, axis=1)  # +1 at a run's first entry, -1 at its last
    begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    sizes = (end - begin + 1).astype(np.float64)
    x_before = np.cumsum(x_at.ravel(), dtype=np.int64)
    x_count = x_before[end] - x_before[begin] + x_at.ravel()[begin]
    row = begin // width
    even = np.bincount(row, weights=x_count * (sizes - x_count), minlength=rows)  # tied (x, y) pairs
    ties = np.bincount(row, weights=sizes * sizes * sizes - sizes, minlength=rows)
    return greater + even / 2, ties


def mann_whitney(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """U of ``x`` and the two-sided p value, row by row, as ``scipy.stats.mannwhitneyu(method="asymptotic")``.

    ``x`` and ``y`` are (rows, width) with the first ``counts[row]`` entries of
    each row valid (the rest is ignored); values are rates (finite, below 4 in
    size). Normal approximation with the tie correction and the continuity
    correction: z = (max(U1, U2) - n^2 / 2 - 0.5) / sigma, p = 2 (1 - Phi(z))
    at most 1; p is 1 when every value is tied, NaN for a row without data.
    """
    u1, ties = _u_and_ties(_merged(x, y, counts))
    n = counts.astype(np.float64)
    total = 2 * n
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = n * n / 12 * ((total + 1) - ties / (total * (total - 1)))
        z = (np.maximum(u1, n * n - u1) - n * n / 2 - 0.5) / np.sqrt(variance)
        # With two distinct values the variance is at least n^2 / 4; below 1e-6 only rounding is left.
        p = np.where(variance > 1e-6, np.clip(2.0 * special.ndtr(-z), 0.0, 1.0), 1.0)
    p[counts <= 0] = np.nan
    u1[counts <= 0] = np.nan
    return u1, p


def _pairs_below(x: np.ndarray, y: np.ndarray, counts: np.ndarray, shift: np.ndarray, strict: bool) -> np.ndarray:
    """Per row of sorted samples: pairs with x_i - y_j > shift (``strict``) or >= shift, as y_j < or <= x_i - shift."""
    moved = x - shift[:, None]
    # The counted entries (y) go second on a tie when the comparison is strict, first when it is not.
    keys = _merged(moved, y, counts, presorted=True) if strict else _merged(y, moved, counts, presorted=True)
    tags = keys & 1
    counted = 1 if strict else 0
    before = np.cumsum(tags == counted, axis=1)
    return np.where((tags != counted) & (keys < _MISSING), before, 0).sum(axis=1)


def _order_statistic(x: np.ndarray, y: np.ndarray, counts: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row of sorted samples: the ``rank``-th smallest (1-based) difference x_i - y_j.

    Bisection on d, counting the pairs at or below d by merging, down to
    2^-40 of the range of differences (Kayenta's own estimate is a root
    solver's, no finer). Rows whose answer is 0 are told exactly by comparing
    the samples themselves, and skip the bisection.
    """
    pairs = counts.astype(np.int64) ** 2
    zero = np.zeros(len(counts))
    below_zero = pairs - _pairs_below(x, y, counts, zero, strict=False)  # pairs with x_i - y_j < 0
    at_most_zero = pairs - _pairs_below(x, y, counts, zero, strict=True)  # pairs with x_i - y_j <= 0
    answer = np.zeros(len(counts))
    rows = np.flatnonzero((counts > 0) & ~((below_zero < rank) & (rank <= at_most_zero)))
    if len(rows):
        answer[rows] = _bisect(x[rows], y[rows], counts[rows], rank[rows])
    return answer


def _bisect(x: np.ndarray, y: np.ndarray, counts: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The smallest d with ``rank`` pairs at or below it, per row, to the bisection's resolution."""
    pairs = counts.astype(np.int64) ** 2
    last = (counts - 1)[:, None]
    small = x[:, 0] - np.take_along_axis(y, last, axis=1)[:, 0]
    big = np.take_along_axis(x, last, axis=1)[:, 0] - y[:, 0]
    margin = np.maximum((big - small) * 1e-6, 1e-12)  # beyond what rounding can reach
    low, high = small - margin, big + margin  # fewer than ``rank`` pairs at or below ``low``; every pair below ``high``
    resolution = (high - low) * 2.0**-40
    for _ in range(64):
        middle = (low + high) / 2
        moving = (high - low > resolution) & (middle != low) & (middle != high)
        if not moving.any():
            break
        enough = pairs - _pairs_below(x, y, counts, middle, strict=True) >= rank
        high = np.where(moving & enough, middle, high)
        low = np.where(moving & ~enough, middle, low)
    return high


def hodges_lehmann(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median of the pairwise differences x_i - y_j over each row's valid entries (NaN without data).

    Both middle order statistics come from one bisection (the rows stacked
    twice), so the work is O(n log n) per step instead of the n^2 pairs.
    """
    valid = np.arange(x.shape[1]) < counts[:, None]
    x, y = np.sort(np.where(valid, x, np.inf), axis=1), np.sort(np.where(valid, y, np.inf), axis=1)
    pairs = counts.astype(np.int64) ** 2
    ranks = np.concatenate([(pairs - 1) // 2 + 1, pairs // 2 + 1])
    both = _order_statistic(np.tile(x, (2, 1)), np.tile(y, (2, 1)), np.tile(counts, 2), ranks)
    lower, upper = np.split(both, 2)
    return np.where(counts > 0, (lower + upper) / 2, np.nan)


def mean_ratio(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Kayenta's effect size: mean(x) / mean(y), NaN when either mean is 0 (or there is no data)."""
    valid = np.arange(x.shape[1]) < counts[:, None]
    top, bottom = np.where(valid, x, 0.0).sum(axis=1), np.where(valid, y, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((top > 0) & (bottom > 0), top / bottom, np.nan)


def classify(
    x: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    rule: MetricRule,
    confidence: float,
    tolerance: float,
) -> np.ndarray:
    """PASS, HIGH, LOW or NODATA per row: ``x`` the new version's samples, ``y`` the control's."""
    alpha = 1.0 - confidence
    u1, p = mann_whitney(x, y, counts)
    middle = counts.astype(np.float64) ** 2 / 2
    with np.errstate(invalid="ignore"):
        up = (p < alpha) & (u1 > middle) & (rule.direction != "decrease")
        down = (p < alpha) & (u1 < middle) & (rule.direction != "increase")
    if tolerance > 0 and (up | down).any():
        up, down = _beyond_tolerance(x, y, counts, up, down, alpha, tolerance)
    ratio = mean_ratio(x, y, counts)
    with np.errstate(invalid="ignore"):
        up &= np.isnan(ratio) | (ratio >= rule.allowed_increase)
        down &= np.isnan(ratio) | (ratio <= rule.allowed_decrease)
    codes = np.full(len(counts), PASS, dtype=np.int64)
    codes[up] = HIGH
    codes[down] = LOW
    codes[counts <= 0] = NODATA
    return codes


def _beyond_tolerance(
    x: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    up: np.ndarray,
    down: np.ndarray,
    alpha: float,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the rows whose shift is still significant once moved toward 0 by tolerance x |HL|.

    Only rows already significant need it (the test's z falls as the shift
    grows), so the costly estimate runs on few rows of a healthy release.
    """
    rows = np.flatnonzero(up | down)
    shift = tolerance * np.abs(hodges_lehmann(x[rows], y[rows], counts[rows]))
    sign = np.where(up[rows], -1.0, 1.0)  # lower the new samples to test an increase, raise them for a decrease
    u1, p = mann_whitney(x[rows] + (sign * shift)[:, None], y[rows], counts[rows])
    middle = counts[rows].astype(np.float64) ** 2 / 2
    still = (p < alpha) & np.where(up[rows], u1 > middle, u1 < middle)
    up, down = up.copy(), down.copy()
    up[rows] &= still
    down[rows] &= still
    return up, down


def weighted_score(codes: np.ndarray, rules: tuple[MetricRule, ...]) -> np.ndarray:
    """Kayenta's weighted sum, one group per metric: ``codes`` is (metrics, rows); scores 0..100."""
    weights = np.array([rule.weight for rule in rules])[:, None]
    critical = np.array([rule.critical for rule in rules])[:, None]
    passing = (codes == PASS) | (codes == NODATA)  # a group without data counts as 100 (WeightedSumScorer)
    score = np.round(100.0 * (weights * passing).sum(axis=0) / weights.sum(), 2)
    zero = (critical & (codes != PASS)).any(axis=0) | ((codes == NODATA).mean(axis=0) >= 0.5)
    return np.where(zero, 0.0, score)


# -- the judge --------------------------------------------------------------------------------------


class MannWhitney:
    """Kayenta's canary judgment: Mann-Whitney per metric, a weighted score, pass / marginal thresholds.

    See the module docstring for the semantics. Params: ``metrics`` (metric
    -> ``{weight, direction, critical, allowed_increase, allowed_decrease}``),
    ``against``, ``confidence``, ``tolerance``, ``score_every``, ``count``,
    ``lookback``, ``pass_score``, ``marginal_score``, ``min_requests``,
    ``interval``, ``window``, ``initial_delay``.
    """

    def __init__(
        self,
        metrics: Mapping[str, Mapping[str, object] | None] | None = None,
        against: str = "baseline",
        confidence: float = 0.98,
        tolerance: float = 0.25,
        score_every: int = 60,
        count: int = 0,
        lookback: int = 0,
        pass_score: float = 95.0,
        marginal_score: float = 75.0,
        min_requests: int = 1,
        interval: str | float = "1m",
        window: str | float | None = None,
        initial_delay: str | float = 0.0,
    ) -> None:
        self.rules = _rules({name: {} for name in METRICS} if metrics is None else metrics)
        if against not in ("baseline", "stable"):
            raise ValueError(f"against must be 'baseline' or 'stable', got {against!r:.60}")
        self.against = against
        self.confidence = _number("confidence", confidence, 0.5, 1.0, low_open=True, high_open=True)
        self.tolerance = _number("tolerance", tolerance, 0.0, 1.0, high_open=True)
        self.score_every = _integer("score_every", score_every, 2, MAX_SCORE_EVERY)
        self.count = _integer("count", count, 0, 10_000)
        self.lookback = _lookback(lookback)
        self.pass_score = _number("pass_score", pass_score, 0.0, 100.0)
        self.marginal_score = _number("marginal_score", marginal_score, 0.0, 100.0)
        if self.marginal_score > self.pass_score:
            raise ValueError(f"marginal_score must be at most pass_score ({pass_score!r}), got {marginal_score!r:.60}")
        self.min_requests = _integer("min_requests", min_requests, 0, 10**12)
        self.interval = _seconds("interval", interval)
        self.window = self.interval if window is None else _seconds("window", window)
        self.initial_delay = _seconds("initial_delay", initial_delay)
        for name, seconds in (("interval", self.interval), ("window", self.window)):
            if seconds <= 0:
                raise ValueError(f"{name} must be a positive duration, got {seconds:g} s")
        self._limit = self._sample_limit()
        self._state: dict[str, np.ndarray] | None = None
        self._samples = np.empty((len(self.rules), 2, 0, 0))

    def _sample_limit(self) -> int:
        """Samples kept per arm and metric: the lookback, else every one of the lifetime, at most MAX_SAMPLES."""
        if self.lookback:
            return self.lookback
        return min(self.score_every * self.count, MAX_SAMPLES) if self.count else MAX_SAMPLES

    # -- state ----------------------------------------------------------------------------------

    def _tallies(self, replications: int) -> dict[str, np.ndarray]:
        if self._state is None:
            zeros = np.zeros(replications, dtype=np.int64)
            names = ("verdict", "last", "measurements", "failures", "inconclusive", "looks", "taken")
            self._state = {name: zeros.copy() for name in names}
            self._state["statistic"] = np.full(replications, np.nan)
            width = min(self._limit, 2 * self.score_every)
            self._samples = np.zeros((len(self.rules), 2, replications, width))
        return self._state

    def _grow(self, needed: int) -> None:
        """Double the sample arrays (up to the limit) so that ``needed`` samples fit."""
        width = self._samples.shape[3]
        if needed <= width or width >= self._limit:
            return
        wider = min(self._limit, max(2 * width, needed))
        samples = np.zeros((*self._samples.shape[:3], wider))
        samples[..., :width] = self._samples
        self._samples = samples

    # -- a call ---------------------------------------------------------------------------------

    def measure(self, data: JudgeData) -> Verdicts:
        state = self._tallies(len(data.due))
        if data.restarted.any():  # a (re)started judge forgets its samples and judgments
            for values in state.values():
                values[data.restarted] = np.nan if values.dtype.kind == "f" else 0
        active = data.due & (state["verdict"] == RUNNING)
        state["looks"] += active
        self._record(data, active & ~data.missing)
        judging = active & (state["looks"] % self.score_every == 0)
        if judging.any():
            self._judge(np.flatnonzero(judging))
        return Verdicts(**{name: state[name].copy() for name in Verdicts.__dataclass_fields__})

    def _control(self, data: JudgeData) -> Arm:
        return data.baseline if self.against == "baseline" else data.stable

    def _record(self, data: JudgeData, looking: np.ndarray) -> None:
        """One sample per metric and arm where both arms have enough requests."""
        new, control = data.new, self._control(data)
        low = max(self.min_requests, 1)
        rows = np.flatnonzero(looking & (new.requests >= low) & (control.requests >= low))
        if not len(rows):
            return
        taken = self._state["taken"]  # type: ignore[index]
        self._grow(int(taken[rows].max()) + 1)
        slots = taken[rows] % self._samples.shape[3]  # a full buffer overwrites its oldest samples
        for arm, counts in enumerate((new, control)):
            requests = counts.requests[rows].astype(np.float64)
            for metric, rule in enumerate(self.rules):
                hits = counts.errors if rule.name == "error_rate" else counts.slow
                self._samples[metric, arm, rows, slots] = hits[rows] / requests
        taken[rows] += 1

    def _judge(self, rows: np.ndarray) -> None:
        """Score the samples of ``rows`` and update their verdicts."""
        state = self._state
        assert state is not None
        counts = np.minimum(state["taken"][rows], self._samples.shape[3])
        width = max(int(counts.max()), 1)
        codes = np.stack(
            [
                classify(
                    self._samples[metric, 0, rows, :width],
                    self._samples[metric, 1, rows, :width],
                    counts,
                    rule,
                    self.confidence,
                    self.tolerance,
                )
                for metric, rule in enumerate(self.rules)
            ]
        )
        score = weighted_score(codes, self.rules)
        result = np.where(
            score >= self.pass_score, PASSED, np.where(score >= self.marginal_score, INCONCLUSIVE, FAILED)
        )
        state["statistic"][rows] = score
        state["last"][rows] = result
        state["measurements"][rows] += 1
        state["failures"][rows] += result == FAILED
        state["inconclusive"][rows] += result == INCONCLUSIVE
        final = (state["measurements"][rows] >= self.count) if self.count else np.zeros(len(rows), dtype=bool)
        state["verdict"][rows] = np.where((result == FAILED) | final, result, RUNNING)
