"""Where blocks of replications run: in this process, in local worker processes, or on Dask.

The unit of work is a ``Task``: one strategy on one block of ``BLOCK_SIZE``
replications of one scenario. Its random streams come from the seed and the
block index alone, so a task gives the same rows wherever and whenever it
runs; executors only decide where. Results come back in completion order and
callers key them by the task, never by arrival order.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from sim.measures import RunMeasures
from sim.scenario import Scenario, ScenarioError, StrategySpec
from sim.simulation import BLOCK_SIZE, Simulation


@dataclass(frozen=True)
class Task:
    """One strategy on one block of replications; ``key`` is the caller's label for it."""

    scenario: Scenario
    spec: StrategySpec
    seed: int
    block: int
    keep: int  # how many of the block's replications the caller wants
    key: Any = None


@dataclass(frozen=True)
class Outcome:
    """A finished task: one row per kept replication, or the plugin error that stopped it."""

    task: Task
    columns: dict[str, list[Any]]  # replication, strategy, then every RunMeasures field
    error: str | None = None


def run_task(task: Task) -> Outcome:
    """Run a task here; safe to call in a worker process (it loads the strategy itself)."""
    simulation = Simulation(task.scenario, [task.spec], seed=task.seed, block=task.block, events=False)
    if not simulation.errors:
        simulation.run()
    if simulation.errors:
        return Outcome(task, {}, next(iter(simulation.errors.values())))
    measures = simulation.measure_columns()[task.spec.name]
    first = task.block * BLOCK_SIZE
    columns = {"replication": list(range(first, first + task.keep)), "strategy": [task.spec.name] * task.keep}
    for field in RunMeasures.__dataclass_fields__:
        columns[field] = measures[field][: task.keep]
    return Outcome(task, columns)


class Executor(Protocol):
    def run(self, tasks: Iterable[Task], total: int) -> Iterator[Outcome]:
        """Run ``total`` tasks (consumed lazily); yield each outcome as it finishes, in any order."""
        ...


class InlineExecutor:
    """Everything in this process, in order."""

    def run(self, tasks: Iterable[Task], total: int = 0) -> Iterator[Outcome]:
        for task in tasks:
            yield run_task(task)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork reuses what this process already imported (numpy, plugins): workers
    # start in milliseconds. Elsewhere spawn; tasks carry specs, not classes.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class LocalExecutor:
    """Local worker processes (default: one per core).

    Small jobs are not worth starting processes for: tasks run here until the
    job has taken ``inline_below`` seconds, and only the rest go to the
    workers, in batches of about
    ``batch_seconds`` of work, so that sending tasks and results costs little
    next to running them. Where and with what a task runs never changes its rows.
    """

    def __init__(
        self,
        workers: int | None = None,
        inline_below: float | None = None,
        batch_seconds: float = 0.05,
        window: int | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        # Forked workers start in milliseconds: a job of a quarter second is worth them (8,000 default
        # replications on 2 cores: 2.05 s against 2.86 s when waiting 2 s first). Spawned ones import
        # everything again (about a second each), so only longer jobs are.
        forks = _pool_context().get_start_method() == "fork"
        self.inline_below = inline_below if inline_below is not None else (0.25 if forks else 2.0)
        self.batch_seconds = batch_seconds
        self.window = window or 2 * self.workers  # batches in flight: bounds memory for huge sweeps

    def run(self, tasks: Iterable[Task], total: int) -> Iterator[Outcome]:
        pending = iter(tasks)
        started, done = time.perf_counter(), 0
        # Tasks differ a lot in length (a caught defect ends in minutes of
        # simulated time, a healthy release runs to the horizon), so no single
        # task predicts the job: run here until the job has taken inline_below.
        for task in pending:
            yield run_task(task)
            done += 1
            if self.workers > 1 and done < total and time.perf_counter() - started >= self.inline_below:
                break
        else:
            return
        seconds = (time.perf_counter() - started) / done
        left = total - done
        size = max(1, min(int(self.batch_seconds / max(seconds, 1e-6)), -(-left // (2 * self.workers))))
        pool = ProcessPoolExecutor(
            self.workers, mp_context=_pool_context(), initializer=_worker_setup, initargs=(os.getpid(),)
        )
        yield from _bounded(pool, _batches(pending, size), self.window)


def _worker_setup(parent: int) -> None:
    # Ctrl-C reaches every process of the terminal; the parent stops the sweep
    # and says how to resume, the workers need not each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    gc.freeze()  # as the CLI does (sim/cli.py: main): full collections skip what the worker has loaded


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (kill -9, OOM) would otherwise wait for work forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def run_batch(tasks: list[Task]) -> list[Outcome]:
    return [run_task(task) for task in tasks]


def _batches(tasks: Iterator[Task], size: int) -> Iterator[list[Task]]:
    while batch := _take(tasks, size):
        yield batch


def _bounded(pool: ProcessPoolExecutor, batches: Iterable[list[Task]], window: int) -> Iterator[Outcome]:
    """Keep at most ``window`` batches submitted; on any other exit (Ctrl-C too) stop the workers now."""
    running: set[Future[list[Outcome]]] = set()
    finished = False
    try:
        for batch in batches:
            running.add(pool.submit(run_batch, batch))
            if len(running) >= window:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (outcome for future in done for outcome in future.result())
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            yield from (outcome for future in done for outcome in future.result())
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop_now(pool)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work and terminate the workers.

    A worker that Ctrl-C reached before it could ignore it may die holding the
    task queue's lock; waiting for the others would then hang for ever.
    Their results are not wanted, and saved work is already on disk.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(timeout=5)


class DaskExecutor:
    """An existing Dask distributed cluster; a lost worker's tasks are run again elsewhere."""

    def __init__(self, scheduler: str, window: int | None = None) -> None:
        self.scheduler = scheduler
        self.window = window
        self._connect().close()  # a wrong address is bad input now, not a failure later

    def _connect(self) -> Any:
        try:
            from distributed import Client
        except ImportError:
            raise ScenarioError("--executor dask needs dask.distributed: pip install 'rollout-sim[dask]'") from None
        try:
            return Client(self.scheduler, timeout="10s", set_as_default=False)
        except (OSError, ValueError, TimeoutError) as error:
            raise ScenarioError(f"--scheduler {self.scheduler}: cannot reach a Dask scheduler: {error}") from None

    def run(self, tasks: Iterable[Task], total: int = 0) -> Iterator[Outcome]:
        """Tasks go out in batches (a few per worker thread at a time) to keep the scheduler's share small."""
        with self._connect() as client:
            yield from self._run(client, tasks, total)

    def _run(self, client: Any, tasks: Iterable[Task], total: int) -> Iterator[Outcome]:
        from distributed import as_completed

        threads = max(1, sum(client.nthreads().values()))
        batches = _batches(iter(tasks), max(1, min(16, total // (8 * threads))))
        # A couple of batches per worker thread: measured on the bundled sweep, 64 in
        # flight took 110 s where 4 took 66 s (local processes: 60 s).
        window = self.window or 2 * threads
        futures = as_completed(loop=client.loop)
        for batch in _take(batches, window):
            futures.add(client.submit(run_batch, batch, pure=False))
        for future in futures:
            yield from future.result()
            for batch in _take(batches, 1):
                futures.add(client.submit(run_batch, batch, pure=False))


def _take(items: Iterator[Any], count: int) -> list[Any]:
    return list(itertools.islice(items, count))


def make_executor(name: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """An executor by name: ``local`` (processes), ``inline`` (this process), ``dask``."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "inline":
        return InlineExecutor()
    if name == "dask":
        if not scheduler:
            raise ScenarioError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        if workers is not None:
            raise ScenarioError("--workers sets local processes; a Dask cluster has its own workers")
        return DaskExecutor(scheduler)
    raise ScenarioError(f"unknown executor {name!r}; expected local, inline or dask")
