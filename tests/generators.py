"""Shared test helpers: scenario builders and hypothesis generators."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from sim.scenario import Scenario, scenario_from_dict

PLUGINS = Path(__file__).parent / "plugins" / "hold.py"
# The smallest scenario file the CLI tests start from (and mutate).
SMALL_TOML = """
name = "t"
horizon = "1h"
[population]
users = 1000
[traffic]
rate = 10
[[strategies]]
name = "bigbang"
"""

# A small scenario with a [sweep] table: 2 x 2 grid points, big-bang and a canary.
SWEEP_TOML = """
name = "small"
horizon = "40m"
seed = 3
replications = 64
[population]
users = 10000
[traffic]
rate = 100
[release.defect]
harm = 0.05
[detection.analysis]
min_requests = 20
[[strategies]]
name = "bigbang"
[[strategies]]
name = "canary"
params = { steps = [0.05, 0.5], bake = "5m" }
[sweep]
grid = { "strategies.canary.steps.0" = [0.05, 0.2], "release.defect.harm" = [0.02, 0.1] }
"""


NO_DETECTION = {
    "analysis": {"enabled": False},
    "service_alert": {"enabled": False},
    "user_reports": {"enabled": False},
}


def plugin(name: str) -> str:
    return f"{PLUGINS}:{name}"


def scenario_dict(**overrides: Any) -> dict[str, Any]:
    """A small valid scenario as plain data; top-level keys in ``overrides`` replace the defaults."""
    base: dict[str, Any] = {
        "name": "test",
        "horizon": "1h",
        "seed": 1,
        "replications": 5,
        "population": {"users": 10_000},
        "traffic": {"rate": 50.0},
        "release": {"defect": {"harm": 0.05}},
        "strategies": [{"name": "bigbang"}],
    }
    base.update(copy.deepcopy(overrides))
    return base


def make_scenario(**overrides: Any) -> Scenario:
    return scenario_from_dict(scenario_dict(**overrides))


@st.composite
def scenarios(draw: st.DrawFn, healthy: bool | None = None) -> Scenario:
    """Small scenarios over the space that matters for the invariants (``healthy`` fixes the release)."""
    users = draw(st.integers(1, 5_000))
    segments = draw(st.sampled_from([[1.0], [0.3, 0.7], [0.1, 0.2, 0.7]]))
    classes = draw(st.sampled_from([[(1.0, 1.0)], [(0.8, 0.5), (0.2, 3.0)]]))
    healthy = draw(st.booleans()) if healthy is None else healthy
    unit = draw(st.sampled_from(["request", "user"]))
    steps = draw(st.lists(st.floats(0.001, 1.0), min_size=1, max_size=4))
    release: dict[str, Any] = {}
    if not healthy:
        release["defect"] = {
            "harm": draw(st.floats(0.001, 1.0)),
            "kind": draw(st.sampled_from(["errors", "latency", "silent"])),
            "onset": draw(st.sampled_from(["0s", "90s", "20m"])),
            "segment": draw(st.sampled_from([None, "s0"])),
        }
    detection = {name: {"enabled": draw(st.booleans())} for name in ("analysis", "service_alert", "user_reports")}
    return make_scenario(
        horizon=draw(st.sampled_from(["10m", "1h", "3h"])),
        seed=draw(st.integers(0, 2**32)),
        population={
            "users": users,
            "segments": [{"name": f"s{i}", "share": share} for i, share in enumerate(segments)],
            "rate_classes": [{"share": s, "relative_rate": r} for s, r in classes],
        },
        traffic={"rate": draw(st.floats(0.1, 500.0)), "start_hour": draw(st.floats(0, 23.9))},
        release=release,
        telemetry={"scrape_interval": draw(st.sampled_from(["15s", "60s", "5m"]))},
        detection=detection,
        rollback={"duration": draw(st.sampled_from(["0s", "30s", "10m"]))},
        strategies=[
            {"name": "canary", "params": {"steps": steps, "bake": draw(st.sampled_from(["1m", "7m"])), "unit": unit}}
        ],
    )


def compared_runs(scenario: Scenario, replications: int) -> Any:
    """The runs table of ``sim.compare`` in this process, which must have no plugin error."""
    from sim.experiments import compare

    comparison = compare(scenario, replications=replications, workers=1)
    assert not comparison.errors, comparison.errors
    return comparison.runs
