"""Built-in judges, written exactly as a user's judge plugin would be (only ``sim``'s public API).

A judge measures at every interval while it runs and keeps a tally per
replication. Two counting rules, as the real controllers count:

- ``argo`` (Argo Rollouts AnalysisRun): the verdict is failed once
  ``failures > failure_limit`` (cumulative), inconclusive once
  ``inconclusive > inconclusive_limit`` (when a limit is set), passed after
  ``count`` measurements (when set) without failing. A missing scrape is a
  query error (the metric provider did not answer): no measurement, and
  more than ``consecutive_error_limit`` (Argo's default 4) in a row fail the
  run, as Argo's Error phase aborts the rollout.
- ``flagger`` (Flagger): a check with no data (no requests, a missing scrape,
  fewer than ``min_requests``) counts as failed, and the verdict is failed
  once failed checks reach ``threshold``; ``last`` tells the strategy that
  the latest check failed, so it can hold its weight.
"""

from __future__ import annotations

import numpy as np

from sim import FAILED, INCONCLUSIVE, PASSED, RUNNING, JudgeData, Verdicts, parse_duration


def _seconds(name: str, value: str | float) -> float:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class _Tally:
    """Measurement counting with the Argo or Flagger rule; subclasses say what one measurement finds."""

    def __init__(
        self,
        rule: str = "argo",
        failure_limit: int = 0,
        threshold: int = 1,
        inconclusive_limit: int | None = None,
        count: int = 0,
        min_requests: int = 1,
        interval: str | float = "1m",
        window: str | float | None = None,
        initial_delay: str | float = 0.0,
        consecutive_error_limit: int = 4,
    ) -> None:
        if rule not in ("argo", "flagger"):
            raise ValueError(f"rule must be 'argo' or 'flagger', got {rule!r}")
        self.rule = rule
        self.failure_limit = _count("failure_limit", failure_limit, 0)
        self.threshold = _count("threshold", threshold, 1)
        self.inconclusive_limit = (
            None if inconclusive_limit is None else _count("inconclusive_limit", inconclusive_limit, 0)
        )
        self.count = _count("count", count, 0)
        self.consecutive_error_limit = _count("consecutive_error_limit", consecutive_error_limit, 0)
        self.min_requests = _count("min_requests", min_requests, 0)
        self.interval = _seconds("interval", interval)
        self.window = self.interval if window is None else _seconds("window", window)
        self.initial_delay = _seconds("initial_delay", initial_delay)
        if self.interval <= 0 or self.window <= 0:
            raise ValueError("interval and window must be positive durations")
        self._state: dict[str, np.ndarray] | None = None

    def _tallies(self, replications: int) -> dict[str, np.ndarray]:
        if self._state is None:
            zeros = np.zeros(replications, dtype=np.int64)
            self._state = {
                "verdict": zeros.copy(),
                "last": zeros.copy(),
                "measurements": zeros.copy(),
                "failures": zeros.copy(),
                "inconclusive": zeros.copy(),
                "statistic": np.full(replications, np.nan),
            }
            self._errors = zeros.copy()  # consecutive query errors (argo), not part of the verdicts
        return self._state

    def check(self, data: JudgeData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fails, no_data, statistic) for every replication; override in a judge."""
        raise NotImplementedError

    def measure(self, data: JudgeData) -> Verdicts:
        state = self._tallies(len(data.due))
        for values in state.values():
            values[data.restarted] = np.nan if values.dtype.kind == "f" else 0
        self._errors[data.restarted] = 0
        fails, no_data, statistic = self.check(data)
        due = data.due & (state["verdict"] == RUNNING)
        if self.rule == "flagger":
            measured = due
            failed_now = due & (fails | no_data | data.missing)
            unsure_now = np.zeros_like(due)
        else:  # a missing scrape is a query error: no measurement, and too many in a row end the run
            measured = due & ~data.missing
            self._errors[due & data.missing] += 1
            self._errors[measured] = 0
            failed_now = measured & fails & ~no_data
            unsure_now = measured & no_data
        state["measurements"] += measured
        state["failures"] += failed_now
        state["inconclusive"] += unsure_now
        state["last"][measured] = PASSED
        state["last"][unsure_now] = INCONCLUSIVE
        state["last"][failed_now] = FAILED
        state["statistic"][measured] = statistic[measured]
        self._conclude(state, due)
        return Verdicts(**{name: values.copy() for name, values in state.items()})

    def _conclude(self, state: dict[str, np.ndarray], due: np.ndarray) -> None:
        verdict = state["verdict"]
        if self.rule == "flagger":
            failed = state["failures"] >= self.threshold
        else:  # Argo's Error phase (more consecutive errors than the limit) aborts the rollout as Failed does
            failed = (state["failures"] > self.failure_limit) | (self._errors > self.consecutive_error_limit)
        if self.inconclusive_limit is not None:
            verdict[due & (state["inconclusive"] > self.inconclusive_limit)] = INCONCLUSIVE
        if self.count:
            verdict[due & (verdict == RUNNING) & (state["measurements"] >= self.count)] = PASSED
        verdict[due & failed] = FAILED


class Threshold(_Tally):
    """The new version's error rate, success rate, slow share or a latency quantile against fixed limits.

    A measurement fails when the error rate exceeds ``max_error_rate``, the
    success rate (1 - error rate) falls below ``min_success_rate``, the slow
    share exceeds ``max_slow_rate``, or the ``quantile`` of latency (read
    from the histogram buckets as PromQL's ``histogram_quantile`` does; the
    scenario must keep them, ``telemetry.latency``) exceeds ``max_latency``
    seconds; each is optional (``max_error_rate = false`` turns the default
    error-rate limit off). Fewer than ``min_requests`` new-version
    requests in the window is no data. The statistic is the error rate, or
    the latency quantile when only latency is judged.
    """

    def __init__(
        self,
        max_error_rate: float | bool | None = 0.01,
        max_slow_rate: float | None = None,
        min_success_rate: float | None = None,
        max_latency: float | None = None,
        quantile: float = 0.99,
        **tally: object,
    ) -> None:
        super().__init__(**tally)  # type: ignore[arg-type]
        if max_error_rate is False:  # TOML has no null: false leaves the error rate unjudged
            max_error_rate = None
        for name, value in (
            ("max_error_rate", max_error_rate),
            ("max_slow_rate", max_slow_rate),
            ("min_success_rate", min_success_rate),
        ):
            if value is not None and not _number_in(value, 0.0, 1.0):
                raise ValueError(f"{name} must be a rate between 0 and 1, got {value!r}")
        if max_latency is not None and not (_number_in(max_latency, 0.0, 86400.0) and max_latency > 0):
            raise ValueError(f"max_latency must be seconds in (0, 86400], got {max_latency!r}")
        if not (_number_in(quantile, 0.0, 1.0) and 0.0 < quantile < 1.0):
            raise ValueError(f"quantile must be strictly between 0 and 1, got {quantile!r}")
        self.max_error_rate, self.max_slow_rate = max_error_rate, max_slow_rate
        self.min_success_rate, self.max_latency, self.quantile = min_success_rate, max_latency, float(quantile)

    def check(self, data: JudgeData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        new = data.new
        no_data = (new.requests <= 0) | (new.requests < self.min_requests)
        fails = np.zeros(len(data.due), dtype=bool)
        statistic = new.error_rate
        with np.errstate(invalid="ignore"):
            if self.max_error_rate is not None:
                fails |= statistic > self.max_error_rate
            if self.min_success_rate is not None:
                fails |= 1.0 - statistic < self.min_success_rate
            if self.max_slow_rate is not None:
                fails |= new.slow_rate > self.max_slow_rate
            if self.max_latency is not None:
                latency = new.latency_quantile(self.quantile)
                fails |= latency > self.max_latency
                if self.max_error_rate is None and self.min_success_rate is None:
                    statistic = latency
        return fails, no_data, statistic


def _number_in(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


class BaselineRatio(_Tally):
    """The new version's error rate relative to a reference arm (the baseline arm, or stable).

    A measurement fails when ``new > max_ratio * reference + max_difference``;
    either arm with fewer than ``min_requests`` requests is no data. The
    statistic is the ratio of the two error rates (NaN when the reference
    rate is 0).
    """

    def __init__(
        self, against: str = "baseline", max_ratio: float = 2.0, max_difference: float = 0.0, **tally: object
    ) -> None:
        super().__init__(**tally)  # type: ignore[arg-type]
        if against not in ("baseline", "stable"):
            raise ValueError(f"against must be 'baseline' or 'stable', got {against!r}")
        if not (isinstance(max_ratio, (int, float)) and max_ratio >= 1.0):
            raise ValueError(f"max_ratio must be a number >= 1, got {max_ratio!r}")
        if not (isinstance(max_difference, (int, float)) and 0.0 <= max_difference <= 1.0):
            raise ValueError(f"max_difference must be between 0 and 1, got {max_difference!r}")
        self.against, self.max_ratio, self.max_difference = against, float(max_ratio), float(max_difference)

    def check(self, data: JudgeData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        new, reference = data.new, getattr(data, self.against)
        low = max(self.min_requests, 1)
        no_data = (new.requests < low) | (reference.requests < low)
        with np.errstate(invalid="ignore", divide="ignore"):
            fails = new.error_rate > self.max_ratio * reference.error_rate + self.max_difference
            ratio = np.where(reference.error_rate > 0, new.error_rate / reference.error_rate, np.nan)
        return fails & ~no_data, no_data, ratio
