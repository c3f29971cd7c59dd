"""Generated scenario files against the loader, the plugin checks, the cost estimate and the real CLI.

Every file either loads or is refused with ``ScenarioError`` whose every line
starts with the file's path and names a field (or says the file is not TOML or
cannot be read); nothing else escapes. A sample of the files that load goes
through ``rollout-sim validate`` and ``rollout-sim compare`` in a subprocess:
exit 0, 1 or 2, no traceback, no hang, and JSON on stdout when asked for.

Normal run: 200 files through the loader, 3 through the CLI. ``pytest
--fuzz-long``: 10,000 and 100.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from sim import Scenario, ScenarioError, load_scenario
from sim.cost import estimate
from sim.plugins import check_strategies
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import loadable_files, scenario_files

pytestmark = pytest.mark.fuzz

FILE_PROBLEMS = ("not valid TOML: ", "cannot read: ", "no such file")
TOP_FIELDS = {field.alias or name for name, field in Scenario.model_fields.items()} | {"(top level)"}
CLI_TIMEOUT = 60.0
COMPARE_AT_MOST = 20.0  # seconds of estimated work; a longer (legitimate) compare is not run here


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzed")


def assert_names_file_and_field(message: str, path: Path) -> None:
    """One line per problem, each starting with the file and naming the field it is about."""
    assert message, "an empty error message"
    prefix = f"{path}: "
    for line in message.splitlines():
        assert line.startswith(prefix), f"a line of the error does not start with the file: {line[:300]!r}"
        rest = line[len(prefix) :]
        if rest.startswith(FILE_PROBLEMS):
            continue
        field, separator, problem = rest.partition(": ")
        assert separator and problem.strip(), f"no field named in {line[:300]!r}"
        known = field.split(".")[0] in TOP_FIELDS
        assert known or problem.startswith("unknown field"), f"not a field: {line[:300]!r}"


def check_file(content: bytes, path: Path) -> Scenario | None:
    """Load ``content`` as a scenario file; the scenario, or None when it is refused as it should be."""
    path.write_bytes(content)
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        assert_names_file_and_field(str(error), path)
        return None
    try:
        check_strategies(scenario)  # what validate does next: build every strategy and judge once
    except ScenarioError as error:
        assert_names_file_and_field(str(error), path)
        return None
    work = estimate(scenario, scenario.strategies, scenario.replications, pilot=False)
    assert work.describe()
    return scenario


@fuzz_settings(normal=200, long=10_000)
@given(content=scenario_files())
def test_every_generated_file_loads_or_is_refused_naming_the_field(content: bytes, workdir: Path) -> None:
    check_file(content, workdir / "fuzzed.toml")


def test_the_bundled_scenarios_load(workdir: Path) -> None:
    """The starting points themselves are valid (otherwise the fuzzing above proves little)."""
    from tests.fuzz.mutations import bundled_texts

    for index, text in enumerate(bundled_texts()):
        assert check_file(text.encode(), workdir / f"bundled-{index}.toml") is not None


def rollout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_SIM_PLUGIN_TIMEOUT"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "sim", *args],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            cwd=cwd,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"rollout-sim {' '.join(args)} did not end within {CLI_TIMEOUT:g} s (a hang)")


def assert_clean_exit(result: subprocess.CompletedProcess[str], command: str) -> None:
    assert result.returncode in (0, 1, 2), f"{command}: exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, f"{command}: a traceback\n{result.stderr[-3000:]}"


@fuzz_settings(normal=3, long=100)
@given(content=loadable_files(), as_json=st.booleans())
def test_files_that_load_run_through_the_cli_without_a_traceback(content: bytes, as_json: bool, workdir: Path) -> None:
    path = workdir / "cli.toml"
    path.write_bytes(content)
    try:
        scenario = load_scenario(path)
    except ScenarioError:
        assume(False)
    validated = rollout("validate", str(path), cwd=workdir)
    assert_clean_exit(validated, "validate")
    if validated.returncode != 0:  # a strategy or judge refused its params: nothing to run
        return
    work = estimate(scenario, scenario.strategies, 2, pilot=False)
    if work.problem() is None and work.seconds > COMPARE_AT_MOST:
        note(f"compare not run: {work.describe()}")
        return
    compared = rollout("compare", str(path), "-n", "2", *(["--json"] if as_json else []), cwd=workdir)
    assert_clean_exit(compared, "compare")
    if compared.returncode == 0:
        if as_json:
            document = json.loads(compared.stdout)
            assert set(document["strategies"]) == {spec.name for spec in scenario.strategies}
        else:
            assert compared.stdout.strip()
