"""The command line as a user meets it: output, JSON, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli import cli
from tests.generators import SMALL_TOML, plugin

RUNNER = CliRunner()
DEFAULT = SMALL_TOML


def invoke(*args: str):
    return RUNNER.invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_compare_default_prints_every_measure_and_outcome() -> None:
    result = invoke("compare", "-n", "3")
    assert result.exit_code == 0, result.output
    for label in ("users harmed", "% users harmed", "users exposed", "time to detect", "rollout time"):
        assert label in result.output
    assert "detection rate" in result.output and "rolled_back" in result.output


def test_compare_json_is_the_documented_document() -> None:
    result = invoke("compare", "-n", "3", "--strategy", "bigbang", "--strategy", "canary", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["schema"] == "rollout-sim/compare/v1"
    assert list(document["strategies"]) == ["bigbang", "canary"]
    summary = document["strategies"]["canary"]
    for metric in ("blast_radius_users", "blast_radius_requests", "exposed_users", "ttd_s", "ttm_s"):
        assert set(summary[metric]) == {"mean", "median", "p95", "ci95", "n"}
    assert set(summary["outcomes"]) == {"rolled_back", "escaped", "completed", "false_rollback", "stalled"}
    assert 0.0 <= summary["detection_rate"] <= 1.0


def test_run_prints_a_timeline_and_measures() -> None:
    result = invoke("run", "--strategy", "canary", "--every", "1m")
    assert result.exit_code == 0
    assert "canary: timeline" in result.output and "mitigated" in result.output
    assert "blast_radius_users" in result.output


def test_run_json_has_timeline_rows() -> None:
    document = json.loads(invoke("run", "--json", "--strategy", "bigbang").stdout)
    bigbang = document["strategies"]["bigbang"]
    assert bigbang["measures"]["outcome"] in ("rolled_back", "escaped")
    assert bigbang["timeline"][0]["time_s"] == 0.0


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    result = invoke("validate", write(tmp_path, DEFAULT))
    assert result.exit_code == 0 and "ok" in result.output


def test_schema_is_json_schema() -> None:
    schema = json.loads(invoke("schema").stdout)
    assert schema["title"] == "rollout-sim scenario"
    assert {"population", "traffic", "strategies"} <= set(schema["required"])


def test_list_names_strategies_scenarios_and_detectors() -> None:
    output = invoke("list").output
    for name in ("bigbang", "canary", "default", "healthy", "silent-defect", "service_alert", "user_reports"):
        assert name in output


BAD_INPUTS = {
    "malformed": (DEFAULT.replace('name = "t"', 'name = "t'), "not valid TOML"),
    "unknown field": (DEFAULT.replace("[traffic]", "[traffic]\nburst = 3"), "traffic.burst: unknown field"),
    "negative rate": (DEFAULT.replace("rate = 10", "rate = -10"), "traffic.rate: Input should be greater than 0"),
    "share above 1": (
        DEFAULT.replace("users = 1000", 'users = 1000\nsegments = [{name = "a", share = 1.5}]'),
        "population.segments.0.share: Input should be less than or equal to 1",
    ),
    "unknown strategy": (DEFAULT.replace('name = "bigbang"', 'name = "yolo"'), "unknown strategy 'yolo'"),
    "bad duration": (DEFAULT.replace('"1h"', '"soon"'), "horizon: expected a duration"),
    "bad params": (
        DEFAULT.replace('name = "bigbang"', 'name = "canary"\nparams = { steps = "x" }'),
        "strategies.0: strategy 'canary' (canary): bad params: steps must be a list of 1 to 1000 weights",
    ),
    "infinite rate": (DEFAULT.replace("rate = 10", "rate = inf"), "traffic.rate: Input should be a finite number"),
    "duration of wrong type": (DEFAULT.replace('"1h"', "[1]"), "horizon: expected a duration"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["validate", "compare", "run"])
def test_bad_input_exits_2_with_one_line_naming_the_problem(tmp_path: Path, case: str, command: str) -> None:
    text, expected = BAD_INPUTS[case]
    path = write(tmp_path, text)
    result = invoke(command, path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"rollout-sim: error: {path}: ")
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_missing_file_and_unknown_cli_strategy_exit_2(tmp_path: Path) -> None:
    assert invoke("compare", str(tmp_path / "nope.toml")).exit_code == 2
    result = invoke("compare", "-n", "1", "--strategy", "nope")
    assert result.exit_code == 2
    assert "unknown strategy 'nope'; installed: abtest, argo, bigbang, bluegreen, canary" in result.stderr


def test_broken_plugin_is_named_and_the_others_still_run() -> None:
    result = invoke("compare", "-n", "2", "--strategy", "bigbang", "--strategy", plugin("Explodes"), "--json")
    assert result.exit_code == 1
    assert "Explodes" in result.stderr and "boom" in result.stderr
    document = json.loads(result.stdout)
    assert list(document["strategies"]) == ["bigbang"]
    assert "Explodes" in document["errors"]


def test_every_problem_of_a_file_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = DEFAULT.replace("users = 1000", 'users = 1000\nsegments = [{name = "a", share = 0.5}]')
    text = text.replace("rate = 10", "rate = -1").replace('"1h"', '"-1h"')
    path = write(tmp_path, text)
    result = invoke("validate", path)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 3, lines
    fields = {line.removeprefix(f"rollout-sim: error: {path}: ").split(":")[0] for line in lines}
    assert fields == {"horizon", "population.segments", "traffic.rate"}, lines


def test_every_bad_strategy_is_reported(tmp_path: Path) -> None:
    text = DEFAULT + '[[strategies]]\nname = "c"\nuse = "canary"\nparams = { bake = "soon" }\n'
    text += '[[strategies]]\nname = "d"\nuse = "nope"\n'
    lines = invoke("validate", write(tmp_path, text)).stderr.strip().splitlines()
    assert len(lines) == 2
    assert "strategies.1:" in lines[0] and "bake" in lines[0]
    assert "strategies.2:" in lines[1] and "unknown strategy 'nope'" in lines[1]


def test_a_plugin_path_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    folder = tmp_path / "workshop"
    folder.mkdir()
    (folder / "mine.py").write_text(
        "from sim import Decision\nclass Mine:\n    def decide(self, obs):\n        return Decision.done()\n"
    )
    path = write(folder, DEFAULT.replace('name = "bigbang"', 'name = "mine"\nuse = "mine.py:Mine"'))
    result = invoke("compare", path, "-n", "2")
    assert result.exit_code == 0, result.output


def test_usage_errors_are_one_line_with_exit_2() -> None:
    for args in (["compare", "--seed", "-1"], ["validate"], ["nope"], ["run", "--every", "0s"]):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_run_where_every_strategy_fails_names_it_and_exits_1() -> None:
    result = invoke("run", "--strategy", plugin("Explodes"))
    assert result.exit_code == 1 and "boom" in result.stderr and "Traceback" not in result.output


def test_run_json_rows_have_the_documented_fields() -> None:
    from sim.experiments import TIMELINE_COLUMNS
    from sim.measures import RunMeasures

    document = json.loads(invoke("run", "--json", "--strategy", "canary").stdout)
    canary = document["strategies"]["canary"]
    assert set(canary["measures"]) == set(RunMeasures.__dataclass_fields__)
    assert all(set(row) == set(TIMELINE_COLUMNS) for row in canary["timeline"])
    times_and_events = [(row["time_s"], row["event"]) for row in canary["timeline"]]
    assert len(times_and_events) == len(set(times_and_events)), "no duplicate rows"


def test_list_verbose_shows_every_strategy_with_params_and_source_and_every_preset() -> None:
    import sim

    output = invoke("list", "strategies", "-v").output
    for name in sim.installed_strategies():
        assert f"  {name} " in output
    assert output.count("params:") == len(sim.installed_strategies())
    assert output.count("source:") == len(sim.installed_strategies())
    presets = invoke("list", "presets", "-v").output
    assert "flagger-docs" in presets and "source:" in presets
