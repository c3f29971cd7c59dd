"""The ``rollout-sim`` command line. Bad input exits 2 with a one-line message per problem."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import inspect
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.catalog import bundled_scenarios, copy_scenario, resolve_scenario
from sim.cost import Work, estimate, sweep_estimate
from sim.durations import (
    compact_duration,
    format_clock,
    format_duration,
    parse_duration,
    parse_duration_text,
    short_repr,
)
from sim.executors import make_executor
from sim.experiments import as_scenario, compare, run, select_strategies
from sim.grid import parse_value, with_settings
from sim.guard import real_exit, set_budget
from sim.importers import import_file
from sim.plugins import (
    PluginError,
    check_strategies,
    installed_judges,
    installed_strategies,
    load_judge_class,
    load_strategy_class,
    presets,
)
from sim.power import power_curve
from sim.render import (
    comparison_table,
    frontier_table,
    goal_answer,
    measures_table,
    outcome_table,
    power_table,
    sweep_summary_table,
    timeline_table,
)
from sim.report import report_command
from sim.results import Comparison, RunResult
from sim.scenario import (
    Scenario,
    ScenarioError,
    closest,
    load_scenario,
    scenario_json_schema,
    split_file_reference,
)
from sim.sweeps import (
    GOAL_MEASURES,
    MAX_CONDITIONS,
    check_writable,
    finish_sweep,
    parse_goal,
    prepare_sweep,
    run_sweep,
    write_atomically,
)
from sim.templates import starter_strategy

BAD_INPUT = 2
WATCHERS = {
    "service_alert": "service-wide error rate above a threshold for a while; watches every strategy",
    "slo_burn": "SLO burn-rate alerts over a long and a short window (detection.slo_burn; caught_by slo_14.4x_1h)",
    "user_reports": "harmed users report after a delay; support escalates after k reports",
}


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad input into ``rollout-sim: error: ...`` lines and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ScenarioError, PluginError) as error:
            for line in str(error).splitlines():
                click.echo(f"rollout-sim: error: {_with_suggestion(line)}", err=True)
            sys.exit(BAD_INPUT)

    return wrapper


_UNKNOWN_PLUGIN = re.compile(r"unknown (strategy|judge) '([^']*)'(?=; installed: )")
_UNKNOWN_PARAM = re.compile(
    r"(strategy|judge) '[^']*' \(([^()]*)\): bad params: .*unexpected keyword argument '([^']*)'"
)


def _with_suggestion(line: str) -> str:
    """A plugin loader's error with the closest name: ``unknown strategy 'canery' (did you mean 'canary'?);
    installed: ...``, and the same for a judge or an unknown parameter."""
    if "did you mean" in line:
        return line
    try:
        if match := _UNKNOWN_PLUGIN.search(line):
            kind, name = match.groups()
            names = [*installed_strategies(), *presets()] if kind == "strategy" else list(installed_judges())
        elif match := _UNKNOWN_PARAM.search(line):
            kind, use, name = match.groups()
            cls = load_strategy_class(use) if kind == "strategy" else load_judge_class(use)
            accepted = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            names = [p.name for p in inspect.signature(cls).parameters.values() if p.kind in accepted]
        else:
            return line
    except Exception:  # whatever goes wrong here must not hide the error being reported
        return line
    near = closest(name, names)
    return line if near is None else f"{line[: match.end()]} (did you mean {near!r}?){line[match.end() :]}"


class _Duration(click.ParamType):
    """A duration option in the forms a scenario takes: 600 (seconds), 10m, 1h30m, 1.5h; within a range."""

    name = "duration"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        flag = param.opts[0] if param is not None and param.opts else "duration"
        try:
            seconds = _duration(str(value), flag)
        except ScenarioError as error:
            self.fail(str(error).removeprefix(f"{flag}: "), param, ctx)
        if not self.low <= seconds <= self.high:
            self.fail(
                f"must be from {compact_duration(self.low)} to {compact_duration(self.high)}, got {value!r}", param, ctx
            )
        return seconds


def _duration(text: str, flag: str) -> float:
    """Seconds from a command-line duration: a number (TOML's: 600, 1.5, 1e3) is seconds, as in a scenario
    file; otherwise 90s, 10m, 2h, 1d, 1h30m."""
    try:
        return parse_duration(parse_value(text, flag))
    except ValueError as error:  # ScenarioError is one too
        raise ScenarioError(f"{flag}: {str(error).removeprefix(f'{flag} ')}") from None


seed_option = click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
strategy_option = click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="NAME",
    help="Run only these (repeatable): a strategy of the scenario, an installed one, or path/file.py:Class.",
)
workers_option = click.option(
    "--workers", type=click.IntRange(min=1), help="Local worker processes (default: all cores; results never change)."
)
force_option = click.option(
    "--force", is_flag=True, help="Run even when the estimated work is over the ceiling (1 h, 2M ticks per block)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON document (docs/json.md).")
scenario_argument = click.argument("scenario", required=False)
set_option = click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change a scenario field (repeatable): PATH as in --grid (strategies.canary.params.bake=20m, "
    "release.defect.harm=0.01, telemetry.latency.median=0.2), VALUE a TOML value or a bare word (10m); "
    "the result is checked like a file, each field within its range (docs/scenarios.md).",
)


def _check_budget_variable() -> None:
    """A bad ROLLOUT_SIM_PLUGIN_TIMEOUT is bad input, as a bad --plugin-timeout is (not silently the default)."""
    value = os.environ.get("ROLLOUT_SIM_PLUGIN_TIMEOUT")
    if value is None:
        return
    try:
        seconds = parse_duration_text(value)
    except ValueError as error:
        seconds, problem = math.nan, str(error)
    else:
        problem = f"must be from 0.01s to 1d, got {short_repr(value)}"
    if not 0.01 <= seconds <= 86400.0:
        click.echo(f"rollout-sim: error: ROLLOUT_SIM_PLUGIN_TIMEOUT: {problem}", err=True)
        sys.exit(BAD_INPUT)


class _Commands(click.Group):
    """A click group whose own usage errors are also one line on stderr and exit code 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        _check_budget_variable()
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.ctx.get_help() if error.ctx else str(error))
            sys.exit(BAD_INPUT)
        except click.ClickException as error:
            where = f"{error.ctx.command_path}: " if getattr(error, "ctx", None) else ""
            click.echo(f"rollout-sim: error: {where}{error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("rollout-sim: interrupted", err=True)
            sys.exit(130)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rollout-sim")
@click.option(
    "--plugin-timeout",
    type=_Duration(0.01, 86400.0),
    metavar="DURATION",
    help="Wall-clock budget of one plugin call, 0.01s to 1d: seconds (5) or a duration (30s, 2m); default 5s; "
    "env ROLLOUT_SIM_PLUGIN_TIMEOUT.",
)
def cli(plugin_timeout: float | None) -> None:
    """How safe is our rollout, really? Simulate rollout strategies side by side.

    The words and measures are explained in docs/concepts.md. A plugin (strategy or judge) that
    raises, returns something invalid or runs past its budget is named in one line; the other
    strategies still run and the exit code is 1.
    """
    if plugin_timeout is not None:
        set_budget(plugin_timeout)
        os.environ["ROLLOUT_SIM_PLUGIN_TIMEOUT"] = str(plugin_timeout)  # worker processes too


@cli.command("compare")
@scenario_argument
@seed_option
@click.option("--replications", "-n", type=click.IntRange(min=1), help="Replications (default: the scenario's).")
@strategy_option
@set_option
@workers_option
@force_option
@json_option
@_friendly
def compare_command(
    scenario: str | None,
    seed: int | None,
    replications: int | None,
    strategies: tuple[str, ...],
    settings: tuple[str, ...],
    workers: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Compare strategies over many replications (SCENARIO: a file or a bundled name; default: default)."""
    loaded = with_settings(as_scenario(scenario), settings)
    _check_strategy_names(loaded, strategies)
    total = replications or loaded.replications
    console = Console(stderr=True)
    with _json_output(as_json) as out:  # from here on, whatever plugins print stays off stdout
        strategies = _imported(strategies)
        specs = select_strategies(loaded, strategies)
        check_strategies(loaded, specs)
        _announce(estimate(loaded, specs, total), force)
        with _progress_bar(console) as bar:
            task = bar.add_task("runs", total=None)
            result = compare(
                loaded,
                seed=seed,
                replications=total,
                strategies=strategies,
                progress=lambda done, runs: bar.update(task, completed=done, total=runs),
                workers=workers,
            )
        _finish(result, out, lambda out: (out.print(comparison_table(result)), out.print(outcome_table(result))))


def _check_strategy_names(scenario: Scenario, names: tuple[str, ...]) -> None:
    """``--strategy canery``: one line with the closest name (of the scenario's, the installed ones and the
    presets); a name with nothing close is left to the plugin loader, which lists what is installed."""
    known = [spec.name for spec in scenario.strategies]
    installed = list(installed_strategies())
    for name in names:
        if name in known or name in installed or name.endswith((".yaml", ".yml")) or split_file_reference(name):
            continue
        preset_names = list(presets())
        if name in preset_names:
            continue
        near = closest(name, [*known, *installed, *preset_names])
        if near is not None:
            raise ScenarioError(
                f"{scenario.source}: --strategy: unknown strategy {name!r} (did you mean {near!r}?); the scenario's: "
                f"{', '.join(known)}; installed: {', '.join(installed)}; presets: rollout-sim list presets"
            )


def _imported(names: tuple[str, ...]) -> list:
    """``--strategy`` values, with Argo or Flagger YAML files read into strategy specs (warnings on stderr)."""
    resolved: list = []
    for name in names:
        if name.endswith((".yaml", ".yml")):
            result = import_file(name)
            for warning in result.warnings:
                click.echo(f"rollout-sim: warning: {name}: {warning}", err=True)
            resolved.extend(result.specs)
        else:
            resolved.append(name)
    return resolved


def _announce(work: Work, force: bool) -> None:
    """The first line of a command: the work it is about to do; over the ceiling, stop unless forced."""
    click.echo(f"rollout-sim: {work.describe()}", err=True)
    problem = work.problem()
    if problem and not force:
        raise ScenarioError(f"{problem}; add --force to run it anyway")


def _finish(result: Comparison | RunResult, out: TextIO | None, show: Callable[[Console], object]) -> None:
    """Print a result as JSON (to ``out``) or tables; a strategy that failed while running is named
    and exits 1."""
    for message in result.errors.values():
        click.echo(f"rollout-sim: {' '.join(message.split())}", err=True)  # one line, whatever a plugin said
    if out is not None:
        out.write(json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n")
        out.flush()
    else:
        show(Console())
    if result.errors:
        sys.exit(1)


@contextlib.contextmanager
def _json_output(enabled: bool) -> Iterator[TextIO | None]:
    """With ``--json``, stdout is kept for the document alone: whatever plugins print (or close)
    goes to a copy of stderr, and the JSON is written to a private copy of the real stdout."""
    if not enabled:
        yield None
        return
    sys.stdout.flush()
    try:
        real = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test runner's buffer)
        real = None
    if real is None:
        document, sys.stdout = sys.stdout, sys.stderr
        try:
            yield document
        finally:
            sys.stdout = document
        return
    saved_fd = os.dup(real)
    os.dup2(sys.stderr.fileno(), real)  # C code and subprocesses writing to fd 1 reach stderr too
    document, plugins_stdout = os.fdopen(saved_fd, "w"), os.fdopen(os.dup(sys.stderr.fileno()), "w")
    previous, sys.stdout = sys.stdout, plugins_stdout
    try:
        yield document
    finally:
        sys.stdout = previous
        with contextlib.suppress(OSError, ValueError):
            document.flush()
            os.dup2(saved_fd, real)


def _progress_bar(console: Console) -> Progress | _ProgressLines:
    """A bar on a terminal; otherwise a line every ``_ProgressLines.EVERY`` seconds (logs, CI)."""
    if not console.is_terminal:
        return _ProgressLines()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


class _ProgressLines:
    """Progress for a stderr that is a file or a pipe: periodic lines instead of a bar."""

    EVERY = 10.0

    def __init__(self) -> None:
        self._start = self._last = time.monotonic()

    def __enter__(self) -> _ProgressLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> str:
        self._description = description
        return description

    def update(self, task: str, completed: float = 0, total: float | None = None) -> None:
        now = time.monotonic()
        if now - self._last < self.EVERY or not total:
            return
        self._last = now
        elapsed = now - self._start
        click.echo(
            f"rollout-sim: {self._description} {completed:,.0f} of {total:,.0f} ({100 * completed / total:.0f}%), "
            f"{format_duration(elapsed)} so far",
            err=True,
        )


@cli.command("run")
@scenario_argument
@seed_option
@click.option("--replication", type=click.IntRange(min=0), default=0, show_default=True, help="Which replication.")
@strategy_option
@set_option
@click.option(
    "--every",
    type=_Duration(1.0, 365 * 86400.0),
    metavar="DURATION",
    help="Also a timeline row at this spacing until the run ends: 1s to 365d, as seconds (600) or 10m, 1h30m.",
)
@force_option
@json_option
@_friendly
def run_command(
    scenario: str | None,
    seed: int | None,
    replication: int,
    strategies: tuple[str, ...],
    settings: tuple[str, ...],
    every: float | None,
    force: bool,
    as_json: bool,
) -> None:
    """One replication of each strategy: a timeline of its control steps, then its measures.

    The timeline marks the defect's onset, its detection (and what caught it) and the mitigation, and
    stops where the run ends: at the mitigation (nothing changes after it, unless the defect's harm
    persists) or at the horizon."""
    loaded = with_settings(as_scenario(scenario), settings)
    _check_strategy_names(loaded, strategies)
    with _json_output(as_json) as out:  # from here on, whatever plugins print stays off stdout
        specs = select_strategies(loaded, strategies)
        check_strategies(loaded, specs)
        _announce(estimate(loaded, specs, 1), force)
        result = run(loaded, seed=seed, replication=replication, strategies=strategies, every=every)

        def show(console: Console) -> None:
            for name, frame in result.timeline.groupby("strategy", sort=False):
                end = result.ends.get(name)
                console.print(timeline_table(name, frame, end and f"ends {format_clock(end.time_s)}: {end.why}"))
            if len(result.measures):
                console.print(measures_table(result.measures))

        _finish(result, out, show)


def _duration_option(flag: str, text: str | None) -> float | None:
    if text is None:
        return None
    seconds = _duration(text, flag)
    if seconds <= 0:
        raise ScenarioError(f"{flag}: must be a positive duration, got {text!r}")
    return seconds


@cli.command("sweep")
@scenario_argument
@click.option(
    "--grid", "grids", multiple=True, metavar="PATH=V1,V2", help="A grid axis (repeatable); replaces [sweep]."
)
@set_option
@click.option(
    "--goal",
    metavar="CONDITIONS",
    help=f"Which setting to use: the fastest (rollout time, healthy release) meeting every condition at every "
    f"point of the other axes, e.g. 'users_harmed<=500,false_rollback<=0.05'; MEASURE<=, <, >= or > VALUE, "
    f"at most {MAX_CONDITIONS}, joined by commas; MEASURE one of {', '.join(GOAL_MEASURES)}; shares 0 to 1 "
    "(or 5%), durations 600, 10m, 1h30m, counts >= 0 (docs/sweeps.md).",
)
@seed_option
@click.option("--replications", "-n", type=click.IntRange(min=1), help="Replications per grid point.")
@workers_option
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786.")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True, help="Output folder.")
@force_option
@_friendly
def sweep_command(
    scenario: str | None,
    grids: tuple[str, ...],
    settings: tuple[str, ...],
    goal: str | None,
    seed: int | None,
    replications: int | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    out: str,
    force: bool,
) -> None:
    """Run every strategy at every point of a parameter grid; resumable; writes Parquet and CSV.

    Prints a summary, the Pareto frontier (rollout time, users harmed, false rollbacks) and, with --goal,
    the setting to use (docs/sweeps.md)."""
    conditions = parse_goal(goal) if goal is not None else None
    loaded = with_settings(as_scenario(scenario), settings)
    plan = prepare_sweep(loaded, grids, seed=seed, replications=replications, out=out, goal=conditions)
    _announce(sweep_estimate([item.scenario for item in plan.pending()], plan.replications), force)
    run_executor = make_executor(executor, workers, scheduler)
    console = Console(stderr=True)
    console.print(
        f"sweep: {len(plan.points)} points, {len(plan.items)} scenario variants "
        f"({len(plan.done())} already done) x {plan.replications} replications -> {plan.directory}"
    )
    try:
        with _progress_bar(console) as bar:
            task = bar.add_task("tasks", total=None)
            errors = run_sweep(plan, run_executor, lambda n, total: bar.update(task, completed=n, total=total))
    except (KeyboardInterrupt, BrokenProcessPool) as stop:
        why = "interrupted" if isinstance(stop, KeyboardInterrupt) else "a worker process died"
        console.print(
            f"{why}: {len(plan.done())} of {len(plan.items)} variants saved in {plan.directory}; "
            "run the same command again to finish the rest"
        )
        sys.exit(130 if isinstance(stop, KeyboardInterrupt) else 1)
    result = finish_sweep(plan, errors, conditions)
    out_console = Console()
    out_console.print(sweep_summary_table(result.table, [axis.path for axis in plan.axes]))
    if result.frontier is not None:
        group_axes = [axis.path for axis in plan.axes if not axis.is_strategy]
        out_console.print(frontier_table(result.frontier, group_axes))
    if result.answer is not None:
        out_console.print(goal_answer(result.answer))
    console.print(f"wrote {result.parquet} and {result.csv}")
    for message in result.errors.values():  # also failures saved by an earlier, resumed run
        click.echo(f"rollout-sim: {message}", err=True)
    if result.errors:
        sys.exit(1)


@cli.group("scenario")
def scenario_group() -> None:
    """The bundled scenarios: copy one out to edit it (rollout-sim list scenarios names them)."""


@scenario_group.command("copy")
@click.argument("name")
@click.argument("dest", required=False)
@click.option("--force", is_flag=True, help="Replace DEST when it exists.")
@_friendly
def scenario_copy_command(name: str, dest: str | None, force: bool) -> None:
    """Write the bundled scenario NAME out for editing, byte for byte (its comments too).

    DEST: a file, or an existing folder (or a path ending in /) to write NAME.toml into; default
    ./NAME.toml. An existing file is replaced only with --force; nothing is half-written."""
    path = copy_scenario(name, dest, force)
    click.echo(f"wrote {path}")
    click.echo(f"edit it, then: rollout-sim compare {path}")


@cli.command("validate")
@click.argument("files", nargs=-1, required=True)
@_friendly
def validate_command(files: tuple[str, ...]) -> None:
    """Check scenario files: format, values, and that every strategy and judge loads with its params.

    It imports the plugin code the files name (strategies and judges given by path or installed), to
    build each once; it never imports a plugin the files do not name.
    """
    problems: list[str] = []
    for file in files:
        try:
            scenario = load_scenario(resolve_scenario(file))
            check_strategies(scenario)
        except ScenarioError as error:
            problems.extend(str(error).splitlines())
            continue
        count = len(scenario.strategies)
        work = estimate(scenario, scenario.strategies, scenario.replications, pilot=False)
        click.echo(f"{file}: ok ({count} {'strategy' if count == 1 else 'strategies'}); {work.describe()}")
    if problems:
        raise ScenarioError("\n".join(problems))


@cli.command("import")
@click.argument("file")
@_friendly
def import_command(file: str) -> None:
    """Read an Argo Rollouts Rollout or a Flagger Canary (YAML) and print the equivalent scenario
    strategy entries (TOML). What cannot be mapped is a warning naming the field, on stderr."""
    result = import_file(file)
    for warning in result.warnings:
        click.echo(f"rollout-sim: warning: {file}: {warning}", err=True)
    click.echo(result.toml(), nl=False)


@cli.command("new-strategy")
@click.argument("name")
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False), default=".", show_default=True, help="Where to write."
)
@_friendly
def new_strategy_command(name: str, folder: str) -> None:
    """Write a starter strategy plugin NAME.py and a scenario NAME.toml that runs it beside the built-ins."""
    try:
        code, scenario = starter_strategy(name)
    except ValueError as error:
        raise ScenarioError(f"new-strategy {name!r}: {error}") from None
    target = Path(folder)
    files = {target / f"{name}.py": code, target / f"{name}.toml": scenario}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScenarioError(f"new-strategy: {', '.join(existing)} already exists; nothing written")
    check_writable(target)
    for path, text in files.items():
        write_atomically(path, text)
        click.echo(f"wrote {path}")
    click.echo(f"run it: rollout-sim compare {target / name}.toml")


@cli.command("power")
@scenario_argument
@click.option("--weight", type=float, default=0.05, show_default=True, help="The canary's request share, in (0, 1].")
@click.option("--harm", type=float, default=0.005, show_default=True, help="The defect's error probability, in (0, 1].")
@click.option(
    "--bake",
    "bakes",
    multiple=True,
    metavar="DURATION",
    help="Bake times to try (repeatable, at most 20, each at most 7d; default 5m, 10m, 30m, 1h, 2h).",
)
@click.option("--strategy", metavar="NAME", help="Whose judge (default: the scenario's first strategy's).")
@click.option(
    "--replications", "-n", type=click.IntRange(1, 100_000), default=400, show_default=True, help="Per release."
)
@click.option("--chart", is_flag=True, help="Also draw the rates against bake time (needs rollout-sim[tui]).")
@seed_option
@workers_option
@json_option
@_friendly
def power_command(
    scenario: str | None,
    weight: float,
    harm: float,
    bakes: tuple[str, ...],
    strategy: str | None,
    replications: int,
    chart: bool,
    seed: int | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """How long must the canary bake? Its judge's detection and false-rollback rates by bake time.

    One run per release (the defective one, then the healthy one) with the longest bake answers every bake.
    What each column means and the closed forms: docs/power.md."""
    if chart and as_json:
        raise ScenarioError("--chart draws on the terminal: leave out --json")
    draw = _power_chart_drawer() if chart else None  # before the work: a missing plotext is said at once
    seconds = [_duration_option("--bake", bake) for bake in bakes] or [300.0, 600.0, 1800.0, 3600.0, 7200.0]
    loaded = as_scenario(scenario)
    console = Console(stderr=True)
    with _json_output(as_json) as out:
        with _progress_bar(console) as bar:
            task = bar.add_task("replications", total=2 * replications)
            curve = power_curve(
                loaded,
                weight=weight,
                harm=harm,
                bakes=seconds,  # type: ignore[arg-type]
                strategy=strategy,
                replications=replications,
                seed=seed,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if out is not None:
            document = {
                "judge": curve.judge,
                "use": curve.use,
                "weight": weight,
                "harm": harm,
                "closed_form": curve.closed_form,
                "notes": list(curve.notes),
                "rows": [dataclasses.asdict(row) for row in curve.rows],
            }
            json.dump(document, out, indent=2, allow_nan=False)
            out.write("\n")
            return
        Console().print(power_table(curve, weight, harm))
        if draw is not None:
            draw(curve)


def _power_chart_drawer() -> Callable[[Any], None]:
    """Prints ``power`` results as a chart; a one-line error when plotext (the tui extra) is missing."""
    try:
        import plotext  # noqa: F401  (only to know that it is there)
    except ImportError:
        raise ScenarioError("--chart needs plotext: pip install 'rollout-sim[tui]'") from None
    from sim.render import power_chart

    def draw(curve: Any) -> None:
        import shutil

        size = shutil.get_terminal_size((80, 24))
        click.echo(power_chart(curve, min(size.columns, 100), 20, color=sys.stdout.isatty()))

    return draw


@cli.command("tui")
@click.argument("scenarios", nargs=-1, metavar="[SCENARIO]...")
@_friendly
def tui_command(scenarios: tuple[str, ...]) -> None:
    """Watch strategies race on the same defect, change a knob, see the consequence (a terminal UI).

    SCENARIO: files to offer beside the bundled ones (the first is chosen), or a bundled name."""
    try:
        from sim.tui.app import RolloutApp
    except ImportError as error:
        raise ScenarioError(
            f"the terminal UI needs textual ({error.name or error}): pip install 'rollout-sim[tui]'"
        ) from None
    bundled = bundled_scenarios()
    paths = [Path(s) for s in scenarios if s not in bundled]
    for path in paths:
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file (bundled: {', '.join(bundled)})")
    first = scenarios[0] if scenarios and scenarios[0] in bundled else None
    RolloutApp(paths, first).run()


@cli.command("schema")
def schema_command() -> None:
    """Print the scenario format as a JSON Schema (for editor completion)."""
    click.echo(scenario_json_schema())


@cli.command("list")
@click.argument(
    "what",
    type=click.Choice(["strategies", "presets", "judges", "scenarios", "watchers", "detectors", "all"]),
    default="all",
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Strategies and presets: parameters and source (imports the strategies)."
)
@_friendly
def list_command(what: str, verbose: bool) -> None:
    """List installed strategies, presets and judges, bundled scenarios and watchers (detectors: judges and
    watchers). It imports no plugin code, except the preset tables."""
    if what in ("strategies", "all"):
        click.echo("strategies:")
        for name, target in installed_strategies().items():
            click.echo(f"  {name:<16} {target}")
            if verbose:
                for line in _strategy_details(name):
                    click.echo(f"      {line}")
    if what in ("presets", "all"):
        click.echo("presets (a strategy with a real tool's documented parameters; use = NAME):")
        for name, preset in presets().items():
            click.echo(f"  {name:<40} {preset['strategy']:<12} {preset.get('about', '')}")
            if verbose:
                click.echo(f"      params: {json.dumps(preset.get('params', {}), sort_keys=True)}")
                if preset.get("judges"):
                    click.echo(f"      judges: {json.dumps(preset['judges'], sort_keys=True)}")
                click.echo(f"      source: {preset.get('source', '')}")
    if what in ("judges", "detectors", "all"):
        click.echo("judges (owned by a strategy):")
        for name, target in installed_judges().items():
            click.echo(f"  {name:<16} {target}")
    if what in ("scenarios", "all"):
        click.echo("scenarios:")
        bundled = bundled_scenarios()
        width = max(map(len, bundled), default=0)
        for name, path in bundled.items():
            click.echo(f"  {name:<{width}} {_first_comment(path)}")
    if what in ("watchers", "detectors", "all"):
        click.echo("watchers (owned by the scenario, watching every strategy):")
        for name, text in WATCHERS.items():
            click.echo(f"  {name:<16} {text}")


def _strategy_details(name: str) -> list[str]:
    """What a strategy is (its docstring's first line) and its params with their defaults."""
    try:
        cls = load_strategy_class(name)
    except PluginError as error:
        return [f"cannot load: {error}"]
    about = (inspect.getdoc(cls) or "").splitlines()[:1]
    params = [
        f"{p.name}={p.default!r}" if p.default is not inspect.Parameter.empty else p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return [*about, f"params: {', '.join(params) or 'none'}", f"source: {inspect.getsourcefile(cls)}"]


def _first_comment(path: Any) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


cli.add_command(report_command, "report")  # defined beside the report it writes (sim/report/command.py)


def main() -> None:
    # What is loaded by now (the modules, numpy, pandas: most objects the process will hold) is kept for
    # good: the cycle collector's full passes then skip it, which they otherwise walk again and again.
    gc.freeze()
    code = 0
    try:
        cli.main(prog_name="rollout-sim")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        real_exit(code)  # a plugin left a thread running: the results are out, do not wait for it
    sys.exit(code)
