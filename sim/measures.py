"""The measures of one run, exactly as DESIGN.md section 1 defines them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.world import World

OUTCOMES = ("rolled_back", "escaped", "completed", "false_rollback", "stalled")


@dataclass(frozen=True)
class RunMeasures:
    """One replication of one strategy. Times are seconds since rollout start; None = did not happen."""

    outcome: str
    detected_by: str | None
    onset_s: float | None
    detection_s: float | None
    mitigation_s: float | None
    ttd_s: float | None
    ttm_s: float | None
    rollout_duration_s: float | None
    blast_radius_users: int
    blast_radius_share: float
    blast_radius_requests: int
    exposed_users: int
    new_requests: int
    requests: int
    end_s: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # dataclasses.asdict deep-copies; these fields are all scalars


def outcome_of(healthy: bool, rolled_back: bool, done: bool) -> str:
    if not healthy:
        return "rolled_back" if rolled_back else "escaped"
    if rolled_back:
        return "false_rollback"
    return "completed" if done else "stalled"


def _since(event: float | None, onset: float | None) -> float | None:
    # An alarm that lands before the first harmable request still caught the
    # defect; its time to detection is zero, not negative.
    if event is None or onset is None:
        return None
    return max(0.0, event - onset)


def measure(world: World, replication: int) -> RunMeasures:
    """The measures of one replication of a block, as they stand now."""
    plane, scenario, r = world.plane, world.scenario, replication
    onset = None if math.isnan(plane.onset[r]) else float(plane.onset[r])
    harmed = int(plane.exposure.harmed_users[r])
    return RunMeasures(
        outcome=outcome_of(scenario.healthy, world.rollback_at[r] is not None, world.done_at[r] is not None),
        detected_by=world.detected_by[r],
        onset_s=onset,
        detection_s=world.detection_at[r],
        mitigation_s=world.mitigation_at[r],
        ttd_s=_since(world.detection_at[r], onset),
        ttm_s=_since(world.mitigation_at[r], onset),
        rollout_duration_s=world.done_at[r],
        blast_radius_users=harmed,
        blast_radius_share=harmed / world.population,
        blast_radius_requests=int(plane.harmed_requests[r]),
        exposed_users=int(plane.exposure.exposed_users[r]),
        new_requests=int(plane.new_requests[r]),
        requests=int(plane.requests[r]),
        end_s=world.env.now,
    )
