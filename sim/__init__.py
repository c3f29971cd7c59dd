"""rollout-sim: a discrete-event testbed for progressive delivery.

The public API. Strategies and judges (built-in or plugins) import only from here.
"""

from sim.catalog import bundled_scenarios
from sim.contract import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    RUNNING,
    Alert,
    AnalysisStatus,
    Arm,
    Decision,
    Exposure,
    Judge,
    JudgeData,
    JudgeView,
    Observation,
    RollbackStyle,
    Strategy,
    Verdicts,
    VersionStats,
)
from sim.durations import format_duration, parse_duration
from sim.experiments import compare, run
from sim.lane import Event
from sim.latency import histogram_quantile
from sim.measures import OUTCOMES, RunMeasures
from sim.plugins import (
    Duration,
    PluginError,
    installed_judges,
    installed_strategies,
    load_judge_class,
    load_strategy_class,
)
from sim.results import Comparison, MetricSummary, RunResult, StrategySummary
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_json_schema
from sim.simulation import BLOCK_SIZE, Simulation
from sim.sweeps import SweepResult, sweep

__all__ = [
    "BLOCK_SIZE",
    "FAILED",
    "INCONCLUSIVE",
    "OUTCOMES",
    "PASSED",
    "RUNNING",
    "Alert",
    "AnalysisStatus",
    "Arm",
    "Comparison",
    "Decision",
    "Duration",
    "Event",
    "Exposure",
    "Judge",
    "JudgeData",
    "JudgeView",
    "MetricSummary",
    "Observation",
    "PluginError",
    "RollbackStyle",
    "RunMeasures",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Strategy",
    "StrategySummary",
    "SweepResult",
    "Verdicts",
    "VersionStats",
    "bundled_scenarios",
    "compare",
    "format_duration",
    "histogram_quantile",
    "installed_judges",
    "installed_strategies",
    "load_judge_class",
    "load_scenario",
    "load_strategy_class",
    "parse_duration",
    "run",
    "scenario_json_schema",
    "sweep",
]
