"""The charts of a report, as PNG bytes: a distribution per strategy (``distribution_chart``, with the
two every report draws, users harmed and time to detect), the outcome shares (``outcome_chart``) and a
sweep's trade-off between rollout time and users harmed with its Pareto frontier, whose third objective,
false rollbacks, is written beside each of its points (``tradeoff_chart``).
matplotlib is imported inside the functions, so that only drawing pays for it; no pyplot, and the
same figure always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.durations import duration_unit
from sim.measures import OUTCOMES
from sim.render import axis_label
from sim.report.words import value_text

DPI = 100
MAX_POINTS = 1000  # runs drawn as dots per strategy (a deterministic sample beyond this)
SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
UNIT_WORDS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
OUTCOME_COLORS = {
    "rolled_back": "#4c9a2a",
    "false_rollback": "#e69f00",
    "escaped": "#c0392b",
    "completed": "#3a78b5",
    "stalled": "#9e9e9e",
}


def time_unit(durations: Sequence[float] | pd.Series) -> str:
    """The unit an axis of these durations (seconds) reads best in: that of their median."""
    return duration_unit(float(np.median(durations))) if len(durations) else "m"


def users_harmed_chart(
    title: str, names: list[str], samples: list[np.ndarray] | None, summaries: list[Any] | None, dots: str = "runs"
) -> bytes:
    xlabel = "distinct users harmed (blast radius)"
    return distribution_chart(title, xlabel, names, samples, summaries, counts=True, dots=dots)


def time_to_detect_chart(
    title: str,
    unit: str,
    names: list[str],
    samples: list[np.ndarray] | None,
    summaries: list[Any] | None,
    dots: str = "runs",
) -> bytes:
    xlabel = f"time to detect, from defect onset ({UNIT_WORDS[unit]})"
    return distribution_chart(
        title, xlabel, names, samples, summaries, scale=SECONDS[unit], empty="no detected run", dots=dots
    )


def distribution_chart(
    title: str,
    xlabel: str,
    names: list[str],
    samples: list[np.ndarray] | None,
    summaries: list[dict[str, Any] | None] | None,
    scale: float = 1.0,
    counts: bool = False,
    empty: str = "no value",
    dots: str = "runs",
) -> bytes:
    """One row per strategy: a box (quartiles, whiskers at the 5th and 95th percentiles) and the runs as
    dots when there are samples; the summary's mean with its 95% CI, median and p95 when given."""
    with _style():
        figure = _figure(8.0, 1.4 + 0.6 * len(names))
        axes = figure.add_subplot()
        positions = list(range(len(names)))[::-1]  # the first strategy on top
        drawn: list[float] = []
        glyphs: set[str] = set()  # what the legend explains: only what was drawn
        rng = np.random.default_rng(0)  # the same dots every time
        for index, (name, y) in enumerate(zip(names, positions, strict=True)):
            values = samples[index] / scale if samples is not None else np.empty(0)
            summary = summaries[index] if summaries is not None else None
            if len(values):
                _draw_runs(axes, values, y, rng)
                drawn.extend(values.tolist())
                glyphs.add("box")
            if summary and summary.get("n") and all(summary.get(k) is not None for k in ("mean", "median", "p95")):
                if not len(values):
                    glyphs.add("bar")
                drawn.extend(_draw_summary(axes, summary, y, scale, bar=not len(values)))
                glyphs.add("mean")
            elif not len(values):
                axes.text(0.02, y, f"{name}: {empty}", transform=axes.get_yaxis_transform(), va="center", color="#777")
        xlabel += _scale_x(axes, drawn, counts)
        axes.set_yticks(positions, names)
        axes.set_ylim(-0.7, len(names) - 0.3)
        axes.set_xlabel(xlabel)
        axes.set_title(title, loc="left")
        axes.grid(axis="y", visible=False)
        handles = _distribution_legend(glyphs, dots)
        if handles:
            figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
        return _png(figure)


def _draw_runs(axes: Any, values: np.ndarray, y: float, rng: np.random.Generator) -> None:
    axes.boxplot(
        [values],
        positions=[y],
        orientation="horizontal",
        whis=(5, 95),
        showfliers=False,
        widths=0.5,
        patch_artist=True,
        boxprops={"facecolor": "#dbe8f5", "edgecolor": "#3a78b5"},
        medianprops={"color": "#1f4e79", "linewidth": 2},
        whiskerprops={"color": "#3a78b5"},
        capprops={"color": "#3a78b5"},
    )
    shown = values if len(values) <= MAX_POINTS else rng.choice(values, MAX_POINTS, replace=False)
    jitter = rng.uniform(-0.18, 0.18, len(shown))
    axes.scatter(shown, y + jitter, s=7, color="#3a78b5", alpha=0.3, linewidths=0, zorder=3)


def _draw_summary(axes: Any, summary: dict[str, Any], y: float, scale: float, bar: bool) -> list[float]:
    """The mean with its 95% CI, and (``bar``: the runs are not there) median to p95 as a bar; the
    values drawn."""
    mean, median, p95 = (summary[k] / scale for k in ("mean", "median", "p95"))
    if bar:
        axes.plot([median, p95], [y, y], color="#9ecae1", linewidth=6, solid_capstyle="butt", zorder=2)
        axes.plot([median], [y], marker="|", markersize=16, color="#1f4e79", mew=2.5, zorder=4)
        axes.plot([p95], [y], marker=">", markersize=8, color="#1f4e79", zorder=4)
    ci = summary.get("ci95")
    error = None if ci is None else [[mean - ci[0] / scale], [ci[1] / scale - mean]]
    axes.errorbar([mean], [y], xerr=error, fmt="D", color="black", markersize=6, capsize=4, zorder=5, linewidth=1.5)
    return [mean, median, p95]


def _scale_x(axes: Any, drawn: list[float], counts: bool) -> str:
    """A log x axis when the values span two decades (symlog when they include 0); the label's suffix."""
    if not _log_scale(drawn):
        axes.set_xlim(left=0)
        return ""
    if counts and min(drawn) <= 0:
        axes.set_xscale("symlog", linthresh=1.0)
    elif min(drawn) > 0:
        axes.set_xscale("log")
    else:
        axes.set_xscale("symlog", linthresh=min(v for v in drawn if v > 0))
    return ", log scale"


def _distribution_legend(glyphs: set[str], dots: str) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if "box" in glyphs:
        handles.append(Patch(facecolor="#dbe8f5", edgecolor="#3a78b5", label="quartiles, median; whiskers p5-p95"))
        handles.append(Line2D([], [], marker="o", linestyle="", color="#3a78b5", alpha=0.5, label=dots))
    if "bar" in glyphs:
        handles.append(Line2D([], [], color="#9ecae1", linewidth=6, label="median (|) to p95 (>)"))
    if "mean" in glyphs:
        handles.append(Line2D([], [], marker="D", color="black", label="mean, 95% CI"))
    return handles


def outcome_chart(title: str, names: list[str], shares: list[dict[str, float]]) -> bytes:
    """Stacked horizontal bars: each outcome's share of the runs, per strategy."""
    with _style():
        figure = _figure(8.0, 1.6 + 0.55 * len(names))
        axes = figure.add_subplot()
        positions = list(range(len(names)))[::-1]
        left = np.zeros(len(names))
        for outcome in OUTCOMES:
            widths = np.array([100 * share.get(outcome, 0.0) for share in shares])
            if not widths.any():
                continue
            axes.barh(positions, widths, left=left, color=OUTCOME_COLORS[outcome], label=outcome, height=0.6)
            for y, x, width in zip(positions, left, widths, strict=True):
                if width >= 7:
                    axes.text(x + width / 2, y, f"{width:.0f}%", ha="center", va="center", fontsize=8, color="white")
            left += widths
        axes.set_yticks(positions, names)
        axes.set_xlim(0, 100)
        axes.set_xlabel("share of runs (%)")
        axes.set_title(title, loc="left")
        axes.grid(axis="y", visible=False)
        if axes.get_legend_handles_labels()[0]:  # no outcome at all (a table without them): no legend
            figure.legend(loc="outside lower center", ncols=5, frameon=False, fontsize=8)
        return _png(figure)


def tradeoff_chart(
    candidates: pd.DataFrame,
    group_axes: list[str],
    strategies: list[str],
    chosen: str | None = None,
    horizon_counted: bool = True,
) -> bytes:
    """Per world (setting of the non-strategy axes), a panel: every strategy setting's mean rollout time on the
    healthy release against its mean users harmed on the defective one (``sim.sweeps.settings_table``'s
    ``rollout_time`` and ``users_harmed``); the frontier (column ``frontier``: its number, 0 off it) ringed and
    numbered, with its false-rollback rate, the third objective; ``chosen``, a goal's answer, starred."""
    with _style():
        from matplotlib.lines import Line2D

        groups = list(candidates.groupby("world", sort=False))
        columns = min(3, len(groups))
        rows = -(-len(groups) // columns)
        figure = _figure(max(8.0, 4.3 * columns + 0.6), 3.6 * rows + 0.9 + 0.25 * (len(strategies) // 4))
        unit = time_unit(candidates["rollout_time"].dropna())
        colors = {name: f"C{i % 10}" for i, name in enumerate(strategies)}
        markers = {name: "osD^vP*Xph"[i % 10] for i, name in enumerate(strategies)}
        for index, (_, group) in enumerate(groups):
            axes = figure.add_subplot(rows, columns, index + 1)
            for name in strategies:
                mine = group[group["strategy"] == name]
                x, y = mine["rollout_time"] / SECONDS[unit], mine["users_harmed"]
                axes.scatter(x, y, s=28, color=colors[name], marker=markers[name], alpha=0.8, zorder=3)
            _draw_frontier(axes, group[group["frontier"] > 0], SECONDS[unit])
            if chosen is not None:
                mine = group[group["setting"] == chosen]
                x, y = mine["rollout_time"] / SECONDS[unit], mine["users_harmed"]
                axes.scatter(x, y, s=420, marker="*", facecolors="none", edgecolors="#c0392b", linewidths=1.3, zorder=5)
            log = _log_scale(group["users_harmed"].dropna().tolist())  # per panel: defect sizes differ
            if log:
                axes.set_yscale("symlog", linthresh=1.0)
            else:
                axes.set_ylim(bottom=0)
            first = group.iloc[0]
            label = ", ".join(f"{axis_label(path)} = {value_text(first[path])}" for path in group_axes)
            axes.set_title(label or "all grid points", loc="left")
            counted = "an unfinished run counts as the horizon" if horizon_counted else "over the finished runs"
            axes.set_xlabel(f"rollout time, healthy release ({UNIT_WORDS[unit]})\n{counted}")
            axes.set_ylabel("users harmed, defective release" + (" (log)" if log else ""))
        handles = [
            Line2D([], [], marker=markers[name], linestyle="", color=colors[name], label=name) for name in strategies
        ]
        frontier = "Pareto frontier (fr: false-rollback rate)"
        ring = {"linestyle": "", "markerfacecolor": "none"}
        handles.append(Line2D([], [], marker="o", color="black", markersize=10, label=frontier, **ring))
        if chosen is not None:
            answer = "the goal's answer"
            handles.append(Line2D([], [], marker="*", color="#c0392b", markersize=14, label=answer, **ring))
        ncols = _legend_columns([handle.get_label() for handle in handles], figure.get_figwidth())
        figure.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False)
        figure.suptitle("What caution costs: rollout time against users harmed (means per setting)")
        return _png(figure)


def _legend_columns(labels: list[str], width: float) -> int:
    """The most columns whose labels fit a figure ``width`` inches wide, estimated from the labels' lengths at
    10 points (matplotlib fills a legend column by column, the first ``extra`` columns one label longer)."""
    for ncols in range(len(labels), 1, -1):
        rows, extra = divmod(len(labels), ncols)
        sizes = [rows + 1] * extra + [rows] * (ncols - extra)
        starts = np.cumsum([0, *sizes])
        chunks = [labels[start : start + size] for start, size in zip(starts, sizes, strict=False)]
        needed = sum(0.6 + 0.075 * max(map(len, chunk)) for chunk in chunks if chunk)
        if needed <= width - 0.3:
            return ncols
    return 1


def _draw_frontier(axes: Any, front: pd.DataFrame, seconds: float) -> None:
    """The frontier's settings ringed and numbered (as in its table), each with its false-rollback rate (fr):
    the frontier is over three objectives, so its points are not joined as a staircase of these two. The
    labels go above and below in turn (by rollout time), so that those of neighbours do not overlap."""
    front = front.sort_values(["rollout_time", "users_harmed"], kind="stable")
    x, y = front["rollout_time"] / seconds, front["users_harmed"]
    axes.scatter(x, y, s=130, facecolors="none", edgecolors="black", linewidths=1.4, zorder=4)
    for index, row in enumerate(front.itertuples()):
        axes.annotate(
            f"{row.frontier} fr {100 * row.false_rollback:.3g}%",
            (row.rollout_time / seconds, row.users_harmed),
            xytext=(6, 5 if index % 2 == 0 else -12),
            textcoords="offset points",
            fontsize=7.5,
        )


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """matplotlib's own defaults plus ours, whatever the user's matplotlibrc says; restored afterwards."""
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(
            {
                "font.size": 10,
                "axes.titlesize": 11,
                "axes.spines.top": False,
                "axes.spines.right": False,
                "axes.grid": True,
                "grid.alpha": 0.3,
                "svg.hashsalt": "rollout-sim",
                "path.simplify": True,
            }
        )
        yield


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no interactive backend

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(figure: Any) -> bytes:
    """The figure as PNG bytes, always the same for the same figure (no software tag, no time)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _log_scale(values: Sequence[float]) -> bool:
    """True when the positive values span two decades or more."""
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) >= 100
