"""Rings: the release reaches one group of users at a time (internal, then beta, then everyone)."""

from __future__ import annotations

from typing import Any

from sim import Decision, Duration, Exposure, Observation, parse_duration

DEFAULT_RINGS = (
    {"segments": ["internal"], "bake": "30m"},
    {"segments": ["beta"], "bake": "1h"},
    {"segments": ["*"], "bake": "0s"},
)


class Rings:
    """Each ring adds whole segments (``"*"``: every segment) and bakes; a failed judge rolls back.

    ``rings``: a list of ``{segments = [...], bake = "1h", judges = [...]}``
    (``judges`` defaults to ``[judge]``, or every judge of the strategy when
    ``judge`` is not given; each ring restarts them; a name the strategy has
    no judge for is an error);
    ``unit``: how a segment's users are served (``user``: all of them, sticky).
    """

    unit = "user"

    def __init__(
        self, rings: list[dict[str, Any]] = DEFAULT_RINGS, check: Duration = 60.0, judge: str | None = None
    ) -> None:
        if not isinstance(rings, (list, tuple)) or not rings or len(rings) > 100:
            raise ValueError(f"rings must be a list of 1 to 100 tables, got {repr(rings)[:60]}")
        self.rings = []
        for index, ring in enumerate(rings):
            if not isinstance(ring, dict) or not isinstance(ring.get("segments"), list) or not ring["segments"]:
                raise ValueError(f"rings[{index}] needs a non-empty list 'segments', got {ring!r}")
            try:
                bake = parse_duration(ring.get("bake", "0s"))
            except ValueError as error:
                raise ValueError(f"rings[{index}].bake: {error}") from None
            judges = ring.get("judges", [judge] if judge else None)
            self.rings.append(
                (tuple(str(s) for s in ring["segments"]), bake, None if judges is None else tuple(judges))
            )
        self.check = parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        self._ring = 0
        self._ring_started = 0.0

    def decide(self, obs: Observation) -> Decision:
        for name, view in obs.judges.items():
            if view.failed:
                return Decision.rollback(f"{name} failed", by=name)
        _, bake, _ = self.rings[self._ring]
        started = obs.decisions == 0
        if not started and obs.now - self._ring_started >= bake:
            self._ring += 1
            self._ring_started = obs.now
            started = True
        if self._ring >= len(self.rings):
            return Decision.done()
        _, bake, judges = self.rings[self._ring]
        if judges is None:  # not named: the strategy's judges, whatever they are
            judges = tuple(obs.judges)
        shares = {segment: 1.0 for ring in self.rings[: self._ring + 1] for segment in ring[0]}
        if "*" in shares and not bake:
            return Decision.done()
        remaining = bake - (obs.now - self._ring_started)
        return Decision.set(
            Exposure.of(shares),
            wait=max(min(self.check, remaining), 1e-3),
            judges=judges,
            reset=judges if started else (),
        )
