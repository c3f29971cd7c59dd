"""The first screen: pick a scenario (with what it teaches), the strategies, defective or healthy."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, OptionList, SelectionList, Static, Switch
from textual.widgets.option_list import Option

from sim.tui.session import teaches


class ScenariosScreen(Screen[None]):
    """Scenarios on the left; on the right what the chosen one teaches and what will run."""

    BINDINGS = [
        Binding("r", "app.race", "Race"),
        Binding("c", "app.compare", "Compare"),
        Binding("k", "app.knobs", "Knobs"),
        Binding("h", "toggle_healthy", "Healthy/defective"),
    ]

    def __init__(self, first: str = "default") -> None:
        super().__init__()
        self._first = first

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(*[Option(name, id=name) for name in self.app.session.files], id="scenarios")
            with VerticalScroll(id="chosen"):
                yield Static("", id="teaches")
                yield Static("", id="problem")
                yield Label("Strategies to compare", classes="heading")
                yield SelectionList[str](id="strategies")
                with Horizontal(id="release"):
                    yield Switch(value=False, id="healthy")
                    yield Label("healthy release (the defect removed)", id="healthy-label")
                yield Static(
                    "[b]r[/b] race one replication   [b]c[/b] compare over many   [b]k[/b] change knobs   "
                    "[b]?[/b] help",
                    id="next",
                )
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one("#scenarios", OptionList)
        names = list(self.app.session.files)
        index = names.index(self._first) if self._first in names else 0
        options.highlighted = index
        options.focus()
        self._show(names[index])

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id != self.app.session.name:
            self._show(event.option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.app.action_race()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        self.app.session.selected = list(event.selection_list.selected)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self.app.session.healthy = event.value

    def action_toggle_healthy(self) -> None:
        switch = self.query_one("#healthy", Switch)
        switch.value = not switch.value

    def _show(self, name: str) -> None:
        session = self.app.session
        usable = session.open(name)
        path = session.files[name]
        self.query_one("#teaches", Static).update(escape(teaches(path)) or f"[i]{escape(str(path))}[/i]")
        problem = self.query_one("#problem", Static)
        problem.update("" if usable else f"[b]Cannot use this file[/b]\n{escape(session.error or '')}")
        problem.display = not usable
        strategies = self.query_one("#strategies", SelectionList)
        strategies.clear_options()
        strategies.add_options([(n, n, True) for n in session.strategy_names])
        strategies.highlighted = 0 if session.strategy_names else None
        healthy = self.query_one("#healthy", Switch)
        healthy.value = False
        healthy.disabled = not usable or (session.scenario is not None and session.scenario.healthy)
