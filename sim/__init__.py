"""rollout-sim: a discrete-event testbed for progressive delivery.

The public API. Strategies (built-in or plugins) import only from here.
"""

from sim.catalog import bundled_scenarios
from sim.contract import AnalysisStatus, Decision, Observation, Strategy, VersionStats
from sim.durations import format_duration, parse_duration
from sim.experiments import compare, run
from sim.measures import OUTCOMES, RunMeasures
from sim.plugins import PluginError, installed_strategies, load_strategy_class
from sim.results import Comparison, MetricSummary, RunResult, StrategySummary
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_json_schema
from sim.sweeps import SweepResult, sweep

__all__ = [
    "OUTCOMES",
    "AnalysisStatus",
    "Comparison",
    "Decision",
    "MetricSummary",
    "Observation",
    "PluginError",
    "RunMeasures",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Strategy",
    "StrategySummary",
    "SweepResult",
    "VersionStats",
    "bundled_scenarios",
    "compare",
    "format_duration",
    "installed_strategies",
    "load_scenario",
    "load_strategy_class",
    "parse_duration",
    "run",
    "scenario_json_schema",
    "sweep",
]
