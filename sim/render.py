"""Terminal tables for comparisons and timelines (rich renderables; no printing here)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from rich.table import Table

from sim.durations import format_duration
from sim.measures import OUTCOMES
from sim.results import Comparison, MetricSummary

Formatter = Callable[[float], str]


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%"


ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("blast_radius_users", "blast radius (users)", _count),
    ("blast_radius_share", "blast radius (% of users)", _percent),
    ("blast_radius_requests", "blast radius (requests)", _count),
    ("exposed_users", "exposed users", _count),
    ("ttd_s", "time to detection", format_duration),
    ("ttm_s", "time to mitigation", format_duration),
    ("rollout_duration_s", "rollout duration", format_duration),
)


def _cells(summary: MetricSummary, fmt: Formatter) -> list[str]:
    if summary.n == 0:
        return ["-", "-", "-", "-", "0"]
    ci = "-" if summary.ci95 is None else f"{fmt(max(summary.ci95[0], 0.0))} - {fmt(summary.ci95[1])}"
    return [fmt(summary.mean), ci, fmt(summary.median), fmt(summary.p95), str(summary.n)]


def comparison_table(comparison: Comparison) -> Table:
    """Every measure of every strategy: mean, 95% CI of the mean, median, p95, and runs counted."""
    table = Table(title=f"{comparison.scenario}: {comparison.replications} replications, seed {comparison.seed}")
    for header in ("measure", "strategy", "mean", "95% CI", "median", "p95", "n"):
        table.add_column(header, justify="left" if header in ("measure", "strategy") else "right")
    for metric, label, fmt in ROWS:
        for position, (name, summary) in enumerate(comparison.summaries.items()):
            first = position == 0
            table.add_row(label if first else "", name, *_cells(summary.metrics[metric], fmt), end_section=False)
        table.add_section()
    return table


def outcome_table(comparison: Comparison) -> Table:
    """Detection rate and how the runs ended, per strategy."""
    table = Table(title="outcomes")
    table.add_column("strategy")
    table.add_column("detection rate", justify="right")
    for outcome in OUTCOMES:
        table.add_column(outcome.replace("_", " "), justify="right")
    for name, summary in comparison.summaries.items():
        rate = "-" if summary.detection_rate is None else f"{100 * summary.detection_rate:.1f}%"
        table.add_row(name, rate, *(str(summary.outcomes[o]) for o in OUTCOMES))
    return table


def timeline_table(name: str, timeline: pd.DataFrame, population: int) -> Table:
    """The control steps of one run: exposure, errors and harm as they accumulate."""
    table = Table(title=f"{name}: timeline")
    for header in (
        "time",
        "weight",
        "requests",
        "to new",
        "new errors",
        "harmed req",
        "exposed",
        "harmed users",
        "event",
    ):
        table.add_column(header, justify="left" if header == "event" else "right")
    for row in timeline.itertuples(index=False):
        table.add_row(
            format_duration(row.time_s),
            f"{row.weight:.3g}",
            f"{row.requests:,}",
            f"{row.new_requests:,}",
            f"{row.new_errors:,}",
            f"{row.harmed_requests:,}",
            f"{row.exposed_users:,}",
            f"{row.harmed_users:,} ({_percent(row.harmed_users / population)})",
            row.event,
        )
    return table
