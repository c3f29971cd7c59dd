"""The terminal UI driven as a person would, with Textual's pilot: scenarios, race, help, bad input."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import SelectionList, Static, Switch

from sim.tui.app import RolloutApp
from sim.tui.help_screen import HelpScreen
from sim.tui.lane_view import LaneView
from sim.tui.race_screen import RaceScreen
from sim.tui.scenarios_screen import ScenariosScreen
from tests.tui.driving import drive, until


def plain(view: LaneView) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(view._lane_chart())
    return console.export_text()


def text_of(app: RolloutApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def race_to_the_end(pilot: Pilot) -> RaceScreen:
    await pilot.press("r")
    await until(pilot, lambda: isinstance(pilot.app.screen, RaceScreen))
    for _ in range(6):
        await pilot.press("plus")
    screen = pilot.app.screen
    assert isinstance(screen, RaceScreen)
    await until(pilot, lambda: screen.race is not None and screen.race.finished)
    await pilot.pause(0.2)
    return screen


def test_the_scenarios_screen_lists_the_bundled_scenarios_and_says_what_each_teaches() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app.screen, ScenariosScreen)
        assert "What it teaches" in text_of(app, "#teaches")
        assert app.session.name == "default" and app.session.selected == ["bigbang", "canary", "flag-canary"]
        await pilot.press("down")  # the next scenario
        await until(pilot, lambda: app.session.name != "default")
        assert app.session.name == "healthy"
        await pilot.press("up")
        await until(pilot, lambda: app.session.name == "default")

    drive(RolloutApp(), steps)


def test_strategies_can_be_left_out_and_the_release_made_healthy() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        strategies = app.screen.query_one("#strategies", SelectionList)
        strategies.focus()
        await pilot.press("space")  # the first: bigbang
        await until(pilot, lambda: app.session.selected == ["canary", "flag-canary"])
        await pilot.press("h")
        await until(pilot, lambda: app.session.healthy)
        assert app.screen.query_one("#healthy", Switch).value
        screen = await race_to_the_end(pilot)
        assert [view.lane.name for view in screen.query(LaneView)] == ["canary", "flag-canary"]
        assert all(lane.latest.phase == "done" for lane in screen.race.lanes.values())

    drive(RolloutApp(), steps)


def test_the_race_runs_to_the_end_and_shows_big_bang_burning_through_users() -> None:
    async def steps(pilot: Pilot) -> None:
        screen = await race_to_the_end(pilot)
        lanes = screen.race.lanes
        assert lanes["bigbang"].latest.harmed_users > 20 * lanes["canary"].latest.harmed_users
        assert "finished" in text_of(pilot.app, "#race-status")
        bigbang = next(view for view in screen.query(LaneView) if view.lane.name == "bigbang")
        assert f"{lanes['bigbang'].latest.harmed_users:,} users" in plain(bigbang)

    drive(RolloutApp(), steps)


def test_race_keys_pause_step_replay_and_new_seed() -> None:
    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RaceScreen))
        screen = app.screen
        await pilot.press("space")
        assert screen.paused and "paused" in text_of(app, "#race-status")
        stopped = screen.race.now
        await pilot.pause(0.3)
        assert screen.race.now == stopped
        await pilot.press("n")  # to the next control event, and stays paused
        await until(pilot, lambda: screen.race.now > stopped)
        assert screen.paused
        await pilot.press("minus", "minus", "minus")
        assert screen.speed_index == 0
        await pilot.press("plus")
        assert screen.speed_index == 1
        seed = screen.race.seed
        await pilot.press("r")  # replay: the same seed from the start
        await until(pilot, lambda: screen.race.now < 60)
        assert screen.race.seed == seed
        await pilot.press("s")
        await until(pilot, lambda: screen.race.seed == seed + 1)
        assert app.session.seed == seed + 1
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ScenariosScreen))

    drive(RolloutApp(), steps)


def test_help_shows_the_keys_and_the_glossary_and_closes() -> None:
    async def steps(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ScenariosScreen))

    drive(RolloutApp(), steps)
    from sim.tui.help_screen import HELP

    for words in ("Blast radius", "Time to detection", "False rollback", "Caught late", "`n`", "`x`", "`e`"):
        assert words.lower() in HELP.lower()


def test_a_bad_scenario_file_shows_its_message_and_nothing_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('# A broken file\nname = "bad"\nhorizon = "soon"\n')

    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        assert app.session.name == str(bad)
        problem = text_of(app, "#problem")
        assert "Cannot use this file" in problem and "horizon" in problem
        await pilot.press("r")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ScenariosScreen)

    drive(RolloutApp([bad]), steps)


def test_the_light_theme_and_an_80x24_terminal() -> None:
    async def steps(pilot: Pilot) -> None:
        await pilot.press("t")
        assert pilot.app.theme == "textual-light"
        screen = await race_to_the_end(pilot)
        for view in screen.query(LaneView):  # every lane on screen, none cut
            assert view.region.bottom <= 23 and view.region.width == 80

    drive(RolloutApp(), steps, size=(80, 24))


def test_the_engine_never_imports_the_ui() -> None:
    code = "import sys, sim, sim.cli; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_strategy_that_raises_shows_its_error_in_its_lane_while_the_others_race_on(tmp_path: Path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "from sim import Decision\n\n\nclass Broken:\n    def decide(self, obs):\n"
        "        if obs.now > 100:\n            raise RuntimeError('boom at 100 s')\n"
        "        return Decision.set(0.05, wait=60)\n"
    )
    scenario = tmp_path / "with-broken.toml"
    default = (Path(__file__).parents[2] / "scenarios" / "default.toml").read_text()
    scenario.write_text(default + f'\n[[strategies]]\nname = "broken"\nuse = "{plugin}:Broken"\n')

    async def steps(pilot: Pilot) -> None:
        screen = await race_to_the_end(pilot)
        broken = next(view for view in screen.query(LaneView) if view.lane.name == "broken")
        assert "error" in str(broken.border_title) and "boom at 100 s" in plain(broken)
        assert broken.has_class("error")
        assert screen.race.lanes["canary"].latest.phase == "mitigated"

    drive(RolloutApp([scenario]), steps, size=(100, 40))


def test_no_color_is_respected(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = RolloutApp()
    assert app.no_color

    async def steps(pilot: Pilot) -> None:
        await race_to_the_end(pilot)

    drive(app, steps)


def test_from_the_race_c_compares_and_k_opens_the_knobs() -> None:
    from sim.tui.knobs_screen import KnobsScreen
    from sim.tui.results_screen import ResultsScreen

    async def steps(pilot: Pilot) -> None:
        app = pilot.app
        app.session.open("default")
        app.session.turn({"replications": 64})
        await race_to_the_end(pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and len(app.session.results) == 1)
        assert app.session.results[0].comparison.replications == 64
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RaceScreen))
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KnobsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RaceScreen))

    drive(RolloutApp(), steps)
