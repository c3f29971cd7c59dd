"""Snapshots of the screens at a fixed terminal size (textual is pinned: see pyproject's tui extra).

After a deliberate change of a screen: ``pytest tests/tui --snapshot-update``, then look at the SVGs.
"""

from __future__ import annotations

from textual.pilot import Pilot

from sim.tui.app import RolloutApp
from sim.tui.race_screen import RaceScreen


async def _finished_race(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.press("r")
    for _ in range(6):
        await pilot.press("plus")
    for _ in range(600):
        screen = pilot.app.screen
        if isinstance(screen, RaceScreen) and screen.race is not None and screen.race.finished:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


def test_scenarios_screen(snap_compare) -> None:
    assert snap_compare(RolloutApp(), terminal_size=(100, 32))


def test_scenarios_screen_at_80x24(snap_compare) -> None:
    assert snap_compare(RolloutApp(), terminal_size=(80, 24))


def test_race_screen_finished(snap_compare) -> None:
    assert snap_compare(RolloutApp(), terminal_size=(100, 32), run_before=_finished_race)


def test_help_screen(snap_compare) -> None:
    assert snap_compare(RolloutApp(), terminal_size=(100, 32), press=["question_mark"])
