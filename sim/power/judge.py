"""The judge a power run studies: the one its strategy acts on, built from its spec, and whether its canary
needs a baseline arm (the judge compares against one, or the strategy had one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.plugins import PluginError, load_judge_class, resolve_preset, strategy_judges
from sim.scenario import JudgeSpec, Scenario, ScenarioError, StrategySpec


@dataclass(frozen=True)
class StudiedJudge:
    name: str  # its name among the strategy's judges
    spec: JudgeSpec
    built: Any  # the judge object, to read its params as the engine does
    baseline: bool  # its canary gets a baseline arm of the same weight


def studied_judge(scenario: Scenario, strategy: str | None) -> StudiedJudge:
    """The judge the strategy acts on (its ``judge`` param) or its first."""
    spec = _strategy(scenario, strategy)
    judges = strategy_judges(scenario, spec)
    if not judges:
        raise ScenarioError("the strategy has no judge to study (detection.analysis is disabled)")
    named = spec.params.get("judge")
    name = named if isinstance(named, str) and named in judges else next(iter(judges))
    built = build_judge(judges[name], name)
    baseline = getattr(built, "against", None) == "baseline" or spec.params.get("baseline") is True
    return StudiedJudge(name, judges[name], built, baseline)


def _strategy(scenario: Scenario, strategy: str | None) -> StrategySpec:
    """The strategy named, else the scenario's first, else the built-in canary; its preset resolved."""
    specs = {spec.name: spec for spec in scenario.strategies}
    if strategy is None:
        chosen = scenario.strategies[0] if scenario.strategies else StrategySpec(name="canary")
    elif strategy in specs:
        chosen = specs[strategy]
    else:
        raise ScenarioError(f"--strategy: no strategy {strategy!r} in the scenario (it has {', '.join(specs)})")
    return resolve_preset(chosen)


def build_judge(judge: JudgeSpec, name: str) -> Any:
    try:
        return load_judge_class(judge.use)(**judge.params)
    except PluginError:
        raise
    except Exception as error:  # bad params: the scenario's own check words them the same way
        raise ScenarioError(f"judge {name!r} ({judge.use}): bad params: {error}") from None
