"""Durations as people write them ("90s", "10m", "2h", "1d") and as the engine uses them (float seconds)."""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str | int | float) -> float:
    """Return seconds for ``"90s"``, ``"10m"``, ``"2h"``, ``"1d"`` or a bare number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like '90s' or '10m', got {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(f"expected a duration like '90s', '10m', '2h' or '1d', got {text!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form of a number of seconds: ``"45s"``, ``"12.5m"``, ``"3.2h"``."""
    if seconds < 120:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
