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
    from sim.sweeps import GoalAnswer, GoalChoice

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
    if fmt is _duration:  # one unit for the whole row (the mean's), so the numbers compare at a glance
        unit = duration_unit(summary.mean)

        def fmt(value: float, like: float | None = None) -> str:
            return format_duration(value, unit)

    mean = fmt(summary.mean)
    if summary.ci95 is not None:
        mean += f" ± {fmt((summary.ci95[1] - summary.ci95[0]) / 2, summary.mean)}"
    return [mean, _or_dash(summary.median, fmt), _or_dash(summary.p95, fmt), str(summary.n)]


def _or_dash(value: float | None, fmt: Formatter) -> str:
    return "-" if value is None else fmt(value)


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


def timeline_table(name: str, timeline: pd.DataFrame, end: str | None = None) -> Table:
    """The events of one run: exposure, errors and harm as they accumulate (cumulative counts, as of
    the last tick of the data plane); ``end`` says where and why the run ends (the caption)."""
    table = Table(
        title=f"{escape(name)}: timeline (cumulative)",
        caption=None if end is None else escape(end),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    headers = ("time", "weight", "new req", "new err", "harmed", "exposed", "users hurt", "event")
    for header in headers:
        if header == "event":
            table.add_column(header, overflow="fold", min_width=14)  # wraps: the numbers must stay whole
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
    if metric.endswith("_share"):  # every share as a percentage
        return _percent(float(value))
    if isinstance(value, (int, float)):
        return f"{value:,}"
    return str(value)


def sweep_summary_table(table: pd.DataFrame, axes: list[str], limit: int = 40) -> Table:
    """Per grid point and strategy: users harmed and time to detect (defective), rollout time (healthy,
    unfinished runs counted as the horizon), false rollbacks (healthy); completed when some did not."""
    rollout = "rollout_time_s" if (table["measure"] == "rollout_time_s").any() else "rollout_duration_s"
    wanted = {
        ("defective", "blast_radius_users"): ("users harmed", _count),
        ("defective", "ttd_s"): ("time to detect", _duration),
        ("healthy", rollout): ("rollout time", _duration),
        ("healthy", "outcome_false_rollback"): ("false rollbacks", _percent),
        ("healthy", "outcome_completed"): ("completed", _percent),
    }
    rows = table[[(r, m) in wanted for r, m in zip(table["release"], table["measure"], strict=True)]]
    wide = rows.pivot_table(index=["point", "strategy"], columns=["release", "measure"], values="mean", sort=False)
    completed = ("healthy", "outcome_completed")
    if completed in wide.columns and (wide[completed].dropna() >= 1.0).all():
        wide = wide.drop(columns=[completed])  # every healthy run finished: nothing to say
    points = table.drop_duplicates("point").set_index("point")[axes]
    shown = Table(title=f"sweep: {table['point'].nunique()} points (means)", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in [*map(axis_label, axes), "strategy"]:
        shown.add_column(escape(header))
    present = [key for key in wanted if key in wide.columns]
    for key in present:
        shown.add_column(wanted[key][0], justify="right")
    formats = {key: _in(_unit_of(wide[key])) if wanted[key][1] is _duration else wanted[key][1] for key in present}
    for (point, strategy), values in list(wide.iterrows())[:limit]:
        cells = [_measure_cell(values[key], formats[key]) for key in present]
        shown.add_row(*(escape(str(v)) for v in points.loc[point]), escape(strategy), *cells)
    if len(wide) > limit:
        shown.caption = f"first {limit} of {len(wide)} rows; the whole table is in the Parquet and CSV files"
    return shown


def axis_label(path: str) -> str:
    """Short column header for a grid path: ``canary.steps.0``, ``harm``."""
    return path.removeprefix("strategies.") if path.startswith("strategies.") else path.rsplit(".", 1)[-1]


def _measure_cell(value: float, fmt: Formatter) -> str:
    return "-" if pd.isna(value) else fmt(float(value))


def _unit_of(values: object) -> str:
    """One duration unit for a column: the unit of its largest value."""
    finite = [abs(float(v)) for v in values if v is not None and not pd.isna(v)]  # type: ignore[attr-defined]
    return duration_unit(max(finite)) if finite else "s"


def _in(unit: str) -> Formatter:
    def fmt(value: float, like: float | None = None) -> str:
        return format_duration(value, unit)

    return fmt


def frontier_table(frontier: pd.DataFrame, group_axes: list[str]) -> Table:
    """The Pareto frontier: settings not beaten on all of rollout time, users harmed and false rollbacks."""
    shown = Table(
        title="Pareto frontier: no other setting beats these on all three",
        caption="rollout time (unfinished runs count as the horizon) and false rollbacks: healthy release; "
        "users harmed: defective release",
        box=box.SIMPLE_HEAD,
    )
    partial = "completed" in frontier.columns and bool((frontier["completed"].dropna() < 1.0).any())
    left = [*map(axis_label, group_axes), "setting"]
    for header in [*left, "rollout time", *(["completed"] if partial else []), "users harmed", "false rb"]:
        shown.add_column(escape(header), justify="left" if header in left else "right")
    duration = _in(_unit_of(frontier["rollout_time"]))
    for row in frontier.to_dict(orient="records"):
        cells = [escape(str(row[path])) for path in group_axes]
        cells += [escape(row["setting"]), _measure_cell(row["rollout_time"], duration)]
        if partial:
            cells.append(_measure_cell(row["completed"], _percent))
        cells += [_measure_cell(row["users_harmed"], _count), _measure_cell(row["false_rollback"], _percent)]
        shown.add_row(*cells)
    return shown


def _goal_format(name: str, unit: str | None = None) -> Formatter:
    from sim.sweeps import GOAL_MEASURES

    kind = GOAL_MEASURES[name].kind
    return _in(unit) if kind == "duration" and unit else {"count": _count, "share": _percent}.get(kind, _duration)


def _goal_value(name: str, value: float | None, unit: str | None = None) -> str:
    return "no value" if value is None else _goal_format(name, unit)(float(value))


def goal_answer(answer: GoalAnswer) -> Group:
    """Which setting meets the goal: per world (e.g. defect size) when the sweep has several, then the
    answer for all of them, or plainly that none does and what came closest."""
    conditions = ", ".join(map(str, answer.conditions))
    names = list(dict.fromkeys(["rollout_time", *(c.name for c in answer.conditions)]))
    choices = [c for _, best, near in answer.per_world for c in (best, near) if c is not None]
    choices += [c for c in (answer.best, answer.closest, *answer.unmet.values()) if c is not None]
    units = {name: _unit_of([c.values.get(name) for c in choices]) for name in names}
    parts: list[Table | Text] = []
    worlds = answer.group_axes
    if worlds:
        table = Table(title=f"goal {escape(conditions)}: the fastest setting meeting it", box=box.SIMPLE_HEAD)
        for header in [*map(axis_label, worlds), "setting", *names]:
            table.add_column(escape(header), justify="right" if header in names else "left")
        for world, best, near in answer.per_world:
            choice = best or near
            label = "-" if choice is None else choice.setting if best else f"none; closest: {choice.setting}"
            cells = [escape(str(world[path])) for path in worlds] + [escape(label)]
            for name in names:
                value = "-" if choice is None else _goal_value(name, choice.values.get(name), units[name])
                missed = choice is not None and any(c.name == name for c in choice.misses)
                cells.append(f"{escape(value)} ✗" if missed else escape(value))
            table.add_row(*cells)
        if any(near is not None for _, _, near in answer.per_world):
            table.caption = "✗: misses its condition (means)"
        parts.append(table)
    every = f" at every {', '.join(map(axis_label, worlds))}" if len(answer.per_world) > 1 else ""

    def value(choice: GoalChoice, name: str) -> str:
        where = choice.where.get(name)
        return _goal_value(name, choice.values.get(name), units.get(name)) + (f" at {where}" if where else "")

    def details(choice: GoalChoice) -> list[str]:
        lines = [f"    misses {c}: {value(choice, c.name)}" for c in choice.misses]
        lines += [f"    meets {c}: {value(choice, c.name)}" for c in answer.conditions if c not in choice.misses]
        if all(c.name != "rollout_time" for c in answer.conditions):
            lines.append(f"    rollout time {value(choice, 'rollout_time')} (healthy release)")
        return lines

    if answer.best is not None:
        lines = [f"answer: {answer.best.setting}", f"  the fastest setting meeting {conditions}{every}"]
        lines += details(answer.best)
    else:
        lines = [f"answer: none; no setting meets {conditions}{every}"]
        if answer.closest is not None:
            lines += [f"  closest: {answer.closest.setting}", *details(answer.closest)]
        for condition in answer.conditions:
            near = answer.unmet.get(str(condition))
            if near is not None:
                lines.append(
                    f"  {condition} is out of reach: no setting meets it even alone "
                    f"(nearest: {value(near, condition.name)}, {near.setting})"
                )
    parts.append(Text("\n".join(lines)))
    return Group(*parts)


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
