"""SLO burn-rate alerts: fire when, and only when, the bad ratio over both windows reaches burn x (1 - SLO)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.executors import InlineExecutor
from sim.scenario import BurnAlert, ScenarioError, SloBurn, scenario_from_dict
from sim.telemetry import ERRORS, REQUESTS, SLOW, STABLE, TelemetryLog
from sim.watchers import BurnRateAlerts
from tests.generators import make_scenario, scenario_dict

OBJECTIVE = 0.99


def _burn(indicator: str = "errors") -> BurnRateAlerts:
    config = SloBurn(
        enabled=True,
        objective=OBJECTIVE,
        indicator=indicator,
        alerts=[BurnAlert(burn_rate=2.0, long=240.0, short=60.0)],
    )
    return BurnRateAlerts(config, 60.0)


def _log_of(scrapes: list[tuple[int, int]], metric: int = ERRORS) -> TelemetryLog:
    """A log whose k-th scrape adds (requests, bad) to the stable arm of the one segment, one replication."""
    snapshots = np.zeros((1, 1, 2, 3, 3), dtype=np.int64)
    log = TelemetryLog(snapshots, keep=10)
    for requests, bad in scrapes:
        snapshot = log.latest.copy()
        snapshot[0, 0, STABLE, REQUESTS] += requests
        snapshot[0, 0, STABLE, metric] += bad
        log.receive(snapshot, np.zeros(1, dtype=bool))
    return log


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 100)), min_size=1, max_size=8))
def test_an_alert_fires_exactly_when_both_windows_reach_the_burn_threshold(scrapes: list[tuple[int, int]]) -> None:
    scrapes = [(requests, min(bad, requests)) for requests, bad in scrapes]
    limit = 2.0 * (1 - OBJECTIVE)

    def reaches(window: list[tuple[int, int]]) -> bool:
        requests = sum(r for r, _ in window)
        return requests > 0 and sum(b for _, b in window) / requests >= limit - 1e-12

    expected = reaches(scrapes[-4:]) and reaches(scrapes[-1:])
    ((alert, fired),) = _burn().evaluate(_log_of(scrapes))
    assert bool(fired[0]) == expected
    assert alert.name == "slo_2x_4m"


def test_the_short_window_stops_an_alert_once_the_burn_is_over() -> None:
    burning = [(1000, 100)] * 3
    assert _burn().evaluate(_log_of(burning))[0][1][0]
    recovered = [*burning, (1000, 0)]  # the long window still reaches the limit, the last minute does not
    assert not _burn().evaluate(_log_of(recovered))[0][1][0]


def test_a_latency_slo_counts_slow_requests() -> None:
    assert _burn("slow").evaluate(_log_of([(1000, 100)], metric=SLOW))[0][1][0]
    assert not _burn("errors").evaluate(_log_of([(1000, 100)], metric=SLOW))[0][1][0]


def _slo_scenario(release: dict, **slo: object) -> sim.Scenario:
    return make_scenario(
        replications=64,
        horizon="3h",
        release=release,
        traffic={"rate": 50.0},
        telemetry={"baseline_error_rate": 0.001},
        detection={
            "analysis": {"enabled": False},
            "service_alert": {"enabled": False},
            "user_reports": {"enabled": False},
            "slo_burn": {"enabled": True, **slo},
        },
    )


def test_big_bang_is_caught_by_the_fast_burn_alert_when_the_one_hour_ratio_reaches_its_limit() -> None:
    # Error ratio over the last hour at time t (history at the baseline rate before t = 0):
    # (0.001 (3600 - t) + p t) / 3600 with p = 0.001 + 0.05 (1 - 0.001); it reaches 14.4 x 0.001 at t*.
    p = 0.001 + 0.05 * 0.999
    t_star = (14.4e-3 - 0.001) * 3600 / (p - 0.001)
    comparison = sim.compare(_slo_scenario({"defect": {"harm": 0.05}}), executor=InlineExecutor())
    runs = comparison.runs
    assert (runs["caught_by"] == "slo_14.4x_1h").all()
    # The alert fires at the first scrape at or after t*; Poisson noise in 180,000 requests an hour moves
    # the ratio by about 3e-4, that is about 20 s of the ratio's slope: two scrapes is over 5 sigma.
    first_scrape = np.ceil(t_star / 60) * 60
    assert np.all(np.abs(runs["alarm_s"] - first_scrape) <= 120)
    # The rollback starts after the alert's on-call response (5 minutes, fixed) and takes the redeploy's 30 s.
    assert np.allclose(runs["mitigation_s"] - runs["alarm_s"], 300 + 30)


def test_a_healthy_release_never_burns_the_budget() -> None:
    runs = sim.compare(_slo_scenario({}), executor=InlineExecutor()).runs
    assert runs["alarm_s"].isna().all()
    assert (runs["outcome"] == "completed").all()


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        ({"objective": 1.0}, "detection.slo_burn.objective"),
        ({"objective": 0.0}, "detection.slo_burn.objective"),
        ({"alerts": [{"burn_rate": 10, "long": "5m", "short": "1h"}]}, "must not be longer"),
        ({"alerts": [{"burn_rate": 10, "long": "1h", "short": "30s"}]}, "shorter than telemetry.scrape_interval"),
        ({"alerts": [{"burn_rate": 0, "long": "1h", "short": "5m"}]}, "burn_rate"),
        ({"alerts": []}, "detection.slo_burn.alerts"),
        ({"indicator": "latency"}, "detection.slo_burn.indicator"),
        (
            {"alerts": [{"burn_rate": 2, "long": "1h", "short": "5m"}, {"burn_rate": 2, "long": "1h", "short": "1m"}]},
            "share a burn rate",
        ),
    ],
)
def test_bad_slo_settings_are_refused_naming_the_field(slo: dict, message: str) -> None:
    data = scenario_dict(detection={"slo_burn": {"enabled": True, **slo}})
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(data)
