"""The bundled `judges` scenario shows the trade-off it describes: speed of detection against false rollbacks."""

from __future__ import annotations

import math

import sim
from sim.executors import InlineExecutor


def test_the_judges_scenario_shows_detection_against_false_rollbacks() -> None:
    scenario = sim.load_scenario(sim.bundled_scenarios()["judges"])
    s = sim.compare(scenario, executor=InlineExecutor()).summaries
    healthy = s["msprt"].outcomes["completed"] + s["msprt"].outcomes["false_rollback"]
    assert healthy > 50  # about half of 200 releases

    def bound(rate: float) -> float:  # the nominal rate plus three binomial standard errors
        return rate + 3 * math.sqrt(rate * (1 - rate) / healthy)

    # Uncorrected looks cry wolf far more often than the nominal 5%; corrected and always-valid tests do not.
    assert s["z-every-look"].false_rollback_rate > bound(0.05)
    for name in ("z-obrien-fleming", "msprt", "sprt", "kayenta"):
        assert s[name].false_rollback_rate <= bound(0.05), name
    # ... and pay for it in time to detection.
    assert s["z-every-look"].ttd_s.mean < s["z-obrien-fleming"].ttd_s.mean
    # A fixed limit on the error rate misses a regression that stays near it, and never cries wolf.
    assert s["threshold"].detection_rate < 0.9 and s["threshold"].false_rollback_rate == 0.0
    assert s["msprt"].detection_rate == 1.0
