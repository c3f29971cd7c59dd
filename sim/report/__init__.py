"""``rollout-sim report``: a comparison or a sweep as ``reports/NAME/report.md`` and a self-contained
``report.html``, with static charts (matplotlib PNGs), the scenario in words, the summary tables and how
to reproduce the numbers (docs/report.md).

The numbers come from the ``compare --json`` document (run now, or read from a saved one) or from a
sweep's tidy table (run now, resumed from its saved items, or read from its Parquet or CSV file), so
that a report shows exactly what those commands print. matplotlib is imported only when the charts are
drawn (``charts``), and ``sim.cli`` only when the command runs: the command line registers
``report_command`` from here, and its other commands never pay for matplotlib.
"""

from sim.report.assemble import Report, comparison_report, sweep_report
from sim.report.command import report_command
from sim.report.folder import write_report
from sim.report.saved import read_comparison, read_sweep_table
from sim.report.sweeps import SweepData, sweep_data

__all__ = [
    "Report",
    "SweepData",
    "comparison_report",
    "read_comparison",
    "read_sweep_table",
    "report_command",
    "sweep_data",
    "sweep_report",
    "write_report",
]
