"""A conformance kit for strategy plugins: ``check_strategy(MyStrategy, bake="10m")`` in one line.

It checks what the engine relies on and raises ``AssertionError`` with a
one-line message naming the first check that fails:

1. **decisions**: built from ``params`` the way the engine builds it, the
   strategy answers every valid observation (generated with hypothesis: time
   moving forward, judge verdicts, telemetry, alarms, the exposure it last
   decided) with a valid ``sim.Decision`` and never raises;
2. **finishes**: on a small healthy release (10,000 users, 50 requests per
   second, ``horizon`` long (2 days unless given), the default ``analysis``
   judge, no watchers, segments ``internal``, ``beta`` and ``rest``) every
   run of ``sim.compare`` is promoted (outcome ``completed``);
3. **deterministic**: two runs with the same seed give identical measures,
   even when Python's and numpy's global random state differ between them
   (a strategy must draw from ``obs.rng``).
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.contract import VERDICTS, Alert, Decision, Exposure, JudgeView, Observation, VersionStats
from sim.durations import format_duration, parse_duration
from sim.experiments import compare
from sim.plugins import PluginError, converted_params, load_strategy_class, resolve_preset
from sim.scenario import ScenarioError, StrategySpec, scenario_from_dict, split_file_reference

__all__ = ["HEALTHY_SEGMENTS", "check_strategy", "healthy_scenario"]

HEALTHY_SEGMENTS = ("internal", "beta", "rest")
"""The segments of the healthy scenario (so ring- and wave-style strategies can name them)."""
WATCHERS = ("service_alert", "user_reports")
SEED = 20240601
REPLICATIONS = 2
_CHECKED: dict[str, type] = {}  # classes handed to the engine through a shim file (see ``_reference``)


def check_strategy(cls: type | str, *, examples: int = 100, horizon: str | float = "2d", **params: Any) -> None:
    """Check a strategy class (or an installed name, a preset, or ``path/file.py:Class``) built from ``params``.

    Raises AssertionError with a one-line message when a check fails;
    ``examples`` is the number of generated observation sequences;
    ``horizon`` the length of the healthy release (a duration, at most 30
    days), for strategies that take longer than 2 days to promote.
    """
    horizon_s = _horizon(horizon)
    with _engine_reference(cls) as reference:
        spec = resolve_preset(StrategySpec(name="candidate", use=reference, params=params))
        label = _label(cls)
        try:
            strategy_class = load_strategy_class(spec.plugin)
        except PluginError as error:
            raise AssertionError(f"{label}: cannot load: {error}") from None
        judges = tuple(spec.judges) if spec.judges is not None else ("analysis",)
        build = _builder(strategy_class, spec.params, label)
        _check_decisions(build, judges, label, examples)
        first = _check_finishes(reference, params, label, horizon_s)
        _check_deterministic(reference, params, label, first, horizon_s)


def healthy_scenario(reference: str, params: dict[str, Any], horizon: float = 2 * 86400.0) -> dict[str, Any]:
    """The small healthy scenario of the checks, as plain data, with one strategy ``candidate``."""
    return {
        "name": "check-strategy",
        "horizon": horizon,
        "seed": SEED,
        "replications": REPLICATIONS,
        "population": {
            "users": 10_000,
            "segments": [
                {"name": "internal", "share": 0.05},
                {"name": "beta", "share": 0.15},
                {"name": "rest", "share": 0.8},
            ],
        },
        "traffic": {"rate": 50.0},
        "detection": {name: {"enabled": False} for name in WATCHERS},  # the analysis judge stays
        "strategies": [{"name": "candidate", "use": reference, "params": params}],
    }


# -- building ---------------------------------------------------------------------------------


def _horizon(value: str | float) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ValueError(f"check_strategy: horizon: {error}") from None
    if not 60.0 <= seconds <= 30 * 86400.0:  # a check is meant to be quick
        raise ValueError(f"check_strategy: horizon must be between 1m and 30d, got {value!r}")
    return seconds


def _label(cls: type | str) -> str:
    return f"strategy {cls!r}" if isinstance(cls, str) else f"strategy {cls.__qualname__}"


class _engine_reference:
    """A reference the engine can load: the string itself, or a shim file that hands over the class."""

    def __init__(self, cls: type | str) -> None:
        self.cls = cls
        self.key = uuid.uuid4().hex
        self.folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        if isinstance(self.cls, str):
            found = split_file_reference(self.cls)
            if found and found[0]:  # relative to where we run, as with --strategy
                return f"{Path(found[0]).resolve()}:{found[1]}"
            return self.cls
        if not isinstance(self.cls, type):
            raise TypeError(f"check_strategy expects a class or a strategy name, got {self.cls!r:.60}")
        _CHECKED[self.key] = self.cls
        self.folder = tempfile.TemporaryDirectory(prefix="rollout-sim-check-")
        path = Path(self.folder.name) / f"candidate_{self.key}.py"
        path.write_text(f"import sim.testing\n\nCandidate = sim.testing._CHECKED[{self.key!r}]\n")
        self.path = path
        return f"{path}:Candidate"

    def __exit__(self, *exc: object) -> None:
        _CHECKED.pop(self.key, None)
        if self.folder is not None:
            module = "_rollout_sim_plugin_" + hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]
            sys.modules.pop(module, None)
            self.folder.cleanup()


def _builder(cls: type, params: dict[str, Any], label: str) -> Callable[[], Any]:
    try:
        converted = converted_params(cls, params)
        cls(**copy.deepcopy(converted))
    except Exception as error:
        raise AssertionError(f"{label}: cannot be built from params {params!r}: {_one_line(error)}") from None
    return lambda: cls(**copy.deepcopy(converted))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- check 1: valid decisions for valid observations ------------------------------------------

_COUNTS = st.integers(0, 100)
_STATISTICS = st.one_of(st.just(math.nan), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def _view(draw: st.DrawFn, name: str) -> JudgeView:
    measurements = draw(_COUNTS)
    failures = draw(st.integers(0, measurements))
    inconclusive = draw(st.integers(0, measurements - failures))
    return JudgeView(
        name=name,
        verdict=draw(st.sampled_from(VERDICTS)),
        statistic=draw(_STATISTICS),
        measurements=measurements,
        failures=failures,
        inconclusive=inconclusive,
        last=draw(st.sampled_from((None, "passed", "failed", "inconclusive"))) if measurements else None,
        running=draw(st.booleans()),
    )


@st.composite
def _stats(draw: st.DrawFn) -> VersionStats:
    requests = draw(st.one_of(st.just(0), st.integers(0, 100_000)))
    return VersionStats(requests, draw(st.integers(0, requests)), draw(st.integers(0, requests)))


def _source(draw: st.DrawFn, now: float, judges: tuple[str, ...], alerts: tuple[Alert, ...]) -> Callable[[str], Any]:
    views = {name: draw(_view(name)) for name in judges}
    fields: dict[str, Any] = {
        "judges": views,
        "canary": draw(_stats()),
        "stable": draw(_stats()),
        "alerts": alerts,
        "rng": np.random.default_rng(draw(st.integers(0, 2**32))),
    }
    telemetry = {version: draw(_stats()) for version in ("new", "stable", "baseline")}

    def read_telemetry(version: str = "new", window: float | None = None, segment: str | None = None) -> VersionStats:
        if version not in telemetry:
            raise ValueError(f"version must be one of new, stable, baseline, got {version!r}")
        if segment is not None and segment not in HEALTHY_SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}; the scenario has {', '.join(HEALTHY_SEGMENTS)}")
        return telemetry[version]

    fields["telemetry"] = read_telemetry

    def source(name: str) -> Any:
        if name.startswith("judge:"):
            return views.get(name.removeprefix("judge:"))
        return fields[name]

    return source


def _describe(obs: Observation, views: dict[str, JudgeView]) -> str:
    verdicts = ", ".join(f"{name} {view.verdict}" for name, view in views.items()) or "no judges"
    alarms = ", ".join(alert.watcher for alert in obs.alerts) or "no alarms"
    return f"call {obs.decisions} at now={obs.now:g} s, phase {obs.phase}, weight {obs.weight:g}, {verdicts}, {alarms}"


def _check_decisions(build: Callable[[], Any], judges: tuple[str, ...], label: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: a failure is reported at once
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        draw = data.draw
        strategy = build()
        unit = getattr(strategy, "unit", "request")
        now, exposure, phase, wait = 0.0, Exposure.none(), "deciding", 0.0
        alerts: tuple[Alert, ...] = ()
        for call in range(draw(st.integers(1, 25), label="calls")):
            if call:  # woken when the wait is over, or earlier (a verdict, an alarm, a person's answer)
                step = draw(st.one_of(st.just(wait), st.floats(1e-3, max(wait, 1e-3)), st.floats(1e-3, 86400.0)))
                now += max(step, 1e-3)
            if len(alerts) < len(WATCHERS) and draw(st.integers(0, 9)) == 0:
                watcher = next(w for w in WATCHERS if w not in {a.watcher for a in alerts})
                alerts = (*alerts, Alert(watcher, now))
            source = _source(draw, now, judges, alerts)
            obs = Observation(now, exposure, call, source, phase)
            where = _describe(obs, source("judges"))
            try:
                decision = strategy.decide(obs)
            except Exception as error:
                raise AssertionError(f"{label}: decide() raised {_one_line(error)} ({where})") from None
            if type(decision) is not Decision:
                shown = repr(decision)[:80]
                raise AssertionError(f"{label}: decide() returned {shown}, expected a sim.Decision ({where})")
            problem = Decision.problem(decision)
            if problem is not None:
                raise AssertionError(f"{label}: decide() returned a bad decision: {problem} ({where})")
            if decision.action in ("done", "rollback"):
                return
            phase = "paused" if decision.action == "pause" else "deciding"
            if decision.action == "continue":
                exposure = decision.exposure
                if exposure.unit is None and isinstance(unit, str):
                    exposure = exposure.but(unit=unit)
                wait = decision.wait
            else:
                wait = 600.0  # an approver's response time

    try:
        run()
    except AssertionError as error:
        raise AssertionError(str(error).splitlines()[0]) from None
    except Exception as error:  # hypothesis's own errors (a flaky strategy, ...)
        raise AssertionError(f"{label}: decisions could not be checked: {_one_line(error)}") from None


# -- checks 2 and 3: a healthy release, twice ---------------------------------------------------


def _healthy_runs(reference: str, params: dict[str, Any], label: str, global_seed: int, horizon: float) -> Any:
    state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(global_seed)  # a strategy that uses global random state then differs between runs
    np.random.seed(global_seed)
    try:
        scenario = scenario_from_dict(healthy_scenario(reference, params, horizon), "check-strategy")
        result = compare(scenario, workers=1)
    except (ScenarioError, PluginError) as error:
        raise AssertionError(f"{label}: the engine refused it: {_one_line(error)}") from None
    finally:
        random.setstate(state)
        np.random.set_state(numpy_state)
    if result.errors:
        message = next(iter(result.errors.values()))
        raise AssertionError(f"{label}: failed in the engine on a healthy release: {' '.join(message.split())}")
    return result.runs


def _check_finishes(reference: str, params: dict[str, Any], label: str, horizon: float) -> Any:
    runs = _healthy_runs(reference, params, label, 1, horizon)
    outcomes = list(runs["outcome"])
    if all(outcome == "completed" for outcome in outcomes):
        return runs
    if all(outcome == "stalled" for outcome in outcomes):
        raise AssertionError(
            f"{label}: never finished a healthy release: every run was still in progress at the horizon "
            f"({format_duration(horizon)}) with no Decision.done(): give a longer horizon= if it needs more "
            "(a strategy that never promotes by design cannot pass this check)"
        )
    shown = ", ".join(f"{outcome} x{outcomes.count(outcome)}" for outcome in dict.fromkeys(outcomes))
    hint = " (false_rollback: it rolled back a healthy release)" if "false_rollback" in outcomes else ""
    raise AssertionError(f"{label}: did not finish every run of a healthy release: {shown}{hint}")


def _check_deterministic(reference: str, params: dict[str, Any], label: str, first: Any, horizon: float) -> None:
    second = _healthy_runs(reference, params, label, 2, horizon)
    if first.equals(second):
        return
    columns = [c for c in first.columns if not first[c].equals(second[c])]
    raise AssertionError(
        f"{label}: not deterministic: two runs with the same seed differ in {', '.join(columns) or 'their rows'} "
        "(draw random numbers from obs.rng, never from a global generator)"
    )
