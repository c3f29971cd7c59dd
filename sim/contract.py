"""The plugin contracts: what a strategy sees and may answer, and what a judge receives and returns.

A strategy is any class whose instances have one method::

    def decide(self, obs: Observation) -> Decision: ...

The engine builds one instance per replication from a private deep copy of
the scenario's ``params`` and calls ``decide`` at t = 0, then whenever the
previous decision's ``wait`` has passed, a person has answered a pause, or
one of the strategy's running judges reached a verdict. Strategies see
telemetry, verdicts and alerts, never ground truth.

A judge is any class with ``measure(data: JudgeData) -> Verdicts``,
vectorised over the replications of a block (see ``JudgeData``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from sim.durations import parse_duration, short_repr
from sim.latency import histogram_quantile

Unit = Literal["request", "user", "instance"]
Mode = Literal["serve", "mirror", "preview"]
UNITS = ("request", "user", "instance")
MODES = ("serve", "mirror", "preview")
EVERY_SEGMENT = "*"

MIN_WAIT = 1e-3
"""Shortest wait a decision may ask for, in seconds."""
MAX_WAIT = 365 * 86400.0
"""Longest wait (and rollback duration) a decision may ask for, in seconds: the longest horizon."""


def _is_number(value: object) -> bool:
    """A real number that fits a float (not NaN; an int of 400 digits does not fit)."""
    kind = type(value)
    if kind is float:  # the common case, without the slower ABC check
        return value == value
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return not math.isnan(float(value))
    except (OverflowError, TypeError, ValueError):
        return False


def _seconds(name: str, value: object) -> float:
    if type(value) is float and 0.0 <= value < math.inf:
        return value
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


class Exposure(NamedTuple):
    """Who the new version reaches: a share per segment, a unit and a mode.

    - ``shares``: segment name -> share in [0, 1]; ``"*"`` stands for every
      segment not named. ``Exposure.of(0.05)`` is 5% of every segment.
    - ``unit``: ``request`` (each request routed with that probability; the
      default, unless the strategy class sets ``unit``),
      ``user`` (sticky hash buckets: those users and only they) or
      ``instance`` (``k`` of ``instances`` instances: shares are rounded to k/n).
    - ``mode``: ``serve`` (users are served by it), ``mirror`` (shadow copies
      of that share of requests reach it; users are served by stable) or
      ``preview`` (only test traffic, ``preview_rate`` requests per second).
    - ``baseline``: a fresh copy of stable receives the same share as the new
      version (so judges compare like with like); shares must then be <= 0.5.
    """

    shares: tuple[tuple[str, float], ...] = ()
    unit: Unit | None = None
    instances: int = 0
    mode: Mode = "serve"
    baseline: bool = False
    preview_rate: float = 1.0

    @classmethod
    def of(cls, share: float | Mapping[str, float] | Exposure, **options: Any) -> Exposure:
        """An exposure from a share for every segment, a ``{segment: share}`` mapping, or an Exposure."""
        if type(share) is Exposure and not options:  # the common case, first: one per decision
            return share
        if isinstance(share, Exposure):
            return share if not options else share.but(**options)
        if isinstance(share, Mapping):
            pairs = tuple(sorted((str(k), v) for k, v in share.items()))
        else:
            pairs = ((EVERY_SEGMENT, share),)
        return cls(pairs, **options)

    @classmethod
    def none(cls) -> Exposure:
        """The new version serves nothing."""
        return cls(((EVERY_SEGMENT, 0.0),))

    @classmethod
    def preview(cls, rate: float = 1.0) -> Exposure:
        """Only test traffic (``rate`` requests per second) reaches the new version, as in blue-green."""
        return cls(((EVERY_SEGMENT, 0.0),), mode="preview", preview_rate=rate)

    def but(self, **changes: Any) -> Exposure:
        """A copy with some fields changed."""
        return self._replace(**changes)

    def share(self, segment: str) -> float:
        """The share of ``segment`` (the ``"*"`` share, or 0, for a segment not named)."""
        shares = dict(self.shares)
        return float(shares.get(segment, shares.get(EVERY_SEGMENT, 0.0)))

    @property
    def weight(self) -> float:
        """The largest share of any segment (the canary weight when every segment is alike)."""
        return max((float(s) for _, s in self.shares), default=0.0)

    def problem(self, segments: Sequence[str] | None = None) -> str | None:
        """Why this exposure cannot be applied (to a population with ``segments``), or None."""
        if self.unit is not None and self.unit not in UNITS:
            return f"unit must be one of {', '.join(UNITS)}, got {short_repr(self.unit)}"
        if self.mode not in MODES:
            return f"mode must be one of {', '.join(MODES)}, got {short_repr(self.mode)}"
        if not isinstance(self.shares, tuple) or not self.shares:
            return "an exposure needs at least one share"
        if not all(isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) for pair in self.shares):
            return f"shares must be (segment, share) pairs, got {short_repr(self.shares)}"
        limit = 0.5 if self.baseline else 1.0
        for name, share in self.shares:
            if not (_is_number(share) and 0.0 <= share <= limit):
                what = "weight" if name == EVERY_SEGMENT else f"share of {name!r}"
                return f"{what} must be a number between 0 and {limit:g}, got {short_repr(share)}"
            if segments is not None and name != EVERY_SEGMENT and name not in segments:
                return f"unknown segment {name!r}; the scenario has {', '.join(segments)}"
        if self.unit == "instance" and not (isinstance(self.instances, int) and 1 <= self.instances <= 100_000):
            return f"unit 'instance' needs instances between 1 and 100000, got {short_repr(self.instances)}"
        if not (_is_number(self.preview_rate) and 0.0 <= self.preview_rate <= 1e6):
            return f"preview_rate must be between 0 and 1e6 requests per second, got {short_repr(self.preview_rate)}"
        if not isinstance(self.baseline, bool):
            return f"baseline must be true or false, got {short_repr(self.baseline)}"
        return None


_EVERYONE = Exposure.of(1.0)  # what every done decision serves: one object, checked once by the engine


@dataclass(frozen=True)
class RollbackStyle:
    """How a rollback takes the new version out of service.

    ``instant``: traffic leaves at once (flag flip, router switch);
    ``redeploy``: traffic keeps flowing for ``duration`` seconds, then stops;
    ``gradual``: shares step down through ``steps`` (each capped at the current
    share), ``wait`` seconds each, then 0.
    """

    kind: Literal["instant", "redeploy", "gradual"] = "instant"
    duration: float = 0.0
    steps: tuple[float, ...] = ()
    wait: float = 60.0

    @classmethod
    def instant(cls) -> RollbackStyle:
        return cls("instant")

    @classmethod
    def redeploy(cls, duration: float | str) -> RollbackStyle:
        return cls("redeploy", duration=_seconds("duration", duration))

    @classmethod
    def gradual(cls, steps: Sequence[float], wait: float | str = 60.0) -> RollbackStyle:
        return cls("gradual", steps=tuple(steps), wait=_seconds("wait", wait))

    def problem(self) -> str | None:
        if self.kind not in ("instant", "redeploy", "gradual"):
            return f"rollback style must be instant, redeploy or gradual, got {short_repr(self.kind)}"
        if not (_is_number(self.duration) and 0.0 <= self.duration <= MAX_WAIT):
            return f"rollback duration must be a finite number of seconds >= 0, got {short_repr(self.duration)}"
        if not all(_is_number(s) and 0.0 <= s <= 1.0 for s in self.steps):
            return f"gradual rollback steps must be shares in [0, 1], got {list(self.steps)!r}"
        if not (_is_number(self.wait) and MIN_WAIT <= self.wait <= MAX_WAIT):
            return f"gradual rollback wait must be at least {MIN_WAIT} s and finite, got {short_repr(self.wait)}"
        return None


Action = Literal["continue", "pause", "rollback", "done"]


class Decision(NamedTuple):
    """A strategy's answer. Build it with ``set``, ``pause``, ``rollback`` or ``done``.

    ``judges`` names the strategy's judges that run during this step: those
    not running start, those running go on, the others stop (None keeps the
    running set as it is). ``reset`` names judges to restart from scratch.
    """

    action: Action = "continue"
    exposure: Exposure | None = None
    wait: float = 0.0
    judges: tuple[str, ...] | None = None
    reset: tuple[str, ...] = ()
    reason: str = ""
    style: RollbackStyle | None = None
    by: str | None = None

    @classmethod
    def set(
        cls,
        exposure: float | Mapping[str, float] | Exposure,
        wait: float | str,
        judges: Sequence[str] | None = None,
        reset: Sequence[str] = (),
    ) -> Decision:
        """Serve ``exposure`` (a share, ``{segment: share}`` or an Exposure); decide again after ``wait``."""
        return cls(
            "continue",
            Exposure.of(exposure),
            _seconds("wait", wait),
            None if judges is None else tuple(judges),
            tuple(reset),
        )

    @classmethod
    def pause(cls, reason: str = "", judges: Sequence[str] | None = None) -> Decision:
        """Keep the current exposure and wait for a person (the scenario's approver) to answer."""
        return cls("pause", None, 0.0, None if judges is None else tuple(judges), (), reason)

    @classmethod
    def rollback(cls, reason: str = "", style: RollbackStyle | None = None, by: str | None = None) -> Decision:
        """Take the new version out of service (``style``: default the scenario's rollback).

        ``by`` names what caught the problem (default: the strategy's failed
        judge, else ``"strategy"``).
        """
        return cls("rollback", None, 0.0, None, (), reason, style, by)

    @classmethod
    def done(cls) -> Decision:
        """Serve every user from the new version and stop deciding (judges stop too)."""
        return cls("done", _EVERYONE, 0.0, ())

    @property
    def weight(self) -> float | None:
        """The exposure's largest share (None when the decision keeps the exposure)."""
        return None if self.exposure is None else self.exposure.weight

    def problem(self, segments: Sequence[str] | None = None, check_exposure: bool = True) -> str | None:
        """Why this decision cannot be applied, or None."""
        if self.action not in ("continue", "pause", "rollback", "done"):
            return f"action must be continue, pause, rollback or done, got {short_repr(self.action)}"
        if self.exposure is not None and check_exposure:
            if type(self.exposure) is not Exposure:
                return f"exposure must be a sim.Exposure (not a subclass), got {short_repr(self.exposure)}"
            problem = Exposure.problem(self.exposure, segments)
            if problem:
                return problem
        if self.action == "continue":
            if self.exposure is None:
                return "a continue decision needs an exposure"
            if not (_is_number(self.wait) and MIN_WAIT <= self.wait <= MAX_WAIT):
                shown = short_repr(self.wait)
                return f"wait must be a positive number of seconds (at least {MIN_WAIT}) and finite, got {shown}"
        for text in (self.reason, self.by):
            if text is not None and not isinstance(text, str):
                return f"reason and by must be text, got {short_repr(text)}"
        for names in (self.judges or (), self.reset):
            if not isinstance(names, tuple) or not all(isinstance(name, str) for name in names):
                return f"judge names must be strings, got {short_repr(names)}"
        if self.style is not None:
            if type(self.style) is not RollbackStyle:
                return f"style must be a sim.RollbackStyle (not a subclass), got {short_repr(self.style)}"
            return RollbackStyle.problem(self.style)
        return None


@dataclass(frozen=True)
class VersionStats:
    """Counts one version (or arm) served in some span of scraped telemetry."""

    requests: int = 0
    errors: int = 0
    slow: int = 0

    @property
    def error_rate(self) -> float:
        """Errors per request; NaN when there were no requests."""
        return self.errors / self.requests if self.requests else math.nan

    @property
    def slow_rate(self) -> float:
        """Share of requests slower than the latency objective; NaN without requests."""
        return self.slow / self.requests if self.requests else math.nan

    def __add__(self, other: VersionStats) -> VersionStats:
        return VersionStats(self.requests + other.requests, self.errors + other.errors, self.slow + other.slow)


VERDICTS = ("running", "passed", "failed", "inconclusive")
RUNNING, PASSED, FAILED, INCONCLUSIVE = 0, 1, 2, 3


class JudgeView(NamedTuple):
    """One judge of the strategy, as it stands: verdict, statistic and counts of measurements.

    ``last`` is the result of the latest measurement (``passed``, ``failed``,
    ``inconclusive``) or None; ``running`` says whether the judge runs now.
    """

    name: str = ""
    verdict: str = "running"
    statistic: float = math.nan
    measurements: int = 0
    failures: int = 0
    inconclusive: int = 0
    last: str | None = None
    running: bool = False

    @property
    def failed(self) -> bool:
        return self.verdict == "failed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


AnalysisStatus = JudgeView
"""The name the first contract used for the analysis judge's view."""


@dataclass(frozen=True)
class Alert:
    """A watcher's alarm that the strategy can see (service alert, user-report escalation)."""

    watcher: str
    time: float


class Observation:
    """What a strategy knows when it decides (read-only). Times are seconds since rollout start.

    - ``now``, ``decisions`` (earlier calls), ``exposure`` (current), ``weight``
      (its largest share), ``phase`` (``deciding``, or ``paused`` when asked
      again after a pause), ``rng`` (a numpy Generator of this replication,
      the same for every strategy);
    - ``judges``: name -> JudgeView; ``judge(name)``: one of them (an idle
      view if there is none); ``analysis``: ``judge("analysis")``;
    - ``alerts``: watcher alarms so far;
    - ``canary`` and ``stable``: telemetry received since the last decision;
    - ``telemetry(version, window, segment)``: scraped counts over a window.

    Fields other than ``now``, ``decisions``, ``exposure`` and ``phase`` are
    computed when first read, so a strategy pays only for what it looks at.
    """

    __slots__ = ("_cache", "_judge", "_source", "decisions", "exposure", "now", "phase")

    def __init__(
        self,
        now: float,
        exposure: Exposure,
        decisions: int,
        source: Callable[[str], Any],
        phase: str = "deciding",
        judge: Callable[[str], JudgeView | None] | None = None,
    ) -> None:
        """``source(name)`` computes ``judges``, ``canary``, ``stable``, ``alerts``, ``rng``, ``telemetry``
        or ``judge:NAME``; ``judge(name)``, when given, reads one judge faster than ``source``."""
        _set_now(self, now)
        _set_exposure(self, exposure)
        _set_decisions(self, decisions)
        _set_source(self, source)
        _set_phase(self, phase)
        _set_cache(self, {})
        _set_judge(self, judge)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an Observation is read-only")

    def _get(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._source(name)
        return self._cache[name]

    @property
    def weight(self) -> float:
        return self.exposure.weight

    @property
    def judges(self) -> dict[str, JudgeView]:
        return dict(self._get("judges"))

    @property
    def analysis(self) -> JudgeView:
        return self.judge("analysis")

    def judge(self, name: str) -> JudgeView:
        """One judge's view (an idle view if the strategy has no judge of that name)."""
        if "judges" in self._cache:
            return self._cache["judges"].get(name) or JudgeView(name)
        if self._judge is not None:  # judges change only between decisions: no need to cache
            return self._judge(name) or JudgeView(name)
        return self._get("judge:" + name) or JudgeView(name)

    @property
    def canary(self) -> VersionStats:
        return self._get("canary")

    @property
    def stable(self) -> VersionStats:
        return self._get("stable")

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self._get("alerts")

    @property
    def rng(self) -> np.random.Generator:
        return self._get("rng")

    def telemetry(
        self, version: str = "new", window: float | str | None = None, segment: str | None = None
    ) -> VersionStats:
        """Counts of ``version`` (``new``, ``stable`` or ``baseline``) over the last ``window``
        (seconds or a duration; None: everything received), in one ``segment`` or all."""
        seconds = None if window is None else _seconds("window", window)
        return self._get("telemetry")(version, seconds, segment)


# The slots' own setters: past the read-only __setattr__, and cheaper than object.__setattr__ (one
# Observation per decision).
_set_now, _set_exposure, _set_decisions, _set_source, _set_phase, _set_cache, _set_judge = (
    Observation.__dict__[name].__set__
    for name in ("now", "exposure", "decisions", "_source", "phase", "_cache", "_judge")
)


@dataclass(frozen=True)
class Arm:
    """Telemetry of one arm over a judge's window: arrays with one entry per replication."""

    requests: np.ndarray
    errors: np.ndarray
    slow: np.ndarray
    # Latency histogram (R, len(bounds) + 1) per bucket, the last above every bound; None when the
    # scenario keeps no histograms (telemetry.latency).
    buckets: np.ndarray | None = None
    bounds: tuple[float, ...] = ()

    def latency_quantile(self, q: float) -> np.ndarray:
        """The q-quantile of latency in seconds, as PromQL's ``histogram_quantile`` estimates it from the
        buckets (NaN without requests). Raises ValueError when the scenario keeps no histograms."""
        if self.buckets is None:
            raise ValueError("latency quantiles need histograms: set telemetry.latency in the scenario")
        return histogram_quantile(q, self.bounds, self.buckets)

    @property
    def error_rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.requests > 0, self.errors / np.maximum(self.requests, 1), np.nan)

    @property
    def slow_rate(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.requests > 0, self.slow / np.maximum(self.requests, 1), np.nan)


@dataclass(frozen=True)
class JudgeData:
    """What a judge gets at a scrape, for every replication of a block (arrays of length R).

    ``due``: replications where the judge takes a measurement now (it runs
    and its interval has come round); ``restarted``: replications whose
    judge (re)started since the last call, whose state the judge must clear;
    ``missing``: replications whose latest scrape is missing (no data).
    ``new``, ``stable``, ``baseline``: counts over the judge's ``window``.
    """

    now: float
    due: np.ndarray
    restarted: np.ndarray
    missing: np.ndarray
    new: Arm
    stable: Arm
    baseline: Arm


@dataclass(frozen=True)
class Verdicts:
    """A judge's answer for every replication: arrays of length R.

    ``verdict`` and ``last`` hold codes: 0 running (``last``: no measurement
    yet), 1 passed, 2 failed, 3 inconclusive. ``statistic`` is the judge's own
    number (an error rate, a ratio, a z score).
    """

    verdict: np.ndarray
    statistic: np.ndarray
    last: np.ndarray
    measurements: np.ndarray
    failures: np.ndarray
    inconclusive: np.ndarray = field(default=None)  # type: ignore[assignment]

    def problem(self, replications: int) -> str | None:
        for name in ("verdict", "statistic", "last", "measurements", "failures", "inconclusive"):
            value = getattr(self, name)
            if value is None and name == "inconclusive":
                continue
            if not isinstance(value, np.ndarray) or value.shape != (replications,):
                return f"Verdicts.{name} must be a numpy array of shape ({replications},), got {short_repr(value)}"
            if name == "statistic":
                if value.dtype.kind not in "fiu":
                    return f"Verdicts.statistic must hold numbers, got dtype {value.dtype}"
            elif value.dtype.kind not in "iub":
                return f"Verdicts.{name} must hold integers, got dtype {value.dtype}"
        for codes in (self.verdict, self.last):  # integers (checked above) from 0 to 3
            if len(codes) and (codes.min() < 0 or codes.max() > 3):
                return "Verdicts.verdict and .last must hold codes 0..3"
        return None


@runtime_checkable
class Strategy(Protocol):
    """Anything with this method is a strategy."""

    def decide(self, obs: Observation) -> Decision: ...


@runtime_checkable
class Judge(Protocol):
    """Anything with this method is a judge; optional attributes ``window``, ``interval``,
    ``initial_delay`` (seconds or durations) say what it looks at and when."""

    def measure(self, data: JudgeData) -> Verdicts: ...
