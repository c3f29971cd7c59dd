"""Writing a report's folder, ``OUT/NAME``: the checks of ``--name`` and ``--out`` (made before any work
and again before writing), and ``write_report``, which puts the whole folder in place at once, so that
a failure leaves the earlier report as it was, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from sim.scenario import ScenarioError
from sim.sweeps import check_writable


def check_name(name: str) -> str:
    if not name or name in (".", "..") or name.startswith(".") or re.search(r"[\x00-\x1f\x7f/\\]", name):
        raise ScenarioError(f"--name {name!r}: expected a folder name (no '/', '\\', control characters, leading '.')")
    if len(name) > 100:
        raise ScenarioError(f"--name: at most 100 characters, got {len(name)}")
    if name == "sweeps":
        raise ScenarioError("--name sweeps: that folder holds the saved items of sweeps; choose another name")
    return name


def check_out(out_dir: Path, name: str) -> None:
    """``OUT`` can be written into, and ``OUT/NAME`` is free or an earlier report."""
    check_writable(out_dir)
    _check_target(out_dir / name)


def _check_target(target: Path) -> None:
    """A folder that exists must be an earlier report (replaced whole); anything else is refused."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise ScenarioError(f"--name: {target} exists and is not a report folder; choose another --name or --out")
    if any(target.iterdir()) and not (target / "report.md").is_file():
        raise ScenarioError(
            f"--name: {target} exists and is not a report folder (no report.md); choose another --name or --out"
        )


def write_folder(files: dict[str, bytes], out_dir: Path, name: str, console: Any) -> None:
    """The report's files as ``OUT/NAME``, said on the console; a failure to write is one line."""
    check_out(out_dir, name)
    target = out_dir / name
    try:
        write_report(target, files)
    except OSError as error:
        raise ScenarioError(f"--out {out_dir}: cannot write {target}: {error.strerror or error}") from None
    console.print(f"wrote {target / 'report.md'} and {target / 'report.html'}")


def write_report(target: Path, files: dict[str, bytes]) -> None:
    """Write every file into a fresh hidden folder beside ``target``, then put it in place of ``target``
    (an earlier report is replaced whole). A failure leaves the earlier report, never a half-written one."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f".{target.name}.*-*"):  # from a run killed mid-write
        if leftover.is_dir() and re.fullmatch(rf"\.{re.escape(target.name)}\.(new|old)-[0-9a-f]{{8}}", leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)
    temporary = parent / f".{target.name}.new-{secrets.token_hex(4)}"
    temporary.mkdir()
    old = None
    try:
        for name, data in files.items():
            with open(temporary / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        _check_target(target)
        if target.exists():
            old = parent / f".{target.name}.old-{secrets.token_hex(4)}"
            os.replace(target, old)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if old is not None and not target.exists():
            with contextlib.suppress(OSError):
                os.replace(old, target)  # the earlier report back in place
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
