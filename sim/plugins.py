"""Finding and loading strategies: installed entry points, or a file given by path.

Built-ins and third-party plugins share the ``rollout_sim.strategies``
entry-point group. A file given as ``path/to/file.py:ClassName`` is loaded
under a private module name, so a user's ``strategies.py`` never shadows ours.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from sim.contract import Strategy
from sim.scenario import Scenario, ScenarioError, StrategySpec, split_file_reference

GROUP = "rollout_sim.strategies"


class PluginError(RuntimeError):
    """A strategy cannot be found, built, or run; the message names it."""


@functools.cache
def _entry_points() -> tuple[EntryPoint, ...]:
    # Scanning installed distributions takes milliseconds; a sweep asks thousands of times.
    return tuple(sorted(entry_points(group=GROUP), key=lambda ep: ep.name))


def installed_strategies() -> dict[str, str]:
    """Installed strategy names and where they come from (``module:Class``), without importing them."""
    return {ep.name: ep.value for ep in _entry_points()}


def load_strategy_class(reference: str) -> type:
    """The class for an installed name or for ``path/to/file.py:ClassName``."""
    if split_file_reference(reference):
        return _load_from_path(reference)
    found = [ep for ep in _entry_points() if ep.name == reference]
    if not found:
        names = ", ".join(installed_strategies()) or "none (is rollout-sim installed?)"
        raise PluginError(f"unknown strategy {reference!r}; installed: {names}")
    try:
        loaded = found[0].load()
    except (Exception, SystemExit) as error:
        raise PluginError(f"strategy {reference!r} failed to import: {type(error).__name__}: {error}") from None
    return _checked(loaded, reference)


def _load_from_path(reference: str) -> type:
    path_text, class_name = split_file_reference(reference)
    if not class_name.isidentifier():
        raise PluginError(f"strategy {reference!r}: expected path/to/file.py:ClassName")
    path = Path(path_text).resolve()
    if not path.is_file():
        raise PluginError(f"strategy {reference!r}: no such file {path_text}")
    module_name = "_rollout_sim_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # a plugin calling sys.exit() must not end rollout-sim
        del sys.modules[module_name]
        raise PluginError(f"strategy {reference!r} failed to import: {type(error).__name__}: {error}") from None
    if not hasattr(module, class_name):
        raise PluginError(f"strategy {reference!r}: {path_text} has no {class_name!r}")
    return _checked(getattr(module, class_name), reference)


def _checked(loaded: object, reference: str) -> type:
    if not inspect.isclass(loaded) or not callable(getattr(loaded, "decide", None)):
        raise PluginError(f"strategy {reference!r} is not a class with a decide(obs) method")
    return loaded


def strategy_factory(spec: StrategySpec) -> Callable[[], Strategy]:
    """A function that builds a fresh strategy for each run; building one now validates the params."""
    cls = load_strategy_class(spec.plugin)

    def build() -> Strategy:
        try:
            return cls(**spec.params)
        except Exception as error:  # whatever a plugin's constructor raises, name the plugin
            raise PluginError(f"strategy {spec.name!r} ({spec.plugin}): bad params: {error}") from None

    unit = getattr(build(), "unit", "request")
    if unit not in ("request", "user"):
        raise PluginError(f"strategy {spec.name!r} ({spec.plugin}): unit must be 'request' or 'user', got {unit!r}")
    return build


def check_strategies(scenario: Scenario, specs: list[StrategySpec] | None = None) -> None:
    """Load and build every strategy once; raise one ScenarioError listing every problem.

    A strategy that cannot even be built is bad input (exit 2), unlike one
    that fails while running, which is reported while the others still run.
    """
    specs = scenario.strategies if specs is None else specs
    positions = {spec.name: index for index, spec in enumerate(scenario.strategies)}
    problems = []
    for spec in specs:
        try:
            strategy_factory(spec)
        except PluginError as error:
            field = f"strategies.{positions[spec.name]}" if spec.name in positions else "--strategy"
            problems.append(f"{scenario.source}: {field}: {error}")
    if problems:
        raise ScenarioError("\n".join(problems))
