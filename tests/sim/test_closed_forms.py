"""The simulator against closed forms, with tolerances from the Monte Carlo standard error.

Detection is off, so the new version serves its weight for the whole horizon.
Every check allows Z = 4 standard errors of the mean. The seeds are fixed, so
a run is repeatable; over fresh seeds a correct simulator would fail one check
about once in 16,000 (and this file, with about fifteen checks, about once in
a thousand), while a bias of a few standard errors fails it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from sim.population import BUCKETS, build_cohorts
from tests.generators import NO_DETECTION, make_scenario, plugin

Z = 4.0
REPLICATIONS = 200
USERS, RATE, HARM, HORIZON = 20_000, 20.0, 0.1, 7200.0
LAMBDA = RATE / USERS  # one user's requests per second


def _runs(weight_plugin: str, params: dict, **overrides) -> tuple[sim.Comparison, sim.Scenario]:
    fields = {
        "horizon": HORIZON,
        "population": {"users": USERS},
        "traffic": {"rate": RATE},
        "release": {"defect": {"harm": HARM}},
        "detection": NO_DETECTION,
        # Scrapes do not change the data plane's draws' laws, only how often it
        # is advanced; few scrapes keep these checks fast.
        "telemetry": {"scrape_interval": "10m"},
        "strategies": [{"name": "s", "use": plugin(weight_plugin), "params": params}],
        **overrides,
    }
    scenario = make_scenario(**fields)
    return sim.compare(scenario, replications=REPLICATIONS), scenario


def _assert_mean(values: np.ndarray, expected: float, sd: float | None = None) -> None:
    """Mean within Z standard errors; ``sd`` is the known per-run sd, else the sample's."""
    sd = float(np.std(values, ddof=1)) if sd is None else sd
    tolerance = Z * sd / math.sqrt(len(values))
    assert abs(values.mean() - expected) <= tolerance, (values.mean(), expected, tolerance)


@pytest.mark.parametrize("unit", ["request", "user"])
def test_harmed_requests_are_rate_times_harm_times_exposure_integral(unit: str) -> None:
    comparison, _ = _runs("Hold", {"weight": 0.1, "unit": unit})
    harmed = comparison.runs["blast_radius_requests"].to_numpy(dtype=float)
    # Poisson traffic thinned twice is Poisson: the per-run sd is known exactly.
    expected = RATE * 0.1 * HARM * HORIZON
    _assert_mean(harmed, expected, sd=math.sqrt(expected))


def test_harm_integral_follows_a_changing_weight() -> None:
    schedule = [[0, 0.05], [1800, 0.2], [3600, 0.5]]
    comparison, _ = _runs("Steps", {"schedule": schedule})
    integral = 0.05 * 1800 + 0.2 * 1800 + 0.5 * 3600
    harmed = comparison.runs["blast_radius_requests"].to_numpy(dtype=float)
    _assert_mean(harmed, RATE * HARM * integral, sd=math.sqrt(RATE * HARM * integral))
    # Each user's harmed requests are Poisson with mean lambda * q * integral.
    affected = comparison.runs["blast_radius_users"].to_numpy(dtype=float)
    _assert_mean(affected, USERS * -math.expm1(-LAMBDA * HARM * integral))


def test_distinct_users_per_request_exposure() -> None:
    w = 0.1
    comparison, _ = _runs("Hold", {"weight": w, "unit": "request"})
    affected = comparison.runs["blast_radius_users"].to_numpy(dtype=float)
    exposed = comparison.runs["exposed_users"].to_numpy(dtype=float)
    _assert_mean(affected, USERS * -math.expm1(-LAMBDA * w * HARM * HORIZON))
    _assert_mean(exposed, USERS * -math.expm1(-LAMBDA * w * HORIZON))


def test_distinct_users_sticky_exposure() -> None:
    w = 0.1
    comparison, _ = _runs("Hold", {"weight": w, "unit": "user"})
    in_group = USERS * round(w * BUCKETS) // BUCKETS
    affected = comparison.runs["blast_radius_users"].to_numpy(dtype=float)
    exposed = comparison.runs["exposed_users"].to_numpy(dtype=float)
    _assert_mean(affected, in_group * -math.expm1(-LAMBDA * HARM * HORIZON))
    _assert_mean(exposed, in_group * -math.expm1(-LAMBDA * HORIZON))
    assert exposed.max() <= in_group


def test_sticky_exposure_harms_fewer_distinct_users_than_per_request() -> None:
    # Same weight, same requests to the new version: sticky concentrates them on fewer users.
    sticky, _ = _runs("Hold", {"weight": 0.1, "unit": "user"})
    spread, _ = _runs("Hold", {"weight": 0.1, "unit": "request"})
    assert sticky.runs["blast_radius_users"].mean() < 0.8 * spread.runs["blast_radius_users"].mean()


def test_heterogeneous_users_and_daily_curve() -> None:
    curve = [0.2] * 6 + [1.0] * 6 + [2.0] * 6 + [0.8] * 6
    w = 0.2
    comparison, scenario = _runs(
        "Hold",
        {"weight": w},
        population={
            "users": USERS,
            "segments": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5, "utc_offset_hours": 9}],
            "rate_classes": [{"share": 0.8, "relative_rate": 0.5}, {"share": 0.2, "relative_rate": 4.0}],
        },
        traffic={"rate": RATE, "daily_curve": curve, "start_hour": 5},
    )
    cohorts = build_cohorts(scenario)
    cells = int(HORIZON // 60)
    # Integrated multiplier of each cohort's rate over the horizon (seconds).
    integral = cohorts.cell_means(0, cells).sum(axis=0) / (cohorts.users * cohorts.rate)
    expected_users = float((cohorts.users * -np.expm1(-cohorts.rate * w * HARM * integral)).sum())
    expected_requests = float((cohorts.users * cohorts.rate * integral).sum() * w * HARM)
    runs = comparison.runs
    _assert_mean(runs["blast_radius_users"].to_numpy(dtype=float), expected_users)
    _assert_mean(
        runs["blast_radius_requests"].to_numpy(dtype=float), expected_requests, sd=math.sqrt(expected_requests)
    )


def test_cohort_rates_add_up_to_the_scenario_rate() -> None:
    scenario = make_scenario(
        population={
            "users": 12_345,
            "segments": [{"name": "a", "share": 0.3, "relative_rate": 2.0}, {"name": "b", "share": 0.7}],
            "rate_classes": [{"share": 0.9, "relative_rate": 1.0}, {"share": 0.1, "relative_rate": 10.0}],
        },
    )
    cohorts = build_cohorts(scenario)
    assert cohorts.population == 12_345
    assert float((cohorts.users * cohorts.rate).sum()) == pytest.approx(scenario.traffic.rate)


def test_defect_scope_limits_harm_to_one_segment() -> None:
    comparison, _ = _runs(
        "Hold",
        {"weight": 0.5},
        population={"users": USERS, "segments": [{"name": "ios", "share": 0.25}, {"name": "web", "share": 0.75}]},
        release={"defect": {"harm": HARM, "segment": "ios"}},
    )
    expected = RATE * 0.25 * 0.5 * HARM * HORIZON
    harmed = comparison.runs["blast_radius_requests"].to_numpy(dtype=float)
    _assert_mean(harmed, expected, sd=math.sqrt(expected))


def test_delayed_onset_shortens_the_harm_window() -> None:
    comparison, _ = _runs("Hold", {"weight": 0.5}, release={"defect": {"harm": HARM, "onset": "1h"}})
    expected = RATE * 0.5 * HARM * (HORIZON - 3600)
    harmed = comparison.runs["blast_radius_requests"].to_numpy(dtype=float)
    _assert_mean(harmed, expected, sd=math.sqrt(expected))
    assert (comparison.runs["onset_s"] >= 3600).all()
