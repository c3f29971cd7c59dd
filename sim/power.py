"""How long must a canary bake? Detection and false-rollback rates of a judge as a function of bake time.

For each bake time, a canary at ``weight`` holds for the bake and is then
promoted; its judge is the only detector (watchers off). Simulated on a
release with an error defect of probability ``harm`` (detection: the share
of runs rolled back by the end of the bake) and on the healthy release
(false rollbacks), with the same seed. The canary is the built-in one with
``unit = "request"``, and with a baseline arm of the same weight when the
judge compares against one (``against = "baseline"``) or the strategy had one.
A run with the longest bake is the run with any shorter bake until that
bake ends (a failed verdict rolls back at once), so one run per release
answers every bake: a row's rate is the share of runs rolled back by its
bake, and the rates never fall as the bake grows.

Beside them, the closed form where one exists, for every measurement the
judge takes by the end of the longest bake; a bake counts the measurements
that arrive by its end. Common to all:

- measurements are scheduled as the engine schedules them: a scrape every
  ``scrape_interval``, arriving ``scrape_lag`` later; the judge measures at
  the first arrival after its interval has come round, over its window;
- traffic is Poisson around the scenario's expected counts (daily curve and
  spikes included); an arm's requests in a window are its share of them
  (a sequential judge's look needs ``min_requests`` in both arms: compared
  with the expected counts);
- a request of the new version errs with probability ``p1 = b + harm - b harm``
  (``b`` the baseline error rate; ``p1 = b`` when healthy), one of the
  reference arm (baseline or stable) with ``p0 = b``;
- every scrape arrives (``missing_scrapes`` and ``gaps`` are ignored).

The normal approximations (``ztest``, ``msprt``, ``cusum``) want tens of
errors per arm in a look; with a handful they are a few points off (0.92
simulated against 0.88 for a z-test with 3 errors expected per arm at its
first look). Where the approximation is good, simulation and closed form
agree within the Monte Carlo error (tests/sim/test_power.py).

- ``threshold`` (Argo or Flagger rule, errors only, no ``inconclusive_limit``,
  windows no longer than the interval, so measurements are independent):
  measurement j fails with probability ``q_j = P(Binomial(N_j, p1) > r N_j)``
  with ``N_j`` Poisson (plus, for Flagger, no data: ``N_j < min_requests``);
  the judge fails when more than ``failure_limit`` (Flagger: at least
  ``threshold``) of the measurements fail: a Poisson-binomial tail.
- ``ztest`` (any boundary): the difference of the cumulative error rates at
  look k is about normal with mean ``d = p1 - p0`` and variance
  ``v_k = p1 q1 / n_k + p0 q0 / m_k``; on the information scale
  ``I_k = 1 / v_k`` its multiple ``I_k`` is a Brownian motion with drift
  ``d`` (independent increments), and the judge fails at look k when the
  difference exceeds ``b_k`` pooled standard errors. The probability of
  crossing at one of the looks is the recursive numerical integration of
  ``strategies.sequential.crossing_probability``, here with drift and unequal
  increments. Healthy (``d = 0``, pooled = unpooled), it is the nominal
  crossing probability of the looks taken: ``alpha`` for corrected
  boundaries after all the planned looks, growing with the looks for
  uncorrected ones.
- ``msprt``: its rule "mixture likelihood ratio >= 1 / alpha with d > 0" is,
  with the variance at its expected value, a z boundary at each look
  ``c_k = sqrt(2 (V_k + tau^2) / tau^2 (log(1 / alpha) + log((V_k + tau^2) / V_k) / 2))``,
  crossed as for the z-test. Whatever that approximation, false rollbacks
  stay at most ``alpha`` at any bake (always valid: Ville's inequality).
- ``sprt``: the log-likelihood ratio after x errors and y successes is
  ``a x - c y`` (``a = log(p1' / p0')``, ``c = log((1 - p0') / (1 - p1'))``
  for the judge's ``p0'``, ``p1'``). With Poisson traffic the errors and the
  successes of each window are independent Poisson counts, so the ratio is a
  random walk with independent increments: its distribution between the
  two boundaries is carried from look to look on a grid (the successes,
  thousands a window, taken as normal), absorbed at either boundary and
  stopped at the bake. This is the truncated SPRT with its overshoot, not an
  approximation of it. Beside it, as notes, Wald's approximations for the
  untruncated SPRT (no overshoot): the operating characteristic and the
  average sample number (ASN).
- ``cusum``: each look's z is normal with mean ``d`` over the pooled
  standard error of that interval's counts; ``S = max(0, S + z - k)`` is a
  Markov chain on a grid over ``[0, h]`` (Brook and Evans), absorbed above ``h``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, signal, stats

from sim.durations import format_duration, parse_duration
from sim.experiments import compare
from sim.plugins import PluginError, load_judge_class, resolve_preset, strategy_judges
from sim.population import CELL_SECONDS, build_cohorts
from sim.scenario import MAX_WINDOW, JudgeSpec, Scenario, ScenarioError, StrategySpec, scenario_from_dict
from sim.telemetry import scrapes_in

MAX_BAKES = 20
MAX_BAKE = 7 * 86400.0
EVENT_RESOLUTION = 1e-6  # the engine rounds event times to a microsecond


@dataclass(frozen=True)
class PowerRow:
    """One bake time: simulated rates (with their 95% intervals) and the closed form (None: none here)."""

    bake_s: float
    detection: float
    detection_ci: tuple[float, float]
    false_rollback: float
    false_rollback_ci: tuple[float, float]
    detection_closed: float | None
    false_rollback_closed: float | None
    replications: int


@dataclass(frozen=True)
class PowerCurve:
    """The judge studied, what its closed form computes (None: none for it), notes on it, and the rows."""

    judge: str
    use: str
    closed_form: str | None
    notes: tuple[str, ...]
    rows: list[PowerRow]


@dataclass(frozen=True)
class ClosedForm:
    """P(the judge has failed by each of its measurements), with the defect and healthy."""

    method: str
    times: np.ndarray  # when each measurement is taken (its scrape's arrival), seconds from the start
    detection: np.ndarray
    false_rollback: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def at(self, bake: float) -> tuple[float, float]:
        """The rates for a bake: the measurements that arrive by its end (at the same instant included)."""
        taken = int(np.searchsorted(self.times, bake + EVENT_RESOLUTION, side="right"))
        if taken == 0:
            return 0.0, 0.0
        return float(self.detection[taken - 1]), float(self.false_rollback[taken - 1])


def power_curve(
    scenario: Scenario,
    *,
    weight: float,
    harm: float,
    bakes: Sequence[float],
    strategy: str | None = None,
    replications: int = 400,
    seed: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PowerCurve:
    """The judge's detection and false-rollback rates by bake time (see the module's docstring)."""
    _check(weight, harm, bakes, replications)
    name, spec, baseline = _judge(scenario, strategy)
    if baseline and weight > 0.5:
        raise ScenarioError(f"--weight must be at most 0.5: judge {name!r} compares against a baseline arm as large")
    longest = max(bakes)
    rollbacks = []
    for index, defect in enumerate((harm, None)):
        variant = _variant(scenario, name, spec, weight, defect, longest, baseline)
        done = index * replications

        def report(count: int, _total: int, done: int = done) -> None:
            if progress:
                progress(done + count, 2 * replications)

        rollbacks.append(_rollback_times(variant, replications, seed, workers, report))
    closed = closed_form(scenario, spec, weight=weight, harm=harm, until=longest, baseline=baseline)
    blind = _below_the_limit(scenario, spec, harm)
    if isinstance(closed, str):  # none: why
        rows = [_row(bake, rollbacks, None, replications) for bake in bakes]
        return PowerCurve(name, spec.use, None, (*blind, closed), rows)
    rows = [_row(bake, rollbacks, closed, replications) for bake in bakes]
    return PowerCurve(name, spec.use, closed.method, (*blind, *closed.notes), rows)


def _below_the_limit(scenario: Scenario, spec: JudgeSpec, harm: float) -> tuple[str, ...]:
    """A warning when a threshold judge's limit is above the defective release's error rate: then only noise
    can fail a measurement, and a larger canary (less noise) detects it less often."""
    from strategies.judges import Threshold

    built = _build(spec, spec.use)
    limit = _error_limit(built) if type(built) is Threshold else None
    base = scenario.telemetry.baseline_error_rate
    defective = base + harm - base * harm
    if limit is None or defective > limit:
        return ()
    return (
        f"the defective release errs on {100 * defective:.3g}% of requests, not above the judge's limit of "
        f"{100 * limit:.3g}%: only noise can fail a measurement",
    )


def _row(bake: float, rollbacks: list[np.ndarray], closed: ClosedForm | None, replications: int) -> PowerRow:
    detection, false_rollback = (float((times <= bake + EVENT_RESOLUTION).sum()) / replications for times in rollbacks)
    closed_rates = None if closed is None else closed.at(bake)
    return PowerRow(
        bake_s=float(bake),
        detection=detection,
        detection_ci=_wilson(detection, replications),
        false_rollback=false_rollback,
        false_rollback_ci=_wilson(false_rollback, replications),
        detection_closed=None if closed_rates is None else closed_rates[0],
        false_rollback_closed=None if closed_rates is None else closed_rates[1],
        replications=replications,
    )


def _check(weight: float, harm: float, bakes: Sequence[float], replications: int) -> None:
    if not 0.0 < weight <= 1.0:
        raise ScenarioError(f"--weight must be a share in (0, 1], got {weight:g}")
    if not 0.0 < harm <= 1.0:
        raise ScenarioError(f"--harm must be a probability in (0, 1], got {harm:g}")
    if not 1 <= len(bakes) <= MAX_BAKES:
        raise ScenarioError(f"give 1 to {MAX_BAKES} bake times, got {len(bakes)}")
    for bake in bakes:
        if not 0.0 < bake <= MAX_BAKE:
            raise ScenarioError(f"--bake must be a duration above 0 and at most 7d, got {bake:g} s")
    if not 1 <= replications <= 100_000:
        raise ScenarioError(f"--replications must be from 1 to 100000, got {replications}")


def _judge(scenario: Scenario, strategy: str | None) -> tuple[str, JudgeSpec, bool]:
    """The judge to study and whether its canary needs a baseline arm.

    The judge the strategy acts on (its ``judge`` param) or its first; ``strategy`` defaults to the
    scenario's first. A baseline arm when the judge compares against one, or the strategy had one."""
    specs = {spec.name: spec for spec in scenario.strategies}
    if strategy is not None and strategy not in specs:
        raise ScenarioError(f"--strategy: no strategy {strategy!r} in the scenario (it has {', '.join(specs)})")
    spec = specs[strategy] if strategy is not None else (scenario.strategies[0] if scenario.strategies else None)
    spec = resolve_preset(spec or StrategySpec(name="canary"))
    judges = strategy_judges(scenario, spec)
    if not judges:
        raise ScenarioError("the strategy has no judge to study (detection.analysis is disabled)")
    named = spec.params.get("judge")
    name = named if isinstance(named, str) and named in judges else next(iter(judges))
    judge = judges[name]
    built = _build(judge, name)
    baseline = getattr(built, "against", None) == "baseline" or spec.params.get("baseline") is True
    return name, judge, baseline


def _build(judge: JudgeSpec, name: str) -> Any:
    try:
        return load_judge_class(judge.use)(**judge.params)
    except PluginError:
        raise
    except Exception as error:  # bad params: the scenario's own check words them the same way
        raise ScenarioError(f"judge {name!r} ({judge.use}): bad params: {error}") from None


def _variant(
    scenario: Scenario, name: str, judge: JudgeSpec, weight: float, harm: float | None, bake: float, baseline: bool
) -> Scenario:
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["horizon"] = bake + 60.0  # the run ends with the bake: nothing after it counts
    # The judge is the only detector: every watcher off (service alert, SLO burn, user reports, ...).
    data["detection"] = {
        key: value if key == "analysis" else {"enabled": False} for key, value in data["detection"].items()
    }
    data["release"] = {} if harm is None else {"defect": {"harm": harm, "kind": "errors"}}
    params = {"steps": [weight], "bake": bake, "check": min(60.0, bake), "judge": name, "baseline": baseline}
    data["strategies"] = [
        {"name": "power", "use": "canary", "params": params, "judges": {name: judge.model_dump(mode="json")}}
    ]
    return scenario_from_dict(data, f"{scenario.name} (power)")


def _rollback_times(
    variant: Scenario, replications: int, seed: int | None, workers: int | None, progress: Callable[[int, int], None]
) -> np.ndarray:
    """When each rolled-back run rolled back (the others are not in it)."""
    comparison = compare(variant, replications=replications, seed=seed, workers=workers, progress=progress)
    if comparison.errors:
        raise PluginError(" ".join(next(iter(comparison.errors.values())).split()))
    runs = comparison.runs
    rolled = runs[runs["outcome"].isin(("rolled_back", "false_rollback"))]
    return rolled["rollback_s"].to_numpy(dtype=float)


# -- closed forms ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurements:
    """The judge's measurements up to a time, and the expected requests of each arm in each window."""

    times: np.ndarray  # arrival of each measurement's scrape
    new: np.ndarray  # expected new-version requests in each window
    reference: np.ndarray  # expected requests of the arm the judge compares with (the new one when none)
    overlapping: bool  # some window begins before the previous one ends


def closed_form(
    scenario: Scenario, judge: JudgeSpec, *, weight: float, harm: float, until: float, baseline: bool = False
) -> ClosedForm | str:
    """The closed form of ``judge`` for bakes up to ``until``, or why there is none (see the module's docstring)."""
    from strategies.judges import Threshold
    from strategies.sequential import SPRT, AlwaysValid, Cusum, ZTest

    built = _build(judge, judge.use)
    forms: dict[type, Callable[..., ClosedForm | str]] = {
        Threshold: _threshold_form,
        ZTest: _ztest_form,
        AlwaysValid: _msprt_form,
        SPRT: _sprt_form,
        Cusum: _cusum_form,
    }
    form = next((make for cls, make in forms.items() if type(built) is cls), None)
    if form is None:
        return f"none is known for a {judge.use} judge"
    base = scenario.telemetry.baseline_error_rate
    rates = (base + harm - base * harm, base)
    return form(built, measurements(scenario, built, weight, until, baseline), rates)


def measurements(scenario: Scenario, built: Any, weight: float, until: float, baseline: bool) -> Measurements:
    """The measurements arriving by ``until``, scheduled as the engine does (sim/judging.py).

    Scrapes are taken at multiples of the scrape interval and arrive ``scrape_lag`` later; a judge
    measures at the first arrival at or after it is due (``initial_delay + interval``, then every
    interval, catching up in one step), over the window ending at that scrape."""
    telemetry = scenario.telemetry
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
    expected = _expected_requests(scenario, until)
    requests = expected(ends) - expected(np.maximum(starts, 0.0))
    against = getattr(built, "against", None)
    stable = 1.0 - weight - (weight if baseline else 0.0)
    share = {"baseline": weight if baseline else 0.0, "stable": stable}.get(against, weight)
    overlapping = bool(len(starts) > 1 and (starts[1:] < ends[:-1] - 1e-9).any())
    return Measurements(times, weight * requests, share * requests, overlapping)


def _expected_requests(scenario: Scenario, until: float) -> Callable[[np.ndarray], np.ndarray]:
    """Expected requests of the whole service from the start to each time (piecewise linear per cell)."""
    cohorts = build_cohorts(scenario)
    cells = math.ceil(until / CELL_SECONDS) + 1
    per_cell = cohorts.cell_means(0, cells).sum(axis=1)
    edges = np.arange(cells + 1) * CELL_SECONDS
    cumulative = np.concatenate([[0.0], np.cumsum(per_cell)])
    return lambda times: np.interp(times, edges, cumulative)


# -- threshold: binomial tails -------------------------------------------------------------------------------


def _threshold_form(built: Any, looks: Measurements, rates: tuple[float, float]) -> ClosedForm | str:
    limit_rate = _error_limit(built)
    if limit_rate is None or built.max_slow_rate is not None:
        return "only for a threshold on errors alone (this one judges latency or slow requests)"
    if built.inconclusive_limit is not None:
        return "only without an inconclusive_limit"
    if looks.overlapping:  # overlapping windows share requests: measurements are not independent
        return (
            f"its {format_duration(built.window)} windows overlap (one every {format_duration(built.interval)}): "
            "measurements that share requests are not independent"
        )
    flagger = built.rule == "flagger"
    limit = built.threshold - 1 if flagger else built.failure_limit
    curves = []
    for rate in rates:
        fails = [_measurement_fails(n, rate, limit_rate, built.min_requests) for n in looks.new]
        if flagger:  # a check with no data fails too
            fails = [q + _no_data(n, built.min_requests) for q, n in zip(fails, looks.new, strict=True)]
        curves.append(_tails(fails, limit, built.count))
    rule = f"more than {limit} of them" if not flagger else f"{built.threshold} of them (no data fails)"
    return ClosedForm(
        "binomial: each window's errors binomial among Poisson requests, the judge failing when "
        f"{rule} fail (a Poisson-binomial tail)",
        looks.times,
        *curves,
    )


def _error_limit(built: Any) -> float | None:
    """The error rate above which a measurement fails, when errors alone are judged (else None)."""
    if getattr(built, "max_latency", None) is not None:
        return None
    limits = [built.max_error_rate]
    success = getattr(built, "min_success_rate", None)
    limits.append(None if success is None else 1.0 - success)  # success below s: error rate above 1 - s
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


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


# -- z-test and mSPRT: boundary crossing of a Brownian motion ------------------------------------------------


def _cumulative(looks: Measurements, min_requests: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative expected requests of each arm at each measurement, and which measurements are looks
    (both arms have at least ``min_requests``; before that a measurement is inconclusive)."""
    n, m = np.cumsum(looks.new), np.cumsum(looks.reference)
    low = max(min_requests, 1)
    return n, m, (n >= low) & (m >= low)


def _variances(n: np.ndarray, m: np.ndarray, rates: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The variance of the difference of error rates (unpooled) and its pooled estimate, per look."""
    new, reference = rates
    unpooled = new * (1 - new) / n + reference * (1 - reference) / m
    pooled_rate = (n * new + m * reference) / (n + m)
    return unpooled, pooled_rate * (1 - pooled_rate) * (1 / n + 1 / m)


def _spread(curve: np.ndarray, looked: np.ndarray) -> np.ndarray:
    """Per-look values spread over every measurement: a measurement that is no look keeps the value before."""
    out = np.zeros(len(looked))
    out[np.flatnonzero(looked)] = curve
    return np.maximum.accumulate(out) if len(out) else out


def _ztest_form(built: Any, looks: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = _cumulative(looks, built.min_requests)
    looked[np.cumsum(looked) > built.looks] = False  # passed after its planned looks: no more
    index = np.flatnonzero(looked)
    bounds = built.bounds[: len(index)]
    curves = []
    for new in rates:
        with np.errstate(divide="ignore", invalid="ignore"):  # no errors on either arm: nothing crosses
            unpooled, pooled = _variances(n[index], m[index], (new, rates[1]))
            # The judge divides by the pooled standard error: on the scale of the true one, its boundary moves.
            scaled = bounds * np.sqrt(pooled / unpooled)
        curves.append(_spread(_crossing(1 / unpooled, scaled, new - rates[1]), looked))
    shown = ", ".join(f"{bound:.2f}" for bound in built.bounds[:5]) + (", ..." if built.looks > 5 else "")
    notes = [f"{built.looks} planned looks, z boundaries {shown}"]
    if len(index) == built.looks:
        notes.append(
            f"it passes after its last look, at {format_duration(looks.times[index[-1]])}: a longer bake catches "
            "nothing more"
        )
    elif len(index):
        notes.append(f"the longest bake allows {len(index)} of its {built.looks} looks")
    return ClosedForm(
        "normal: z at each look a Brownian motion on the information scale, the boundary crossing by "
        "recursive numerical integration",
        looks.times,
        *curves,
        notes=tuple(notes),
    )


def _msprt_form(built: Any, looks: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = _cumulative(looks, built.min_requests)
    if built.max_looks:
        looked[np.cumsum(looked) > built.max_looks] = False
    index = np.flatnonzero(looked)
    curves = []
    for new in rates:
        with np.errstate(divide="ignore", invalid="ignore"):
            unpooled, _ = _variances(n[index], m[index], (new, rates[1]))
            spread = unpooled + built.tau**2
            bounds = np.sqrt(2 * spread / built.tau**2 * (math.log(1 / built.alpha) + 0.5 * np.log(spread / unpooled)))
        curves.append(_spread(_crossing(1 / unpooled, bounds, new - rates[1]), looked))
    note = f"always valid: false rollbacks at most alpha = {100 * built.alpha:g}% at any bake"
    return ClosedForm(
        "normal: its likelihood-ratio rule as a z boundary at each look (the variance at its expected value), "
        "crossed by recursive numerical integration",
        looks.times,
        *curves,
        notes=(note,),
    )


def _crossing(information: np.ndarray, bounds: np.ndarray, drift: float) -> np.ndarray:
    """P(``Z_j > bounds[j]`` at some look j <= k), for each look k.

    ``Z_k = S_k / sqrt(I_k)`` where ``S`` is a Brownian motion with drift ``drift`` in information time
    ``I`` (``S_k`` normal, mean ``drift I_k``, variance ``I_k``, independent increments). As
    ``strategies.sequential.crossing_probability`` (Armitage, McPherson and Rowe), with a drift and
    unequal increments: the density of ``W(t) = S / sqrt(I_K)`` less its drift is carried on a grid
    from look to look and cut at each boundary. Deterministic.
    """
    if not len(information):
        return np.zeros(0)
    if not (np.isfinite(information).all() and information[-1] > 0):
        return np.zeros(len(information))  # no errors at all on either arm: z stays 0, nothing crosses
    total = information[-1]
    fractions = information / total
    increments = np.diff(fractions, prepend=0.0)
    shift = drift * math.sqrt(total)
    smallest = float(increments[increments > 0].min())
    step = min(0.01, max(1e-3, math.sqrt(smallest) / 40))  # 40 cells per sd of the smallest increment
    grid = np.arange(-10.0, 10.0 + step / 2, step)  # W(t) less its drift: variance at most 1
    mass = _normal_cells(grid, math.sqrt(fractions[0]), step)
    out = np.zeros(len(information))
    for k, (fraction, increment, bound) in enumerate(zip(fractions, increments, bounds, strict=True)):
        if k > 0 and increment > 0:
            mass = np.clip(signal.fftconvolve(mass, _kernel(math.sqrt(increment), step), mode="same"), 0.0, None)
        edge = bound * math.sqrt(fraction) - shift * fraction
        # Each grid point stands for a cell of width ``step``: keep the share of the cell below the boundary.
        mass = mass * np.clip((edge - grid) / step + 0.5, 0.0, 1.0)
        out[k] = 1.0 - mass.sum()
    return np.clip(out, 0.0, 1.0)


def _normal_cells(grid: np.ndarray, sd: float, step: float) -> np.ndarray:
    """P(N(0, sd^2) falls in each grid point's cell)."""
    if sd <= 0:
        return (np.abs(grid) < step / 2).astype(float)
    return np.diff(stats.norm.cdf(np.append(grid - step / 2, grid[-1] + step / 2) / sd))


def _kernel(sd: float, step: float) -> np.ndarray:
    """An increment N(0, sd^2) as cell probabilities, centred (odd length) for ``mode="same"``."""
    half = max(1, math.ceil(9 * sd / step))
    return _normal_cells(np.arange(-half, half + 1) * step, sd, step)


# -- SPRT: the log-likelihood ratio's walk between two boundaries ---------------------------------------------

SPRT_CELLS = 1000  # grid steps between the two boundaries (the rates move by less than 1e-3 past 250)


def _sprt_form(built: Any, looks: Measurements, rates: tuple[float, float]) -> ClosedForm:
    _, _, looked = _cumulative(looks, built.min_requests)
    curves = [_sprt_walk(built, looks.new * rate, looks.new * (1 - rate), looked) for rate in rates]
    labels = ("with the defect", "healthy")
    notes = tuple(_wald(built, rate, label, looks) for rate, label in zip(rates, labels, strict=True))
    return ClosedForm(
        "random walk: the log-likelihood ratio, Poisson errors and successes per window, absorbed at both "
        "boundaries, stopped at the bake (numerically, on a grid)",
        looks.times,
        *curves,
        notes=notes,
    )


def _sprt_walk(built: Any, errors: np.ndarray, successes: np.ndarray, looked: np.ndarray) -> np.ndarray:
    """P(failed by each measurement): the ratio ``a X - c Y`` (X errors, Y successes so far, Poisson with the
    windows' expected counts, independent as Poisson traffic thins) fails at a look at or above ``upper``
    and passes at or below ``lower`` (the judge stops either way).

    Its distribution between the boundaries is carried on a grid of ``SPRT_CELLS`` steps; each point of
    the walk is shared between its two nearest grid points (linear interpolation keeps the mean exact)."""
    up, down = math.log(built.p1 / built.p0), math.log((1 - built.p0) / (1 - built.p1))
    step = (built.upper - built.lower) / SPRT_CELLS
    start, first = _interpolated(np.array([-built.lower / step]), np.ones(1))  # the ratio starts at 0
    mass = np.zeros(SPRT_CELLS + 1)
    mass[first : first + len(start)] = start
    failed, out = 0.0, np.zeros(len(errors))
    pending = np.zeros(2)  # the counts of the measurements since the last look (before the first: too few)
    for j in range(len(errors)):
        pending += (errors[j], successes[j])
        if looked[j]:
            kernel, first, beyond = _increment(pending[0], pending[1], up / step, down / step)
            failed += beyond * float(mass.sum())  # so far up that it fails from anywhere inside
            moved = signal.fftconvolve(mass, kernel) if len(kernel) > 1 else mass * kernel[0]
            where = np.arange(len(moved)) + first  # grid point of each entry; 0: lower, SPRT_CELLS: upper
            failed += float(np.clip(moved[where >= SPRT_CELLS], 0.0, None).sum())
            inside = (where > 0) & (where < SPRT_CELLS)
            mass = np.zeros(SPRT_CELLS + 1)
            mass[where[inside]] = np.clip(moved[inside], 0.0, None)
            pending[:] = 0.0
        out[j] = failed
    return np.clip(out, 0.0, 1.0)


def _increment(errors: float, successes: float, up: float, down: float) -> tuple[np.ndarray, int, float]:
    """One look's change of the ratio in grid steps, ``up X - down Y`` with X ~ Poisson(``errors``) and
    Y ~ Poisson(``successes``) (normal: it has thousands): the kernel over grid offsets ``first, first + 1,
    ...`` less than one span of the boundaries away, and the probability of going a span or more up
    (failing from anywhere inside; a span or more down always passes)."""
    lattice, first_x = _poisson_lattice(errors, up)
    normal, first_y = _normal_interpolated(-down * successes, down * math.sqrt(successes))
    offsets = first_x + np.arange(len(lattice))
    above = offsets + first_y >= SPRT_CELLS  # however few successes: a span or more up
    below = offsets + first_y + len(normal) - 1 <= -SPRT_CELLS  # however many: a span or more down
    beyond = float(lattice[above].sum())
    kept = ~above & ~below
    if not kept.any():
        return np.zeros(1), 0, beyond
    lattice = lattice[np.argmax(kept) : len(kept) - np.argmax(kept[::-1])]
    first_x = int(offsets[np.argmax(kept)])
    kernel = (
        signal.fftconvolve(lattice, normal) if min(len(lattice), len(normal)) > 1 else np.outer(lattice, normal).ravel()
    )
    offsets = first_x + first_y + np.arange(len(kernel))
    beyond += float(np.clip(kernel[offsets >= SPRT_CELLS], 0.0, None).sum())
    kept = (offsets > -SPRT_CELLS) & (offsets < SPRT_CELLS)
    if not kept.any():
        return np.zeros(1), 0, beyond
    return np.clip(kernel[kept], 0.0, None), int(offsets[np.argmax(kept)]), beyond


def _poisson_lattice(mean: float, spacing: float) -> tuple[np.ndarray, int]:
    """``spacing`` x Poisson(``mean``) on the integers, interpolated: (weights, offset of the first)."""
    if mean <= 0:
        return np.ones(1), 0
    low, high = (int(v) for v in stats.poisson.ppf([1e-13, 1 - 1e-13], mean))
    counts = np.arange(low, high + 1)
    return _interpolated(counts * spacing, stats.poisson.pmf(counts, mean))


def _normal_interpolated(mean: float, sd: float) -> tuple[np.ndarray, int]:
    """N(``mean``, ``sd^2``) on the integers, each value shared between its two nearest (the expected
    tent function: E[(V - i + 1)+] - 2 E[(V - i)+] + E[(V - i - 1)+]): (weights, offset of the first)."""
    half = math.ceil(9 * sd) + 1
    points = np.arange(math.floor(mean) - half, math.ceil(mean) + half + 1)

    def excess(gap: np.ndarray) -> np.ndarray:  # E[(V - point)+] with gap = mean - point
        if sd <= 0:
            return np.maximum(gap, 0.0)
        return gap * stats.norm.cdf(gap / sd) + sd * stats.norm.pdf(gap / sd)

    gap = mean - points
    weights = excess(gap + 1) - 2 * excess(gap) + excess(gap - 1)
    return np.clip(weights, 0.0, None), int(points[0])


def _interpolated(positions: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, int]:
    """Weights at real positions shared between the two nearest integers: (weights, offset of the first)."""
    floor = np.floor(positions)
    share = positions - floor
    first = int(floor.min())
    out = np.zeros(int(floor.max()) - first + 2)
    index = (floor - first).astype(np.int64)
    np.add.at(out, index, weights * (1 - share))
    np.add.at(out, index + 1, weights * share)
    return out, first


def _wald(built: Any, rate: float, label: str, looks: Measurements) -> str:
    """Wald's operating characteristic and average sample number for an untruncated SPRT, no overshoot."""
    up, down = math.log(built.p1 / built.p0), -math.log((1 - built.p0) / (1 - built.p1))
    drift = rate * up + (1 - rate) * down  # per request
    variance = rate * (1 - rate) * (up - down) ** 2
    if variance == 0:  # no error ever (or every request errs): the ratio moves one way
        fails = 1.0 if drift > 0 else 0.0
        requests = (built.upper if drift > 0 else built.lower) / drift
    elif abs(drift) < 1e-12 * math.sqrt(variance):
        fails = -built.lower / (built.upper - built.lower)
        requests = -built.lower * built.upper / variance
    else:
        h = _wald_exponent(rate, up, down, drift)
        # (1 - e^(h lower)) / (e^(h upper) - e^(h lower)), divided through by its largest term (no overflow).
        if h > 0:
            gap = math.exp(h * (built.lower - built.upper))
            fails = (math.exp(-h * built.upper) - gap) / (1 - gap)
        else:
            fails = -math.expm1(-h * built.lower) / -math.expm1(h * (built.upper - built.lower))
        requests = (fails * built.upper + (1 - fails) * built.lower) / drift
    seen = np.cumsum(looks.new)
    when = int(np.searchsorted(seen, requests))
    time = f"the look at {format_duration(looks.times[when])}" if when < len(seen) else "beyond the longest bake"
    return (
        f"Wald, untruncated and without overshoot, {label}: fails {100 * fails:.1f}% after {requests:,.0f} "
        f"requests on average ({time})"
    )


def _wald_exponent(rate: float, up: float, down: float, drift: float) -> float:
    """The h != 0 with E[exp(h x one request's log-likelihood ratio)] = 1 (its sign opposite the drift's)."""

    def moment(h: float) -> float:
        return rate * math.exp(h * up) + (1 - rate) * math.exp(h * down) - 1.0

    sign = -1.0 if drift > 0 else 1.0
    far = sign
    while moment(far) <= 0:
        far *= 2
    return optimize.brentq(moment, sign * 1e-9, far, xtol=1e-12)


# -- CUSUM: a Markov chain on a grid -------------------------------------------------------------------------


def _cusum_form(built: Any, looks: Measurements, rates: tuple[float, float]) -> ClosedForm:
    n, m, looked = _cumulative(looks, built.min_requests)
    index = np.flatnonzero(looked)
    # Each look's z takes the counts since the previous look (the first, everything before it).
    new, reference = (np.diff(cumulative[index], prepend=0.0) for cumulative in (n, m))
    curves = []
    for rate in rates:
        with np.errstate(divide="ignore", invalid="ignore"):
            unpooled, pooled = _variances(new, reference, (rate, rates[1]))
            usable = (new > 0) & (reference > 0) & (pooled > 0)  # else the judge's z is 0
            means = np.where(usable, (rate - rates[1]) / np.sqrt(pooled), 0.0)
            sds = np.where(usable, np.sqrt(unpooled / pooled), 0.0)
        curves.append(_spread(_cusum_chain(means, sds, built.k, built.h), looked))
    return ClosedForm(
        "Markov chain: S = max(0, S + z - k) on a grid over [0, h] (Brook and Evans), each look's z normal",
        looks.times,
        *curves,
    )


def _cusum_chain(means: np.ndarray, sds: np.ndarray, k: float, h: float, cells: int = 400) -> np.ndarray:
    """P(S > h by each look), S starting at 0 and each look's z normal(``means[j]``, ``sds[j]^2``)."""
    step = h / cells
    grid = np.arange(cells + 1) * step
    mass = np.zeros(cells + 1)
    mass[0] = 1.0
    out = np.zeros(len(means))
    for j, (mean, sd) in enumerate(zip(means, sds, strict=True)):
        shift = mean - k
        if sd > 0:
            half = math.ceil((abs(shift) + 9 * sd) / step)
            offsets = np.arange(-half, half + 1) * step
            kernel = np.diff(stats.norm.cdf((np.append(offsets - step / 2, offsets[-1] + step / 2) - shift) / sd))
        else:  # no data in either arm: z = 0, S drops by k
            half = math.ceil(abs(shift) / step)
            offsets = np.arange(-half, half + 1) * step
            kernel = (np.abs(offsets - shift) < step / 2).astype(float)
        moved = np.convolve(mass, kernel)  # index i + half: grid position i (may be below 0 or above h)
        positions = (np.arange(len(moved)) - half) * step
        below = moved[positions < step / 2].sum()  # S = max(0, ...): everything at or below 0 is 0
        inside = moved[(positions >= step / 2) & (positions <= h + step / 2)]
        mass = np.concatenate([[below], inside])[: cells + 1]
        mass = np.pad(mass, (0, cells + 1 - len(mass)))
        mass = mass * np.clip((h - grid) / step + 0.5, 0.0, 1.0)  # above h: failed
        out[j] = 1.0 - mass.sum()
    return np.clip(out, 0.0, 1.0)


def _wilson(rate: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At a rate of 0 (or 1) the bound is 0 (or 1) exactly; the formula leaves a rounding error.
    return (0.0 if rate <= 0 else max(0.0, centre - half), 1.0 if rate >= 1 else min(1.0, centre + half))
