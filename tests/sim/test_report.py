"""``rollout-sim report``: Markdown and self-contained HTML with charts, whose numbers are those of
``compare --json`` (run now or read back) and of a sweep's table; bad input is one line and exit code 2."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli import _Commands, cli
from sim.grid import Axis
from sim.measures import OUTCOMES
from sim.render import ROWS, frontier_table, goal_answer
from sim.report import report_command, sweep_data
from sim.report.sweeps import cli_text
from sim.report.words import value_text
from sim.sweeps import answer_goal, parse_goal, settings_table, sweep_frontier
from tests.generators import SWEEP_TOML

PNG = b"\x89PNG\r\n\x1a\n"
RUNNER = CliRunner()
REPLICATIONS = "8"
# The shared small sweep, smaller still: fewer users and replications keep the report tests quick.
TINY_SWEEP = (
    SWEEP_TOML.replace('name = "small"', 'name = "tiny"')
    .replace("replications = 64", "replications = 8")
    .replace("users = 10000", "users = 2000")
    .replace("rate = 100", "rate = 20")
)


def report(*args: str):
    return RUNNER.invoke(report_command, list(args), catch_exceptions=False)


class Page(HTMLParser):
    """The tables (``data-*`` attributes and text of every cell) and the images of a report.html."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict[str, str], list[tuple[dict[str, str], str]]]]] = {}
        self.images: list[str] = []
        self.figures: list[str] = []
        self._table: str | None = None
        self._cell: dict[str, str] | None = None
        self._text = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "table":
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append((attributes, []))
        elif tag in ("td", "th") and self._table is not None:
            self._cell, self._text = attributes, ""
        elif tag == "img":
            self.images.append(attributes["src"])
        elif tag == "figure":
            self.figures.append(attributes["id"])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1][1].append((self._cell, self._text))
            self._cell = None
        elif tag == "table":
            self._table = None


def rows_of(page: Page, table: str) -> list[tuple[dict[str, str], list[tuple[dict[str, str], str]]]]:
    """The body rows (the header row has no cells with ``td`` attributes and comes first)."""
    return page.tables[table][1:]


def read_page(folder: Path) -> Page:
    return Page((folder / "report.html").read_text(encoding="utf-8"))


def number(attributes: dict[str, str], key: str = "value") -> float | None:
    return float(attributes[f"data-{key}"]) if f"data-{key}" in attributes else None


def parsed_summary(page: Page) -> dict[tuple[str, str], dict[str, Any]]:
    """(measure, strategy) -> mean, ci95, median, p95, n as the HTML carries them."""
    found = {}
    for row, cells in rows_of(page, "summary"):
        values: dict[str, Any] = {}
        for attributes, _ in cells[2:]:
            field = attributes.get("data-field")
            if field == "ci95":
                values["ci95"] = (
                    [number(attributes, "low"), number(attributes, "high")] if "data-low" in attributes else None
                )
            elif field == "n":
                values["n"] = int(number(attributes))
            elif field is not None:
                values[field] = number(attributes)
        found[(row["data-measure"], row["data-strategy"])] = values
    return found


def parsed_outcomes(page: Page) -> dict[tuple[str, str], dict[str, float | None]]:
    """(measure, strategy) -> value / count / share as the HTML carries them."""
    found = {}
    for row, cells in rows_of(page, "outcomes"):
        for attributes, _ in cells[1:]:
            found[(row["data-measure"], attributes["data-strategy"])] = {
                key: number(attributes, key) for key in ("value", "count", "share")
            }
    return found


def check_against_document(page: Page, document: dict[str, Any]) -> None:
    """Every number of the HTML tables is the document's, exactly."""
    summary = parsed_summary(page)
    strategies = document["strategies"]
    assert {name for _, name in summary} == set(strategies)
    for metric, _, _ in ROWS:
        for name, strategy in strategies.items():
            expected = strategy[metric]
            shown = summary[(metric, name)]
            assert shown["n"] == expected["n"]
            if expected["n"] == 0:
                continue
            for key in ("mean", "median", "p95"):
                assert shown[key] == expected[key], (metric, name, key)
            assert shown["ci95"] == expected["ci95"]
    outcomes = parsed_outcomes(page)
    for name, strategy in strategies.items():
        assert outcomes[("detection_rate", name)]["value"] == strategy["detection_rate"]
        assert outcomes[("false_rollback_rate", name)]["value"] == strategy["false_rollback_rate"]
        for outcome in OUTCOMES:
            cell = outcomes[(f"outcome:{outcome}", name)]
            assert cell["count"] == strategy["outcomes"][outcome]
            assert cell["share"] == strategy["outcome_shares"][outcome]
        assert outcomes[("caught_late", name)]["count"] == strategy["caught_late"]
        for detector, count in strategy["caught_by"].items():
            cell = outcomes[(f"caught_by:{detector}", name)]
            assert cell["count"] == count and cell["share"] == strategy["caught_by_shares"][detector]


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def displayed(text: str) -> tuple[float, float]:
    """A number as the tables show it, and half a unit of its last digit (its rounding)."""
    text = text.replace(",", "").strip()
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1], 0.01
    elif text[-1] in _UNITS:
        text, scale = text[:-1], _UNITS[text[-1]]
    decimals = len(text.split(".")[1]) if "." in text else 0
    return float(text) * scale, 0.5 * 10**-decimals * scale * (1 + 1e-9)


def markdown_table(markdown: str, section: str) -> list[list[str]]:
    """The cells of the first table after ``## section``, with Markdown escapes removed."""
    lines = markdown.split(f"## {section}\n", 1)[1].splitlines()
    end = next((i for i, line in enumerate(lines) if line.startswith("|")), 0)
    rows = []
    for line in lines[end:]:
        if not line.startswith("|"):
            break
        rows.append([re.sub(r"\\(.)", r"\1", cell.strip()) for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows[2:]  # without the header and the alignment row


def check_markdown_against_document(markdown: str, document: dict[str, Any]) -> None:
    labels = {label: metric for metric, label, _ in ROWS}
    rows = markdown_table(markdown, "Summary")
    assert len(rows) == len(ROWS) * len(document["strategies"])
    for label, name, mean, ci, median, p95, n in rows:
        expected = document["strategies"][name][labels[label]]
        assert int(n) == expected["n"]
        if expected["n"] == 0:
            assert mean == median == p95 == "-"
            continue
        for text, value in ((mean, expected["mean"]), (median, expected["median"]), (p95, expected["p95"])):
            shown, tolerance = displayed(text)
            assert abs(shown - value) <= tolerance, (label, name, text, value)
        if expected["ci95"] is not None:
            low, high = ci.strip("[]").split(", ")
            for text, value in ((low, expected["ci95"][0]), (high, expected["ci95"][1])):
                shown, tolerance = displayed(text)
                assert abs(shown - value) <= tolerance, (label, name, text, value)


@pytest.fixture(scope="module")
def default_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """``report default`` run now, and the ``compare --json`` document of the same seed and replications."""
    out = tmp_path_factory.mktemp("reports")
    result = report("default", "-n", REPLICATIONS, "--seed", "7", "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    compared = RUNNER.invoke(cli, ["compare", "default", "-n", REPLICATIONS, "--seed", "7", "--json"])
    assert compared.exit_code == 0, compared.output
    return out, json.loads(compared.stdout)


def test_default_report_writes_markdown_and_html_with_every_chart_embedded(default_report) -> None:
    out, _ = default_report
    folder = out / "default"
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
    page = read_page(folder)
    charts = sorted(path.name for path in folder.glob("*.png"))
    assert charts == ["outcomes.png", "time-to-detect.png", "users-harmed.png"]
    assert sorted(page.figures) == sorted(f"chart-{name.removesuffix('.png')}" for name in charts)
    assert len(page.images) == len(charts)
    embedded = []
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        embedded.append(base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True))
    assert all(png.startswith(PNG) for png in embedded)
    assert sorted(embedded) == sorted((folder / name).read_bytes() for name in charts)  # the same images
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    for name in charts:
        assert f"]({name})" in markdown
    assert "http" not in (folder / "report.html").read_text(encoding="utf-8")  # nothing fetched from elsewhere


def test_default_report_numbers_are_those_of_compare_json(default_report) -> None:
    out, document = default_report
    folder = out / "default"
    check_against_document(read_page(folder), document)
    check_markdown_against_document((folder / "report.md").read_text(encoding="utf-8"), document)
    saved = json.loads((folder / "comparison.json").read_text())
    assert saved["strategies"] == document["strategies"]


def test_default_report_describes_the_scenario_and_how_to_reproduce_it(default_report) -> None:
    out, _ = default_report
    markdown = (out / "default" / "report.md").read_text(encoding="utf-8")
    scenario = markdown.split("## Scenario", 1)[1].split("## Summary", 1)[0]
    for words in ("1,000,000 users", "2,000 requests per second", "probability 5%", "service alert", "flag-canary"):
        assert words in scenario
    reproduce = markdown.split("## Reproduce", 1)[1]
    assert "rollout-sim compare default --seed 7 -n 8 --json" in reproduce
    assert "rollout-sim report default --seed 7 -n 8" in reproduce
    for name in ("rollout-sim", "Python", "numpy", "pandas", "matplotlib"):
        assert f"| {name}" in reproduce


def test_report_from_a_saved_json_document_has_the_same_numbers(default_report, tmp_path: Path) -> None:
    out, document = default_report
    saved = tmp_path / "default.json"
    saved.write_text(json.dumps(document, sort_keys=True))
    result = report("--from", str(saved), "--name", "again", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = read_page(out / "again")
    check_against_document(page, document)
    assert parsed_summary(page) == parsed_summary(read_page(out / "default"))
    assert parsed_outcomes(page) == parsed_outcomes(read_page(out / "default"))
    assert len(page.images) == 3
    markdown = (out / "again" / "report.md").read_text(encoding="utf-8")
    check_markdown_against_document(markdown, document)
    assert "rollout-sim compare default --seed 7 -n 8 --json" in markdown
    # The bundled scenario of that name describes it, with the scenario's strategy order back.
    assert [name for _, name in list(parsed_summary(page))[:3]] == ["bigbang", "canary", "flag-canary"]


def test_a_report_read_back_is_the_same_bytes(default_report, tmp_path: Path) -> None:
    out, _ = default_report
    for name in ("one", "two"):
        assert report("--from", str(out / "default"), "--name", name, "--out", str(tmp_path)).exit_code == 0
    for chart in ("users-harmed.png", "time-to-detect.png", "outcomes.png"):
        assert (tmp_path / "one" / chart).read_bytes() == (tmp_path / "two" / chart).read_bytes()


def test_a_second_report_of_the_same_name_replaces_the_first_whole(default_report, tmp_path: Path) -> None:
    out, _ = default_report
    assert report("--from", str(out / "default"), "--out", str(tmp_path)).exit_code == 0
    (tmp_path / "default" / "stale.txt").write_text("from before")
    result = report("--from", str(out / "default"), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "default" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default"]  # no temporary folder left


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    scenario = out / "tiny.toml"
    scenario.write_text(TINY_SWEEP)
    result = report(str(scenario), "--sweep", "-n", REPLICATIONS, "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


TINY_AXES = [Axis("strategies.canary.steps.0", ()), Axis("release.defect.harm", ())]
GOAL = "users_harmed<=100,false_rollback<=0.05"


def parsed_frontier(page: Page) -> list[dict[str, Any]]:
    """The frontier as the HTML carries it: number, setting, each world axis (its text) and each measure (exact)."""
    found = []
    for row, cells in rows_of(page, "frontier"):
        entry: dict[str, Any] = {"number": int(row["data-number"]), "setting": row["data-setting"]}
        for attributes, text in cells:
            if "data-axis" in attributes:
                entry[attributes["data-axis"]] = text
            elif "data-measure" in attributes:
                entry[attributes["data-measure"]] = number(attributes)
        found.append(entry)
    return found


def check_frontier(page: Page, table: pd.DataFrame, axes: list[Axis]) -> pd.DataFrame:
    """The report's frontier is sim.sweeps.sweep_frontier of the same table: the same rows in the same order,
    the same world, setting and exact means (completed shown when some setting on it did not finish)."""
    expected = sweep_frontier(table, axes)
    shown = parsed_frontier(page)
    assert [row["setting"] for row in shown] == list(expected["setting"])
    assert [row["number"] for row in shown] == list(range(1, len(expected) + 1))
    partial = bool((expected["completed"].dropna() < 1.0).any())
    worlds = [axis.path for axis in axes if not axis.is_strategy]
    for row, want in zip(shown, expected.to_dict(orient="records"), strict=True):
        for path in worlds:
            assert row[path] == value_text(want[path])
        for name in ("rollout_time", "users_harmed", "false_rollback", *(["completed"] if partial else [])):
            assert row[name] == want[name], (row["setting"], name)
        assert ("completed" in row) == partial
    return expected


def test_sweep_report_has_the_tradeoff_chart_and_marks_the_frontier(sweep_report: Path) -> None:
    out = sweep_report
    folder = out / "tiny-sweep"
    page = read_page(folder)
    assert "chart-tradeoff" in page.figures
    assert len(page.images) == len(list(folder.glob("*.png"))) == 4
    table = pd.read_parquet(out / "tiny-sweep.parquet")  # what `rollout-sim sweep` wrote, beside the report
    frontier = check_frontier(page, table, TINY_AXES)
    candidates = sweep_data(table, [axis.path for axis in TINY_AXES]).candidates
    numbered = candidates[candidates["frontier"] > 0].sort_values("frontier")
    assert list(numbered["setting"]) == list(frontier["setting"])
    html = (folder / "report.html").read_text(encoding="utf-8")
    caption = html.split('id="chart-tradeoff"', 1)[1].split("</figcaption>", 1)[0]
    for index, setting in enumerate(frontier["setting"], start=1):
        assert f"{index}: {setting}" in caption  # the chart numbers the frontier's points as its table
    assert "False rollbacks" in caption and "third objective" in caption
    assert "counted as the horizon" in caption
    # The summary: every grid point x strategy, with the sweep table's means; rollout time counts the horizon.
    summary = rows_of(page, "sweep-summary")
    assert len(summary) == table["point"].nunique() * 2
    expected: dict[str, dict[tuple[int, str], float]] = {}
    for release, measure in (("defective", "blast_radius_users"), ("healthy", "rollout_time_s")):
        rows = table[(table["release"] == release) & (table["measure"] == measure)]
        means = zip(rows["point"], rows["strategy"], rows["mean"], strict=True)
        expected[measure] = {(int(p), s): m for p, s, m in means}
    for row, cells in summary:
        shown = {c[0]["data-measure"]: number(c[0]) for c in cells if "data-measure" in c[0]}
        for measure, means in expected.items():
            assert shown[measure] == means[(int(row["data-point"]), row["data-strategy"])]
        assert "rollout_duration_s" not in shown


def cli_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def cli_frontier(stdout: str) -> list[list[str]]:
    """The rows of the frontier ``rollout-sim sweep`` printed, cell by cell."""
    lines = cli_lines(stdout)
    start = next(i for i, line in enumerate(lines) if "Pareto frontier: no other setting" in line)
    rule = next(i for i in range(start, len(lines)) if "───" in lines[i])
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def test_sweep_report_frontier_and_goal_are_what_rollout_sim_sweep_prints(sweep_report: Path) -> None:
    out = sweep_report
    scenario = str(out / "tiny.toml")
    printed = RUNNER.invoke(
        cli, ["sweep", scenario, "-n", REPLICATIONS, "--workers", "1", "--out", str(out), "--goal", GOAL],
        env={"COLUMNS": "100"},
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    # Run now with --goal (the saved items are read), and read back from the table with --goal.
    now = report(scenario, "--sweep", "--goal", GOAL, "-n", REPLICATIONS, "--workers", "1", "--name", "goal",
                 "--out", str(out))  # fmt: skip
    assert now.exit_code == 0, now.output
    read = report(scenario, "--from", str(out / "tiny-sweep.parquet"), "--goal", GOAL, "--name", "goal-read",
                  "--out", str(out))  # fmt: skip
    assert read.exit_code == 0, read.output
    table = pd.read_parquet(out / "tiny-sweep.parquet")
    answer = answer_goal(table, TINY_AXES, parse_goal(GOAL))
    for name in ("goal", "goal-read"):
        markdown = (out / name / "report.md").read_text(encoding="utf-8")
        frontier = [row[1:] for row in markdown_table(markdown, "Pareto frontier")]  # without the number
        assert frontier == cli_frontier(printed.stdout)
        check_frontier(read_page(out / name), table, TINY_AXES)
        goal = markdown.split("## Goal\n", 1)[1].split("## Summary", 1)[0]
        assert f"The answer is {answer.best.setting}." in goal
        block = goal.split("```\n", 1)[1].split("\n```", 1)[0].splitlines()
        assert block == cli_text(goal_answer(answer)).splitlines()
        lines = cli_lines(printed.stdout)
        first = lines.index(block[0])
        assert lines[first : first + len(block)] == block  # as the command line printed it
        reproduce = markdown.split("## Reproduce", 1)[1]
        assert f"--goal '{GOAL}'" in reproduce
    html = (out / "goal" / "report.html").read_text(encoding="utf-8")
    caption = html.split('id="chart-tradeoff"', 1)[1].split("</figcaption>", 1)[0]
    assert f"Starred: {answer.best.setting}, the goal&#x27;s answer." in caption
    assert (out / "goal" / "tradeoff.png").read_bytes() == (out / "goal-read" / "tradeoff.png").read_bytes()


def tidy(settings: dict[str, dict[str, Any]], worlds: tuple[float, ...] = (0.01,)) -> pd.DataFrame:
    """A sweep table (as ``rollout-sim sweep`` writes it) from ``{strategy: {measure: mean}}``, one grid point per
    world; a measure of the healthy release is named ``healthy:MEASURE``, a tuple gives a mean per world."""
    rows = []
    for point, harm in enumerate(worlds):
        for strategy, measures in settings.items():
            for key, mean in measures.items():
                release, _, measure = key.rpartition(":")
                rows.append(
                    {"point": point, "release.defect.harm": harm, "release": release or "defective",
                     "strategy": strategy, "measure": measure, "mean": mean[point] if isinstance(mean, tuple) else mean,
                     "median": None, "p95": None, "ci_low": None, "ci_high": None, "n": 100}
                )  # fmt: skip
    return pd.DataFrame(rows)


def setting(rollout: Any, harmed: Any, false_rollback: Any = 0.0, measure: str = "rollout_time_s") -> dict[str, Any]:
    completed = tuple(1.0 - f for f in false_rollback) if isinstance(false_rollback, tuple) else 1.0 - false_rollback
    return {
        f"healthy:{measure}": rollout,
        "healthy:outcome_false_rollback": false_rollback,
        "healthy:outcome_completed": completed,
        "blast_radius_users": harmed,
    }


HARM = Axis("release.defect.harm", ())


def report_of_table(table: pd.DataFrame, folder: Path, name: str, *args: str) -> tuple[Page, str]:
    saved = folder / "synthetic-sweep.csv"
    table.to_csv(saved, index=False)
    result = report("--from", str(saved), "--name", name, "--out", str(folder), *args)
    assert result.exit_code == 0, result.output
    return read_page(folder / name), (folder / name / "report.md").read_text(encoding="utf-8")


def test_a_setting_with_many_false_rollbacks_is_kept_or_dropped_as_rollout_sim_sweep_does(tmp_path: Path) -> None:
    table = tidy(
        {
            "careful": setting(1800.0, 100.0),
            # Finishes its healthy runs in 10 minutes but rolls back half of them, which count as the horizon: in
            # the first world it buys nothing for it (dropped); in the second it harms fewer users (kept).
            "jumpy": setting(0.5 * 600 + 0.5 * 14400, (100.0, 50.0), false_rollback=0.5),
            "fast": setting(0.0, 5000.0),
            "nervous": setting(900.0, 100.0, false_rollback=0.2),  # faster than careful: kept, it trades
        },
        worlds=(0.01, 0.05),
    )
    page, markdown = report_of_table(table, tmp_path, "synthetic", "--goal", "false_rollback<=0.1")
    frontier = check_frontier(page, pd.read_csv(tmp_path / "synthetic-sweep.csv"), [HARM])
    assert list(zip(frontier["release.defect.harm"], frontier["setting"], strict=True)) == [
        (0.01, "fast"), (0.01, "nervous"), (0.01, "careful"),
        (0.05, "fast"), (0.05, "nervous"), (0.05, "careful"), (0.05, "jumpy"),
    ]  # fmt: skip
    shown = parsed_frontier(page)
    assert [row["false_rollback"] for row in shown if row["setting"] == "jumpy"] == [0.5]
    assert [row["completed"] for row in shown if row["setting"] == "nervous"] == [0.8, 0.8]
    # Every setting is on the chart, ringed or not (jumpy of the first world too), numbered as in the table.
    candidates = sweep_data(table, [HARM.path]).candidates
    assert len(candidates) == len(settings_table(table, [HARM])) == 8
    numbered = candidates[candidates["frontier"] > 0].sort_values("frontier")
    assert list(numbered["setting"]) == list(frontier["setting"]) and list(numbered["frontier"]) == list(range(1, 8))
    headers = markdown.split("## Pareto frontier\n", 1)[1].split("\n")[1]
    assert "completed" in headers and "false rollbacks" in headers  # as sweep shows it when some did not finish
    goal = markdown.split("## Goal\n", 1)[1].split("## Summary", 1)[0]
    assert "The answer is fast." in goal and "answer: fast" in goal


def test_a_table_saved_before_rollout_time_s_gives_the_frontier_rollout_sim_sweep_gives(tmp_path: Path) -> None:
    # Only rollout_duration_s, over the finished runs: sim.sweeps reads it as the rollout time, and so does the
    # report; jumpy is then fast (10 minutes) and kept for its speed, though it rolls back half its releases.
    table = tidy(
        {
            "careful": setting(1800.0, 100.0, measure="rollout_duration_s"),
            "jumpy": setting(600.0, 100.0, false_rollback=0.5, measure="rollout_duration_s"),
            "fast": setting(0.0, 5000.0, measure="rollout_duration_s"),
        }
    )
    assert not (table["measure"] == "rollout_time_s").any()
    page, markdown = report_of_table(table, tmp_path, "legacy")
    frontier = check_frontier(page, pd.read_csv(tmp_path / "synthetic-sweep.csv"), [HARM])
    assert list(frontier["setting"]) == ["fast", "jumpy", "careful"]
    assert "over the finished runs only" in markdown.split("## Pareto frontier", 1)[1].split("## Summary", 1)[0]
    summary = {
        row["data-strategy"]: {c[0]["data-measure"]: number(c[0]) for c in cells if "data-measure" in c[0]}
        for row, cells in rows_of(page, "sweep-summary")
    }
    assert summary["jumpy"]["rollout_duration_s"] == 600.0 and summary["jumpy"]["outcome_completed"] == 0.5


def test_a_goal_on_the_defect_of_a_healthy_sweep_table_is_refused(tmp_path: Path) -> None:
    saved = tmp_path / "healthy-sweep.csv"
    tidy({"careful": {"healthy:rollout_time_s": 600.0, "healthy:outcome_false_rollback": 0.0}}).to_csv(
        saved, index=False
    )
    result = RUNNER.invoke(report_command, ["--from", str(saved), "--goal", GOAL, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        "rollout-sim: error: --goal users_harmed<=100: the release is healthy at every grid point of this sweep, so "
        "there is no defective release to measure"
    ]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    # A goal on the healthy release alone is answered.
    result = report("--from", str(saved), "--goal", "false_rollback<=0.05", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "answer: careful" in (tmp_path / "out" / "healthy-sweep" / "report.md").read_text(encoding="utf-8")


def test_a_sweep_report_is_the_same_bytes_when_made_again(tmp_path: Path) -> None:
    table = tidy({"careful": setting(1800.0, 100.0), "nervous": setting(900.0, 100.0, false_rollback=0.2)})
    for name in ("one", "two"):
        report_of_table(table, tmp_path, name, "--goal", "users_harmed<=200")
    for file in ("tradeoff.png", "users-harmed.png", "outcomes.png"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    one, two = ((tmp_path / name / "report.html").read_text().split("<h2>Reproduce</h2>")[0] for name in ("one", "two"))
    assert one == two


def test_the_report_frontier_is_the_one_the_command_line_prints_for_the_same_table(tmp_path: Path) -> None:
    table = tidy(
        {"careful": setting(1800.0, 100.0), "nervous": setting(900.0, 100.0, false_rollback=0.2)}, worlds=(0.01, 0.1)
    )
    _, markdown = report_of_table(table, tmp_path, "cells")
    read = pd.read_csv(tmp_path / "synthetic-sweep.csv")
    printed = frontier_table(sweep_frontier(read, [HARM]), [HARM.path])
    columns = [column._cells for column in printed.columns]
    assert [row[1:] for row in markdown_table(markdown, "Pareto frontier")] == [
        list(cells) for cells in zip(*columns, strict=True)
    ]


def test_sweep_report_from_its_table_is_checked_against_the_saved_sweep(sweep_report: Path) -> None:
    out = sweep_report
    result = report(
        str(out / "tiny.toml"), "--from", str(out / "tiny-sweep.parquet"), "--name", "read", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    markdown = (out / "read" / "report.md").read_text(encoding="utf-8")
    assert "Checked:" in markdown and "seed 3" in markdown
    assert f"rollout-sim sweep {out / 'tiny.toml'} --seed 3 -n 8" in markdown
    assert rows_of(read_page(out / "read"), "frontier") == rows_of(read_page(out / "tiny-sweep"), "frontier")
    csv = report(str(out / "tiny.toml"), "--from", str(out / "tiny-sweep.csv"), "--name", "csv", "--out", str(out))
    assert csv.exit_code == 0, csv.output
    assert "chart-tradeoff" in read_page(out / "csv").figures


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    not_json = tmp_path / "broken.json"
    not_json.write_text("{ nope")
    run_document = tmp_path / "run.json"
    run_document.write_text(json.dumps({"schema": "rollout-sim/run/v2", "strategies": {}}))
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps({"schema": "rollout-sim/compare/v1", "scenario": "default", "seed": 1}))
    not_a_table = tmp_path / "x-sweep.csv"
    not_a_table.write_text("a,b\n1,2\n")
    a_file = tmp_path / "file"
    a_file.write_text("")
    occupied = tmp_path / "out" / "mine"
    occupied.mkdir(parents=True)
    (occupied / "notes.txt").write_text("mine")
    out = str(tmp_path / "out")
    return {
        "unknown scenario": (["nope", "--out", out], "nope: no such file, and no bundled scenario"),
        "missing --from": (["--from", str(tmp_path / "gone.json"), "--out", out], "gone.json: no such file"),
        "--from not JSON": (["--from", str(not_json), "--out", out], "broken.json: not JSON"),
        "--from a run document": (["--from", str(run_document), "--out", out], "schema 'rollout-sim/run/v2'"),
        "--from an incomplete document": (["--from", str(truncated), "--out", out], "truncated.json: replications:"),
        "--from not a sweep table": (["--from", str(not_a_table), "--out", out], "no column point"),
        "--from with -n": (["--from", str(truncated), "-n", "3", "--out", out], "leave out -n"),
        "--out under a file": (["--out", str(a_file / "reports")], f"--out {a_file / 'reports'}: cannot write there"),
        "--name a path": (["--name", "a/b", "--out", out], "--name 'a/b'"),
        "--name of a folder not a report": (["--name", "mine", "--out", out], "is not a report folder"),
        "--sweep without a grid": (["default", "--sweep", "--out", out], "no grid"),
        "--goal without a sweep": (["default", "--goal", GOAL, "--out", out], "--goal asks which setting of a sweep"),
        "--goal malformed": (["--sweep", "--goal", "users_harmed=5", "--out", out], "use <=, <, >= or >, not ="),
        "--goal on a comparison": (["--from", str(truncated), "--goal", GOAL, "--out", out], "is a comparison; a goal"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown scenario",
        "missing --from",
        "--from not JSON",
        "--from a run document",
        "--from an incomplete document",
        "--from not a sweep table",
        "--from with -n",
        "--out under a file",
        "--name a path",
        "--name of a folder not a report",
        "--sweep without a grid",
        "--goal without a sweep",
        "--goal malformed",
        "--goal on a comparison",
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    args, expected = _bad_inputs(tmp_path)[case]
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    result = RUNNER.invoke(report_command, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rollout-sim: error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before  # no report, no temporary folder


def test_usage_errors_through_the_command_group_are_one_line() -> None:
    group = _Commands(commands={"report": report_command})
    result = RUNNER.invoke(group, ["report", "-n", "0"], prog_name="rollout-sim")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rollout-sim: error: rollout-sim report: ") and "-n" in lines[0]


def test_a_failed_write_leaves_the_earlier_report_and_no_partial_folder(
    default_report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = default_report
    assert report("--from", str(out / "default"), "--out", str(tmp_path)).exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "default").iterdir()}
    import sim.report.folder

    real = sim.report.folder.os.replace

    def failing(source: Any, target: Any) -> None:
        if ".default.new-" in str(source):  # the finished folder cannot be moved into place
            raise OSError(28, "No space left on device")
        real(source, target)

    monkeypatch.setattr(sim.report.folder.os, "replace", failing)
    result = RUNNER.invoke(report_command, ["--from", str(out / "default"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"rollout-sim: error: --out {tmp_path}: cannot write {tmp_path / 'default'}: No space left on device"
    )
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "default").iterdir()} == before


def test_matplotlib_is_imported_only_to_draw_and_the_command_line_only_to_run() -> None:
    code = "import sys, sim.report; print('matplotlib' in sys.modules, 'sim.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"
    code = "import sys, sim.cli, sim.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
