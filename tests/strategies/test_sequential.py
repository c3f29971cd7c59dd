"""The sequential judges against their closed forms: group-sequential boundaries, false-alarm rates, Wald's bounds.

Tolerances are Monte Carlo errors: a rate estimated from R independent replications has a standard
error sqrt(p (1 - p) / R); the checks allow 4 of them (a false failure about once in 15,000 runs),
plus, where stated, the error of the normal approximation the z-test itself makes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sim
from sim import FAILED, PASSED, Arm, JudgeData
from strategies.sequential import SPRT, AlwaysValid, Cusum, ZTest, boundaries, crossing_probability
from tests.generators import make_scenario

R = 20_000  # replications in one judge call: one judge serves a whole block, here a very large one


def _arm(requests: np.ndarray, errors: np.ndarray) -> Arm:
    return Arm(requests=requests, errors=errors, slow=np.zeros_like(requests))


def _looks(judge: ZTest | SPRT, rng: np.random.Generator, looks: int, n: int, p_new: float, p_ref: float) -> np.ndarray:
    """Feed ``looks`` measurements of ``n`` requests per arm; returns the final verdict codes."""
    requests = np.full(R, n, dtype=np.int64)
    verdicts = None
    for look in range(looks):
        reference = _arm(requests, rng.binomial(n, p_ref, R))
        data = JudgeData(
            now=60.0 * (look + 1),
            due=np.ones(R, dtype=bool),
            restarted=np.full(R, look == 0),
            missing=np.zeros(R, dtype=bool),
            new=_arm(requests, rng.binomial(n, p_new, R)),
            stable=reference,
            baseline=reference,
        )
        verdicts = judge.measure(data)
        assert verdicts.problem(R) is None
    assert verdicts is not None
    return verdicts.verdict


def _within(rate: float, expected: float, slack: float = 0.0) -> None:
    error = math.sqrt(expected * (1 - expected) / R)
    assert abs(rate - expected) <= 4 * error + slack, (rate, expected, error)


# -- boundaries ------------------------------------------------------------------------------


def test_the_boundaries_are_the_published_ones() -> None:
    """Jennison and Turnbull (2000), table 2.1 and 2.3, K = 5, two-sided 0.05 (one-sided 0.025)."""
    assert boundaries(5, 0.025, "pocock") == pytest.approx((2.413,) * 5, abs=1e-3)
    obf = boundaries(5, 0.025, "obrien-fleming")
    assert obf[-1] == pytest.approx(2.040, abs=1e-3) and obf[0] == pytest.approx(2.040 * math.sqrt(5), abs=3e-3)
    assert boundaries(1, 0.05, "pocock") == pytest.approx((stats.norm.ppf(0.95),), abs=1e-4)


def test_one_look_is_a_plain_normal_tail_and_more_looks_cross_more_often() -> None:
    z = stats.norm.ppf(0.95)
    assert crossing_probability((z,)) == pytest.approx(0.05, abs=1e-4)
    rates = [crossing_probability((z,) * k) for k in (1, 2, 5, 10)]
    assert rates == sorted(rates) and rates[-1] > 0.15


# -- the z-test on simulated counts -------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["pocock", "obrien-fleming"])
def test_corrected_looks_keep_the_false_alarm_rate_at_alpha(boundary: str) -> None:
    judge = ZTest(alpha=0.05, looks=5, boundary=boundary, min_requests=1)
    verdict = _looks(judge, np.random.default_rng(1), 5, n=20_000, p_new=0.01, p_ref=0.01)
    # The z-test's normal approximation with ~200 errors per arm and look: about 0.005 of its own.
    _within(float((verdict == FAILED).mean()), 0.05, slack=0.005)
    assert ((verdict == PASSED) | (verdict == FAILED)).all()  # decided by the last look


def test_uncorrected_looks_raise_the_false_alarm_rate_as_the_closed_form_says() -> None:
    judge = ZTest(alpha=0.05, looks=5, boundary="none", min_requests=1)
    verdict = _looks(judge, np.random.default_rng(2), 5, n=20_000, p_new=0.01, p_ref=0.01)
    expected = crossing_probability(boundaries(5, 0.05, "none"))  # 0.13, not 0.05
    _within(float((verdict == FAILED).mean()), expected, slack=0.005)


def test_the_first_look_catches_a_regression_as_often_as_the_normal_power_says() -> None:
    """At look 1 the difference of rates is about normal (mean p1 - p0, the unpooled standard error) and
    the test fails when it exceeds b_1 times the pooled standard error: P(fail) = 1 - Phi((b_1 se_pooled -
    (p1 - p0)) / se). O'Brien-Fleming's first boundary is far higher than Pocock's: it spends little early."""
    n, p0, p1 = 20_000, 0.01, 0.013
    se = math.sqrt(p0 * (1 - p0) / n + p1 * (1 - p1) / n)
    pooled = (p0 + p1) / 2
    se_pooled = math.sqrt(pooled * (1 - pooled) * 2 / n)
    rng = np.random.default_rng(3)
    for boundary in ("pocock", "obrien-fleming"):
        judge = ZTest(alpha=0.05, looks=5, boundary=boundary)
        verdict = _looks(judge, rng, 1, n=n, p_new=p1, p_ref=p0)
        expected = float(1 - stats.norm.cdf((judge.bounds[0] * se_pooled - (p1 - p0)) / se))
        _within(float((verdict == FAILED).mean()), expected, slack=0.005)  # the counts are not quite normal


# -- SPRT --------------------------------------------------------------------------------------


def test_sprt_keeps_walds_bounds_on_both_errors() -> None:
    """P(fail | p0) <= alpha / (1 - beta) and P(pass | p1) <= beta / (1 - alpha), whatever the batches
    (the likelihood ratio is a martingale: Ville's inequality)."""
    alpha, beta = 0.05, 0.2
    rng = np.random.default_rng(4)
    null = _looks(SPRT(p0=0.01, p1=0.02, alpha=alpha, beta=beta), rng, 60, n=100, p_new=0.01, p_ref=0.01)
    bound = alpha / (1 - beta)
    assert (null == FAILED).mean() <= bound + 4 * math.sqrt(bound * (1 - bound) / R)
    regression = _looks(SPRT(p0=0.01, p1=0.02, alpha=alpha, beta=beta), rng, 60, n=100, p_new=0.02, p_ref=0.02)
    bound = beta / (1 - alpha)
    assert (regression == PASSED).mean() <= bound + 4 * math.sqrt(bound * (1 - bound) / R)
    assert (null == PASSED).mean() > 0.8 and (regression == FAILED).mean() > 0.75


def test_sprt_statistic_is_the_log_likelihood_ratio() -> None:
    judge = SPRT(p0=0.01, p1=0.05, alpha=0.05, beta=0.2)
    requests = np.array([1000, 1000])
    data = JudgeData(
        now=60.0,
        due=np.array([True, True]),
        restarted=np.array([True, True]),
        missing=np.array([False, False]),
        new=_arm(requests, np.array([10, 50])),
        stable=_arm(requests, np.array([10, 10])),
        baseline=_arm(requests, np.array([0, 0])),
    )
    verdicts = judge.measure(data)
    expected = [x * math.log(5) + (1000 - x) * math.log(0.95 / 0.99) for x in (10, 50)]
    assert verdicts.statistic.tolist() == pytest.approx(expected)
    assert verdicts.verdict.tolist() == [PASSED, FAILED]


# -- in a scenario, and bad params ---------------------------------------------------------------


def test_a_canary_with_a_baseline_arm_and_a_ztest_catches_a_defect_and_passes_a_healthy_release() -> None:
    judge = {"use": "ztest", "params": {"looks": 5, "boundary": "obrien-fleming", "interval": "2m"}}
    strategy = {
        "name": "canary",
        "params": {"steps": [0.2], "bake": "10m", "baseline": True},
        "judges": {"analysis": judge},
    }
    fields = {"horizon": "1h", "traffic": {"rate": 200.0}, "strategies": [strategy]}
    defective = sim.compare(make_scenario(release={"defect": {"harm": 0.05}}, **fields), replications=64, workers=1)
    assert (defective.runs["caught_by"] == "analysis").mean() > 0.9
    healthy = sim.compare(make_scenario(release={}, **fields), replications=64, workers=1)
    assert (healthy.runs["outcome"] == "completed").mean() > 0.8


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (ZTest, {"alpha": 0.0}, "alpha must be a number between 0 and 1"),
        (ZTest, {"alpha": 0.6}, "alpha must be from 1e-06 to below 0.5"),
        (ZTest, {"alpha": 1e-7}, "alpha must be from 1e-06 to below 0.5"),
        (ZTest, {"looks": 0}, "looks must be an integer from 1 to 50"),
        (ZTest, {"looks": True}, "looks must be an integer"),
        (ZTest, {"boundary": "haybittle"}, "boundary must be one of none, pocock, obrien-fleming"),
        (ZTest, {"against": "canary"}, "against must be 'baseline' or 'stable'"),
        (SPRT, {"p0": 0.02, "p1": 0.01}, "p1 must be above p0"),
        (SPRT, {"alpha": 0.6, "beta": 0.5}, "alpha \\+ beta must be below 1"),
        (SPRT, {"p1": 1.0}, "p1 must be a number between 0 and 1"),
        (SPRT, {"interval": "0s"}, "interval must be a positive duration"),
        (AlwaysValid, {"tau": 0.0}, "tau must be a number between 0 and 1"),
        (AlwaysValid, {"max_looks": -1}, "max_looks must be an integer from 0"),
        (AlwaysValid, {"against": "new"}, "against must be 'baseline' or 'stable'"),
        (Cusum, {"k": 0}, "k must be a number above 0"),
        (Cusum, {"h": 1e9}, "h must be a number above 0 and at most 1000"),
    ],
)
def test_bad_params_are_one_line(cls: type, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**params)


# -- the always-valid test ------------------------------------------------------------------------


def test_msprt_looked_at_every_scrape_keeps_false_alarms_under_alpha_where_a_plain_z_test_does_not() -> None:
    """50 looks: the mixture SPRT stays under alpha (its ratio is a martingale: Ville's inequality), while an
    uncorrected z-test at every look fails a healthy release far more often (the closed form says how often)."""
    looks, n = 50, 4_000
    rng = np.random.default_rng(5)
    always = _looks(AlwaysValid(alpha=0.05, tau=0.005), rng, looks, n=n, p_new=0.01, p_ref=0.01)
    rate = float((always == FAILED).mean())
    assert rate <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / R)
    plain = _looks(ZTest(alpha=0.05, looks=looks, boundary="none"), rng, looks, n=n, p_new=0.01, p_ref=0.01)
    expected = crossing_probability(boundaries(looks, 0.05, "none"))
    assert expected > 5 * 0.05  # 0.27
    _within(float((plain == FAILED).mean()), expected, slack=0.02)  # 40 errors per arm at the first look


def test_msprt_catches_a_regression_and_passes_after_max_looks() -> None:
    rng = np.random.default_rng(6)
    caught = _looks(AlwaysValid(alpha=0.05, tau=0.005), rng, 100, n=2_000, p_new=0.013, p_ref=0.01)
    assert (caught == FAILED).mean() > 0.9
    capped = _looks(AlwaysValid(alpha=0.05, max_looks=10), rng, 10, n=2_000, p_new=0.01, p_ref=0.01)
    assert ((capped == PASSED) | (capped == FAILED)).all() and (capped == PASSED).mean() > 0.95


# -- CUSUM ------------------------------------------------------------------------------------------


def _run_lengths(
    judge: Cusum, rng: np.random.Generator, replications: int, n: int, p_new: float, cap: int
) -> np.ndarray:
    """The look at which each replication's CUSUM first fails (cap + 1: not by then)."""
    requests = np.full(replications, n, dtype=np.int64)
    first = np.full(replications, cap + 1)
    for look in range(1, cap + 1):
        reference = _arm(requests, rng.binomial(n, 0.01, replications))
        data = JudgeData(
            now=60.0 * look,
            due=np.ones(replications, dtype=bool),
            restarted=np.full(replications, look == 1),
            missing=np.zeros(replications, dtype=bool),
            new=_arm(requests, rng.binomial(n, p_new, replications)),
            stable=reference,
            baseline=reference,
        )
        verdict = judge.measure(data).verdict
        first[(verdict == FAILED) & (first > cap)] = look
        if (first <= cap).all():
            break
    return first


def test_cusum_in_control_run_length_is_siegmunds() -> None:
    """k = 0.5, h = 3: ARL0 = (exp(2 k b) - 2 k b - 1) / (2 k^2), b = h + 1.166, about 119 looks. The run
    length is near geometric, so its standard error is about ARL0 / sqrt(R); Siegmund's approximation is
    within about 3% of exact for normal increments."""
    k, h, replications = 0.5, 3.0, 4_000
    b = h + 1.166
    expected = (math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k)
    lengths = _run_lengths(Cusum(k=k, h=h), np.random.default_rng(7), replications, 20_000, 0.01, cap=2_000)
    assert (lengths <= 2_000).all()
    assert abs(lengths.mean() - expected) <= 4 * expected / math.sqrt(replications) + 0.03 * expected


def test_cusum_catches_a_shift_in_a_few_looks() -> None:
    """A shift of 2 standard errors per look: Siegmund's out-of-control ARL with delta = 2 - k."""
    n, p0 = 20_000, 0.01
    se = math.sqrt(2 * p0 * (1 - p0) / n)
    k, h, replications = 0.5, 5.0, 4_000
    lengths = _run_lengths(Cusum(k=k, h=h), np.random.default_rng(8), replications, n, p0 + 2 * se, cap=200)
    delta, b = 2 - k, h + 1.166
    expected = (math.exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)  # about 4.6
    assert abs(lengths.mean() - expected) <= 0.1 * expected + 4 * lengths.std() / math.sqrt(replications)
