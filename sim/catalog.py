"""The scenarios bundled with rollout-sim, found whether installed from a wheel or editable."""

from __future__ import annotations

from pathlib import Path

from sim.scenario import ScenarioError

DEFAULT_SCENARIO = "default"
_HERE = Path(__file__).resolve().parent
# A wheel carries them inside the package; a source checkout has them at the top level.
_LOCATIONS = (_HERE / "_scenarios", _HERE.parent / "scenarios")


def scenarios_dir() -> Path:
    for location in _LOCATIONS:
        if location.is_dir():
            return location
    raise ScenarioError("the bundled scenarios are missing from this installation")


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario names (file stems) and their paths."""
    return {path.stem: path for path in sorted(scenarios_dir().glob("*.toml"))}


def resolve_scenario(reference: str | Path | None) -> Path:
    """A scenario file path from a path, a bundled name, or None for the default."""
    if reference is None:
        reference = DEFAULT_SCENARIO
    path = Path(reference)
    if path.suffix == ".toml" or path.exists():
        return path
    bundled = bundled_scenarios()
    if str(reference) in bundled:
        return bundled[str(reference)]
    raise ScenarioError(f"{reference}: no such file, and no bundled scenario of that name ({', '.join(bundled)})")
