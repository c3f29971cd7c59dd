"""The shared state of a block of replications of one strategy.

The simpy processes in ``sim.engine`` own time; this object owns state: the
data plane, the detectors and the telemetry they received (all with one entry
per replication), and each replication's progress (decisions, alarms,
rollback, completion). Replications of a block share the clock and the random
streams, so one numpy call advances all of them.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.contract import Observation
from sim.dataplane import DataPlane, Streams
from sim.detectors import AnalysisJudge, ReportQueue, ServiceAlertRule, scrapes_in
from sim.measures import RunMeasures, measure
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.telemetry import CANARY, ERRORS, STABLE, TelemetryLog, stats

TIMELINE_COLUMNS = (
    "time_s",
    "weight",
    "requests",
    "new_requests",
    "new_errors",
    "harmed_requests",
    "exposed_users",
    "harmed_users",
    "event",
)


class World:
    """Everything the replications of one block know and have done."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        cohorts: Cohorts,
        replications: int,
        unit: str,
        streams: Streams,
        traced: int | None = None,
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.replications = replications
        self.population = cohorts.population
        self.plane = DataPlane(scenario, cohorts, replications, unit, streams)
        self.people = streams.people
        interval = scenario.telemetry.scrape_interval
        detection = scenario.detection
        self.analysis = AnalysisJudge(detection.analysis, interval, replications)
        self.service_alert = ServiceAlertRule(detection.service_alert, interval, replications)
        self.reports = ReportQueue(detection.user_reports, replications)
        longest = max(detection.analysis.window, detection.service_alert.window)
        self.log = TelemetryLog(replications, scrapes_in(longest, interval))
        self.all_finished = env.event()
        self.measures: list[RunMeasures | None] = [None] * replications
        self.decisions = np.zeros(replications, dtype=np.int64)
        self.done_at: list[float | None] = [None] * replications
        self.rollback_at: list[float | None] = [None] * replications
        self.detection_at: list[float | None] = [None] * replications
        self.detected_by: list[str | None] = [None] * replications
        self.mitigation_at: list[float | None] = [None] * replications
        self.responding: set[tuple[int, str]] = set()  # (replication, detector) with a responder on its way
        self._seen_at_decision = np.zeros((replications, 2, 3), dtype=np.int64)
        self._unfinished = replications
        self.traced = traced
        self.timeline: list[tuple] = []

    def finished(self, replication: int) -> bool:
        return self.measures[replication] is not None

    def deciding(self, replication: int) -> bool:
        """The strategy is still in charge: no rollback, not done, not finished."""
        return (
            self.rollback_at[replication] is None
            and self.done_at[replication] is None
            and not self.finished(replication)
        )

    def advance(self, replication: int | None = None, event: str = "") -> None:
        """Bring the data plane up to now; a timeline row (if traced) shows the state from now on."""
        moved = self.env.now > self.plane.position
        if moved:
            span = self.plane.advance(self.env.now)
            # People notice harm done to them and may report it later.
            self.reports.add_harm(span.newly_harmed_users, span.start, span.end, self.people)
        if self.traced is not None and replication in (None, self.traced) and (moved or event):
            self._record(event)

    def set_weight(self, replication: int, weight: float, event: str = "") -> None:
        self.advance()
        self.plane.set_weight(replication, weight)
        if replication == self.traced:
            self._record(event or f"weight {weight:g}")

    def observe(self, replication: int) -> Observation:
        latest = self.log.latest[replication]
        seen = latest - self._seen_at_decision[replication]
        self._seen_at_decision[replication] = latest
        self.decisions[replication] += 1
        return Observation(
            now=self.env.now,
            weight=float(self.plane.weights[replication]),
            decisions=int(self.decisions[replication]) - 1,
            analysis=self.analysis.status(replication),
            canary=stats(seen, CANARY),
            stable=stats(seen, STABLE),
        )

    def finish(self, replication: int) -> None:
        """Freeze a replication's measures; the block ends when every replication has."""
        if self.finished(replication):
            return
        self.measures[replication] = measure(self, replication)
        self._unfinished -= 1
        if self._unfinished == 0:
            self.all_finished.succeed()

    def _record(self, event: str) -> None:
        plane, r = self.plane, self.traced
        self.timeline.append(
            (
                self.env.now,
                float(plane.weights[r]),
                int(plane.requests[r]),
                int(plane.new_requests[r]),
                int(plane.counters[r, CANARY, ERRORS]),
                int(plane.harmed_requests[r]),
                int(plane.exposure.exposed_users[r]),
                int(plane.exposure.harmed_users[r]),
                event,
            )
        )
