"""The built-in judges: Threshold (Argo and Flagger counting) and BaselineRatio.

First on fixed data (``sim.JudgeData`` built by hand, several replications
at once), then end to end: two canaries with different judges in one
scenario, Flagger's hold, and bad judge params at ``rollout-sim validate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim import FAILED, INCONCLUSIVE, PASSED, RUNNING, Arm, JudgeData, Verdicts
from sim.cli import cli
from strategies.judges import BaselineRatio, Threshold
from tests.generators import make_scenario


def _arm(requests: Sequence[int], errors: Sequence[int], slow: Sequence[int] | None = None) -> Arm:
    slow = [0] * len(requests) if slow is None else slow
    return Arm(
        requests=np.asarray(requests, dtype=np.int64),
        errors=np.asarray(errors, dtype=np.int64),
        slow=np.asarray(slow, dtype=np.int64),
    )


def _mask(value: bool | Sequence[bool], replications: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=bool), (replications,)).copy()


def _data(
    requests: Sequence[int],
    errors: Sequence[int],
    *,
    slow: Sequence[int] | None = None,
    due: bool | Sequence[bool] = True,
    restarted: bool | Sequence[bool] = False,
    missing: bool | Sequence[bool] = False,
    reference: tuple[Sequence[int], Sequence[int]] | None = None,
    now: float = 60.0,
) -> JudgeData:
    """One scrape's data for len(requests) replications; ``reference`` fills stable and baseline alike."""
    n = len(requests)
    other = _arm(*reference) if reference is not None else _arm([0] * n, [0] * n)
    return JudgeData(
        now=now,
        due=_mask(due, n),
        restarted=_mask(restarted, n),
        missing=_mask(missing, n),
        new=_arm(requests, errors, slow),
        stable=other,
        baseline=other,
    )


def _feed(judge: Threshold | BaselineRatio, *scrapes: JudgeData) -> Verdicts:
    verdicts = None
    for data in scrapes:
        verdicts = judge.measure(data)
        assert verdicts.problem(len(data.due)) is None
    assert verdicts is not None
    return verdicts


GOOD = ([1000], [5])  # 0.5% errors
BAD = ([1000], [50])  # 5% errors
EMPTY = ([0], [0])


# -- Threshold, Argo rule ------------------------------------------------------------------


def test_argo_fails_only_when_failures_exceed_the_limit() -> None:
    judge = Threshold(rule="argo", max_error_rate=0.01, failure_limit=1)
    first = _feed(judge, _data(*BAD))
    assert first.verdict.tolist() == [RUNNING] and first.failures.tolist() == [1]
    assert first.last.tolist() == [FAILED] and first.measurements.tolist() == [1]
    second = _feed(judge, _data(*GOOD))
    assert second.verdict.tolist() == [RUNNING] and second.last.tolist() == [PASSED]
    third = _feed(judge, _data(*BAD))
    assert third.verdict.tolist() == [FAILED] and third.failures.tolist() == [2]


def test_argo_with_failure_limit_0_fails_on_the_first_failed_measurement() -> None:
    verdicts = _feed(Threshold(rule="argo", max_error_rate=0.01), _data([1000, 1000], [11, 10]))
    assert verdicts.verdict.tolist() == [FAILED, RUNNING]  # 1.1% fails, exactly 1% does not


def test_argo_no_data_is_inconclusive_never_a_failure() -> None:
    judge = Threshold(rule="argo", max_error_rate=0.01, min_requests=100)
    verdicts = _feed(judge, _data([0, 99, 100], [0, 99, 0]))
    assert verdicts.verdict.tolist() == [RUNNING] * 3
    assert verdicts.failures.tolist() == [0, 0, 0]
    assert verdicts.inconclusive.tolist() == [1, 1, 0]
    assert verdicts.last.tolist() == [INCONCLUSIVE, INCONCLUSIVE, PASSED]
    assert verdicts.measurements.tolist() == [1, 1, 1]


def test_argo_a_missing_scrape_is_a_query_error_not_a_measurement() -> None:
    verdicts = _feed(Threshold(rule="argo"), _data([1000, 1000], [50, 50], missing=[True, False]))
    assert verdicts.measurements.tolist() == [0, 1] and verdicts.inconclusive.tolist() == [0, 0]
    assert verdicts.failures.tolist() == [0, 1] and verdicts.last.tolist() == [RUNNING, FAILED]
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]


def test_argo_fails_after_more_consecutive_query_errors_than_the_limit() -> None:
    """Argo's consecutiveErrorLimit (default 4): the 5th error in a row ends the run in Error, which
    aborts the rollout; a measurement in between starts the count again."""
    judge = Threshold(rule="argo", failure_limit=3)
    healthy = _data([1000, 1000], [0, 0])
    gap = _data([1000, 1000], [0, 0], missing=True)
    first_gap = [judge.measure(gap).verdict.tolist() for _ in range(4)]
    assert first_gap == [[RUNNING, RUNNING]] * 4
    assert judge.measure(healthy).verdict.tolist() == [RUNNING, RUNNING]  # the count starts again
    verdicts = [judge.measure(gap).verdict.tolist() for _ in range(5)]
    assert verdicts == [[RUNNING, RUNNING]] * 4 + [[FAILED, FAILED]]
    strict = Threshold(rule="argo", consecutive_error_limit=0)
    assert strict.measure(gap).verdict.tolist() == [FAILED, FAILED]


def test_a_restarted_judge_forgets_its_query_errors() -> None:
    judge = Threshold(rule="argo", consecutive_error_limit=1)
    judge.measure(_data([1000], [0], missing=True))
    restarted = judge.measure(_data([1000], [0], missing=True, restarted=True))
    assert restarted.verdict.tolist() == [RUNNING]
    assert judge.measure(_data([1000], [0], missing=True)).verdict.tolist() == [FAILED]


def test_consecutive_error_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="consecutive_error_limit must be an integer >= 0"):
        Threshold(consecutive_error_limit=-1)


def test_argo_inconclusive_limit() -> None:
    judge = Threshold(rule="argo", inconclusive_limit=1)
    assert _feed(judge, _data(*EMPTY)).verdict.tolist() == [RUNNING]
    assert _feed(judge, _data(*EMPTY)).verdict.tolist() == [INCONCLUSIVE]
    unlimited = Threshold(rule="argo")
    assert _feed(unlimited, *[_data(*EMPTY)] * 5).verdict.tolist() == [RUNNING]


def test_argo_count_passes_after_that_many_measurements_without_failing() -> None:
    judge = Threshold(rule="argo", count=3, failure_limit=1)
    after_two = _feed(judge, _data(*GOOD), _data(*BAD))
    assert after_two.verdict.tolist() == [RUNNING]
    assert _feed(judge, _data(*GOOD)).verdict.tolist() == [PASSED]
    failing = Threshold(rule="argo", count=3)
    assert _feed(failing, _data(*GOOD), _data(*GOOD), _data(*BAD)).verdict.tolist() == [FAILED]


def test_a_concluded_judge_stops_counting() -> None:
    judge = Threshold(rule="argo")
    _feed(judge, _data(*BAD))
    later = _feed(judge, _data(*BAD), _data(*GOOD))
    assert later.verdict.tolist() == [FAILED]
    assert later.measurements.tolist() == [1] and later.failures.tolist() == [1]


def test_only_due_replications_are_measured() -> None:
    verdicts = _feed(Threshold(rule="argo"), _data([1000, 1000], [50, 50], due=[False, True]))
    assert verdicts.measurements.tolist() == [0, 1]
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]
    assert verdicts.last.tolist() == [RUNNING, FAILED]  # 0: no measurement yet


def test_statistic_is_the_latest_error_rate_of_each_replication() -> None:
    judge = Threshold(rule="argo", failure_limit=10)
    verdicts = _feed(judge, _data([1000, 200], [5, 20]))
    assert verdicts.statistic.tolist() == pytest.approx([0.005, 0.1])
    verdicts = _feed(judge, _data([500, 0], [10, 0], due=[True, False]))
    assert verdicts.statistic.tolist() == pytest.approx([0.02, 0.1])  # not due: unchanged


def test_threshold_on_the_slow_share() -> None:
    judge = Threshold(rule="argo", max_error_rate=None, max_slow_rate=0.05)
    verdicts = _feed(judge, _data([1000, 1000], [500, 0], slow=[10, 60]))
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]  # errors are not looked at


# -- Threshold, Flagger rule ---------------------------------------------------------------


def test_flagger_no_data_and_missing_scrapes_are_failed_checks() -> None:
    judge = Threshold(rule="flagger", threshold=2, min_requests=100)
    verdicts = _feed(judge, _data([0, 50, 1000, 1000], [0, 0, 0, 0], missing=[False, False, True, False]))
    assert verdicts.failures.tolist() == [1, 1, 1, 0]
    assert verdicts.last.tolist() == [FAILED, FAILED, FAILED, PASSED]
    assert verdicts.inconclusive.tolist() == [0, 0, 0, 0]
    assert verdicts.verdict.tolist() == [RUNNING] * 4
    again = _feed(judge, _data([0, 50, 1000, 1000], [0, 0, 0, 0], missing=[False, False, True, False]))
    assert again.verdict.tolist() == [FAILED, FAILED, FAILED, RUNNING]


def test_flagger_fails_when_failed_checks_reach_the_threshold() -> None:
    judge = Threshold(rule="flagger", threshold=3)
    verdicts = [_feed(judge, _data(*scrape)).verdict.tolist() for scrape in (BAD, GOOD, BAD, GOOD, BAD)]
    assert verdicts == [[RUNNING]] * 4 + [[FAILED]]  # failed checks need not be consecutive
    assert _feed(Threshold(rule="flagger", threshold=1), _data(*BAD)).verdict.tolist() == [FAILED]


# -- restarts --------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["argo", "flagger"])
def test_a_restart_clears_the_replications_tally(rule: str) -> None:
    judge = Threshold(rule=rule, failure_limit=1, threshold=2)
    _feed(judge, _data([1000, 1000], [50, 50]), _data([1000, 1000], [50, 50]))
    restarted = _feed(judge, _data([1000, 1000], [0, 0], restarted=[True, False]))
    assert restarted.verdict.tolist() == [RUNNING, FAILED]
    assert restarted.measurements.tolist() == [1, 2] and restarted.failures.tolist() == [0, 2]
    assert restarted.last.tolist() == [PASSED, FAILED]


def test_a_restart_without_a_measurement_leaves_nothing() -> None:
    judge = Threshold(rule="argo")
    _feed(judge, _data(*BAD))
    cleared = _feed(judge, _data(*BAD, restarted=True, due=False))
    assert cleared.verdict.tolist() == [RUNNING] and cleared.measurements.tolist() == [0]
    assert cleared.last.tolist() == [RUNNING] and math.isnan(cleared.statistic[0])


# -- BaselineRatio ---------------------------------------------------------------------------


def test_baseline_ratio_fails_when_new_exceeds_ratio_times_reference_plus_difference() -> None:
    # Reference 1%: with max_ratio 2 a new rate of 2% passes, 2.1% fails.
    judge = BaselineRatio(max_ratio=2.0)
    verdicts = _feed(judge, _data([1000, 1000], [20, 21], reference=([1000, 1000], [10, 10])))
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]
    assert verdicts.statistic.tolist() == pytest.approx([2.0, 2.1])
    lenient = BaselineRatio(max_ratio=2.0, max_difference=0.01)
    verdicts = _feed(lenient, _data([1000, 1000], [30, 31], reference=([1000, 1000], [10, 10])))
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]


def test_baseline_ratio_statistic_is_nan_when_the_reference_has_no_errors() -> None:
    judge = BaselineRatio(max_ratio=2.0, max_difference=0.005)
    verdicts = _feed(judge, _data([1000, 1000], [5, 6], reference=([1000, 1000], [0, 0])))
    assert np.isnan(verdicts.statistic).all()
    assert verdicts.verdict.tolist() == [RUNNING, FAILED]  # 0.6% > 2 x 0 + 0.5%


def test_baseline_ratio_without_enough_requests_in_either_arm_is_no_data() -> None:
    judge = BaselineRatio(min_requests=100)
    verdicts = _feed(judge, _data([1000, 50], [500, 50], reference=([50, 1000], [0, 0])))
    assert verdicts.failures.tolist() == [0, 0] and verdicts.inconclusive.tolist() == [1, 1]


def test_baseline_ratio_against_stable_reads_the_stable_arm() -> None:
    n = 1
    data = JudgeData(
        now=60.0,
        due=_mask(True, n),
        restarted=_mask(False, n),
        missing=_mask(False, n),
        new=_arm([1000], [30]),
        stable=_arm([1000], [20]),  # 2%: the new 3% passes against it
        baseline=_arm([1000], [5]),  # 0.5%: the new 3% fails against it
    )
    assert BaselineRatio(against="stable").measure(data).verdict.tolist() == [RUNNING]
    assert BaselineRatio(against="baseline").measure(data).verdict.tolist() == [FAILED]


@pytest.mark.parametrize(
    ("cls", "params", "fragment"),
    [
        (Threshold, {"rule": "nope"}, "rule"),
        (Threshold, {"threshold": 0}, "threshold"),
        (Threshold, {"failure_limit": -1}, "failure_limit"),
        (Threshold, {"max_error_rate": 1.5}, "max_error_rate"),
        (Threshold, {"interval": "soon"}, "interval"),
        (Threshold, {"interval": 0}, "interval"),
        (BaselineRatio, {"against": "canary"}, "against"),
        (BaselineRatio, {"max_ratio": 0.5}, "max_ratio"),
        (BaselineRatio, {"max_difference": 2.0}, "max_difference"),
    ],
)
def test_bad_params_are_refused_naming_the_param(cls: type, params: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        cls(**params)


def test_window_defaults_to_the_interval() -> None:
    judge = Threshold(interval="2m")
    assert judge.interval == judge.window == 120.0
    assert Threshold(interval="1m", window="5m").window == 300.0


# -- end to end ------------------------------------------------------------------------------


def _judge(**params: object) -> dict:
    base = {"max_error_rate": 0.01, "min_requests": 1, "interval": "1m", "window": "1m"}
    return {"analysis": {"use": "threshold", "params": {**base, **params}}}


def _canary(name: str, judge: dict, **params: object) -> dict:
    return {"name": name, "use": "canary", "params": {"bake": "2m", "check": "1m", **params}, "judges": judge}


def test_two_strategies_with_different_judges_in_one_scenario() -> None:
    """A 5% error defect fails every check. Flagger-style: holds 10% and rolls back at the
    5th failed check (300 s). Argo-style: steps up to 30% at 120 s and rolls back when
    failures exceed 3, at the 4th (240 s)."""
    steps = [0.1, 0.3, 0.6]
    scenario = make_scenario(
        population={"users": 10_000},
        traffic={"rate": 50.0},
        release={"defect": {"harm": 0.05}},
        detection={"service_alert": {"enabled": False}, "user_reports": {"enabled": False}},
        rollback={"duration": "0s"},
        strategies=[
            _canary("flagger", _judge(rule="flagger", threshold=5), steps=steps, on_failure="hold"),
            _canary("argo", _judge(rule="argo", failure_limit=3), steps=steps),
        ],
    )
    comparison = sim.compare(scenario, replications=20)
    assert comparison.errors == {}
    runs = comparison.runs.pivot(index="replication", columns="strategy", values="rollback_s")
    assert (runs["flagger"] == 300.0).all() and (runs["argo"] == 240.0).all()
    assert (comparison.runs["caught_by"] == "analysis").all()
    result = sim.run(scenario)
    weights = result.timeline.groupby("strategy")["weight"].max()
    assert weights["flagger"] == 0.1 and weights["argo"] == 0.3


def _failed_checks(rows, min_requests: int, max_error_rate: float) -> set[float]:
    """Check times whose one-minute window (the difference of cumulative counts) fails the Flagger rule."""
    requests = rows["new_requests"].diff().fillna(rows["new_requests"])
    errors = rows["new_errors"].diff().fillna(rows["new_errors"])
    failed = (requests < min_requests) | (errors > max_error_rate * requests)
    return {round(float(t), 6) for t in rows.loc[failed, "time_s"]}


def _increases(rows) -> list[float]:
    weights, times = rows["weight"].tolist(), rows["time_s"].tolist()
    return [times[i] for i in range(1, len(weights)) if weights[i] > weights[i - 1]]


def test_a_holding_canary_never_steps_up_within_a_bake_of_a_failed_check() -> None:
    """Baseline errors of 0.9% against a 1% threshold: about a third of the checks fail on a
    healthy release. ``on_failure="hold"`` restarts the bake at each failed check, so a step
    up at t never follows a failed check in (t - bake, t]; ``rollback`` keeps stepping."""
    bake = 180.0
    steps = [0.05, 0.1, 0.2, 0.3, 0.5]
    scenario = make_scenario(
        horizon="2h",
        population={"users": 10_000},
        traffic={"rate": 100.0},
        release={},
        telemetry={"baseline_error_rate": 0.009, "scrape_interval": "60s"},
        detection={"service_alert": {"enabled": False}, "user_reports": {"enabled": False}},
        strategies=[
            _canary("hold", _judge(rule="flagger", threshold=10_000), steps=steps, bake=bake, on_failure="hold"),
            _canary("keep", _judge(rule="argo", failure_limit=10_000), steps=steps, bake=bake),
        ],
    )
    held_after_failures, kept_after_failures = 0, 0
    for replication in range(4):
        timeline = sim.run(scenario, replication=replication, every=60).timeline
        for name in ("hold", "keep"):
            rows = timeline[timeline["strategy"] == name]
            failed = _failed_checks(rows[rows["event"] == ""], min_requests=1, max_error_rate=0.01)
            exposures = rows[rows["event"].str.startswith("exposure")]
            increases = _increases(exposures)
            assert len(increases) == len(steps)  # every step and the promotion
            too_soon = [t for t in increases if any(t - bake < f <= t for f in failed)]
            if name == "hold":
                assert not too_soon, (replication, too_soon, sorted(failed))
                held_after_failures += len(failed)
            else:
                kept_after_failures += len(too_soon)
    assert held_after_failures > 20  # failed checks happened, and the hold canary still finished
    assert kept_after_failures > 0  # the check can tell holding from not holding


RUNNER = CliRunner()
SCENARIO = """
name = "t"
horizon = "1h"
[population]
users = 1000
[traffic]
rate = 10
[[strategies]]
name = "bigbang"
[[strategies]]
name = "c"
use = "canary"
"""


def _validate(tmp_path: Path, judges: str) -> tuple[int, list[str], str]:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + f"judges = {judges}\n")
    result = RUNNER.invoke(cli, ["validate", str(path)], catch_exceptions=False)
    return result.exit_code, result.stderr.strip().splitlines(), str(path)


@pytest.mark.parametrize(
    ("judges", "fragments"),
    [
        ('{ analysis = { use = "threshold", params = { rule = "nope" } } }', ["judge 'analysis'", "rule"]),
        ('{ ratio = { use = "baseline", params = { max_ratio = 0.5 } } }', ["judge 'ratio'", "max_ratio"]),
        ('{ analysis = { use = "threshold", params = { colour = "red" } } }', ["judge 'analysis'", "colour"]),
    ],
)
def test_bad_judge_params_exit_2_naming_the_strategy_and_the_judge(
    tmp_path: Path, judges: str, fragments: list[str]
) -> None:
    code, lines, path = _validate(tmp_path, judges)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"rollout-sim: error: {path}: strategies.1: strategy 'c'")
    for fragment in fragments:
        assert fragment in lines[0]


def test_an_unknown_judge_exits_2_naming_where_it_is(tmp_path: Path) -> None:
    code, lines, path = _validate(tmp_path, '{ mine = { use = "nope" } }')
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"rollout-sim: error: {path}: strategies.1: ")
    assert "unknown judge 'nope'" in lines[0] and "threshold" in lines[0]


def test_good_judges_validate(tmp_path: Path) -> None:
    code, lines, _ = _validate(tmp_path, '{ analysis = { use = "threshold", params = { rule = "flagger" } } }')
    assert code == 0, lines
