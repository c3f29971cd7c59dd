"""Finding, loading and building plugins: strategies and judges.

Built-ins and third-party plugins share the entry-point groups
``rollout_sim.strategies`` and ``rollout_sim.judges``. A file given as
``path/to/file.py:ClassName`` is loaded under a private module name, so a
user's ``strategies.py`` never shadows ours.

Every instance is built from a private deep copy of its params, so a plugin
that changes its params changes nothing else. Params annotated with
``sim.Duration`` in the constructor are converted from ``"10m"`` (or a
number of seconds) to seconds by the engine.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import inspect
import sys
import types
import typing
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Any

from sim.contract import UNITS, Judge, Strategy
from sim.durations import parse_duration, short_repr
from sim.guard import PluginError, guarded
from sim.scenario import MAX_HORIZON, MAX_WINDOW, JudgeSpec, Scenario, ScenarioError, StrategySpec, split_file_reference

GROUP = "rollout_sim.strategies"
JUDGE_GROUP = "rollout_sim.judges"
PRESET_GROUP = "rollout_sim.presets"  # each entry point: a dict of preset name -> preset (see ``presets``)


class _DurationMarker:
    def __repr__(self) -> str:
        return "duration"


Duration = Annotated[float, _DurationMarker()]
"""Annotate a plugin's constructor param with this: the engine passes seconds for ``"10m"`` or ``600``."""


@functools.cache
def _entry_points(group: str) -> tuple[EntryPoint, ...]:
    # Scanning installed distributions takes milliseconds; a sweep asks thousands of times.
    return tuple(sorted(entry_points(group=group), key=lambda ep: ep.name))


def installed_strategies() -> dict[str, str]:
    """Installed strategy names and where they come from (``module:Class``), without importing them."""
    return {ep.name: ep.value for ep in _entry_points(GROUP)}


def installed_judges() -> dict[str, str]:
    """Installed judge names and where they come from (``module:Class``), without importing them."""
    return {ep.name: ep.value for ep in _entry_points(JUDGE_GROUP)}


@functools.cache
def presets() -> dict[str, dict[str, Any]]:
    """Installed presets: name -> {"strategy", "params", "judges", "source", "about"}.

    A preset is a strategy with the parameters (and judges) of a real tool's
    documented configuration; a scenario names it like a strategy
    (``use = "flagger-docs"``) and its own ``params`` override the preset's.
    """
    found: dict[str, dict[str, Any]] = {}
    for entry in _entry_points(PRESET_GROUP):
        table = _import("presets", entry.name, entry.load)
        if not isinstance(table, dict):
            raise PluginError(f"presets {entry.name!r} is not a dict of presets")
        for name, preset in table.items():
            if not isinstance(preset, dict) or not isinstance(preset.get("strategy"), str):
                raise PluginError(f"preset {name!r} ({entry.name}) needs a 'strategy' name")
            found.setdefault(str(name), preset)
    return found


def resolve_preset(spec: StrategySpec) -> StrategySpec:
    """The spec itself, or, when it names a preset, the preset's strategy with the preset's params
    (and judges) under the spec's own."""
    if split_file_reference(spec.plugin) or spec.plugin in installed_strategies() or spec.plugin not in presets():
        return spec
    preset = presets()[spec.plugin]
    params = {**preset.get("params", {}), **spec.params}
    judges = spec.judges
    if judges is None and preset.get("judges") is not None:
        judges = {name: JudgeSpec(**judge) for name, judge in preset["judges"].items()}
    return spec.model_copy(update={"use": preset["strategy"], "params": params, "judges": judges})


def load_strategy_class(reference: str) -> type:
    """The class for an installed strategy name or for ``path/to/file.py:ClassName``."""
    return _load(reference, GROUP, "strategy", "decide")


def load_judge_class(reference: str) -> type:
    """The class for an installed judge name or for ``path/to/file.py:ClassName``."""
    return _load(reference, JUDGE_GROUP, "judge", "measure")


def _load(reference: str, group: str, kind: str, method: str) -> type:
    if split_file_reference(reference):
        loaded = _load_from_path(reference, kind)
    else:
        found = [ep for ep in _entry_points(group) if ep.name == reference]
        if not found:
            names = ", ".join(ep.name for ep in _entry_points(group)) or "none (is rollout-sim installed?)"
            hint = "; presets: rollout-sim list presets" if kind == "strategy" else ""
            raise PluginError(f"unknown {kind} {reference!r}; installed: {names}{hint}")
        loaded = _import(kind, reference, found[0].load)
    if not inspect.isclass(loaded) or not callable(getattr(loaded, method, None)):
        raise PluginError(f"{kind} {reference!r} is not a class with a {method}() method")
    return loaded


def _load_from_path(reference: str, kind: str) -> Any:
    path_text, class_name = split_file_reference(reference)
    if not class_name.isidentifier():
        raise PluginError(f"{kind} {reference!r}: expected path/to/file.py:ClassName")
    path = Path(path_text).resolve()
    if not path.is_file():
        raise PluginError(f"{kind} {reference!r}: no such file {path_text}")
    module_name = "_rollout_sim_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            _import(kind, reference, spec.loader.exec_module, module)
        except PluginError:
            del sys.modules[module_name]
            raise
    module = sys.modules[module_name]
    if not hasattr(module, class_name):
        raise PluginError(f"{kind} {reference!r}: {path_text} has no {class_name!r}")
    return getattr(module, class_name)


def _import(kind: str, reference: str, load: Callable[..., Any], *args: Any) -> Any:
    """Run a plugin's import, contained (a plugin calling sys.exit() must not end rollout-sim)."""
    try:
        return guarded(f"{kind} {reference!r}", load, *args)
    except PluginError as error:
        raise PluginError(str(error).replace(" raised ", " failed to import: ", 1)) from None


def _is_duration(annotation: Any) -> bool:
    return any(isinstance(meta, _DurationMarker) for meta in getattr(annotation, "__metadata__", ()))


def _duration_params(cls: type) -> dict[str, str]:
    """Constructor params annotated ``Duration`` (``"one"``), ``Duration | None`` or ``list[Duration]`` (``"list"``)."""
    try:
        hints = typing.get_type_hints(cls.__init__, include_extras=True)
    except Exception:  # unresolvable annotations: no conversion
        return {}
    found = {}
    for name, hint in hints.items():
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        options = typing.get_args(hint) if union else (hint,)
        for option in options:
            if _is_duration(option):
                found[name] = "one"
            elif typing.get_origin(option) in (list, tuple) and any(_is_duration(a) for a in typing.get_args(option)):
                found[name] = "list"
    return found


def converted_params(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``params`` with ``Duration`` params in seconds; ValueError names the param."""
    params = copy.deepcopy(params)
    for name, how in _duration_params(cls).items():
        if name not in params or params[name] is None:
            continue
        try:
            if how == "one":
                params[name] = parse_duration(params[name])
            elif isinstance(params[name], (list, tuple)):
                params[name] = [parse_duration(value) for value in params[name]]
            else:
                raise ValueError(f"expected a list of durations, got {params[name]!r}")
        except ValueError as error:
            raise ValueError(f"param {name!r}: {error}") from None
    return params


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _copy(value: Any) -> Any:
    """A deep copy of params (TOML data: dicts, lists, scalars), faster than ``copy.deepcopy`` for them."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _SCALARS else _copy(item) for item in value]
    if kind is tuple:
        return tuple(_copy(item) for item in value)
    return copy.deepcopy(value)


def _builder(cls: type, params: dict[str, Any], label: str) -> Callable[[], Any]:
    """A function that builds a fresh instance from a private copy of ``params``; it is tried once now."""
    try:
        converted = converted_params(cls, params)
    except ValueError as error:
        raise PluginError(f"{label}: {error}") from None

    def build() -> Any:
        try:
            return guarded(label, cls, **_copy(converted))
        except PluginError as error:  # whatever a plugin's constructor raises, name the plugin
            text = str(error).replace(f"{label} raised ", f"{label}: bad params: ", 1)
            for plain in ("ValueError: ", "TypeError: "):  # the usual way to refuse params: no need to say so
                text = text.replace(f"bad params: {plain}", "bad params: ", 1)
            raise PluginError(text) from None

    build()
    return build


def strategy_factory(spec: StrategySpec) -> Callable[[], Strategy]:
    """A function that builds a fresh strategy for each replication; building one now validates the params."""
    label = f"strategy {spec.name!r} ({spec.plugin})"
    spec = resolve_preset(spec)
    build = _builder(load_strategy_class(spec.plugin), spec.params, label)
    unit = guarded(label, getattr, build(), "unit", "request")
    if not isinstance(unit, str) or unit not in UNITS:
        raise PluginError(f"{label}: unit must be one of {', '.join(UNITS)}, got {short_repr(unit)}")
    return build


def judge_factory(spec: JudgeSpec, label: str, scrape_interval: float = 0.0) -> Callable[[], Judge]:
    """A function that builds a fresh judge for each block; building one now validates the params
    and the optional ``window``, ``interval`` and ``initial_delay`` attributes (a window shorter than
    the scrape interval would hold no whole scrape)."""
    try:
        cls = load_judge_class(spec.use)
    except PluginError as error:
        raise PluginError(f"{label}: {error}") from None
    label = f"{label} ({spec.use})"
    build = _builder(cls, spec.params, label)
    judge = build()
    for name in ("window", "interval", "initial_delay"):
        value = guarded(label, getattr, judge, name, None)
        try:
            seconds = None if value is None else parse_duration(value)
        except ValueError as error:
            raise PluginError(f"{label}: {name}: {error}") from None
        if seconds is not None and name != "initial_delay" and seconds <= 0:
            raise PluginError(f"{label}: {name} must be a positive duration, got {short_repr(value)}")
        limit = MAX_HORIZON if name == "initial_delay" else MAX_WINDOW
        if seconds is not None and seconds > limit:
            raise PluginError(f"{label}: {name} must be at most {limit / 86400:g} days, got {short_repr(value)}")
        if name == "window" and seconds is not None and seconds < scrape_interval - 1e-9:
            raise PluginError(
                f"{label}: window ({seconds:g} s) is shorter than telemetry.scrape_interval ({scrape_interval:g} s)"
            )
    return build


def strategy_judges(scenario: Scenario, spec: StrategySpec) -> dict[str, JudgeSpec]:
    """The strategy's judges: its own (or its preset's), or the scenario's ``detection.analysis`` as ``analysis``."""
    spec = resolve_preset(spec)
    if spec.judges is not None:
        return dict(spec.judges)
    analysis = scenario.detection.analysis
    if not analysis.enabled:
        return {}
    params: dict[str, Any] = {
        "rule": "argo",
        "max_error_rate": analysis.max_error_rate,
        "max_slow_rate": analysis.max_slow_rate,
        "failure_limit": analysis.failure_limit,
        "min_requests": analysis.min_requests,
        # Unset, the default window widens to one scrape (a shorter one set in the file is refused on load).
        "window": max(analysis.window, scenario.telemetry.scrape_interval),
        "interval": scenario.telemetry.scrape_interval,
    }
    return {"analysis": JudgeSpec(use="threshold", params=params)}


def judge_factories(scenario: Scenario, spec: StrategySpec) -> dict[str, Callable[[], Judge]]:
    return {
        name: judge_factory(judge, f"strategy {spec.name!r}: judge {name!r}", scenario.telemetry.scrape_interval)
        for name, judge in strategy_judges(scenario, spec).items()
    }


def check_strategies(scenario: Scenario, specs: list[StrategySpec] | None = None) -> None:
    """Load and build every strategy and judge once; raise one ScenarioError listing every problem.

    A plugin that cannot even be built is bad input (exit 2), unlike one
    that fails while running, which is reported while the others still run.
    """
    specs = scenario.strategies if specs is None else specs
    positions = {spec.name: index for index, spec in enumerate(scenario.strategies)}
    problems = []
    for spec in specs:
        field = f"strategies.{positions[spec.name]}" if spec.name in positions else "--strategy"
        try:
            strategy_factory(spec)
            judge_factories(scenario, spec)
        except PluginError as error:
            problems.append(f"{scenario.source}: {field}: {error}")
    if problems:
        raise ScenarioError("\n".join(problems))
