"""Latency histograms: bucket counts per version as Prometheus keeps them, and quantiles as PromQL reads them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.executors import InlineExecutor
from sim.latency import bucket_probabilities, histogram_quantile, split_buckets
from sim.scenario import ScenarioError, scenario_from_dict
from sim.telemetry import FIRST_BUCKET, NEW, REQUESTS, STABLE
from tests.generators import NO_DETECTION, make_scenario, scenario_dict

BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY = {"median": 0.1, "sigma": 0.5, "buckets": list(BOUNDS)}


# -- histogram_quantile, on fixed data ------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "counts", "expected"),
    [
        (0.5, [10, 10, 0, 0, 0, 0, 0], 0.05),  # the rank ends the first bucket exactly
        (0.75, [10, 10, 0, 0, 0, 0, 0], 0.075),  # halfway into (0.05, 0.1]
        (0.25, [10, 10, 0, 0, 0, 0, 0], 0.025),  # the first bucket starts at 0
        (0.99, [10, 0, 0, 0, 0, 0, 5], 2.5),  # in +Inf: the highest finite bound
        (0.9, [0, 0, 0, 0, 4, 0, 0], 0.95),  # 0.5 + 0.5 x 3.6 / 4
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket_as_promql_does(
    q: float, counts: list[int], expected: float
) -> None:
    assert math.isclose(float(histogram_quantile(q, BOUNDS, np.array(counts))), expected)


def test_histogram_quantile_of_no_observations_is_nan_and_it_is_vectorised() -> None:
    values = histogram_quantile(0.5, BOUNDS, np.array([[0] * 7, [0, 2, 0, 0, 0, 0, 0]]))
    assert math.isnan(values[0]) and math.isclose(values[1], 0.075)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.001, 5.0), min_size=1, max_size=200),
    st.floats(0.01, 0.99),
)
def test_the_estimate_lies_in_the_bucket_of_the_true_quantile(samples: list[float], q: float) -> None:
    counts = np.bincount(np.searchsorted(BOUNDS, samples, side="left"), minlength=len(BOUNDS) + 1)
    estimate = float(histogram_quantile(q, BOUNDS, counts))
    # PromQL's rank q x n lands in the bucket holding the ceil(q n)-th smallest sample.
    rank = max(1, math.ceil(q * len(samples) - 1e-9))
    truth = sorted(samples)[rank - 1]
    bucket = int(np.searchsorted(BOUNDS, truth, side="left"))
    low = 0.0 if bucket == 0 else BOUNDS[bucket - 1]
    high = BOUNDS[min(bucket, len(BOUNDS) - 1)]
    assert low - 1e-12 <= estimate <= high + 1e-12


def test_bucket_probabilities_are_the_lognormal_cdf() -> None:
    expected = np.diff(np.concatenate([[0.0], stats.lognorm.cdf(BOUNDS, s=0.5, scale=0.1), [1.0]]))
    assert np.allclose(bucket_probabilities(BOUNDS, 0.1, 0.5), expected, atol=1e-12)


def test_split_buckets_keeps_totals_and_draws_exactly_the_sample() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, size=(100, 3, 7))
    sample = rng.integers(0, counts.sum(axis=-1) + 1)
    taken = split_buckets(rng, counts, sample)
    assert (taken.sum(axis=-1) == sample).all() and (taken <= counts).all() and (taken >= 0).all()


# -- the data plane --------------------------------------------------------------------


def _simulation(release: dict, strategies: list | None = None, replications: int = 64) -> sim.Simulation:
    scenario = make_scenario(
        horizon="30m",
        replications=replications,
        release=release,
        telemetry={"latency": LATENCY},
        detection=NO_DETECTION,
        strategies=strategies or [{"name": "canary", "params": {"steps": [0.3], "bake": "1h"}}],
    )
    simulation = sim.Simulation(scenario, replications=replications)
    simulation.run()
    return simulation


def test_every_request_is_counted_in_exactly_one_bucket() -> None:
    simulation = _simulation({"defect": {"harm": 0.1, "kind": "latency"}})
    counters = simulation.lanes[0].plane.counters
    assert (counters[..., FIRST_BUCKET:].sum(axis=-1) == counters[..., REQUESTS]).all()
    assert counters[:, :-1, NEW, REQUESTS].sum() > 0


def test_bucket_shares_follow_the_lognormal_and_the_slowdown() -> None:
    harm, slowdown = 0.1, 5.0
    simulation = _simulation({"defect": {"harm": harm, "kind": "latency", "slowdown": slowdown}})
    counters = simulation.lanes[0].plane.counters[:, :-1].sum(axis=(0, 1))  # every replication and segment
    healthy = bucket_probabilities(BOUNDS, 0.1, 0.5)
    slowed = bucket_probabilities(BOUNDS, 0.1 * slowdown, 0.5)
    for arm, expected in ((STABLE, healthy), (NEW, (1 - harm) * healthy + harm * slowed)):
        assert _fit(counters[arm, FIRST_BUCKET:], expected) > 1e-4


def _fit(observed: np.ndarray, probabilities: np.ndarray) -> float:
    """Chi-square goodness-of-fit p value; buckets expected to hold fewer than 5 requests are pooled."""
    expected = probabilities * observed.sum()
    keep = expected >= 5
    f_obs = np.append(observed[keep], observed[~keep].sum())
    f_exp = np.append(expected[keep], expected[~keep].sum())
    if f_exp[-1] < 5:  # pool the small rest into the largest bucket
        f_obs, f_exp = f_obs[:-1], f_exp[:-1]
        largest = int(np.argmax(f_exp))
        f_obs[largest] += observed[~keep].sum()
        f_exp[largest] += expected[~keep].sum()
    return float(stats.chisquare(f_obs, f_exp * f_obs.sum() / f_exp.sum()).pvalue)


def test_error_and_silent_defects_leave_latency_alone() -> None:
    healthy = bucket_probabilities(BOUNDS, 0.1, 0.5)
    for kind in ("errors", "silent"):
        counters = _simulation({"defect": {"harm": 0.2, "kind": kind}}).lanes[0].plane.counters
        assert _fit(counters[:, :-1, NEW, FIRST_BUCKET:].sum(axis=(0, 1)), healthy) > 1e-4


def test_two_strategies_of_a_replication_see_the_same_latency_of_a_healthy_release() -> None:
    simulation = _simulation(
        {}, strategies=[{"name": "bigbang"}, {"name": "canary", "params": {"steps": [0.3], "bake": "1h"}}]
    )
    first, second = (lane.plane.counters[..., FIRST_BUCKET:].sum(axis=2) for lane in simulation.lanes)
    assert (first == second).all()  # common random numbers: only the split between versions differs


# -- judging latency --------------------------------------------------------------------


def _judged(kind: str, **judge: object) -> sim.Comparison:
    scenario = make_scenario(
        horizon="1h",
        replications=64,
        release={"defect": {"harm": 0.05, "kind": kind, "slowdown": 10}},
        telemetry={"latency": LATENCY},
        detection=NO_DETECTION,
        strategies=[
            {
                "name": "canary",
                "params": {"steps": [0.2, 1.0], "bake": "20m"},
                "judges": {"p99": {"use": "threshold", "params": {"max_error_rate": False, **judge}}},
            }
        ],
    )
    return sim.compare(scenario, executor=InlineExecutor())


def test_a_p99_threshold_catches_a_latency_defect_and_not_an_error_one() -> None:
    # Healthy p99 = 0.1 x exp(2.326 x 0.5) = 0.32 s; with 5% of requests 10 times slower it is above 1 s.
    caught = _judged("latency", max_latency=0.6, quantile=0.99, min_requests=50).summaries["canary"]
    assert caught.detection_rate == 1.0 and caught.caught_by == {"p99": 64}
    missed = _judged("errors", max_latency=0.6, quantile=0.99, min_requests=50).summaries["canary"]
    assert missed.detected == 0


def test_latency_judging_without_histograms_names_the_missing_setting() -> None:
    scenario = make_scenario(
        detection=NO_DETECTION,
        strategies=[
            {"name": "canary", "judges": {"p99": {"use": "threshold", "params": {"max_latency": 0.5}}}},
        ],
    )
    comparison = sim.compare(scenario, executor=InlineExecutor())
    assert "telemetry.latency" in comparison.errors["canary"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_latency": 0}, "max_latency"),
        ({"max_latency": -1}, "max_latency"),
        ({"quantile": 1.0}, "quantile"),
        ({"quantile": 0}, "quantile"),
        ({"min_success_rate": 1.5}, "min_success_rate"),
    ],
)
def test_bad_latency_params_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sim.load_judge_class("threshold")(**params)


@pytest.mark.parametrize(
    ("latency", "message"),
    [
        ({"buckets": [0.1, 0.1]}, "increase"),
        ({"buckets": []}, "telemetry.latency.buckets"),
        ({"median": 0}, "telemetry.latency.median"),
        ({"sigma": 9}, "telemetry.latency.sigma"),
    ],
)
def test_bad_latency_settings_are_refused(latency: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(scenario_dict(telemetry={"latency": latency}))


def test_the_bundled_latency_scenario_teaches_what_it_says() -> None:
    scenario = sim.load_scenario(sim.bundled_scenarios()["latency"])
    summaries = sim.compare(scenario, replications=16, executor=InlineExecutor()).summaries
    assert summaries["p99-canary"].caught_by == {"p99": 16}
    assert summaries["p99-canary"].ttd_s.mean < 600
    for name in ("bigbang", "errors-canary"):  # error rates cannot see it; the slow-request SLO can, hours later
        assert summaries[name].caught_by == {"slo_6x_6h": 16}
        assert summaries[name].ttd_s.mean > 3 * 3600
