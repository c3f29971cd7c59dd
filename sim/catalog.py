"""The scenarios bundled with rollout-sim, found whether installed from a wheel or editable."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from sim.scenario import ScenarioError, suggestion

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
    hint = suggestion(str(reference), bundled)
    raise ScenarioError(f"{reference}: no such file, and no bundled scenario of that name{hint} ({', '.join(bundled)})")


def copy_scenario(name: str, destination: str | Path | None = None, force: bool = False) -> Path:
    """Write the bundled scenario ``name`` out, byte for byte (its comments too), for editing.

    ``destination``: a file, or a folder (an existing one, or a path ending in a separator) to write
    ``NAME.toml`` into; default ``./NAME.toml``. An existing file is replaced only with ``force``. The
    file is written whole or not at all (a temporary file renamed into place). Returns the path written.
    """
    bundled = bundled_scenarios()
    if name not in bundled:
        raise ScenarioError(
            f"scenario copy: no bundled scenario {name!r}{suggestion(name, bundled)} (bundled: {', '.join(bundled)})"
        )
    text = str(destination) if destination is not None else f"{name}.toml"
    if not text.strip():
        raise ScenarioError("scenario copy: DEST is empty: give a file or a folder")
    if not text.isprintable():
        raise ScenarioError(f"scenario copy: DEST {text!r} holds control characters")
    try:
        return _copy(bundled[name], name, text, force)
    except ScenarioError:
        raise
    except (OSError, ValueError) as error:  # a name too long for the file system, ...
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ScenarioError(f"scenario copy: cannot write {text}: {reason}") from None


def _copy(source: Path, name: str, text: str, force: bool) -> Path:
    target = Path(text)
    if text.endswith(("/", os.sep)) or target.is_dir():
        target = target / f"{name}.toml"
    if target.is_dir():
        raise ScenarioError(f"scenario copy: {target} is a folder; give a file name or another folder")
    if target.exists() and not force:
        raise ScenarioError(f"scenario copy: {target} already exists; add --force to replace it (nothing written)")
    folder = target.parent
    if not folder.is_dir():
        raise ScenarioError(f"scenario copy: no folder {folder} (nothing written)")
    content = source.read_bytes()
    handle = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=folder, prefix=".copy.", suffix=".tmp", delete=False) as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, file_mode())  # a temporary file is private (0600): give it an ordinary file's mode
        os.replace(handle.name, target)
    except BaseException:
        if handle is not None:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
        raise
    return target


def file_mode() -> int:
    """The mode a new file gets here: 0666 less the process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
