"""The knobs screen: change the scenario the session holds, then compare again.

A form over a few values that decide the outcome (the defect, the traffic,
the replications, the default judge, and every strategy's params and own judges). Only the fields the user
changed are parsed and applied, all at once through ``Session.turn``; an
invalid value leaves the scenario as it was and says why, in one line.
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from sim.durations import short_repr
from sim.guard import PluginError
from sim.plugins import (
    check_strategies,
    installed_judges,
    installed_strategies,
    load_strategy_class,
    resolve_preset,
)
from sim.scenario import MAX_MINUTE, MAX_RATE, MAX_REPLICATIONS, MAX_WINDOW, Defect, ScenarioError, StrategySpec
from sim.tui.session import Session, parse_value

# -- TOML values, written as a knob's field shows them --------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_DURATION = re.compile(r"\s*(\d+(\.\d+)?\s*[smhd]\s*)+")


def toml_string(text: str) -> str:
    """A TOML basic string (one line: control characters escaped)."""
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"TOML strings cannot hold a lone surrogate, got {short_repr(text)}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError(f"TOML keys are strings, got {short_repr(key)}")
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """``value`` as TOML writes it on one line: numbers, strings, bools, dates, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return inline_table(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise ValueError(f"TOML cannot write {short_repr(value)}")


def inline_table(table: Mapping[str, Any]) -> str:
    """A dict as a TOML inline table: ``{ steps = [0.1, 0.5], bake = "10m" }`` (``parse_value`` reads it back)."""
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{toml_key(key)} = {toml_value(item)}" for key, item in table.items()) + " }"


def duration_text(seconds: float) -> str:
    """Seconds as a scenario file writes them, exactly: ``"10m"``, ``"2h"``, ``"90s"``, ``"1.5s"``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and float(seconds) % size == 0:
            return toml_string(f"{int(seconds // size)}{unit}")
    return toml_string(f"{int(seconds)}s") if float(seconds).is_integer() else toml_value(float(seconds))


# -- what the form offers ---------------------------------------------------------------------------------

KINDS: tuple[str, ...] = typing.get_args(Defect.model_fields["kind"].annotation)


@dataclass(frozen=True)
class Knob:
    """One field of the form: a dotted path of the session, how it is written, and its documented range."""

    path: str  # for Session.knob / Session.turn
    label: str
    range: str
    how: str = "value"  # value | duration | choice | table
    section: str = ""
    field: str = ""  # where scenario validation reports it (strategies by position)
    use: str | None = None  # a strategy's plugin, shown beside its name
    durations: tuple[str, ...] = ()  # a table's keys written as durations ("2m", not 120.0)


def knobs_for(session: Session) -> list[Knob]:
    """The knobs of the session's scenario: the defect's (when it has one), traffic, runs, the default judge,
    every strategy's params and its own judges (when it has them)."""
    scenario = session.scenario
    if scenario is None:
        return []
    knobs = []
    if scenario.release.defect is not None:
        section = "Release defect"
        knobs += [
            Knob("release.defect.harm", "harm", "probability > 0, at most 1, per request it reaches", section=section),
            Knob(
                "release.defect.kind",
                "kind",
                f"{' | '.join(KINDS)}: {Defect.model_fields['kind'].description}",
                how="choice",
                section=section,
            ),
            Knob(
                "release.defect.onset",
                "onset",
                'duration ("90s", "10m", "2h", "1d" or seconds), at most 365d after rollout start',
                how="duration",
                section=section,
            ),
        ]
    section = "Traffic and runs"
    knobs += [
        Knob(
            "traffic.rate",
            "traffic rate",
            f"requests/s, > 0, at most {MAX_RATE:,.0f} (busiest minute at most {MAX_MINUTE:,} requests)",
            section=section,
        ),
        Knob(
            "replications",
            "replications",
            f"integer 1 to {MAX_REPLICATIONS:,}; compare takes longer with more",
            section=section,
        ),
    ]
    knobs.append(
        Knob(
            "detection.analysis",
            "detection.analysis",
            "TOML inline table, the judge of strategies without judges: enabled true|false, max_error_rate and "
            "max_slow_rate 0 to 1, failure_limit integer 0 to 1,000,000, min_requests integer 1 to 10^12, "
            f"window duration > 0, at most {MAX_WINDOW / 86400:g}d; keys left out: defaults (docs/scenarios.md)",
            how="table",
            section="Default judge",
            durations=("window",),
        )
    )
    owned = any(spec.judges is not None for spec in scenario.strategies)
    section = "Strategies: params and judges" if owned else "Strategies: params"
    judges = ", ".join(installed_judges()) or "none installed"
    for index, spec in enumerate(scenario.strategies):
        knobs.append(
            Knob(
                f"strategies.{spec.name}.params",
                spec.name,
                f"TOML inline table; {_param_names(spec)} (docs/plugins.md)",
                how="table",
                section=section,
                field=f"strategies.{index}",
                use=spec.use,
            )
        )
        if spec.judges is not None:
            knobs.append(
                Knob(
                    f"strategies.{spec.name}.judges",
                    f"{spec.name} judges",
                    f"TOML inline table, NAME = {{ use = JUDGE, params = {{ ... }} }}; judges: {judges}; "
                    "{} for none (docs/plugins.md)",
                    how="table",
                    section=section,
                    field=f"strategies.{index}.judges",
                )
            )
    return [knob if knob.field else replace(knob, field=knob.path) for knob in knobs]


def _param_names(spec: StrategySpec) -> str:
    """The params an installed strategy accepts (from its constructor); a plugin file is not imported here."""
    try:
        resolved = resolve_preset(spec)
        if resolved.plugin not in installed_strategies():
            return f"params of {resolved.plugin}"
        signature = inspect.signature(load_strategy_class(resolved.plugin).__init__)
    except Exception:  # a broken plugin is reported when the comparison builds it
        return "params of the plugin"
    names = [
        name
        for name, param in signature.parameters.items()
        if name != "self" and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    ]
    return f"keys: {', '.join(names)}" if names else "it takes none"


def knob_text(session: Session, knob: Knob) -> str:
    """The knob's current value as its field shows it."""
    value = session.knob(knob.path)
    if knob.durations and isinstance(value, dict) and value:
        written = {
            key: duration_text if key in knob.durations and _seconds(item) else toml_value
            for key, item in value.items()
        }
        return "{ " + ", ".join(f"{toml_key(key)} = {written[key](item)}" for key, item in value.items()) + " }"
    if knob.how == "duration" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return duration_text(value)
    if knob.how == "choice":
        return str(value)
    if knob.how == "value" and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # a rate of 2000, as the file has it (validation makes it a float again)
    try:
        return toml_value(value)
    except ValueError:  # not from a TOML file (a None param): shown, and applied only if the user writes TOML
        return short_repr(value)


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def read_knob(knob: Knob, text: str) -> Any:
    """A field's text as the value to apply; ScenarioError (naming the field) if it is not one."""
    text = text.strip()
    try:
        value = parse_value(text)
    except ScenarioError as error:
        if knob.how == "duration" and _DURATION.fullmatch(text):
            return text  # a bare 10m is what a person means by "10m"
        raise ScenarioError(f"{knob.path}: {error}") from None
    if knob.how == "table" and not isinstance(value, dict):
        raise ScenarioError(f"{knob.path}: must be a TOML inline table like {{ steps = [0.1, 0.5] }}, got {text}")
    return value


_JUDGE_PROBLEM = re.compile(r"(^|: )(strategies\.\d+): strategy ('[^']*'|\"[^\"]*\"): judge ")


def _names(message: str, field: str) -> bool:
    """Whether a validation message is about this field (``strategies.1`` is not ``strategies.10``)."""
    return re.search(rf"(^|: ){re.escape(field)}(?![\w])", message) is not None


def culprit(message: str, knobs: Mapping[str, Knob]) -> str | None:
    """The key of the knob a message is most precisely about (a strategy's judges rather than its params)."""
    message = _JUDGE_PROBLEM.sub(r"\1\2.judges: ", message, count=1)  # a judge that cannot be built
    named = [(len(knob.field), key) for key, knob in knobs.items() if _names(message, knob.field)]
    return max(named)[1] if named else None


def one_line(error: BaseException) -> str:
    lines = str(error).splitlines() or [type(error).__name__]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return lines[0] + more


# -- the screen ----------------------------------------------------------------------------------------------


class _NotRefused(Validator):
    """Marks a field invalid (Input's ``-invalid`` class) while it holds the text that was just refused."""

    def __init__(self, owner: KnobsScreen, key: str) -> None:
        super().__init__()
        self.owner, self.key = owner, key

    def validate(self, value: str) -> ValidationResult:
        return self.failure("refused") if self.owner._refused == (self.key, value) else self.success()


class KnobsScreen(Screen[None]):
    """Change the defect, the traffic, the replications, the default judge or a strategy's params or judges;
    apply and compare."""

    TITLE = "Knobs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply and compare", priority=True),
        Binding("ctrl+r", "reset", "Reset", priority=True),
        Binding("escape", "back", "Back"),
    ]
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (100, "-wide")]
    DEFAULT_CSS = """
    KnobsScreen {
        #knobs { height: 1fr; padding: 0 1; }
        #intro { color: $text-muted; margin-bottom: 1; }
        .section { text-style: bold; color: $text-accent; margin-top: 1; }
        .knob {
            layout: grid;
            grid-size: 3;
            grid-columns: 22 1fr 2fr;
            grid-rows: auto;
            grid-gutter: 0 1;
            height: auto;
        }
        .knob > .name { height: auto; padding-top: 1; }
        .knob > .name > .use { color: $text-muted; }
        .knob > .hint { height: auto; padding-top: 1; color: $text-muted; }
        .knob.-table { grid-size: 2; grid-columns: 22 1fr; }
        .knob.-table > .hint { column-span: 2; padding: 0 0 1 23; }
        .knob.-changed > .name > .label { text-style: bold underline; color: $text-warning; }
        Select { width: 1fr; }
        #error { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
        #error.-shown { display: block; }
        #actions { height: auto; padding: 0 1; }
        #actions Button { margin-right: 2; }
    }
    KnobsScreen.-narrow {
        .knob { grid-size: 2; grid-columns: 16 1fr; }
        .knob > .hint, .knob.-table > .hint { column-span: 2; padding: 0 0 1 17; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._knobs: dict[str, Knob] = {}  # widget id -> knob
        self._initial: dict[str, str] = {}  # widget id -> the field's text (or choice) as the scenario has it
        self._refused: tuple[str, str] | None = None  # the field and text last refused

    @property
    def session(self) -> Session:
        return self.app.session  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        session = self.session
        self._knobs = {f"knob-{index}": knob for index, knob in enumerate(knobs_for(session))}
        self._initial = {key: knob_text(session, knob) for key, knob in self._knobs.items()}
        yield Header()
        with VerticalScroll(id="knobs"):
            yield Static(self._intro(), id="intro", markup=False)
            section = None
            for key, knob in self._knobs.items():
                if knob.section != section:
                    section = knob.section
                    yield Static(section, classes="section")
                yield self._row(key, knob)
        yield Static("", id="error", markup=False)
        with Horizontal(id="actions"):
            yield Button("Apply and compare", id="apply", variant="primary")
            yield Button("Reset", id="reset")
            yield Button("Back", id="back")
        yield Footer()

    def _intro(self) -> str:
        scenario = self.session.scenario
        assert scenario is not None
        healthy = " Healthy release: no defect to change." if scenario.release.defect is None else ""
        return (
            f"{self.session.name}: change values, then apply (ctrl+s). The scenario is checked, "
            f"and the comparison runs again beside the previous one.{healthy}"
        )

    def _row(self, key: str, knob: Knob) -> Widget:
        labels = [Label(knob.label, classes="label", markup=False)]
        if knob.use is not None:
            labels.append(Label(f"use {knob.use}", classes="use", markup=False))
        name = Vertical(*labels, classes="name")
        field: Widget
        if knob.how == "choice":
            field = Select([(kind, kind) for kind in KINDS], value=self._initial[key], allow_blank=False, id=key)
        else:
            field = Input(self._initial[key], id=key, validators=[_NotRefused(self, key)])
        hint = Static(self._hint(key, knob), classes="hint", markup=False)
        return Container(name, field, hint, id=f"row-{key}", classes=f"knob -{knob.how}")

    def _hint(self, key: str, knob: Knob) -> str:
        return f"now {self._initial[key]} · {knob.range}"

    def on_mount(self) -> None:
        self.sub_title = self.session.name or ""
        if self._knobs:
            self.query_one(f"#{next(iter(self._knobs))}").focus()

    # -- fields --------------------------------------------------------------------------------------------

    def field(self, path: str) -> Input | Select[str]:
        """The field of the knob at a dotted path (``strategies.canary.params``)."""
        for key, knob in self._knobs.items():
            if knob.path == path:
                return self._field(key)
        raise KeyError(path)

    def _field(self, key: str) -> Input | Select[str]:
        return self.query_one(f"#{key}", Input if self._knobs[key].how != "choice" else Select)  # type: ignore[return-value]

    def _changed(self, key: str) -> bool:
        field = self._field(key)
        if isinstance(field, Select):
            return field.value != self._initial[key]
        return field.value.strip() != self._initial[key]

    def on_input_changed(self, event: Input.Changed) -> None:
        self._mark(event.input.id)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._mark(event.select.id)

    def _mark(self, key: str | None) -> None:
        if key in self._knobs:
            self.query_one(f"#row-{key}").set_class(self._changed(key), "-changed")

    def _show_error(self, message: str, key: str | None = None) -> None:
        error = self.query_one("#error", Static)
        error.update(f"Not applied: {message}" if message else "")
        error.set_class(bool(message), "-shown")
        if key is not None:
            field = self._field(key)
            if isinstance(field, Input):
                self._refused = (key, field.value)
                field.validate(field.value)  # marked invalid (by _NotRefused) until its text changes
            field.focus()

    # -- actions -------------------------------------------------------------------------------------------

    def action_apply(self) -> None:
        """Parse the changed fields, apply them all or none; then compare again."""
        changes: dict[str, Any] = {}
        scenario_name = self.session.scenario.name if self.session.scenario is not None else ""
        for key, knob in self._knobs.items():
            if not self._changed(key):
                continue
            field = self._field(key)
            try:
                changes[knob.path] = field.value if isinstance(field, Select) else read_knob(knob, field.value)
            except ScenarioError as error:
                self._show_error(one_line(error), key)
                return
        try:
            self._turn(changes)
        except ScenarioError as error:
            message = one_line(error).removeprefix(f"{scenario_name} (knobs): ")  # Session.turn's source: no file
            self._show_error(message, culprit(message, self._knobs))
            return
        self._show_error("")
        self.app.pop_screen()
        self.app.action_compare()  # type: ignore[attr-defined]

    def _turn(self, changes: dict[str, Any]) -> None:
        """``Session.turn``, and the changed strategies built once (bad params): all or nothing."""
        if not changes:
            return
        session = self.session
        scenario, knobs = session.scenario, dict(session.knobs)
        session.turn(changes)
        assert session.scenario is not None
        specs = [
            spec
            for spec in session.scenario.strategies
            if {f"strategies.{spec.name}.params", f"strategies.{spec.name}.judges"} & changes.keys()
        ]
        if not specs:
            return
        try:
            check_strategies(session.scenario, specs)
        except (ScenarioError, PluginError) as error:
            session.scenario = scenario  # as it was: nothing applied
            session.knobs.clear()
            session.knobs.update(knobs)
            raise ScenarioError(str(error)) from None

    def action_reset(self) -> None:
        """Every field back to the scenario's current value."""
        for key, knob in self._knobs.items():
            self._initial[key] = knob_text(self.session, knob)
            field = self._field(key)
            field.value = self._initial[key]
            self.query_one(f"#row-{key}").remove_class("-changed")
            self.query_one(f"#row-{key} > .hint", Static).update(self._hint(key, knob))
        self._refused = None
        for field in self.query(Input):
            field.validate(field.value)
        self._show_error("")

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {"apply": self.action_apply, "reset": self.action_reset, "back": self.action_back}
        actions[event.button.id or ""]()
