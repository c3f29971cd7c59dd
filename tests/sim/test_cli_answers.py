"""The answers users come for: copy a scenario out, change a field from the command line, ask a sweep which
setting to use, errors that say what was meant, durations in one form everywhere, tables that read at a
glance. Each new option is also fuzzed: any value runs or is refused in one line with exit code 2.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from sim.catalog import bundled_scenarios
from sim.cli import cli
from sim.durations import format_clock
from sim.grid import with_settings
from sim.results import MetricSummary
from sim.scenario import ScenarioError, load_scenario
from sim.sweeps import GOAL_MEASURES, parse_goal
from tests.fuzz import fuzz_settings
from tests.generators import SMALL_TOML, SWEEP_TOML

RUNNER = CliRunner()


def invoke(*args: str) -> Result:
    return RUNNER.invoke(cli, list(args), catch_exceptions=False)


def write(folder: Path, text: str = SMALL_TOML, name: str = "s.toml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def problems(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("rollout-sim: work:")]


def one_error(result: Result, *fragments: str) -> str:
    """Exit 2, one line of error (``rollout-sim: error: ...``) holding every fragment, no traceback."""
    lines = problems(result)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert len(lines) == 1, lines
    assert lines[0].startswith("rollout-sim: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# -- 1. scenario copy -----------------------------------------------------------------------------------------


def test_scenario_copy_writes_the_bundled_file_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("scenario", "copy", "default")
    assert result.exit_code == 0, result.output
    copied = tmp_path / "default.toml"
    assert copied.read_bytes() == bundled_scenarios()["default"].read_bytes()
    assert "wrote default.toml" in result.stdout and "rollout-sim compare default.toml" in result.stdout
    assert invoke("compare", "default.toml", "-n", "2").exit_code == 0  # it runs as it is


def test_scenario_copy_into_a_folder_or_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "labs"
    folder.mkdir()
    assert invoke("scenario", "copy", "sweep", str(folder)).exit_code == 0
    assert (folder / "sweep.toml").read_bytes() == bundled_scenarios()["sweep"].read_bytes()
    assert invoke("scenario", "copy", "healthy", str(folder / "mine.toml")).exit_code == 0
    assert (folder / "mine.toml").read_bytes() == bundled_scenarios()["healthy"].read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["mine.toml", "sweep.toml"]


def test_scenario_copy_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "x.toml"
    target.write_text("mine")
    one_error(invoke("scenario", "copy", "default", str(target)), "already exists", "--force")
    assert target.read_text() == "mine"
    assert invoke("scenario", "copy", "default", str(target), "--force").exit_code == 0
    assert target.read_bytes() == bundled_scenarios()["default"].read_bytes()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["defualt"], ["no bundled scenario 'defualt'", "did you mean 'default'?", "bundled: default, "]),
        (["nope"], ["no bundled scenario 'nope'", "bundled: default, "]),
        (["default", "{tmp}/missing/x.toml"], ["no folder", "nothing written"]),
        (["default", "{tmp}/missing/"], ["no folder"]),
        (["default", ""], ["DEST is empty"]),
    ],
)
def test_scenario_copy_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], fragments: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    one_error(invoke("scenario", "copy", *(arg.format(tmp=tmp_path) for arg in args)), *fragments)
    assert list(tmp_path.iterdir()) == []


# -- 2. --set PATH=VALUE ---------------------------------------------------------------------------------------


def test_set_changes_any_field_with_the_grid_path_syntax() -> None:
    scenario = load_scenario(bundled_scenarios()["default"])
    changed = with_settings(
        scenario,
        [
            "strategies.canary.params.bake=20m",
            "strategies.flag-canary.steps=[0.02, 0.5]",
            "release.defect.harm=0.01",
            "telemetry.latency.median=0.2",
            'description="a b"',
        ],
    )
    canary = next(spec for spec in changed.strategies if spec.name == "canary")
    flag = next(spec for spec in changed.strategies if spec.name == "flag-canary")
    assert canary.params["bake"] == "20m" and flag.params["steps"] == [0.02, 0.5]
    assert changed.release.defect is not None and changed.release.defect.harm == 0.01
    assert changed.telemetry.latency is not None and changed.telemetry.latency.median == 0.2
    assert changed.description == "a b"
    assert scenario.release.defect is not None and scenario.release.defect.harm == 0.05  # the original is unchanged


def test_set_on_run_compare_and_sweep_changes_the_numbers(tmp_path: Path) -> None:
    base = json.loads(invoke("compare", "-n", "2", "--strategy", "canary", "--json").stdout)
    smaller = invoke("compare", "-n", "2", "--strategy", "canary", "--json", "--set", "release.defect.harm=0.02")
    assert smaller.exit_code == 0, smaller.output
    harmed = json.loads(smaller.stdout)["strategies"]["canary"]["blast_radius_requests"]["mean"]
    assert harmed < base["strategies"]["canary"]["blast_radius_requests"]["mean"]
    ran = json.loads(invoke("run", "--json", "--strategy", "canary", "--set", "release.defect.onset=30m").stdout)
    assert ran["strategies"]["canary"]["measures"]["onset_s"] >= 1800.0
    path = write(tmp_path, SWEEP_TOML)
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", str(out), "--workers", "1", "--set", "strategies.canary.params.bake=2m")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "small-sweep.csv")
    healthy = table[(table["release"] == "healthy") & (table["measure"] == "rollout_duration_s")]
    assert set(healthy[healthy["strategy"] == "canary"]["mean"]) == {240.0}  # two steps of 2 minutes


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        (
            "relase.defect.harm=0.01",
            ["[--set relase.defect.harm=0.01]: relase: unknown field", "did you mean 'release'?"],
        ),
        ("strategies.0.parms.bake=5m", ["strategies.0.parms: unknown field", "did you mean 'params'?"]),
        ("strategies.canery.bake=5m", ["--set strategies.canery.bake=5m: no strategy 'canery'", "'canary'"]),
        ("strategies.canary.params.bakee=5m", ["strategies.1: strategy 'canary'", "did you mean 'bake'?"]),
        ("traffic.rate=-1", ["traffic.rate: Input should be greater than 0, got -1"]),
        ("traffic.rate=fast", ["traffic.rate: Input should be a valid number"]),
        ("horizon=soon", ["horizon: expected a duration"]),
        ("traffic.rate.x=1", ["--set traffic.rate.x=1: cannot go into 'x': traffic.rate is a value"]),
        ("strategies.canary=1", ["name a field of the strategy"]),
        ("population.segments.3.share=1", ["no item '3': population.segments has 3 items (0 to 2, or by name"]),
        ("traffic..rate=1", ["a part of the path is empty"]),
        ("traffic.rate", ["expected PATH=VALUE"]),
        ("=1", ["expected PATH=VALUE"]),
        ("traffic.rate=" + "9" * 5000, ["too large"]),
        ("traffic.rate=1\nx=2", ["must be one line"]),
    ],
)
@pytest.mark.parametrize("command", ["compare", "run", "sweep"])
def test_a_bad_set_is_one_line_naming_the_path(
    tmp_path: Path, command: str, setting: str, fragments: list[str]
) -> None:
    args = [command, "--set", setting]
    if command == "sweep":
        args += ["--grid", "traffic.rate=10,20", "--out", str(tmp_path / "out")]
    one_error(invoke(*args), *fragments)
    assert not (tmp_path / "out").exists(), "nothing is written"


# -- 3. sweeps: the goal (the frontier is in test_sweeps.py) ------------------------------------------------------


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A small sweep run once; later commands with the same arguments only read it back."""
    folder = tmp_path_factory.mktemp("goal")
    path = write(folder, SWEEP_TOML)
    out = folder / "out"
    assert invoke("sweep", path, "--out", str(out), "--workers", "1").exit_code == 0
    return path, out


def goal(swept: tuple[str, Path], text: str) -> Result:
    path, out = swept
    return invoke("sweep", path, "--out", str(out), "--workers", "1", "--goal", text)


def test_a_goal_picks_the_fastest_setting_that_meets_it_everywhere(swept: tuple[str, Path]) -> None:
    result = goal(swept, "users_harmed<=100,false_rollback<=5%")
    assert result.exit_code == 0, result.output
    assert "(0 already done)" not in result.stderr  # read back, not run again
    lines = result.stdout.splitlines()
    answer = next(line for line in lines if line.startswith("answer: "))
    assert answer == "answer: canary (steps.0=0.05)"
    assert "meets users_harmed<=100: 74.8 at harm=0.1" in result.stdout
    assert "meets false_rollback<=0.05: 0.00%" in result.stdout


def test_a_goal_no_setting_meets_says_so_and_what_came_closest(swept: tuple[str, Path]) -> None:
    result = goal(swept, "users_harmed<=50,false_rollback<=0.05")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "answer: none; no setting meets users_harmed<=50, false_rollback<=0.05 at every harm" in text
    assert "closest: canary (steps.0=0.05) misses users_harmed<=50: 74.8 at harm=0.1" in text
    assert "users_harmed<=50 is out of reach" in text
    assert "none; closest: canary" in text  # the defect size no setting handles, in the per-harm table


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("users_harmd<=5", "unknown measure 'users_harmd'; did you mean 'users_harmed'?"),
        ("users_harmed=5", "use <=, <, >= or >, not ="),
        ("users_harmed<=x", "users_harmed: expected a number, got 'x'"),
        ("users_harmed<=-1", "must be a finite number >= 0"),
        ("users_harmed<=inf", "must be a finite number >= 0"),
        ("false_rollback<=2", "must be a share in [0, 1]"),
        ("false_rollback<=150%", "must be a share in [0, 1]"),
        ("ttd<=soon", "ttd: expected a duration like 600, 10m or 1h30m"),
        ("", "empty condition"),
        ("users_harmed<=5,", "empty condition"),
        ("users_harmed", "is not MEASURE<=VALUE"),
        (",".join(["ttd<=1m"] * 21), "at most 20 conditions"),
    ],
)
def test_a_malformed_goal_is_one_line_before_any_work(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, SWEEP_TOML)
    one_error(invoke("sweep", path, "--out", str(tmp_path / "out"), "--goal", text), "--goal", fragment)
    assert not (tmp_path / "out").exists()


def test_a_goal_on_the_defect_of_a_healthy_sweep_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SWEEP_TOML.replace("[release.defect]\nharm = 0.05\n", ""))
    args = ["sweep", path, "--grid", "strategies.canary.bake=1m,2m", "--out", str(tmp_path / "out")]
    one_error(invoke(*args, "--goal", "users_harmed<=5"), "no defective release")
    assert not (tmp_path / "out").exists()
    assert invoke(*args, "--goal", "rollout_time<=3m", "--workers", "1").exit_code == 0


def test_goal_values_are_read_in_their_units() -> None:
    conditions = parse_goal("ttd<=1h30m, rollout_time<600, detection>=95%, users_harmed<=1e3, completed>0.5")
    assert [(c.name, c.operator, c.limit) for c in conditions] == [
        ("ttd", "<=", 5400.0),
        ("rollout_time", "<", 600.0),
        ("detection", ">=", 0.95),
        ("users_harmed", "<=", 1000.0),
        ("completed", ">", 0.5),
    ]


# -- 4. did you mean, durations everywhere --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("[traffic]", "[relase]\n[traffic]", "relase: unknown field; did you mean 'release'?"),
        (
            'name = "bigbang"',
            'name = "bigbang"\nparms = {}',
            "strategies.0.parms: unknown field; did you mean 'params'?",
        ),
        ('name = "bigbang"', 'name = "c"\nuse = "canery"', "unknown strategy 'canery' (did you mean 'canary'?)"),
        (
            'name = "bigbang"',
            'name = "c"\nuse = "canary"\njudges = { analysis = { use = "treshold" } }',
            "unknown judge 'treshold' (did you mean 'threshold'?)",
        ),
    ],
)
def test_unknown_names_in_a_file_say_what_was_meant(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    path = write(tmp_path, SMALL_TOML.replace(old, new))
    for command in ("validate", "compare"):
        one_error(invoke(command, path), path, fragment)


def test_an_unknown_strategy_option_says_what_was_meant() -> None:
    one_error(
        invoke("compare", "-n", "1", "--strategy", "canery"), "unknown strategy 'canery' (did you mean 'canary'?)"
    )
    one_error(invoke("run", "--strategy", "flag-canry"), "did you mean 'flag-canary'?", "the scenario's: bigbang")
    one_error(invoke("compare", "-n", "1", "--strategy", "qqqq"), "unknown strategy 'qqqq'; installed: ")
    one_error(invoke("compare", "defualt"), "no bundled scenario of that name; did you mean 'default'?")


@pytest.mark.parametrize("value", ["600", "10m", "1h30m", '"10m"', "600.0", "1e3"])
def test_every_duration_option_takes_the_forms_a_scenario_takes(value: str) -> None:
    result = invoke("run", "--strategy", "canary", "--every", value, "--json")
    assert result.exit_code == 0, result.output
    power = invoke("power", "-n", "2", "--bake", value, "--json")
    assert power.exit_code == 0, power.output
    seconds = json.loads(power.stdout)["rows"][0]["bake_s"]
    assert seconds in (600.0, 5400.0, 1000.0)
    assert invoke("--plugin-timeout", value, "compare", "-n", "1", "--strategy", "bigbang").exit_code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--every", "0"], "must be from 1s to 365d"),
        (["run", "--every", "366d"], "must be from 1s to 365d"),
        (["run", "--every", "soon"], "expected a duration"),
        (["run", "--every", "-5m"], "cannot be negative"),
        (["run", "--every", "nan"], "must be finite"),
        (["--plugin-timeout", "2d", "compare"], "must be from 0.01s to 1d"),
        (["--plugin-timeout", "0", "compare"], "must be from 0.01s to 1d"),
        (["power", "--bake", "0"], "--bake"),
    ],
)
def test_a_duration_option_out_of_range_is_one_line(args: list[str], fragment: str) -> None:
    one_error(invoke(*args), fragment)


# -- 5. tables: one unit per row; the timeline's marks and end ---------------------------------------------------------


def test_a_duration_row_of_compare_has_one_unit() -> None:
    import sim
    from sim.render import ROWS, _cells, _duration

    cells = _cells(MetricSummary.of([60.0, 90.0, 100.0, 3 * 3600.0]), _duration)
    assert cells[:3] == ["46.0m ± 142.1m", "1.6m", "153.2m"], cells  # not 95s and 2.6h beside minutes
    comparison = sim.compare("silent-defect", replications=16, workers=1)
    durations = [metric for metric, _, fmt in ROWS if fmt is _duration]
    for summary in comparison.summaries.values():
        for metric in durations:
            shown = _cells(summary.metrics[metric], _duration)[:3]
            values = [part for cell in shown if cell != "-" for part in cell.split(" ± ")]
            assert len({value[-1] for value in values}) <= 1, (metric, shown)


def test_run_marks_onset_detection_and_mitigation_and_stops_at_the_end() -> None:
    document = json.loads(invoke("run", "--json", "--every", "10m").stdout)
    for name, strategy in document["strategies"].items():
        measures, rows = strategy["measures"], strategy["timeline"]
        events = [row["event"] for row in rows]
        assert "defect onset" in events, name
        assert f"detected by {measures['caught_by']}" in events, name
        assert events[-1] == "mitigated", (name, events)
        assert rows[-1]["time_s"] == measures["mitigation_s"], name  # no row after the end
        detected = next(row for row in rows if row["event"].startswith("detected by"))
        assert detected["time_s"] == measures["detection_s"]
    shown = invoke("run", "--every", "10m").stdout
    assert "ends 0:03:00: mitigated, nothing changes after" in shown
    assert "23:50:00" not in shown and "24:00:00" not in shown.split("measures")[0]


def test_a_run_that_is_not_mitigated_goes_to_the_horizon_and_a_false_alarm_is_marked(tmp_path: Path) -> None:
    healthy = json.loads(invoke("run", "healthy", "--json", "--every", "1h", "--strategy", "canary").stdout)
    canary = healthy["strategies"]["canary"]
    events = [row["event"] for row in canary["timeline"]]
    if canary["measures"]["outcome"] == "false_rollback":
        assert "false alarm by analysis" in events
        assert canary["timeline"][-1]["time_s"] == canary["measures"]["mitigation_s"]
    bigbang = json.loads(invoke("run", "healthy", "--json", "--every", "1h", "--strategy", "bigbang").stdout)
    rows = bigbang["strategies"]["bigbang"]["timeline"]
    assert rows[-1]["time_s"] == bigbang["strategies"]["bigbang"]["measures"]["end_s"]  # the horizon


@pytest.mark.parametrize(
    "args",
    [
        ("default", "--every", "10m"),  # mitigated: ends at the mitigation
        ("healthy", "--every", "1h"),  # a false alarm marked; runs not rolled back go to the horizon
        ("silent-defect",),
        ("default", "--set", "release.defect.persistent=true"),  # mitigated, but the harm persists: the horizon
    ],
)
def test_the_python_run_returns_the_timeline_the_cli_writes(args: tuple[str, ...]) -> None:
    """``sim.run()`` and ``rollout-sim run --json`` give the same rows: trimmed at the run's end, detection marked."""
    import sim

    document = json.loads(invoke("run", *args, "--json").stdout)
    scenario, options = args[0], dict(zip(args[1::2], args[2::2], strict=True))
    loaded = with_settings(
        load_scenario(bundled_scenarios()[scenario]), [options["--set"]] if "--set" in options else []
    )
    every = {"10m": 600.0, "1h": 3600.0}.get(options.get("--every", ""))
    result = sim.run(loaded, every=every)
    assert result.to_dict() == json.loads(json.dumps(result.to_dict()))  # plain values, as the CLI writes them
    assert list(result.ends) == list(document["strategies"])
    persistent = "--set" in options
    for name, strategy in document["strategies"].items():
        rows = result.timeline[result.timeline["strategy"] == name].drop(columns="strategy")
        assert (
            json.loads(json.dumps(rows.to_dict(orient="records"), default=lambda v: v.item())) == strategy["timeline"]
        )
        measures, end = strategy["measures"], result.ends[name]
        mitigated = measures["mitigation_s"] is not None
        assert end.time_s == (measures["mitigation_s"] if mitigated and not persistent else measures["end_s"]), name
        assert end.why.startswith("mitigated" if mitigated and not persistent else "the horizon"), end
        assert rows["time_s"].max() <= end.time_s  # no row after the run's end
        if mitigated and not persistent:
            assert rows["event"].iloc[-1] == "mitigated" and rows["time_s"].iloc[-1] == end.time_s
        marks = rows[rows["event"].str.startswith(("detected by", "false alarm by"))]
        if measures["detection_s"] is not None:
            assert marks["event"].tolist() == [f"detected by {measures['caught_by']}"], name
        elif measures["outcome"] == "false_rollback":
            assert marks["event"].tolist() == [f"false alarm by {measures['alarm_by']}"], name
        else:
            assert marks.empty, name
    shown = invoke("run", *args).stdout
    for name, end in result.ends.items():
        assert f"ends {format_clock(end.time_s)}: {end.why}" in shown, name


# -- fuzz: every new option runs or is refused in one line ----------------------------------------------------

PATH_PARTS = ["traffic", "rate", "release", "defect", "harm", "strategies", "bigbang", "canary", "params", "bake",
              "0", "7", "steps", "relase", "parms", "", " ", "a\x00b", "x" * 120, "telemetry", "latency", "median",
              "horizon", "name", "population", "users", "segments", "share", "[/]", "-1"]  # fmt: skip
VALUES = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["10m", "1h30m", '"x"', "[0.1, 0.5]", "[", "{a = 1}", "true", "1e400", "nan", "9" * 5000, "", "\x00"]
    ),
    st.text(max_size=30),
)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SMALL_TOML with a 30-minute horizon."""
    return write(tmp_path_factory.mktemp("short"), SMALL_TOML.replace('"1h"', '"30m"'))


@pytest.mark.fuzz
@fuzz_settings(normal=40, long=1000)
@given(
    parts=st.lists(st.sampled_from(PATH_PARTS), min_size=1, max_size=5),
    value=VALUES,
    command=st.sampled_from(["compare", "run"]),
)
def test_any_set_runs_or_is_one_line(parts: list[str], value: str, command: str, short: str) -> None:
    result = RUNNER.invoke(cli, [command, short, "--set", f"{'.'.join(parts)}={value}", "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len(problems(result)) == 1, result.stderr
    else:
        assert json.loads(result.stdout)["strategies"]


CONDITION = st.tuples(
    st.sampled_from([*GOAL_MEASURES, "users_harmd", "x", ""]),
    st.sampled_from(["<=", "<", ">=", ">", "=", "==", ""]),
    st.one_of(st.floats().map(repr), st.sampled_from(["10m", "5%", "1h30m", "x", "-1", "150%", "1e400"])),
)
GOALS = st.lists(CONDITION, max_size=4).map(lambda conditions: ",".join(f"{n}{o}{v}" for n, o, v in conditions))


@pytest.mark.fuzz
@fuzz_settings(normal=300, long=10_000)
@given(text=st.one_of(st.text(max_size=60), GOALS))
def test_any_goal_text_is_conditions_or_one_line_error(text: str) -> None:
    try:
        conditions = parse_goal(text)
    except ScenarioError as error:
        assert len(str(error).splitlines()) == 1 and str(error).startswith("--goal")
        return
    for condition in conditions:
        assert condition.name in GOAL_MEASURES and math.isfinite(condition.limit) and condition.limit >= 0


@pytest.mark.fuzz
@fuzz_settings(normal=15, long=300)
@given(text=st.sampled_from(["users_harmed<=100", "ttd<=2m,detection>=0.5", "false_rollback<=0", "escaped>0.5",
                             "rollout_time<1s", "users_harmd<=1", "ttd<=soon"]) | st.text(max_size=20))  # fmt: skip
def test_any_goal_on_a_finished_sweep_answers_or_is_one_line(text: str, swept: tuple[str, Path]) -> None:
    result = goal(swept, text)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len(problems(result)) == 1, result.stderr
    else:
        assert "answer: " in result.stdout


@pytest.mark.fuzz
@fuzz_settings(normal=40, long=1000)
@given(value=st.one_of(VALUES, st.sampled_from(["600", "10m", "1h30m", "0.5", "366d", "-1m", "1s"])))
def test_any_every_runs_or_is_one_line(value: str, short: str) -> None:
    result = RUNNER.invoke(cli, ["run", short, "--every", value, "--json"])
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len(problems(result)) == 1, result.stderr
    else:
        rows = json.loads(result.stdout)["strategies"]["bigbang"]["timeline"]
        assert all(row["time_s"] <= 1800.0 for row in rows)


# Relative paths only, inside the test's folder: a fuzzed "/" would write at the root of the file system.
PARTS = st.sampled_from(["sub", "x.toml", "new", "", ".", "a b", "ü.toml", "\x00", "-", "~", "sub.toml", "x" * 300])
DESTINATIONS = st.tuples(st.lists(PARTS, min_size=1, max_size=3), st.booleans()).map(
    lambda parts: "./" + "/".join(parts[0]) + ("/" if parts[1] else "")
)


@pytest.mark.fuzz
@fuzz_settings(normal=40, long=1000)
@given(
    name=st.sampled_from(["default", "sweep", "defualt", "", "../default", "default.toml"]),
    dest=st.one_of(st.none(), DESTINATIONS),
    force=st.booleans(),
)
def test_any_copy_writes_one_whole_file_or_is_one_line(
    name: str, dest: str | None, force: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert dest is None or (not os.path.isabs(dest) and ".." not in Path(dest).parts)  # never outside the folder
    folder = tmp_path_factory.mktemp("copy")
    (folder / "sub").mkdir()
    args = ["scenario", "copy", name, *([] if dest is None else [dest]), *(["--force"] if force else [])]
    before = os.getcwd()
    os.chdir(folder)
    try:
        result = RUNNER.invoke(cli, args)
    finally:
        os.chdir(before)
    assert result.exit_code in (0, 2), result.output
    written = [p for p in folder.rglob("*") if p.is_file()]
    if result.exit_code == 2:
        assert len(problems(result)) == 1, result.stderr
        assert written == []
    else:
        assert len(written) == 1 and written[0].read_bytes() == bundled_scenarios()[name].read_bytes()


@pytest.mark.parametrize(
    ("value", "accepted"), [("30s", True), ("2.5", True), ("abc", False), ("2d", False), ("0", False)]
)
def test_the_plugin_budget_variable_takes_a_duration_and_a_bad_one_is_refused(
    value: str, accepted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    env = {**os.environ, "ROLLOUT_SIM_PLUGIN_TIMEOUT": value}
    done = subprocess.run(
        [sys.executable, "-m", "sim", "list", "watchers"], env=env, capture_output=True, text=True, check=False
    )
    if accepted:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 2 and done.stderr.startswith("rollout-sim: error: ROLLOUT_SIM_PLUGIN_TIMEOUT: ")
        assert len(done.stderr.strip().splitlines()) == 1
