"""Grid axes: parsing PATH=VALUES and applying them to a scenario."""

from __future__ import annotations

import pytest

from sim.grid import parse_axis, points, variant
from sim.scenario import ScenarioError
from tests.generators import scenario_dict


def test_values_are_toml_literals_or_bare_strings() -> None:
    axis = parse_axis('strategies.canary.steps=[0.1, 0.5],[0.2], "x", 10m , 3, true')
    assert axis.path == "strategies.canary.steps"
    assert axis.values == ([0.1, 0.5], [0.2], "x", "10m", 3, True)


@pytest.mark.parametrize("option", ["nothing", "=1,2", "path=", " = "])
def test_malformed_axes_are_refused(option: str) -> None:
    with pytest.raises(ScenarioError, match="expected PATH=VALUE"):
        parse_axis(option)


def test_points_cross_every_axis_last_fastest() -> None:
    axes = [parse_axis("a=1,2"), parse_axis("b=x,y,z")]
    assert [tuple(p.values()) for p in points(axes)] == [
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (2, "x"),
        (2, "y"),
        (2, "z"),
    ]


def test_strategy_paths_reach_params_by_strategy_name() -> None:
    base = scenario_dict(
        strategies=[{"name": "bigbang"}, {"name": "c", "use": "canary", "params": {"steps": [0.1, 0.5]}}]
    )
    scenario = variant(base, {"strategies.c.steps.0": 0.3, "strategies.c.bake": "5m", "release.defect.harm": 0.2}, "t")
    assert scenario.strategies[1].params == {"steps": [0.3, 0.5], "bake": "5m"}
    assert scenario.release.defect.harm == 0.2


def test_a_path_can_create_a_defect_on_a_healthy_base() -> None:
    scenario = variant(scenario_dict(release={}), {"release.defect.harm": 0.1}, "t")
    assert scenario.release.defect.harm == 0.1


def test_unknown_names_and_bad_values_name_the_point() -> None:
    with pytest.raises(ScenarioError, match="no strategy 'nope' in strategies"):
        variant(scenario_dict(), {"strategies.nope.bake": "5m"}, "t")
    with pytest.raises(ScenarioError, match=r"t \[traffic.rate=-1\]: traffic.rate: Input should be greater than 0"):
        variant(scenario_dict(), {"traffic.rate": -1}, "t")
