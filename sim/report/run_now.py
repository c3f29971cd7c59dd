"""Reports of results run now: ``comparison_now`` runs ``compare`` and ``sweep_now`` runs (or resumes)
the scenario's sweep, with the work ceiling and the progress bar of ``rollout-sim compare`` and
``rollout-sim sweep``, then assemble the report and the commands that give the same numbers. The
command line's helpers are imported when a run starts: ``sim.cli`` is the one to import this package.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from rich.console import Console

from sim.executors import Executor, make_executor
from sim.experiments import compare, select_strategies
from sim.plugins import check_strategies
from sim.report.assemble import Report, comparison_report, sweep_report
from sim.report.reproduce import report_argv, scenario_facts, strategy_flags
from sim.report.sweeps import sweep_data
from sim.scenario import Scenario, ScenarioError
from sim.sweeps import SweepPlan, finish_sweep, parse_goal, prepare_sweep, run_sweep


@dataclass(frozen=True)
class Run:
    """What ``rollout-sim report`` was asked to run now."""

    scenario: Scenario
    reference: str | None  # SCENARIO as given (a file or a bundled name); None: the default scenario
    seed: int | None
    replications: int | None
    strategies: tuple[str, ...]
    workers: int | None
    force: bool
    name: str  # the report folder's, checked
    out: str
    goal: str | None = None  # --goal as given (a sweep's report), checked

    @property
    def shown(self) -> str:
        """The scenario as the commands that reproduce the report name it."""
        return self.reference if self.reference is not None else self.scenario.name


def comparison_now(run: Run, console: Console, announce: Callable[[str], None]) -> tuple[Report, dict[str, str]]:
    """The steps of ``rollout-sim compare`` (sim.cli has them inline, not as a function to call here)."""
    from sim.cli import _announce, _imported, _progress_bar
    from sim.cost import estimate

    loaded = run.scenario
    total = run.replications or loaded.replications
    chosen = _imported(run.strategies)
    specs = select_strategies(loaded, chosen)
    check_strategies(loaded, specs)
    _announce(estimate(loaded, specs, total), run.force)
    with _progress_bar(console) as bar:
        task = bar.add_task("runs", total=None)
        result = compare(
            loaded,
            seed=run.seed,
            replications=total,
            strategies=chosen,
            progress=lambda done, runs: bar.update(task, completed=done, total=runs),
            workers=run.workers,
        )
    document = result.to_dict()
    flags = ["--seed", str(result.seed), "-n", str(result.replications), *strategy_flags(run.strategies)]
    commands = [
        (
            "The same numbers as JSON (the summary tables above show this document):",
            ["rollout-sim", "compare", run.shown, *flags, "--json"],
        ),
        ("This report:", report_argv(run.reference, run.name, loaded.name, run.out, extra=flags)),
    ]
    notes = [
        f"Run now: seed {result.seed}, {result.replications:,} replications. A replication depends only on the "
        "scenario, the seed and its index, never on the number of workers."
    ]
    facts = [("seed", str(result.seed)), ("replications", f"{result.replications:,}"), *scenario_facts(loaded)]
    runs = None if result.streamed else result.runs
    report = comparison_report(document, runs, loaded, commands, facts, notes, announce)
    return report, dict(result.errors)


def sweep_now(run: Run, console: Console, announce: Callable[[str], None]) -> tuple[Report, dict[str, str]]:
    """The steps of ``rollout-sim sweep`` (sim.cli has them inline): the items an earlier run of the same
    sweep saved are read, not run again."""
    from sim.cli import _announce
    from sim.cost import sweep_estimate

    if run.strategies:
        raise ScenarioError("--strategy: a sweep runs the scenario's strategies (a grid axis may change them)")
    loaded = run.scenario
    conditions = parse_goal(run.goal) if run.goal is not None else None
    plan = prepare_sweep(loaded, None, seed=run.seed, replications=run.replications, out=run.out, goal=conditions)
    _announce(sweep_estimate([item.scenario for item in plan.pending()], plan.replications), run.force)
    executor = make_executor("local", run.workers, None)
    already = len(plan.done())
    console.print(
        f"sweep: {len(plan.points)} points, {len(plan.items)} scenario variants "
        f"({already} already done) x {plan.replications} replications -> {plan.directory}"
    )
    result = finish_sweep(plan, _run_items(plan, executor, console), conditions)
    console.print(f"wrote {result.parquet} and {result.csv}")
    data = sweep_data(result.table, [axis.path for axis in plan.axes], conditions)
    flags = ["--seed", str(plan.seed), "-n", str(plan.replications)]
    goal = ["--goal", run.goal] if run.goal is not None else []
    out = ["--out", run.out] if run.out != "reports" else []
    commands = [
        (
            "The sweep (its table and saved items; run again, it only reads them):",
            ["rollout-sim", "sweep", run.shown, *flags, *goal, *out],
        ),
        (
            "This report:",
            report_argv(run.reference, run.name, f"{loaded.name}-sweep", run.out, sweep=True, extra=[*flags, *goal]),
        ),
    ]
    notes = [
        f"Run now: seed {plan.seed}, {plan.replications:,} replications per grid point; {already} of the "
        f"{len(plan.items)} scenario variants were saved by an earlier run of the same sweep and read, not run again. "
        f"Table: {result.parquet} and {result.csv}; saved items: {plan.directory}."
    ]
    facts = [
        ("seed", str(plan.seed)),
        ("replications per grid point", f"{plan.replications:,}"),
        *scenario_facts(loaded),
    ]
    report = sweep_report(data, loaded.name, loaded, commands, facts, notes, str(plan.seed), announce)
    return report, dict(result.errors)


def _run_items(plan: SweepPlan, executor: Executor, console: Console) -> dict[str, str]:
    """The sweep's pending items, run with a progress bar; stopped, what is saved and how to go on is
    said as ``rollout-sim sweep`` says it. The errors, by item."""
    from sim.cli import _progress_bar

    try:
        with _progress_bar(console) as bar:
            task = bar.add_task("tasks", total=None)
            return run_sweep(plan, executor, lambda n, total: bar.update(task, completed=n, total=total))
    except (KeyboardInterrupt, BrokenProcessPool) as stop:
        why = "interrupted" if isinstance(stop, KeyboardInterrupt) else "a worker process died"
        console.print(
            f"{why}: {len(plan.done())} of {len(plan.items)} variants saved in {plan.directory}; "
            "run the same command again to finish the rest"
        )
        raise SystemExit(130 if isinstance(stop, KeyboardInterrupt) else 1) from None
