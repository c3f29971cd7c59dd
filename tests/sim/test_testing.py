"""sim.testing.check_strategy accepts the built-ins and rejects broken strategies; starter files run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import sim
from sim import Decision, Observation
from sim.templates import class_name, starter_strategy
from sim.testing import check_strategy

BUILT_INS = [
    ("bigbang", {}),
    ("canary", {}),
    ("linear", {}),
    ("exponential", {}),
    ("twostep", {}),
    ("argo", {}),
    ("flagger", {}),
    ("rolling", {}),
    ("bluegreen", {}),
    ("shadow", {}),
    ("rings", {"rings": [{"segments": ["internal"], "bake": "10m"}, {"segments": ["*"], "bake": "0s"}]}),
    ("flag", {"schedule": [["0s", 0.1], ["1h", 1.0]]}),
    ("abtest", {"segment": "beta"}),
]


@pytest.mark.parametrize(("name", "params"), BUILT_INS, ids=[name for name, _ in BUILT_INS])
def test_built_in_strategies_pass(name: str, params: dict) -> None:
    check_strategy(sim.load_strategy_class(name), examples=20, **params)


def test_an_installed_name_passes() -> None:
    check_strategy("canary", examples=10, bake="5m")


class Junk:
    def decide(self, obs: Observation) -> Decision:
        return Decision.set(1.5, wait=60) if obs.decisions else Decision.set(0.1, wait=60)


class Raises:
    def decide(self, obs: Observation) -> Decision:
        if obs.analysis.verdict == "inconclusive":
            raise KeyError("inconclusive")
        return Decision.done() if obs.now > 600 else Decision.set(0.1, wait=60)


class Never:
    def decide(self, obs: Observation) -> Decision:
        return Decision.set(0.1, wait="1h")


class GlobalRandom:
    def decide(self, obs: Observation) -> Decision:
        if obs.now >= 600:
            return Decision.done()
        return Decision.set(0.1, wait=1 + 600 * random.random())


class NotAClass:
    def decide(self, obs: Observation) -> str:
        return "done"


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (Junk, "bad decision: weight must be a number between 0 and 1"),
        (NotAClass, "expected a sim.Decision"),
        (Raises, "decide() raised KeyError"),
        (Never, "never finished a healthy release"),
        (GlobalRandom, "not deterministic"),
    ],
    ids=["junk", "not-a-decision", "raises", "never-finishes", "global-random"],
)
def test_broken_strategies_fail_with_one_line(cls: type, words: str) -> None:
    with pytest.raises(AssertionError) as caught:
        check_strategy(cls, examples=30)
    message = str(caught.value)
    assert words in message, message
    assert cls.__qualname__ in message
    assert "\n" not in message


def test_bad_params_fail() -> None:
    with pytest.raises(AssertionError, match="cannot be built from params"):
        check_strategy("canary", examples=5, steps=[2.0])


def test_starter_files_run(tmp_path: Path) -> None:
    code, scenario = starter_strategy("my-rollout")
    assert "class MyRollout" in code and 'use = "my-rollout.py:MyRollout"' in scenario
    (tmp_path / "my-rollout.py").write_text(code)
    (tmp_path / "my-rollout.toml").write_text(scenario)
    result = sim.compare(tmp_path / "my-rollout.toml", replications=2, workers=1)
    assert result.errors == {}
    assert list(result.summaries) == ["bigbang", "canary", "my-rollout"]
    check_strategy(f"{tmp_path / 'my-rollout.py'}:MyRollout", examples=20)


@pytest.mark.parametrize(("name", "expected"), [("my-rollout", "MyRollout"), ("two_step", "TwoStep"), ("x", "X")])
def test_class_names(name: str, expected: str) -> None:
    assert class_name(name) == expected


@pytest.mark.parametrize("name", ["9lives", "-", "", "a/b", "my rollout", "../x"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError) as caught:
        starter_strategy(name)
    assert "\n" not in str(caught.value)


def test_new_strategy_writes_a_starter_that_runs_and_never_overwrites(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sim.cli import cli

    written = CliRunner().invoke(cli, ["new-strategy", "my-rollout", "--dir", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert (tmp_path / "my-rollout.py").is_file() and (tmp_path / "my-rollout.toml").is_file()
    again = CliRunner().invoke(cli, ["new-strategy", "my-rollout", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    compared = CliRunner().invoke(cli, ["compare", str(tmp_path / "my-rollout.toml"), "-n", "2", "--workers", "1"])
    assert compared.exit_code == 0, compared.output
    bad = CliRunner().invoke(cli, ["new-strategy", "9lives", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
