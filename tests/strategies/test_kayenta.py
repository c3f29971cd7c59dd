"""The Kayenta-style judge: its Mann-Whitney test against scipy, Kayenta's classification and score, its
verdicts, and its false-alarm and detection rates, directly and in the engine.

Rates from simulations are checked with Wilson score intervals at z = 4.5 (a true rate falls outside about
once in 150,000 runs): a rate "near the nominal level" means the nominal level lies inside the interval
around the observed one, and "at most" means the interval's lower end is at most the bound.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sim
from sim import FAILED, INCONCLUSIVE, PASSED, RUNNING, Arm, JudgeData
from strategies.kayenta import (
    HIGH,
    LOW,
    NODATA,
    PASS,
    MannWhitney,
    MetricRule,
    classify,
    hodges_lehmann,
    mann_whitney,
    weighted_score,
)
from tests.generators import NO_DETECTION, make_scenario

Z = 4.5


def wilson(hits: int, trials: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    share = hits / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return centre - half, centre + half


def _rows(rng: np.random.Generator, kind: str, rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (rows, width) arrays of samples: sparse error rates (many ties, mostly 0), busy ones, or uniform."""
    if kind == "sparse":
        return rng.binomial(150, 0.002, (rows, width)) / 150, rng.binomial(150, 0.003, (rows, width)) / 150
    if kind == "busy":
        requests = rng.poisson(6000, (2, rows, width))
        return rng.binomial(requests[0], 0.002) / requests[0], rng.binomial(requests[1], 0.0025) / requests[1]
    return rng.random((rows, width)), rng.random((rows, width)) * 0.8


# -- the statistics -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sparse", "busy", "uniform"])
def test_u_and_p_are_scipys_asymptotic_mann_whitney_row_by_row(kind: str) -> None:
    rng = np.random.default_rng(1)
    x, y = _rows(rng, kind, 120, 40)
    counts = rng.integers(0, 41, 120)
    counts[:3] = [0, 1, 40]
    x[3], y[3], counts[3] = 0.01, 0.01, 25  # every value tied
    u1, p = mann_whitney(x, y, counts)
    for row, count in enumerate(counts):
        if count == 0:
            assert math.isnan(u1[row]) and math.isnan(p[row])
            continue
        with np.errstate(divide="ignore", invalid="ignore"):  # scipy's own 0 / 0 for the all-tied row
            expected = stats.mannwhitneyu(x[row, :count], y[row, :count], method="asymptotic")
        assert u1[row] == pytest.approx(expected.statistic, rel=1e-12, abs=1e-12), row
        assert p[row] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15), row
    assert p[3] == 1.0


@pytest.mark.parametrize("kind", ["sparse", "busy", "uniform"])
def test_hodges_lehmann_is_the_median_of_the_pairwise_differences(kind: str) -> None:
    rng = np.random.default_rng(2)
    x, y = _rows(rng, kind, 100, 30)
    counts = rng.integers(0, 31, 100)
    estimate = hodges_lehmann(x, y, counts)
    zeros = 0
    for row, count in enumerate(counts):
        if count == 0:
            assert math.isnan(estimate[row])
            continue
        differences = np.subtract.outer(x[row, :count], y[row, :count])
        median = float(np.median(differences))
        if median == 0.0:  # exactly: a shift of 1e-17 would break the ties the test counts
            zeros += 1
            assert estimate[row] == 0.0, row
        spread = float(differences.max() - differences.min())
        assert abs(estimate[row] - median) <= 1e-11 * spread + 1e-15 * abs(median), row  # resolution 2^-40
    assert kind != "sparse" or zeros > 50  # the exact-zero path was taken


def _reference(x: np.ndarray, y: np.ndarray, rule: MetricRule, confidence: float, tolerance: float) -> int:
    """Kayenta's classification of one metric, spelled out with scipy and numpy on one row."""
    alpha = 1 - confidence
    if len(x) == 0:
        return NODATA
    mean = len(x) * len(y) / 2
    shift = tolerance * abs(float(np.median(np.subtract.outer(x, y))))
    ratio = x.mean() / y.mean() if x.mean() > 0 and y.mean() > 0 else math.nan
    for sign, code, allowed in ((1, HIGH, "increase"), (-1, LOW, "decrease")):
        if rule.direction not in (allowed, "either"):
            continue
        plain = stats.mannwhitneyu(x, y, method="asymptotic")
        moved = stats.mannwhitneyu(x - sign * shift, y, method="asymptotic")
        significant = all(t.pvalue < alpha and sign * (t.statistic - mean) > 0 for t in (plain, moved))
        big = math.isnan(ratio) or (ratio >= rule.allowed_increase if sign > 0 else ratio <= rule.allowed_decrease)
        if significant and big:
            return code
    return PASS


@pytest.mark.parametrize("direction", ["increase", "decrease", "either"])
def test_classification_is_kayentas_rule_high_low_or_pass(direction: str) -> None:
    """Random rows against the rule spelled out per row (the test, the shifted test, the effect size)."""
    rng = np.random.default_rng(3)
    rows, width = 300, 30
    x = rng.normal(1.0, 0.3, (rows, width)).clip(0) * 0.01
    y = rng.normal(1.0, 0.3, (rows, width)).clip(0) * 0.01
    x += rng.choice([-0.004, -0.002, 0.0, 0.002, 0.004], (rows, 1))  # some rows shifted either way
    x[:20] = rng.binomial(150, 0.002, (20, width)) / 150  # sparse rows: Hodges-Lehmann 0
    counts = rng.integers(0, width + 1, rows)
    rule = MetricRule("error_rate", direction=direction, allowed_increase=1.1, allowed_decrease=0.9)
    codes = classify(x, y, counts, rule, 0.98, 0.25)
    expected = [_reference(x[r, :c], y[r, :c], rule, 0.98, 0.25) for r, c in enumerate(counts)]
    assert codes.tolist() == expected
    plain = classify(x, y, counts, rule, 0.98, 0.0)
    assert (plain != codes).sum() > 5  # the tolerance decided some rows: the shifted test was exercised
    allowed = {"increase": {HIGH}, "decrease": {LOW}, "either": {HIGH, LOW}}[direction]
    assert set(codes.tolist()) == {PASS, NODATA} | allowed


def test_fixed_samples_classify_as_expected() -> None:
    base = np.linspace(0.001, 0.002, 20)
    x = np.stack([base + 0.001, base - 0.001, base, base + 0.001, np.zeros(20)])
    y = np.stack([base, base, base, base, np.zeros(20)])
    counts = np.array([20, 20, 20, 20, 20])
    either = MetricRule("error_rate", direction="either")
    assert classify(x, y, counts, either, 0.98, 0.25).tolist() == [HIGH, LOW, PASS, HIGH, PASS]
    increase = MetricRule("error_rate")
    assert classify(x, y, counts, increase, 0.98, 0.25).tolist() == [HIGH, PASS, PASS, HIGH, PASS]
    # The new mean is 1.67 x the control's: an allowed increase of 2 lets it pass (Kayenta's effect size).
    tolerant = MetricRule("error_rate", allowed_increase=2.0)
    assert classify(x, y, counts, tolerant, 0.98, 0.25).tolist() == [PASS, PASS, PASS, PASS, PASS]
    assert classify(x, y, np.zeros(5, dtype=np.int64), increase, 0.98, 0.25).tolist() == [NODATA] * 5


def test_the_score_is_kayentas_weighted_sum() -> None:
    rules = (MetricRule("error_rate", weight=3.0), MetricRule("slow_rate", weight=1.0))
    codes = np.array([[PASS, HIGH, PASS, LOW, NODATA, NODATA], [HIGH, PASS, PASS, PASS, PASS, NODATA]])
    # A metric without data counts as passing, unless half the metrics or more have none: then 0.
    assert weighted_score(codes, rules).tolist() == [75.0, 25.0, 100.0, 25.0, 0.0, 0.0]
    critical = (MetricRule("error_rate", weight=3.0), MetricRule("slow_rate", critical=True))
    assert weighted_score(codes, critical).tolist() == [0.0, 25.0, 100.0, 25.0, 0.0, 0.0]
    thirds = (MetricRule("error_rate"), MetricRule("slow_rate", weight=2.0))
    assert weighted_score(np.array([[PASS], [HIGH]]), thirds).tolist() == [33.33]  # rounded to 2 decimals


# -- the judge over calls --------------------------------------------------------------------------


def _arm(requests: int | np.ndarray, errors: np.ndarray, slow: np.ndarray) -> Arm:
    errors = np.asarray(errors)
    return Arm(requests=np.broadcast_to(requests, errors.shape).astype(np.int64), errors=errors, slow=np.asarray(slow))


def _call(
    judge: MannWhitney,
    new: Arm,
    control: Arm,
    now: float = 60.0,
    restarted: np.ndarray | bool = False,
    missing: np.ndarray | bool = False,
    due: np.ndarray | bool = True,
) -> sim.Verdicts:
    rows = len(new.requests)
    data = JudgeData(
        now=now,
        due=np.broadcast_to(due, rows).copy(),
        restarted=np.broadcast_to(restarted, rows).copy(),
        missing=np.broadcast_to(missing, rows).copy(),
        new=new,
        stable=control,
        baseline=control,
    )
    verdicts = judge.measure(data)
    assert verdicts.problem(rows) is None
    return verdicts


def _step(rng: np.random.Generator, errors: list[float], slow: list[float], requests: int = 1000) -> Arm:
    """One sample per replication: error and slow rates near the given ones (a little noise, no ties)."""
    rows = len(errors)
    jitter = rng.integers(0, 3, (2, rows))
    return _arm(requests, np.array(errors) * requests + jitter[0], np.array(slow) * requests + jitter[1])


def test_judgments_every_score_every_steps_with_argo_thresholds_and_a_lifetime() -> None:
    """Weights 3 and 1, marginal 70, pass 90, two judgments: the score is per judgment (last, statistic);
    a failed judgment fails the judge at once; the verdict of the others waits for the lifetime's end."""
    metrics = {"error_rate": {"weight": 3}, "slow_rate": {"weight": 1}}
    judge = MannWhitney(metrics=metrics, score_every=10, count=2, marginal_score=70, pass_score=90)
    rng = np.random.default_rng(4)
    control = [0.01, 0.01, 0.01, 0.01]
    new_errors, new_slow = [0.01, 0.03, 0.01, 0.03], [0.03, 0.01, 0.01, 0.03]
    for step in range(10):
        verdicts = _call(judge, _step(rng, new_errors, new_slow), _step(rng, control, control), restarted=step == 0)
        if step < 9:
            assert np.isnan(verdicts.statistic).all() and (verdicts.measurements == 0).all()
    assert verdicts.statistic.tolist() == [75.0, 25.0, 100.0, 0.0]
    assert verdicts.last.tolist() == [INCONCLUSIVE, FAILED, PASSED, FAILED]
    assert verdicts.verdict.tolist() == [RUNNING, FAILED, RUNNING, FAILED]
    assert verdicts.inconclusive.tolist() == [1, 0, 0, 0] and verdicts.failures.tolist() == [0, 1, 0, 1]
    for _ in range(10):
        verdicts = _call(judge, _step(rng, new_errors, new_slow), _step(rng, control, control))
    assert verdicts.verdict.tolist() == [INCONCLUSIVE, FAILED, PASSED, FAILED]
    assert verdicts.measurements.tolist() == [2, 1, 2, 1]  # a failed judge stops judging
    for _ in range(10):  # and so does one with a verdict
        after = _call(judge, _step(rng, new_errors, new_slow), _step(rng, control, control))
    assert after.measurements.tolist() == [2, 1, 2, 1] and after.verdict.tolist() == verdicts.verdict.tolist()


def test_without_a_lifetime_the_judge_runs_until_stopped_and_only_fails() -> None:
    judge = MannWhitney(score_every=5)
    rng = np.random.default_rng(5)
    for _ in range(50):
        verdicts = _call(judge, _step(rng, [0.01, 0.01], [0.01, 0.01]), _step(rng, [0.01, 0.01], [0.01, 0.01]))
        assert (verdicts.verdict == RUNNING).all()
    assert verdicts.measurements.tolist() == [10, 10] and verdicts.last.tolist() == [PASSED, PASSED]


def test_a_critical_metric_that_fails_makes_the_score_0() -> None:
    metrics = {"error_rate": {"weight": 99}, "slow_rate": {"critical": True}}
    judge = MannWhitney(metrics=metrics, score_every=10)
    rng = np.random.default_rng(6)
    for _ in range(10):
        verdicts = _call(judge, _step(rng, [0.01, 0.01], [0.05, 0.01]), _step(rng, [0.01, 0.01], [0.01, 0.01]))
    assert verdicts.statistic.tolist() == [0.0, 100.0]
    assert verdicts.verdict.tolist() == [FAILED, RUNNING]


def test_a_restart_clears_the_samples_and_the_judgments() -> None:
    judge = MannWhitney(score_every=10)
    rng = np.random.default_rng(7)
    for step in range(15):  # a regression: replication 0 is judged on it, 1 takes 5 samples of it only
        bad = _step(rng, [0.05, 0.05], [0.01, 0.01])
        verdicts = _call(judge, bad, _step(rng, [0.01, 0.01], [0.01, 0.01]), due=[True, step < 5])
    assert verdicts.verdict.tolist() == [FAILED, RUNNING] and verdicts.measurements.tolist() == [1, 0]
    # Both restart, then see a healthy release: what they saw before the restart is forgotten.
    for step in range(10):
        good = _step(rng, [0.01, 0.01], [0.01, 0.01])
        verdicts = _call(judge, good, _step(rng, [0.01, 0.01], [0.01, 0.01]), restarted=step == 0)
        if step == 0:
            assert np.isnan(verdicts.statistic).all() and (verdicts.verdict == RUNNING).all()
    assert verdicts.verdict.tolist() == [RUNNING, RUNNING] and verdicts.last.tolist() == [PASSED, PASSED]
    assert verdicts.measurements.tolist() == [1, 1] and verdicts.failures.tolist() == [0, 0]


def test_missing_data_gives_no_sample_and_a_judgment_without_data_fails() -> None:
    """Replication 0: scrapes missing half the time (its judgment comes on time, on fewer samples);
    1: no control requests at all (NODATA for every metric: score 0, as Kayenta's >= 50% NODATA rule);
    2: too few requests for min_requests; 3: healthy."""
    judge = MannWhitney(score_every=10, min_requests=500)
    rng = np.random.default_rng(8)
    for step in range(10):
        new = _step(rng, [0.01] * 4, [0.01] * 4)
        control = _step(rng, [0.01] * 4, [0.01] * 4)
        control = _arm(np.array([1000, 0, 1000, 1000]), control.errors * [1, 0, 1, 1], control.slow * [1, 0, 1, 1])
        new = _arm(np.array([1000, 1000, 400, 1000]), new.errors, new.slow)
        verdicts = _call(judge, new, control, missing=[step % 2 == 0, False, False, False])
    assert verdicts.measurements.tolist() == [1, 1, 1, 1]
    assert verdicts.statistic.tolist() == [100.0, 0.0, 0.0, 100.0]
    assert verdicts.verdict.tolist() == [RUNNING, FAILED, FAILED, RUNNING]


def test_the_judgment_sees_every_sample_since_the_start_or_the_latest_lookback() -> None:
    """40 samples in which the new version errs less than the control (direction increase: they pass),
    then 20 in which it errs more. Since the start (Kayenta's default) the third judgment weighs all 60 and
    passes; with a lookback of 20 it sees the last 20 only and fails. The samples outgrow the judge's
    first arrays (2 x score_every) on the way."""
    rng = np.random.default_rng(9)
    growing, sliding = MannWhitney(score_every=20), MannWhitney(score_every=20, lookback=20)
    for step in range(60):
        errors = [0.0] if step < 40 else [0.015]
        new, control = _step(rng, errors, [0.01]), _step(rng, [0.01], [0.01])
        first, second = _call(growing, new, control), _call(sliding, new, control)
        if step == 39:
            assert first.last.tolist() == second.last.tolist() == [PASSED]
    assert first.verdict.tolist() == [RUNNING] and first.last.tolist() == [PASSED]
    assert second.verdict.tolist() == [FAILED] and second.measurements.tolist() == [3]
    assert first.measurements.tolist() == [3]


# -- false alarms and detection ------------------------------------------------------------------------


def _day(judge: MannWhitney, rows: int, steps: int, p_new: float, seed: int) -> np.ndarray:
    """``steps`` samples of busy arms (about 6,000 requests each), 0.2% errors in the control, 1% slow."""
    rng = np.random.default_rng(seed)
    for step in range(steps):
        requests = rng.poisson(6000, (2, rows))
        new = _arm(requests[0], rng.binomial(requests[0], p_new), rng.binomial(requests[0], 0.01))
        control = _arm(requests[1], rng.binomial(requests[1], 0.002), rng.binomial(requests[1], 0.01))
        verdicts = _call(judge, new, control, restarted=step == 0)
    return verdicts.verdict


@pytest.mark.parametrize(
    ("metrics", "nominal"),
    [({"error_rate": {}}, 0.01), (None, 1 - 0.99**2)],  # one-sided (1 - 0.98) / 2 per metric, independent
)
def test_a_healthy_release_fails_a_judgment_at_the_nominal_rate(metrics: dict | None, nominal: float) -> None:
    rows = 20_000
    verdict = _day(MannWhitney(metrics=metrics, tolerance=0.0, score_every=30, count=1), rows, 30, 0.002, 10)
    assert ((verdict == PASSED) | (verdict == FAILED)).all()  # 100 or a failed score: no marginal band here
    low, high = wilson(int((verdict == FAILED).sum()), rows)
    assert low <= nominal <= high, (low, nominal, high)
    # Kayenta's tolerance (a quarter of the Hodges-Lehmann shift) only makes the test stricter.
    tolerant = _day(MannWhitney(metrics=metrics, score_every=30, count=1), rows, 30, 0.002, 10)
    assert wilson(int((tolerant == FAILED).sum()), rows)[0] <= nominal / 4


def test_a_regression_fails_the_first_judgment() -> None:
    rows = 2_000  # errors 0.3% instead of 0.2%: about 1.7 standard errors per 1-minute sample
    verdict = _day(MannWhitney(score_every=60, count=1), rows, 60, 0.003, 11)
    assert wilson(int((verdict == FAILED).sum()), rows)[0] > 0.95


def _canary(release: dict, judge: dict, replications: int) -> sim.Comparison:
    """A canary of 25% beside a 25% baseline arm on 400 requests/s, judged once after 10 one-minute samples;
    the canary bakes 15 minutes, so the judgment comes well before the promotion."""
    strategy = {
        "name": "canary",
        "params": {"steps": [0.25], "bake": "15m", "check": "1m", "baseline": True},
        "judges": {"kayenta": {"use": "kayenta", "params": {"score_every": 10, "count": 1, **judge}}},
    }
    scenario = make_scenario(
        horizon="30m",
        traffic={"rate": 400.0},
        release=release,
        detection=NO_DETECTION,
        telemetry={"scrape_interval": "1m"},
        strategies=[strategy],
    )
    comparison = sim.compare(scenario, replications=replications, workers=1)
    assert not comparison.errors, comparison.errors
    return comparison


def test_in_the_engine_a_healthy_canary_is_rolled_back_at_the_nominal_rate() -> None:
    """One metric at 90% confidence without tolerance: a false rollback when the one judgment fails,
    (1 - 0.9) / 2 = 5% of runs."""
    replications = 1_280
    runs = _canary({}, {"metrics": {"error_rate": {}}, "confidence": 0.9, "tolerance": 0.0}, replications).runs
    assert set(runs["outcome"]) <= {"completed", "false_rollback"}
    low, high = wilson(int((runs["outcome"] == "false_rollback").sum()), replications)
    assert low <= 0.05 <= high, (low, high)


def test_in_the_engine_a_defective_canary_is_caught_at_its_first_judgment() -> None:
    replications = 320
    runs = _canary({"defect": {"harm": 0.01, "kind": "errors"}}, {}, replications).runs
    caught = runs["caught_by"] == "kayenta"
    assert wilson(int(caught.sum()), replications)[0] > 0.9
    assert (runs.loc[caught, "rollback_s"] == 600.0).all()  # 10 samples of 1 min


# -- params -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metrics": {}}, "metrics must be a table naming 1 or 2 of error_rate, slow_rate"),
        ({"metrics": ["error_rate"]}, "metrics must be a table"),
        ({"metrics": {"latency": {}}}, "metrics: unknown metric 'latency'; the metrics are error_rate, slow_rate"),
        ({"metrics": {"error_rate": 1}}, "metrics.error_rate must be a table of weight, direction"),
        ({"metrics": {"error_rate": {"wieght": 1}}}, "metrics.error_rate: unknown setting 'wieght'; use weight"),
        ({"metrics": {"error_rate": {"weight": 0}}}, r"metrics.error_rate.weight must be a number in \(0, 1e\+06\]"),
        ({"metrics": {"slow_rate": {"weight": math.inf}}}, r"metrics.slow_rate.weight must be a number in \(0"),
        ({"metrics": {"error_rate": {"weight": True}}}, "metrics.error_rate.weight must be a number"),
        ({"metrics": {"error_rate": {"direction": "up"}}}, "metrics.error_rate.direction must be one of increase"),
        ({"metrics": {"error_rate": {"critical": "yes"}}}, "metrics.error_rate.critical must be true or false"),
        ({"metrics": {"error_rate": {"allowed_increase": 0.9}}}, r"allowed_increase must be a number in \[1, 1e\+06\]"),
        ({"metrics": {"error_rate": {"allowed_decrease": 0}}}, r"allowed_decrease must be a number in \(0, 1\]"),
        ({"against": "canary"}, "against must be 'baseline' or 'stable'"),
        ({"confidence": 0.5}, r"confidence must be a number in \(0.5, 1\)"),
        ({"confidence": 1.0}, r"confidence must be a number in \(0.5, 1\)"),
        ({"confidence": math.nan}, r"confidence must be a number in \(0.5, 1\)"),
        ({"tolerance": 1.0}, r"tolerance must be a number in \[0, 1\)"),
        ({"tolerance": -0.1}, r"tolerance must be a number in \[0, 1\)"),
        ({"score_every": 1}, "score_every must be an integer from 2 to 10000"),
        ({"score_every": 10_001}, "score_every must be an integer from 2 to 10000"),
        ({"score_every": 60.0}, "score_every must be an integer"),
        ({"count": -1}, "count must be an integer from 0 to 10000"),
        ({"lookback": 1}, r"lookback must be 0 \(every sample since the start\) or from 2 to 10000"),
        ({"lookback": 10**6}, "lookback must be 0"),
        ({"pass_score": 101}, r"pass_score must be a number in \[0, 100\]"),
        ({"marginal_score": -1}, r"marginal_score must be a number in \[0, 100\]"),
        ({"pass_score": 70, "marginal_score": 80}, "marginal_score must be at most pass_score"),
        ({"min_requests": -1}, "min_requests must be an integer from 0 to 1000000000000"),
        ({"interval": "0s"}, "interval must be a positive duration"),
        ({"interval": "soon"}, "interval: expected a duration"),
        ({"window": 0}, "window must be a positive duration"),
        ({"initial_delay": "-1m"}, "initial_delay: a duration cannot be negative"),
    ],
)
def test_each_bad_param_is_refused_in_one_line_naming_it(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        MannWhitney(**params)
    assert "\n" not in str(error.value)


def test_the_defaults_and_the_entry_point() -> None:
    judge = sim.load_judge_class("kayenta")()
    assert isinstance(judge, MannWhitney)
    assert [rule.name for rule in judge.rules] == ["error_rate", "slow_rate"]
    assert all(rule.direction == "increase" and rule.weight == 1.0 for rule in judge.rules)
    assert (judge.confidence, judge.tolerance, judge.score_every, judge.count) == (0.98, 0.25, 60, 0)
    assert (judge.pass_score, judge.marginal_score, judge.against) == (95.0, 75.0, "baseline")
    assert judge.interval == judge.window == 60.0 and judge.initial_delay == 0.0
