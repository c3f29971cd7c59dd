"""Loading strategies: by installed name, by path, and clear errors for broken ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim import Decision
from sim.cli import cli
from sim.plugins import PluginError, installed_strategies, load_strategy_class
from tests.generators import make_scenario, plugin

WORKSHOP_PLUGIN = '''
from sim import Decision, Observation


class TwoStep:
    """10% of users for 15 minutes, then everyone, unless the analysis failed."""

    unit = "user"

    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        return Decision.set(0.1, wait=60) if obs.now < 900 else Decision.done()
'''


def test_built_ins_are_found_through_the_entry_point_group() -> None:
    assert {"bigbang", "canary"} <= set(installed_strategies())
    assert load_strategy_class("canary").__name__ == "Canary"


def test_a_users_strategies_py_does_not_shadow_ours(tmp_path: Path) -> None:
    path = tmp_path / "strategies.py"
    path.write_text(WORKSHOP_PLUGIN)
    cls = load_strategy_class(f"{path}:TwoStep")
    assert cls.__module__.startswith("_rollout_sim_plugin_")
    assert load_strategy_class("canary").__module__ == "strategies.canary"


def test_a_twenty_line_plugin_runs_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "two_step.py"
    path.write_text(WORKSHOP_PLUGIN)
    result = CliRunner().invoke(cli, ["compare", "-n", "3", "--strategy", "bigbang", "--strategy", f"{path}:TwoStep"])
    assert result.exit_code == 0, result.output
    assert "TwoStep" in result.output


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nope", "unknown strategy 'nope'; installed: abtest, argo, bigbang, bluegreen, canary"),
        ("missing.py:X", "no such file missing.py"),
        (f"{Path(__file__).parent.parent / 'plugins' / 'hold.py'}:Nope", "has no 'Nope'"),
        (f"{Path(__file__).parent.parent / 'plugins' / 'hold.py'}:Observation", "not a class with a decide"),
    ],
)
def test_load_errors_name_the_plugin(reference: str, message: str) -> None:
    with pytest.raises(PluginError, match=message.replace("(", r"\(")):
        load_strategy_class(reference)


def test_a_plugin_that_fails_to_import_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import not_a_module_anywhere\n")
    with pytest.raises(PluginError, match="failed to import: ModuleNotFoundError"):
        load_strategy_class(f"{path}:X")


def test_a_bad_decision_is_reported_and_the_others_still_run() -> None:
    scenario = make_scenario(
        strategies=[{"name": "bigbang"}, {"name": "bad", "use": plugin("BadWeight")}],
    )
    comparison = sim.compare(scenario, replications=2)
    assert list(comparison.summaries) == ["bigbang"]
    assert "weight must be a number between 0 and 1" in comparison.errors["bad"]


def test_the_readme_plugin_is_about_twenty_lines() -> None:
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.DOTALL).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 20


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        (Decision.set("0.5", wait=60), "weight must be a number"),
        (Decision.set(0.5, wait=1e-9), "wait must be a positive number"),
        (Decision.set(float("nan"), wait=60), "weight must be a number"),
        (Decision.set(0.5, wait=0), "wait must be a positive number"),
        (Decision("jump"), "action must be"),
    ],
)
def test_bad_decisions_are_named_not_crashed_on(decision: Decision, problem: str) -> None:
    assert problem in decision.problem()


def test_a_judge_window_shorter_than_the_scrape_interval_is_refused_naming_the_field() -> None:
    from sim.plugins import check_strategies
    from sim.scenario import ScenarioError, scenario_from_dict
    from tests.generators import scenario_dict

    judges = {"j": {"use": "threshold", "params": {"window": "30s"}}}
    data = scenario_dict(strategies=[{"name": "canary", "judges": judges}], telemetry={"scrape_interval": "1m"})
    with pytest.raises(ScenarioError, match=r"strategies\.0: .*judge 'j'.*window \(30 s\) is shorter than telemetry"):
        check_strategies(scenario_from_dict(data))
    data["telemetry"]["scrape_interval"] = "30s"
    check_strategies(scenario_from_dict(data))


def test_the_default_analysis_window_widens_to_the_scrape_interval_and_a_shorter_one_set_is_refused() -> None:
    from sim.plugins import strategy_judges
    from sim.scenario import ScenarioError, scenario_from_dict
    from tests.generators import scenario_dict

    scenario = scenario_from_dict(scenario_dict(telemetry={"scrape_interval": "5m"}))
    assert strategy_judges(scenario, scenario.strategies[0])["analysis"].params["window"] == 300.0
    data = scenario_dict(telemetry={"scrape_interval": "5m"}, detection={"analysis": {"window": "1m"}})
    with pytest.raises(ScenarioError, match=r"detection\.analysis\.window \(60 s\) is shorter than telemetry"):
        scenario_from_dict(data)
