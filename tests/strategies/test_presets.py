"""Presets: each loads and runs, and keeps the timings its comment in strategies/presets.py derives.

Healthy: the promotion time (``rollout_duration_s``) with the watchers and the
scenario's analysis off (a preset's own judges still run, on a release without
baseline errors, so they pass). Failing: the rollback time (``rollback_s``) on a
release whose every request fails, judged by the preset's own judge or, for a
preset without one, by the scenario's analysis with ``failure_limit = 1``,
``min_requests = 1`` and 10-second scrapes: (1 + 1) x 10 = 20 s.

Each block simulates 64 replications whatever is kept (common random numbers),
so two replications cost as much as 64: the multi-day presets get a coarse
scrape interval to keep the test short.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from sim.cli import cli
from sim.plugins import installed_judges, installed_strategies, presets
from strategies.presets import PRESETS
from tests.generators import NO_DETECTION, make_scenario

REPLICATIONS = 2
# Every segment a preset needs by default: "internal" and "beta" (microsoft-rings), "insider" (flagger-ab);
# "eu" and "us" are regions for amazon-waves.
SEGMENTS = [
    {"name": "internal", "share": 0.01},
    {"name": "beta", "share": 0.04},
    {"name": "insider", "share": 0.05},
    {"name": "eu", "share": 0.4},
    {"name": "us", "share": 0.5},
]
# launchdarkly-guarded judges only with 10,000 requests per arm in its window: at 1% of 3,000 requests/s,
# 18,000 by its first judgment (10 min).
RATE = 3000.0
FAILING_DETECTION = {
    "analysis": {"failure_limit": 1, "min_requests": 1},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}
SCENARIO_ANALYSIS = (1 + 1) * 10.0  # the scenario's analysis: (failure_limit + 1) x scrape_interval
HOUR, DAY = 3600.0, 86400.0

HEALTHY: dict[str, float] = {
    "argo-docs-background": 4 * 600.0,  # four 10-minute pauses; setWeight steps take no time
    # 20% at 0, the manual pause 1 ms later, the (fixed, 10-minute) approver, then three 10 s pauses
    "argo-getting-started": 630.001,  # 0.001 + 600 + 3 x 10
    "argo-bluegreen": 30.0,  # switched at 0 (no preview), done when the old stack goes: post = 30 s
    "flagger-docs": 50 / 2 * 60.0,  # maxWeight / stepWeight ticks of 1m: 2% at 0 ... 50% at 24 min
    "flagger-howitworks": 50 / 5 * 60.0,  # 5% at 0 ... 50% at 9 min, promoted at the 10th tick
    "flagger-nonlinear": 4 * 60.0,  # stepWeights 1, 2, 10, 80 at 0..3 min, promoted at the 4th tick
    "flagger-bluegreen": (10 + 1) * 60.0,  # iterations + 1 ticks (runBlueGreen counts one more)
    "flagger-ab": 10 * 60.0,  # iterations x interval
    "codedeploy-allatonce": 0.0,  # all traffic at 0, done
    "codedeploy-canary10percent5minutes": 5 * 60.0,  # wait
    "codedeploy-canary10percent15minutes": 15 * 60.0,  # wait
    "codedeploy-linear10percentevery1minute": 9 * 60.0,  # 10 shares, share k from (k - 1) x every
    "codedeploy-linear10percentevery3minutes": 9 * 180.0,
    "appconfig-allatonce": 10 * 60.0,  # the bake (D = 0)
    "appconfig-linear50percentevery30seconds": 1 * 30.0 + 90.0,  # 100% at 30 s, bake 90 s: D + 1 min
    "appconfig-linear20percentevery6minutes": 4 * 360.0 + 36 * 60.0,  # 100% at 24 min, bake 36 min: 30 + 30
    "appconfig-canary10percent20minutes": 4 * 240.0 + 14 * 60.0,  # 10-20-40-80-100%, bake 14 min: 20 + 10
    "amazon-waves": 1 * HOUR + 1 * HOUR,  # one_box_bake, then one wave ("*") of bake 1 h
    "microsoft-rings": 1 * DAY + 1 * DAY,  # internal, beta, then everyone (done)
    "kayenta-recommended": 3 * HOUR,  # the canary's lifetime (bake 3h)
    "launchdarkly-guarded": 49 * HOUR,  # 1% at 0, 10% at 1 h, 50% at 25 h, 100% at 49 h
}

FAILING: dict[str, float | None] = {
    "argo-docs-background": 600.0 + (3 + 1) * 300.0,  # from step 2 (600 s), the 4th failure > failureLimit 3
    "argo-getting-started": SCENARIO_ANALYSIS,  # the scenario's analysis, in the background from step 0
    "argo-bluegreen": SCENARIO_ANALYSIS,  # before the old stack goes at 30 s
    "flagger-docs": (10 + 1) * 60.0,  # checks fail at 1..10 min, the next tick rolls back
    "flagger-howitworks": (10 + 1) * 60.0,
    "flagger-nonlinear": (10 + 1) * 60.0,
    "flagger-bluegreen": (2 + 1) * 60.0,  # threshold 2
    "flagger-ab": (2 + 1) * 60.0,
    "codedeploy-allatonce": None,  # done at 0, before any alarm
    "codedeploy-canary10percent5minutes": SCENARIO_ANALYSIS,  # the alarm, at once
    "codedeploy-canary10percent15minutes": SCENARIO_ANALYSIS,
    "codedeploy-linear10percentevery1minute": SCENARIO_ANALYSIS,
    "codedeploy-linear10percentevery3minutes": SCENARIO_ANALYSIS,
    "appconfig-allatonce": SCENARIO_ANALYSIS,  # during the final bake
    "appconfig-linear50percentevery30seconds": SCENARIO_ANALYSIS,
    "appconfig-linear20percentevery6minutes": SCENARIO_ANALYSIS,
    "appconfig-canary10percent20minutes": SCENARIO_ANALYSIS,
    "amazon-waves": SCENARIO_ANALYSIS,  # during the one box
    "microsoft-rings": SCENARIO_ANALYSIS,  # in ring 0
    "kayenta-recommended": 1 * HOUR,  # its first judgment (interval 1h) fails
    "launchdarkly-guarded": 10 * 60.0,  # its first judgment (interval 10m) fails
}


def _scenario(strategies: list[dict[str, Any]], healthy: bool, horizon: float, **fields: Any) -> sim.Scenario:
    scrape = "10s" if horizon <= 6 * HOUR else "10m"
    defaults: dict[str, Any] = {
        "horizon": horizon,
        "population": {"users": 10_000, "segments": SEGMENTS},
        "traffic": {"rate": RATE},
        "release": {} if healthy else {"defect": {"harm": 1.0, "kind": "errors"}},
        "telemetry": {"baseline_error_rate": 0.0, "baseline_slow_rate": 0.0, "scrape_interval": scrape},
        "detection": NO_DETECTION if healthy else FAILING_DETECTION,
        "people": {"approver": {"mean": "10m"}},  # fixed, day and night
        "strategies": strategies,
    }
    return make_scenario(**{**defaults, **fields})


def _runs(scenario: sim.Scenario) -> pd.DataFrame:
    comparison = sim.compare(scenario, replications=REPLICATIONS, workers=1)
    assert not comparison.errors, comparison.errors
    assert len(comparison.runs) == REPLICATIONS * len(scenario.strategies)
    return comparison.runs


def _times(runs: pd.DataFrame, column: str) -> list[float | None]:
    """The column's times to the engine's resolution (a microsecond); None where it did not happen."""
    return [None if pd.isna(value) else round(value, 6) for value in runs[column]]


def test_the_tables_cover_every_preset_and_every_preset_is_installed() -> None:
    assert set(HEALTHY) == set(FAILING) == set(PRESETS)
    assert presets() == PRESETS  # the entry point rollout_sim.presets
    for name, preset in PRESETS.items():
        assert name == name.lower() and " " not in name, name
        assert preset["strategy"] in installed_strategies(), name
        assert {judge["use"] for judge in preset.get("judges", {}).values()} <= set(installed_judges()), name
        assert preset["source"] and preset["about"] and "\n" not in preset["about"], name


def test_every_preset_loads_and_runs() -> None:
    # The scenario's defaults (analysis, service alert, user reports) on a 5% error defect.
    scenario = make_scenario(
        horizon="30m",
        population={"users": 10_000, "segments": SEGMENTS},
        traffic={"rate": RATE},
        strategies=[{"name": name} for name in PRESETS],
    )
    comparison = sim.compare(scenario, replications=REPLICATIONS, workers=1)
    assert not comparison.errors, comparison.errors
    assert list(comparison.summaries) == list(PRESETS)
    assert (comparison.runs.groupby("strategy").size() == REPLICATIONS).all()


@pytest.mark.parametrize(("name", "expected"), HEALTHY.items(), ids=list(HEALTHY))
def test_a_healthy_release_is_promoted_at_the_documented_time(name: str, expected: float) -> None:
    runs = _runs(_scenario([{"name": name}], healthy=True, horizon=max(expected + 600.0, HOUR)))
    assert _times(runs, "rollout_duration_s") == [expected] * REPLICATIONS
    assert (runs["outcome"] == "completed").all()


@pytest.mark.parametrize(("name", "expected"), FAILING.items(), ids=list(FAILING))
def test_a_release_failing_every_check_is_rolled_back_at_the_stated_time(name: str, expected: float | None) -> None:
    runs = _runs(_scenario([{"name": name}], healthy=False, horizon=2 * HOUR))
    assert _times(runs, "rollback_s") == [expected] * REPLICATIONS
    if expected is None:
        assert (runs["outcome"] == "escaped").all()
    else:
        judge = next(iter(PRESETS[name].get("judges", {"analysis": None})))
        assert (runs["outcome"] == "rolled_back").all() and (runs["caught_by"] == judge).all()


def test_argo_bluegreen_misses_a_defect_its_analysis_sees_after_the_old_stack_is_gone() -> None:
    # 60-second scrapes: the scenario's analysis fails at (1 + 1) x 60 = 120 s, after the promotion at 30 s.
    runs = _runs(
        _scenario([{"name": "argo-bluegreen"}], healthy=False, horizon=HOUR, telemetry={"scrape_interval": "60s"})
    )
    assert _times(runs, "rollback_s") == [None] * REPLICATIONS
    assert _times(runs, "rollout_duration_s") == [30.0] * REPLICATIONS
    assert (runs["outcome"] == "escaped").all()


def test_scenario_params_override_the_presets() -> None:
    # flagger-docs with stepWeight 5: (50 / 5) x 60 = 600 s instead of (50 / 2) x 60 = 1,500 s; named
    # directly or through `use`, next to the preset as it is.
    side_by_side = [
        {"name": "flagger-docs"},
        {"name": "flagger-docs-5", "use": "flagger-docs", "params": {"stepWeight": 5}},
    ]
    runs = _runs(_scenario(side_by_side, healthy=True, horizon=HOUR))
    by_name = runs.groupby("strategy")["rollout_duration_s"].apply(list).to_dict()
    assert by_name == {"flagger-docs": [1500.0] * REPLICATIONS, "flagger-docs-5": [600.0] * REPLICATIONS}
    by_its_name = [{"name": "flagger-docs", "params": {"stepWeight": 5}}]
    runs = _runs(_scenario(by_its_name, healthy=True, horizon=HOUR))
    assert _times(runs, "rollout_duration_s") == [600.0] * REPLICATIONS
    # The rest of the preset stays: its threshold (10), interval (1m) and judge: (10 + 1) x 60 s.
    runs = _runs(_scenario(by_its_name, healthy=False, horizon=HOUR))
    assert _times(runs, "rollback_s") == [660.0] * REPLICATIONS


def test_presets_that_need_segments_take_them_from_the_scenario() -> None:
    # A scenario without the default segments: flagger-ab needs match_segment, amazon-waves its regions,
    # microsoft-rings its rings; without them the run fails with the missing segment named.
    segments = [{"name": "eu", "share": 0.4}, {"name": "us", "share": 0.6}]
    given = [
        {"name": "ab", "use": "flagger-ab", "params": {"match_segment": "eu"}},
        {"name": "waves", "use": "amazon-waves", "params": {"regions": ["eu", "us"]}},
        {"name": "rings", "use": "microsoft-rings", "params": {"rings": [{"segments": ["eu"], "bake": "1h"}]}},
    ]
    runs = _runs(_scenario(given, healthy=True, horizon=4 * HOUR, population={"users": 10_000, "segments": segments}))
    by_name = runs.groupby("strategy")["rollout_duration_s"].apply(list).to_dict()
    # ab: iterations x interval; waves: one box 1 h + 1 h per region; rings: eu for 1 h, then promoted
    # (Rings is done once its last ring has baked).
    assert by_name == {
        "ab": [600.0] * REPLICATIONS,
        "waves": [3 * HOUR] * REPLICATIONS,
        "rings": [HOUR] * REPLICATIONS,
    }
    missing = [{"name": "flagger-ab"}, {"name": "microsoft-rings"}]
    scenario = _scenario(missing, healthy=True, horizon=HOUR, population={"users": 10_000, "segments": segments})
    errors = sim.compare(scenario, replications=REPLICATIONS, workers=1).errors
    assert "unknown segment 'insider'" in errors["flagger-ab"]
    assert "unknown segment 'internal'" in errors["microsoft-rings"]


def test_list_presets_verbose_shows_every_preset_with_strategy_params_and_source() -> None:
    result = CliRunner().invoke(cli, ["list", "presets", "--verbose"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headers = {line.split()[0]: index for index, line in enumerate(lines) if line.startswith("  ") and line[2] != " "}
    assert set(PRESETS) <= set(headers)
    for name, preset in PRESETS.items():
        index = headers[name]
        assert lines[index].split()[1] == preset["strategy"]
        assert preset["about"] in lines[index]
        block = lines[index + 1 : index + 4]
        assert f"params: {json.dumps(preset['params'], sort_keys=True)}" in [line.strip() for line in block]
        assert f"source: {preset['source']}" in [line.strip() for line in block]
        if preset.get("judges"):
            assert f"judges: {json.dumps(preset['judges'], sort_keys=True)}" in [line.strip() for line in block]
