"""Engine v2 against closed forms: segments, units, arms, modes, defect shapes, load, telemetry, rollbacks.

As in ``test_closed_forms.py``: detection is off unless a check needs it,
and every Monte Carlo check allows Z = 4 standard errors of the mean (the
known Poisson sd where the count is exactly Poisson, else the sample's).
Seeds are fixed, so a run is repeatable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import sim
from sim.lane import Lane
from sim.population import BUCKETS, CELL_SECONDS, build_cohorts
from sim.telemetry import BASELINE, ERRORS, NEW, REQUESTS, STABLE
from tests.generators import NO_DETECTION, make_scenario
from tests.shapes import shape

Z = 4.0
REPLICATIONS = 200
USERS, RATE, HARM, HORIZON = 20_000, 20.0, 0.1, 7200.0
LAMBDA = RATE / USERS  # one user's requests per second
BASELINE_ERROR_RATE = 0.001
SEGMENTS = [{"name": "internal", "share": 0.05}, {"name": "general", "share": 0.95}]


def _scenario(use: str, params: dict[str, Any], **overrides: Any) -> sim.Scenario:
    fields: dict[str, Any] = {
        "horizon": HORIZON,
        "population": {"users": USERS},
        "traffic": {"rate": RATE},
        "release": {"defect": {"harm": HARM}},
        "detection": NO_DETECTION,
        "telemetry": {"scrape_interval": "10m", "baseline_error_rate": BASELINE_ERROR_RATE},
        "strategies": [{"name": "s", "use": shape(use), "params": params}],
        **overrides,
    }
    return make_scenario(**fields)


def _runs(use: str, params: dict[str, Any], **overrides: Any) -> tuple[Any, sim.Scenario]:
    scenario = _scenario(use, params, **overrides)
    comparison = sim.compare(scenario, replications=REPLICATIONS, workers=1)
    assert not comparison.errors, comparison.errors
    return comparison.runs, scenario


def _simulations(scenario: sim.Scenario, replications: int = REPLICATIONS) -> list[sim.Simulation]:
    """Blocks of replications run to the horizon (per-arm counters live on their lanes)."""
    simulations = []
    for block in range(-(-replications // sim.BLOCK_SIZE)):
        size = min(sim.BLOCK_SIZE, replications - block * sim.BLOCK_SIZE)
        simulation = sim.Simulation(scenario, block=block, replications=size)
        simulation.run()
        assert not simulation.errors, simulation.errors
        simulations.append(simulation)
    return simulations


def _lane(simulation: sim.Simulation) -> Lane:
    return simulation.lanes[0]


def _counters(scenario: sim.Scenario, replications: int = REPLICATIONS) -> np.ndarray:
    """(R, segments + 1, arms, metrics) counts of the whole run, every block."""
    return np.concatenate([_lane(s).plane.counters for s in _simulations(scenario, replications)])


def _column(runs: Any, name: str) -> np.ndarray:
    return runs[name].to_numpy(dtype=float)


def _assert_mean(values: np.ndarray, expected: float, sd: float | None = None) -> None:
    """Mean within Z standard errors; ``sd`` is the known per-run sd, else the sample's."""
    values = np.asarray(values, dtype=float)
    sd = float(np.std(values, ddof=1)) if sd is None else sd
    tolerance = Z * sd / math.sqrt(len(values))
    assert abs(values.mean() - expected) <= tolerance, (values.mean(), expected, tolerance)


def _assert_poisson_mean(values: np.ndarray, expected: float) -> None:
    _assert_mean(values, expected, sd=math.sqrt(expected))


def _assert_binomial_total(successes: np.ndarray, trials: np.ndarray, probability: float) -> None:
    """Pooled successes against ``probability`` of the pooled trials, within Z binomial sd."""
    n, k = float(np.sum(trials)), float(np.sum(successes))
    tolerance = Z * math.sqrt(n * probability * (1 - probability))
    assert abs(k - n * probability) <= tolerance, (k, n * probability, tolerance)


# -- per-segment exposure ---------------------------------------------------------------------


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_a_segment_share_by_user_exposes_those_users_and_only_them(share: float) -> None:
    horizon = 1800.0  # lambda * T = 1.8: a fair share of the group is still unexposed
    runs, scenario = _runs(
        "Serve",
        {"shares": {"internal": share}, "unit": "user"},
        horizon=horizon,
        population={"users": USERS, "segments": SEGMENTS},
    )
    cohorts = build_cohorts(scenario)
    internal = int(cohorts.users[cohorts.segment == 0].sum())
    assert internal == USERS * 5 // 100
    threshold = round(share * BUCKETS)
    in_group = internal * threshold // BUCKETS
    exposed = _column(runs, "exposed_users")
    # Exact: exposure is sticky to the group, and exposed users only ever grow.
    assert exposed.max() <= in_group
    _assert_mean(exposed, in_group * -math.expm1(-LAMBDA * horizon))
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), in_group * LAMBDA * HARM * horizon)
    _assert_mean(_column(runs, "blast_radius_users"), in_group * -math.expm1(-LAMBDA * HARM * horizon))


def test_a_segment_share_by_user_with_heavy_and_light_users() -> None:
    # Each cohort's own users below the threshold are served: n * T // BUCKETS of a cohort of n.
    horizon, share = 1800.0, 0.3
    runs, scenario = _runs(
        "Serve",
        {"shares": {"internal": share}, "unit": "user"},
        horizon=horizon,
        population={
            "users": USERS,
            "segments": SEGMENTS,
            "rate_classes": [{"share": 0.8, "relative_rate": 0.5}, {"share": 0.2, "relative_rate": 3.0}],
        },
    )
    cohorts = build_cohorts(scenario)
    internal = cohorts.segment == 0
    in_group = cohorts.users[internal] * round(share * BUCKETS) // BUCKETS
    rates = cohorts.rate[internal]
    exposed = _column(runs, "exposed_users")
    assert exposed.max() <= in_group.sum()
    _assert_mean(exposed, float((in_group * -np.expm1(-rates * horizon)).sum()))
    expected = float((in_group * rates).sum()) * HARM * horizon
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), expected)
    _assert_mean(_column(runs, "blast_radius_users"), float((in_group * -np.expm1(-rates * HARM * horizon)).sum()))


def test_a_segment_share_counts_new_requests_in_that_segment_only() -> None:
    scenario = _scenario(
        "Serve",
        {"shares": {"internal": 1.0}, "unit": "user"},
        population={"users": USERS, "segments": SEGMENTS},
        release={},
    )
    counters = _counters(scenario, sim.BLOCK_SIZE)
    internal_rate = RATE * 0.05
    assert (counters[:, 1, NEW, REQUESTS] == 0).all()  # general
    assert (counters[:, 1, BASELINE, REQUESTS] == 0).all()
    assert (counters[:, 0, STABLE, REQUESTS] == 0).all()  # every internal request went to the new version
    _assert_poisson_mean(counters[:, 0, NEW, REQUESTS], internal_rate * HORIZON)


# -- instance unit ----------------------------------------------------------------------------


def test_instance_unit_rounds_the_share_to_whole_instances() -> None:
    runs, _ = _runs("Serve", {"shares": 0.41, "unit": "instance", "instances": 10})
    _assert_poisson_mean(_column(runs, "new_requests"), RATE * 0.4 * HORIZON)
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * 0.4 * HARM * HORIZON)


# -- baseline arm -----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["request", "user"])
def test_baseline_arm_gets_the_same_share_as_the_new_version_and_only_baseline_errors(unit: str) -> None:
    scenario = _scenario("Serve", {"shares": 0.2, "baseline": True, "unit": unit})
    counters = _counters(scenario).sum(axis=1)  # over segments: (R, arms, metrics)
    new, baseline, stable = counters[:, NEW], counters[:, BASELINE], counters[:, STABLE]
    _assert_poisson_mean(new[:, REQUESTS], RATE * 0.2 * HORIZON)
    _assert_poisson_mean(baseline[:, REQUESTS], RATE * 0.2 * HORIZON)
    _assert_poisson_mean(stable[:, REQUESTS], RATE * 0.6 * HORIZON)
    # The defect acts on the new version only; baseline and stable err at the baseline rate.
    _assert_binomial_total(baseline[:, ERRORS], baseline[:, REQUESTS], BASELINE_ERROR_RATE)
    _assert_binomial_total(stable[:, ERRORS], stable[:, REQUESTS], BASELINE_ERROR_RATE)
    visible = HARM + (1 - HARM) * BASELINE_ERROR_RATE
    _assert_binomial_total(new[:, ERRORS], new[:, REQUESTS], visible)


def test_baseline_arm_in_the_snapshot_columns() -> None:
    scenario = _scenario("Serve", {"shares": 0.2, "baseline": True}, release={})
    (simulation,) = _simulations(scenario, sim.BLOCK_SIZE)
    snapshot = simulation.snapshot()
    _assert_poisson_mean(snapshot["new_requests"].to_numpy(dtype=float), RATE * 0.2 * HORIZON)
    _assert_poisson_mean(snapshot["baseline_requests"].to_numpy(dtype=float), RATE * 0.2 * HORIZON)


# -- mirror and preview -----------------------------------------------------------------------


def test_mirror_copies_reach_the_new_version_and_harm_nobody() -> None:
    scenario = _scenario("Serve", {"shares": 0.3, "mode": "mirror"})
    simulations = _simulations(scenario)
    measures = [m for s in simulations for m in s.measures()["s"]]
    assert all(m.blast_radius_users == 0 and m.blast_radius_requests == 0 for m in measures)
    assert all(m.exposed_users == 0 and m.new_requests == 0 for m in measures)
    counters = np.concatenate([_lane(s).plane.counters for s in simulations]).sum(axis=1)
    copies = counters[:, NEW, REQUESTS]
    _assert_poisson_mean(copies, RATE * 0.3 * HORIZON)
    # Users are served by stable: every request is counted there too.
    _assert_poisson_mean(counters[:, STABLE, REQUESTS], RATE * HORIZON)
    _assert_binomial_total(counters[:, NEW, ERRORS], copies, HARM + (1 - HARM) * BASELINE_ERROR_RATE)
    _assert_binomial_total(counters[:, STABLE, ERRORS], counters[:, STABLE, REQUESTS], BASELINE_ERROR_RATE)


def test_preview_sends_only_test_traffic_to_the_new_version() -> None:
    scenario = _scenario("Serve", {"preview_rate": 2.0})
    simulations = _simulations(scenario)
    measures = [m for s in simulations for m in s.measures()["s"]]
    assert all(m.blast_radius_users == 0 and m.exposed_users == 0 and m.new_requests == 0 for m in measures)
    counters = np.concatenate([_lane(s).plane.counters for s in simulations])
    test_row = counters[:, -1]
    assert (counters[:, :-1, NEW] == 0).all()  # no user request reaches it
    assert (test_row[:, STABLE] == 0).all() and (test_row[:, BASELINE] == 0).all()
    _assert_poisson_mean(test_row[:, NEW, REQUESTS], 2.0 * HORIZON)
    visible = HARM + (1 - HARM) * BASELINE_ERROR_RATE
    _assert_binomial_total(test_row[:, NEW, ERRORS], test_row[:, NEW, REQUESTS], visible)


# -- defect shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("onset", "leak", "integral"),
    [
        (0.0, 3600.0, 0.5 * 3600 + 3600),  # the ramp, then full harm for the last hour
        (900.0, 3600.0, 0.5 * 3600 + (HORIZON - 900 - 3600)),
        (90.0, 600.0, 0.5 * 600 + (HORIZON - 90 - 600)),  # onset and ramp end inside one-minute cells
    ],
)
def test_leak_grows_harm_linearly(onset: float, leak: float, integral: float) -> None:
    w = 0.5
    runs, _ = _runs("Serve", {"shares": w}, release={"defect": {"harm": HARM, "onset": onset, "leak": leak}})
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * w * HARM * integral)
    assert (_column(runs, "onset_s") >= onset).all()


def test_load_dependent_harm_only_in_hours_above_min_load() -> None:
    # Mean 1: hour 0 at 8 req/s, hour 1 at 32, hour 2 at 16, hour 3 at 24, then 20.
    curve = [0.4, 1.6, 0.8, 1.2] + [1.0] * 20
    horizon, w, min_load = 4 * 3600.0, 0.5, 20.0
    runs, scenario = _runs(
        "Serve",
        {"shares": w},
        horizon=horizon,
        traffic={"rate": RATE, "daily_curve": curve, "start_hour": 0},
        release={"defect": {"harm": HARM, "min_load": min_load}},
    )
    cohorts = build_cohorts(scenario)
    per_cell = cohorts.cell_means(0, int(horizon // CELL_SECONDS)).sum(axis=1)
    loaded = per_cell / CELL_SECONDS > min_load
    assert 0 < loaded.sum() < len(loaded)  # both kinds of hours
    expected = w * HARM * float(per_cell[loaded].sum())
    assert expected == pytest.approx(w * HARM * (32 + 24) * 3600)
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), expected)
    assert (_column(runs, "onset_s") >= 3600).all()  # hour 0 is below the load


def test_a_load_spike_can_bring_load_dependent_harm_on() -> None:
    # 20 req/s is below min_load; the spike's 60 req/s is above it, for ten minutes only.
    w = 0.5
    runs, _ = _runs(
        "Serve",
        {"shares": w},
        traffic={"rate": RATE, "spikes": [{"at": "30m", "duration": "10m", "multiplier": 3}]},
        release={"defect": {"harm": HARM, "min_load": 30.0}},
    )
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), w * HARM * 3 * RATE * 600)
    onset = _column(runs, "onset_s")
    assert ((onset >= 1800) & (onset < 2400)).all()


# -- load spikes ------------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["30m", "1830s"])
def test_load_spike_multiplies_the_traffic_while_it_lasts(at: str) -> None:
    w = 0.2
    runs, _ = _runs(
        "Serve", {"shares": w}, traffic={"rate": RATE, "spikes": [{"at": at, "duration": "10m", "multiplier": 3}]}
    )
    extra = (3 - 1) * 600
    _assert_poisson_mean(_column(runs, "requests"), RATE * (HORIZON + extra))
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * w * HARM * (HORIZON + extra))


# -- persistent harm --------------------------------------------------------------------------

MITIGATION_AT, WEIGHT = 1800.0, 0.5


@dataclass
class _Mitigated:
    """A block run to the horizon, with its harm as it stood just after the rollback at ``MITIGATION_AT``."""

    simulation: sim.Simulation
    harmed_users: np.ndarray
    harmed_requests: np.ndarray

    @property
    def plane(self) -> Any:
        return _lane(self.simulation).plane


def _rollback_at_half_hour(persistent: bool) -> tuple[list[_Mitigated], list[sim.RunMeasures]]:
    scenario = _scenario(
        "ServeThenRollback",
        {"weight": WEIGHT, "at": MITIGATION_AT, "style": "instant"},
        release={"defect": {"harm": HARM, "persistent": persistent}},
    )
    blocks = []
    for block in range(-(-REPLICATIONS // sim.BLOCK_SIZE)):
        size = min(sim.BLOCK_SIZE, REPLICATIONS - block * sim.BLOCK_SIZE)
        simulation = sim.Simulation(scenario, block=block, replications=size)
        simulation.run_until(MITIGATION_AT + 1.0)  # the rollback at 1800 has happened
        plane = _lane(simulation).plane
        then = _Mitigated(simulation, plane.bands.harmed_users.copy(), plane.harmed_requests.copy())
        simulation.run()
        assert not simulation.errors, simulation.errors
        blocks.append(then)
    measures = [m for block in blocks for m in block.simulation.measures()["s"]]
    return blocks, measures


def test_persistent_harm_goes_on_harming_the_users_already_harmed() -> None:
    blocks, measures = _rollback_at_half_hour(persistent=True)
    assert all(m.mitigation_s == MITIGATION_AT for m in measures)
    for block in blocks:
        # Nobody new is exposed after the rollback, so nobody new is harmed.
        assert (block.plane.bands.harmed_users == block.harmed_users).all()
    users = np.array([m.blast_radius_users for m in measures], dtype=float)
    after = np.array([m.harmed_after_mitigation for m in measures], dtype=float)
    before = np.array([m.blast_radius_requests - m.harmed_after_mitigation for m in measures], dtype=float)
    assert after.min() > 0
    # Each harmed user's requests go on being harmed with probability q until the horizon.
    _assert_mean(after - users * LAMBDA * HARM * (HORIZON - MITIGATION_AT), 0.0)
    _assert_poisson_mean(before, RATE * WEIGHT * HARM * MITIGATION_AT)


def test_non_persistent_harm_stops_at_mitigation() -> None:
    blocks, measures = _rollback_at_half_hour(persistent=False)
    assert all(m.harmed_after_mitigation == 0 for m in measures)
    for block in blocks:
        assert (block.plane.bands.harmed_users == block.harmed_users).all()
        assert (block.plane.harmed_requests == block.harmed_requests).all()
    harmed = np.array([m.blast_radius_requests for m in measures], dtype=float)
    _assert_poisson_mean(harmed, RATE * WEIGHT * HARM * MITIGATION_AT)


# -- telemetry: missing scrapes and gaps ------------------------------------------------------


def _recorded(telemetry: dict[str, Any], judges: dict[str, Any]) -> sim.Simulation:
    scenario = make_scenario(
        horizon="1h",
        population={"users": USERS},
        traffic={"rate": RATE},
        release={},
        detection=NO_DETECTION,
        telemetry={"scrape_interval": "1m", **telemetry},
        strategies=[{"name": "s", "use": shape("Serve"), "params": {"shares": 0.5}, "judges": judges}],
    )
    simulation = sim.Simulation(scenario)
    simulation.run()
    assert not simulation.errors, simulation.errors
    return simulation


def _calls(simulation: sim.Simulation, judge: str = "rec") -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    return _lane(simulation).board.entries[judge].judge.calls


def test_missing_scrapes_share() -> None:
    p = 0.3
    simulation = _recorded({"missing_scrapes": p}, {"rec": {"use": shape("Recorder")}})
    calls = _calls(simulation)
    assert [now for now, *_ in calls] == [60.0 * k for k in range(1, 61)]  # one call per scrape
    missing = np.array([m for _, _, m, _ in calls])
    n = missing.size
    assert abs(missing.mean() - p) <= Z * math.sqrt(p * (1 - p) / n), (missing.mean(), p)


def test_a_missing_scrape_carries_the_previous_snapshot_forward() -> None:
    simulation = _recorded({"missing_scrapes": 0.3}, {"rec": {"use": shape("Recorder")}})
    calls = _calls(simulation)
    windows = np.array([requests for *_, requests in calls])  # one-scrape windows
    missing = np.array([m for _, _, m, _ in calls])
    assert (windows[missing] == 0).all()
    # The next scrape that arrives holds the whole increase: the windows add up to the latest snapshot.
    lane = _lane(simulation)
    latest = (lane.log.latest - lane.history_end)[:, :, NEW, REQUESTS].sum(axis=1)
    assert (windows.sum(axis=0) == latest).all()
    arrived = ~missing[-1]
    total = lane.plane.counters[:, :, NEW, REQUESTS].sum(axis=1)
    assert (latest[arrived] == total[arrived]).all()


def test_gaps_make_every_scrape_in_them_missing() -> None:
    simulation = _recorded({"gaps": [{"at": "10m", "duration": "5m"}]}, {"rec": {"use": shape("Recorder")}})
    for now, _, missing, _ in _calls(simulation):
        assert missing.all() == (600.0 <= now < 900.0), now
        assert missing.any() == (600.0 <= now < 900.0), now


def test_a_flagger_judge_counts_each_missing_scrape_as_a_failed_check() -> None:
    judges = {
        "rec": {"use": shape("Recorder")},
        "flagger": {
            "use": "threshold",
            "params": {"rule": "flagger", "threshold": 10**6, "max_error_rate": 1.0, "interval": "1m"},
        },
    }
    simulation = _recorded({"missing_scrapes": 0.3, "gaps": [{"at": "10m", "duration": "5m"}]}, judges)
    calls = _calls(simulation)
    assert all(due.all() for _, due, _, _ in calls)  # both judges measure at every scrape
    missing = np.array([m for _, _, m, _ in calls])
    lane = _lane(simulation)
    for r in range(simulation.replications):
        view = lane.board.views(r)["flagger"]
        assert view.measurements == 60
        assert view.failures == int(missing[:, r].sum())
        assert view.verdict == "running"


# -- rollback styles --------------------------------------------------------------------------


def _rollback_runs(params: dict[str, Any], **overrides: Any) -> Any:
    runs, _ = _runs("ServeThenRollback", {"weight": WEIGHT, "at": MITIGATION_AT, **params}, **overrides)
    assert (runs["rollback_s"] == MITIGATION_AT).all()
    return runs


def test_instant_rollback_mitigates_at_once() -> None:
    runs = _rollback_runs({"style": "instant"})
    assert (runs["mitigation_s"] == runs["rollback_s"]).all()
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * WEIGHT * HARM * MITIGATION_AT)


def test_gradual_rollback_steps_down_then_mitigates() -> None:
    runs = _rollback_runs({"style": "gradual", "steps": [0.25, 0.05], "wait": "2m"})
    assert (runs["mitigation_s"] == runs["rollback_s"] + 2 * 120).all()
    integral = WEIGHT * MITIGATION_AT + 0.25 * 120 + 0.05 * 120
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * HARM * integral)


def test_gradual_rollback_steps_show_in_the_timeline() -> None:
    scenario = _scenario(
        "ServeThenRollback",
        {"weight": WEIGHT, "at": MITIGATION_AT, "style": "gradual", "steps": [0.25, 0.05], "wait": "2m"},
    )
    timeline = sim.run(scenario).timeline
    changes = timeline[timeline["event"].str.startswith("exposure")]
    assert list(zip(changes["time_s"], changes["weight"], strict=True)) == [
        (0.0, WEIGHT),
        (MITIGATION_AT, 0.25),
        (MITIGATION_AT + 120, 0.05),
        (MITIGATION_AT + 240, 0.0),
    ]
    mitigated = timeline[timeline["event"].str.startswith("mitigated")]
    assert mitigated["time_s"].tolist() == [MITIGATION_AT + 240]


def test_gradual_steps_are_capped_at_the_current_share() -> None:
    runs = _rollback_runs({"style": "gradual", "steps": [0.8, 0.1], "wait": "2m"})
    integral = WEIGHT * MITIGATION_AT + WEIGHT * 120 + 0.1 * 120  # 0.8 is capped at 0.5
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * HARM * integral)


def test_redeploy_rollback_serves_until_the_redeploy_is_over() -> None:
    runs = _rollback_runs({"style": "redeploy", "duration": "5m"})
    assert (runs["mitigation_s"] == runs["rollback_s"] + 300).all()
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * WEIGHT * HARM * (MITIGATION_AT + 300))


def test_the_scenarios_rollback_style_is_the_default() -> None:
    runs = _rollback_runs({}, rollback={"style": "gradual", "steps": [0.2], "wait": "3m"})
    assert (runs["mitigation_s"] == runs["rollback_s"] + 180).all()
    integral = WEIGHT * MITIGATION_AT + 0.2 * 180
    _assert_poisson_mean(_column(runs, "blast_radius_requests"), RATE * HARM * integral)
