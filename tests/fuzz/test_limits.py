"""Regression tests for each class of the Hardening issue: files the loader crashed on, values past the
engine's limits, work without a bound, sweep names that were paths, and bad command-line input.

Each bad input ends with exit code 2 and one line naming the file and the
field (or the option), before any work, and without a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sim import compare
from sim.cli import cli
from sim.cost import estimate
from sim.scenario import MAX_LIST, load_scenario
from tests.generators import SMALL_TOML, plugin

pytestmark = pytest.mark.fuzz

RUNNER = CliRunner()
SMALL = SMALL_TOML
BIG_INT = "1" + "0" * 4000  # 10**4000: TOML holds it, a float cannot
TOO_LONG_INT = "9" * 5000  # past Python's 4,300-digit limit: the TOML parser itself refuses it
SPIKE = "{ at = 0, duration = 1, multiplier = 2 }"
MANY_STEPS = ", ".join(["0.5"] * 100_000)


def invoke(*args: str) -> Result:
    return RUNNER.invoke(cli, list(args), catch_exceptions=False)


def write(folder: Path, text: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("rollout-sim: work:")]


def one_error(result: Result, starts: str = "") -> str:
    """Exit 2 with exactly one line of error, starting with ``rollout-sim: error: `` and ``starts``."""
    lines = problems(result)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"rollout-sim: error: {starts}"), lines
    return lines[0]


def with_lines(*lines: str, after: str = "") -> str:
    """SMALL with ``lines`` added at the top level (or after the line ``after``)."""
    if not after:
        return "\n".join(lines) + "\n" + SMALL
    return SMALL.replace(after, after + "\n" + "\n".join(lines))


# -- the loader: deep nesting, huge integers, NUL characters, values past the limits ---------------------

LOADER = {
    "deep nesting of arrays": (SMALL.replace("rate = 10", "rate = " + "[" * 100_000 + "]" * 100_000), "not valid TOML"),
    "deep nesting of tables": (
        SMALL.replace("rate = 10", "rate = " + "{ a = " * 5000 + "1" + " }" * 5000),
        "not valid TOML",
    ),
    "deep nesting in params": (
        SMALL.replace('name = "bigbang"', 'name = "canary"\nparams = { x = ' + "[" * 900 + "]" * 900 + " }"),
        ("not valid TOML", "strategies.0"),
    ),
    "5000-digit integer": (SMALL.replace("users = 1000", f"users = {TOO_LONG_INT}"), "not valid TOML"),
    "4001-digit integer as users": (SMALL.replace("users = 1000", f"users = {BIG_INT}"), "population.users"),
    "4001-digit integer as a rate": (SMALL.replace("rate = 10", f"rate = {BIG_INT}"), "traffic.rate"),
    "4001-digit integer as a duration": (SMALL.replace('horizon = "1h"', f"horizon = {BIG_INT}"), "horizon"),
    "4001-digit integer as a seed": (with_lines(f"seed = {BIG_INT}"), "seed"),
    "4001-digit integer as a param": (
        SMALL.replace('name = "bigbang"', f'name = "canary"\nparams = {{ bake = {BIG_INT} }}'),
        "strategies.0",
    ),
    "1e400 (infinite) as a rate": (SMALL.replace("rate = 10", "rate = 1e400"), "traffic.rate"),
    "NUL in the scenario name": (SMALL.replace('name = "t"', 'name = "a\\u0000b"'), "name"),
    "NUL byte in the file": (SMALL.replace('name = "t"', 'name = "a\x00b"'), "not valid TOML"),
    "NUL in the description": (with_lines('description = "a\\u0000b"'), "description"),
    "NUL in a segment name": (
        SMALL.replace("users = 1000", 'users = 1000\nsegments = [{ name = "a\\u0000b", share = 1 }]'),
        "population.segments.0.name",
    ),
    "NUL in a strategy name": (SMALL.replace('name = "bigbang"', 'name = "big\\u0000bang"'), "strategies.0.name"),
    "NUL in a judge name": (
        SMALL.replace('name = "bigbang"', 'name = "canary"\njudges = { "a\\u0000b" = { use = "threshold" } }'),
        "strategies.0.judges",
    ),
    "NUL in a plugin path": (
        SMALL.replace('name = "bigbang"', 'name = "mine"\nuse = "x\\u0000.py:Class"'),
        "strategies.0",
    ),
    "a line break in an unknown key": (with_lines('"bad\\nkey" = 1'), "unknown field"),
    "a line break in a judge name": (
        SMALL.replace('name = "bigbang"', 'name = "canary"\njudges = { "a\\nb" = { use = "threshold" } }'),
        "strategies.0.judges",
    ),
    "a billion users in one cohort": (SMALL.replace("users = 1000", "users = 1_000_000_000"), "population.users"),
    "a rate of 1e18": (SMALL.replace("rate = 10", "rate = 1e18"), "traffic.rate"),
    "a scrape interval of 1e-300 s": (
        with_lines("[telemetry]", "scrape_interval = 1e-300", after="rate = 10"),
        "telemetry.scrape_interval",
    ),
    "an analysis window of 1e300 s": (
        with_lines("[detection.analysis]", "window = 1e300", after="rate = 10"),
        "detection.analysis.window",
    ),
    "a service alert window of 1e300 s": (
        with_lines("[detection.service_alert]", "window = 1e300", after="rate = 10"),
        "detection.service_alert.window",
    ),
    "a billion reports needed": (
        with_lines("[detection.user_reports]", "reports_needed = 1_000_000_000", after="rate = 10"),
        "detection.user_reports.reports_needed",
    ),
    "a billion replications in the file": (with_lines("replications = 1_000_000_000"), "replications"),
    "a horizon of 1000 days": (SMALL.replace('"1h"', '"1000d"'), "horizon"),
    "thousands of segments": (
        SMALL.replace(
            "users = 1000",
            "users = 1000\nsegments = [" + ", ".join(f'{{ name = "s{i}", share = 0.0005 }}' for i in range(2000)) + "]",
        ),
        "population.segments",
    ),
    "thousands of spikes": (
        SMALL.replace("rate = 10", "rate = 10\nspikes = [" + ", ".join([SPIKE] * 1000) + "]"),
        "traffic.spikes",
    ),
    "a rollback of 100,000 steps": (
        with_lines("[rollback]", 'style = "gradual"', f"steps = [{MANY_STEPS}]", after="rate = 10"),
        "rollback.steps",
    ),
}


@pytest.mark.parametrize("case", sorted(LOADER))
@pytest.mark.parametrize("command", ["validate", "compare"])
def test_a_file_past_the_limits_is_refused_in_one_line_naming_the_field(
    tmp_path: Path, case: str, command: str
) -> None:
    text, expected = LOADER[case]
    path = write(tmp_path, text)
    line = one_error(invoke(command, str(path)), f"{path}: ")
    assert any(fragment in line for fragment in ((expected,) if isinstance(expected, str) else expected)), line


# -- names with rich markup -------------------------------------------------------------------------------

MARKUP = ["[bold]loud", "[red]x", "[link=https://example.com]here", "[@click=app.quit]q", "[/]", "[b]x[/b]"]


@pytest.mark.parametrize("name", MARKUP)
def test_a_name_with_rich_markup_is_refused_or_shown_literally(tmp_path: Path, name: str) -> None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    text = SMALL.replace('name = "t"', f'name = "{escaped}"').replace(
        'name = "bigbang"', f'name = "{escaped}!"\nuse = "bigbang"'
    )
    path = write(tmp_path, text)
    for args in (["compare", str(path), "-n", "2"], ["run", str(path)]):
        result = invoke(*args)
        if result.exit_code == 2:  # refused: one line per name, each naming its field
            lines = problems(result)
            assert lines and "Traceback" not in result.output, result.output
            fields = {line.removeprefix(f"rollout-sim: error: {path}: ").split(":")[0] for line in lines}
            assert fields <= {"name", "strategies.0.name"}, lines
            continue
        assert result.exit_code == 0, result.output
        assert f"{name}!" in result.stdout, f"{args[0]}: the strategy name is not shown as written\n{result.stdout}"
        if args[0] == "compare":
            assert name in result.stdout.splitlines()[0] or name in result.stdout, result.stdout


# -- work without a bound ---------------------------------------------------------------------------------


def test_a_billion_replications_are_refused_by_the_ceiling_at_once() -> None:
    start = time.monotonic()
    result = invoke("compare", "default", "-n", "1000000000")
    seconds = time.monotonic() - start
    line = one_error(result)
    assert "ceiling" in line and "--force" in line, line
    assert seconds < 1.0, f"took {seconds:.2f} s to refuse"


def test_a_billion_replications_of_strategies_that_never_finish_are_refused_at_once(tmp_path: Path) -> None:
    """Strategies that never end make the cost pilot run its whole second per strategy."""
    holds = "".join(
        f'\n[[strategies]]\nname = "hold{i}"\nuse = "{plugin("Hold")}"\nparams = {{ weight = 0.1 }}\n' for i in range(3)
    )
    path = write(tmp_path, SMALL.replace('horizon = "1h"', 'horizon = "1d"').split("[[strategies]]")[0] + holds)
    start = time.monotonic()
    result = invoke("compare", str(path), "-n", "1000000000")
    seconds = time.monotonic() - start
    line = one_error(result)
    assert "ceiling" in line and "--force" in line, line
    assert seconds < 1.0, f"took {seconds:.2f} s to refuse"


@pytest.mark.parametrize("command", ["compare", "run"])
def test_one_second_scrapes_for_thirty_days_are_refused_by_the_ceiling(tmp_path: Path, command: str) -> None:
    text = with_lines("[telemetry]", 'scrape_interval = "1s"', after="rate = 10").replace('"1h"', '"30d"')
    path = write(tmp_path, text)
    start = time.monotonic()
    line = one_error(invoke(command, str(path), *(["-n", "2"] if command == "compare" else [])))
    assert "ticks per block is over the ceiling" in line and "--force" in line, line
    assert time.monotonic() - start < 1.0
    validated = invoke("validate", str(path))  # validate says what the work would be
    assert validated.exit_code == 0 and "ticks per block" in validated.output, validated.output


def test_the_estimate_of_thousands_of_cohorts_is_not_far_below_the_real_work(tmp_path: Path) -> None:
    """100 segments x 20 rate classes = 2,000 cohorts: each tick draws them all. The work said before
    the run must not be a small fraction of what the run takes."""
    segments = ", ".join(f'{{ name = "s{i}", share = 0.01 }}' for i in range(MAX_LIST))
    classes = ", ".join(f"{{ share = 0.05, relative_rate = {1 + i} }}" for i in range(20))
    text = SMALL.replace('horizon = "1h"', 'horizon = "2h"').replace(
        "users = 1000", f"users = 1_000_000\nsegments = [{segments}]\nrate_classes = [{classes}]"
    )
    scenario = load_scenario(write(tmp_path, text))
    work = estimate(scenario, scenario.strategies, 64)
    start = time.monotonic()
    compare(scenario, replications=64, workers=1)
    seconds = time.monotonic() - start
    assert seconds <= max(4 * work.seconds, 1.0), f"estimated {work.seconds:.2f} s, took {seconds:.2f} s"


def test_a_canary_with_a_million_steps_is_refused_before_any_work(tmp_path: Path) -> None:
    steps = ", ".join(["0.001"] * 1_000_000)
    path = write(tmp_path, SMALL.replace('name = "bigbang"', f'name = "canary"\nparams = {{ steps = [{steps}] }}'))
    start = time.monotonic()
    line = one_error(invoke("compare", str(path)), f"{path}: strategies.0: ")
    assert "steps" in line, line
    assert time.monotonic() - start < 10.0


# -- sweep names and output folders --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "/abs", "team/app", "a\\b", "team\\..\\..\\x"])
def test_a_sweep_name_that_is_a_path_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    escaped = name.replace("\\", "\\\\")
    path = write(work, SMALL.replace('name = "t"', f'name = "{escaped}"'))
    line = one_error(invoke("sweep", str(path), "--grid", "traffic.rate=10,20", "-n", "1"), f"{path}: name: ")
    assert "/" in line or "\\" in line
    assert sorted(p.name for p in work.iterdir()) == ["s.toml"], "something was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"], "something was written outside the folder"


def test_a_grid_over_the_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, SMALL)
    line = one_error(invoke("sweep", str(path), "--grid", 'name="../../x","y"', "-n", "1"))
    assert "name" in line
    assert not (tmp_path / "reports").exists()


def test_an_out_folder_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, SMALL)
    blocker = write(tmp_path, "a file, not a folder", "file.txt")
    start = time.monotonic()
    result = invoke("sweep", str(path), "--grid", "traffic.rate=10,20", "-n", "1", "--out", str(blocker / "out"))
    line = one_error(result, "--out ")
    assert "cannot write" in line, line
    assert "sweep:" not in result.output and "wrote" not in result.output
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize(
    "value", [TOO_LONG_INT, "[" * 100_000 + "]" * 100_000, "{ a = " * 5000 + "1" + " }" * 5000, '"a\x00b"']
)
def test_a_grid_value_the_parser_cannot_hold_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, SMALL)
    one_error(invoke("sweep", str(path), "--grid", f"traffic.rate={value}", "-n", "1"))
    assert not (tmp_path / "reports").exists()


# -- the command line -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compare", "run"])
@pytest.mark.parametrize("value", ["", " ", "x\x00.py:Class", ".py:", "a.py:"])
def test_a_strategy_option_that_names_nothing_is_bad_input(command: str, value: str) -> None:
    line = one_error(invoke(command, "--strategy", value))
    assert "--strategy" in line or "strategy" in line, line


def test_a_judge_window_past_a_week_is_refused_before_the_work(tmp_path: Path) -> None:
    """Found by the long fuzz run: a judge window of 1e300 s sized the telemetry log and crashed compare."""
    from click.testing import CliRunner

    from sim.cli import cli

    path = tmp_path / "w.toml"
    path.write_text(
        'name = "w"\n[population]\nusers = 1000\n[traffic]\nrate = 10\n[[strategies]]\nname = "bigbang"\n'
        'judges = { analysis = { use = "threshold", params = { window = 1e300 } } }\n'
    )
    result = CliRunner().invoke(cli, ["compare", str(path), "-n", "2"])
    assert result.exit_code == 2 and "window must be at most 7 days" in result.stderr
    assert "Traceback" not in result.output


def test_posix_exit_in_a_plugin_is_refused_like_os_exit(tmp_path: Path) -> None:
    """Found by the fuzz suite: posix._exit is os._exit under another name."""
    from click.testing import CliRunner

    from sim.cli import cli

    plugin = tmp_path / "exits.py"
    plugin.write_text(
        "import posix\nfrom sim import Decision\n\n\nclass Exits:\n"
        "    def decide(self, obs):\n        posix._exit(0)\n        return Decision.done()\n"
    )
    result = CliRunner().invoke(cli, ["compare", "-n", "2", "--strategy", "bigbang", "--strategy", f"{plugin}:Exits"])
    assert result.exit_code == 1 and "os._exit(0) called by a plugin" in result.stderr
