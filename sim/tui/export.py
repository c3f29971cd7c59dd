"""Export a result of the terminal UI: the ``compare --json`` document, a CSV of the summaries, a Markdown summary.

No textual here. Files are written into a hidden folder inside the target
directory and the folder is renamed at the end, so a report folder is either
complete or absent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shlex
import shutil
from datetime import datetime
from pathlib import Path

from sim.measures import OUTCOMES
from sim.render import ROWS, Formatter
from sim.results import METRICS, Comparison, MetricSummary
from sim.tui.session import Result

AS_LOADED = "as loaded"
CSV_COLUMNS = ("strategy", "measure", "mean", "ci95_low", "ci95_high", "median", "p95", "n")


def export(
    result: Result, directory: Path = Path("reports"), *, source: str | None = None, now: datetime | None = None
) -> Path:
    """Write ``directory/<scenario>-<YYYYmmdd-HHMMSS>/`` with comparison.json, comparison.csv and summary.md.

    ``source``: what ``rollout-sim compare`` is given to load the scenario (a bundled
    name or a file); by default the scenario's name. Raises OSError when the
    directory cannot be written (nothing is left behind).
    """
    directory = Path(directory)
    name = f"{folder_name(result.comparison.scenario)}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    files = {
        "comparison.json": comparison_json(result.comparison),
        "comparison.csv": comparison_csv(result.comparison),
        "summary.md": summary_markdown(result, source),
    }
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.partial"
    staging.mkdir()
    try:
        for filename, text in files.items():
            with open(staging / filename, "w", encoding="utf-8", newline="") as out:
                out.write(text)
        return _rename(staging, directory, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _rename(staging: Path, directory: Path, name: str) -> Path:
    """Give the finished folder its name (``-2``, ``-3``... when two exports fall in the same second)."""
    for attempt in range(1, 1000):
        target = directory / (name if attempt == 1 else f"{name}-{attempt}")
        if target.exists():
            continue
        try:
            staging.rename(target)
        except FileExistsError:
            continue
        except OSError as error:
            if target.exists():  # another export took the name meanwhile (ENOTEMPTY)
                continue
            raise error
        return target
    raise FileExistsError(f"{directory / name}: too many reports with this name")


def base_name(scenario: str) -> str:
    """The scenario's name without the `` (knobs)`` the session adds when knobs are turned."""
    while scenario.endswith(" (knobs)"):
        scenario = scenario.removesuffix(" (knobs)")
    return scenario


def folder_name(scenario: str) -> str:
    """A file-system-safe form of the scenario's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base_name(scenario)).strip("-.") or "scenario"


def comparison_json(comparison: Comparison) -> str:
    """Exactly what ``rollout-sim compare --json`` prints."""
    return json.dumps(comparison.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def comparison_csv(comparison: Comparison) -> str:
    """One row per strategy and measure: mean, 95% interval, median, p95 and runs with a value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, summary in comparison.summaries.items():
        for measure in METRICS:
            metric = summary.metrics[measure]
            low, high = metric.ci95 if metric.ci95 is not None else (None, None)
            writer.writerow(
                [name, measure, *map(_plain, (metric.mean, low, high, metric.median, metric.p95)), metric.n]
            )
    return out.getvalue()


def _plain(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def reproduce_command(result: Result, source: str | None = None) -> str:
    comparison = result.comparison
    scenario = source or base_name(comparison.scenario)
    return (
        f"rollout-sim compare {shlex.quote(scenario)} --seed {comparison.seed} --replications {comparison.replications}"
    )


def summary_markdown(result: Result, source: str | None = None) -> str:
    """The scenario, seed, replications and knobs; the main measures and outcome shares; how to reproduce it."""
    comparison = result.comparison
    names = list(comparison.summaries)
    lines = [
        f"# {_md(base_name(comparison.scenario))}: {comparison.replications:,} replications",
        "",
        f"- scenario: {_md(comparison.scenario)}",
        f"- seed: {comparison.seed}",
        f"- replications: {comparison.replications}",
        f"- knobs: {_md(result.label)}",
        f"- release: {'healthy (no defect)' if comparison.healthy else 'defective'}",
        f"- population: {comparison.population:,} users",
        "",
        "## Main measures",
        "",
        "Mean ± 95% CI half-width (median, p95); n = runs with a value. Detect and mitigate times count from "
        "defect onset, rollout time from start.",
        "",
    ]
    if names:
        lines += _table(["measure", *names], _measure_rows(comparison))
        lines += ["", "## Outcomes (share of runs)", ""]
        lines += _table(["outcome", *names], _outcome_rows(comparison))
    else:
        lines.append("No strategy finished: see the errors below.")
    if comparison.errors:
        lines += ["", "## Plugin errors", ""]
        lines += [f"- {_md(name)}: {_md(' '.join(message.split()))}" for name, message in comparison.errors.items()]
    lines += ["", "## Reproduce", "", "```sh", reproduce_command(result, source), "```", ""]
    if result.label != AS_LOADED:
        lines += [
            f"Knobs were applied in the terminal UI ({_md(result.label)}): this command runs the scenario as its "
            "file defines it, with this seed and number of replications. Make the same changes in the file "
            "(or `rollout-sim tui` with the same knobs) to reproduce these numbers.",
            "",
        ]
    return "\n".join(lines)


def _measure_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for metric, label, fmt in ROWS:
        cells = []
        for summary in comparison.summaries.values():
            cells.append(_measure_cell(summary.metrics[metric], fmt))
        rows.append([label, *cells])
    rates = []
    for summary in comparison.summaries.values():
        rates.append("-" if summary.detection_rate is None else f"{100 * summary.detection_rate:.1f}%")
    rows.append(["detection rate", *rates])
    return rows


def _measure_cell(metric: MetricSummary, fmt: Formatter) -> str:
    if metric.n == 0 or metric.mean is None:
        return "-"
    text = fmt(metric.mean)
    if metric.ci95 is not None:
        text += f" ± {fmt((metric.ci95[1] - metric.ci95[0]) / 2, metric.mean)}"
    return f"{text} ({fmt(metric.median)}, {fmt(metric.p95)})"


def _outcome_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for outcome in OUTCOMES:
        shares = [f"{100 * s.outcome_shares.get(outcome, 0.0):.1f}%" for s in comparison.summaries.values()]
        rows.append([outcome, *shares])
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_md, header)) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or list item."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
