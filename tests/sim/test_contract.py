"""The plugin contract: Exposure, Decision, RollbackStyle, Observation, and what the engine refuses.

Also the held contract: a plugin written for the first contract (the
README's ``TwoStep``) still runs unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import sim
from sim import Decision, Exposure, RollbackStyle
from tests.generators import NO_DETECTION, make_scenario

V2 = Path(__file__).parent.parent / "plugins" / "v2.py"
SEGMENTS = ["internal", "beta", "general"]


def v2(name: str) -> str:
    return f"{V2}:{name}"


# -- Exposure ----------------------------------------------------------------------------


def test_exposure_of_a_share_is_that_share_of_every_segment() -> None:
    exposure = Exposure.of(0.05)
    assert exposure.shares == (("*", 0.05),)
    assert exposure.share("internal") == exposure.share("anything") == 0.05
    assert exposure.weight == 0.05
    assert exposure.unit is None and exposure.mode == "serve" and not exposure.baseline
    assert exposure.problem() is None and exposure.problem(SEGMENTS) is None


def test_exposure_of_a_mapping_names_segments_and_others_get_the_star_share_or_nothing() -> None:
    only_internal = Exposure.of({"internal": 1.0})
    assert only_internal.share("internal") == 1.0 and only_internal.share("beta") == 0.0
    assert only_internal.weight == 1.0
    mixed = Exposure.of({"internal": 1.0, "*": 0.1, "beta": 0.5})
    assert mixed.share("beta") == 0.5 and mixed.share("general") == 0.1
    assert mixed.weight == 1.0
    assert Exposure.of({"beta": 0.5, "internal": 1.0}) == Exposure.of({"internal": 1.0, "beta": 0.5})
    assert mixed.problem(SEGMENTS) is None


def test_exposure_of_an_exposure_is_itself_or_a_changed_copy() -> None:
    exposure = Exposure.of(0.2, unit="user")
    assert Exposure.of(exposure) is exposure
    assert Exposure.of(exposure, mode="mirror") == Exposure.of(0.2, unit="user", mode="mirror")
    assert exposure.but(baseline=True).baseline and not exposure.baseline


def test_none_and_preview_serve_nobody() -> None:
    assert Exposure.none().weight == 0.0 and Exposure.none().problem() is None
    preview = Exposure.preview(2.5)
    assert preview.mode == "preview" and preview.preview_rate == 2.5 and preview.weight == 0.0
    assert preview.problem() is None


@pytest.mark.parametrize("share", [1.5, -0.1, math.nan, math.inf, "0.5", True, None])
def test_a_share_that_is_not_a_number_in_0_1_is_a_problem(share: object) -> None:
    problem = Exposure.of(share).problem()  # type: ignore[arg-type]
    assert problem is not None and "between 0 and 1" in problem


def test_a_share_of_a_named_segment_is_checked_and_named() -> None:
    problem = Exposure.of({"beta": 2.0}).problem(SEGMENTS)
    assert problem is not None and "'beta'" in problem and "between 0 and 1" in problem


def test_an_unknown_segment_is_a_problem_only_against_a_population() -> None:
    exposure = Exposure.of({"mars": 0.1})
    assert exposure.problem() is None
    problem = exposure.problem(SEGMENTS)
    assert problem is not None and "unknown segment 'mars'" in problem
    assert Exposure.of({"*": 0.1}).problem(SEGMENTS) is None


def test_a_baseline_arm_needs_shares_of_at_most_a_half() -> None:
    assert Exposure.of(0.5, baseline=True).problem() is None
    problem = Exposure.of(0.6, baseline=True).problem()
    assert problem is not None and "between 0 and 0.5" in problem
    assert Exposure.of(0.6).problem() is None


@pytest.mark.parametrize(("instances", "ok"), [(0, False), (1, True), (10, True), (100_000, True), (100_001, False)])
def test_instance_unit_needs_an_instance_count(instances: int, ok: bool) -> None:
    problem = Exposure.of(0.3, unit="instance", instances=instances).problem()
    assert (problem is None) == ok, problem
    if not ok:
        assert "instances" in problem


@pytest.mark.parametrize(
    ("exposure", "fragment"),
    [
        (Exposure.of(0.1, unit="pod"), "unit"),
        (Exposure.of(0.1, mode="shadow"), "mode"),
        (Exposure(()), "at least one share"),
        (Exposure.preview(-1.0), "preview_rate"),
    ],
)
def test_other_bad_exposures_are_problems(exposure: Exposure, fragment: str) -> None:
    problem = exposure.problem()
    assert problem is not None and fragment in problem


# -- Decision ------------------------------------------------------------------------------


def test_decision_set_takes_a_weight_and_a_duration() -> None:
    decision = Decision.set(0.1, "2m")
    assert decision.action == "continue" and decision.wait == 120.0
    assert decision.exposure == Exposure.of(0.1) and decision.weight == 0.1
    assert decision.judges is None and decision.reset == ()
    assert Decision.set(0.1, wait=90).wait == 90.0
    assert decision.problem() is None


def test_decision_set_takes_segments_an_exposure_judges_and_resets() -> None:
    decision = Decision.set({"internal": 1.0}, "1m", judges=["analysis"], reset=["analysis"])
    assert decision.exposure == Exposure.of({"internal": 1.0})
    assert decision.judges == ("analysis",) and decision.reset == ("analysis",)
    exposure = Exposure.of(0.3, unit="user")
    assert Decision.set(exposure, 60).exposure is exposure
    assert decision.problem(SEGMENTS) is None
    problem = Decision.set({"mars": 1.0}, "1m").problem(SEGMENTS)
    assert problem is not None and "unknown segment 'mars'" in problem


@pytest.mark.parametrize("wait", ["soon", -1.0, math.inf])
def test_decision_set_refuses_a_bad_duration_naming_the_wait(wait: object) -> None:
    with pytest.raises(ValueError, match="wait"):
        Decision.set(0.1, wait)  # type: ignore[arg-type]


@pytest.mark.parametrize("wait", [0.0, 1e-4, math.inf])
def test_a_wait_shorter_than_the_clock_or_infinite_is_a_problem(wait: float) -> None:
    problem = Decision("continue", Exposure.of(0.1), wait).problem()
    assert problem is not None and "wait" in problem


def test_a_continue_decision_needs_an_exposure() -> None:
    assert Decision("continue", None, 60.0).problem() is not None
    assert Decision.set(1.5, 60).problem() is not None


def test_pause_keeps_the_exposure_and_needs_no_wait() -> None:
    decision = Decision.pause("gate", judges=["analysis"])
    assert decision.action == "pause" and decision.reason == "gate"
    assert decision.exposure is None and decision.weight is None
    assert decision.judges == ("analysis",)
    assert decision.problem() is None


def test_rollback_carries_a_reason_a_style_and_who_caught_it() -> None:
    plain = Decision.rollback("errors")
    assert plain.action == "rollback" and plain.reason == "errors"
    assert plain.style is None and plain.by is None and plain.exposure is None
    styled = Decision.rollback("errors", style=RollbackStyle.instant(), by="canary-judge")
    assert styled.style == RollbackStyle.instant() and styled.by == "canary-judge"
    assert styled.problem() is None
    bad = Decision.rollback(style=RollbackStyle("gradual", steps=(2.0,)))
    assert bad.problem() is not None


def test_done_serves_everyone_and_stops_every_judge() -> None:
    decision = Decision.done()
    assert decision.action == "done" and decision.weight == 1.0
    assert decision.exposure == Exposure.of(1.0)
    assert decision.judges == ()
    assert decision.problem() is None


# -- RollbackStyle ---------------------------------------------------------------------------


def test_rollback_style_constructors() -> None:
    assert RollbackStyle.instant() == RollbackStyle("instant")
    redeploy = RollbackStyle.redeploy("30s")
    assert redeploy.kind == "redeploy" and redeploy.duration == 30.0
    gradual = RollbackStyle.gradual([0.5, 0.1], "2m")
    assert gradual.kind == "gradual" and gradual.steps == (0.5, 0.1) and gradual.wait == 120.0
    assert RollbackStyle.gradual([0.2]).wait == 60.0
    for style in (RollbackStyle.instant(), redeploy, gradual, RollbackStyle.redeploy(0)):
        assert style.problem() is None


def test_rollback_style_constructors_name_a_bad_duration() -> None:
    with pytest.raises(ValueError, match="duration"):
        RollbackStyle.redeploy("soon")
    with pytest.raises(ValueError, match="wait"):
        RollbackStyle.gradual([0.5], "soon")


@pytest.mark.parametrize(
    ("style", "fragment"),
    [
        (RollbackStyle("sideways"), "instant, redeploy or gradual"),
        (RollbackStyle("redeploy", duration=-1.0), "duration"),
        (RollbackStyle("redeploy", duration=math.inf), "duration"),
        (RollbackStyle("gradual", steps=(0.5, 1.5)), "steps"),
        (RollbackStyle("gradual", steps=(0.5,), wait=0.0), "wait"),
    ],
)
def test_bad_rollback_styles_are_problems(style: RollbackStyle, fragment: str) -> None:
    problem = style.problem()
    assert problem is not None and fragment in problem


# -- what the engine accepts and refuses -------------------------------------------------------


def _segmented(use: str, **params: object) -> sim.Scenario:
    return make_scenario(
        horizon="30m",
        population={
            "users": 10_000,
            "segments": [
                {"name": "internal", "share": 0.01},
                {"name": "beta", "share": 0.04},
                {"name": "general", "share": 0.95},
            ],
        },
        release={},
        detection=NO_DETECTION,
        strategies=[{"name": "plugin", "use": use, "params": params}],
    )


def _error(use: str, **params: object) -> str:
    comparison = sim.compare(_segmented(use, **params), replications=2)
    assert list(comparison.errors) == ["plugin"], comparison.errors
    assert "plugin" not in comparison.summaries
    return comparison.errors["plugin"]


def test_a_share_of_a_named_segment_is_served_to_that_segment_only() -> None:
    comparison = sim.compare(_segmented(v2("Shares"), shares={"internal": 1.0}), replications=4)
    assert comparison.errors == {}
    exposed = comparison.runs["exposed_users"]
    assert (exposed > 0).all() and (exposed <= 100).all()  # the internal segment: 1% of 10,000 users


def test_a_share_of_an_unknown_segment_is_refused_naming_the_strategy() -> None:
    error = _error(v2("Shares"), shares={"mars": 1.0})
    assert "strategy 'plugin'" in error and "unknown segment 'mars'" in error


def test_a_non_decision_is_refused_naming_the_strategy() -> None:
    error = _error(v2("NotADecision"))
    assert "strategy 'plugin'" in error and "sim.Decision" in error


def test_a_decision_subclass_cannot_let_a_bad_share_through() -> None:
    error = _error(v2("Subclassed"))
    assert "strategy 'plugin'" in error


def test_a_decision_subclass_is_refused_naming_the_strategy() -> None:
    error = _error(v2("ValidSubclass"))
    assert "strategy 'plugin'" in error and "Decision" in error


def test_an_observation_is_read_only() -> None:
    error = _error(v2("Tampers"))
    assert "strategy 'plugin'" in error and "read-only" in error


# -- the held contract ------------------------------------------------------------------------

README_PLUGIN = '''
from sim import Decision, Observation


class TwoStep:
    """10% of users for 15 minutes, then everyone, unless the analysis failed."""

    unit = "user"  # sticky hash buckets; the default "request" routes each request

    def __init__(self, first: float = 0.1, bake: float = 900) -> None:
        self.first, self.bake = first, bake

    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.failed:
            return Decision.rollback("analysis failed")
        if obs.now < self.bake:
            return Decision.set(self.first, wait=60)
        return Decision.done()
'''


def test_the_first_contracts_readme_plugin_still_runs_on_the_default_scenario(tmp_path: Path) -> None:
    path = tmp_path / "two_step.py"
    path.write_text(README_PLUGIN)
    reference = f"{path}:TwoStep"
    comparison = sim.compare("default", replications=4, strategies=["bigbang", reference])
    assert comparison.errors == {}
    assert list(comparison.summaries) == ["bigbang", "TwoStep"]
    two_step = comparison.runs[comparison.runs["strategy"] == "TwoStep"]
    # The default scenario's 5% error defect: the analysis judge fails and TwoStep rolls back.
    assert (two_step["outcome"] == "rolled_back").all(), two_step["outcome"].tolist()
    assert (two_step["caught_by"] == "analysis").all()
    timeline = sim.run("default", strategies=[reference]).timeline
    exposures = timeline.loc[timeline["event"].str.startswith("exposure"), "exposure"]
    assert "user" in exposures.iloc[0], exposures.tolist()
