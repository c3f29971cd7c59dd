"""Waves: one box first, then region by region, each wave baked and judged afresh (Amazon's pipelines)."""

from __future__ import annotations

from typing import Any

from sim import Decision, Duration, Exposure, Observation, RollbackStyle, parse_duration

EPSILON = 1e-6  # the engine's clock resolution: times this close are the same instant


class Waves:
    """A one-box stage in the first region, then one region (segment) per wave; a failed judge rolls back.

    ``regions``: the waves, in order; each is a segment name of the scenario
    (``"*"``: every segment not yet reached) or a table ``{segments = [...],
    bake = "2h"}``; a wave bakes ``bake`` unless it gives its own.
    The one box is ``one_box`` of the first region's ``instances`` hosts
    (unit ``instance``): it gets that share of the first region's requests,
    each routed on its own as a load balancer does, for ``one_box_bake``
    (default ``bake``). Then each wave deploys to every host of its regions,
    which serve all their users, as do the earlier regions'; so only
    the named regions' users are ever exposed before the promotion. After the
    last wave's bake the release is promoted (``done``: every segment, the
    ones no wave named included), at ``one_box_bake`` plus the sum of the
    bakes.

    Each stage (the one box, then every wave) restarts its judges from
    scratch (``judge``: the one it runs; default every judge of the
    strategy). When one fails it rolls back at once (the decision is taken at
    the verdict); ``rollback = "instant"`` takes the new version out at once
    (also when a watcher started the rollback), ``"scenario"`` (the default)
    uses the scenario's ``[rollback]``. ``check``: how often it decides.
    """

    def __init__(
        self,
        regions: list[str | dict[str, Any]] | None = None,
        bake: Duration = 3600.0,
        instances: int = 100,
        one_box: int = 1,
        one_box_bake: Duration | None = None,
        check: Duration = 60.0,
        judge: str | None = None,
        rollback: str = "scenario",
    ) -> None:
        if not isinstance(regions, (list, tuple)) or not regions or len(regions) > 100:
            raise ValueError(f"regions must be a list of 1 to 100 segment names (one wave each), got {regions!r:.60}")
        self.bake = parse_duration(bake)
        self.waves: list[tuple[tuple[str, ...], float]] = []
        for index, region in enumerate(regions):
            if isinstance(region, str) and region:
                self.waves.append(((region,), self.bake))
                continue
            segments = region.get("segments") if isinstance(region, dict) else None
            if not isinstance(segments, list) or not segments or not all(isinstance(s, str) for s in segments):
                raise ValueError(f"regions[{index}] must be a segment name or a table with 'segments', got {region!r}")
            unknown = set(region) - {"segments", "bake"}
            if unknown:
                raise ValueError(f"regions[{index}] has unknown keys {sorted(unknown)}; it takes segments and bake")
            try:
                wave_bake = parse_duration(region.get("bake", self.bake))
            except ValueError as error:
                raise ValueError(f"regions[{index}].bake: {error}") from None
            self.waves.append((tuple(segments), wave_bake))
        if isinstance(instances, bool) or not isinstance(instances, int) or not 1 <= instances <= 100_000:
            raise ValueError(f"instances must be an integer from 1 to 100000, got {instances!r}")
        if isinstance(one_box, bool) or not isinstance(one_box, int) or not 1 <= one_box <= instances:
            raise ValueError(f"one_box must be an integer from 1 to instances ({instances}), got {one_box!r}")
        self.one_box_bake = self.bake if one_box_bake is None else parse_duration(one_box_bake)
        self.check = parse_duration(check)
        if not 1.0 <= self.check <= 86400.0:  # a check every millisecond would cost hours
            raise ValueError(f"check must be between 1 s and 1 d, got {self.check:g} s")
        if judge is not None and not isinstance(judge, str):
            raise ValueError(f"judge must be the name of one of the strategy's judges, got {judge!r}")
        if rollback not in ("scenario", "instant"):
            raise ValueError(f"rollback must be 'scenario' or 'instant', got {rollback!r}")
        if rollback == "instant":
            self.rollback = RollbackStyle.instant()  # read by the engine for every rollback, watchers' too
        self.judge, self.instances, self.one_box = judge, instances, one_box
        # Stages: (exposure, end time). The one box is a share of the first region's requests.
        first = self.waves[0][0]
        hosts = {"unit": "instance", "instances": instances}
        stages = [(Exposure.of({segment: one_box / instances for segment in first}, **hosts), self.one_box_bake)]
        reached: dict[str, float] = {}
        for segments, wave_bake in self.waves:
            reached.update({segment: 1.0 for segment in segments})
            stages.append((Exposure.of(dict(reached), **hosts), wave_bake))
        end, self.stages = 0.0, []
        for exposure, stage_bake in stages:
            end += stage_bake
            self.stages.append((exposure, end))
        self.duration = end
        self._stage = -1

    def decide(self, obs: Observation) -> Decision:
        judges = tuple(obs.judges) if self.judge is None else (self.judge,)
        for name in judges:
            if obs.judge(name).failed:
                return Decision.rollback(f"{name} failed", style=getattr(self, "rollback", None), by=name)
        stage = next((i for i, (_, end) in enumerate(self.stages) if end > obs.now + EPSILON), None)
        if stage is None:
            return Decision.done()
        exposure, end = self.stages[stage]
        started, self._stage = stage != self._stage, stage
        wait = max(min(self.check, end - obs.now), 1e-3)
        return Decision.set(exposure, wait=wait, judges=judges, reset=judges if started else ())
