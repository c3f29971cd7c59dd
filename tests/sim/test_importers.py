"""Importing Argo Rollout and Flagger Canary files (tests/fixtures/import)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.importers import ImportResult, import_file
from sim.scenario import ScenarioError, scenario_from_dict
from tests.generators import scenario_dict

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"


def _import(name: str) -> ImportResult:
    return import_file(FIXTURES / name)


def _judge(result: ImportResult, name: str) -> dict[str, Any]:
    judges = result.specs[0].judges or {}
    return judges[name].params


def test_argo_canary_with_background_analysis() -> None:
    result = _import("argo/canary-analysis.yaml")
    (spec,) = result.specs
    assert (spec.name, spec.use) == ("guestbook", "argo")
    assert spec.params["steps"][:2] == [{"setWeight": 20}, {"pause": {"duration": "10m"}}]
    assert len(spec.params["steps"]) == 8
    assert spec.params["background"] == {"judges": ["success-rate"], "startingStep": 2}
    params = _judge(result, "success-rate")
    assert params["rule"] == "argo"
    assert params["max_error_rate"] == pytest.approx(0.05)
    assert (params["interval"], params["failure_limit"], params["window"]) == ("5m", 3, "5m")
    assert result.warnings == []


def test_argo_basic_canary_manual_pause_and_seconds() -> None:
    result = _import("argo/rollout-canary.yaml")
    (spec,) = result.specs
    steps = spec.params["steps"]
    assert steps[:4] == [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {"duration": 10}}]
    assert spec.params["background"] is False
    assert spec.judges == {}
    assert result.warnings == []


def test_argo_inline_analysis_templates_from_sibling_file() -> None:
    result = _import("argo/inline-analysis.yaml")
    (spec,) = result.specs
    steps = spec.params["steps"]
    assert steps[0] == {"setWeight": 10}  # setCanaryScale dropped
    assert {"analysis": {"judges": ["error-rate"]}} in steps
    assert spec.params["background"] == {"judges": ["latency-p99-latency"], "startingStep": 0}
    error = _judge(result, "error-rate")
    assert error["max_error_rate"] == pytest.approx(0.01)
    assert (error["count"], error["failure_limit"], error["inconclusive_limit"]) == (3, 1, 2)
    assert error["consecutive_error_limit"] == 2
    assert (error["initial_delay"], error["window"]) == ("30s", "2m")
    latency = _judge(result, "latency-p99-latency")
    assert latency["max_slow_rate"] == pytest.approx(0.01)
    text = "\n".join(result.warnings)
    assert "steps[0].setCanaryScale" in text
    assert "spec.strategy.canary.trafficRouting" in text
    assert "AnalysisTemplate latency-p99: metrics[0].successCondition" in text and "slow threshold" in text
    assert "AnalysisTemplate latency-p99: metrics[1].successCondition" in text  # CPU percent: skipped
    assert "AnalysisTemplate web-check: metrics[0].provider.web" in text
    assert all("\n" not in warning for warning in result.warnings)


def test_argo_bluegreen() -> None:
    result = _import("argo/bluegreen.yaml")
    (spec,) = result.specs
    assert spec.use == "bluegreen"
    assert spec.params["preview"] == pytest.approx(120.0)  # 4 x 30s of pre-promotion analysis > 30 s
    assert spec.params["post"] == 0.0
    smoke = _judge(result, "smoke-tests-smoke")
    assert smoke["max_error_rate"] == pytest.approx(0.02)  # failureCondition result[0] > 0.02
    assert smoke["count"] == 4
    text = "\n".join(result.warnings)
    assert "metrics[1].provider.job" in text
    assert "spec.strategy.blueGreen.previewReplicaCount" in text


def test_flagger_podinfo() -> None:
    result = _import("flagger/podinfo.yaml")
    (spec,) = result.specs
    assert (spec.name, spec.use) == ("podinfo", "flagger")
    assert spec.params == {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
    judge = _judge(result, "analysis")
    assert judge["rule"] == "flagger" and judge["threshold"] == 5
    assert judge["max_error_rate"] == pytest.approx(0.01)
    assert judge["max_slow_rate"] == pytest.approx(0.01)
    assert len(result.warnings) == 3
    assert "request-duration" not in result.warnings[0] and "thresholdRange.max" in result.warnings[0]
    assert result.warnings[1].startswith("spec.analysis.webhooks[0] (acceptance-test")
    assert result.warnings[2].startswith("spec.analysis.webhooks[1] (load-test")


def test_flagger_ab_testing_match() -> None:
    result = _import("flagger/ab-testing.yaml")
    (spec,) = result.specs
    assert spec.params["iterations"] == 10
    assert spec.params["match_segment"] == "insider"
    assert any(w.startswith("spec.analysis.match") and "insider" in w for w in result.warnings)


def test_flagger_bluegreen_iterations_and_custom_metric() -> None:
    result = _import("flagger/blue-green.yaml")
    (spec,) = result.specs
    assert spec.params == {"interval": "30s", "threshold": 2, "iterations": 10}
    judge = _judge(result, "analysis")
    assert "max_slow_rate" not in judge and judge["max_error_rate"] == pytest.approx(0.01)
    text = "\n".join(result.warnings)
    assert "spec.analysis.metrics[1] (404s percentage): custom MetricTemplate 'not-found-percentage'" in text
    assert "spec.analysis.webhooks[0] (smoke-test" in text and "spec.analysis.webhooks[1] (load-test" in text


GOOD = [
    "argo/canary-analysis.yaml",
    "argo/rollout-canary.yaml",
    "argo/inline-analysis.yaml",
    "argo/bluegreen.yaml",
    "flagger/podinfo.yaml",
    "flagger/ab-testing.yaml",
    "flagger/blue-green.yaml",
]


def test_toml_validates_and_runs_in_a_scenario() -> None:
    strategies: list[dict[str, Any]] = []
    for name in GOOD:
        parsed = tomllib.loads(_import(name).toml())
        strategies += parsed["strategies"]
    data = scenario_dict(
        horizon="2h",
        replications=2,
        population={"users": 10_000, "segments": [{"name": "insider", "share": 0.1}, {"name": "rest", "share": 0.9}]},
        strategies=strategies,
    )
    scenario = scenario_from_dict(data, source="imported.toml")
    assert [spec.name for spec in scenario.strategies] == [s["name"] for s in strategies]
    comparison = sim.compare(scenario, replications=2, workers=1)
    assert comparison.errors == {}
    assert set(comparison.summaries) == {s["name"] for s in strategies}


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("bad/not-yaml.yaml", "not YAML"),
        ("bad/deployment.yaml", "unknown kind 'Deployment'"),
        ("bad/rolling.yaml", "spec.strategy: "),
        ("bad/missing-template.yaml", "analysis template 'does-not-exist' not found"),
        ("argo/templates.yaml", "only analysis templates"),
        ("bad/absent.yaml", "cannot read"),
    ],
)
def test_bad_files(name: str, problem: str) -> None:
    path = FIXTURES / name
    with pytest.raises(ScenarioError) as caught:
        import_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_import_command_prints_toml_and_warnings_and_compare_takes_the_yaml() -> None:
    from click.testing import CliRunner

    from sim.cli import cli

    podinfo = str(FIXTURES / "flagger" / "podinfo.yaml")
    result = CliRunner().invoke(cli, ["import", podinfo])
    assert result.exit_code == 0, result.output
    assert "[[strategies]]" in result.stdout and 'use = "flagger"' in result.stdout
    assert "rollout-sim: warning:" in result.stderr and "webhooks[0]" in result.stderr
    compared = CliRunner().invoke(cli, ["compare", "-n", "2", "--strategy", "bigbang", "--strategy", podinfo, "--json"])
    assert compared.exit_code == 0, compared.output
    assert '"podinfo"' in compared.stdout
    bad = CliRunner().invoke(cli, ["import", str(FIXTURES / "bad" / "deployment.yaml")])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1 and "unknown kind" in bad.stderr
