"""Parameter grids: ``PATH=V1,V2,...`` axes and the scenario variants they make; ``--set PATH=VALUE``.

A path walks the scenario's fields with dots. Inside ``strategies`` the next
part names a strategy, and any part that is not ``name``, ``use``, ``params``
or ``judges`` is one of its params: ``strategies.canary.steps.0`` is the
first step of the canary (``strategies.canary.params.steps.0`` too). A
number indexes a list.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sim.scenario import Scenario, ScenarioError, scenario_from_dict, suggestion

_STRATEGY_FIELDS = ("name", "use", "params", "judges")
MAX_VALUE = 10_000  # characters of one value (a list of steps fits many times over)


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


def parse_value(text: str, option: str = "--grid") -> Any:
    """A TOML literal (number, boolean, "string", [array]); anything else is a bare string like 10m."""
    text = text.strip()
    if not text.replace("\t", " ").isprintable():  # a line break would let TOML read more than one value
        raise ScenarioError(f"{option} value {text[:40]!r}: must be one line of printable characters")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except (ValueError, RecursionError):  # an integer of thousands of digits, nesting too deep
        raise ScenarioError(f"{option} value {text[:40]!r}...: too large or nested too deeply") from None


_value = parse_value  # the name earlier versions used


def parse_axis(option: str) -> Axis:
    """``strategies.canary.bake=5m,10m`` -> Axis("strategies.canary.bake", ("5m", "10m"))."""
    path, equals, values = option.partition("=")
    if not equals or not path.strip() or not values.strip():
        raise ScenarioError(f"--grid {option!r}: expected PATH=VALUE,VALUE,...")
    return Axis(path.strip(), tuple(parse_value(v) for v in _split_values(values)))


def shown(text: str, limit: int = 80) -> str:
    """Command-line text as it may appear in a one-line message: cut, and quoted if not printable."""
    text = text.strip()
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text if text.isprintable() else repr(text)


def parse_assignment(option: str) -> tuple[str, Any]:
    """``--set strategies.canary.params.bake=20m`` -> ("strategies.canary.params.bake", "20m"): one value,
    commas included (``steps=[0.1, 0.5]``)."""
    path, equals, value = option.partition("=")
    if not equals or not path.strip() or not value.strip():
        raise ScenarioError(f"--set {shown(option)!r}: expected PATH=VALUE, e.g. strategies.canary.params.bake=20m")
    if len(value) > MAX_VALUE:
        raise ScenarioError(f"--set {shown(path)}: the value is longer than {MAX_VALUE:,} characters")
    return path.strip(), parse_value(value, f"--set {shown(path)}")


def axes_from_table(table: dict[str, list[Any]]) -> list[Axis]:
    return [Axis(path, tuple(values)) for path, values in table.items()]


def _step(node: Any, part: str, where: str, label: str) -> tuple[Any, Any]:
    """The container and key that ``part`` names inside ``node`` (``where``: the path so far)."""
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return node, int(part)
        named = bool(node) and all(isinstance(item, dict) and "name" in item for item in node)
        names = [str(item["name"]) for item in node] if named else []
        for item in node if named else ():
            if item["name"] == part:
                return None, item
        if not node:
            raise ScenarioError(f"{label}: no item {part!r}: {where} is empty")
        count = f"{where} has {len(node)} item{'s' if len(node) > 1 else ''} (0 to {len(node) - 1}"
        if named and not part.isdigit():
            kind = "strategy" if where == "strategies" else "item"
            raise ScenarioError(f"{label}: no {kind} {part!r} in {where}{suggestion(part, names)} ({', '.join(names)})")
        raise ScenarioError(
            f"{label}: no item {part!r}: {count}{', or by name: ' + ', '.join(names) if named else ''})"
        )
    if isinstance(node, dict):
        return node, part
    raise ScenarioError(f"{label}: cannot go into {part!r}: {where} is a value, not a table")


def set_path(data: dict[str, Any], path: str, value: Any, label: str | None = None) -> None:
    """Set one value in a scenario's plain data, creating tables on the way. ``label`` starts each
    error (default ``--grid PATH``)."""
    label = label or f"--grid {path}"
    parts = path.split(".")
    if any(not part.strip() for part in parts):
        raise ScenarioError(f"{label}: a part of the path is empty")
    node: Any = data
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        where = ".".join(parts[:index]) or "the scenario"
        container, key = _step(node, part, where, label)
        if container is None:  # a strategy picked by name: later parts are its params
            node = key
            if last:
                raise ScenarioError(f"{label}: name a field of the strategy (params, use, ...), not the strategy")
            if parts[index + 1] not in _STRATEGY_FIELDS:
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


def with_settings(scenario: Scenario, options: Sequence[str]) -> Scenario:
    """The scenario with each ``--set PATH=VALUE`` applied, validated as a file is: errors name the file
    and each ``--set``. Strategy and judge files keep the paths the file gave them."""
    if not options:
        return scenario
    assignments = [parse_assignment(option) for option in options]
    data = scenario.model_dump(by_alias=True)
    for (path, value), option in zip(assignments, options, strict=True):
        set_path(data, path, value, f"--set {shown(option, 200)}")
    label = shown(", ".join(option.strip() for option in options), 200)
    return scenario_from_dict(data, source=f"{scenario.source} [--set {label}]")
