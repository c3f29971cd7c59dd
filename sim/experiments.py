"""Running strategies: one replication with its timeline (``run``) or many side by side (``compare``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.catalog import resolve_scenario
from sim.engine import BLOCK_SIZE, run_block
from sim.plugins import PluginError, strategy_factory
from sim.population import build_cohorts
from sim.results import Comparison, RunResult, StrategySummary
from sim.scenario import Scenario, ScenarioError, StrategySpec, load_scenario
from sim.world import TIMELINE_COLUMNS

Progress = Callable[[int], None]
"""Called with the number of replications finished so far."""


def as_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    """A Scenario object from an object, a file path, a bundled name, or None (the default)."""
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(resolve_scenario(scenario))


def select_strategies(scenario: Scenario, names: Sequence[str] | None) -> list[StrategySpec]:
    """The scenario's strategies, or those named; a name not in the scenario may be any installed one."""
    if not names:
        return list(scenario.strategies)
    by_name = {spec.name: spec for spec in scenario.strategies}
    return [by_name.get(name) or StrategySpec(name=_label(name), use=name) for name in names]


def _label(reference: str) -> str:
    path, colon, class_name = reference.rpartition(":")
    return class_name if colon and path.endswith(".py") else reference


def _block_seeds(seed: int, blocks: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(blocks)


def compare(
    scenario: Scenario | str | Path | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    strategies: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Run every strategy on the same replications (common random numbers) and summarise them."""
    scenario = as_scenario(scenario)
    seed = scenario.seed if seed is None else seed
    replications = scenario.replications if replications is None else replications
    if replications < 1:
        raise ScenarioError(f"replications must be at least 1, got {replications}")
    factories = {spec.name: strategy_factory(spec) for spec in select_strategies(scenario, strategies)}
    cohorts = build_cohorts(scenario)
    rows: list[dict] = []
    errors: dict[str, str] = {}
    blocks = -(-replications // BLOCK_SIZE)
    for block, child in enumerate(_block_seeds(seed, blocks)):
        first = block * BLOCK_SIZE
        wanted = min(BLOCK_SIZE, replications - first)
        for name, make in factories.items():
            if name in errors:
                continue
            try:
                measures, _ = run_block(scenario, cohorts, make, name, child)
            except PluginError as error:
                errors[name] = str(error)
                continue
            rows.extend(
                {"replication": first + j, "strategy": name, **m.as_dict()} for j, m in enumerate(measures[:wanted])
            )
        if progress:
            progress(first + wanted)
    runs = pd.DataFrame(rows).sort_values(["replication"], kind="stable", ignore_index=True) if rows else pd.DataFrame()
    summaries = {
        name: StrategySummary.of(name, runs[runs["strategy"] == name]) for name in factories if name not in errors
    }
    return Comparison(
        scenario=scenario.name,
        seed=seed,
        replications=replications,
        population=cohorts.population,
        healthy=scenario.healthy,
        runs=runs,
        summaries=summaries,
        errors=errors,
    )


def run(
    scenario: Scenario | str | Path | None = None,
    *,
    seed: int | None = None,
    replication: int = 0,
    strategies: Sequence[str] | None = None,
) -> RunResult:
    """One replication of each strategy, with the timeline of every control step.

    Replication k here is replication k of ``compare`` with the same seed.
    """
    scenario = as_scenario(scenario)
    seed = scenario.seed if seed is None else seed
    block, traced = divmod(replication, BLOCK_SIZE)
    child = _block_seeds(seed, block + 1)[block]
    cohorts = build_cohorts(scenario)
    factories = {spec.name: strategy_factory(spec) for spec in select_strategies(scenario, strategies)}
    measures, timelines, errors = [], [], {}
    for name, make in factories.items():
        try:
            results, timeline = run_block(scenario, cohorts, make, name, child, traced=traced)
        except PluginError as error:
            errors[name] = str(error)
            continue
        measures.append({"strategy": name, **results[traced].as_dict()})
        frame = pd.DataFrame(timeline, columns=TIMELINE_COLUMNS)
        timelines.append(frame.assign(strategy=name))
    empty = pd.DataFrame(columns=[*TIMELINE_COLUMNS, "strategy"])
    return RunResult(
        scenario=scenario.name,
        seed=seed,
        replication=replication,
        population=cohorts.population,
        measures=pd.DataFrame(measures),
        timeline=pd.concat(timelines, ignore_index=True) if timelines else empty,
        errors=errors,
    )
