"""Sweeps: a tidy table, resumable after any interruption, identical on every executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli import cli
from sim.executors import InlineExecutor, LocalExecutor, Outcome, Task
from sim.grid import parse_axis
from sim.measures import OUTCOMES
from sim.pareto import pareto_frontier
from sim.results import METRICS
from sim.sweeps import plan_sweep, run_sweep, sweep_table
from tests.generators import make_scenario

AXES = [parse_axis("strategies.canary.steps.0=0.05,0.2"), parse_axis("release.defect.harm=0.02,0.1")]


def small_scenario(**overrides):
    fields = {
        "horizon": "40m",
        "replications": 64,
        "traffic": {"rate": 100.0},
        "detection": {"analysis": {"min_requests": 20}},
        "strategies": [{"name": "bigbang"}, {"name": "canary", "params": {"steps": [0.05, 0.5], "bake": "5m"}}],
        **overrides,
    }
    return make_scenario(**fields)


def sweep(tmp_path: Path, executor=None, scenario=None, axes=AXES) -> pd.DataFrame:
    plan = plan_sweep(scenario or small_scenario(), axes, seed=3, replications=64, out=tmp_path)
    run_sweep(plan, executor or InlineExecutor())
    return sweep_table(plan)


class Counting:
    """An executor that counts the tasks it runs and can stop (like Ctrl-C) after some outcomes."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.tasks = 0
        self.stop_after = stop_after

    def run(self, tasks: Iterable[Task], total: int = 0) -> Iterator[Outcome]:
        for outcome in InlineExecutor().run(tasks, total):
            self.tasks += 1
            yield outcome
            if self.stop_after is not None and self.tasks >= self.stop_after:
                raise KeyboardInterrupt


def test_the_table_is_tidy(tmp_path: Path) -> None:
    table = sweep(tmp_path)
    measures = len(METRICS) + 1 + len(OUTCOMES)
    # 4 points x 2 strategies x (defective + healthy) x measures
    assert len(table) == 4 * 2 * 2 * measures
    assert list(table.columns[:6]) == ["point", *(a.path for a in AXES), "release", "strategy", "measure"]
    assert set(table["release"]) == {"defective", "healthy"}
    assert not table.duplicated(["point", "release", "strategy", "measure"]).any()


def test_an_interrupted_sweep_resumes_with_only_the_missing_work(tmp_path: Path) -> None:
    scenario = small_scenario()
    plan = plan_sweep(scenario, AXES, seed=3, replications=64, out=tmp_path)
    tasks_per_item = 2  # one block x two strategies
    stopped = Counting(stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, stopped)
    saved = len(plan.done())
    assert saved == 2  # 5 tasks finished = 2 whole items; the 3rd item's half is redone
    resumed = Counting()
    run_sweep(plan, resumed)
    assert resumed.tasks == (len(plan.items) - saved) * tasks_per_item
    again = Counting()
    run_sweep(plan, again)
    assert again.tasks == 0
    pd.testing.assert_frame_equal(sweep_table(plan), sweep(tmp_path / "fresh"))


def test_a_changed_scenario_or_grid_is_not_mixed_with_old_results(tmp_path: Path) -> None:
    first = plan_sweep(small_scenario(), AXES, seed=3, replications=64, out=tmp_path)
    changed = plan_sweep(small_scenario(horizon="41m"), AXES, seed=3, replications=64, out=tmp_path)
    more = plan_sweep(small_scenario(), AXES, seed=3, replications=65, out=tmp_path)
    assert len({first.directory, changed.directory, more.directory}) == 3
    assert first.directory == plan_sweep(small_scenario(), AXES, seed=3, replications=64, out=tmp_path).directory


def test_healthy_variants_are_shared_between_points_that_differ_only_in_the_defect(tmp_path: Path) -> None:
    plan = plan_sweep(small_scenario(), AXES, seed=3, replications=64, out=tmp_path)
    assert len(plan.items) == 4 + 2  # four defective points, two canary settings when healthy


def test_local_processes_give_the_same_table(tmp_path: Path) -> None:
    inline = sweep(tmp_path / "a")
    pooled = sweep(tmp_path / "b", LocalExecutor(workers=2, inline_below=0.0))
    pd.testing.assert_frame_equal(inline, pooled)


def test_pareto_frontier_keeps_only_settings_not_beaten_on_both() -> None:
    rows = []
    # (strategy, duration when healthy, users harmed when defective)
    for strategy, duration, harmed in [
        ("fast", 0.0, 900.0),
        ("slow", 3600.0, 10.0),
        ("worse", 3600.0, 50.0),
        ("mid", 600.0, 100.0),
        ("tie", 600.0, 100.0),
        ("never", float("nan"), 1.0),
    ]:
        rows.append(dict(point=0, release="healthy", strategy=strategy, measure="rollout_duration_s", mean=duration))
        rows.append(dict(point=0, release="defective", strategy=strategy, measure="blast_radius_users", mean=harmed))
    frontier = pareto_frontier(pd.DataFrame(rows), [])
    assert list(frontier["setting"]) == ["fast", "mid", "tie", "slow"]


def test_pareto_frontier_is_per_defect_size_and_labels_strategy_settings(tmp_path: Path) -> None:
    frontier = pareto_frontier(sweep(tmp_path), AXES)
    assert set(frontier["release.defect.harm"]) == {0.02, 0.1}
    assert any(setting.startswith("canary (steps.0=") for setting in frontier["setting"])


def test_cli_sweep_writes_parquet_and_csv_and_prints_the_frontier(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMALL_TOML)
    out = tmp_path / "reports"
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Pareto frontier" in result.stdout
    parquet = pd.read_parquet(out / "small-sweep.parquet")
    csv = pd.read_csv(out / "small-sweep.csv")
    assert len(parquet) == len(csv) > 0
    again = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(out), "--workers", "1"])
    assert "(6 already done)" in again.stderr


def test_cli_sweep_without_a_grid_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMALL_TOML.split("[sweep]")[0])
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no grid" in result.stderr


def test_a_killed_sweep_process_finishes_only_the_rest_when_run_again(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMALL_TOML.replace('horizon = "40m"', 'horizon = "12h"'))
    out = tmp_path / "reports"

    def command(folder: Path) -> list[str]:
        return [sys.executable, "-m", "sim", "sweep", str(path), "--out", str(folder), "--workers", "1"]

    process = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    items = out / "sweeps"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(items.glob("*/items/*.json")):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = len(list(items.glob("*/items/*.json")))
    assert 1 <= saved < 6, "the sweep was killed part way"
    finished = subprocess.run(command(out), capture_output=True, text=True, check=True)
    assert f"({saved} already done)" in finished.stderr
    fresh = tmp_path / "fresh"
    subprocess.run(command(fresh), check=True, capture_output=True)
    pd.testing.assert_frame_equal(pd.read_csv(out / "small-sweep.csv"), pd.read_csv(fresh / "small-sweep.csv"))


SMALL_TOML = """
name = "small"
horizon = "40m"
seed = 3
replications = 64
[population]
users = 10000
[traffic]
rate = 100
[release.defect]
harm = 0.05
[detection.analysis]
min_requests = 20
[[strategies]]
name = "bigbang"
[[strategies]]
name = "canary"
params = { steps = [0.05, 0.5], bake = "5m" }
[sweep]
grid = { "strategies.canary.steps.0" = [0.05, 0.2], "release.defect.harm" = [0.02, 0.1] }
"""


def test_python_api_sweep_is_the_cli_operation(tmp_path: Path) -> None:
    import sim

    path = tmp_path / "s.toml"
    path.write_text(SMALL_TOML)
    result = sim.sweep(path, out=tmp_path / "api", executor=InlineExecutor())
    assert result.parquet.is_file() and result.csv.is_file() and not result.errors
    assert result.frontier is not None and len(result.frontier) > 0
    cli_run = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "cli"), "--workers", "1"])
    assert cli_run.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(result.csv), pd.read_csv(tmp_path / "cli" / "small-sweep.csv"))


def test_ctrl_c_stops_a_pooled_sweep_promptly_and_says_how_to_resume(tmp_path: Path) -> None:
    import psutil

    path = tmp_path / "s.toml"
    path.write_text(SMALL_TOML.replace('horizon = "40m"', 'horizon = "1d"'))
    command = [sys.executable, "-m", "sim", "sweep", str(path), "-n", "640", "--out", str(tmp_path), "--workers", "2"]
    # Its own session, so that Ctrl-C can reach the whole group, as a terminal sends it.
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(psutil.Process(process.pid).children()) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the sweep is still running when Ctrl-C comes"
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "run the same command again" in stderr and "Traceback" not in stderr


def _sweep_cli(tmp_path: Path, *args: str, text: str = SMALL_TOML):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1", *args])


def test_list_values_make_one_point_each(tmp_path: Path) -> None:
    result = _sweep_cli(tmp_path, "--grid", "strategies.canary.steps=[0.1,0.5],[0.2]")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "small-sweep.csv")
    assert set(table["strategies.canary.steps"]) == {"[0.1, 0.5]", "[0.2]"}


@pytest.mark.parametrize(
    ("grids", "message"),
    [
        (["strategies.1.bake=5m,10m"], "name the strategy"),
        (["strategies.canary.bake=5m", "strategies.canary.bake=10m"], "given more than once"),
        (["seed=1,2"], "seed is set by the sweep"),
        (["strategies.canary.steps.7=0.1"], "no '7' in this list"),
    ],
)
def test_bad_grids_are_bad_input(tmp_path: Path, grids: list[str], message: str) -> None:
    result = _sweep_cli(tmp_path, *(arg for grid in grids for arg in ("--grid", grid)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_failing_plugin_is_reported_again_when_the_sweep_resumes(tmp_path: Path) -> None:
    from tests.generators import plugin

    text = SMALL_TOML + f'[[strategies]]\nname = "x"\nuse = "{plugin("Explodes")}"\n'
    for _ in range(2):
        result = _sweep_cli(tmp_path, text=text)
        assert result.exit_code == 1 and "boom" in result.stderr, result.output
    assert set(pd.read_csv(tmp_path / "out" / "small-sweep.csv")["strategy"]) == {"bigbang", "canary"}


def test_a_damaged_item_is_run_again(tmp_path: Path) -> None:
    plan = plan_sweep(small_scenario(), AXES, seed=3, replications=64, out=tmp_path)
    run_sweep(plan, InlineExecutor())
    damaged = sorted((plan.directory / "items").glob("*.json"))[0]
    damaged.write_text("")  # as a crash mid-write on another file system might leave it
    again = Counting()
    run_sweep(plan, again)
    assert again.tasks == 2 and len(plan.done()) == len(plan.items)


def test_a_changed_strategy_file_starts_a_new_sweep_folder(tmp_path: Path) -> None:
    source = Path(__file__).parent.parent / "plugins" / "hold.py"
    mine = tmp_path / "mine.py"
    mine.write_text(source.read_text())
    scenario = small_scenario(strategies=[{"name": "h", "use": f"{mine}:Hold", "params": {"weight": 0.1}}])
    axes = [parse_axis("release.defect.harm=0.02,0.1")]
    before = plan_sweep(scenario, axes, seed=3, replications=64, out=tmp_path).directory
    mine.write_text(source.read_text() + "\n# changed\n")
    assert plan_sweep(scenario, axes, seed=3, replications=64, out=tmp_path).directory != before
