"""Reports of saved results (``--from``): a ``compare --json`` document or a sweep's table, described
with the scenario given, or else with the bundled scenario the results name, when it matches them.
What the saved results do not record is said in the report: that the runs are not there, which
versions computed them, and (for a sweep's table) whether its seed was checked or assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.catalog import bundled_scenarios
from sim.experiments import as_scenario
from sim.grid import axes_from_table
from sim.population import build_cohorts
from sim.report.assemble import Report, comparison_report, sweep_report
from sim.report.folder import check_name, check_out
from sim.report.reproduce import report_argv, scenario_facts, strategy_flags
from sim.report.saved import find_saved, read_comparison, read_sweep_table, table_axes
from sim.report.sweeps import sweep_data
from sim.scenario import Scenario, ScenarioError
from sim.sweeps import parse_goal, plan_sweep


@dataclass(frozen=True)
class _Request:
    """What ``rollout-sim report --from`` was given."""

    source: str  # --from as given
    saved: Path  # the file it names
    reference: str | None  # SCENARIO as given
    given: Scenario | None  # that scenario, loaded
    name: str | None  # --name
    out: str

    def described(self, saved_name: str | None) -> Scenario | None:
        """The scenario to describe: the one given, else the bundled scenario the saved results name."""
        if self.given is not None:
            return self.given
        return as_scenario(saved_name) if saved_name is not None and saved_name in bundled_scenarios() else None

    def shown(self, saved_name: str) -> str:
        """The scenario as the commands that reproduce the report name it."""
        return self.reference if self.reference is not None else saved_name


def report_from_saved(
    source: str,
    reference: str | None,
    *,
    sweep: bool,
    seed: int | None,
    goal: str | None = None,
    name: str | None,
    out: str,
    announce: Callable[[str], None],
) -> tuple[Report, str]:
    """The report of the results ``--from`` names, and its folder's name."""
    given = as_scenario(reference) if reference is not None else None
    saved = find_saved(Path(source), given.name if given is not None else None)
    request = _Request(source, saved, reference, given, name, out)
    if saved.suffix in (".parquet", ".csv"):
        return _sweep_from_table(request, seed, goal)
    if sweep:
        raise ScenarioError(f"--sweep: --from {saved} is a comparison, not a sweep's table")
    if goal is not None:
        raise ScenarioError(f"--goal: --from {saved} is a comparison; a goal asks which setting of a sweep to use")
    if seed is not None:
        raise ScenarioError(f"--seed: --from {saved} records its seed; leave out --seed")
    return _comparison_from_file(request, announce)


def _versions_note(what: str) -> str:
    return f"The versions below are those that wrote this report; the {what} does not record the ones that computed it."


def _comparison_from_file(request: _Request, announce: Callable[[str], None]) -> tuple[Report, str]:
    saved, reference = request.saved, request.reference
    document = read_comparison(saved)
    notes = [f"Read from {saved}, the document rollout-sim compare --json printed: the runs themselves are not in it."]
    loaded = request.described(document["scenario"])
    if loaded is not None:
        loaded = _matching(document, loaded, request, notes)
    if loaded is not None:
        order = {spec.name: i for i, spec in enumerate(loaded.strategies)}
        document["strategies"] = dict(
            sorted(document["strategies"].items(), key=lambda item: order.get(item[0], len(order)))
        )
    name = check_name(request.name or document["scenario"])
    check_out(Path(request.out), name)
    flags = ["--seed", str(document["seed"]), "-n", str(document["replications"])]
    if loaded is None or [spec.name for spec in loaded.strategies] != list(document["strategies"]):
        flags += strategy_flags(document["strategies"])
    commands = [
        (
            "The command that makes this document (the numbers of this report):",
            ["rollout-sim", "compare", request.shown(document["scenario"]), *flags, "--json"],
        ),
        (
            "This report from the saved document:",
            report_argv(reference, name, document["scenario"], request.out, source=request.source),
        ),
    ]
    facts = [
        ("seed", str(document["seed"])),
        ("replications", f"{document['replications']:,}"),
        *scenario_facts(loaded),
    ]
    notes.append(_versions_note("document"))
    return comparison_report(document, None, loaded, commands, facts, notes, announce), name


def _matching(document: dict[str, Any], loaded: Scenario, request: _Request, notes: list[str]) -> Scenario | None:
    """``loaded`` if the document is a comparison of it; a bundled scenario that does not match is not
    described (said in ``notes``); a scenario given that does not match is an error."""
    population = build_cohorts(loaded).population
    mismatch = (
        loaded.name != document["scenario"]
        or population != document["population"]
        or loaded.healthy != document["healthy"]
    )
    if mismatch and request.reference is not None:
        raise ScenarioError(
            f"--from {request.saved}: a comparison of scenario {document['scenario']!r} ({document['population']:,} "
            f"users, {'healthy' if document['healthy'] else 'defective'}), not of {request.reference} "
            f"({loaded.name!r}, {population:,} users, {'healthy' if loaded.healthy else 'defective'})"
        )
    if mismatch:
        notes.append(f"The bundled scenario {loaded.name} does not match the document: it is not described.")
        return None
    if request.reference is None:
        notes.append(f"The scenario is described from the bundled scenario {loaded.name} (the document names it).")
    return loaded


def _sweep_from_table(request: _Request, seed: int | None, goal: str | None) -> tuple[Report, str]:
    saved = request.saved
    table = read_sweep_table(saved)
    axes = table_axes(table)
    stem = saved.name.rsplit("-sweep.", 1)[0] if "-sweep." in saved.name else None
    loaded = request.described(stem)
    scenario_name = loaded.name if loaded is not None else (stem or saved.stem)
    data = sweep_data(table, axes, parse_goal(goal) if goal is not None else None)
    notes = [f"Read from {saved}, the table of a sweep (means, medians, p95 and intervals per grid point)."]
    used_seed = None  # the table does not record its seed: the one given, or the scenario's, is assumed
    shown_seed = "not recorded in the table"
    checked = None
    if loaded is not None:
        used_seed = loaded.seed if seed is None else seed
        checked = _saved_items(loaded, axes, used_seed, data.replications, saved.parent)
        notes.append(_seed_note(loaded, used_seed, seed is not None, checked, data.replications))
        if checked is not None:
            shown_seed = str(used_seed)
        else:
            shown_seed = f"{used_seed} ({'given' if seed is not None else 'the scenario'}'s; not checked)"
        if request.reference is None:
            notes.append(f"The scenario is described from the bundled scenario {loaded.name} (the table's name).")
    name = check_name(request.name or f"{scenario_name}-sweep")
    check_out(Path(request.out), name)
    flags = ["--seed", str(used_seed)] if used_seed is not None else []
    flags += ["-n", str(data.replications)] if data.replications is not None else []
    assumed = "" if checked is not None else " (the seed as assumed above)"
    goal_flags = ["--goal", goal] if goal is not None else []
    again = [*(["--seed", str(seed)] if seed is not None else []), *goal_flags]
    commands = [
        (
            f"The sweep that makes this table{assumed}:",
            ["rollout-sim", "sweep", request.shown(scenario_name), *flags, *goal_flags, "--out", str(saved.parent)],
        ),
        (
            "This report from the saved table:",
            report_argv(
                request.reference, name, f"{scenario_name}-sweep", request.out, source=request.source, extra=again
            ),
        ),
    ]
    replications = f"{data.replications:,}" if data.replications is not None else "unknown"
    facts = [("seed", shown_seed), ("replications per grid point", replications), *scenario_facts(loaded)]
    notes.append(_versions_note("table"))
    return sweep_report(data, scenario_name, loaded, commands, facts, notes, shown_seed), name


def _seed_note(scenario: Scenario, seed: int, given: bool, checked: Path | None, replications: int | None) -> str:
    if checked is not None:
        return (
            f"Checked: {checked} holds the saved items of exactly this scenario, grid, seed {seed}, "
            f"{replications:,} replications and simulator code."
        )
    return (
        f"Not checked: no saved sweep folder beside the table matches scenario {scenario.name}, its [sweep] "
        f"grid, seed {seed} ({'--seed' if given else 'the scenario seed'}) and "
        f"{replications} replications with this code; the seed below is an assumption (give --seed)."
    )


def _saved_items(scenario: Scenario, axes: list[str], seed: int, replications: int | None, folder: Path) -> Path | None:
    """The folder of saved items beside the table that exactly this scenario, its [sweep] grid, seed,
    replications and simulator code made, if it is there."""
    grid = axes_from_table(scenario.sweep.grid) if scenario.sweep is not None else []
    if [axis.path for axis in grid] != axes or replications is None:
        return None
    try:
        plan = plan_sweep(scenario, grid, seed, replications, folder)
    except ScenarioError:
        return None
    return plan.directory if plan.directory.is_dir() else None
