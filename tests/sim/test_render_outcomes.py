"""The outcome table: rates and outcomes per strategy, readable at 80 columns however many strategies."""

from __future__ import annotations

from rich.console import Console

import sim
from sim.executors import InlineExecutor
from sim.render import WIDE, outcome_table
from tests.generators import make_scenario


def _text(comparison: sim.Comparison) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(outcome_table(comparison))
    return console.export_text()


def _comparison(strategies: int) -> sim.Comparison:
    specs = [{"name": f"canary-{k}", "use": "canary", "params": {"bake": f"{k + 1}m"}} for k in range(strategies)]
    scenario = make_scenario(
        replications=8, release={"defect": {"harm": 0.05}, "defective_share": 0.5}, strategies=specs
    )
    return sim.compare(scenario, executor=InlineExecutor())


def test_few_strategies_get_a_column_each_with_counts_and_shares() -> None:
    comparison = _comparison(2)
    text = _text(comparison)
    summary = comparison.summaries["canary-0"]
    assert "false-rollback rate" in text and "canary-1" in text
    assert f"{summary.outcomes['rolled_back']} ({100 * summary.outcomes['rolled_back'] / 8:.0f}%)" in text


def test_many_strategies_get_a_row_each_and_fit_80_columns() -> None:
    comparison = _comparison(WIDE + 2)
    text = _text(comparison)
    assert all(len(line) <= 80 for line in text.splitlines())
    for name, summary in comparison.summaries.items():
        row = next(line for line in text.splitlines() if name in line)
        rate = summary.detection_rate
        assert ("-" if rate is None else f"{100 * rate:.1f}%") in row
