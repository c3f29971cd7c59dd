"""Assembling a report: ``comparison_report`` and ``sweep_report`` put the blocks in their order
(scenario, summary tables, charts, how to reproduce) under a title, as a ``Report`` whose ``files()``
are what its folder holds: report.md, report.html, the charts' PNGs and the numbers behind them
(the ``compare --json`` document, or the sweep's table as CSV).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.report.blocks import Block, Bullets, Chart, Heading, Paragraph, to_html, to_markdown
from sim.report.comparison import comparison_charts, outcome_rows, summary_table
from sim.report.reproduce import reproduce_blocks
from sim.report.saved import COMPARISON_FILE
from sim.report.sweeps import SweepData, frontier_rows, goal_blocks, sweep_charts, sweep_summary
from sim.report.words import describe_scenario, value_text
from sim.scenario import Scenario


@dataclass
class Report:
    title: str
    blocks: list[Block]
    extra: dict[str, bytes]  # files beside the report besides the charts

    def files(self) -> dict[str, bytes]:
        charts = {block.file: block.png for block in self.blocks if isinstance(block, Chart)}
        return {
            "report.md": to_markdown(self.title, self.blocks).encode("utf-8"),
            "report.html": to_html(self.title, self.blocks).encode("utf-8"),
            **charts,
            **self.extra,
        }


def comparison_report(
    document: dict[str, Any],
    runs: pd.DataFrame | None,
    scenario: Scenario | None,
    commands: list[tuple[str, list[str]]],
    facts: list[tuple[str, str]],
    notes: list[str],
    progress: Callable[[str], None] = lambda what: None,
) -> Report:
    names = list(document["strategies"])
    title = (
        f"{document['scenario']}: {len(names)} strateg{'ies' if len(names) != 1 else 'y'}, "
        f"{document['replications']:,} replications, seed {document['seed']}"
    )
    unknown = (
        f"Scenario {document['scenario']}: its file was not given (add SCENARIO to describe it); population "
        f"{document['population']:,} users."
    )
    streamed = " Past 250,000 runs the summaries were streamed: median and p95 within 0.64%."
    blocks = _scenario_blocks(scenario, unknown)
    blocks.append(
        Paragraph(
            f"Every strategy ran the same {document['replications']:,} replications (common random numbers: the "
            f"same traffic and the same draws), seed {document['seed']}, population {document['population']:,} users, "
            f"{'a healthy release' if document['healthy'] else 'a defective release'}."
            + (streamed if document.get("streamed") else "")
        )
    )
    blocks += [Heading("Summary"), summary_table(document), Heading("Outcomes"), outcome_rows(document)]
    if document.get("errors"):
        blocks += [
            Heading("Strategies that failed"),
            Bullets([(name, " ".join(message.split())) for name, message in document["errors"].items()]),
        ]
    progress("charts")
    charts = comparison_charts(document, runs)
    if charts:
        blocks += [Heading("Charts"), *charts]
    blocks += reproduce_blocks(commands, facts, notes)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return Report(title, blocks, {COMPARISON_FILE: text.encode("utf-8")})


def sweep_report(
    data: SweepData,
    name: str,
    scenario: Scenario | None,
    commands: list[tuple[str, list[str]]],
    facts: list[tuple[str, str]],
    notes: list[str],
    seed: str,
    progress: Callable[[str], None] = lambda what: None,
) -> Report:
    table = data.table
    points = int(table["point"].nunique())
    title = f"sweep of {name}: {points} grid points x {len(data.strategies)} strategies"
    blocks = _scenario_blocks(scenario, f"Scenario {name}: its file was not given (add SCENARIO to describe it).")
    grid_points = table.drop_duplicates("point")
    axes = [("", f"{path}: {', '.join(dict.fromkeys(map(value_text, grid_points[path])))}") for path in data.axes]
    blocks += [
        Heading("Grid"),
        Paragraph(
            f"{points} grid points (every combination of the values below), each run with every strategy over "
            f"{data.replications if data.replications is not None else 'its'} replications, seed {seed}: on the "
            "scenario's release (users harmed, time to detect) and on the same scenario with a healthy release "
            "(rollout time, false rollbacks)."
        ),
        Bullets(axes),
    ]
    if data.frontier is not None:
        blocks += [Heading("Pareto frontier"), frontier_rows(data)]
    else:
        blocks.append(Paragraph("The release is healthy at every grid point: there is no harm to trade, no frontier."))
    blocks += goal_blocks(data)
    blocks += [Heading("Summary"), sweep_summary(data)]
    progress("charts")
    blocks += [Heading("Charts"), *sweep_charts(data)]
    blocks += reproduce_blocks(commands, facts, notes)
    csv = table.to_csv(index=False).encode("utf-8")
    return Report(title, blocks, {f"{name}-sweep.csv": csv})


def _scenario_blocks(scenario: Scenario | None, unknown: str) -> list[Block]:
    """The scenario in words, or ``unknown`` when its file was not given (a report read back)."""
    described = Bullets(describe_scenario(scenario)) if scenario is not None else Paragraph(unknown)
    return [Heading("Scenario"), described]
