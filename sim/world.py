"""The state of one run that the control-plane processes share.

The simpy processes in ``sim.engine`` own time; this object owns state: the
data plane, the detectors, the telemetry the detectors received, and the
rollout's progress (decisions, alarms, rollback, completion).
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.contract import Observation
from sim.dataplane import DataPlane, Streams
from sim.detectors import AnalysisJudge, ReportQueue, ServiceAlertRule, scrapes_in
from sim.population import Cohorts
from sim.scenario import Scenario
from sim.telemetry import CANARY, STABLE, TelemetryLog, stats

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
    """Everything one replication of one strategy knows and has done."""

    def __init__(
        self, env: simpy.Environment, scenario: Scenario, cohorts: Cohorts, unit: str, streams: Streams
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.population = cohorts.population
        self.plane = DataPlane(scenario, cohorts, unit, streams)
        self.people = streams.people
        interval = scenario.telemetry.scrape_interval
        detection = scenario.detection
        self.analysis = AnalysisJudge(detection.analysis, interval)
        self.service_alert = ServiceAlertRule(detection.service_alert, interval)
        self.reports = ReportQueue(detection.user_reports)
        longest = max(detection.analysis.window, detection.service_alert.window)
        self.log = TelemetryLog(scrapes_in(longest, interval))
        self.finished = env.event()
        self.decisions = 0
        self.done_at: float | None = None
        self.rollback_at: float | None = None
        self.detection_at: float | None = None
        self.detected_by: str | None = None
        self.mitigation_at: float | None = None
        self._seen_at_decision = np.zeros((2, 3), dtype=np.int64)
        self.timeline: list[tuple] | None = None

    @property
    def deciding(self) -> bool:
        """The strategy is still in charge: no rollback, not done, not finished."""
        return self.rollback_at is None and self.done_at is None and not self.finished.triggered

    def advance(self, event: str = "") -> None:
        """Bring the data plane up to now; a timeline row shows the state from now on."""
        self._advance_plane()
        self._record(event)

    def set_weight(self, weight: float, event: str = "") -> None:
        self._advance_plane()
        self.plane.set_weight(weight)
        self._record(event or f"weight {weight:g}")

    def _advance_plane(self) -> None:
        span = self.plane.advance(self.env.now)
        # People notice harm done to them and may report it later.
        self.reports.add_harm(span.newly_harmed_users, span.start, span.end, self.people)

    def observe(self) -> Observation:
        seen = self.log.latest - self._seen_at_decision
        self._seen_at_decision = self.log.latest
        self.decisions += 1
        return Observation(
            now=self.env.now,
            weight=self.plane.weight,
            decisions=self.decisions - 1,
            analysis=self.analysis.status,
            canary=stats(seen, CANARY),
            stable=stats(seen, STABLE),
        )

    def finish(self) -> None:
        if not self.finished.triggered:
            self.finished.succeed()

    def _record(self, event: str) -> None:
        if self.timeline is None:
            return
        plane = self.plane
        self.timeline.append(
            (
                self.env.now,
                plane.weight,
                plane.requests,
                plane.new_requests,
                int(plane.counters[CANARY, 1]),
                plane.harmed_requests,
                plane.exposure.exposed_users,
                plane.exposure.harmed_users,
                event,
            )
        )
