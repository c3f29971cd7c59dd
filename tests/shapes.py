"""Where the v2 test plugins live (``tests/plugins/shapes.py``), for scenarios that load them by path."""

from __future__ import annotations

from pathlib import Path

SHAPES = Path(__file__).parent / "plugins" / "shapes.py"


def shape(name: str) -> str:
    """``path/to/shapes.py:name``, as a scenario's ``use`` field takes it."""
    return f"{SHAPES}:{name}"
