"""Starter files for a new strategy plugin (``rollout-sim new-strategy NAME``)."""

from __future__ import annotations

import keyword
import re

__all__ = ["class_name", "starter_strategy"]

_STRATEGY = '''"""{class_name}: a share of users for a while, then everyone; roll back when the analysis fails."""

from __future__ import annotations

from sim import Decision, Duration, Observation


class {class_name}:
    """``first`` of the users (sticky) for ``bake``, then everyone."""

    unit = "user"  # sticky: the same users throughout ("request" routes each request anew)

    def __init__(self, first: float = 0.1, bake: Duration = 900.0) -> None:
        if not 0.0 < first <= 1.0:
            raise ValueError(f"first must be a share in (0, 1], got {{first!r}}")
        self.first, self.bake = first, bake  # bake = "15m" in a scenario arrives as 900.0

    def decide(self, obs: Observation) -> Decision:
        # Asked at t = 0, when its wait is over, and at once when a judge reaches a verdict or a watcher alarms.
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        if obs.now < self.bake:
            return Decision.set(self.first, wait=max(min(60.0, self.bake - obs.now), 0.001))
        return Decision.done()
'''

_SCENARIO = """# {name} beside the built-ins, on a small defect: rollout-sim compare {name}.toml
name = "{name}"
description = "{class_name} vs bigbang vs canary on a 5% error defect"
horizon = "1d"
seed = 1
replications = 20

[population]
users = 10_000

[traffic]
rate = 50                        # requests per second

[release.defect]
harm = 0.05                      # per-request probability of an error on the new version

[[strategies]]
name = "bigbang"

[[strategies]]
name = "canary"

[[strategies]]
name = "{name}"
use = "{name}.py:{class_name}"   # relative to this file
params = {{ first = 0.1, bake = "15m" }}
"""


def class_name(name: str) -> str:
    """``my-rollout`` -> ``MyRollout``; ValueError for a name that gives no Python class name."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name):
        raise ValueError(f"strategy name must be letters, digits, '-' or '_' (it names NAME.py), got {name!r:.60}")
    converted = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]+", name))
    if not converted.isidentifier() or keyword.iskeyword(converted):
        raise ValueError(f"strategy name {name!r} gives {converted!r}, which is not a Python class name")
    return converted


def starter_strategy(name: str) -> tuple[str, str]:
    """The text of ``NAME.py`` (a starter strategy class) and of ``NAME.toml`` (a scenario that compares it)."""
    cls = class_name(name)
    return _STRATEGY.format(class_name=cls), _SCENARIO.format(name=name, class_name=cls)
