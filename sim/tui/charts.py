"""Charts of a comparison for the results screen: users harmed, time to detect, outcomes, rollout time vs harm.

Each chart is a ``PlotextPlot`` that draws itself at render time, so it fits
the space it is given and takes its colours from the current theme (strategy
and outcome colours are theme variables: ``$primary``, ``$success``...).
Every series also has its own character (a row of its own, a marker, a bar
shade), so the charts still read under NO_COLOR. The numbers behind the
charts (bins, axes, captions) are plain functions, tested without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rich.markup import escape
from textual.app import ComposeResult, RenderResult
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from sim.measures import OUTCOMES
from sim.results import Comparison

Kind = Literal["count", "duration"]

STRATEGY_COLOURS = ("primary", "accent", "success", "secondary", "error", "warning")
"""Theme variables the strategies take their colours from, in the scenario's order (then again)."""
STRATEGY_MARKERS = ("●", "◆", "▲", "■", "✚", "✖", "○", "◇")
OUTCOME_LOOK = {  # outcome -> (theme variable, bar shade): shades tell them apart without colour
    "completed": ("success", "█"),
    "rolled_back": ("warning", "▓"),
    "escaped": ("error", "▒"),
    "false_rollback": ("primary", "░"),
    "stalled": ("secondary", "▚"),
}
RIDGE = 0.8
"""Height of a strategy's tallest bar in its row (rows are 1 apart)."""

HARMLESS = "no user was harmed in any run"
UNDETECTED = "no run detected anything (see below)"

Palette = Callable[[str], tuple[int, int, int]]
"""A theme variable's colour as RGB (what plotext takes)."""


# -- axes ------------------------------------------------------------------------------------


def count_label(value: float) -> str:
    """``7``, ``250``, ``1.2k``, ``76k``, ``1.5M``."""
    value = float(value)
    if abs(value) < 1000:
        return f"{value:.0f}" if value == round(value) or abs(value) >= 10 else f"{value:.1f}"
    for limit, suffix in ((1e6, "k"), (1e9, "M"), (math.inf, "G")):
        if abs(value) < limit:
            scaled = value / (limit / 1000)
            return f"{scaled:.1f}{suffix}" if abs(scaled) < 10 and scaled != round(scaled) else f"{scaled:.0f}{suffix}"
    raise AssertionError("unreachable")


def duration_label(seconds: float) -> str:
    """``45s``, ``2m30s``, ``1h``, ``1h30m``, ``2d``: at most two units, whole numbers."""
    if seconds < 10 and seconds != round(seconds):
        return f"{seconds:.1f}s"
    left = round(seconds)
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        amount, left = divmod(left, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts[:2]) or "0s"


LOG_TICKS: dict[Kind, tuple[tuple[float, ...], ...]] = {  # the first tier that gives 3 ticks is used
    "count": (
        (0.0, *(10.0**e for e in range(10))),
        (0.0, *(m * 10.0**e for e in range(10) for m in (1, 2, 5))),
    ),
    "duration": (
        (0, 1, 10, 60, 600, 3600, 6 * 3600, 86400, 604800),
        (0, 1, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 604800),
    ),
}
LINEAR_STEPS: dict[Kind, tuple[float, ...]] = {
    "count": tuple(m * 10**e for e in range(10) for m in (1, 2, 5)),  # whole users, whole runs
    "duration": (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400),
}


@dataclass(frozen=True)
class Axis:
    """A value axis: linear, or ``log10(1 + value)`` when the values span orders of magnitude."""

    low: float  # plot coordinates
    high: float
    log: bool
    kind: Kind = "count"

    @classmethod
    def fit(
        cls, values: Sequence[float] | np.ndarray, kind: Kind = "count", spread: float = 20.0, zero: bool = False
    ) -> Axis:
        """An axis holding every finite value (and 0 with ``zero``); logarithmic when the largest is
        ``spread`` times the smallest."""
        array = np.asarray(values, dtype=float)
        array = array[np.isfinite(array)]
        if zero:
            array = np.append(array, 0.0)
        if not len(array):
            return cls(0.0, 1.0, False, kind)
        low, high = float(array.min()), float(array.max())
        log = low >= 0 and high >= spread * max(low, 1.0)
        if log:
            low, high = math.log10(1 + low), math.log10(1 + high)
        if high == low:
            pad = max(abs(high) * 0.1, 0.5 if log else 1.0)
            return cls(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad, log, kind)
        pad = (high - low) * 0.05
        return cls(low - pad, high + pad, log, kind)

    def at(self, values: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """Plot coordinates of values."""
        array = np.asarray(values, dtype=float)
        return np.log10(1 + np.maximum(array, 0)) if self.log else array

    def ticks(self, most: int = 6) -> tuple[list[float], list[str]]:
        """Tick positions (plot coordinates) and labels: round values, at most ``most`` of them."""
        if self.log:
            gap = (self.high - self.low) / most
            for tier in LOG_TICKS[self.kind]:
                candidates = sorted(v for v in tier if self.low <= float(self.at(v)) <= self.high)
                kept: list[float] = []
                values: list[float] = []
                for value in candidates:
                    position = float(self.at(value))
                    if not kept or position - kept[-1] >= gap:
                        kept.append(position)
                        values.append(value)
                if len(kept) >= 3:
                    break
        else:
            span = self.high - self.low
            step = next((s for s in LINEAR_STEPS[self.kind] if s >= span / most), LINEAR_STEPS[self.kind][-1])
            first = math.ceil(self.low / step) * step
            values = [first + i * step for i in range(int((self.high - first) / step) + 1)]
            kept = values
        label = count_label if self.kind == "count" else duration_label
        labels = [label(v) for v in values]
        if len(set(labels)) < len(labels):  # close ticks on big values: 76k, 76k -> 75,500, 76,000
            labels = [f"{v:,.0f}" if self.kind == "count" else f"{v:,.0f}s" for v in values]
        return kept, labels


# -- what the charts show ------------------------------------------------------------------------


def strategy_values(comparison: Comparison, column: str) -> dict[str, np.ndarray]:
    """Per strategy (in the comparison's order), the column's values over its runs (NaN: no value)."""
    runs = comparison.runs
    values = {}
    for name in comparison.summaries:
        if len(runs) and column in runs:
            values[name] = runs.loc[runs["strategy"] == name, column].to_numpy(dtype=float, na_value=np.nan)
        else:
            values[name] = np.empty(0)
    return values


@dataclass(frozen=True)
class Ridge:
    """One strategy's histogram on a shared axis: bar edges (plot coordinates) and heights (0 to 1)."""

    name: str
    edges: np.ndarray
    heights: np.ndarray
    count: int  # values counted (finite ones)
    missing: int  # runs without a value (NaN)


def ridges(values: dict[str, np.ndarray], axis: Axis, bins: int) -> list[Ridge]:
    """Histograms of every strategy over the same bins, each scaled to its own tallest bar."""
    edges = np.linspace(axis.low, axis.high, max(bins, 1) + 1)
    result = []
    for name, array in values.items():
        finite = array[np.isfinite(array)]
        counts, _ = np.histogram(axis.at(finite), edges) if len(finite) else (np.zeros(len(edges) - 1), edges)
        top = counts.max() if len(counts) else 0
        heights = counts / top if top else counts.astype(float)
        result.append(Ridge(name, edges, heights, len(finite), len(array) - len(finite)))
    return result


def outcome_shares(comparison: Comparison) -> dict[str, dict[str, float]]:
    """Per strategy, each outcome's share of its runs."""
    return {name: summary.outcome_shares for name, summary in comparison.summaries.items()}


def not_detected(comparison: Comparison) -> dict[str, tuple[int, int]]:
    """Per strategy: runs without a time to detect (NaN), and runs."""
    if comparison.streamed:  # no runs kept: the counts come from the summaries
        return {n: (s.replications - s.metrics["ttd_s"].n, s.replications) for n, s in comparison.summaries.items()}
    values = strategy_values(comparison, "ttd_s")
    return {name: (int(np.isnan(array).sum()), len(array)) for name, array in values.items()}


def strategy_look(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Per strategy: its theme variable and its marker."""
    return {
        name: (STRATEGY_COLOURS[i % len(STRATEGY_COLOURS)], STRATEGY_MARKERS[i % len(STRATEGY_MARKERS)])
        for i, name in enumerate(names)
    }


# -- drawing ---------------------------------------------------------------------------------------


def _frame(plt: Plot, title: str) -> None:
    plt.title(title)
    plt.frame(True)


def draw_ridges(
    plt: Plot,
    width: int,
    values: dict[str, np.ndarray],
    kind: Kind,
    title: str,
    colour: Palette,
    nothing: str = "no value in any run",
) -> None:
    """One row per strategy (the first on top), its histogram rising from the row's baseline; ``nothing``
    written instead when no run has a value (a count: none other than 0)."""
    _frame(plt, title)
    names = list(values)
    every = np.concatenate([v for v in values.values()]) if names else np.empty(0)
    if not np.any(np.isfinite(every) & ((every != 0) if kind == "count" else True)):
        _say(plt, nothing)
        return
    axis = Axis.fit(every, kind)
    look = strategy_look(names)
    runs = max((int(np.isfinite(v).sum()) for v in values.values()), default=0)
    bins = max(10, min(round(3 * math.sqrt(runs)), width - 16))  # 64 runs: 24 bins; 10,000: one per column
    for row, ridge in enumerate(ridges(values, axis, bins=bins)):
        base = len(names) - 1 - row
        for left, right, height in zip(ridge.edges[:-1], ridge.edges[1:], ridge.heights, strict=True):
            if height > 0:
                plt.rectangle(
                    [left, right],
                    [base, base + RIDGE * height],
                    marker="█",
                    color=colour(look[ridge.name][0]),
                    fill=True,
                )
    plt.yticks([len(names) - 1 - row + RIDGE / 2 for row in range(len(names))], names)
    plt.ylim(-0.1, max(len(names), 1) - 0.1)
    plt.xlim(axis.low, axis.high)
    plt.xticks(*axis.ticks(max(2, (width - 16) // 10)))


def _say(plt: Plot, text: str) -> None:
    """A chart with nothing to draw: the reason, in its middle."""
    plt.xlim(0, 1)
    plt.ylim(0, 1)
    plt.xticks([], [])
    plt.yticks([], [])
    plt.text(text, 0.5, 0.5, alignment="center")


def draw_outcomes(plt: Plot, width: int, comparison: Comparison, colour: Palette) -> None:
    """A bar per strategy (the first on top), split into the shares of each outcome."""
    _frame(plt, "how the runs ended (share of runs)")
    shares = outcome_shares(comparison)
    names = list(shares)
    for row, name in enumerate(names):
        centre, left = len(names) - 1 - row, 0.0
        for outcome in OUTCOMES:
            share = shares[name].get(outcome, 0.0)
            if share > 0:
                variable, shade = OUTCOME_LOOK.get(outcome, ("foreground", "#"))
                box = [centre - 0.3, centre + 0.3]
                plt.rectangle([left, left + share], box, marker=shade, color=colour(variable), fill=True)
                left += share
    plt.yticks(list(range(len(names) - 1, -1, -1)), names)
    plt.ylim(-0.6, max(len(names), 1) - 0.4)
    plt.xlim(0, 1)
    tick_count = 5 if width >= 50 else 3
    positions = [i / (tick_count - 1) for i in range(tick_count)]
    plt.xticks(positions, [f"{100 * p:.0f}%" for p in positions])


def draw_tradeoff(plt: Plot, width: int, comparison: Comparison, colour: Palette) -> None:
    """Rollout time against users harmed: a marker per run that completed (per strategy mean when streamed)."""
    _frame(plt, "rollout time vs users harmed (runs that completed)")
    points = tradeoff_points(comparison)
    xs = np.concatenate([p[0] for p in points.values()]) if points else np.empty(0)
    ys = np.concatenate([p[1] for p in points.values()]) if points else np.empty(0)
    x_axis, y_axis = Axis.fit(xs, "duration", zero=True), Axis.fit(ys, "count", zero=True)
    look = strategy_look(list(comparison.summaries))
    for name, (x, y) in points.items():
        if len(x):
            variable, marker = look[name]
            plt.scatter(list(x_axis.at(x)), list(y_axis.at(y)), marker=marker, color=colour(variable))
    plt.xlim(x_axis.low, x_axis.high)
    plt.ylim(y_axis.low, y_axis.high)
    plt.xticks(*x_axis.ticks(max(2, (width - 12) // 10)))
    plt.yticks(*y_axis.ticks(4))
    plt.xlabel("rollout time")


def tradeoff_points(comparison: Comparison) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per strategy: rollout time and users harmed of each run that completed its rollout."""
    if comparison.streamed:
        result = {}
        for name, summary in comparison.summaries.items():
            duration, harmed = summary.metrics["rollout_duration_s"].mean, summary.metrics["blast_radius_users"].mean
            ok = duration is not None and harmed is not None
            result[name] = (np.array([duration] if ok else []), np.array([harmed] if ok else []))
        return result
    durations = strategy_values(comparison, "rollout_duration_s")
    harmed = strategy_values(comparison, "blast_radius_users")
    result = {}
    for name in durations:
        keep = np.isfinite(durations[name]) & np.isfinite(harmed[name])
        result[name] = (durations[name][keep], harmed[name][keep])
    return result


# -- captions (Textual markup: theme variables, names escaped) ------------------------------------------


def _swatch(variable: str, text: str) -> str:
    return f"[${variable}]{escape(text)}[/]"


def harm_caption(comparison: Comparison) -> str:
    values = strategy_values(comparison, "blast_radius_users")
    means = [f"{escape(n)} {count_label(float(np.nanmean(v)))}" for n, v in values.items() if np.isfinite(v).any()]
    return "users harmed per run; each strategy's row is its histogram. Mean: " + ", ".join(means)


def detection_caption(comparison: Comparison) -> str:
    missing = not_detected(comparison)
    parts = [f"{escape(name)} {nan} of {runs}" for name, (nan, runs) in missing.items()]
    return "[b]not detected[/b] (no time to detect): " + ", ".join(parts)


def outcome_caption(comparison: Comparison) -> str:
    """The legend: the shade of each outcome that happened."""
    parts = []
    for outcome in OUTCOMES:
        if any(summary.outcomes.get(outcome, 0) for summary in comparison.summaries.values()):
            variable, shade = OUTCOME_LOOK.get(outcome, ("foreground", "#"))
            parts.append(f"{_swatch(variable, shade * 2)} {outcome}")
    return "  ".join(parts)


def tradeoff_caption(comparison: Comparison) -> str:
    look = strategy_look(list(comparison.summaries))
    points = tradeoff_points(comparison)
    parts = []
    for name, summary in comparison.summaries.items():
        variable, marker = look[name]
        duration = summary.metrics["rollout_duration_s"]
        harmed = summary.metrics["blast_radius_users"]
        if len(points[name][0]):
            runs = f"{duration.n} of {summary.replications} runs" if duration.n < summary.replications else "every run"
            text = f"rollout {duration_label(duration.mean)} ({runs}), {count_label(harmed.mean or 0)} harmed"
        else:
            ends = ", ".join(f"{count} {outcome}" for outcome, count in summary.outcomes.items() if count)
            text = f"never completed ({ends})"
        parts.append(f"{_swatch(variable, marker)} {escape(name)}: {text}")
    return "  ".join(parts)


# -- widgets ---------------------------------------------------------------------------------------


class Chart(PlotextPlot):
    """A plotext chart drawn at render time by ``draw(plt, width, palette)``."""

    DEFAULT_CSS = """
    Chart {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, draw: Callable[[Plot, int, Palette], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._draw = draw

    def colour(self, variable: str) -> tuple[int, int, int]:
        """The theme variable's colour (the foreground's if the theme has no such colour)."""
        variables = self.app.theme_variables
        for value in (variables.get(variable), variables.get("foreground")):
            try:
                return Color.parse(value).rgb if value else Color.parse("#808080").rgb
            except ColorParseError:
                continue
        return (128, 128, 128)

    def render(self) -> RenderResult:
        self.plt.clear_figure()
        self._draw(self.plt, self.size.width, self.colour)
        return super().render()


class ChartPanel(Vertical):
    """A chart with its caption (what it shows in words: legend, runs without a value)."""

    DEFAULT_CSS = """
    ChartPanel {
        height: 45vh;
        min-height: 14;
    }
    ChartPanel > .caption {
        height: auto;
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, chart: Chart, caption: str, *, rows: int = 3, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart")
        self._chart, self._caption = chart, caption
        self.styles.min_height = max(14, 2 * rows + 8)

    def compose(self) -> ComposeResult:
        yield self._chart
        yield Static(self._caption, classes="caption")


def comparison_charts(comparison: Comparison) -> list[ChartPanel]:
    """The results screen's charts, in reading order (without the distributions when the runs were not kept)."""
    rows = len(comparison.summaries)
    panels = []
    if not comparison.streamed:
        harm = strategy_values(comparison, "blast_radius_users")
        detect = strategy_values(comparison, "ttd_s")
        panels += [
            ChartPanel(
                Chart(
                    lambda plt, w, c: draw_ridges(plt, w, harm, "count", "users harmed per run", c, HARMLESS),
                    id="harm-chart",
                ),
                harm_caption(comparison),
                rows=rows,
                id="harm-panel",
            ),
            ChartPanel(
                Chart(
                    lambda plt, w, c: draw_ridges(plt, w, detect, "duration", "time to detect", c, UNDETECTED),
                    id="ttd-chart",
                ),
                detection_caption(comparison),
                rows=rows,
                id="ttd-panel",
            ),
        ]
    panels += [
        ChartPanel(
            Chart(lambda plt, width, colour: draw_outcomes(plt, width, comparison, colour), id="outcomes-chart"),
            outcome_caption(comparison),
            rows=rows // 2,
            id="outcomes-panel",
        ),
        ChartPanel(
            Chart(lambda plt, width, colour: draw_tradeoff(plt, width, comparison, colour), id="tradeoff-chart"),
            tradeoff_caption(comparison),
            rows=4,
            id="tradeoff-panel",
        ),
    ]
    return panels
