"""The results screen: the comparison runs in a worker, shows the numbers of ``rollout-sim compare`` and
charts, can be cancelled (no worker process left), exported, re-run beside the previous result."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import ProgressBar, Static
from textual_plotext.plot import Plot

import sim
from sim.executors import LocalExecutor
from sim.render import comparison_table, outcome_table
from sim.tui.app import RolloutApp
from sim.tui.charts import (
    HARMLESS,
    UNDETECTED,
    Axis,
    ChartPanel,
    comparison_charts,
    count_label,
    draw_outcomes,
    draw_ridges,
    draw_tradeoff,
    duration_label,
    not_detected,
    ridges,
    strategy_values,
    tradeoff_points,
)
from sim.tui.results_screen import ResultsScreen
from sim.tui.scenarios_screen import ScenariosScreen
from tests.tui.driving import drive, until

MISBEHAVING = Path(__file__).parents[1] / "plugins" / "misbehaving.py"


async def compare_on_screen(pilot: Pilot, name: str = "default", replications: int = 64) -> ResultsScreen:
    """Open a scenario, turn its replications, compare; returns the results screen once it has finished."""
    app = pilot.app
    assert app.session.open(name), app.session.error
    app.session.turn({"replications": replications})
    app.action_compare()
    await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
    screen = app.screen
    assert isinstance(screen, ResultsScreen)
    await until(pilot, lambda: screen.state not in ("running", "cancelling"))
    await pilot.pause()
    return screen


def table_text(renderable: Any, width: int = 120) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def static(screen: ResultsScreen, selector: str) -> Static:
    return screen.query_one(selector, Static)


def plain(screen: ResultsScreen, selector: str) -> str:
    return str(static(screen, selector).render())


_EARLIER: set[int] = set()


@pytest.fixture(autouse=True)
def _children_of_earlier_tests() -> None:
    """Processes other tests left (a pool winding down, a cluster) are not this test's."""
    _EARLIER.clear()
    _EARLIER.update(child.pid for child in psutil.Process().children(recursive=True))


def children() -> list[psutil.Process]:
    """Child processes started since this test began."""
    return [child for child in psutil.Process().children(recursive=True) if child.pid not in _EARLIER]


# -- the results ------------------------------------------------------------------------------------


def test_results_show_the_numbers_of_compare_for_the_same_scenario() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        screen = await compare_on_screen(pilot)
        assert screen.state == "done" and screen.result is not None
        assert app.session.results == [screen.result]
        direct = sim.compare(app.session.effective())
        shown = screen.result.comparison
        assert shown.to_dict() == direct.to_dict()
        pd.testing.assert_frame_equal(shown.runs, direct.runs)
        # The very tables ``rollout-sim compare`` prints, cell for cell.
        assert table_text(static(screen, "#comparison-table").content) == table_text(comparison_table(direct))
        assert table_text(static(screen, "#outcome-table").content) == table_text(outcome_table(direct))
        assert "3 strategies over 64 replications, seed 20261128" in plain(screen, "#status")
        assert "knobs: replications=64" in plain(screen, "#status")
        assert static(screen, "#errors").has_class("hidden")  # no plugin errors
        assert static(screen, "#delta").has_class("hidden")  # nothing to compare with yet
        panels = {panel.id for panel in screen.query(ChartPanel)}
        assert panels == {"harm-panel", "ttd-panel", "outcomes-panel", "tradeoff-panel"}
        captions = " ".join(str(s.render()) for s in screen.query(".caption").results(Static))
        assert "not detected (no time to detect): bigbang 0 of 64, canary 0 of 64, flag-canary 0 of 64" in captions
        assert "bigbang: rollout 0s (every run), 76k harmed" in captions
        assert "canary: never completed (64 rolled_back)" in captions
        assert screen.query_one("#progress").has_class("hidden")

    drive(RolloutApp(), steps)


def test_the_results_fit_80_columns_and_scroll_to_the_charts() -> None:
    async def steps(pilot: Pilot) -> None:
        screen = await compare_on_screen(pilot)
        body = screen.query_one("#body")
        assert body.max_scroll_y > 0  # longer than the screen: it scrolls
        table = static(screen, "#comparison-table")
        assert table_text(table.content, width=table.content_region.width) == table_text(table.content)  # no wraps
        assert not screen.has_class("-wide")
        body.scroll_end(animate=False)
        await pilot.pause(0.2)
        assert screen.query_one("#tradeoff-panel").region.height >= 14  # on screen, full height

    drive(RolloutApp(), steps, size=(80, 24))


def test_wide_terminals_put_tables_and_charts_side_by_side() -> None:
    async def steps(pilot: Pilot) -> None:
        screen = await compare_on_screen(pilot)
        assert screen.has_class("-wide") and screen.has_class("-wider")
        comparison, outcomes = screen.query_one("#comparison-table"), screen.query_one("#outcome-table")
        assert comparison.region.y == outcomes.region.y and outcomes.region.x > comparison.region.right - 1
        harm, ttd = screen.query_one("#harm-panel"), screen.query_one("#ttd-panel")
        assert harm.region.y == ttd.region.y and ttd.region.x >= harm.region.right

    drive(RolloutApp(), steps, size=(180, 50))


def test_plugin_errors_are_shown_one_line_per_strategy(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(
        'name = "bad"\nhorizon = "1d"\nseed = 3\nreplications = 64\n[population]\nusers = 10000\n'
        "[traffic]\nrate = 20\n[release.defect]\nharm = 0.05\n"
        '[[strategies]]\nname = "bigbang"\n'
        f'[[strategies]]\nname = "sky"\nuse = "{MISBEHAVING}:RaisesBaseException"\n',
        encoding="utf-8",
    )

    async def steps(pilot: Pilot) -> None:
        screen = await compare_on_screen(pilot, str(scenario))
        assert screen.state == "done"
        assert plain(screen, "#errors") == "sky: strategy 'sky' raised Catastrophe: the sky fell"
        assert list(screen.result.comparison.summaries) == ["bigbang"]
        assert "2 strategies over 64 replications" in plain(screen, "#status")

    drive(RolloutApp(paths=[scenario]), steps)


def test_a_scenario_error_is_shown_in_the_screen() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        app.session.open("default")
        app.session.seed = -1  # effective() rejects it
        app.action_compare()
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        screen = app.screen
        await until(pilot, lambda: screen.state == "failed")
        assert "seed: Input should be greater than or equal to 0, got -1" in plain(screen, "#problem")
        assert not static(screen, "#problem").has_class("hidden")
        assert app.session.results == []
        await pilot.press("e")  # nothing to export: no crash
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ScenariosScreen))

    drive(RolloutApp(), steps)


# -- cancelling ----------------------------------------------------------------------------------------


def test_x_cancels_a_big_run_quickly_and_keeps_no_result() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        app.session.open("default")
        app.session.turn({"replications": 100_000})
        app.action_compare()
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        screen = app.screen
        await until(pilot, lambda: screen.runs_done > 0, seconds=120)  # running, and the UI kept up with it
        assert screen.state == "running"
        bar = screen.query_one("#progress", ProgressBar)
        assert bar.total == 300_000 and bar.progress > 0
        await pilot.press("x")
        await until(pilot, lambda: screen.state == "cancelled", seconds=120)
        assert screen.runs_done < screen.runs_total == 300_000
        assert app.session.results == [] and screen.result is None
        assert plain(screen, "#status").startswith("Cancelled after")
        assert children() == []
        await pilot.press("escape")  # not running any more: back
        await until(pilot, lambda: isinstance(app.screen, ScenariosScreen))

    drive(RolloutApp(), steps)


def test_escape_cancels_a_run_that_uses_worker_processes_and_stops_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # No run in this process first: the workers start at once.
    monkeypatch.setattr(ResultsScreen, "make_executor", lambda: LocalExecutor(workers=2, inline_below=0.0))

    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        app.session.open("default")
        app.session.turn({"replications": 100_000})
        app.action_compare()
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        screen = app.screen
        await until(pilot, lambda: screen.runs_done > 0 and len(children()) > 0, seconds=120)
        await pilot.press("escape")  # running: escape cancels, and stays
        await until(pilot, lambda: screen.state == "cancelled", seconds=120)
        assert app.screen is screen and app.session.results == []
        await until(pilot, lambda: children() == [], seconds=60)  # terminated, not left to finish their batches

    drive(RolloutApp(), steps)


def test_leaving_a_running_comparison_stops_it() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        app.session.open("default")
        app.session.turn({"replications": 100_000})
        app.action_compare()
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen))
        screen = app.screen
        await until(pilot, lambda: screen.runs_done > 0)
        worker = next(iter(screen.workers))
        app.pop_screen()
        await until(pilot, lambda: worker.is_finished, seconds=30)
        assert app.session.results == []

    drive(RolloutApp(), steps)


# -- export, re-run ------------------------------------------------------------------------------------


def test_e_exports_the_result_and_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ResultsScreen, "export_directory", tmp_path / "reports")
    notes: list[tuple[str, dict[str, Any]]] = []

    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        monkeypatch.setattr(app, "notify", lambda message, **options: notes.append((message, options)))
        screen = await compare_on_screen(pilot)
        await pilot.press("e")
        await until(pilot, lambda: len(notes) == 1)
        (folder,) = (tmp_path / "reports").iterdir()
        assert notes[0][0] == f"Wrote {folder}"
        assert folder.name.startswith("default-")
        comparison = screen.result.comparison
        document = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
        assert document == json.loads(json.dumps(comparison.to_dict()))
        rows = (folder / "comparison.csv").read_text(encoding="utf-8").splitlines()
        assert rows[0] == "strategy,measure,mean,ci95_low,ci95_high,median,p95,n"
        assert len(rows) == 1 + 3 * 8
        summary = (folder / "summary.md").read_text(encoding="utf-8")
        assert all(f"| {name}" in summary or f" {name} |" in summary for name in comparison.summaries)
        assert "rollout-sim compare default --seed 20261128 --replications 64" in summary

    drive(RolloutApp(), steps)


def test_an_export_that_cannot_be_written_is_a_one_line_notification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n", encoding="utf-8")
    monkeypatch.setattr(ResultsScreen, "export_directory", blocker / "reports")
    notes: list[tuple[str, dict[str, Any]]] = []

    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        monkeypatch.setattr(app, "notify", lambda message, **options: notes.append((message, options)))
        await compare_on_screen(pilot)
        await pilot.press("e")
        await until(pilot, lambda: len(notes) == 1)
        message, options = notes[0]
        assert message.startswith("Cannot export: ") and "\n" not in message
        assert options["severity"] == "error"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]

    drive(RolloutApp(), steps)


def test_rerun_after_a_knob_shows_the_previous_result_beside_the_new_one() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        first = await compare_on_screen(pilot)
        app.session.turn({"release.defect.harm": 0.2})
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen is not first)
        second = app.screen
        await until(pilot, lambda: second.state == "done")
        await pilot.pause()
        assert [r.label for r in app.session.results] == ["replications=64", "replications=64, harm=0.2"]
        assert not static(second, "#delta").has_class("hidden")
        text = table_text(static(second, "#delta").content)
        assert "before: replications=64; now: replications=64, harm=0.2" in text
        before, now = first.result.comparison.summaries, second.result.comparison.summaries
        for name in ("bigbang", "canary", "flag-canary"):
            old, new = before[name].metrics["blast_radius_users"].mean, now[name].metrics["blast_radius_users"].mean
            assert new > old
            change = f"+{new - old:,.0f} ({100 * (new - old) / old:+.0f}%)"
            line = next(line for line in text.splitlines() if line.strip().startswith(name))
            assert f"{old:,.0f} → {new:,.0f}" in line and change in line
        await pilot.press("escape")  # back to where compare was asked for
        await until(pilot, lambda: isinstance(app.screen, ScenariosScreen))

    drive(RolloutApp(), steps)


def test_every_binding_is_in_the_footer_and_cancel_is_only_live_while_running() -> None:
    async def steps(pilot: Pilot) -> None:
        screen = await compare_on_screen(pilot)
        shown = {key: binding for key, (_, binding, enabled, _) in screen.active_bindings.items()}
        for key, description in (("x", "Cancel"), ("escape", "Back"), ("e", "Export"), ("k", "Knobs"), ("r", "Re-run")):
            assert shown[key].description == description and shown[key].show
        assert screen.check_action("cancel", ()) is None  # shown, greyed out: nothing runs
        assert screen.check_action("export", ()) is True

    drive(RolloutApp(), steps)


# -- the charts' numbers ------------------------------------------------------------------------------


def test_axes_go_logarithmic_over_orders_of_magnitude_with_round_ticks() -> None:
    wide = Axis.fit([219, 310, 75_725, 76_978], "count")
    assert wide.log
    positions, labels = wide.ticks()
    assert labels == ["1k", "10k", "100k"]
    assert np.allclose(positions, np.log10(1 + np.array([1e3, 1e4, 1e5])))
    narrow = Axis.fit([149.8, 210.0], "duration")
    assert not narrow.log
    assert narrow.ticks()[1] == ["2m30s", "2m45s", "3m", "3m15s", "3m30s"]
    flat = Axis.fit([0.0, 0.0], "count")
    assert flat.low <= 0 < flat.high
    assert Axis.fit([], "count") == Axis(0.0, 1.0, False, "count")
    close = Axis.fit([75_600, 76_400], "count")
    assert len(set(close.ticks()[1])) == len(close.ticks()[1])  # no two ticks read "76k"


def test_labels() -> None:
    assert [count_label(v) for v in (0, 7, 250, 1000, 1500, 76_000, 1_500_000)] == [
        "0",
        "7",
        "250",
        "1k",
        "1.5k",
        "76k",
        "1.5M",
    ]
    assert [duration_label(v) for v in (0, 2.5, 45, 150, 3600, 5400, 86400)] == [
        "0s",
        "2.5s",
        "45s",
        "2m30s",
        "1h",
        "1h30m",
        "1d",
    ]


def test_ridges_share_bins_and_count_runs_without_a_value() -> None:
    values = {"a": np.array([1.0, 2.0, 2.0, math.nan]), "b": np.array([10.0, 10.0])}
    axis = Axis.fit(np.concatenate(list(values.values())), "count")
    a, b = ridges(values, axis, bins=10)
    assert np.array_equal(a.edges, b.edges)
    assert (a.count, a.missing, b.count, b.missing) == (3, 1, 2, 0)
    assert a.heights.max() == b.heights.max() == 1.0


def test_detection_and_tradeoff_numbers_come_from_the_runs() -> None:
    comparison = sim.compare("silent-defect", replications=64)
    missing = not_detected(comparison)
    for name, (nan, runs) in missing.items():
        strategy = comparison.runs[comparison.runs["strategy"] == name]
        assert (nan, runs) == (int(strategy["ttd_s"].isna().sum()), len(strategy))
    points = tradeoff_points(comparison)
    for name, (durations, harmed) in points.items():
        strategy = comparison.runs[comparison.runs["strategy"] == name]
        assert len(durations) == len(harmed) == int(strategy["rollout_duration_s"].notna().sum())


def drawn(draw: Callable[[Plot], None], width: int = 78, height: int = 14) -> str:
    plt = Plot()
    draw(plt)
    plt.plotsize(width, height)
    plt.theme("clear")
    return Plot.uncolorize(plt.build())


@pytest.mark.parametrize("name", ["default", "healthy"])
def test_every_chart_draws_whatever_the_runs(name: str) -> None:
    comparison = sim.compare(name, replications=64)
    grey = lambda variable: (128, 128, 128)  # noqa: E731
    harmed, detected = strategy_values(comparison, "blast_radius_users"), strategy_values(comparison, "ttd_s")
    harm = drawn(lambda plt: draw_ridges(plt, 78, harmed, "count", "h", grey, HARMLESS))
    ttd = drawn(lambda plt: draw_ridges(plt, 78, detected, "duration", "t", grey, UNDETECTED))
    outcomes = drawn(lambda plt: draw_outcomes(plt, 78, comparison, grey))
    tradeoff = drawn(lambda plt: draw_tradeoff(plt, 78, comparison, grey))
    healthy = comparison.healthy
    for strategy in comparison.summaries:
        assert strategy in outcomes
        assert (strategy in harm and strategy in ttd) is not healthy
    assert (HARMLESS in harm and UNDETECTED in ttd) is healthy  # a healthy release: said, not drawn
    assert "100%" in outcomes and "rollout time" in tradeoff
    streamed = dataclasses.replace(comparison, runs=comparison.runs.iloc[0:0], streamed=True)
    assert [panel.id for panel in comparison_charts(streamed)] == ["outcomes-panel", "tradeoff-panel"]
    assert not_detected(streamed) == not_detected(comparison)
    drawn(lambda plt: draw_tradeoff(plt, 78, streamed, grey))  # the means, from the summaries


# -- the look -------------------------------------------------------------------------------------------


def test_snapshot_of_the_finished_results_screen(snap_compare: Callable[..., bool]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await compare_on_screen(pilot)
        await pilot.pause(0.2)

    assert snap_compare(RolloutApp(), terminal_size=(100, 34), run_before=run_before)
