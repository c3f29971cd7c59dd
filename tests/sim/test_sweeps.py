"""Sweeps: a tidy table, resumable after any interruption, identical on every executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli import cli
from sim.executors import InlineExecutor, LocalExecutor, Outcome, Task
from sim.grid import Axis, parse_axis
from sim.measures import OUTCOMES
from sim.results import METRICS
from sim.sweeps import plan_sweep, run_sweep, sweep_table
from tests.generators import SWEEP_TOML, make_scenario

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
    measures = len(METRICS) + 2 + len(OUTCOMES)  # + rollout_time_s and detection_rate
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


def test_the_frontier_is_per_defect_size_and_labels_strategy_settings(tmp_path: Path) -> None:
    from sim.sweeps import sweep_frontier

    frontier = sweep_frontier(sweep(tmp_path), AXES)
    assert set(frontier["release.defect.harm"]) == {0.02, 0.1}
    assert any(setting.startswith("canary (steps.0=") for setting in frontier["setting"])


def test_cli_sweep_writes_parquet_and_csv_and_prints_the_frontier(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML)
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
    path.write_text(SWEEP_TOML.split("[sweep]")[0])
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no grid" in result.stderr


def test_a_killed_sweep_process_finishes_only_the_rest_when_run_again(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML.replace('horizon = "40m"', 'horizon = "12h"'))
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


def test_python_api_sweep_is_the_cli_operation(tmp_path: Path) -> None:
    import sim

    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML)
    result = sim.sweep(path, out=tmp_path / "api", executor=InlineExecutor())
    assert result.parquet.is_file() and result.csv.is_file() and not result.errors
    assert result.frontier is not None and len(result.frontier) > 0
    cli_run = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "cli"), "--workers", "1"])
    assert cli_run.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(result.csv), pd.read_csv(tmp_path / "cli" / "small-sweep.csv"))


def test_ctrl_c_stops_a_pooled_sweep_promptly_and_says_how_to_resume(tmp_path: Path) -> None:
    import psutil

    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML.replace('horizon = "40m"', 'horizon = "1d"'))
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


def _sweep_cli(tmp_path: Path, *args: str, text: str = SWEEP_TOML):
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
        (["strategies.canary.steps.7=0.1"], "no item '7': strategies.canary.steps has 2 items (0 to 1)"),
    ],
)
def test_bad_grids_are_bad_input(tmp_path: Path, grids: list[str], message: str) -> None:
    result = _sweep_cli(tmp_path, *(arg for grid in grids for arg in ("--grid", grid)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_failing_plugin_is_reported_again_when_the_sweep_resumes(tmp_path: Path) -> None:
    from tests.generators import plugin

    text = SWEEP_TOML + f'[[strategies]]\nname = "x"\nuse = "{plugin("Explodes")}"\n'
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


# -- which setting should I use: rollout time over every run, the frontier with false rollbacks, goals ---------------


def tidy(settings: dict[str, dict[str, float]], world: str = "release.defect.harm", worlds=(0.01,)) -> pd.DataFrame:
    """A sweep table from ``{strategy: {measure: mean}}`` (one point per world; a measure of the healthy release
    is named ``healthy:MEASURE``), strategies told apart by name."""
    rows = []
    for point, value in enumerate(worlds):
        for strategy, measures in settings.items():
            for key, mean in measures.items():
                release, _, measure = key.rpartition(":")
                mean = mean[point] if isinstance(mean, tuple) else mean
                rows.append(
                    {"point": point, world: value, "release": release or "defective", "strategy": strategy,
                     "measure": measure, "mean": mean}
                )  # fmt: skip
    return pd.DataFrame(rows)


def setting(rollout: float, harmed, false_rollback: float = 0.0, **more) -> dict[str, float]:
    return {
        "healthy:rollout_time_s": rollout,
        "healthy:outcome_false_rollback": false_rollback,
        "healthy:outcome_completed": 1.0 - false_rollback,
        "blast_radius_users": harmed,
        **more,
    }


def test_rollout_time_counts_a_run_that_did_not_finish_as_the_horizon() -> None:
    from sim.results import StrategySummary
    from sim.sweeps import rollout_time, summary_rows

    runs = pd.DataFrame(
        {
            "rollout_duration_s": [600.0, None, None, 1200.0],
            "onset_s": [None] * 4,
            "detection_s": [None] * 4,
            "outcome": ["completed", "false_rollback", "stalled", "completed"],
            "caught_by": [None] * 4,
            "caught_late": [False] * 4,
            **{metric: [0.0] * 4 for metric in METRICS if metric != "rollout_duration_s"},
        }
    )
    summary = StrategySummary.of("c", runs)
    time = rollout_time(summary, horizon=3600.0)
    assert time.mean == (600 + 3600 + 3600 + 1200) / 4 and time.n == 4 and time.median == 2400.0
    assert summary.metrics["rollout_duration_s"].mean == 900.0  # over the finished runs only, as before
    rows = {row["measure"]: row for row in summary_rows({"c": summary}, 3600.0)}
    assert rows["rollout_time_s"]["mean"] == time.mean and rows["rollout_duration_s"]["n"] == 2


def test_rollout_time_of_a_streamed_summary_is_the_exact_mean() -> None:
    from sim.results import MetricSummary, StrategySummary
    from sim.sweeps import rollout_time

    empty = np.empty(0)
    metrics = {metric: MetricSummary(None, None, None, None, 0, empty) for metric in METRICS}
    metrics["rollout_duration_s"] = MetricSummary(600.0, 600.0, 600.0, None, 3, empty, 0.0)  # values not kept
    summary = StrategySummary("c", 4, metrics, None, 0, 0, dict.fromkeys(OUTCOMES, 0))
    time = rollout_time(summary, horizon=1000.0)
    assert time.mean == (3 * 600 + 1000) / 4 and time.median is None and time.n == 4


def test_a_setting_that_rolls_back_healthy_releases_is_not_on_the_frontier_for_free() -> None:
    from sim.sweeps import sweep_frontier

    table = tidy(
        {
            "careful": setting(1800.0, 100.0),
            # finishes its healthy runs in 10 minutes, but rolls back half of them: those count as the horizon
            "jumpy": setting(0.5 * 600 + 0.5 * 14400, 100.0, false_rollback=0.5),
            "fast": setting(0.0, 5000.0),
            "nervous": setting(900.0, 100.0, false_rollback=0.2),  # faster than careful: kept, it trades
        }
    )
    frontier = sweep_frontier(table, [Axis("release.defect.harm", (0.01,))])
    assert list(frontier["setting"]) == ["fast", "nervous", "careful"]
    assert list(frontier.columns) == ["release.defect.harm", "setting", "rollout_time", "users_harmed",
                                      "false_rollback", "completed"]  # fmt: skip


def test_the_frontier_and_the_goal_read_the_sweep_table(tmp_path: Path) -> None:
    from sim.sweeps import answer_goal, parse_goal, sweep_frontier

    table = sweep(tmp_path)
    frontier = sweep_frontier(table, AXES)
    assert set(frontier["release.defect.harm"]) == {0.02, 0.1}
    assert frontier["false_rollback"].notna().all() and (frontier["rollout_time"] >= 0).all()
    answer = answer_goal(table, AXES, parse_goal("users_harmed<=1e9"))
    assert answer.best is not None and answer.best.setting == "bigbang"  # the fastest, when harm does not matter


def test_a_goal_picks_the_fastest_setting_meeting_every_condition_in_every_world() -> None:
    from sim.sweeps import answer_goal, parse_goal

    table = tidy(
        {
            "bigbang": setting(0.0, (800.0, 5000.0)),
            "canary (bake=5m)": setting(900.0, (600.0, 40.0)),
            "canary (bake=20m)": setting(3600.0, (300.0, 40.0)),
            "canary (bake=1h)": setting(7200.0, (100.0, 40.0), false_rollback=0.1),
        },
        worlds=(0.005, 0.1),
    )
    axes = [Axis("release.defect.harm", (0.005, 0.1))]
    answer = answer_goal(table, axes, parse_goal("users_harmed<=500,false_rollback<=0.05"))
    assert answer.best is not None and answer.best.setting == "canary (bake=20m)"
    assert answer.best.values == {"users_harmed": 300.0, "false_rollback": 0.0, "rollout_time": 3600.0}
    assert answer.best.where == {"users_harmed": "harm=0.005"}  # the worst world; rollout time is the same in both
    per_world = {world["release.defect.harm"]: best.setting for world, best, _ in answer.per_world}
    assert per_world == {0.005: "canary (bake=20m)", 0.1: "canary (bake=5m)"}
    lenient = answer_goal(table, axes, parse_goal("users_harmed<=5000"))
    assert lenient.best is not None and lenient.best.setting == "bigbang"


def test_when_no_setting_meets_the_goal_the_answer_says_which_came_closest() -> None:
    from sim.sweeps import answer_goal, parse_goal

    table = tidy(
        {
            "bigbang": setting(0.0, 5000.0),
            "canary (bake=5m)": setting(900.0, 600.0),
            "canary (bake=1h)": setting(3600.0, 150.0, false_rollback=0.2),
        }
    )
    answer = answer_goal(
        table, [Axis("release.defect.harm", (0.01,))], parse_goal("users_harmed<=100,false_rollback<=0.05")
    )
    assert answer.best is None
    assert answer.closest is not None and answer.closest.setting == "canary (bake=1h)"  # 50% over, not 500%
    assert [str(c) for c in answer.closest.misses] == ["users_harmed<=100", "false_rollback<=0.05"]
    assert list(answer.unmet) == ["users_harmed<=100"]  # no setting meets it even alone; false rollbacks can be met
    assert answer.unmet["users_harmed<=100"].values["users_harmed"] == 150.0


def test_a_condition_without_a_value_is_not_met() -> None:
    from sim.sweeps import answer_goal, parse_goal

    table = tidy({"blind": setting(0.0, 10.0, ttd_s=float("nan")), "sees": setting(60.0, 10.0, ttd_s=120.0)})
    answer = answer_goal(table, [Axis("release.defect.harm", (0.01,))], parse_goal("ttd<=10m"))
    assert answer.best is not None and answer.best.setting == "sees"


def test_a_goal_reads_its_limits_in_their_units() -> None:
    from sim.sweeps import parse_goal

    assert [str(c) for c in parse_goal("ttd<=1h30m,detection>=95%,users_harmed<1e3")] == [
        "ttd<=1h30m",
        "detection>=0.95",
        "users_harmed<1000",
    ]


def test_streamed_rollout_time_counts_unfinished_runs_as_the_horizon() -> None:
    import numpy as np

    from sim.results import MetricSummary, StrategySummary
    from sim.sweeps import rollout_time

    def summary(finished: int) -> StrategySummary:
        durations = MetricSummary(100.0, 100.0, 100.0, None, finished, np.empty(0))  # streamed: no values
        return StrategySummary("s", 10, {"rollout_duration_s": durations}, None, 0, 0, {})

    most_unfinished = rollout_time(summary(4), 1000.0)
    assert most_unfinished.mean == (4 * 100.0 + 6 * 1000.0) / 10
    assert most_unfinished.median == 1000.0 and most_unfinished.p95 == 1000.0 and most_unfinished.n == 10
    most_finished = rollout_time(summary(9), 1000.0)
    assert most_finished.median is None and most_finished.p95 == 1000.0  # the median lies among unknown values
    assert rollout_time(summary(10), 1000.0).median == 100.0
