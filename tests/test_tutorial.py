"""docs/writing-a-strategy.md works: its files are written, its commands run, its strategy passes the kit."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim import load_strategy_class
from sim.cli import cli
from sim.testing import check_strategy

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "writing-a-strategy.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(TUTORIAL.read_text()) if lang == language]


def _files() -> dict[str, str]:
    files = {}
    for body in _blocks("python") + _blocks("toml"):
        first = body.splitlines()[0]
        assert first.startswith("# file: "), f"a tutorial block does not start with '# file: NAME': {first!r}"
        files[first.removeprefix("# file: ").strip()] = body
    return files


def _commands() -> list[list[str]]:
    lines = [line for body in _blocks("console") for line in body.splitlines()]
    return [shlex.split(line.removeprefix("$ "))[1:] for line in lines if line.startswith("$ rollout-sim ")]


@pytest.fixture
def tutorial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in _files().items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_tutorial_shows_its_files_and_commands() -> None:
    assert {"my_rollout.py", "my.toml", "my_judge.py", "my_judged.toml", "test_my_rollout.py"} <= set(_files())
    assert ["compare", "my.toml"] in _commands()
    assert ["compare", "my_judged.toml"] in _commands()
    assert "rollout-sim new-strategy NAME" in TUTORIAL.read_text()


def test_the_strategy_file_is_about_twenty_lines() -> None:
    assert len(_files()["my_rollout.py"].splitlines()) <= 25


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_the_tutorials_commands_run(tutorial: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "-n", "4", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "my-rollout" in result.output
    if "my_judged.toml" in command:
        assert "my-rollout-mine" in result.output
        assert "caught by mine" in result.output


def test_the_tutorials_strategy_passes_the_kit(tutorial: Path) -> None:
    check_strategy(load_strategy_class(str(tutorial / "my_rollout.py") + ":MyRollout"), examples=30, bake="15m")


def test_the_tutorials_own_test_passes(tutorial: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tutorial))
    namespace: dict[str, object] = {}
    exec(compile((tutorial / "test_my_rollout.py").read_text(), "test_my_rollout.py", "exec"), namespace)
    try:
        namespace["test_my_rollout"]()
    finally:
        sys.modules.pop("my_rollout", None)
