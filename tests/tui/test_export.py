"""Exporting a result of the terminal UI: the ``compare --json`` document, a CSV of the summaries, a summary
in Markdown; all or nothing."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
import sim.tui.export as export_module
from sim.cli import cli
from sim.results import METRICS
from sim.tui.export import export, folder_name
from sim.tui.session import Result, Session

NOW = datetime(2026, 11, 28, 9, 30, 5)


@pytest.fixture(scope="module")
def session() -> Session:
    session = Session.with_files()
    assert session.open("default")
    session.turn({"replications": 64})
    return session


@pytest.fixture(scope="module")
def result(session: Session) -> Result:
    return session.add_result(sim.compare(session.effective()))


@pytest.fixture(scope="module")
def as_loaded() -> Result:
    session = Session.with_files()
    assert session.open("healthy")
    return session.add_result(sim.compare(session.effective(), replications=64))


def test_the_folder_holds_the_three_files_and_nothing_else(tmp_path: Path, result: Result) -> None:
    folder = export(result, tmp_path / "reports", now=NOW)
    assert folder == tmp_path / "reports" / "default-20261128-093005"
    assert sorted(p.name for p in folder.iterdir()) == ["comparison.csv", "comparison.json", "summary.md"]
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [folder.name]  # no staging folder left


def test_the_json_is_the_document_of_compare_json(tmp_path: Path, result: Result) -> None:
    folder = export(result, tmp_path, now=NOW)
    text = (folder / "comparison.json").read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(result.comparison.to_dict()))
    printed = CliRunner().invoke(cli, ["compare", "default", "--replications", "64", "--json"])
    assert printed.exit_code == 0, printed.output
    assert text == printed.stdout  # byte for byte what the command line prints


def test_the_csv_has_a_row_per_strategy_and_measure(tmp_path: Path, result: Result) -> None:
    folder = export(result, tmp_path, now=NOW)
    with open(folder / "comparison.csv", encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    assert list(rows[0]) == ["strategy", "measure", "mean", "ci95_low", "ci95_high", "median", "p95", "n"]
    summaries = result.comparison.summaries
    assert [(r["strategy"], r["measure"]) for r in rows] == [(s, m) for s in summaries for m in METRICS]
    for row in rows:
        metric = summaries[row["strategy"]].metrics[row["measure"]]
        assert int(row["n"]) == metric.n
        for column, value in (("mean", metric.mean), ("median", metric.median), ("p95", metric.p95)):
            assert (row[column] == "") if value is None else math.isclose(float(row[column]), value, rel_tol=1e-15)
        if metric.ci95 is None:
            assert row["ci95_low"] == row["ci95_high"] == ""
        else:
            assert (float(row["ci95_low"]), float(row["ci95_high"])) == metric.ci95
    canary = next(r for r in rows if r["strategy"] == "canary" and r["measure"] == "rollout_duration_s")
    assert canary["mean"] == "" and canary["n"] == "0"  # never completed: no value, not a made-up one


def test_the_summary_says_what_was_run_and_how_to_run_it_again(tmp_path: Path, result: Result) -> None:
    summary = (export(result, tmp_path, now=NOW) / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# default: 64 replications\n")
    for line in ("- seed: 20261128", "- replications: 64", "- knobs: replications=64", "- release: defective"):
        assert line in summary
    assert "| measure | bigbang | canary | flag-canary |" in summary
    assert "| outcome | bigbang | canary | flag-canary |" in summary
    assert "| rolled_back | 100.0% | 100.0% | 100.0% |" in summary
    users = result.comparison.summaries["bigbang"].metrics["blast_radius_users"]
    assert f"| users harmed | {users.mean:,.0f} ± " in summary
    assert "rollout-sim compare default --seed 20261128 --replications 64\n" in summary
    assert "Knobs were applied in the terminal UI (replications=64)" in summary


def test_a_result_as_loaded_needs_no_knobs_note_and_names_its_source(tmp_path: Path, as_loaded: Result) -> None:
    assert as_loaded.label == "as loaded"
    summary = (export(as_loaded, tmp_path, source="my scenarios/healthy.toml", now=NOW) / "summary.md").read_text(
        encoding="utf-8"
    )
    seed = as_loaded.comparison.seed
    assert f"rollout-sim compare 'my scenarios/healthy.toml' --seed {seed} --replications 64\n" in summary
    assert "Knobs were applied" not in summary
    assert "- release: healthy (no defect)" in summary


def test_two_exports_in_the_same_second_get_two_folders(tmp_path: Path, result: Result) -> None:
    first, second = export(result, tmp_path, now=NOW), export(result, tmp_path, now=NOW)
    assert (first.name, second.name) == ("default-20261128-093005", "default-20261128-093005-2")


def test_an_unwritable_directory_raises_oserror_and_leaves_nothing(tmp_path: Path, result: Result) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n", encoding="utf-8")
    with pytest.raises(OSError):
        export(result, blocker / "reports", now=NOW)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_a_failure_while_writing_leaves_no_half_written_folder(
    tmp_path: Path, result: Result, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_rename", fail)
    with pytest.raises(OSError, match="No space left"):
        export(result, tmp_path, now=NOW)
    assert list(tmp_path.iterdir()) == []


def test_folder_names_are_safe_and_drop_the_knobs_mark() -> None:
    assert folder_name("default (knobs) (knobs)") == "default"
    assert folder_name("../my scenario: v2") == "my-scenario-v2"
    assert folder_name("///") == "scenario"
