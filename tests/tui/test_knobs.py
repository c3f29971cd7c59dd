"""The knobs screen: change the scenario, apply all or nothing, compare again; and its TOML inline-table writer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

import sim
from sim.tui.app import RolloutApp
from sim.tui.knobs_screen import KnobsScreen, inline_table, knob_text, knobs_for, toml_value
from sim.tui.session import Session, parse_value

SIZE = (100, 34)
CANARY = "strategies.canary.params"
HARM = "release.defect.harm"
ANALYSIS = "detection.analysis"
FLAGGER = "strategies.flagger.judges"


class Run:
    """A pilot on the knobs screen of a scenario; ``compared`` records each comparison asked for (the
    results screen runs a Monte Carlo comparison: not here)."""

    def __init__(self, app: RolloutApp, pilot: Pilot) -> None:
        self.app, self.pilot = app, pilot
        self.compared: list[Any] = []
        self.turns = 0

    @property
    def screen(self) -> KnobsScreen:
        assert isinstance(self.app.screen, KnobsScreen)
        return self.app.screen

    def field(self, path: str) -> Any:
        return self.screen.field(path)

    async def type_into(self, path: str, text: str) -> None:
        """Clear the field and type ``text`` into it, key by key."""
        field = self.field(path)
        field.value = ""
        field.focus()
        await self.pilot.press(*text)

    def error(self) -> str:
        error = self.screen.query_one("#error", Static)
        return str(error.render()) if error.display else ""


def drive(
    steps: Callable[[Run], Awaitable[None]],
    scenario: str = "default",
    compare: bool = False,
    size: tuple[int, int] = SIZE,
) -> None:
    """Run ``steps`` on the knobs screen; the comparison is only recorded unless ``compare``."""

    async def main() -> None:
        app = RolloutApp()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            run = Run(app, pilot)
            if not compare:
                app.action_compare = lambda: run.compared.append((type(app.screen).__name__, app.session.scenario))  # type: ignore[method-assign]
            turn = app.session.turn

            def counted(changes: dict[str, Any]) -> None:
                run.turns += 1
                turn(changes)

            app.session.turn = counted  # type: ignore[method-assign]
            assert app.session.open(scenario)
            app.action_knobs()
            for _ in range(600):  # generous: a loaded 2-core machine
                if isinstance(app.screen, KnobsScreen) and app.screen.is_mounted:
                    break
                await pilot.pause(0.05)
            await pilot.pause()
            await steps(run)

    asyncio.run(main())


def test_a_new_first_canary_weight_is_applied_and_the_comparison_runs_again() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        field = run.field(CANARY)
        assert field.value == '{ steps = [0.01, 0.05, 0.25, 0.5], bake = "10m", check = "1m", unit = "request" }'
        field.value = field.value.replace("0.01", "0.02", 1)
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        canary = next(spec for spec in session.scenario.strategies if spec.name == "canary")
        assert canary.params["steps"] == [0.02, 0.05, 0.25, 0.5]
        assert canary.params["bake"] == "10m"
        assert session.knob(f"{CANARY}.steps") == [0.02, 0.05, 0.25, 0.5]
        assert list(session.knobs) == [CANARY]  # only the changed field
        assert run.turns == 1
        # The knobs screen is gone before the comparison is asked for, on the scenario as changed.
        assert [name for name, _ in run.compared] != ["KnobsScreen"] and len(run.compared) == 1
        assert run.compared[0][1] == session.scenario
        assert not isinstance(run.app.screen, KnobsScreen)

    drive(steps)


def test_the_results_screen_compares_the_changed_scenario() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        await run.type_into("replications", "4")
        field = run.field(CANARY)
        field.value = field.value.replace("0.01", "0.02", 1)
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert type(run.app.screen).__name__ == "ResultsScreen"
        for _ in range(1200):  # generous: a loaded 2-core machine
            if session.results:
                break
            await run.pilot.pause(0.05)
        ran = session.results[-1].scenario
        assert ran.replications == 4
        assert next(spec for spec in ran.strategies if spec.name == "canary").params["steps"][0] == 0.02

    drive(steps, compare=True)


def test_several_fields_apply_at_once_with_the_button_and_a_bare_duration_is_a_duration() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        await run.type_into("release.defect.onset", "10m")
        await run.type_into("traffic.rate", "3000")
        run.field("release.defect.kind").value = "latency"
        await run.pilot.click("#apply")
        await run.pilot.pause()
        defect = session.scenario.release.defect
        assert (defect.onset, defect.kind, defect.harm) == (600.0, "latency", 0.05)
        assert session.scenario.traffic.rate == 3000.0
        assert session.scenario.replications == 200
        assert run.turns == 1 and len(run.compared) == 1

    drive(steps)


def invalid(changes: dict[str, str], words: list[str]) -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        before, knobs = session.scenario, dict(session.knobs)
        for path, text in changes.items():
            await run.type_into(path, text)
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        message = run.error()
        assert message.startswith("Not applied: ") and "\n" not in message
        for word in words:
            assert word in message
        assert session.scenario == before and session.knobs == knobs  # nothing applied, not even the valid change
        assert run.compared == []
        harm = run.field(HARM)
        assert run.screen.focused is harm and harm.has_class("-invalid")  # the field at fault, marked
        # Fixing the value and applying again works, and the message goes.
        await run.type_into(HARM, "0.1")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert session.scenario.release.defect.harm == 0.1
        assert len(run.compared) == 1

    drive(steps)


def test_a_harm_out_of_range_is_refused_with_the_field_and_the_bound() -> None:
    invalid({"traffic.rate": "3000", HARM: "5"}, ["release.defect.harm: Input should be less than or equal to 1"])


def test_a_value_that_is_not_toml_is_refused_before_anything_is_applied() -> None:
    invalid({"traffic.rate": "3000", HARM: "[0.1"}, ["release.defect.harm: '[0.1' is not a TOML value"])


def test_canary_params_the_strategy_refuses_are_refused_here_not_in_the_comparison() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        before = session.scenario
        await run.type_into(CANARY, "{ steps = [5] }")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert run.error().startswith("Not applied: strategies.1: strategy 'canary' (canary): bad params: ")
        assert "steps" in run.error()
        assert session.scenario == before and session.knobs == {}
        assert run.compared == []
        canary = run.field(CANARY)
        assert run.screen.focused is canary and canary.has_class("-invalid")
        await run.pilot.press("end", "backspace")  # changing the refused text takes the mark away
        assert not canary.has_class("-invalid")
        await run.type_into(CANARY, "[0.1]")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert "must be a TOML inline table" in run.error()
        assert session.scenario == before

    drive(steps)


def test_escape_goes_back_without_applying() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        before = session.scenario
        await run.type_into(HARM, "0.5")
        await run.pilot.press("escape")
        await run.pilot.pause()
        assert not isinstance(run.app.screen, KnobsScreen)
        assert session.scenario == before and session.knobs == {}
        assert run.compared == [] and run.turns == 0

    drive(steps)


def test_ctrl_r_puts_the_fields_back_to_the_scenario_values() -> None:
    async def steps(run: Run) -> None:
        await run.type_into(HARM, "5")
        run.field("release.defect.kind").value = "silent"
        run.field(CANARY).value = "{ steps = [0.5] }"
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert run.error()
        assert len(run.screen.query(".-changed")) == 3
        await run.pilot.press("ctrl+r")
        await run.pilot.pause()
        assert run.field(HARM).value == "0.05"
        assert run.field("release.defect.kind").value == "errors"
        assert run.field(CANARY).value.startswith("{ steps = [0.01, 0.05, 0.25, 0.5]")
        assert run.error() == ""
        assert not run.screen.query(".-changed") and not run.screen.query(".-invalid")
        turns = run.turns  # the refused one
        await run.pilot.press("ctrl+s")  # nothing changed: nothing to turn, compare again all the same
        await run.pilot.pause()
        assert run.turns == turns and len(run.compared) == 1

    drive(steps)


def test_every_field_shows_its_value_and_range_and_a_strategy_its_plugin() -> None:
    async def steps(run: Run) -> None:
        hints = [str(hint.render()) for hint in run.screen.query(".hint").results(Static)]
        assert hints[0].startswith("now 0.05 · probability > 0, at most 1")
        assert any(hint.startswith("now 2000 · requests/s, > 0, at most 1,000,000") for hint in hints)
        assert any("integer 1 to 100,000,000" in hint for hint in hints)
        assert any("keys: steps, bake, check, unit" in hint for hint in hints)
        uses = [str(label.render()) for label in run.screen.query(".use").results(Static)]
        assert uses == ["use canary"]  # flag-canary
        assert isinstance(run.field("release.defect.kind"), Select)
        assert isinstance(run.field("replications"), Input)

    drive(steps)


def test_at_80x24_the_hints_go_under_the_fields_and_every_field_can_be_reached() -> None:
    async def steps(run: Run) -> None:
        screen = run.screen
        assert screen.has_class("-narrow")
        apply = screen.query_one("#apply")
        assert apply.region.bottom <= 23 and apply.region.width > 0  # above the footer, without scrolling
        last = run.field("strategies.rolling.params")
        last.focus()  # scrolls it into view (perhaps animated)
        scroll = screen.query_one("#knobs")
        for _ in range(200):
            if scroll.region.contains_region(last.region):
                break
            await run.pilot.pause(0.05)
        assert scroll.region.contains_region(last.region)
        hint = screen.query_one("#row-" + str(last.id) + " > .hint")
        assert hint.region.y >= last.region.bottom and hint.content_region.x >= last.region.x  # under it, indented

    drive(steps, scenario="strategies-tour", size=(80, 24))


def test_a_new_default_judge_is_applied_and_the_comparison_runs_again() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        field = run.field(ANALYSIS)
        assert (
            field.value
            == '{ enabled = true, max_error_rate = 0.01, failure_limit = 1, min_requests = 100, window = "2m" }'
        )
        field.value = field.value.replace("0.01", "0.2")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        analysis = session.scenario.detection.analysis
        assert (analysis.max_error_rate, analysis.failure_limit, analysis.window) == (0.2, 1, 120.0)
        assert list(session.knobs) == [ANALYSIS] and run.turns == 1
        assert len(run.compared) == 1 and run.compared[0][1] == session.scenario
        assert not isinstance(run.app.screen, KnobsScreen)

    drive(steps)


def test_a_default_judge_out_of_range_is_refused_with_the_field_named() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        before = session.scenario
        await run.type_into(ANALYSIS, "{ failure_limit = -1 }")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        assert run.error().startswith("Not applied: detection.analysis.failure_limit: Input should be greater than")
        assert session.scenario == before and session.knobs == {} and run.compared == []
        field = run.field(ANALYSIS)
        assert run.screen.focused is field and field.has_class("-invalid")

    drive(steps)


def test_a_strategy_with_judges_shows_them_and_a_change_round_trips() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        field = run.field(FLAGGER)
        assert field.value == (
            '{ analysis = { use = "threshold", params = '
            '{ rule = "flagger", max_error_rate = 0.01, threshold = 5, min_requests = 50 } } }'
        )
        assert parse_value(field.value) == session.knob(FLAGGER)
        assert [knob.path for knob in knobs_for(session) if knob.path.endswith(".judges")] == [FLAGGER]
        hint = str(run.screen.query_one(f"#row-{field.id} > .hint", Static).render())
        assert "use = JUDGE" in hint and ", ".join(sorted(sim.installed_judges())) in hint
        field.value = field.value.replace("threshold = 5", "threshold = 3")
        await run.pilot.press("ctrl+s")
        await run.pilot.pause()
        flagger = next(spec for spec in session.scenario.strategies if spec.name == "flagger")
        assert flagger.judges is not None and flagger.judges["analysis"].params["threshold"] == 3
        assert list(session.knobs) == [FLAGGER] and len(run.compared) == 1

    drive(steps, scenario="strategies-tour")


def test_judges_that_cannot_be_built_are_refused_on_the_judges_field() -> None:
    async def steps(run: Run) -> None:
        session = run.app.session
        before = session.scenario
        for text, words in [
            (
                '{ analysis = { use = "nope" } }',
                "strategies.2: strategy 'flagger': judge 'analysis': unknown judge 'nope'",
            ),
            ("{ analysis = { params = { failure_limit = -1 } } }", "failure_limit must be an integer >= 0, got -1"),
            ('{ analysis = { use = "threshold", usee = 1 } }', "strategies.2.judges.analysis.usee: unknown field"),
            ('"threshold"', "strategies.flagger.judges: must be a TOML inline table"),
        ]:
            run.field(FLAGGER).value = text  # set, not typed: long
            run.field("strategies.flagger.params").focus()
            await run.pilot.press("ctrl+s")
            await run.pilot.pause()
            assert run.error().startswith("Not applied: ") and words in run.error()
            assert session.scenario == before and session.knobs == {} and run.compared == []
            field = run.field(FLAGGER)
            assert run.screen.focused is field and field.has_class("-invalid")  # the judges, not the params

    drive(steps, scenario="strategies-tour")


def test_a_healthy_scenario_has_no_defect_knobs() -> None:
    session = Session.with_files()
    assert session.open("default")
    assert any(knob.path.startswith("release.defect") for knob in knobs_for(session))
    session.turn({"release.defect": None})
    paths = [knob.path for knob in knobs_for(session)]
    assert paths[:3] == ["traffic.rate", "replications", ANALYSIS]
    assert paths[3:] == [f"strategies.{name}.params" for name in session.strategy_names]  # none has judges


# -- the TOML inline-table writer ------------------------------------------------------------------------------


def test_the_params_of_the_bundled_scenarios_round_trip_through_parse_value() -> None:
    session = Session.with_files()
    for name in ("default", "strategies-tour", "shapes"):
        assert session.open(name)
        for spec in session.scenario.strategies:
            params = session.knob(f"strategies.{spec.name}.params")
            assert parse_value(inline_table(params)) == params
            if spec.judges is not None:
                judges = session.knob(f"strategies.{spec.name}.judges")
                assert parse_value(inline_table(judges)) == judges
    assert inline_table({}) == "{}"
    assert inline_table({"a b": 'x"\n', "ok": [True, 1, 1.5, {"c": []}]}) == (
        '{ "a b" = "x\\"\\n", ok = [true, 1, 1.5, { c = [] }] }'
    )


def test_an_onset_is_written_as_a_duration() -> None:
    session = Session.with_files()
    assert session.open("default")
    onset = next(knob for knob in knobs_for(session) if knob.path == "release.defect.onset")
    for seconds, text in [(0.0, '"0s"'), (90.0, '"90s"'), (600.0, '"10m"'), (7200.0, '"2h"'), (1.5, "1.5")]:
        session.turn({"release.defect.onset": seconds})
        assert knob_text(session, onset) == text


scalars = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.booleans()
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), values, max_size=6))
def test_any_table_of_numbers_strings_bools_and_lists_round_trips(table: dict[str, Any]) -> None:
    text = inline_table(table)
    assert "\n" not in text
    assert parse_value(text) == table
    assert parse_value(toml_value(list(table.values()))) == list(table.values())


def test_the_knobs_screen_on_the_default_scenario(snap_compare: Any) -> None:
    async def open_knobs(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, RolloutApp)
        await pilot.pause()
        assert app.session.open("default")
        app.action_knobs()
        for _ in range(600):
            if isinstance(app.screen, KnobsScreen) and app.screen.is_mounted:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(RolloutApp(), terminal_size=SIZE, run_before=open_knobs)
