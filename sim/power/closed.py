"""What a closed form answers: the probability that the judge has failed by each of its measurements, with
the defect and healthy, and from it the rates at a bake (the measurements that arrive by its end)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EVENT_RESOLUTION = 1e-6  # the engine rounds event times to a microsecond


@dataclass(frozen=True)
class ClosedForm:
    """P(the judge has failed by each of its measurements), with the defect and healthy."""

    method: str
    times: np.ndarray  # when each measurement is taken (its scrape's arrival), seconds from the start
    detection: np.ndarray
    false_rollback: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def at(self, bake: float) -> tuple[float, float]:
        """The rates for a bake: the measurements that arrive by its end (at the same instant included)."""
        taken = int(np.searchsorted(self.times, bake + EVENT_RESOLUTION, side="right"))
        if taken == 0:
            return 0.0, 0.0
        return float(self.detection[taken - 1]), float(self.false_rollback[taken - 1])
