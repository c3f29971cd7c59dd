"""The measures of one run, exactly as the design defines them (docs/concepts.md).

Detection is the alarm that led to the rollback, counted only at or after
defect onset: an alarm before onset (or on a healthy release) is a false
rollback, with no time to detection, whatever it later turned out to stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.lane import Lane

OUTCOMES = ("rolled_back", "escaped", "completed", "false_rollback", "stalled")


@dataclass(frozen=True)
class RunMeasures:
    """One replication of one strategy. Times are seconds since rollout start; None = did not happen.

    ``alarm_s``/``alarm_by``: the alarm that led to a rollback (true or
    false); ``detection_s``/``caught_by``: the same, only when it was at or
    after onset. ``caught_late``: a rolled-back run that had served every
    user first. ``harmed_after_mitigation``: requests a persistent defect
    harmed after the rollback completed (part of ``blast_radius_requests``).
    ``requests``: the whole service's requests to the horizon (once every
    replication of a block is mitigated, the rest is drawn as one Poisson
    total per replication, since nothing else depends on it).
    """

    outcome: str
    caught_by: str | None
    caught_late: bool
    onset_s: float | None
    detection_s: float | None
    alarm_s: float | None
    alarm_by: str | None
    rollback_s: float | None
    mitigation_s: float | None
    ttd_s: float | None
    ttm_s: float | None
    rollout_duration_s: float | None
    blast_radius_users: int
    blast_radius_share: float
    blast_radius_requests: int
    harmed_after_mitigation: int
    exposed_users: int
    exposed_share: float
    new_requests: int
    requests: int
    end_s: float
    defective: bool  # this run's release carries the defect (False for the healthy share of a mix)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # dataclasses.asdict deep-copies; these fields are all scalars


def outcome_of(healthy: bool, rolled_back: bool, caught: bool, done: bool) -> str:
    """The outcome of a run (``caught``: its rollback came from an alarm at or after onset)."""
    if rolled_back:
        return "rolled_back" if caught and not healthy else "false_rollback"
    if not healthy:
        return "escaped"
    return "completed" if done else "stalled"


def _value(number: float) -> float | None:
    return None if math.isnan(number) else float(number)


def measure(lane: Lane, r: int, now: float) -> RunMeasures:
    """The measures of one replication of a lane, as they stand at ``now``."""
    plane = lane.plane
    onset = _value(plane.onset[r])
    alarm = _value(lane.alarm_at[r])
    rollback, mitigation = _value(lane.rollback_at[r]), _value(lane.mitigation_at[r])
    caught = alarm is not None and onset is not None and alarm >= onset
    healthy = not lane.defective[r]
    full = _value(lane.full_at[r])
    harmed, exposed = int(plane.bands.harmed_users[r]), int(plane.bands.exposed_users[r])
    return RunMeasures(
        outcome=outcome_of(healthy, rollback is not None, caught, not math.isnan(lane.done_at[r])),
        caught_by=lane.alarm_by[r] if caught else None,
        caught_late=bool(caught and full is not None and rollback is not None and full <= rollback),
        onset_s=onset,
        detection_s=alarm if caught else None,
        alarm_s=alarm,
        alarm_by=lane.alarm_by[r],
        rollback_s=rollback,
        mitigation_s=mitigation,
        ttd_s=alarm - onset if caught else None,
        ttm_s=mitigation - onset if caught and mitigation is not None else None,
        rollout_duration_s=_value(lane.done_at[r]),
        blast_radius_users=harmed,
        blast_radius_share=harmed / lane.population,
        blast_radius_requests=int(plane.harmed_requests[r]),
        harmed_after_mitigation=int(plane.harmed_after_mitigation[r]),
        exposed_users=exposed,
        exposed_share=exposed / lane.population,
        new_requests=int(plane.new_requests[r]),
        requests=int(plane.requests[r] + plane.requests_after_settling[r]),
        end_s=now,
        defective=bool(lane.defective[r]),
    )


def measure_columns(lane: Lane, now: float) -> dict[str, list[Any]]:
    """Every ``RunMeasures`` field of every replication of a lane, as columns (vectorised)."""
    plane = lane.plane
    onset, alarm = plane.onset, lane.alarm_at
    rolled = ~np.isnan(lane.rollback_at)
    with np.errstate(invalid="ignore"):
        caught = rolled & ~np.isnan(onset) & (alarm >= onset)
    done = ~np.isnan(lane.done_at)
    defective = lane.defective
    outcome = np.where(
        rolled,
        np.where(caught & defective, "rolled_back", "false_rollback"),
        np.where(defective, "escaped", np.where(done, "completed", "stalled")),
    )
    with np.errstate(invalid="ignore"):
        late = caught & (lane.full_at <= lane.rollback_at)
    harmed, exposed = plane.bands.harmed_users, plane.bands.exposed_users
    caught_by = [by if ok else None for by, ok in zip(lane.alarm_by, caught.tolist(), strict=True)]
    detection = np.where(caught, alarm, np.nan)
    columns = {
        "outcome": outcome.tolist(),
        "caught_by": caught_by,
        "caught_late": late.tolist(),
        "onset_s": _times(onset),
        "detection_s": _times(detection),
        "alarm_s": _times(alarm),
        "alarm_by": list(lane.alarm_by),
        "rollback_s": _times(lane.rollback_at),
        "mitigation_s": _times(lane.mitigation_at),
        "ttd_s": _times(detection - onset),
        "ttm_s": _times(np.where(caught, lane.mitigation_at, np.nan) - onset),
        "rollout_duration_s": _times(lane.done_at),
        "blast_radius_users": harmed.tolist(),
        "blast_radius_share": (harmed / lane.population).tolist(),
        "blast_radius_requests": plane.harmed_requests.tolist(),
        "harmed_after_mitigation": plane.harmed_after_mitigation.tolist(),
        "exposed_users": exposed.tolist(),
        "exposed_share": (exposed / lane.population).tolist(),
        "new_requests": plane.new_requests.tolist(),
        "requests": (plane.requests + plane.requests_after_settling).tolist(),
        "end_s": [now] * lane.replications,
        "defective": lane.defective.tolist(),
    }
    return columns


def _times(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # NaN: did not happen
