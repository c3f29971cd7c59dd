"""Where tasks run never changes the numbers."""

from __future__ import annotations

import pandas as pd

import sim
from sim.executors import InlineExecutor, LocalExecutor
from tests.generators import make_scenario, plugin


def test_local_processes_give_the_same_runs_as_this_process() -> None:
    inline = sim.compare("default", replications=130, executor=InlineExecutor())
    pooled = sim.compare("default", replications=130, executor=LocalExecutor(workers=2, inline_below=0.0, window=3))
    pd.testing.assert_frame_equal(inline.runs, pooled.runs)
    assert inline.to_dict() == pooled.to_dict()


def test_a_plugin_loaded_by_path_runs_in_worker_processes() -> None:
    scenario = make_scenario(strategies=[{"name": "hold", "use": plugin("Hold"), "params": {"weight": 0.3}}])
    inline = sim.compare(scenario, replications=70, executor=InlineExecutor())
    pooled = sim.compare(scenario, replications=70, executor=LocalExecutor(workers=2, inline_below=0.0))
    pd.testing.assert_frame_equal(inline.runs, pooled.runs)


def test_plugin_errors_are_the_same_whatever_the_executor() -> None:
    scenario = make_scenario(strategies=[{"name": "bigbang"}, {"name": "x", "use": plugin("Explodes")}])
    inline = sim.compare(scenario, replications=130, executor=InlineExecutor())
    pooled = sim.compare(scenario, replications=130, executor=LocalExecutor(workers=2, inline_below=0.0))
    assert inline.errors == pooled.errors and "boom" in inline.errors["x"]
    pd.testing.assert_frame_equal(inline.runs, pooled.runs)


def test_workers_exit_when_their_parent_is_killed() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    code = (
        "import sim; from sim.executors import LocalExecutor; "
        "sim.compare('healthy', replications=20000, executor=LocalExecutor(workers=2, inline_below=0.0))"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = psutil.Process(parent.pid).children()
        time.sleep(0.1)
    assert len(workers) == 2, "the pool started"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "orphaned workers must not keep running"
