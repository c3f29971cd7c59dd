"""The defect the new version carries, tick by tick: when it is active, on whom, and how strongly.

Harm that varies with time (a leak growing with uptime) or with load (only
above some traffic) is evaluated at the middle of each tick; ticks start
and end at the defect's onset and at the end of its leak, so a linear leak
is integrated exactly over a tick at constant exposure.
"""

from __future__ import annotations

import numpy as np

from sim.dataplane import Harm
from sim.population import Cohorts
from sim.scenario import Scenario


class DefectModel:
    """Per-tick harm of the scenario's defect (None: a healthy release, or not yet active)."""

    def __init__(self, scenario: Scenario, cohorts: Cohorts, carriers: np.ndarray | None = None) -> None:
        """``carriers``: per replication, whether its release carries the defect (None: all do)."""
        self.config = scenario.release.defect
        self._cohorts = cohorts
        self._carriers = None if carriers is None or carriers.all() else carriers.astype(float)
        if self.config is None:
            return
        scope = np.ones(cohorts.size, dtype=bool)
        if self.config.segment is not None:
            scope = cohorts.segment == cohorts.segment_names.index(self.config.segment)
        self._base = np.where(scope, self.config.harm, 0.0)
        self._everyone = self.config.segment is None

    @property
    def edges(self) -> list[float]:
        """Times at which the harm changes shape (ticks start there)."""
        if self.config is None:
            return []
        return [self.config.onset, self.config.onset + self.config.leak]

    def factor(self, time: float) -> float:
        """Share of the full harm probability at ``time`` (0 before onset)."""
        defect = self.config
        if defect is None or time < defect.onset:
            return 0.0
        growth = 1.0 if defect.leak <= 0 else min(1.0, (time - defect.onset) / defect.leak)
        if defect.min_load > 0 and self._cohorts.service_rate(time) <= defect.min_load:
            return 0.0
        return growth

    def during(self, start: float, end: float) -> Harm | None:
        if self.config is None or end <= self.config.onset:
            return None
        factor = self.factor((start + end) / 2.0)
        if factor <= 0.0:
            return None
        return Harm(
            probability=self._base * factor,
            test_probability=self.config.harm * factor if self._everyone else 0.0,
            kind=self.config.kind,
            start=self.config.onset,
            carriers=self._carriers,
        )
