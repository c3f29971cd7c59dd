"""A strategy's judges over a block: which run in each replication, when they measure, their verdicts.

Each judge is one plugin instance for the whole block (vectorised over its
replications). A replication's strategy starts, keeps, stops and resets its
judges through its decisions; this board turns that into the ``due`` and
``restarted`` masks a judge receives at every scrape, and keeps each
judge's latest verdicts for the strategy to see.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.contract import VERDICTS, Arm, Judge, JudgeData, JudgeView, Verdicts
from sim.durations import parse_duration, short_repr
from sim.guard import PluginError, guarded
from sim.latency import LatencyModel
from sim.scenario import MAX_WINDOW
from sim.telemetry import BASELINE, ERRORS, FIRST_BUCKET, NEW, REQUESTS, SLOW, STABLE, TelemetryLog, scrapes_in

_FIELDS = ("verdict", "statistic", "last", "measurements", "failures", "inconclusive")
_LAST = (None, *VERDICTS[1:])  # JudgeView.last of each code: None before the first measurement
_new_tuple = tuple.__new__


def _timing(judge: Judge, name: str, default: float) -> float:
    value = guarded(name, getattr, judge, name, default)
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise PluginError(f"{name}: {error}") from None
    return seconds


class _Entry:
    """One judge of the board, with per-replication timing and its latest verdicts."""

    def __init__(self, name: str, judge: Judge, replications: int, scrape_interval: float, label: str) -> None:
        self.name, self.judge, self.label = name, judge, label
        try:
            # Bounded as judge_factory checks (a judge built past that check still cannot exhaust memory).
            self.window = min(max(_timing(judge, "window", scrape_interval), scrape_interval), MAX_WINDOW)
            # Judges measure when a scrape arrives: a shorter interval would mean nothing more.
            self.interval = max(_timing(judge, "interval", scrape_interval), scrape_interval)
            self.initial_delay = _timing(judge, "initial_delay", 0.0)
        except PluginError as error:
            raise PluginError(f"{label}: {error}") from None
        if self.interval <= 0:
            raise PluginError(f"{label}: interval must be a positive duration")
        self.scrapes = scrapes_in(self.window, scrape_interval)
        # Every judge runs from t = 0 until a decision says otherwise (a plugin that never names
        # its judges still has them, as in the first contract).
        self.running = np.ones(replications, dtype=bool)
        self.restarted = np.ones(replications, dtype=bool)
        self.next_due = np.full(replications, self.initial_delay + self.interval)
        zeros = np.zeros(replications, dtype=np.int64)
        self.state = {field: zeros.copy() for field in _FIELDS}
        self.state["statistic"] = np.full(replications, np.nan)
        self._rows: list[tuple] | None = None
        self._stale: set[int] = set()  # rows to read again (a replication started or stopped since)

    def changed(self) -> None:
        self._rows = None
        self._stale.clear()

    def start(self, r: int, now: float, fresh: bool) -> None:
        if fresh or not self.running[r]:
            self.restarted[r] = True
            for field, values in self.state.items():
                values[r] = math.nan if field == "statistic" else 0
            self.next_due[r] = now + self.initial_delay + self.interval
        self.running[r] = True
        self._changed_row(r)

    def stop(self, r: int) -> None:
        self.running[r] = False
        self.next_due[r] = np.inf
        self._changed_row(r)

    def _changed_row(self, r: int) -> None:
        """One replication changed: its row only, read when next viewed (a stopped one seldom is)."""
        self._stale.add(r)

    def view(self, r: int) -> JudgeView:
        if self._rows is None:  # Python tuples, made once per change: cheaper than numpy scalars per view
            columns = [self.state[field].tolist() for field in _FIELDS]
            self._rows = list(zip(*columns, self.running.tolist(), strict=True))
            self._stale.clear()
        elif r in self._stale:
            self._stale.discard(r)
            self._rows[r] = (*(self.state[field][r].item() for field in _FIELDS), bool(self.running[r]))
        verdict, statistic, last, measurements, failures, inconclusive, running = self._rows[r]
        # JudgeView's fields in order, made as the tuple it is (one view per decision: skips its __new__).
        view = (self.name, VERDICTS[verdict], statistic, measurements, failures, inconclusive, _LAST[last], running)
        return _new_tuple(JudgeView, view)


class JudgeBoard:
    """Every judge of one strategy over a block; all run from t = 0 until a decision names others."""

    def __init__(
        self,
        factories: dict[str, Callable[[], Judge]],
        replications: int,
        scrape_interval: float,
        strategy: str,
        latency: LatencyModel | None = None,
    ) -> None:
        self._bounds = latency.bounds if latency is not None else None
        self.entries = {
            name: _Entry(name, make(), replications, scrape_interval, f"strategy {strategy!r}: judge {name!r}")
            for name, make in factories.items()
        }
        self.replications = replications
        self.changed: dict[int, list[str]] = {}  # replication -> judges whose verdict changed at the last scrape

    @property
    def longest_window(self) -> float:
        return max((entry.window for entry in self.entries.values()), default=0.0)

    def apply(self, r: int, now: float, running: tuple[str, ...] | None, reset: tuple[str, ...]) -> str | None:
        """A decision's judges: start, keep, stop, reset. Returns a problem (unknown name) or None."""
        unknown = [name for name in (*(running or ()), *reset) if name not in self.entries]
        if unknown:
            known = ", ".join(self.entries) or "none"
            return f"unknown judge {unknown[0]!r}; this strategy's judges: {known}"
        for name, entry in self.entries.items():
            if running is not None and name not in running:
                entry.stop(r)
            elif running is not None or name in reset:
                entry.start(r, now, fresh=name in reset)
        return None

    def stop_all(self, r: int) -> None:
        for entry in self.entries.values():
            entry.stop(r)

    def view(self, r: int, name: str) -> JudgeView | None:
        entry = self.entries.get(name)
        return None if entry is None else entry.view(r)

    def views(self, r: int) -> dict[str, JudgeView]:
        return {name: entry.view(r) for name, entry in self.entries.items()}

    def failed(self, r: int) -> str | None:
        """The first judge (in declaration order) whose verdict is failed, or None."""
        for name, entry in self.entries.items():
            if entry.state["verdict"][r] == 2:
                return name
        return None

    def measure(self, log: TelemetryLog, now: float) -> np.ndarray:
        """Run every judge that is due in some replication; returns replications whose verdict changed."""
        woken = np.zeros(self.replications, dtype=bool)
        self.changed: dict[int, list[str]] = {}
        for name, entry in self.entries.items():
            if not (entry.running.any() or entry.restarted.any()):
                continue
            due = entry.running & (now + 1e-9 >= entry.next_due)
            if not due.any() and not entry.restarted.any():
                continue
            # (R, arms, metrics) over every segment; einsum: the exact integer sum, faster on such small arrays.
            counts = np.einsum("rsam->ram", log.window(entry.scrapes))
            data = JudgeData(  # copies: a judge must not change the engine's own arrays
                now=now,
                due=due.copy(),
                restarted=entry.restarted.copy(),
                missing=log.missing.copy(),
                new=_arm(counts, NEW, self._bounds),
                stable=_arm(counts, STABLE, self._bounds),
                baseline=_arm(counts, BASELINE, self._bounds),
            )
            verdicts = self._call(entry, data)
            before = entry.state["verdict"].copy()
            for field in _FIELDS:
                values = getattr(verdicts, field)
                if values is not None:
                    entry.state[field][:] = values
            entry.restarted[:] = False
            entry.changed()
            # The next measurement: the first multiple of the interval after now (catch up in one step).
            late = np.floor((now + 1e-9 - entry.next_due[due]) / entry.interval) + 1
            entry.next_due[due] += late * entry.interval
            moved = entry.running & (entry.state["verdict"] != before) & (entry.state["verdict"] != 0)
            for r in np.flatnonzero(moved).tolist():
                self.changed.setdefault(r, []).append(name)
            woken |= moved
        return woken

    def _call(self, entry: _Entry, data: JudgeData) -> Verdicts:
        verdicts = guarded(entry.label, entry.judge.measure, data)
        if type(verdicts) is not Verdicts:
            raise PluginError(f"{entry.label} returned {short_repr(verdicts)}, expected a sim.Verdicts")
        try:
            problem = Verdicts.problem(verdicts, self.replications)
        except Exception as error:  # arrays of an odd dtype or shape
            problem = f"malformed ({type(error).__name__})"
        if problem:
            raise PluginError(f"{entry.label} returned bad verdicts: {problem}")
        return verdicts


def _arm(counts: np.ndarray, arm: int, bounds: tuple[float, ...] | None) -> Arm:
    row = counts[:, arm]
    if bounds is None:
        return Arm(requests=row[:, REQUESTS], errors=row[:, ERRORS], slow=row[:, SLOW])
    return Arm(row[:, REQUESTS], row[:, ERRORS], row[:, SLOW], row[:, FIRST_BUCKET:], bounds)
