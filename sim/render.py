"""Terminal tables for comparisons and timelines (rich renderables; no printing here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sim.durations import duration_unit, format_clock, format_duration
from sim.measures import OUTCOMES
from sim.results import Comparison, MetricSummary

if TYPE_CHECKING:
    from sim.power import PowerCurve

Formatter = Callable[[float, float], str]
"""Formats a value the way its companion ``like`` is formatted (a CI half-width like its mean)."""


def _count(value: float, like: float | None = None) -> str:
    return f"{value:,.0f}" if (value if like is None else like) >= 100 else f"{value:,.1f}"


def _percent(value: float, like: float | None = None) -> str:
    reference = abs(100 * (value if like is None else like))
    decimals = 2 if reference == 0 else max(0, 2 - math.floor(math.log10(reference)))
    return f"{100 * value:.{decimals}f}%"


def _duration(value: float, like: float | None = None) -> str:
    return format_duration(value, duration_unit(value if like is None else like))


# Labels fit an 80-column terminal (workshop projectors); the caption names the DESIGN.md terms.
ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("blast_radius_users", "users harmed", _count),
    ("blast_radius_share", "% users harmed", _percent),
    ("blast_radius_requests", "requests harmed", _count),
    ("exposed_users", "users exposed", _count),
    ("exposed_share", "% users exposed", _percent),
    ("ttd_s", "time to detect", _duration),
    ("ttm_s", "time to mitigate", _duration),
    ("rollout_duration_s", "rollout time", _duration),
)


def _cells(summary: MetricSummary, fmt: Formatter) -> list[str]:
    if summary.n == 0:
        return ["-", "-", "-", "0"]
    mean = fmt(summary.mean)
    if summary.ci95 is not None:
        mean += f" ± {fmt((summary.ci95[1] - summary.ci95[0]) / 2, summary.mean)}"
    return [mean, fmt(summary.median), fmt(summary.p95), str(summary.n)]


def comparison_table(comparison: Comparison) -> Table:
    """Every measure of every strategy: mean ± 95% CI half-width, median, p95, and runs counted."""
    table = Table(
        title=f"{escape(comparison.scenario)}: {comparison.replications} replications, seed {comparison.seed}",
        caption="blast radius = users and requests harmed; detect and mitigate times count from defect onset, "
        "rollout time from start; n = runs with a value",
    )
    for header in ("measure", "strategy", "mean ± 95% CI", "median", "p95", "n"):
        table.add_column(header, justify="left" if header in ("measure", "strategy") else "right")
    for metric, label, fmt in ROWS:
        for position, (name, summary) in enumerate(comparison.summaries.items()):
            table.add_row(label if position == 0 else "", escape(name), *_cells(summary.metrics[metric], fmt))
        table.add_section()
    return table


WIDE = 4  # more strategies than this: one row per strategy, so the table fits a terminal


def outcome_table(comparison: Comparison) -> Table:
    """Detection and false-rollback rates and how the runs ended: one column per strategy (a row each
    when there are many)."""
    if len(comparison.summaries) > WIDE:
        return _outcome_rows(comparison)
    table = Table(title="outcomes (runs)")
    table.add_column("")
    for name in comparison.summaries:
        table.add_column(escape(name), justify="right")
    summaries = comparison.summaries.values()
    table.add_row("detection rate", *(_rate_text(s.detection_rate) for s in summaries))
    table.add_row("false-rollback rate", *(_rate_text(s.false_rollback_rate) for s in summaries), end_section=True)
    for outcome in OUTCOMES:
        table.add_row(outcome, *(_count_share(s.outcomes[outcome], s.replications) for s in summaries))
    table.add_row("  caught late", *(str(s.caught_late) for s in summaries), end_section=True)
    detectors = sorted({name for s in summaries for name in s.caught_by})
    for detector in detectors:
        counts = (_count_share(s.caught_by.get(detector, 0), s.detected) for s in summaries)
        table.add_row(f"caught by {escape(detector)}", *counts)
    return table


def _outcome_rows(comparison: Comparison) -> Table:
    """The outcome table turned, a row per strategy: the rates, then the outcomes and detectors that occurred."""
    table = Table(title="outcomes (runs)")
    table.add_column("strategy")
    table.add_column("detected", justify="right")
    table.add_column("false rb", justify="right")
    table.add_column("runs ended (count) · caught by (share of the detected)")
    for name, s in comparison.summaries.items():
        ended = [f"{outcome} {s.outcomes[outcome]}" for outcome in OUTCOMES if s.outcomes[outcome]]
        if s.caught_late:
            ended.append(f"caught late {s.caught_late}")
        caught = [f"by {escape(k)} {100 * v:.0f}%" for k, v in s.caught_by_shares.items()]
        table.add_row(
            escape(name), _rate_text(s.detection_rate), _rate_text(s.false_rollback_rate), " · ".join(ended + caught)
        )
    return table


def _rate_text(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _count_share(count: int, total: int) -> str:
    """A count with its share of ``total`` (outcomes of all runs; detectors of the detected runs)."""
    return f"{count} ({100 * count / total:.0f}%)" if total else str(count)


def _compact(value: int) -> str:
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value / 1e3:,.1f}k" if value < 100_000 else f"{value / 1e3:,.0f}k"
    return f"{value / 1e6:,.1f}M" if value < 100_000_000 else f"{value / 1e6:,.0f}M"


def timeline_table(name: str, timeline: pd.DataFrame) -> Table:
    """The events of one run: exposure, errors and harm as they accumulate (cumulative counts, as of
    the last tick of the data plane)."""
    table = Table(
        title=f"{escape(name)}: timeline (cumulative)", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    headers = ("time", "weight", "new req", "new err", "harmed", "exposed", "users hurt", "event")
    for header in headers:
        if header == "event":
            table.add_column(header, overflow="fold", min_width=16)  # wraps: the numbers must stay whole
        else:
            table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for row in timeline.itertuples(index=False):
        counts = (row.new_requests, row.new_errors, row.harmed_requests, row.exposed_users, row.harmed_users)
        event = Text(row.event)  # plugin and strategy names are shown literally, never as markup
        table.add_row(format_clock(row.time_s), f"{row.weight:.3g}", *map(_compact, counts), event)
    return table


def measures_table(measures: pd.DataFrame) -> Table:
    """The measures of one run per strategy, in the words of DESIGN.md."""
    table = Table(title="measures", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    for name in measures["strategy"]:
        table.add_column(escape(name), justify="right")
    rows = measures.set_index("strategy").T
    for metric, values in rows.iterrows():
        table.add_row(metric, *(escape(_measure_text(metric, value)) for value in values))
    return table


def _measure_text(metric: str, value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if metric.endswith("_s"):
        return format_clock(float(value))
    if metric == "blast_radius_share":
        return _percent(float(value))
    if isinstance(value, (int, float)):
        return f"{value:,}"
    return str(value)


def sweep_summary_table(table: pd.DataFrame, axes: list[str], limit: int = 40) -> Table:
    """Per grid point and strategy: users harmed and time to detect (defective), rollout time (healthy)."""
    wanted = {
        ("defective", "blast_radius_users"): ("users harmed", _count),
        ("defective", "ttd_s"): ("time to detect", _duration),
        ("healthy", "rollout_duration_s"): ("rollout time", _duration),
        ("healthy", "outcome_false_rollback"): ("false rollbacks", _percent),
    }
    rows = table[[(r, m) in wanted for r, m in zip(table["release"], table["measure"], strict=True)]]
    wide = rows.pivot_table(index=["point", "strategy"], columns=["release", "measure"], values="mean", sort=False)
    points = table.drop_duplicates("point").set_index("point")[axes]
    shown = Table(title=f"sweep: {table['point'].nunique()} points (means)", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in [*map(axis_label, axes), "strategy"]:
        shown.add_column(escape(header))
    present = [key for key in wanted if key in wide.columns]
    for key in present:
        shown.add_column(wanted[key][0], justify="right")
    for (point, strategy), values in list(wide.iterrows())[:limit]:
        cells = [_measure_cell(values[key], wanted[key][1]) for key in present]
        shown.add_row(*(escape(str(v)) for v in points.loc[point]), escape(strategy), *cells)
    if len(wide) > limit:
        shown.caption = f"first {limit} of {len(wide)} rows; the whole table is in the Parquet and CSV files"
    return shown


def axis_label(path: str) -> str:
    """Short column header for a grid path: ``canary.steps.0``, ``harm``."""
    return path.removeprefix("strategies.") if path.startswith("strategies.") else path.rsplit(".", 1)[-1]


def _measure_cell(value: float, fmt: Formatter) -> str:
    return "-" if pd.isna(value) else fmt(float(value))


def frontier_table(frontier: pd.DataFrame, group_axes: list[str]) -> Table:
    """The Pareto frontier: settings not beaten on both rollout time and users harmed."""
    shown = Table(title="Pareto frontier: rollout time (healthy) vs users harmed (defective)", box=box.SIMPLE_HEAD)
    for header in [*map(axis_label, group_axes), "setting", "rollout time", "users harmed"]:
        shown.add_column(escape(header), justify="right" if header in ("rollout time", "users harmed") else "left")
    for row in frontier.itertuples(index=False):
        values = list(row)
        groups, setting, duration, harmed = values[: len(group_axes)], values[-3], values[-2], values[-1]
        shown.add_row(*(escape(str(g)) for g in groups), escape(setting), _duration(duration), _count(harmed))
    return shown


def power_table(curve: PowerCurve, weight: float, harm: float) -> Group:
    """Detection and false-rollback rates by bake time (simulated, 95% interval; closed form), with a bar;
    below it, what the closed form computes and its notes."""
    table = Table(
        title=f"judge {escape(curve.judge)}{'' if curve.use == curve.judge else f' ({escape(curve.use)})'}: "
        f"canary at {_share(weight)}, "
        f"a defect erring on {_share(harm)} of requests",
        caption="simulated (95% interval) beside the closed form (-: none)",
        box=box.SIMPLE_HEAD,
    )
    for column in ("bake", "detection", "closed", "false rollbacks", "closed", "detection"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in curve.rows:
        filled = round(10 * row.detection)
        table.add_row(
            format_duration(row.bake_s),
            _rate_with_interval(row.detection, row.detection_ci),
            "-" if row.detection_closed is None else _share(row.detection_closed),
            _rate_with_interval(row.false_rollback, row.false_rollback_ci),
            "-" if row.false_rollback_closed is None else _share(row.false_rollback_closed),
            "█" * filled + "·" * (10 - filled),
        )
    lines = [f"closed form: {curve.closed_form or 'none'}"]
    lines += [f"  {note}" for note in curve.notes]
    return Group(table, Text("\n".join(lines), style="dim"))


def power_chart(curve: PowerCurve, width: int, height: int, color: bool) -> str:
    """Detection and false-rollback rates (%) against bake time, simulated and closed form, as terminal text.

    Needs plotext (the ``tui`` extra): ImportError without it."""
    import plotext as plt

    rows = curve.rows
    bakes = [row.bake_s for row in rows]
    plt.clear_figure()
    plt.plotsize(max(width, 40), max(height, 12))
    plt.theme("pro" if color else "clear")
    # The closed forms as lines, the simulated rates as points over them (a point on its line: they agree).
    for label, values in (
        ("detection, closed form", [row.detection_closed for row in rows]),
        ("false rollbacks, closed form", [row.false_rollback_closed for row in rows]),
    ):
        if all(value is not None for value in values):
            plt.plot(bakes, [100 * value for value in values], label=label, marker="braille")
    for label, values, marker in (
        ("detection, simulated", [row.detection for row in rows], "●"),
        ("false rollbacks, simulated", [row.false_rollback for row in rows], "○"),
    ):
        plt.scatter(bakes, [100 * value for value in values], label=label, marker=marker)
    if len(set(bakes)) > 1 and max(bakes) / min(bakes) >= 4:  # bakes are usually spread on a log scale
        plt.xscale("log")
    plt.xticks(bakes, [format_duration(bake) for bake in bakes])
    plt.ylim(0, 100)
    plt.title(f"judge {curve.judge}: detection and false rollbacks (%) by bake time")
    plt.xlabel("bake")
    chart = plt.build()
    plt.clear_figure()  # plotext keeps one global figure: leave none behind
    chart = chart.rstrip("\n")
    return chart if color else plt.uncolorize(chart)


def _share(rate: float) -> str:
    return f"{100 * rate:.1f}%"


def _rate_with_interval(rate: float, interval: tuple[float, float]) -> str:
    """``97.3% (95.2-98.5)``, ``100.0% (99-100)``: the interval without % signs or a needless ``.0`` at 0 and
    100, so that the table fits 80 columns."""
    low, high = (f"{100 * bound:.1f}" for bound in interval)
    return f"{_share(rate)} ({low.removesuffix('.0') if low == '0.0' else low}-{high.replace('100.0', '100')})"
