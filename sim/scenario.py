"""Scenario files: the TOML format, its validation and its JSON Schema.

A scenario is data only. Every field is described (with its unit where it has
one) and has a default where one makes sense; durations accept ``"90s"``,
``"10m"``, ``"2h"``, ``"1d"`` or a number of seconds.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from sim.durations import compact_duration, parse_duration, short_repr

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhd]\s*)+$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "a duration: '90s', '10m', '2h', '1d', '1h30m' or seconds",
        }
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
_SHARE_TOLERANCE = 1e-6

# Bounds that keep the engine inside the ranges where it is exact and fast (docs/scenarios.md lists them).
DAY = 86400.0
MAX_USERS = 999_999_999  # numpy's hypergeometric draws need fewer than 1e9 users on each side
MAX_RATE = 1_000_000.0  # requests per second; see MAX_MINUTE
MAX_MINUTE = 500_000_000  # expected requests in the busiest minute: Poisson counts stay below 1e9 (hypergeometric)
MAX_HORIZON = 365 * DAY
MIN_SCRAPE = 1.0  # seconds; the engine draws the data plane at every scrape
MAX_WINDOW = 7 * DAY
MAX_RESPONSE = 30 * DAY
MAX_REPORTS = 10_000  # the k earliest reports are kept per replication
MAX_REPLICATIONS = 100_000_000
MAX_LIST = 100  # segments, spikes, gaps, strategies, judges
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")


def _plain_name(value: str) -> str:
    """Names appear in tables, file names and JSON: no control characters, no path separators."""
    if _FORBIDDEN.search(value):
        raise ValueError(f"must not contain control characters, '/' or '\\', got {value!r}")
    if len(value) > 100:
        raise ValueError(f"must be at most 100 characters, got {len(value)}")
    return value


def _one_line_text(value: str) -> str:
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("must be one line of text, without control characters")
    return value


Name = Annotated[str, Field(min_length=1), AfterValidator(_plain_name)]
Seconds = Annotated[Duration, Field(le=MAX_HORIZON)]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


class _Model(BaseModel):
    # inf and nan pass range checks ("rate > 0") and then break or hang the engine.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Segment(_Model):
    """A group of users: internal staff, beta testers, a region, a platform."""

    name: Name = Field(description="unique segment name")
    share: float = Field(gt=0.0, le=1.0, description="fraction of the users in this segment")
    relative_rate: float = Field(1.0, gt=0.0, le=1e6, description="request rate of its users relative to others")
    utc_offset_hours: float = Field(0.0, ge=-12.0, le=14.0, description="shifts the daily curve (time zone)")


class RateClass(_Model):
    """Heavy and light users: a share of every segment with its own request rate."""

    share: float = Field(gt=0.0, le=1.0, description="fraction of users in this class")
    relative_rate: float = Field(gt=0.0, le=1e6, description="request rate relative to the other classes")


def _shares_add_up(items: list[Any]) -> list[Any]:
    total = sum(item.share for item in items)
    if abs(total - 1.0) > _SHARE_TOLERANCE:
        raise ValueError(f"the shares must add up to 1, they add up to {total:g}")
    return items


class Population(_Model):
    users: int = Field(gt=0, le=MAX_USERS, description="number of distinct users")
    segments: list[Segment] = Field(
        default_factory=lambda: [Segment(name="all", share=1.0)],
        min_length=1,
        max_length=MAX_LIST,
        description="groups of users; shares add up to 1",
    )
    rate_classes: list[RateClass] = Field(
        default_factory=lambda: [RateClass(share=1.0, relative_rate=1.0)],
        min_length=1,
        max_length=20,
        description="heavy and light users across all segments; shares add up to 1",
    )

    # Field validators (not one model validator) so each fault is reported at its own path.
    @field_validator("segments")
    @classmethod
    def _segments(cls, segments: list[Segment]) -> list[Segment]:
        names = [segment.name for segment in segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        return _shares_add_up(segments)

    @field_validator("rate_classes")
    @classmethod
    def _rate_classes(cls, classes: list[RateClass]) -> list[RateClass]:
        return _shares_add_up(classes)


class Spike(_Model):
    """A load spike: the traffic rate is multiplied for a while (a launch, a retry storm)."""

    at: Seconds = Field(description="start, from rollout start")
    duration: Seconds = Field(gt=0.0, description="how long it lasts")
    multiplier: float = Field(gt=0.0, le=100.0, description="factor on the rate while it lasts")


class Traffic(_Model):
    rate: float = Field(gt=0.0, le=MAX_RATE, description="requests per second over the whole service, daily average")
    daily_curve: list[Annotated[float, Field(ge=0.0, le=1e6)]] | None = Field(
        None,
        min_length=24,
        max_length=24,
        description="24 hourly multipliers of the rate (local time of each segment); scaled to mean 1",
    )
    start_hour: float = Field(0.0, ge=0.0, lt=24.0, description="UTC hour of day at which the rollout starts")
    spikes: list[Spike] = Field(
        default_factory=list, max_length=MAX_LIST, description="load spikes (multipliers of the rate)"
    )

    @model_validator(mode="after")
    def _curve_not_flat_zero(self) -> Traffic:
        if self.daily_curve is not None and sum(self.daily_curve) <= 0:
            raise ValueError("traffic.daily_curve must have at least one positive hour")
        peak = 1.0 if self.daily_curve is None else 24 * max(self.daily_curve) / sum(self.daily_curve)
        busiest = (
            self.rate
            * 60.0
            * peak
            * (1.0 + sum(spike.multiplier - 1.0 for spike in self.spikes if spike.multiplier > 1))
        )
        if busiest > MAX_MINUTE:
            raise ValueError(
                f"the busiest minute would hold about {busiest:.3g} requests; at most {MAX_MINUTE:.0e} keep the "
                "engine's draws exact (lower traffic.rate, the daily curve's peak or the spikes)"
            )
        return self


class Defect(_Model):
    harm: float = Field(gt=0.0, le=1.0, description="probability that a request it can reach is harmed")
    kind: Literal["errors", "latency", "silent"] = Field(
        "errors", description="errors and latency show in telemetry; silent wrong answers do not"
    )
    onset: Seconds = Field(0.0, description="delay from rollout start until the defect is active")
    segment: str | None = Field(None, description="only users of this segment can be harmed (default: all)")
    leak: Seconds = Field(
        0.0, description="harm grows linearly from 0 at onset to `harm` over this uptime, like a leak (0: at once)"
    )
    min_load: float = Field(
        0.0, ge=0.0, le=1e9, description="harm only while the service's expected rate (requests/s) is above this"
    )
    persistent: bool = Field(
        False, description="harm outlives the rollback: harmed users keep being harmed until the horizon"
    )
    slowdown: float = Field(
        5.0,
        ge=1.0,
        le=1000.0,
        description="latency defects: a harmed request takes this many times as long (telemetry.latency histograms)",
    )


class Release(_Model):
    defect: Defect | None = Field(None, description="the defect the new version carries; absent = healthy")
    defective_share: Probability = Field(
        1.0,
        description="share of releases (replications) that carry the defect; the rest are healthy (mixes both in "
        "one run)",
    )


class Gap(_Model):
    """A monitoring outage: scrapes in [at, at + duration) are missing."""

    at: Seconds = Field(description="start, from rollout start")
    duration: Seconds = Field(gt=0.0, description="how long scrapes are missing")


class ResponseTime(_Model):
    """How long a person takes to act: a mean, a distribution, and optionally slower outside working hours."""

    mean: Duration = Field(le=MAX_RESPONSE, description="mean response time")
    distribution: Literal["fixed", "exponential", "lognormal"] = Field(
        "fixed", description="fixed: always the mean; exponential; lognormal with `sigma`"
    )
    sigma: float = Field(0.5, gt=0.0, le=5.0, description="lognormal shape (only with lognormal)")
    night_mean: Annotated[Duration, Field(le=MAX_RESPONSE)] | None = Field(
        None, description="mean outside working hours (default: the same)"
    )
    working_hours: tuple[Annotated[float, Field(ge=0.0, le=24.0)], Annotated[float, Field(ge=0.0, le=24.0)]] = Field(
        (9.0, 17.0), description="UTC hours [from, to) of the working day, each in [0, 24]"
    )


def _response_time(value: Any) -> Any:
    """A bare duration is a fixed response time."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"mean": value}
    return value


Response = Annotated[ResponseTime, BeforeValidator(_response_time)]


class People(_Model):
    """People the strategies wait for."""

    approver: Response = Field(
        default_factory=lambda: ResponseTime(mean=600.0, distribution="exponential", night_mean=7200.0),
        description="answers a strategy's pause (a manual gate)",
    )


PROMETHEUS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Latency(_Model):
    """Request latency per version as a lognormal, counted in Prometheus-style histogram buckets."""

    median: float = Field(0.1, gt=0.0, le=3600.0, description="median latency of a request, seconds")
    sigma: float = Field(0.5, gt=0.0, le=5.0, description="lognormal shape (0.5: p99 about 3.2 x the median)")
    buckets: list[Annotated[float, Field(gt=0.0, le=86400.0)]] = Field(
        default_factory=lambda: list(PROMETHEUS_BUCKETS),
        min_length=1,
        max_length=30,
        description="histogram upper bounds in seconds, increasing (+Inf is added); Prometheus' defaults",
    )

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("bucket bounds must increase")
        return value


class Telemetry(_Model):
    baseline_error_rate: Probability = Field(0.001, description="errors on both versions, per request")
    baseline_slow_rate: Probability = Field(
        0.01, description="share of requests slower than the latency objective, on both versions"
    )
    scrape_interval: Duration = Field(60.0, ge=MIN_SCRAPE, le=DAY, description="how often metrics are collected")
    scrape_lag: Duration = Field(0.0, le=DAY, description="delay before a scrape is visible to detectors")
    missing_scrapes: Probability = Field(0.0, description="chance that a scrape is missing (no data)")
    gaps: list[Gap] = Field(default_factory=list, max_length=MAX_LIST, description="times when every scrape is missing")
    latency: Latency | None = Field(
        None, description="latency histograms per version (absent: only the slow-request counter)"
    )


class Analysis(_Model):
    """The canary's own analysis: new-version error rate against a threshold, as Argo Rollouts does."""

    enabled: bool = Field(True, description="strategies can consult it")
    max_error_rate: Probability = Field(0.01, description="a measurement fails above this error rate")
    max_slow_rate: Probability | None = Field(None, description="a measurement fails above this slow share")
    failure_limit: int = Field(
        1, ge=0, le=1_000_000, description="the analysis fails when failures exceed this (cumulative)"
    )
    min_requests: int = Field(
        100, ge=1, le=10**12, description="fewer new-version requests in the window: inconclusive"
    )
    window: Duration = Field(60.0, gt=0.0, le=MAX_WINDOW, description="each measurement looks back this far")


class ServiceAlert(_Model):
    """A service-wide error-rate alert (both versions), which also watches big-bang."""

    enabled: bool = Field(True, description="watches every strategy, big-bang included")
    max_error_rate: Probability = Field(0.01, description="fires when the service error rate stays above this")
    window: Duration = Field(300.0, gt=0.0, le=MAX_WINDOW, description="rate computed over this window")
    for_: Duration = Field(120.0, alias="for", le=MAX_WINDOW, description="the condition must hold this long")
    response: Response = Field(
        default_factory=lambda: ResponseTime(mean=300.0),
        description="time from alert to the start of a rollback (on-call)",
    )


class UserReports(_Model):
    """People: each harmed user reports with some probability, after a delay."""

    enabled: bool = Field(True, description="people report harm done to them")
    report_probability: Probability = Field(0.05, description="chance a harmed user reports it")
    delay: Duration = Field(1800.0, gt=0.0, le=MAX_RESPONSE, description="mean delay from harm to report (exponential)")
    reports_needed: int = Field(5, ge=1, le=MAX_REPORTS, description="reports that make support escalate")
    response: Response = Field(
        default_factory=lambda: ResponseTime(mean=900.0), description="time from escalation to the start of a rollback"
    )


class BurnAlert(_Model):
    """One multi-window burn-rate alert: fires when the bad-event ratio over both windows reaches
    ``burn_rate`` x (1 - objective)."""

    burn_rate: float = Field(gt=0.0, le=1_000_000.0, description="how many times faster than the budget allows")
    long: Duration = Field(gt=0.0, le=MAX_WINDOW, description="the long window (how much budget is gone)")
    short: Duration = Field(gt=0.0, le=MAX_WINDOW, description="the short window (is it still burning)")
    response: Response = Field(
        default_factory=lambda: ResponseTime(mean=300.0),
        description="time from the alert to the start of a rollback (the on-call person)",
    )

    @model_validator(mode="after")
    def _short_within_long(self) -> BurnAlert:
        if self.short > self.long:
            raise ValueError(f"short window ({self.short:g} s) must not be longer than the long one ({self.long:g} s)")
        return self

    @property
    def name(self) -> str:
        """The watcher's name in results (``caught_by``): ``slo_14.4x_1h``."""
        return f"slo_{self.burn_rate:g}x_{compact_duration(self.long)}"


def _workbook_alerts() -> list[BurnAlert]:
    """The Google SRE Workbook's two paging alerts: 2% of a 30-day budget in 1 h, 5% in 6 h."""
    return [
        BurnAlert(burn_rate=14.4, long=3600.0, short=300.0),
        BurnAlert(burn_rate=6.0, long=21600.0, short=1800.0, response=ResponseTime(mean=1800.0)),
    ]


class SloBurn(_Model):
    """Service-level objective burn-rate alerts (multiwindow, multi-burn-rate), watching every strategy."""

    enabled: bool = Field(False, description="watches every strategy, big-bang included")
    objective: float = Field(
        0.999, gt=0.0, lt=1.0, description="share of good requests the service promises, e.g. 0.999"
    )
    indicator: Literal["errors", "slow"] = Field(
        "errors", description="what a bad request is: an error, or a request slower than the latency objective"
    )
    alerts: list[BurnAlert] = Field(
        default_factory=_workbook_alerts, min_length=1, max_length=10, description="the burn-rate alerts"
    )

    @model_validator(mode="after")
    def _names_unique(self) -> SloBurn:
        names = [alert.name for alert in self.alerts]
        if len(set(names)) != len(names):
            raise ValueError(f"two alerts share a burn rate and long window: {names}")
        return self


class Detection(_Model):
    analysis: Analysis = Field(default_factory=Analysis)
    service_alert: ServiceAlert = Field(default_factory=ServiceAlert)
    slo_burn: SloBurn = Field(default_factory=SloBurn)
    user_reports: UserReports = Field(default_factory=UserReports)


class Rollback(_Model):
    """The default rollback of every strategy (a strategy may choose another style per rollback)."""

    style: Literal["instant", "redeploy", "gradual"] = Field(
        "redeploy", description="instant: at once; redeploy: after `duration`; gradual: down `steps`, `wait` each"
    )
    duration: Seconds = Field(30.0, description="redeploy: from rollback start until the new version serves nothing")
    steps: list[Probability] = Field(
        default_factory=list, max_length=MAX_LIST, description="gradual: shares on the way down"
    )
    wait: Seconds = Field(60.0, gt=0.0, description="gradual: time at each step")


def split_file_reference(reference: str) -> tuple[str, str] | None:
    """``("path/to/file.py", "ClassName")`` for a file reference; None for an installed name."""
    path, colon, class_name = reference.rpartition(":")
    return (path, class_name) if colon and path.endswith(".py") else None


class JudgeSpec(_Model):
    """A judge a strategy owns: an installed judge (or path/file.py:Class) and its params."""

    use: Annotated[str, AfterValidator(_one_line_text)] = Field(
        "threshold", min_length=1, max_length=1000, description="installed judge name, or path/to/file.py:ClassName"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the judge")


class StrategySpec(_Model):
    name: Name = Field(description="label in results")
    use: Annotated[str, AfterValidator(_one_line_text)] | None = Field(
        None,
        max_length=1000,
        description="installed strategy name, or path/to/file.py:ClassName (relative to the scenario file)",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the strategy")
    judges: dict[Name, JudgeSpec] | None = Field(
        None,
        max_length=MAX_LIST,
        description="the strategy's judges by name (default: `analysis` from detection.analysis)",
    )

    @property
    def plugin(self) -> str:
        return self.use or self.name


class Sweep(_Model):
    """A parameter grid for ``rollout-sim sweep`` (command-line ``--grid`` options replace it)."""

    grid: dict[str, list[Any]] = Field(
        min_length=1, description="PATH -> values, e.g. 'strategies.canary.bake' = ['5m', '10m']"
    )
    replications: int | None = Field(
        None, ge=1, le=MAX_REPLICATIONS, description="replications per grid point (default: the scenario's)"
    )


class Scenario(_Model):
    name: Name = Field(description="label in results and report file names")
    description: Annotated[str, AfterValidator(_one_line_text)] = Field("", max_length=1000, description="one line")
    horizon: Duration = Field(86400.0, gt=0.0, le=MAX_HORIZON, description="simulated time after which runs stop")
    seed: int = Field(0, ge=0, lt=2**63, description="root seed of every replication")
    replications: int = Field(100, ge=1, le=MAX_REPLICATIONS, description="replications for compare")
    population: Population
    traffic: Traffic
    release: Release = Field(default_factory=Release)
    telemetry: Telemetry = Field(default_factory=Telemetry)
    detection: Detection = Field(default_factory=Detection)
    rollback: Rollback = Field(default_factory=Rollback)
    people: People = Field(default_factory=People)
    strategies: list[StrategySpec] = Field(min_length=1, max_length=MAX_LIST, description="the strategies to compare")
    sweep: Sweep | None = None
    _source: str = PrivateAttr("<scenario>")  # the file it came from, for error messages

    @property
    def source(self) -> str:
        return self._source

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        defect = self.release.defect
        segments = [segment.name for segment in self.population.segments]
        if defect is not None and defect.segment is not None and defect.segment not in segments:
            raise ValueError(f"release.defect.segment {defect.segment!r} is not one of {segments}")
        interval = self.telemetry.scrape_interval
        analysis = self.detection.analysis
        if "window" in analysis.model_fields_set and analysis.window < interval - 1e-9:
            raise ValueError(
                f"detection.analysis.window ({analysis.window:g} s) is shorter than telemetry.scrape_interval "
                f"({interval:g} s)"
            )
        if self.detection.slo_burn.enabled:
            for i, alert in enumerate(self.detection.slo_burn.alerts):
                if alert.short < interval - 1e-9:
                    raise ValueError(
                        f"detection.slo_burn.alerts[{i}].short ({alert.short:g} s) is shorter than "
                        f"telemetry.scrape_interval ({interval:g} s)"
                    )
        names = [spec.name for spec in self.strategies]
        if len(set(names)) != len(names):
            raise ValueError(f"strategy names must be unique, got {names}")
        return self

    @property
    def healthy(self) -> bool:
        return self.release.defect is None


def _one_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]


def _field_path(loc: tuple[Any, ...]) -> str:
    """``strategies.0.params``; a part that is blank or not printable (a key with a line break) is quoted."""
    parts = [str(part) for part in loc]
    parts = [part if part.isprintable() and part.strip() else repr(part) for part in parts]
    return ".".join(parts) or "(top level)"


def _unwrap(annotation: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [option for option in get_args(annotation) if option is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """The field names the table at ``loc`` accepts (``[]`` when it is not a table of the format)."""
    node: Any = Scenario
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = node.model_fields.items()
            found = [field.annotation for name, field in fields if part in (name, field.alias)]
            if not found:
                return []
            node = found[0]
        elif get_origin(node) in (list, tuple) and get_args(node):
            node = get_args(node)[0]
        elif get_origin(node) is dict and len(get_args(node)) == 2:
            node = get_args(node)[1]
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [field.alias or name for name, field in node.model_fields.items()]
    return []


def closest(word: object, choices: Any) -> str | None:
    """The closest of ``choices`` to ``word`` (difflib, as people mistype), or None."""
    if not isinstance(word, str):
        return None
    names = [str(choice) for choice in choices]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not close:
        close = [name for name in names if name.lower() == word.lower()]
    return close[0] if close else None


def suggestion(word: object, choices: Any) -> str:
    """``"; did you mean 'release'?"`` for the closest of ``choices``, or ``""``."""
    match = closest(word, choices)
    return f"; did you mean {match!r}?" if match is not None else ""


def _describe(error: dict[str, Any]) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        loc = tuple(error["loc"])
        return "unknown field" + (suggestion(loc[-1], _known_fields(loc[:-1])) if loc else "")
    if error["type"] == "missing":
        return "required field is missing"
    shown = error.get("input")
    if error["type"] not in {"value_error", "model_type"} and not isinstance(shown, (dict, list)):
        message += f", got {short_repr(shown)}"
    return message


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as plain data; errors name ``source`` and the field."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        lines = [f"{source}: {_field_path(e['loc'])}: {_describe(e)}" for e in error.errors()]
        raise ScenarioError("\n".join(lines)) from None
    scenario._source = source
    return scenario


def _relative_to(scenario: Scenario, folder: Path) -> Scenario:
    """Strategy and judge files named relative to the scenario file, made absolute."""
    specs = []
    for spec in scenario.strategies:
        reference = split_file_reference(spec.plugin)
        if reference and not Path(reference[0]).is_absolute():
            spec = spec.model_copy(update={"use": f"{folder / reference[0]}:{reference[1]}"})
        if spec.judges:
            judges = {}
            for name, judge in spec.judges.items():
                reference = split_file_reference(judge.use)
                if reference and not Path(reference[0]).is_absolute():
                    judge = judge.model_copy(update={"use": f"{folder / reference[0]}:{reference[1]}"})
                judges[name] = judge
            spec = spec.model_copy(update={"judges": judges})
        specs.append(spec)
    return scenario.model_copy(update={"strategies": specs})


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read: {error}") from None
    except (tomllib.TOMLDecodeError, ValueError) as error:  # ValueError: e.g. an integer of 5,000 digits
        raise ScenarioError(f"{path}: not valid TOML: {_one_line(error)}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML: nested too deeply") from None
    return _relative_to(scenario_from_dict(data, source=str(path)), path.parent)


def scenario_json_schema() -> str:
    """The scenario format as a JSON Schema document (for editor completion)."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rollout-sim scenario"
    return json.dumps(schema, indent=2, sort_keys=True)
