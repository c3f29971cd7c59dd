"""Which closed form a judge has: ``closed_form`` builds the judge, schedules its measurements and hands them,
with the new version's error rate with the defect and healthy, to the form for the judge's class
(threshold, z-test, mSPRT, SPRT, CUSUM), or says why there is none."""

from __future__ import annotations

from collections.abc import Callable

from sim.power.closed import ClosedForm
from sim.power.crossing import msprt_form, ztest_form
from sim.power.cusum import cusum_form
from sim.power.judge import build_judge
from sim.power.schedule import measurements
from sim.power.sprt import sprt_form
from sim.power.threshold import threshold_form
from sim.scenario import JudgeSpec, Scenario


def closed_form(
    scenario: Scenario, judge: JudgeSpec, *, weight: float, harm: float, until: float, baseline: bool = False
) -> ClosedForm | str:
    """The closed form of ``judge`` for bakes up to ``until``, or why there is none (see the docstring of
    ``sim.power``)."""
    built = build_judge(judge, judge.use)
    form = _forms().get(type(built))  # the exact class: a subclass may judge otherwise
    if form is None:
        return f"none is known for a {judge.use} judge"
    return form(built, measurements(scenario, built, weight, until, baseline), error_rates(scenario, harm))


def error_rates(scenario: Scenario, harm: float) -> tuple[float, float]:
    """P(a request errs) on the new version with the defect, ``p1 = b + harm - b harm``, and healthy, ``b``
    (the baseline error rate, which the reference arm has either way)."""
    base = scenario.telemetry.baseline_error_rate
    return base + harm - base * harm, base


def _forms() -> dict[type, Callable[..., ClosedForm | str]]:
    # Imported here, as sim/importers.py does: the built-in judges import sim, which must not need them.
    from strategies.judges import Threshold
    from strategies.sequential import SPRT, AlwaysValid, Cusum, ZTest

    return {Threshold: threshold_form, ZTest: ztest_form, AlwaysValid: msprt_form, SPRT: sprt_form, Cusum: cusum_form}
