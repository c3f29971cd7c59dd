"""What the terminal UI is working on: the scenario, its knobs, the chosen strategies and the results.

No textual here: screens read and change a ``Session``, and tests drive it
directly.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.catalog import bundled_scenarios
from sim.results import Comparison
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict


def teaches(path: Path) -> str:
    """A scenario file's leading comment (what it teaches), without the ``#`` marks."""
    lines = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"cannot read {path}: {error.strerror or error}"
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    paragraphs = "\n".join(lines).strip().split("\n\n")  # the comment's lines, reflowed per paragraph
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def parse_value(text: str) -> Any:
    """A knob's value as TOML writes it: ``0.05``, ``"10m"``, ``[0.01, 0.1]``, ``{ steps = [0.1] }``."""
    try:
        return tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{text.strip()!r} is not a TOML value ({error})") from None


@dataclass
class Result:
    """A comparison as run, with what it was run on, so an earlier one can stay beside a new one."""

    label: str
    comparison: Comparison
    scenario: Scenario


@dataclass
class Session:
    """The scenario chosen in the UI, the knobs turned on it, and the comparisons run so far."""

    files: dict[str, Path] = field(default_factory=dict)  # name -> path: bundled, then given on the command line
    name: str | None = None
    scenario: Scenario | None = None  # as loaded, with the knobs applied
    error: str | None = None  # why the chosen file cannot be used
    selected: list[str] = field(default_factory=list)  # strategies to compare (all by default)
    healthy: bool = False  # run the release without its defect
    seed: int | None = None  # None: the scenario's
    results: list[Result] = field(default_factory=list)  # oldest first
    knobs: dict[str, Any] = field(default_factory=dict)  # dotted path -> value, as applied

    @classmethod
    def with_files(cls, paths: list[Path] | None = None) -> Session:
        files = dict(bundled_scenarios())
        for path in paths or []:
            files[str(path)] = path
        return cls(files=files)

    def open(self, name: str) -> bool:
        """Load a scenario by name; False (and ``error`` set to its one-line message) if it is invalid."""
        self.name, self.knobs, self.results = name, {}, []
        try:
            self.scenario = load_scenario(self.files[name])
        except (ScenarioError, KeyError, OSError) as error:
            self.scenario, self.error = None, " ".join(str(error).split("\n")[:3])
            return False
        self.error = None
        self.selected = [spec.name for spec in self.scenario.strategies]
        self.healthy, self.seed = False, None
        return True

    @property
    def strategy_names(self) -> list[str]:
        return [] if self.scenario is None else [spec.name for spec in self.scenario.strategies]

    def effective(self) -> Scenario:
        """The scenario to run: the chosen strategies, without the defect when ``healthy``."""
        if self.scenario is None:
            raise ScenarioError(self.error or "no scenario chosen")
        data = self.scenario.model_dump(mode="json", exclude_none=True)
        data["strategies"] = [s for s in data["strategies"] if s["name"] in self.selected] or data["strategies"]
        if self.healthy:
            data["release"] = {**data.get("release", {}), "defect": None}
            data["release"].pop("defect")
        if self.seed is not None:
            data["seed"] = self.seed
        return scenario_from_dict(data, self.scenario.name)

    def knob(self, path: str) -> Any:
        """The current value at a dotted path (``release.defect.harm``, ``strategies.canary.params.steps``)."""
        node: Any = self._data()
        for part in _parts(path, node):
            node = node[part]
        return node

    def turn(self, changes: dict[str, Any]) -> None:
        """Apply knob changes (dotted path -> value); the scenario stays as it was if any is invalid."""
        if self.scenario is None:
            raise ScenarioError(self.error or "no scenario chosen")
        data = self._data()
        for path, value in changes.items():
            _set(data, path, value)
        self.scenario = scenario_from_dict(data, f"{self.scenario.name} (knobs)")
        self.knobs.update(changes)

    def add_result(self, comparison: Comparison) -> Result:
        label = ", ".join(f"{_knob_name(path)}={_short(value)}" for path, value in self.knobs.items()) or "as loaded"
        result = Result(label if not self.healthy else f"{label}, healthy", comparison, self.effective())
        self.results.append(result)
        del self.results[:-2]  # the previous result stays beside the new one
        return result

    def _data(self) -> dict[str, Any]:
        if self.scenario is None:
            raise ScenarioError(self.error or "no scenario chosen")
        return copy.deepcopy(self.scenario.model_dump(mode="json", exclude_none=True))


def _parts(path: str, data: dict[str, Any]) -> list[str | int]:
    """Path parts; ``strategies.NAME`` is the strategy of that name."""
    parts: list[str | int] = []
    node: Any = data
    for part in path.split("."):
        if isinstance(node, list):
            names = [item.get("name") for item in node]
            if part not in names:
                raise ScenarioError(f"{path}: no {part!r} here (there are {', '.join(map(str, names))})")
            parts.append(names.index(part))
            node = node[names.index(part)]
        else:
            parts.append(part)
            node = node.get(part, {}) if isinstance(node, dict) else {}
    return parts


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = _parts(path, data)
    node: Any = data
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[parts[-1]] = value


def _knob_name(path: str) -> str:
    """``harm`` for release.defect.harm; ``canary steps`` for strategies.canary.params.steps."""
    parts = path.split(".")
    if parts[0] == "strategies" and len(parts) > 1:
        return " ".join(part for part in parts[1:] if part != "params")
    return parts[-1]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:23] + "…"
