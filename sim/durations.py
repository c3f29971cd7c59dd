"""Durations as people write them ("90s", "10m", "2h", "1d") and as the engine uses them (float seconds)."""

from __future__ import annotations

import math
import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])")
_PATTERN = re.compile(r"^\s*-?(?:\s*\d+(?:\.\d+)?\s*[smhd])+\s*$")
_EXPECTED = "expected a duration like '90s', '10m', '2h', '1d', '1h30m' or a number of seconds"


def parse_duration(text: object) -> float:
    """Return seconds for ``"90s"``, ``"10m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` or a bare number of seconds.

    Raises ValueError (never TypeError, so validators report it) for anything else,
    for negative durations and for infinite or NaN ones.
    """
    try:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            seconds = float(text)
        elif isinstance(text, str) and len(text) < 100 and _PATTERN.match(text):
            parts = _PART.findall(text)  # "1h30m": each part in its unit
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
            if text.strip().startswith("-"):
                seconds = -seconds
        else:
            raise ValueError(f"{_EXPECTED}, got {short_repr(text)}")
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"a duration must be finite, got {short_repr(text)}") from None
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {short_repr(text)}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {short_repr(text)}")
    return seconds


def short_repr(value: object) -> str:
    """The value as it may appear in a one-line error (long ones cut)."""
    try:
        text = " ".join(repr(value).split())  # one line, even for a numpy array
    except KeyboardInterrupt:
        raise
    except BaseException:  # a plugin's object whose repr fails, however it fails
        return "<unprintable>"
    return text if len(text) <= 60 else text[:57] + "..."


def format_duration(seconds: float, unit: str | None = None) -> str:
    """Short human form of seconds: ``"45s"``, ``"12.5m"``, ``"3.2h"``; ``unit`` forces s, m, h or d."""
    unit = unit or duration_unit(seconds)
    value = seconds / _UNITS[unit]
    if unit == "s":
        return f"{value:.0f}s" if abs(value) >= 10 else f"{value:.1f}s"
    return f"{value:.1f}{unit}"


def duration_unit(seconds: float) -> str:
    """The unit ``format_duration`` picks for a value of this size."""
    if seconds < 120:
        return "s"
    if seconds < 7200:
        return "m"
    return "h" if seconds < 172800 else "d"


def format_clock(seconds: float) -> str:
    """``h:mm:ss`` (for timelines, where rows must not round to the same label)."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def compact_duration(seconds: float) -> str:
    """The exact duration in the form people write it: ``"1h"``, ``"6h"``, ``"1h30m"``, ``"90.5s"``."""
    whole = int(seconds)
    if whole != seconds or whole == 0:
        return f"{seconds:g}s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, whole = divmod(whole, int(_UNITS[unit]))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_duration_text(text: str) -> float:
    """``parse_duration`` for text that may also be a bare number of seconds (an environment variable)."""
    try:
        return parse_duration(float(text))
    except ValueError:
        return parse_duration(text)
