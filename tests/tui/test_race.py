"""The race model behind the race screen (no textual): one replication, the same as the engine's."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.tui.race import Race
from sim.tui.session import Session, parse_value, teaches

DEFAULT = sim.load_scenario(sim.bundled_scenarios()["default"])


def _to_end(race: Race) -> Race:
    while not race.finished:
        race.advance(600)
    return race


def test_a_race_ends_as_replication_zero_of_the_engine_ends() -> None:
    race = _to_end(Race(DEFAULT))
    measures = sim.Simulation(DEFAULT, replications=1)
    measures.run()
    for name, runs in measures.measures().items():
        lane = race.lanes[name]
        assert lane.latest.harmed_users == runs[0].blast_radius_users
        detected = lane.marker("detected")
        if math.isnan(runs[0].alarm_s):
            assert detected is None
        else:
            assert detected is not None and detected.time == runs[0].alarm_s and detected.label == runs[0].alarm_by


def test_big_bang_harms_far_more_users_than_the_canaries_on_the_default_scenario() -> None:
    race = _to_end(Race(DEFAULT))
    harmed = {name: lane.latest.harmed_users for name, lane in race.lanes.items()}
    assert harmed["bigbang"] > 20 * max(harmed["canary"], harmed["flag-canary"])
    assert race.lanes["canary"].marker("onset").time <= race.lanes["canary"].marker("detected").time


def test_stepping_in_small_or_large_steps_gives_the_same_race() -> None:
    small, large = Race(DEFAULT), Race(DEFAULT)
    while small.now < 900 and not small.finished:
        small.advance(7)
    large.advance(901)
    for name in small.lanes:
        assert small.lanes[name].samples == large.lanes[name].samples
        assert small.lanes[name].markers == large.lanes[name].markers


def test_next_event_stops_at_a_control_event() -> None:
    race = Race(DEFAULT)
    race.advance(1)
    events = race.next_event()
    assert events and {e.kind for e in events} & {"exposure", "verdict", "alarm", "rolling_back", "mitigated", "done"}
    assert race.now < 600


def test_a_new_seed_is_another_replication() -> None:
    first, second = _to_end(Race(DEFAULT)), _to_end(Race(DEFAULT, seed=DEFAULT.seed + 1))
    assert first.lanes["bigbang"].latest.harmed_users != second.lanes["bigbang"].latest.harmed_users


def test_a_healthy_race_runs_to_the_horizon_with_no_onset() -> None:
    session = Session.with_files()
    session.open("default")
    session.healthy = True
    scenario = session.effective()
    race = _to_end(Race(scenario))
    assert race.now == scenario.horizon  # a promoted release could still be rolled back: it runs on
    assert all(lane.latest.phase == "done" and lane.marker("onset") is None for lane in race.lanes.values())
    assert race.lanes["canary"].marker("done").time == 2400.0  # four 10-minute steps


def test_a_strategy_that_raises_shows_its_error_in_its_lane_and_the_others_go_on(tmp_path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "from sim import Decision\n\nclass Broken:\n    def decide(self, obs):\n"
        "        if obs.now > 100:\n            raise RuntimeError('boom at 100 s')\n"
        "        return Decision.set(0.05, wait=60)\n"
    )
    data = DEFAULT.model_dump(mode="json", exclude_none=True)
    data["strategies"].append({"name": "broken", "use": f"{plugin}:Broken"})
    race = _to_end(Race(sim.scenario.scenario_from_dict(data, "with-broken")))
    assert "boom at 100 s" in race.lanes["broken"].error
    assert race.lanes["canary"].latest.phase == "mitigated"


def test_teaches_reads_the_leading_comment_as_paragraphs() -> None:
    text = teaches(sim.bundled_scenarios()["default"])
    assert text.startswith("A defect that telemetry sees") and "\n\nWhat it teaches:" in text
    assert "\n" not in text.split("\n\n")[1]


def test_session_knobs_apply_all_or_nothing() -> None:
    session = Session.with_files()
    assert session.open("default")
    session.turn({"strategies.canary.params.steps": parse_value("[0.1, 0.5]")})
    assert session.knob("strategies.canary.params.steps") == [0.1, 0.5]
    try:
        session.turn({"strategies.canary.params.steps": [0.2], "release.defect.harm": 5})
    except sim.ScenarioError as error:
        assert "release.defect.harm" in str(error)
    else:
        raise AssertionError("an invalid knob was applied")
    assert session.knob("strategies.canary.params.steps") == [0.1, 0.5]


def test_a_bad_scenario_file_is_a_message_not_a_crash(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nhorizon = "soon"\n')
    session = Session.with_files([bad])
    assert not session.open(str(bad))
    assert "horizon" in session.error and session.scenario is None


KNOB_PATHS = [
    "release.defect.harm",
    "release.defect.kind",
    "release.defect.onset",
    "traffic.rate",
    "replications",
    "detection.analysis",
    "strategies.canary.params",
    "strategies.canary.params.steps",
    "strategies.flag-canary.params.bake",
    "strategies.nope.params",
]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(KNOB_PATHS),
    text=st.text(max_size=40) | st.sampled_from(["[0.1", "{ steps = 5 }", "1e400", '"-1m"', "-1", "nan", "[]", "{}"]),
)
def test_any_knob_text_is_applied_or_refused_with_a_scenario_error(path: str, text: str) -> None:
    """What a user types in a knob field: a valid scenario, or one ScenarioError; the scenario unchanged."""
    session = Session.with_files()
    session.open("default")
    before = session.scenario
    try:
        session.turn({path: parse_value(text)})
    except sim.ScenarioError as error:
        assert str(error) and session.scenario is before
    else:
        assert session.scenario is not before
