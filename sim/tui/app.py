"""``rollout-sim tui``: watch strategies race on the same defect, change a knob, see the consequence.

The app is thin: it holds the ``Session`` (sim/tui/session.py) and moves
between screens, each in its own module. Long simulations run in workers
that post messages; they never touch widgets.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from sim.tui.session import Session


class RolloutApp(App[None]):
    """Scenarios -> race, results, knobs; help anywhere."""

    TITLE = "rollout-sim"
    SUB_TITLE = "how safe is our rollout, really?"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("t", "toggle_theme", "Light/dark", show=False),
    ]

    def __init__(self, paths: list[Path] | None = None, scenario: str | None = None) -> None:
        super().__init__()
        self.session = Session.with_files(paths)
        self._first = scenario if scenario is not None else (str(paths[0]) if paths else "default")

    def on_mount(self) -> None:
        from sim.tui.scenarios_screen import ScenariosScreen

        self.push_screen(ScenariosScreen(self._first))

    # -- moving between screens -----------------------------------------------------------

    def action_help(self) -> None:
        from sim.tui.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_race(self) -> None:
        from sim.tui.race_screen import RaceScreen

        if self._usable():
            self.push_screen(RaceScreen())

    def action_compare(self) -> None:
        """The Monte Carlo comparison of the session as it stands (the previous one stays beside it)."""
        from sim.tui.results_screen import ResultsScreen

        if self._usable():
            if isinstance(self.screen, ResultsScreen):
                self.pop_screen()
            self.push_screen(ResultsScreen())

    def action_knobs(self) -> None:
        from sim.tui.knobs_screen import KnobsScreen

        if self._usable():
            self.push_screen(KnobsScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def _usable(self) -> bool:
        if self.session.scenario is None:
            self.notify(self.session.error or "choose a scenario first", severity="error", timeout=8)
            return False
        return True
