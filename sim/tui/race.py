"""One replication of every strategy, stepped on a simulated clock, as the race screen shows it.

No textual here: the screen asks a ``Race`` to advance and draws what it
recorded; tests drive it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.lane import Event
from sim.scenario import Scenario
from sim.simulation import Simulation

SAMPLES = 2000
"""Samples per lane over the horizon (a one-day race: one every 43 s)."""


@dataclass
class Sample:
    """One lane at one simulated time."""

    time: float
    weight: float  # the largest share the new version serves
    shares: dict[str, float]  # per segment
    error_rate: float  # new version, since the previous sample (NaN: no requests)
    reference_rate: float  # baseline arm when there is one, else stable
    harmed_users: int
    exposed_users: int
    phase: str


@dataclass
class Marker:
    """Something worth a mark on a lane: defect onset, an alarm or failed verdict, rollback, done."""

    time: float
    kind: str  # onset, detected, mitigated, done, alarm
    label: str


@dataclass
class Lane:
    name: str
    samples: list[Sample] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    error: str | None = None

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)


class Race:
    """Every chosen strategy on replication ``replication`` of the scenario: same traffic, same defect."""

    def __init__(self, scenario: Scenario, seed: int | None = None, replication: int = 0) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.horizon = scenario.horizon
        self.every = max(1.0, self.horizon / SAMPLES)
        self.simulation = Simulation(scenario, seed=self.seed, block=0, replications=replication + 1)
        self.replication = replication
        self.lanes = {spec.name: Lane(spec.name) for spec in scenario.strategies}
        for name, message in self.simulation.errors.items():
            self.lanes[name].error = message
        self._totals: dict[str, tuple[int, int, int, int]] = {}
        self._ended = False
        self.simulation.subscribe(self._on_event)
        self._sample()

    @property
    def now(self) -> float:
        return self.simulation.now

    @property
    def finished(self) -> bool:
        """At the horizon, or nothing could change any more in any lane (every one rolled back, or
        failed) at the last sample. A promoted release can still be rolled back (an alarm): it runs on."""
        return self.now >= self.horizon or self._ended

    def advance(self, seconds: float) -> list[Event]:
        """Run ``seconds`` of simulated time (at most to the horizon); returns the events on the way."""
        before = len(self.simulation.events)
        target = min(self.horizon, self.now + max(0.0, seconds))
        while self.now < target and not self.finished:
            boundary = (math.floor(self.now / self.every + 1e-9) + 1) * self.every
            self.simulation.run_until(min(target, boundary))
            if self.now >= min(boundary, self.horizon):  # samples on a fixed grid: stepping changes nothing
                self._sample()
                self._ended = self.simulation.all_terminal()  # it stops there, however large the step
        self._errors()
        return self._mine(self.simulation.events[before:])

    def next_event(self, limit: float | None = None) -> list[Event]:
        """Run until the next control event (exposure, verdict, alarm, rollback, done) or ``limit`` seconds."""
        limit = self.horizon if limit is None else limit
        start, found = self.now, []
        while not found and self.now < self.horizon and self.now - start < limit:
            found = self.advance(self.every)
        return found

    def _mine(self, events: list[Event]) -> list[Event]:
        return [e for e in events if e.replication == self.replication]

    def _on_event(self, event: Event) -> None:
        if event.replication != self.replication or event.strategy not in self.lanes:
            return
        lane = self.lanes[event.strategy]
        if event.kind == "rolling_back":
            # Detected when the alarm that led to the rollback fired (as the measures count it), else now.
            by = event.detail.split(":")[0]
            alarm = next((m for m in lane.markers if m.kind == "alarm" and m.label == by), None)
            lane.markers.append(Marker(event.time if alarm is None else alarm.time, "detected", by))
            return
        kind = {"defect onset": "onset", "alarm": "alarm", "mitigated": "mitigated", "done": "done"}.get(event.kind)
        if kind is not None:
            lane.markers.append(Marker(event.time, kind, event.detail or event.kind))

    def _errors(self) -> None:
        for name, message in self.simulation.errors.items():
            if name in self.lanes and self.lanes[name].error is None:
                self.lanes[name].error = " ".join(message.split())

    def _sample(self) -> None:
        for row in self.simulation.snapshot_rows():
            if row["replication"] != self.replication:
                continue
            name = row["strategy"]
            new, new_errors = row["new_requests"], row["new_errors"]
            baseline = row["baseline_requests"] > 0
            reference = (
                (row["baseline_requests"], row["baseline_errors"])
                if baseline
                else (row["stable_requests"], row["stable_errors"])
            )
            last = self._totals.get(name, (0, 0, 0, 0))
            self._totals[name] = (new, new_errors, *reference)
            lane = self.lanes[name]
            error_rate = _rate(new_errors - last[1], new - last[0])
            reference_rate = _rate(reference[1] - last[3], reference[0] - last[2])
            if new == last[0] and reference[0] == last[2] and lane.latest is not None:
                # No tick was drawn since the last sample (ticks are a minute apart): nothing new to say.
                error_rate, reference_rate = lane.latest.error_rate, lane.latest.reference_rate
            lane.samples.append(
                Sample(
                    time=row["time_s"],
                    weight=row["weight"],
                    shares=row["shares"],
                    error_rate=error_rate,
                    reference_rate=reference_rate,
                    harmed_users=row["harmed_users"],
                    exposed_users=row["exposed_users"],
                    phase=row["phase"],
                )
            )


def _rate(errors: int, requests: int) -> float:
    return errors / requests if requests > 0 else math.nan
