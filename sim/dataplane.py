"""The data plane of one strategy over a block: routing, harm and telemetry counters, one tick at a time.

Ticks are fixed (one-minute traffic cells, scrapes, spike and defect edges):
the same for every strategy, never the strategies' decision times. Inside a
tick each replication's exposure is the piecewise-constant schedule its
decisions set; the plane keeps the integral of that schedule, so a tick
draws from time-averaged probabilities, which is exact for Poisson thinning
at a constant rate. Everything is drawn in aggregate per (replication,
cohort, band) with numpy, never per request.

Common random numbers: the traffic and the baseline errors and slow
requests of every request (``Commons``) are drawn once per tick for every
strategy; the split of those errors between the arms is hypergeometric
(exact: a request errs independently of where it is routed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np

from sim.contract import EVERY_SEGMENT, Exposure
from sim.exposure import CAPACITY, Bands
from sim.latency import LatencyModel, split_buckets
from sim.population import BUCKETS, Cohorts
from sim.telemetry import BASELINE, ERRORS, FIRST_BUCKET, NEW, REQUESTS, SLOW, STABLE, metrics


@dataclass(frozen=True)
class Commons:
    """One tick's draws shared by every strategy of a block."""

    start: float
    end: float
    requests: np.ndarray  # (R, C) per cohort
    segment_requests: np.ndarray  # (R, S) the same per segment
    errors: np.ndarray  # (R, S) baseline errors among each segment's requests (any version)
    slow: np.ndarray  # (R, S) baseline slow requests among them
    latency: np.ndarray | None = None  # (R, S, B) their latency histogram, when the scenario keeps one


@dataclass(frozen=True)
class Harm:
    """The defect during one tick: per-cohort harm probability and how it shows."""

    probability: np.ndarray  # (C,)
    test_probability: float  # on test and mirrored traffic that belongs to no segment
    kind: str  # errors | latency | silent
    start: float  # earliest possible onset
    carriers: np.ndarray | None = None  # (R,) 1.0 where the release carries the defect (None: every replication)

    def per_request(self) -> np.ndarray:
        """Harm probability per replication and cohort, (R, C), or (1, C) when every replication carries it."""
        if self.carriers is None:
            return self.probability[None, :]
        return self.carriers[:, None] * self.probability[None, :]

    def per_test_request(self) -> np.ndarray | float:
        """Harm probability of test and mirrored traffic outside the segments, per replication (or one number)."""
        return self.test_probability if self.carriers is None else self.carriers * self.test_probability


class _Layout(NamedTuple):
    """An exposure as the data plane applies it, per segment. Arrays are shared: never written to."""

    threshold: np.ndarray  # (S,) sticky threshold in buckets (user unit), else zeros
    share: np.ndarray  # (S,) share of requests served (request and instance units), else zeros
    arms: np.ndarray  # (2, S) baseline and mirror shares
    preview: float  # test requests per second
    on: bool  # the new version receives any traffic
    full: bool  # it serves every user of every segment


@dataclass
class Span:
    """What one tick produced, per replication."""

    newly_harmed: np.ndarray
    first_on: np.ndarray  # when the new version first received traffic in the tick (NaN: never)
    last_on: np.ndarray


class DataPlane:
    """Ground truth of a block of replications of one strategy: who was served, who was harmed."""

    def __init__(
        self,
        cohorts: Cohorts,
        replications: int,
        routing: np.random.Generator,
        harm: np.random.Generator,
        baseline_rates: tuple[float, float],
        latency: LatencyModel | None = None,
    ) -> None:
        """``baseline_rates``: error and slow rates of every version, for copies (the commons cover the rest);
        ``latency``: the histogram buckets, if the scenario keeps them."""
        self._cohorts = cohorts
        self._starts = cohorts.segment_starts  # (a property that computes it)
        self.latency = latency
        self._routing, self._harm = routing, harm
        self._baseline_rates = baseline_rates
        self._segments = list(cohorts.segment_names)
        segments = len(self._segments)
        self.bands = Bands(cohorts.users, cohorts.segment, segments, replications)
        # Exposure now, per replication and segment: a share of requests (request and instance
        # units) or a sticky threshold in buckets (user unit); their integrals over the tick.
        self._share = np.zeros((replications, segments))
        self._share_integral = np.zeros_like(self._share)
        self._threshold = np.zeros((replications, segments), dtype=np.int64)
        self._pieces: list[tuple[int, int, int, float]] = []  # (r, segment, threshold, seconds) in this tick
        self._arms = np.zeros((replications, 2, segments))  # baseline and mirror shares, now
        self._arms_integral = np.zeros_like(self._arms)
        self._preview = np.zeros(replications)
        self._preview_integral = np.zeros(replications)
        self._changed_at = np.zeros(replications)
        self._tick_start = 0.0
        self._on = np.zeros(replications, dtype=bool)
        self._first_on = np.full(replications, np.nan)
        self._last_on = np.full(replications, np.nan)
        self.exposures = [Exposure.none()] * replications
        self._layouts: dict[Exposure, _Layout] = {}
        self._zeros = (np.zeros(segments, dtype=np.int64), np.zeros(segments), np.zeros((2, segments)))
        self._layout = [self._laid_out(self.exposures[0])] * replications  # what the arrays above hold now
        # (span, bands version, what _close_tick returned) after a tick in which no exposure changed, until one does.
        self._held: tuple | None = None
        self._steady = True  # no exposure changed inside the tick being drawn (a change at its start is fine)
        # Per replication, segment (the last row: test traffic), arm and metric (telemetry.metrics).
        self.counters = np.zeros((replications, segments + 1, 3, metrics(latency)), dtype=np.int64)
        self.requests = np.zeros(replications, dtype=np.int64)  # so far
        self.requests_after_settling = np.zeros(replications, dtype=np.int64)  # the rest, drawn at once
        self.new_requests = np.zeros(replications, dtype=np.int64)
        self.harmed_requests = np.zeros(replications, dtype=np.int64)
        self.harmed_after_mitigation = np.zeros(replications, dtype=np.int64)
        self.onset = np.full(replications, np.nan)
        self.mitigated = np.zeros(replications, dtype=bool)
        self.persistent = False

    # -- the schedule inside a tick -------------------------------------------------

    def set_exposure(self, replication: int, exposure: Exposure, now: float) -> bool:
        """From ``now`` on, replication ``replication`` is exposed as ``exposure`` (validated).

        Returns whether it now serves every user of every segment.
        """
        r = replication
        self._integrate(r, now)
        self._held = None
        self.exposures[r] = exposure
        layout, before = self._laid_out(exposure), self._layout[r]
        self._layout[r] = layout
        # Only the rows that change are written (the zero rows are shared, so most are not).
        if layout.threshold is not before.threshold:
            self._threshold[r] = layout.threshold
        if layout.share is not before.share:
            self._share[r] = layout.share
        if layout.arms is not before.arms:
            self._arms[r] = layout.arms
        if layout.preview != before.preview:
            self._preview[r] = layout.preview
        on = layout.on
        if on and not before.on and math.isnan(self._first_on[r]):
            self._first_on[r] = now
        if before.on and not on:
            self._last_on[r] = now
        self._on[r] = on
        return layout.full

    def _laid_out(self, exposure: Exposure) -> _Layout:
        """What ``exposure`` means per segment; worked out once per distinct exposure (a few per strategy)."""
        layout = self._layouts.get(exposure)
        if layout is None:
            if len(self._layouts) >= 256:  # a strategy with ever new shares: the cache must not grow without end
                self._layouts.clear()
            layout = self._layouts[exposure] = self._lay_out(exposure)
        return layout

    def _lay_out(self, exposure: Exposure) -> _Layout:
        named = dict(exposure.shares)
        default = float(named.get(EVERY_SEGMENT, 0.0))
        values = [float(named.get(segment, default)) for segment in self._segments]
        if exposure.unit == "instance":  # k of n instances, to the nearest (halves up, as replica counts)
            n = exposure.instances
            values = [math.floor(v * n + 0.5) / n for v in values]
        serving, mode = exposure.mode == "serve", exposure.mode
        sticky = serving and exposure.unit == "user"
        thresholds = [round(v * BUCKETS) for v in values] if sticky else []
        shares = values if serving and not sticky else []
        none = [0.0] * len(values)
        arms = [values if exposure.baseline and serving else none, values if mode == "mirror" else none]
        no_threshold, no_share, no_arms = self._zeros  # shared, so that set_exposure sees what did not change
        return _Layout(
            threshold=np.array(thresholds, dtype=np.int64) if any(thresholds) else no_threshold,
            share=np.array(shares) if any(shares) else no_share,
            arms=np.array(arms) if any(arms[0]) or any(arms[1]) else no_arms,
            preview=exposure.preview_rate if mode == "preview" else 0.0,
            on=exposure.preview_rate > 0 if mode == "preview" else any(values),
            full=serving and min(values) >= 1.0,
        )

    def _integrate(self, r: int, now: float) -> None:
        changed_at = self._changed_at[r]
        if now == changed_at:  # the usual change, at a tick: nothing to integrate yet
            return
        self._steady = False
        elapsed = now - changed_at
        if elapsed > 0:
            self._share_integral[r] += self._share[r] * elapsed
            self._arms_integral[r] += self._arms[r] * elapsed
            self._preview_integral[r] += self._preview[r] * elapsed
            for s in np.flatnonzero(self._threshold[r]).tolist():
                self._pieces.append((r, s, int(self._threshold[r, s]), elapsed))
        self._changed_at[r] = now

    def _close_tick(self, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Served probability per band, now and averaged over the tick; baseline and mirror shares;
        and the seconds x rate of preview traffic (arrays to read, never to write)."""
        span = end - self._tick_start
        held = self._held
        if held is not None and held[0] == span and held[1] == self.bands.version:
            # No exposure changed since a tick as long as this one that was steady too, and the bands are
            # the same: every array would come out the same (the integrals are still zero).
            self._changed_at[:] = end
            self._tick_start = end
            return held[2]
        closed = self._close_changed_tick(end, span)
        self._held = None
        if self._steady:  # each exposure held all through this tick: the next ticks may reuse it all
            for array in closed:
                array.flags.writeable = False
            self._held = (span, self.bands.version, closed)
        self._steady = True
        return closed

    def _close_changed_tick(self, end: float, span: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        elapsed = end - self._changed_at
        segment = self._cohorts.segment
        share_total = self._share_integral + self._share * elapsed[:, None]
        if not self._pieces and not self._threshold.any():  # no sticky exposure in this tick
            served_tick = np.broadcast_to(
                (share_total / span)[:, segment, None], (*share_total.shape[:1], len(segment), CAPACITY)
            )
            served_now = np.broadcast_to(self._share[:, segment, None], served_tick.shape)
            return self._close_arms(end, span, elapsed, np.clip(served_tick, 0.0, 1.0), served_now)
        if not self._pieces:
            return self._close_sticky_tick(end, span, elapsed, share_total)
        rows, segments = np.nonzero(self._threshold)
        pieces = np.array(self._pieces, dtype=float).reshape(-1, 4)
        r = np.concatenate([pieces[:, 0].astype(np.int64), rows])
        s = np.concatenate([pieces[:, 1].astype(np.int64), segments])
        thresholds = np.concatenate([pieces[:, 2].astype(np.int64), self._threshold[rows, segments]])
        seconds = np.concatenate([pieces[:, 3], elapsed[rows]])
        self.bands.split(r, s, thresholds, self._routing)
        sticky = np.zeros((*self._share.shape, CAPACITY))
        if len(r):
            inside = self.bands.edges[r, s, 1:] <= thresholds[:, None]
            np.add.at(sticky, (r, s), inside * seconds[:, None])
        served_tick = (share_total[:, :, None] + sticky)[:, segment] / span
        inside_now = (self.bands.edges[:, :, 1:] <= self._threshold[:, :, None]) & (self._threshold[:, :, None] > 0)
        served_now = (self._share[:, :, None] + inside_now)[:, segment]
        return self._close_arms(end, span, elapsed, np.clip(served_tick, 0.0, 1.0), served_now)

    def _close_sticky_tick(
        self, end: float, span: float, elapsed: np.ndarray, share_total: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``_close_tick`` when no threshold changed inside the tick (the usual tick): each replication's
        thresholds held since its last change, so its bands inside them were served for ``elapsed``."""
        threshold = self._threshold
        if not self.bands.are_edges(threshold):
            rows, segments = np.nonzero(threshold)
            self.bands.split(rows, segments, threshold[rows, segments], self._routing)
        inside_now = (self.bands.edges[:, :, 1:] <= threshold[:, :, None]) & (threshold[:, :, None] > 0)
        # What the general case sums from zero, one piece per threshold: 0 + x is x, exactly.
        served_tick = (share_total[:, :, None] + inside_now * elapsed[:, None, None])[:, self._cohorts.segment] / span
        served_now = (self._share[:, :, None] + inside_now)[:, self._cohorts.segment]
        return self._close_arms(end, span, elapsed, np.clip(served_tick, 0.0, 1.0), served_now)

    def _close_arms(
        self, end: float, span: float, elapsed: np.ndarray, served_tick: np.ndarray, served_now: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        arms = (self._arms_integral + self._arms * elapsed[:, None, None]) / span
        preview = self._preview_integral + self._preview * elapsed
        self._share_integral[:] = 0.0
        self._arms_integral[:] = 0.0
        self._preview_integral[:] = 0.0
        self._pieces.clear()
        self._changed_at[:] = end
        self._tick_start = end
        return served_tick, served_now, np.clip(arms, 0.0, 1.0), preview

    # -- a tick ------------------------------------------------------------------------

    def advance(self, commons: Commons, harm: Harm | None) -> Span:
        """Draw everything that happened in every replication during the tick ``commons`` covers."""
        served_tick, served_now, arms, preview_seconds = self._close_tick(commons.end)
        first_on = np.where(self._on & np.isnan(self._first_on), commons.start, self._first_on)
        last_on = np.where(self._on, commons.end, self._last_on)
        used = self.bands.used
        requests = commons.requests
        probability = served_tick[:, :, :used] if used == 1 else self._landing(used) * served_tick[:, :, :used]
        new = self._route(requests, probability)  # (R, C, used)
        new_total = new[:, :, 0] if used == 1 else new.sum(axis=2)
        baseline, mirrored, preview = self._arm_requests(requests, new_total, probability, arms, preview_seconds)
        harmed = None if harm is None else self._harm.binomial(new, harm.per_request()[:, :, None])
        if harm is not None:
            self._find_onset(new, mirrored, preview, harm, first_on, last_on, commons)
        newly_harmed = self.bands.record(new, harmed, self._routing)
        harmed_total = None if harmed is None else (harmed[:, :, 0] if used == 1 else harmed.sum(axis=2))
        if self.persistent and harm is not None:
            self._persistent_harm(requests, harm)
        self.requests += requests.sum(axis=1)
        self.new_requests += new_total.sum(axis=1)
        if harmed_total is not None:
            self.harmed_requests += harmed_total.sum(axis=1)
        self._count(commons, new_total, harmed_total, baseline, harm)
        if mirrored is not None or preview is not None:
            self._count_copies(mirrored, preview, harm)
        self.bands.merge_alike(served_now, served_tick, self.mitigated)
        self._first_on = np.where(self._on, commons.end, np.nan)
        self._last_on[:] = np.nan
        return Span(newly_harmed, first_on, last_on)

    def _arm_requests(
        self, requests: np.ndarray, new: np.ndarray, probability: np.ndarray, arms: np.ndarray, preview: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Baseline-arm requests, mirrored copies (R, C) and preview test requests (R,); None where there are none."""
        if not arms.any() and not preview.any():
            return None, None, None
        segment = self._cohorts.segment
        baseline_share, mirror_share = arms[:, 0][:, segment], arms[:, 1][:, segment]
        rest = requests - new
        baseline = None
        if baseline_share.any():
            stable_side = np.clip(1.0 - probability.sum(axis=2), 1e-12, 1.0)
            baseline = self._routing.binomial(rest, np.clip(baseline_share / stable_side, 0.0, 1.0))
            rest = rest - baseline
        mirrored = self._routing.binomial(rest, mirror_share) if mirror_share.any() else None
        tests = self._routing.poisson(preview) if preview.any() else None
        return baseline, mirrored, tests

    def draw_total(self, expected: float) -> np.ndarray:
        """Poisson totals per replication (traffic after a block settled: only its count matters)."""
        return self._routing.poisson(expected, size=len(self.requests))

    def _landing(self, used: int) -> np.ndarray:
        """Probability that a cohort's request comes from each band (its share of the cohort's users)."""
        sizes = np.maximum(self._cohorts.users, 1)[None, :, None]
        return self.bands.users[:, :, :used] / sizes

    def _route(self, requests: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """New-version requests per replication, cohort and band."""
        if not probabilities.any():
            return np.zeros((*requests.shape, probabilities.shape[2]), dtype=np.int64)
        if probabilities.shape[2] == 1:
            return self._routing.binomial(requests[:, :, None], probabilities)
        rest = np.clip(1.0 - probabilities.sum(axis=2, keepdims=True), 0.0, 1.0)
        split = self._routing.multinomial(requests, np.concatenate([probabilities, rest], axis=2))
        return split[:, :, :-1]

    def _find_onset(
        self,
        new: np.ndarray,
        mirrored: np.ndarray | None,
        preview: np.ndarray | None,
        harm: Harm,
        first_on: np.ndarray,
        last_on: np.ndarray,
        commons: Commons,
    ) -> None:
        """Defect onset: the first request the defect can act on reaching the new version (served or copied)."""
        unseen = np.isnan(self.onset)
        if not unseen.any():  # every onset found already (what follows draws nothing then)
            return
        reachable_cohort = harm.probability > 0
        reachable = new[:, reachable_cohort].sum(axis=(1, 2))
        if mirrored is not None:
            reachable = reachable + mirrored[:, reachable_cohort].sum(axis=1)
        if harm.test_probability > 0 and preview is not None:
            reachable = reachable + preview
        if harm.carriers is not None:  # a healthy release of the mix has no defect to reach
            reachable = np.where(harm.carriers > 0, reachable, 0)
        first_time = unseen & (reachable > 0)
        if first_time.any():
            # The first of n arrival times, uniform over the part of the tick when the new version had traffic
            # (approximation: uniform there whatever the share): start + span * Beta(1, n).
            low = np.maximum(np.nan_to_num(first_on[first_time], nan=commons.start), harm.start)
            high = np.maximum(np.nan_to_num(last_on[first_time], nan=commons.end), low)
            first = -np.expm1(np.log(self._harm.random(int(first_time.sum()))) / reachable[first_time])
            self.onset[first_time] = low + (high - low) * first

    def _persistent_harm(self, requests: np.ndarray, harm: Harm | None) -> None:
        """After mitigation, a persistent defect keeps harming the requests of users it harmed."""
        if not self.mitigated.any():
            return
        rows = self.mitigated
        harmed_users = self.bands.harmed_per_cohort()[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self._cohorts.users > 0, harmed_users / np.maximum(self._cohorts.users, 1), 0.0)
        theirs = self._harm.binomial(requests[rows], np.clip(share, 0.0, 1.0))
        extra = self._harm.binomial(theirs, np.broadcast_to(harm.per_request(), requests.shape)[rows]).sum(axis=1)
        self.harmed_requests[rows] += extra
        self.harmed_after_mitigation[rows] += extra

    def _count(
        self,
        commons: Commons,
        new: np.ndarray,
        harmed: np.ndarray | None,
        baseline: np.ndarray | None,
        harm: Harm | None,
    ) -> None:
        """Telemetry per segment and arm: requests, errors (baseline plus visible defect), slow requests."""
        starts = self._starts
        requests = commons.segment_requests
        new = np.add.reduceat(new, starts, axis=1)
        stable = requests - new
        counts = self.counters[:, :-1]
        counts[:, :, NEW, REQUESTS] += new
        if baseline is not None:
            baseline = np.add.reduceat(baseline, starts, axis=1)
            stable = stable - baseline
            counts[:, :, BASELINE, REQUESTS] += baseline
        counts[:, :, STABLE, REQUESTS] += stable
        if harmed is not None:
            harmed = np.add.reduceat(harmed, starts, axis=1)
        visible = {"errors": ERRORS, "latency": SLOW}.get(harm.kind) if harm is not None else None
        others = requests - new
        split = self._error_split(new, others)
        for metric, drawn in ((ERRORS, commons.errors), (SLOW, commons.slow)):
            # Which of the requests that erred anyway were routed where: hypergeometric.
            on_new = split(drawn)
            rest = drawn - on_new
            if baseline is not None:
                on_baseline = self._harm.hypergeometric(baseline, stable, rest)
                counts[:, :, BASELINE, metric] += on_baseline
                rest = rest - on_baseline
            counts[:, :, STABLE, metric] += rest
            if metric == visible and harmed is not None and harmed.any():
                # A harmed request shows (as an error, or slow) whatever else happened to it.
                on_new = self._harm.hypergeometric(new - harmed, harmed, on_new) + harmed
            counts[:, :, NEW, metric] += on_new
        if commons.latency is not None:
            self._count_latency(commons.latency, new, baseline, harmed if visible == SLOW else None)

    def _count_latency(
        self, drawn: np.ndarray, new: np.ndarray, baseline: np.ndarray | None, slowed: np.ndarray | None
    ) -> None:
        """Split the tick's latency histogram between the arms, as the errors are; harmed requests of a
        latency defect take their latency from the slowed distribution instead."""
        counts = self.counters[:, :-1, :, FIRST_BUCKET:]
        on_new = split_buckets(self._harm, drawn, new)
        rest = drawn - on_new
        if baseline is not None:
            on_baseline = split_buckets(self._harm, rest, baseline)
            counts[:, :, BASELINE] += on_baseline
            rest = rest - on_baseline
        counts[:, :, STABLE] += rest
        if slowed is not None and slowed.any():
            healthy_latency = on_new - split_buckets(self._harm, on_new, slowed)
            on_new = healthy_latency + self._harm.multinomial(slowed, self.latency.slowed)
        counts[:, :, NEW] += on_new

    def _error_split(self, new: np.ndarray, others: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """A function of ``drawn`` requests that erred anyway: how many were among the ``new`` ones
        (hypergeometric). Worked out once for the errors and the slow requests of a tick."""
        if not new.any():
            return np.zeros_like  # (drawn has new's shape and dtype)
        if not others.any():  # everything went to the new version
            return np.copy
        return partial(self._harm.hypergeometric, new, others)

    def _count_copies(self, mirrored: np.ndarray | None, preview: np.ndarray | None, harm: Harm | None) -> None:
        """Mirrored and test requests reach only the new version's telemetry (copies serve nobody)."""
        visible = harm.kind if harm is not None else "silent"
        if mirrored is not None:
            hits = self._harm.binomial(mirrored, harm.per_request()) if harm is not None else mirrored * 0
            starts = self._starts
            self._count_copy(
                self.counters[:, :-1],
                np.add.reduceat(mirrored, starts, axis=1),
                np.add.reduceat(hits, starts, axis=1),
                visible,
            )
        if preview is not None:
            hits = self._harm.binomial(preview, harm.per_test_request()) if harm is not None else preview * 0
            self._count_copy(self.counters[:, -1], preview, hits, visible)

    def _count_copy(self, counters: np.ndarray, count: np.ndarray, hits: np.ndarray, visible: str) -> None:
        counters[..., NEW, REQUESTS] += count
        if self.latency is not None:
            slowed = hits if visible == "latency" else np.zeros_like(hits)
            counters[..., NEW, FIRST_BUCKET:] += self._harm.multinomial(count - slowed, self.latency.healthy)
            counters[..., NEW, FIRST_BUCKET:] += self._harm.multinomial(slowed, self.latency.slowed)
        for metric, rate, kind in (
            (ERRORS, self._baseline_rates[0], "errors"),
            (SLOW, self._baseline_rates[1], "latency"),
        ):
            counters[..., NEW, metric] += self._harm.binomial(count - hits, rate) + (hits if visible == kind else 0)
