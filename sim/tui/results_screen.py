"""The Monte Carlo comparison of the session's scenario: the numbers of ``rollout-sim compare``, and charts.

The comparison runs in a thread worker; the worker touches no widget, it
reports progress through ``app.call_from_thread``. Cancelling sets an event
that the progress callback turns into an exception, which stops ``compare``
at the next finished block; the executor's generator is then closed at once,
which stops its worker processes (sim/executors.py: ``_bounded``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import ClassVar, Literal

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import Worker, WorkerState

from sim.durations import format_duration
from sim.executors import Executor, LocalExecutor, Outcome, Task
from sim.experiments import compare
from sim.render import comparison_table, outcome_table
from sim.results import Comparison
from sim.scenario import Scenario, ScenarioError
from sim.tui.charts import comparison_charts
from sim.tui.export import export
from sim.tui.session import Result

State = Literal["running", "cancelling", "done", "cancelled", "failed"]

WIDE = 120
"""Columns from which the charts go two by two."""
WIDER = 150
"""Columns from which the two tables stand side by side."""


class Cancelled(Exception):
    """Raised by the progress callback once the run is cancelled: it unwinds ``compare``."""


class ClosingExecutor:
    """An executor whose runs can be closed now, from the thread that consumed them.

    ``compare`` iterates ``executor.run(...)``; when the progress callback raises,
    that generator is left suspended, and its ``finally`` (``LocalExecutor``:
    cancel what is queued, terminate the worker processes) only runs when the
    garbage collector gets to it: not before the exception and its traceback,
    which refer to it, are gone. Closing it runs that ``finally`` now, whoever
    still holds the traceback.
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._runs: list[Iterator[Outcome]] = []

    def run(self, tasks: Iterable[Task], total: int) -> Iterator[Outcome]:
        outcomes = self.executor.run(tasks, total)
        self._runs.append(outcomes)
        return outcomes

    def close(self) -> None:
        for outcomes in self._runs:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()


def delta_table(previous: Result, current: Result) -> Table:
    """Mean users harmed and time to detect per strategy: the previous result, this one, and the change."""
    table = Table(
        title="change since the previous result (means)",
        caption=f"before: {escape(previous.label)}; now: {escape(current.label)}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("strategy")
    for header in ("users harmed\nbefore → now", "\nchange", "time to detect\nbefore → now", "\nchange"):
        table.add_column(header, justify="right")
    before, now = previous.comparison.summaries, current.comparison.summaries
    for name in [*now, *(n for n in before if n not in now)]:
        cells: list[str] = []
        for metric, fmt in (("blast_radius_users", _count), ("ttd_s", _duration)):
            old = before[name].metrics[metric].mean if name in before else None
            new = now[name].metrics[metric].mean if name in now else None
            cells += [f"{_or_dash(old, fmt)} → {_or_dash(new, fmt)}", _change(old, new, fmt)]
        table.add_row(escape(name), *cells)
    return table


def _count(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _duration(value: float) -> str:
    return format_duration(abs(value))


def _or_dash(value: float | None, fmt: Callable[[float], str]) -> str:
    return "-" if value is None or math.isnan(value) else fmt(value)


def _change(old: float | None, new: float | None, fmt: Callable[[float], str]) -> str:
    """``+828 (+297%)``, ``-30s (-12%)``; ``same`` when both show the same."""
    if old is None or new is None or math.isnan(old) or math.isnan(new):
        return "-"
    if fmt(old) == fmt(new):
        return "same"
    difference = new - old
    text = f"{'+' if difference > 0 else '-'}{fmt(abs(difference))}"
    if old:
        text += f" ({100 * difference / old:+.0f}%)"
    return text


def one_line(text: str) -> str:
    return " ".join(str(text).split())


class ResultsScreen(Screen[None]):
    """Runs the comparison, then shows its tables, charts, and the change since the previous one."""

    BINDINGS: ClassVar = [
        Binding("x", "cancel", "Cancel"),
        Binding("escape", "back", "Back"),
        Binding("e", "export", "Export"),
        Binding("k", "knobs", "Knobs"),
        Binding("r", "rerun", "Re-run"),
    ]

    DEFAULT_CSS = """
    ResultsScreen #body {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    ResultsScreen #status {
        padding: 0 1;
        color: $text;
        text-style: bold;
    }
    ResultsScreen #progress {
        padding: 0 1;
        height: auto;
    }
    ResultsScreen #problem, ResultsScreen #errors {
        color: $error;
        padding: 0 1;
    }
    ResultsScreen .hidden {
        display: none;
    }
    ResultsScreen #delta {
        padding: 1 1 0 1;
    }
    ResultsScreen #tables {
        layout: vertical;
        height: auto;
    }
    ResultsScreen.-wider #tables {
        layout: horizontal;
    }
    ResultsScreen #tables > Static {
        width: auto;
        max-width: 100%;
        padding: 1 0 0 0;  /* the comparison table is 79 columns wide: it fits 80 with the scrollbar */
    }
    ResultsScreen.-wider #comparison-table {
        padding-right: 2;
    }
    ResultsScreen #charts {
        height: auto;
    }
    ResultsScreen .chart-row {
        layout: vertical;
        height: auto;
    }
    ResultsScreen.-wide .chart-row {
        layout: horizontal;
    }
    ResultsScreen .chart {
        border-top: solid $primary;
        margin: 1 1 0 1;
    }
    ResultsScreen.-wide .chart {
        width: 1fr;
    }
    """

    make_executor: ClassVar[Callable[[], Executor]] = LocalExecutor
    """Where the replications run: local processes (small jobs stay in this process). Not InlineExecutor:
    a big run uses every core, and a cancelled one still leaves no process behind (``ClosingExecutor``)."""
    export_directory: ClassVar[Path] = Path("reports")

    def __init__(self) -> None:
        super().__init__()
        self.state: State = "running"
        self.result: Result | None = None
        self.problem: str | None = None
        self.runs_done, self.runs_total = 0, 0
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="body"):
            yield Static("", id="status")
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="problem", classes="hidden")
            yield Static("", id="errors", classes="hidden")
            yield Static("", id="delta", classes="hidden")
            with Container(id="tables"):
                yield Static("", id="comparison-table", classes="hidden")
                yield Static("", id="outcome-table", classes="hidden")
            yield Container(id="charts", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        session = self.app.session
        self.sub_title = "compare"
        try:
            scenario = session.effective()
        except ScenarioError as error:
            self._fail(str(error))
            return
        self._status(
            f"Comparing {len(scenario.strategies)} strategies over {scenario.replications:,} replications "
            f"of {escape(scenario.name)} (seed {scenario.seed})…  x cancels"
        )
        app, cancel, make_executor = self.app, self._cancel, type(self).make_executor

        def work() -> Comparison | None:
            return self._compare(scenario, cancel, make_executor, app.call_from_thread)

        self.run_worker(work, name="compare", thread=True, exclusive=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._cancel.set()  # a run nobody will see stops at its next block (and the app can exit)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
        self.set_class(event.size.width >= WIDER, "-wider")

    # -- the worker (a thread: touches no widget) -----------------------------------------------

    def _compare(
        self,
        scenario: Scenario,
        cancel: threading.Event,
        make_executor: Callable[[], Executor],
        call_from_thread: Callable[..., object],
    ) -> Comparison | None:
        executor = ClosingExecutor(make_executor())

        def progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise Cancelled
            call_from_thread(self._progress, done, total)

        try:
            comparison = compare(scenario, progress=progress, executor=executor)
        except Cancelled:
            return None
        finally:
            executor.close()
        return None if cancel.is_set() else comparison

    # -- back on the app's thread ------------------------------------------------------------------

    def _progress(self, done: int, total: int) -> None:
        self.runs_done, self.runs_total = done, total
        if self.state == "running" and self.is_attached:
            self.query_one("#progress", ProgressBar).update(total=total, progress=done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "compare":
            return
        if event.state == WorkerState.SUCCESS:
            comparison = event.worker.result
            if comparison is None:
                self._cancelled()
            else:
                self._done(comparison)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self._fail(str(error) if isinstance(error, ScenarioError) else f"{type(error).__name__}: {error}")

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def _show(self, selector: str, content: object | None) -> None:
        widget = self.query_one(selector, Static)
        if content is not None:
            widget.update(content)
        widget.set_class(content is None, "hidden")

    def _finish(self, state: State) -> None:
        self.state = state
        self.query_one("#progress").add_class("hidden")
        self.refresh_bindings()

    def _fail(self, message: str) -> None:
        self.problem = one_line(message)
        self._finish("failed")
        self._status("Cannot compare")
        self._show("#problem", Text(self.problem))

    def _cancelled(self) -> None:
        self._finish("cancelled")
        done = f" after {self.runs_done:,} of {self.runs_total:,} runs" if self.runs_total else ""
        self._status(f"Cancelled{done}: no result kept.  r runs it again, escape goes back")

    def _done(self, comparison: Comparison) -> None:
        session = self.app.session
        self.result = session.add_result(comparison)
        self._finish("done")
        strategies = len(comparison.summaries) + len(comparison.errors)
        self._status(
            f"{escape(comparison.scenario)}: {strategies} strategies over {comparison.replications:,} replications, "
            f"seed {comparison.seed}; knobs: {escape(self.result.label)}"
        )
        if comparison.errors:
            lines = [f"{name}: {one_line(message)}" for name, message in comparison.errors.items()]
            self._show("#errors", Text("\n".join(lines)))
        results = session.results
        if len(results) == 2 and results[-1] is self.result:
            self._show("#delta", delta_table(results[0], self.result))
        if comparison.summaries:
            self._show("#comparison-table", comparison_table(comparison))
            self._show("#outcome-table", outcome_table(comparison))
            self._mount_charts(comparison)

    def _mount_charts(self, comparison: Comparison) -> None:
        charts = self.query_one("#charts", Container)
        panels = comparison_charts(comparison)
        rows = [Container(*panels[i : i + 2], classes="chart-row") for i in range(0, len(panels), 2)]
        charts.mount_all(rows)
        charts.remove_class("hidden")

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return True if self.state == "running" else None
        if action == "export":
            return True if self.result is not None else None
        return True

    def action_cancel(self) -> None:
        if self.state == "running":
            self._cancel.set()
            self.state = "cancelling"
            self._status("Cancelling…")
            self.refresh_bindings()

    def action_back(self) -> None:
        if self.state == "running":
            self.action_cancel()
        else:
            self.dismiss()

    def action_export(self) -> None:
        if self.result is None:
            return
        try:
            folder = export(self.result, self.export_directory, source=self.app.session.name)
        except OSError as error:
            self.notify(f"Cannot export: {one_line(str(error))}", severity="error", timeout=8)
            return
        self.notify(f"Wrote {folder}", title="Exported")

    def action_knobs(self) -> None:
        self.app.action_knobs()

    def action_rerun(self) -> None:
        self.app.action_compare()
