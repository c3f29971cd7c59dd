"""Result objects: per-metric summaries with confidence intervals, per-strategy summaries, comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sim.measures import OUTCOMES
from sim.streaming import MetricStream, StrategyStream

JSON_SCHEMA_ID = "rollout-sim/compare/v1"
RUN_SCHEMA_ID = "rollout-sim/run/v2"

# Which runs each summarised metric is taken over: times exist only for runs
# where the event happened, so a never-detected run never adds a made-up time.
METRICS = (
    "blast_radius_users",
    "blast_radius_share",
    "blast_radius_requests",
    "exposed_users",
    "exposed_share",
    "ttd_s",
    "ttm_s",
    "rollout_duration_s",
)


@dataclass(frozen=True)
class MetricSummary:
    """Mean, median, p95 and a t-interval for the mean over the runs where the metric exists."""

    mean: float | None
    median: float | None
    p95: float | None
    ci95: tuple[float, float] | None
    n: int
    values: np.ndarray = field(repr=False, compare=False)
    sd: float | None = field(default=None, repr=False, compare=False)  # when the values were not kept

    @classmethod
    def of(cls, values: Any) -> MetricSummary:
        array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
        array = array[~np.isnan(array)]  # None (the event never happened) is not a value
        if len(array) == 0:
            return cls(None, None, None, None, 0, array)
        mean, median, p95 = float(array.mean()), float(np.median(array)), float(np.percentile(array, 95))
        return cls(mean, median, p95, _t_interval(array, 0.95), len(array), array)

    @classmethod
    def of_stream(cls, stream: MetricStream) -> MetricSummary:
        """From a streamed measure: exact mean and interval; median and p95 from its histogram."""
        if not stream.n:
            return cls(None, None, None, None, 0, np.empty(0))
        interval = _t_from(stream.mean, stream.sd, stream.n, 0.95)
        median, p95 = stream.quantile(0.5), stream.quantile(0.95)
        return cls(stream.mean, median, p95, interval, stream.n, np.empty(0), stream.sd)

    def ci(self, confidence_level: float = 0.95) -> tuple[float, float] | None:
        """Student-t confidence interval for the mean; None with fewer than two values."""
        if len(self.values) == 0 and self.sd is not None and self.mean is not None:
            return _t_from(self.mean, self.sd, self.n, confidence_level)
        return _t_interval(self.values, confidence_level)

    def as_dict(self) -> dict[str, Any]:
        ci = None if self.ci95 is None else [self.ci95[0], self.ci95[1]]
        return {"mean": self.mean, "median": self.median, "p95": self.p95, "ci95": ci, "n": self.n}


def _t_interval(values: np.ndarray, confidence_level: float) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    return _t_from(float(values.mean()), float(values.std(ddof=1)), len(values), confidence_level)


def _t_from(mean: float, sd: float | None, n: int, confidence_level: float) -> tuple[float, float] | None:
    if n < 2 or sd is None:
        return None
    from scipy import stats  # imported here: it costs half a second at every start of the CLI

    half = float(stats.t.ppf(0.5 + confidence_level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


@dataclass(frozen=True)
class StrategySummary:
    """One strategy over all replications of a comparison."""

    name: str
    replications: int
    metrics: dict[str, MetricSummary]
    detection_rate: float | None
    detected: int
    reached: int
    outcomes: dict[str, int]
    caught_by: dict[str, int] = field(default_factory=dict)
    caught_late: int = 0

    @classmethod
    def of(cls, name: str, runs: pd.DataFrame) -> StrategySummary:
        metrics = {metric: MetricSummary.of(runs[metric].tolist()) for metric in METRICS}
        reached = int(runs["onset_s"].notna().sum())
        detected = int((runs["onset_s"].notna() & runs["detection_s"].notna()).sum())
        counts = runs["outcome"].value_counts()
        caught_by = runs["caught_by"].dropna().value_counts()
        return cls(
            name=name,
            replications=len(runs),
            metrics=metrics,
            detection_rate=detected / reached if reached else None,
            detected=detected,
            reached=reached,
            outcomes={outcome: int(counts.get(outcome, 0)) for outcome in OUTCOMES},
            caught_by={str(k): int(v) for k, v in sorted(caught_by.items())},
            caught_late=int(runs["caught_late"].astype(bool).sum()),
        )

    @classmethod
    def of_stream(cls, name: str, stream: StrategyStream) -> StrategySummary:
        """The same summary from a stream (``compare`` past ``STREAM_ABOVE`` runs)."""
        return cls(
            name=name,
            replications=stream.replications,
            metrics={metric: MetricSummary.of_stream(stream.metrics[metric]) for metric in METRICS},
            detection_rate=stream.detected / stream.reached if stream.reached else None,
            detected=stream.detected,
            reached=stream.reached,
            outcomes=stream.outcome_counts(),
            caught_by=dict(sorted(stream.caught_by.items())),
            caught_late=stream.caught_late,
        )

    @property
    def outcome_shares(self) -> dict[str, float]:
        """Each outcome's share of the runs."""
        return {outcome: count / self.replications for outcome, count in self.outcomes.items()}

    @property
    def false_rollback_rate(self) -> float | None:
        """Share of the runs with nothing to catch (the defect never reached anyone before the rollback,
        or the release was healthy) that were rolled back anyway; None if there were none."""
        quiet = sum(self.outcomes[name] for name in ("false_rollback", "completed", "stalled"))
        return self.outcomes["false_rollback"] / quiet if quiet else None

    @property
    def caught_by_shares(self) -> dict[str, float]:
        """Each detector's share of the detected runs."""
        return {name: count / self.detected for name, count in self.caught_by.items()} if self.detected else {}

    def __getattr__(self, metric: str) -> MetricSummary:
        try:
            return self.__dict__["metrics"][metric]
        except KeyError:
            raise AttributeError(metric) from None

    def detection_rate_ci(self, confidence_level: float = 0.95) -> tuple[float, float] | None:
        """Wilson interval for the detection rate (runs the defect reached); None if none did."""
        if not self.reached:
            return None
        from scipy import stats

        interval = stats.binomtest(self.detected, self.reached).proportion_ci(confidence_level, method="wilson")
        return (float(interval.low), float(interval.high))

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {metric: summary.as_dict() for metric, summary in self.metrics.items()}
        document["replications"] = self.replications
        document["detection_rate"] = self.detection_rate
        document["false_rollback_rate"] = self.false_rollback_rate
        document["outcomes"] = dict(self.outcomes)
        document["outcome_shares"] = self.outcome_shares
        document["caught_by"] = dict(self.caught_by)
        document["caught_by_shares"] = self.caught_by_shares
        document["caught_late"] = self.caught_late
        return document


@dataclass(frozen=True)
class Comparison:
    """Strategies run side by side on the same traffic and defect draws."""

    scenario: str
    seed: int
    replications: int
    population: int
    healthy: bool
    runs: pd.DataFrame  # one row per replication x strategy (empty when ``streamed``)
    summaries: dict[str, StrategySummary]
    errors: dict[str, str]
    streamed: bool = False  # past STREAM_ABOVE runs: summaries only; median and p95 within 0.64%

    def to_dict(self) -> dict[str, Any]:
        """The documented ``--json`` document (see docs/json.md)."""
        return {
            "schema": JSON_SCHEMA_ID,
            "scenario": self.scenario,
            "seed": self.seed,
            "replications": self.replications,
            "population": self.population,
            "healthy": self.healthy,
            "strategies": {name: summary.as_dict() for name, summary in self.summaries.items()},
            "errors": dict(self.errors),
            "streamed": self.streamed,
        }


class RunEnd(NamedTuple):
    """Where one strategy's run ends (no timeline row comes after it) and why."""

    time_s: float
    why: str  # "mitigated, nothing changes after", "the horizon" or "the horizon (its harm persists ...)"


@dataclass(frozen=True)
class RunResult:
    """One replication of each strategy, with the timeline of every control step up to the run's end.

    ``timeline`` is what ``rollout-sim run`` prints and ``run --json`` writes: the detection marked
    (``detected by NAME`` or ``false alarm by NAME``) and no row after the run's end; ``ends`` says, per
    strategy that did not fail, where that is and why."""

    scenario: str
    seed: int
    replication: int
    population: int
    measures: pd.DataFrame  # one row per strategy
    timeline: pd.DataFrame  # one row per strategy x control step, up to the run's end
    errors: dict[str, str]
    ends: dict[str, RunEnd] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The documented ``run --json`` document (see docs/json.md)."""
        strategies = {}
        for measures in _plain_records(self.measures):
            name = measures.pop("strategy")
            rows = self.timeline[self.timeline["strategy"] == name].drop(columns="strategy")
            strategies[name] = {"measures": measures, "timeline": _plain_records(rows)}
        return {
            "schema": RUN_SCHEMA_ID,
            "scenario": self.scenario,
            "seed": self.seed,
            "replication": self.replication,
            "population": self.population,
            "strategies": strategies,
            "errors": dict(self.errors),
        }


def _plain(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain_value(value) for key, value in mapping.items()}


def _plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(record) for record in frame.to_dict(orient="records")]


def _plain_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
