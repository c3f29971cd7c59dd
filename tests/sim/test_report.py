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
from sim.pareto import pareto_frontier
from sim.render import ROWS
from sim.report import report_command

PNG = b"\x89PNG\r\n\x1a\n"
RUNNER = CliRunner()
REPLICATIONS = "8"
TINY_SWEEP = """
name = "tiny"
horizon = "40m"
seed = 3
replications = 8
[population]
users = 2000
[traffic]
rate = 20
[release.defect]
harm = 0.05
[detection.analysis]
min_requests = 20
[[strategies]]
name = "bigbang"
[[strategies]]
name = "canary"
params = { steps = [0.05, 0.5], bake = "5m" }
[sweep]
grid = { "strategies.canary.steps.0" = [0.05, 0.2], "release.defect.harm" = [0.02, 0.1] }
"""


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


def test_sweep_report_has_the_tradeoff_chart_and_marks_the_frontier(sweep_report: Path) -> None:
    out = sweep_report
    folder = out / "tiny-sweep"
    page = read_page(folder)
    assert "chart-tradeoff" in page.figures
    assert len(page.images) == len(list(folder.glob("*.png"))) == 4
    table = pd.read_parquet(out / "tiny-sweep.parquet")  # what `rollout-sim sweep` wrote, beside the report
    frontier = pareto_frontier(table, [Axis("strategies.canary.steps.0", ()), Axis("release.defect.harm", ())])
    rows = rows_of(page, "frontier")
    assert [row["data-setting"] for row, _ in rows] == list(frontier["setting"])
    assert [row["data-number"] for row, _ in rows] == [str(i) for i in range(1, len(frontier) + 1)]
    for (_, cells), expected in zip(rows, frontier.itertuples(), strict=True):
        assert number(cells[-2][0]) == expected.duration_s and number(cells[-1][0]) == expected.blast_radius_users
    html = (folder / "report.html").read_text(encoding="utf-8")
    caption = html.split('id="chart-tradeoff"', 1)[1].split("</figcaption>", 1)[0]
    for index, setting in enumerate(frontier["setting"], start=1):
        assert f"{index}: {setting}" in caption  # the chart numbers the frontier's points as its table
    # The summary: every grid point x strategy, with the sweep table's means.
    summary = rows_of(page, "sweep-summary")
    assert len(summary) == table["point"].nunique() * 2
    harmed = table[(table["release"] == "defective") & (table["measure"] == "blast_radius_users")]
    expected = {(int(p), s): m for p, s, m in zip(harmed["point"], harmed["strategy"], harmed["mean"], strict=True)}
    for row, cells in summary:
        shown = {c[0]["data-measure"]: number(c[0]) for c in cells if "data-measure" in c[0]}
        assert shown["blast_radius_users"] == expected[(int(row["data-point"]), row["data-strategy"])]


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
