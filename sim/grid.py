"""Parameter grids: ``PATH=V1,V2,...`` axes and the scenario variants they make.

A path walks the scenario's fields with dots. Inside ``strategies`` the next
part names a strategy, and any part that is not ``name``, ``use`` or
``params`` is one of its params: ``strategies.canary.steps.0`` is the first
step of the canary. A number indexes a list.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sim.scenario import Scenario, ScenarioError, scenario_from_dict

_STRATEGY_FIELDS = ("name", "use", "params", "judges")


@dataclass(frozen=True)
class Axis:
    path: str
    values: tuple[Any, ...]

    @property
    def is_strategy(self) -> bool:
        return self.path.startswith("strategies.")


def _split_values(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def _value(text: str) -> Any:
    """A TOML literal (number, boolean, "string", [array]); anything else is a bare string like 10m."""
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()
    except (ValueError, RecursionError):  # an integer of thousands of digits, nesting too deep
        raise ScenarioError(f"--grid value {text.strip()[:40]!r}...: too large or nested too deeply") from None


def parse_axis(option: str) -> Axis:
    """``strategies.canary.bake=5m,10m`` -> Axis("strategies.canary.bake", ("5m", "10m"))."""
    path, equals, values = option.partition("=")
    if not equals or not path.strip() or not values.strip():
        raise ScenarioError(f"--grid {option!r}: expected PATH=VALUE,VALUE,...")
    return Axis(path.strip(), tuple(_value(v) for v in _split_values(values)))


def axes_from_table(table: dict[str, list[Any]]) -> list[Axis]:
    return [Axis(path, tuple(values)) for path, values in table.items()]


def _step(node: Any, part: str, path: str) -> tuple[Any, Any]:
    """The container and key that ``part`` names inside ``node``."""
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return node, int(part)
        if all(isinstance(item, dict) and "name" in item for item in node):
            for item in node:
                if item["name"] == part:
                    return None, item
        raise ScenarioError(f"--grid {path}: no {part!r} in this list")
    if isinstance(node, dict):
        return node, part
    raise ScenarioError(f"--grid {path}: cannot go into {part!r}")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set one value in a scenario's plain data, creating tables on the way."""
    parts = path.split(".")
    node: Any = data
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        container, key = _step(node, part, path)
        if container is None:  # a strategy picked by name: later parts are its params
            node = key
            if not last and parts[index + 1] not in _STRATEGY_FIELDS:
                node = node.setdefault("params", {})
            continue
        if last:
            container[key] = value
        elif isinstance(container, dict):
            if container.get(key) is None:  # e.g. release.defect on a healthy base
                container[key] = {}
            node = container[key]
        else:
            node = container[key]


def points(axes: list[Axis]) -> Iterator[dict[str, Any]]:
    """Every combination of axis values, in order (the last axis varies fastest)."""
    for combination in itertools.product(*(axis.values for axis in axes)):
        yield dict(zip((axis.path for axis in axes), combination, strict=True))


def variant(base: dict[str, Any], overrides: dict[str, Any], source: str) -> Scenario:
    """The scenario with ``overrides`` applied, validated (errors name the grid point)."""
    data = copy.deepcopy(base)
    for path, value in overrides.items():
        set_path(data, path, value)
    shown = ", ".join(f"{path}={value}" for path, value in overrides.items())
    return scenario_from_dict(data, source=f"{source} [{shown}]")
