"""The race: one replication of every strategy, animated on a simulated clock, side by side."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from sim.durations import format_clock, format_duration
from sim.scenario import ScenarioError
from sim.tui.lane_view import MARKS, LaneView
from sim.tui.race import Race

SPEEDS = {10.0: "10 s/s", 60.0: "1 min/s", 300.0: "5 min/s", 900.0: "15 min/s", 3600.0: "1 h/s", 4 * 3600.0: "4 h/s"}
"""Simulated seconds per second of the race; a one-day race takes 6 s at the fastest."""
_SPEEDS = list(SPEEDS)
WINDOWS = (600.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 86400.0)
"""The time axis grows through these as the race goes on (then to the horizon)."""
FRAME = 1 / 15


class RaceScreen(Screen[None]):
    """Lanes advance together; keys pause, change speed, step to the next control event, replay."""

    BINDINGS = [
        Binding("space", "pause", "Pause/resume"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("n", "next_event", "Next event"),
        Binding("r", "replay", "Replay"),
        Binding("s", "new_seed", "New seed"),
        Binding("c", "app.compare", "Compare"),
        Binding("k", "app.knobs", "Knobs"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.speed_index = 1
        self.paused = False
        self.race: Race | None = None
        self._last = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="race-status")
        yield VerticalScroll(id="lanes")
        yield Static(
            "  ".join(f"{mark} {kind}" for kind, mark in MARKS.items()) + "   ·: no new-version traffic",
            id="race-legend",
        )
        yield Footer()

    def on_mount(self) -> None:
        self._start(self.app.session.seed)
        self.set_interval(FRAME, self._frame)

    def _start(self, seed: int | None) -> None:
        session = self.app.session
        try:
            scenario = session.effective()
        except ScenarioError as error:
            self.notify(str(error), severity="error", timeout=10)
            self.race = None
            return
        self.race = Race(scenario, seed if seed is not None else scenario.seed)
        lanes = self.query_one("#lanes", VerticalScroll)
        lanes.remove_children()
        lanes.mount_all([LaneView(lane) for lane in self.race.lanes.values()])
        self.paused = False
        self._last = time.monotonic()
        self.call_after_refresh(self._draw)

    # -- the clock ---------------------------------------------------------------------------

    def _frame(self) -> None:
        now = time.monotonic()
        elapsed, self._last = min(now - self._last, 0.5), now  # a stalled frame does not jump ahead
        if self.race is None or self.paused or self.race.finished:
            self._draw()
            return
        self.race.advance(_SPEEDS[self.speed_index] * elapsed)
        self._draw()

    def _draw(self) -> None:
        race = self.race
        if race is None:
            return
        span = next((w for w in WINDOWS if w >= race.now and w <= race.horizon), race.horizon)
        harm_top = max([1.0] + [float(lane.latest.harmed_users) for lane in race.lanes.values() if lane.latest])
        for view in self.query(LaneView):
            if view.lane.name in race.lanes:  # a lane of an earlier race may still be on its way out
                view.refresh_lane(race.lanes[view.lane.name], race.now, span, harm_top)
        state = "finished" if race.finished else "paused" if self.paused else "running"
        speed = SPEEDS[_SPEEDS[self.speed_index]]
        self.query_one("#race-status", Static).update(
            f" [b]{format_clock(race.now)}[/b] of {format_duration(race.horizon)}   axis 0 to "
            f"{format_duration(span)}   speed {speed}   seed {race.seed}   [b]{state}[/b]"
            + ("   [i]c compares[/i]" if race.finished else "")
        )

    # -- keys --------------------------------------------------------------------------------

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._draw()

    def action_faster(self) -> None:
        self.speed_index = min(len(_SPEEDS) - 1, self.speed_index + 1)
        self._draw()

    def action_slower(self) -> None:
        self.speed_index = max(0, self.speed_index - 1)
        self._draw()

    def action_next_event(self) -> None:
        """Pause, and run to the next control event (an exposure change, a verdict, an alarm, a rollback)."""
        if self.race is None:
            return
        self.paused = True
        events = self.race.next_event()
        if events:
            shown = "; ".join(f"{e.strategy}: {e.kind} {e.detail}".strip() for e in events[:3])
            self.notify(f"{format_clock(events[0].time)} {shown}", timeout=4)
        self._draw()

    def action_replay(self) -> None:
        """The same race again: same seed, same traffic, same defect."""
        self._start(self.race.seed if self.race else self.app.session.seed)

    def action_new_seed(self) -> None:
        """Another replication of the same scenario (the next seed, so a workshop can come back to it)."""
        seed = (self.race.seed if self.race else 0) + 1
        self.app.session.seed = seed
        self._start(seed)
