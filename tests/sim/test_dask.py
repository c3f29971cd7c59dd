"""The same sweep on a real two-worker Dask cluster: the same table, even when a worker dies."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

from sim.cli import cli
from sim.executors import DaskExecutor, Outcome, Task
from tests.generators import SWEEP_TOML
from tests.sim.test_sweeps import sweep


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_dask_gives_the_same_table_as_local_processes(tmp_path: Path, cluster: LocalCluster) -> None:
    on_dask = sweep(tmp_path / "dask", DaskExecutor(cluster.scheduler_address))
    here = sweep(tmp_path / "here")
    pd.testing.assert_frame_equal(on_dask, here)


class KillsAWorker:
    """Runs on Dask and kills one worker process as soon as the first task comes back."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.killed = False

    def run(self, tasks: Iterable[Task], total: int = 0) -> Iterator[Outcome]:
        for outcome in DaskExecutor(self.address, window=4).run(tasks, total):
            if not self.killed:
                with Client(self.address, set_as_default=False) as client:
                    victim = next(iter(client.scheduler_info()["workers"]))
                    pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; its tasks run again
                self.killed = True
            yield outcome


def test_a_killed_worker_delays_the_sweep_but_loses_no_point(tmp_path: Path, cluster: LocalCluster) -> None:
    killer = KillsAWorker(cluster.scheduler_address)
    survived = sweep(tmp_path / "killed", killer)
    assert killer.killed
    pd.testing.assert_frame_equal(survived, sweep(tmp_path / "here"))


def test_cli_runs_a_sweep_on_a_scheduler(tmp_path: Path, cluster: LocalCluster) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML)
    args = ["sweep", str(path), "--out", str(tmp_path / "dask"), "--executor", "dask"]
    result = CliRunner().invoke(cli, [*args, "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    local = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "local"), "--workers", "1"])
    assert local.exit_code == 0
    dask_table = pd.read_csv(tmp_path / "dask" / "small-sweep.csv")
    pd.testing.assert_frame_equal(dask_table, pd.read_csv(tmp_path / "local" / "small-sweep.csv"))


def test_dask_without_a_reachable_scheduler_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SWEEP_TOML)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path), "--executor", "dask"])
    assert result.exit_code == 2 and "--scheduler" in result.stderr
