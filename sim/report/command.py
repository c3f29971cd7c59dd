"""The ``rollout-sim report`` command: its options, the checks made before any work (matplotlib is
installed, ``--name``, the options ``--from`` leaves out), then a report run now or read from saved
results, written as ``OUT/NAME`` (docs/report.md). Plugin errors of a run are said, and the report is
still written (exit code 1), as ``compare`` and ``sweep`` do.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from sim.experiments import as_scenario
from sim.report.folder import check_name, check_out, write_folder
from sim.report.from_saved import report_from_saved
from sim.report.run_now import Run, comparison_now, sweep_now
from sim.scenario import ScenarioError
from sim.sweeps import parse_goal


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """``sim.cli._friendly`` (one-line errors, exit code 2), looked up when the command runs: sim.cli
    imports this package to register the command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sim.cli import _friendly as friendly

        return friendly(command)(*args, **kwargs)

    return wrapper


# --seed, --strategy, --workers and --force are sim.cli's seed_option, strategy_option, workers_option and
# force_option, repeated: the decorators run when this module loads, and it must not import sim.cli then.
@click.command("report")
@click.argument("scenario", required=False)
@click.option("--sweep", "is_sweep", is_flag=True, help="Run the scenario's sweep ([sweep] table) instead of compare.")
@click.option(
    "--from",
    "source",
    metavar="PATH",
    help="Read saved results instead of running: a saved compare --json document, a sweep's table (.parquet or .csv), "
    "or a folder holding one.",
)
@click.option(
    "--goal",
    metavar="CONDITIONS",
    help="A sweep's report only: which setting to use, as rollout-sim sweep --goal answers it, e.g. "
    "'users_harmed<=500,false_rollback<=0.05' (docs/sweeps.md).",
)
@click.option("--name", metavar="NAME", help="Report folder name (default: the scenario's name, plus -sweep).")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True, help="Output folder.")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@click.option("--replications", "-n", type=click.IntRange(min=1), help="Replications (per grid point with --sweep).")
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="NAME",
    help="Run only these (repeatable): a strategy of the scenario, an installed one, or path/file.py:Class.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Local worker processes (default: all cores; results never change)."
)
@click.option(
    "--force", is_flag=True, help="Run even when the estimated work is over the ceiling (1 h, 2M ticks per block)."
)
@_friendly
def report_command(
    scenario: str | None,
    is_sweep: bool,
    source: str | None,
    goal: str | None,
    name: str | None,
    out: str,
    seed: int | None,
    replications: int | None,
    strategies: tuple[str, ...],
    workers: int | None,
    force: bool,
) -> None:
    """Write reports/NAME/report.md and a self-contained report.html with charts, from a comparison or a
    sweep run now (SCENARIO: a file or a bundled name; default: default) or read with --from (docs/report.md).
    A sweep's report has the frontier rollout-sim sweep prints and, with --goal, its answer."""
    console = Console(stderr=True)
    if importlib.util.find_spec("matplotlib") is None:  # said before any work, not after it
        raise ScenarioError("report draws its charts with matplotlib: pip install 'matplotlib>=3.8'")
    if name is not None:
        check_name(name)
    if goal is not None:
        parse_goal(goal)  # a malformed goal is said before any work
        if source is None and not is_sweep:
            raise ScenarioError("--goal asks which setting of a sweep to use: add --sweep, or --from a sweep's table")

    def announce(what: str) -> None:
        console.print(f"rollout-sim: drawing the {what} (matplotlib)")

    errors: dict[str, str] = {}
    if source is not None:
        running = (("-n", replications), ("--strategy", strategies), ("--workers", workers), ("--force", force))
        leave_out = [flag for flag, value in running if value]
        if leave_out:
            raise ScenarioError(f"--from reads saved results: leave out {', '.join(leave_out)} (they run a simulation)")
        report, name = report_from_saved(
            source, scenario, sweep=is_sweep, seed=seed, goal=goal, name=name, out=out, announce=announce
        )
    else:
        loaded = as_scenario(scenario)
        name = check_name(name or (f"{loaded.name}-sweep" if is_sweep else loaded.name))
        check_out(Path(out), name)
        run = Run(loaded, scenario, seed, replications, strategies, workers, force, name, out, goal)
        report, errors = (sweep_now if is_sweep else comparison_now)(run, console, announce)
    for message in errors.values():  # plugin errors: the other strategies' report is still written
        click.echo(f"rollout-sim: {' '.join(message.split())}", err=True)
    write_folder(report.files(), Path(out), name, console)
    if errors:
        raise SystemExit(1)
