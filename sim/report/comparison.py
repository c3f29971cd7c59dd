"""A comparison's part of a report, made from the ``compare --json`` document (and from the runs, when
they were run now): the summary table of every measure, the outcomes table (detection and
false-rollback rates, how the runs ended, what caught the defect) and the charts. The tables show what
``compare`` prints, with the document's exact numbers in the HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.measures import OUTCOMES
from sim.render import ROWS, _rate_text
from sim.report.blocks import Cell, Chart, Table
from sim.report.charts import outcome_chart, time_to_detect_chart, time_unit, users_harmed_chart


def summary_table(document: dict[str, Any]) -> Table:
    """Every measure of every strategy, as ``compare`` prints it: mean, its 95% CI, median, p95, n."""
    rows, row_data = [], []
    for metric, label, fmt in ROWS:
        for name, summary in document["strategies"].items():
            rows.append([Cell(label), Cell(name), *_metric_cells(summary[metric], fmt)])
            row_data.append({"measure": metric, "strategy": name})
    return Table(
        "summary",
        ["measure", "strategy", "mean", "95% CI of the mean", "median", "p95", "n"],
        rows,
        row_data,
        "blast radius = users and requests harmed; detect and mitigate times count from defect onset, rollout "
        "time from start; n = runs with a value",
    )


def _metric_cells(metric: dict[str, Any], fmt: Callable[..., str]) -> list[Cell]:
    n = metric.get("n") or 0
    mean, ci = metric.get("mean"), metric.get("ci95")

    def value(key: str) -> Cell:
        number = metric.get(key)
        if number is None:
            return Cell("-", {"field": key}, True)
        return Cell(fmt(number), {"field": key, "value": float(number)}, True)

    interval = Cell(
        "-" if ci is None or mean is None else f"[{fmt(ci[0], mean)}, {fmt(ci[1], mean)}]",
        {"field": "ci95"} if ci is None else {"field": "ci95", "low": float(ci[0]), "high": float(ci[1])},
        True,
    )
    return [value("mean"), interval, value("median"), value("p95"), Cell(str(n), {"field": "n", "value": n}, True)]


def outcome_rows(document: dict[str, Any]) -> Table:
    """Detection and false-rollback rates, how the runs ended and what caught the defect: a column per strategy."""
    strategies = document["strategies"].items()
    rows, row_data = [], []

    def add(label: str, measure: str, cells: list[Cell]) -> None:
        rows.append([Cell(label), *cells])
        row_data.append({"measure": measure})

    for measure, label in (("detection_rate", "detection rate"), ("false_rollback_rate", "false-rollback rate")):
        rates = [Cell(_rate_text(s[measure]), {"strategy": n, "value": s[measure]}, True) for n, s in strategies]
        add(label, measure, rates)
    for outcome in OUTCOMES:
        shares = [_count_cell(n, s["outcomes"][outcome], float(s["outcome_shares"][outcome])) for n, s in strategies]
        add(outcome, f"outcome:{outcome}", shares)
    add("caught late", "caught_late", [_count_cell(n, s["caught_late"]) for n, s in strategies])
    for detector in sorted({d for _, s in strategies for d in s["caught_by"]}):
        caught = [_count_cell(n, s["caught_by"].get(detector, 0), _caught_share(s, detector)) for n, s in strategies]
        add(f"caught by {detector}", f"caught_by:{detector}", caught)
    return Table(
        "outcomes",
        ["", *document["strategies"]],
        rows,
        row_data,
        "runs ended: count (share of all runs); caught by: count (share of the detected runs)",
    )


def _caught_share(summary: dict[str, Any], detector: str) -> float | None:
    """The detector's share of the detected runs; none without a detected run."""
    shares = summary["caught_by_shares"]
    return shares.get(detector, 0.0 if shares else None)


def _count_cell(strategy: str, count: int, share: float | None = None) -> Cell:
    return Cell(_with_share(count, share), {"strategy": strategy, "count": count, "share": share}, True)


def _with_share(count: int, share: float | None) -> str:
    """``200 (100%)``, as ``compare`` shows a count with its share; the count alone without a share."""
    return str(count) if share is None else f"{count} ({100 * share:.0f}%)"


def comparison_charts(document: dict[str, Any], runs: pd.DataFrame | None) -> list[Chart]:
    strategies = document["strategies"]
    names = list(strategies)
    if not names:
        return []
    by_name = None
    if runs is not None and len(runs):
        by_name = {name: runs[runs["strategy"] == name] for name in names}

    def samples(metric: str) -> list[np.ndarray] | None:
        if by_name is None:
            return None
        return [pd.to_numeric(by_name[n][metric], errors="coerce").dropna().to_numpy(dtype=float) for n in names]

    source = (
        "Each dot is a run; the box spans the middle half of the runs, its whiskers the 5th to the 95th percentile"
        if by_name is not None
        else "The runs are not in the saved document: the bar goes from the median to the p95"
    )
    unit = time_unit([s["ttd_s"]["median"] for s in strategies.values() if s["ttd_s"]["median"] is not None])
    harmed = users_harmed_chart(
        "Users harmed per run",
        names,
        samples("blast_radius_users"),
        [s["blast_radius_users"] for s in strategies.values()],
    )
    ttd = time_to_detect_chart(
        "Time to detect (detected runs only)", unit, names, samples("ttd_s"), [s["ttd_s"] for s in strategies.values()]
    )
    outcomes = outcome_chart("How the runs ended", names, [s["outcome_shares"] for s in strategies.values()])
    replications = document["replications"]
    return [
        Chart(
            "users-harmed.png",
            "Users harmed per strategy",
            f"Distinct users harmed in each of the {replications} runs, per strategy. {source}; the diamond is the "
            "mean with its 95% confidence interval.",
            harmed,
        ),
        Chart(
            "time-to-detect.png",
            "Time to detect per strategy",
            f"Time from defect onset to the alarm that led to the rollback, over the runs with a detection. {source}; "
            "the diamond is the mean with its 95% confidence interval.",
            ttd,
        ),
        Chart(
            "outcomes.png",
            "Outcome shares per strategy",
            "How the runs ended: rolled back after a detection, escaped (never rolled back), a false rollback, "
            "completed or stalled (a healthy release).",
            outcomes,
        ),
    ]
