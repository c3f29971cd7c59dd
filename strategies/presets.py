"""Presets: real tools' documented configurations, as a built-in strategy plus parameters.

Each preset names its source. A scenario uses one like a strategy
(``use = "flagger-docs"``); its own ``params`` override the preset's.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {}
