"""``rollout-sim report``: a comparison or a sweep as ``reports/NAME/report.md`` and a self-contained
``report.html``, with static charts (matplotlib PNGs), the scenario in words, the summary tables and how
to reproduce the numbers (docs/report.md).

The numbers come from the ``compare --json`` document (run now, or read from a saved one) or from a
sweep's tidy table (run now, resumed from its saved items, or read from its Parquet or CSV file), so
that a report shows exactly what those commands print. matplotlib is imported only when the charts are
drawn: the other commands never pay for it.

This module does not import ``sim.cli`` at load time (the command line registers ``report_command``
from here); the command line's helpers are imported when the command runs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import importlib.util
import io
import json
import math
import os
import platform
import re
import secrets
import shlex
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from sim.catalog import bundled_scenarios
from sim.durations import compact_duration, duration_unit
from sim.grid import Axis, axes_from_table
from sim.measures import OUTCOMES
from sim.pareto import _measure, _setting, pareto_frontier
from sim.render import ROWS, _count, _duration, _percent, _rate_text, axis_label
from sim.results import JSON_SCHEMA_ID, METRICS
from sim.scenario import ResponseTime, Scenario, ScenarioError

REPORT_FILES = ("report.md", "report.html")
COMPARISON_FILE = "comparison.json"  # the compare --json document, beside the report: --from reads it back
DPI = 100
TABLE_COLUMNS = ("point", "release", "strategy", "measure", "mean", "median", "p95", "ci_low", "ci_high", "n")
SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
UNIT_WORDS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
OUTCOME_COLORS = {
    "rolled_back": "#4c9a2a",
    "false_rollback": "#e69f00",
    "escaped": "#c0392b",
    "completed": "#3a78b5",
    "stalled": "#9e9e9e",
}
NUMERIC = ' class="num"'
MAX_POINTS = 1000  # runs drawn as dots per strategy (a deterministic sample beyond this)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """``sim.cli._friendly`` (one-line errors, exit code 2), looked up when the command runs."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sim.cli import _friendly as friendly

        return friendly(command)(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------------------------------------
# The report as blocks, rendered to Markdown and to HTML from the same text and numbers


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, and (HTML only) ``data-*`` attributes with the exact numbers behind it."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    id: str
    headers: list[str]
    rows: list[list[Cell]]
    row_data: list[dict[str, Any]] = field(default_factory=list)  # ``data-*`` attributes of each row
    caption: str = ""


@dataclass(frozen=True)
class Chart:
    file: str  # the PNG's name beside report.md
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[tuple[str, str]]  # (label, text); an empty label is a plain item


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Bullets | Code | Table | Chart

_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|#])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md(text: str) -> str:
    """Text as literal Markdown (backslash before what would be markup; ``rolled_back`` stays readable)."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def to_markdown(title: str, blocks: list[Block]) -> str:
    lines = [f"# {_md(title)}", ""]
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + _md(block.text), ""]
        elif isinstance(block, Paragraph):
            lines += [_md(block.text), ""]
        elif isinstance(block, Bullets):
            lines += [f"- **{_md(label)}**: {_md(text)}" if label else f"- {_md(text)}" for label, text in block.items]
            lines.append("")
        elif isinstance(block, Code):
            lines += ["```", block.text, "```", ""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_md(h) for h in block.headers) + " |")
            lines.append(
                "|" + "|".join("---:" if _numeric_column(block, i) else "---" for i in range(len(block.headers))) + "|"
            )
            lines += ["| " + " | ".join(_md(cell.text) for cell in row) + " |" for row in block.rows]
            lines.append("")
            if block.caption:
                lines += [f"*{_md(block.caption)}*", ""]
        else:
            lines += [f"![{_md(block.title)}]({block.file})", "", f"*{_md(block.caption)}*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _numeric_column(table: Table, index: int) -> bool:
    return bool(table.rows) and all(row[index].numeric for row in table.rows)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .6rem; text-align: left; white-space: nowrap; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: .85rem; padding-top: .3rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .88rem; } pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
"""


def _attributes(data: dict[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        if value is None:
            continue
        shown = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        parts.append(f' data-{key}="{html.escape(shown)}"')
    return "".join(parts)


def to_html(title: str, blocks: list[Block]) -> str:
    """One self-contained page: the charts are PNGs in ``data:`` URIs, the style is inline."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="rollout-sim report">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = [
                f"<li><strong>{html.escape(label)}</strong>: {html.escape(text)}</li>"
                if label
                else f"<li>{html.escape(text)}</li>"
                for label, text in block.items
            ]
            out.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        elif isinstance(block, Code):
            out.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
        elif isinstance(block, Table):
            out.append(f'<table id="{html.escape(block.id)}">')
            if block.caption:
                out.append(f"<caption>{html.escape(block.caption)}</caption>")
            out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.headers) + "</tr></thead>")
            out.append("<tbody>")
            for index, row in enumerate(block.rows):
                data = block.row_data[index] if index < len(block.row_data) else {}
                cells = "".join(
                    f"<td{NUMERIC if cell.numeric else ''}{_attributes(cell.data)}>{html.escape(cell.text)}</td>"
                    for cell in row
                )
                out.append(f"<tr{_attributes(data)}>{cells}</tr>")
            out.append("</tbody></table>")
        else:
            encoded = base64.b64encode(block.png).decode("ascii")
            out.append(
                f'<figure id="chart-{html.escape(block.file.removesuffix(".png"))}">'
                f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(block.title)}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
            )
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# The scenario in words


def _share(value: float) -> str:
    return f"{100 * value:.4g}%"


def _hours(hour: float) -> str:
    whole = round(hour * 60)
    return f"{whole // 60:02d}:{whole % 60:02d} UTC"


def _response(response: ResponseTime) -> str:
    text = compact_duration(response.mean)
    if response.distribution == "exponential":
        text += " on average (exponential)"
    elif response.distribution == "lognormal":
        text += f" on average (lognormal, sigma {response.sigma:g})"
    if response.night_mean is not None:
        start, end = response.working_hours
        text += f"; {compact_duration(response.night_mean)} outside {start:g}h-{end:g}h UTC"
    return text


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, default=str)


def describe_scenario(scenario: Scenario) -> list[tuple[str, str]]:
    """The scenario as sentences, one per part (the words of docs/concepts.md)."""
    parts: list[tuple[str, str]] = []
    if scenario.description:
        parts.append(("In short", scenario.description))
    population = scenario.population
    text = f"{population.users:,} users"
    segments = population.segments
    if len(segments) > 1 or segments[0].name != "all":
        shown = []
        for segment in segments:
            extra = [f"{segment.relative_rate:g}x the request rate"] if segment.relative_rate != 1 else []
            if segment.utc_offset_hours:
                extra.append(f"UTC{segment.utc_offset_hours:+g}")
            shown.append(f"{segment.name} ({', '.join([_share(segment.share), *extra])})")
        text += f" in {len(segments)} segments: " + ", ".join(shown)
    if len(population.rate_classes) > 1:
        classes = ", ".join(f"{_share(c.share)} at {c.relative_rate:g}x" for c in population.rate_classes)
        text += f"; request rates by class of user: {classes}"
    parts.append(("Population", text + "."))

    traffic = scenario.traffic
    text = f"{traffic.rate:,g} requests per second on average"
    if traffic.daily_curve is not None:
        mean = sum(traffic.daily_curve) / 24
        low, high = min(traffic.daily_curve) / mean, max(traffic.daily_curve) / mean
        text += f", following a daily curve from {low:.2f}x to {high:.2f}x that average"
    else:
        text += ", flat over the day"
    text += f"; the rollout starts at {_hours(traffic.start_hour)}"
    for spike in traffic.spikes:
        text += (
            f"; a load spike of {spike.multiplier:g}x at {compact_duration(spike.at)} "
            f"for {compact_duration(spike.duration)}"
        )
    text += f". Every run is simulated for {compact_duration(scenario.horizon)} (the horizon)."
    parts.append(("Traffic", text))

    defect = scenario.release.defect
    if defect is None:
        parts.append(("Release", "healthy: the new version has no defect, so any rollback is a false rollback."))
    else:
        how = {
            "errors": "fails (an error telemetry sees)",
            "latency": f"is slow ({defect.slowdown:g}x the latency; telemetry sees it)",
            "silent": "gets a wrong answer (telemetry does not see it)",
        }[defect.kind]
        text = f"the new version carries a defect: a request it serves {how} with probability {_share(defect.harm)}"
        text += " from rollout start" if defect.onset == 0 else f", active {compact_duration(defect.onset)} after start"
        if defect.segment is not None:
            text += f"; only users of segment {defect.segment} can be harmed"
        if defect.leak:
            text += f"; the harm grows from 0 to that probability over {compact_duration(defect.leak)} (a leak)"
        if defect.min_load:
            text += f"; only while the service receives more than {defect.min_load:g} requests per second"
        if defect.persistent:
            text += "; the harm is persistent: harmed users keep being harmed after the rollback"
        if scenario.release.defective_share < 1:
            text += f"; {_share(scenario.release.defective_share)} of releases carry it, the rest are healthy"
        parts.append(("Release", text + "."))

    telemetry = scenario.telemetry
    text = (
        f"baseline errors on {_share(telemetry.baseline_error_rate)} of requests and slow requests on "
        f"{_share(telemetry.baseline_slow_rate)}, on both versions (never harm); metrics scraped every "
        f"{compact_duration(telemetry.scrape_interval)}"
    )
    if telemetry.scrape_lag:
        text += f", visible {compact_duration(telemetry.scrape_lag)} later"
    if telemetry.missing_scrapes:
        text += f"; {_share(telemetry.missing_scrapes)} of scrapes missing"
    for gap in telemetry.gaps:
        text += f"; a monitoring gap at {compact_duration(gap.at)} for {compact_duration(gap.duration)}"
    if telemetry.latency is not None:
        text += f"; latency histograms (median {telemetry.latency.median:g} s)"
    parts.append(("Telemetry", text + "."))

    detection = scenario.detection
    watchers = []
    analysis = detection.analysis
    if analysis.enabled:
        slow = f" or slow share above {_share(analysis.max_slow_rate)}" if analysis.max_slow_rate is not None else ""
        watchers.append(
            f"the strategies' analysis (judge analysis) measures the new version's error rate over the last "
            f"{compact_duration(analysis.window)}: a measurement fails above {_share(analysis.max_error_rate)}{slow}, "
            f"is inconclusive below {analysis.min_requests:,} requests, and the analysis fails after more than "
            f"{analysis.failure_limit} failed measurement{'s' if analysis.failure_limit != 1 else ''}"
        )
    alert = detection.service_alert
    if alert.enabled:
        watchers.append(
            f"a service alert fires when the service-wide error rate over {compact_duration(alert.window)} stays above "
            f"{_share(alert.max_error_rate)} for {compact_duration(alert.for_)}; the on-call person starts a "
            f"rollback after {_response(alert.response)}"
        )
    burn = detection.slo_burn
    if burn.enabled:
        alerts = ", ".join(
            f"{a.name} ({a.burn_rate:g}x over {compact_duration(a.long)} and {compact_duration(a.short)}, "
            f"response {_response(a.response)})"
            for a in burn.alerts
        )
        watchers.append(f"SLO burn-rate alerts on a {burn.objective:g} objective ({burn.indicator}): {alerts}")
    reports = detection.user_reports
    if reports.enabled:
        watchers.append(
            f"each harmed user reports with probability {_share(reports.report_probability)} after "
            f"{compact_duration(reports.delay)} on average; {reports.reports_needed} reports make support escalate, "
            f"and a rollback starts {_response(reports.response)} later"
        )
    off = [
        name
        for name, on in (
            ("analysis", analysis.enabled),
            ("service alert", alert.enabled),
            ("SLO burn", burn.enabled),
            ("user reports", reports.enabled),
        )
        if not on
    ]
    text = "; ".join(watchers) if watchers else "nothing watches the rollout"
    if off:
        text += f" (off: {', '.join(off)})"
    parts.append(("Detection", text + "."))

    rollback = scenario.rollback
    if rollback.style == "instant":
        text = "instant: the new version stops serving as soon as a rollback starts"
    elif rollback.style == "redeploy":
        text = f"a redeploy: the new version keeps serving for {compact_duration(rollback.duration)} after it starts"
    else:
        steps = ", ".join(_share(step) for step in rollback.steps)
        text = f"gradual: down through {steps}, {compact_duration(rollback.wait)} at each step"
    parts.append(("Rollback", text + "."))
    parts.append(("People", f"an approver answers a strategy's pause after {_response(scenario.people.approver)}."))

    strategies = []
    for spec in scenario.strategies:
        text = spec.name + (f" (strategy {spec.use})" if spec.use and spec.use != spec.name else "")
        if spec.params:
            text += ": " + ", ".join(f"{key} = {_value(value)}" for key, value in spec.params.items())
        if spec.judges:
            judges = "; ".join(
                f"{name} ({judge.use}{', ' if judge.params else ''}"
                f"{', '.join(f'{k} = {_value(v)}' for k, v in judge.params.items())})"
                for name, judge in spec.judges.items()
            )
            text += f"; judges: {judges}"
        strategies.append(text)
    parts.append(("Strategies", "; ".join(strategies) + "."))
    return parts


# ---------------------------------------------------------------------------------------------------------
# Charts (matplotlib, imported here only)


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
        rng = np.random.default_rng(0)
        for index, (name, y) in enumerate(zip(names, positions, strict=True)):
            values = samples[index] / scale if samples is not None else np.empty(0)
            summary = summaries[index] if summaries is not None else None
            if len(values):
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
                drawn.extend(values.tolist())
                glyphs.add("box")
            if summary and summary.get("n") and all(summary.get(k) is not None for k in ("mean", "median", "p95")):
                mean, median, p95 = (summary[k] / scale for k in ("mean", "median", "p95"))
                if not len(values):  # the runs are not there: median to p95 as a bar
                    axes.plot([median, p95], [y, y], color="#9ecae1", linewidth=6, solid_capstyle="butt", zorder=2)
                    axes.plot([median], [y], marker="|", markersize=16, color="#1f4e79", mew=2.5, zorder=4)
                    axes.plot([p95], [y], marker=">", markersize=8, color="#1f4e79", zorder=4)
                    glyphs.add("bar")
                ci = summary.get("ci95")
                error = None if ci is None else [[mean - ci[0] / scale], [ci[1] / scale - mean]]
                axes.errorbar(
                    [mean], [y], xerr=error, fmt="D", color="black", markersize=6, capsize=4, zorder=5, linewidth=1.5
                )
                drawn.extend([mean, median, p95])
                glyphs.add("mean")
            elif not len(values):
                axes.text(0.02, y, f"{name}: {empty}", transform=axes.get_yaxis_transform(), va="center", color="#777")
        if _log_scale(drawn):
            if counts and min(drawn) <= 0:
                axes.set_xscale("symlog", linthresh=1.0)
            elif min(drawn) > 0:
                axes.set_xscale("log")
            else:
                axes.set_xscale("symlog", linthresh=min(v for v in drawn if v > 0))
            xlabel += ", log scale"
        else:
            axes.set_xlim(left=0)
        axes.set_yticks(positions, names)
        axes.set_ylim(-0.7, len(names) - 0.3)
        axes.set_xlabel(xlabel)
        axes.set_title(title, loc="left")
        axes.grid(axis="y", visible=False)
        handles = _distribution_legend(glyphs, dots)
        if handles:
            figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
        return _png(figure)


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
        figure.legend(loc="outside lower center", ncols=5, frameon=False, fontsize=8)
        return _png(figure)


def tradeoff_chart(candidates: pd.DataFrame, group_axes: list[str], strategies: list[str]) -> bytes:
    """Per setting of the non-strategy axes, a panel: every strategy setting's mean rollout time on the
    healthy release against its mean users harmed on the defective one; the frontier ringed and numbered."""
    with _style():
        from matplotlib.lines import Line2D

        groups = list(candidates.groupby(group_axes, sort=False, dropna=False)) if group_axes else [((), candidates)]
        columns = min(3, len(groups))
        rows = -(-len(groups) // columns)
        figure = _figure(max(8.0, 4.3 * columns + 0.6), 3.6 * rows + 0.9 + 0.25 * (len(strategies) // 4))
        durations = candidates["duration_s"].dropna()
        unit = duration_unit(float(durations.median())) if len(durations) else "m"
        colors = {name: f"C{i % 10}" for i, name in enumerate(strategies)}
        markers = {name: "osD^vP*Xph"[i % 10] for i, name in enumerate(strategies)}
        for index, (key, group) in enumerate(groups):
            axes = figure.add_subplot(rows, columns, index + 1)
            for name in strategies:
                mine = group[group["strategy"] == name]
                axes.scatter(
                    mine["duration_s"] / SECONDS[unit],
                    mine["blast_radius_users"],
                    s=28,
                    color=colors[name],
                    marker=markers[name],
                    alpha=0.8,
                    zorder=3,
                )
            front = group[group["frontier"] > 0].sort_values("duration_s")
            axes.plot(
                front["duration_s"] / SECONDS[unit],
                front["blast_radius_users"],
                color="black",
                linewidth=1,
                drawstyle="steps-post",
                zorder=2,
            )
            axes.scatter(
                front["duration_s"] / SECONDS[unit],
                front["blast_radius_users"],
                s=130,
                facecolors="none",
                edgecolors="black",
                linewidths=1.4,
                zorder=4,
            )
            for row in front.itertuples():
                axes.annotate(
                    str(row.frontier),
                    (row.duration_s / SECONDS[unit], row.blast_radius_users),
                    xytext=(6, 5),
                    textcoords="offset points",
                    fontsize=8,
                    fontweight="bold",
                )
            log = _log_scale(group["blast_radius_users"].dropna().tolist())  # per panel: defect sizes differ
            if log:
                axes.set_yscale("symlog", linthresh=1.0)
            else:
                axes.set_ylim(bottom=0)
            values = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{axis_label(path)} = {_value(v)}" for path, v in zip(group_axes, values, strict=True))
            axes.set_title(label or "all grid points", loc="left")
            axes.set_xlabel(f"rollout time, healthy release ({UNIT_WORDS[unit]})")
            axes.set_ylabel("users harmed, defective release" + (" (log)" if log else ""))
        handles = [
            Line2D([], [], marker=markers[name], linestyle="", color=colors[name], label=name) for name in strategies
        ]
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="-",
                color="black",
                markerfacecolor="none",
                markersize=10,
                label="Pareto frontier (numbered as in its table)",
            )
        )
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=len(handles) if columns > 1 else min(len(handles), 4),
            frameon=False,
        )
        figure.suptitle("What caution costs: rollout time against users harmed (means per setting)")
        return _png(figure)


# ---------------------------------------------------------------------------------------------------------
# A comparison: the compare --json document (and the runs, when they were run now)


def _metric_cells(metric: dict[str, Any], fmt: Callable[..., str]) -> list[Cell]:
    n = metric.get("n") or 0
    mean, ci = metric.get("mean"), metric.get("ci95")

    def value(key: str) -> Cell:
        number = metric.get(key)
        return (
            Cell("-", {"field": key}, True)
            if number is None
            else Cell(fmt(number), {"field": key, "value": float(number)}, True)
        )

    return [
        value("mean"),
        Cell(
            "-" if ci is None or mean is None else f"[{fmt(ci[0], mean)}, {fmt(ci[1], mean)}]",
            {"field": "ci95"} if ci is None else {"field": "ci95", "low": float(ci[0]), "high": float(ci[1])},
            True,
        ),
        value("median"),
        value("p95"),
        Cell(str(n), {"field": "n", "value": n}, True),
    ]


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


def outcome_rows(document: dict[str, Any]) -> Table:
    """Detection and false-rollback rates, how the runs ended and what caught the defect: a column per strategy."""
    strategies = document["strategies"]
    names = list(strategies)
    rows, row_data = [], []

    def add(label: str, measure: str, cells: list[Cell]) -> None:
        rows.append([Cell(label), *cells])
        row_data.append({"measure": measure})

    add(
        "detection rate",
        "detection_rate",
        [
            Cell(_rate_text(s["detection_rate"]), {"strategy": n, "value": s["detection_rate"]}, True)
            for n, s in strategies.items()
        ],
    )
    add(
        "false-rollback rate",
        "false_rollback_rate",
        [
            Cell(_rate_text(s["false_rollback_rate"]), {"strategy": n, "value": s["false_rollback_rate"]}, True)
            for n, s in strategies.items()
        ],
    )
    for outcome in OUTCOMES:
        add(
            outcome,
            f"outcome:{outcome}",
            [
                Cell(
                    _with_share(s["outcomes"][outcome], s["outcome_shares"][outcome]),
                    {"strategy": n, "count": s["outcomes"][outcome], "share": float(s["outcome_shares"][outcome])},
                    True,
                )
                for n, s in strategies.items()
            ],
        )
    add(
        "caught late",
        "caught_late",
        [Cell(str(s["caught_late"]), {"strategy": n, "count": s["caught_late"]}, True) for n, s in strategies.items()],
    )
    for detector in sorted({d for s in strategies.values() for d in s["caught_by"]}):
        cells = []
        for n, s in strategies.items():
            count = s["caught_by"].get(detector, 0)
            share = s["caught_by_shares"].get(detector, 0.0 if s["caught_by_shares"] else None)
            cells.append(Cell(_with_share(count, share), {"strategy": n, "count": count, "share": share}, True))
        add(f"caught by {detector}", f"caught_by:{detector}", cells)
    return Table(
        "outcomes",
        ["", *names],
        rows,
        row_data,
        "runs ended: count (share of all runs); caught by: count (share of the detected runs)",
    )


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
    medians = [s["ttd_s"]["median"] for s in strategies.values() if s["ttd_s"]["median"] is not None]
    unit = duration_unit(float(np.median(medians))) if medians else "m"
    harmed = distribution_chart(
        "Users harmed per run",
        "distinct users harmed (blast radius)",
        names,
        samples("blast_radius_users"),
        [s["blast_radius_users"] for s in strategies.values()],
        counts=True,
    )
    ttd = distribution_chart(
        "Time to detect (detected runs only)",
        f"time to detect, from defect onset ({UNIT_WORDS[unit]})",
        names,
        samples("ttd_s"),
        [s["ttd_s"] for s in strategies.values()],
        scale=SECONDS[unit],
        empty="no detected run",
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


# ---------------------------------------------------------------------------------------------------------
# Reading saved results


def read_comparison(path: Path) -> dict[str, Any]:
    """A ``compare --json`` document from a file, checked; fields added since v1 derived when missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"--from {path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ScenarioError(
            f"--from {path}: not JSON ({_first_line(error)}); expected the document `rollout-sim compare --json` "
            "prints, or a sweep's table (.parquet or .csv)"
        ) from None
    expected = f"expected the document `rollout-sim compare --json` prints (schema {JSON_SCHEMA_ID})"
    if not isinstance(document, dict) or document.get("schema") != JSON_SCHEMA_ID:
        schema = document.get("schema") if isinstance(document, dict) else None
        got = f"schema {schema!r}" if schema else "no schema"
        raise ScenarioError(f"--from {path}: {got}; {expected}")

    def bad(where: str, what: str) -> ScenarioError:
        return ScenarioError(f"--from {path}: {where}: expected {what}")

    for key, kind in (
        ("scenario", str),
        ("seed", int),
        ("replications", int),
        ("population", int),
        ("healthy", bool),
        ("strategies", dict),
    ):
        if not isinstance(document.get(key), kind) or (kind is int and isinstance(document.get(key), bool)):
            raise bad(key, kind.__name__)
    if not isinstance(document.setdefault("errors", {}), dict):
        raise bad("errors", "an object")
    document.setdefault("streamed", False)
    for name, summary in document["strategies"].items():
        where = f"strategies.{name}"
        if not isinstance(summary, dict):
            raise bad(where, "an object")
        for metric in METRICS:
            _check_metric(summary.get(metric), f"{where}.{metric}", bad)
        if not _is_int(summary.get("replications")):
            raise bad(f"{where}.replications", "an integer")
        if not (summary.get("detection_rate") is None or _is_number(summary.get("detection_rate"))):
            raise bad(f"{where}.detection_rate", "a number or null")
        outcomes = summary.get("outcomes")
        if not isinstance(outcomes, dict) or not all(_is_int(outcomes.get(o)) for o in OUTCOMES):
            raise bad(f"{where}.outcomes", f"a count for each of {', '.join(OUTCOMES)}")
        caught_by = summary.setdefault("caught_by", {})
        if not isinstance(caught_by, dict) or not all(_is_int(v) for v in caught_by.values()):
            raise bad(f"{where}.caught_by", "counts by detector")
        replications = summary["replications"]
        summary.setdefault("outcome_shares", {o: outcomes[o] / replications if replications else 0.0 for o in OUTCOMES})
        quiet = sum(outcomes[o] for o in ("false_rollback", "completed", "stalled"))
        summary.setdefault("false_rollback_rate", outcomes["false_rollback"] / quiet if quiet else None)
        detected = sum(caught_by.values())
        summary.setdefault("caught_by_shares", {k: v / detected for k, v in caught_by.items()} if detected else {})
        summary.setdefault("caught_late", 0)
    return document


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metric(metric: Any, where: str, bad: Callable[[str, str], ScenarioError]) -> None:
    if not isinstance(metric, dict) or not _is_int(metric.get("n")):
        raise bad(where, "an object with mean, median, p95, ci95 and n")
    for key in ("mean", "median", "p95"):
        if not (metric.get(key) is None or _is_number(metric.get(key))):
            raise bad(f"{where}.{key}", "a number or null")
    ci = metric.get("ci95")
    if not (ci is None or (isinstance(ci, list) and len(ci) == 2 and all(_is_number(v) for v in ci))):
        raise bad(f"{where}.ci95", "[low, high] or null")


def read_sweep_table(path: Path) -> pd.DataFrame:
    """The tidy table ``rollout-sim sweep`` wrote (Parquet or CSV), checked."""
    expected = "expected the table `rollout-sim sweep` writes (NAME-sweep.parquet or NAME-sweep.csv)"
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, ImportError) as error:
        raise ScenarioError(f"--from {path}: cannot read it ({_first_line(error)}); {expected}") from None
    missing = [column for column in TABLE_COLUMNS if column not in table.columns]
    if missing:
        raise ScenarioError(f"--from {path}: no column {', '.join(missing)}; {expected}")
    columns = list(table.columns)
    if columns.index("point") > columns.index("release"):
        raise ScenarioError(f"--from {path}: the grid columns must come between point and release; {expected}")
    releases = set(table["release"].dropna().unique())
    if not releases or not releases <= {"defective", "healthy"} or "healthy" not in releases:
        raise ScenarioError(f"--from {path}: release must be defective or healthy, with healthy rows; {expected}")
    for column in ("mean", "n"):
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise ScenarioError(f"--from {path}: column {column} is not numeric; {expected}")
    return table


def table_axes(table: pd.DataFrame) -> list[str]:
    """The grid paths: the columns between ``point`` and ``release``."""
    columns = list(table.columns)
    return columns[columns.index("point") + 1 : columns.index("release")]


def _find_saved(path: Path, scenario_name: str | None) -> Path:
    """``--from``: a file, or a folder holding a report's comparison.json or a sweep's table."""
    if not path.exists():
        raise ScenarioError(f"--from {path}: no such file or folder")
    if path.is_file():
        return path
    if (path / COMPARISON_FILE).is_file():
        return path / COMPARISON_FILE
    for suffix in ("parquet", "csv"):
        if scenario_name and (path / f"{scenario_name}-sweep.{suffix}").is_file():
            return path / f"{scenario_name}-sweep.{suffix}"
        found = sorted(path.glob(f"*-sweep.{suffix}"))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise ScenarioError(f"--from {path}: several sweep tables ({names}): give one, or the SCENARIO")
    raise ScenarioError(
        f"--from {path}: no {COMPARISON_FILE} and no NAME-sweep.parquet or .csv in this folder; expected a "
        "saved `compare --json` document, a sweep's table, or the folder `rollout-sim sweep` wrote into"
    )


# ---------------------------------------------------------------------------------------------------------
# Sweeps


@dataclass(frozen=True)
class SweepData:
    table: pd.DataFrame
    axes: list[str]
    frontier: pd.DataFrame | None
    candidates: pd.DataFrame | None  # strategy settings per group: rollout time, users harmed, frontier number
    strategies: list[str]
    replications: int | None


def sweep_data(table: pd.DataFrame, axes: list[str]) -> SweepData:
    strategies = list(dict.fromkeys(table["strategy"].dropna()))
    runs = table[(table["measure"] == "blast_radius_users")]["n"]
    replications = int(runs.max()) if len(runs) and pd.notna(runs.max()) else None
    if not (table["release"] == "defective").any():
        return SweepData(table, axes, None, None, strategies, replications)
    frontier = pareto_frontier(table, [Axis(path, ()) for path in axes])
    frontier = frontier.assign(number=range(1, len(frontier) + 1))
    strategy_axes = [path for path in axes if path.startswith("strategies.")]
    group_axes = [path for path in axes if not path.startswith("strategies.")]
    keys = ["point", "strategy"]
    candidates = (
        _measure(table, "healthy", "rollout_duration_s", "duration_s")
        .merge(_measure(table, "defective", "blast_radius_users", "blast_radius_users"), on=keys)
        .merge(table[[*keys, *axes]].drop_duplicates(keys), on=keys)
    )
    candidates["setting"] = candidates.apply(lambda row: _setting(row, strategy_axes), axis=1)
    candidates = candidates.drop_duplicates([*group_axes, "setting"], ignore_index=True)
    marks = frontier[[*group_axes, "setting", "number"]].rename(columns={"number": "frontier"})
    candidates = candidates.merge(marks, on=[*group_axes, "setting"], how="left")
    candidates["frontier"] = candidates["frontier"].fillna(0).astype(int)
    return SweepData(table, axes, frontier, candidates, strategies, replications)


def _pick(table: pd.DataFrame, release: str, measures: Sequence[str]) -> dict[tuple[Any, str], dict[str, float]]:
    rows = table[(table["release"] == release) & table["measure"].isin(measures)]
    picked: dict[tuple[Any, str], dict[str, float]] = {}
    for point, strategy, measure, mean in zip(
        rows["point"], rows["strategy"], rows["measure"], rows["mean"], strict=True
    ):
        picked.setdefault((point, strategy), {})[measure] = mean
    return picked


def sweep_summary(data: SweepData) -> Table:
    """Per grid point and strategy, as ``sweep`` prints it (all rows): users harmed and time to detect on the
    defective release, rollout time and false rollbacks on the healthy one (means)."""
    table, axes = data.table, data.axes
    defective = _pick(table, "defective", ("blast_radius_users", "ttd_s"))
    healthy = _pick(table, "healthy", ("rollout_duration_s", "outcome_false_rollback"))
    wanted = (
        ("users harmed", defective, "blast_radius_users", _count),
        ("time to detect", defective, "ttd_s", _duration),
        ("rollout time", healthy, "rollout_duration_s", _duration),
        ("false rollbacks", healthy, "outcome_false_rollback", _percent),
    )
    present = [w for w in wanted if w[1]]
    points = table.drop_duplicates("point").set_index("point")[axes]
    rows, row_data = [], []
    for point in points.index:
        for strategy in data.strategies:
            if (point, strategy) not in healthy and (point, strategy) not in defective:
                continue
            cells = [Cell(_value(v)) for v in points.loc[point]] + [Cell(strategy)]
            for _, source, measure, fmt in present:
                value = source.get((point, strategy), {}).get(measure)
                missing = value is None or pd.isna(value)
                cells.append(
                    Cell(
                        "-" if missing else fmt(float(value)),
                        {} if missing else {"measure": measure, "value": float(value)},
                        True,
                    )
                )
            rows.append(cells)
            row_data.append({"point": int(point), "strategy": strategy})
    return Table(
        "sweep-summary",
        [*map(axis_label, axes), "strategy", *(w[0] for w in present)],
        rows,
        row_data,
        "means per grid point; users harmed and time to detect on the defective release, rollout time and "
        "false rollbacks on the same scenario with a healthy release",
    )


def frontier_rows(data: SweepData) -> Table:
    group_axes = [path for path in data.axes if not path.startswith("strategies.")]
    rows, row_data = [], []
    assert data.frontier is not None
    for row in data.frontier.to_dict(orient="records"):
        rows.append(
            [
                Cell(str(row["number"]), numeric=True),
                *(Cell(_value(row[path])) for path in group_axes),
                Cell(row["setting"]),
                Cell(_duration(row["duration_s"]), {"value": float(row["duration_s"])}, True),
                Cell(_count(row["blast_radius_users"]), {"value": float(row["blast_radius_users"])}, True),
            ]
        )
        row_data.append({"setting": row["setting"], "number": row["number"]})
    return Table(
        "frontier",
        ["#", *map(axis_label, group_axes), "setting", "rollout time", "users harmed"],
        rows,
        row_data,
        "Pareto frontier: the settings no other beats on both rollout time (healthy release) and users harmed "
        "(defective release); # is the number on the trade-off chart",
    )


def sweep_charts(data: SweepData) -> list[Chart]:
    table, names = data.table, data.strategies
    charts = []
    group_axes = [path for path in data.axes if not path.startswith("strategies.")]
    points = table["point"].nunique()
    if data.candidates is not None:
        undrawn = int(data.candidates["duration_s"].isna().sum())
        note = f" {undrawn} setting(s) never completed on the healthy release and are not drawn." if undrawn else ""
        numbers = ", ".join(f"{n}: {s}" for n, s in zip(data.frontier["number"], data.frontier["setting"], strict=True))
        charts.append(
            Chart(
                "tradeoff.png",
                "Trade-off: rollout time against users harmed, with the Pareto frontier",
                "Each marker is a strategy setting at a grid point (means): its rollout time on the healthy release "
                "against the users it harmed on the defective one. Ringed and numbered: the Pareto frontier "
                f"({numbers}).{note}",
                tradeoff_chart(data.candidates, group_axes, names),
            )
        )
    release = "defective" if (table["release"] == "defective").any() else "healthy"
    means = _pick(table, release, ("blast_radius_users", "ttd_s", *(f"outcome_{o}" for o in OUTCOMES)))

    def across(measure: str) -> list[np.ndarray]:
        """Per strategy, the means of ``measure`` at the grid points that have one."""
        values: dict[str, list[float]] = {name: [] for name in names}
        for (_, strategy), row in means.items():
            if strategy in values and pd.notna(row.get(measure)):
                values[strategy].append(float(row[measure]))
        return [np.array(values[name], dtype=float) for name in names]

    ttd = across("ttd_s")
    medians = [float(np.median(values)) for values in ttd if len(values)]
    unit = duration_unit(float(np.median(medians))) if medians else "m"
    caption = (
        f"Each dot is one grid point's mean on the {release} release ({points} points); the box spans the "
        "middle half of them, its whiskers the 5th to the 95th percentile."
    )
    charts.append(
        Chart(
            "users-harmed.png",
            "Users harmed per strategy, across the grid",
            caption,
            distribution_chart(
                f"Users harmed per run (mean per grid point, {release} release)",
                "distinct users harmed (blast radius)",
                names,
                across("blast_radius_users"),
                None,
                counts=True,
                dots="grid points (means)",
            ),
        )
    )
    charts.append(
        Chart(
            "time-to-detect.png",
            "Time to detect per strategy, across the grid",
            caption,
            distribution_chart(
                f"Time to detect (mean per grid point, {release} release)",
                f"time to detect, from defect onset ({UNIT_WORDS[unit]})",
                names,
                ttd,
                None,
                scale=SECONDS[unit],
                empty="no detected run",
                dots="grid points (means)",
            ),
        )
    )
    by_outcome = {outcome: across(f"outcome_{outcome}") for outcome in OUTCOMES}
    shares = [
        {o: float(np.mean(by_outcome[o][i])) if len(by_outcome[o][i]) else 0.0 for o in OUTCOMES}
        for i in range(len(names))
    ]
    charts.append(
        Chart(
            "outcomes.png",
            "Outcome shares per strategy, averaged over the grid",
            f"How the runs ended on the {release} release: each outcome's share, averaged over the {points} "
            "grid points.",
            outcome_chart(f"How the runs ended ({release} release, mean over grid points)", names, shares),
        )
    )
    return charts


# ---------------------------------------------------------------------------------------------------------
# Reproducing


def versions() -> list[tuple[str, str]]:
    import scipy

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        ("rollout-sim", version("rollout-sim")),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("numpy", np.__version__),
        ("pandas", pd.__version__),
        ("scipy", scipy.__version__),
        ("matplotlib (charts only)", version("matplotlib")),
        ("platform", platform.platform(terse=True)),
    ]


def _scenario_facts(scenario: Scenario | None, reference: str | None) -> list[tuple[str, str]]:
    if scenario is None:
        return []
    import hashlib

    from sim.sweeps import code_version

    facts = []
    path = Path(scenario.source)
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        bundled = bundled_scenarios().get(path.stem) == path
        where = f"bundled scenario {path.stem} ({path})" if bundled else str(path)
        facts.append(("scenario file", f"{where}, sha256 {digest}"))
    facts.append(("simulator code", f"digest {code_version(scenario)} of the simulator's and strategies' source"))
    return facts


# ---------------------------------------------------------------------------------------------------------
# Writing the folder


def _check_name(name: str) -> str:
    if not name or name in (".", "..") or name.startswith(".") or re.search(r"[\x00-\x1f\x7f/\\]", name):
        raise ScenarioError(f"--name {name!r}: expected a folder name (no '/', '\\', control characters, leading '.')")
    if len(name) > 100:
        raise ScenarioError(f"--name: at most 100 characters, got {len(name)}")
    if name == "sweeps":
        raise ScenarioError("--name sweeps: that folder holds the saved items of sweeps; choose another name")
    return name


def _check_target(target: Path) -> None:
    """A folder that exists must be an earlier report (replaced whole); anything else is refused."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise ScenarioError(f"--name: {target} exists and is not a report folder; choose another --name or --out")
    if any(target.iterdir()) and not (target / "report.md").is_file():
        raise ScenarioError(
            f"--name: {target} exists and is not a report folder (no report.md); choose another --name or --out"
        )


def write_report(target: Path, files: dict[str, bytes]) -> None:
    """Write every file into a fresh hidden folder beside ``target``, then put it in place of ``target``
    (an earlier report is replaced whole). A failure leaves the earlier report, never a half-written one."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f".{target.name}.*-*"):  # from a run killed mid-write
        if leftover.is_dir() and re.fullmatch(rf"\.{re.escape(target.name)}\.(new|old)-[0-9a-f]{{8}}", leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)
    temporary = parent / f".{target.name}.new-{secrets.token_hex(4)}"
    temporary.mkdir()
    old = None
    try:
        for name, data in files.items():
            with open(temporary / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        _check_target(target)
        if target.exists():
            old = parent / f".{target.name}.old-{secrets.token_hex(4)}"
            os.replace(target, old)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if old is not None and not target.exists():
            with contextlib.suppress(OSError):
                os.replace(old, target)  # the earlier report back in place
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# Assembling a report


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


def _reproduce_blocks(
    commands: list[tuple[str, list[str]]], facts: list[tuple[str, str]], notes: list[str]
) -> list[Block]:
    blocks: list[Block] = [Heading("Reproduce")]
    blocks += [Paragraph(note) for note in notes]
    for what, argv in commands:
        blocks += [Paragraph(what), Code(shlex.join(argv))]
    blocks.append(Bullets(facts))
    blocks.append(Table("versions", ["software", "version"], [[Cell(k), Cell(v)] for k, v in versions()]))
    return blocks


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
    blocks: list[Block] = [Heading("Scenario")]
    if scenario is not None:
        blocks.append(Bullets(describe_scenario(scenario)))
    else:
        blocks.append(
            Paragraph(
                f"Scenario {document['scenario']}: its file was not given (add SCENARIO to describe "
                "it); population "
                f"{document['population']:,} users."
            )
        )
    blocks.append(
        Paragraph(
            f"Every strategy ran the same {document['replications']:,} replications (common random numbers: the "
            f"same traffic and the same draws), seed {document['seed']}, population {document['population']:,} users, "
            f"{'a healthy release' if document['healthy'] else 'a defective release'}."
            + (
                " Past 250,000 runs the summaries were streamed: median and p95 within 0.64%."
                if document.get("streamed")
                else ""
            )
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
    blocks += _reproduce_blocks(commands, facts, notes)
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
    blocks: list[Block] = [Heading("Scenario")]
    if scenario is not None:
        blocks.append(Bullets(describe_scenario(scenario)))
    else:
        blocks.append(Paragraph(f"Scenario {name}: its file was not given (add SCENARIO to describe it)."))
    axes = []
    for path in data.axes:
        values = list(dict.fromkeys(_value(v) for v in table.drop_duplicates("point")[path]))
        axes.append(("", f"{path}: {', '.join(values)}"))
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
    blocks += [Heading("Summary"), sweep_summary(data)]
    progress("charts")
    blocks += [Heading("Charts"), *sweep_charts(data)]
    blocks += _reproduce_blocks(commands, facts, notes)
    csv = table.to_csv(index=False).encode("utf-8")
    return Report(title, blocks, {f"{name}-sweep.csv": csv})


# ---------------------------------------------------------------------------------------------------------
# The command


def _report_argv(
    scenario: str | None, sweep: bool, source: str | None, name: str | None, out: str, extra: list[str]
) -> list[str]:
    argv = ["rollout-sim", "report"]
    if scenario is not None:
        argv.append(scenario)
    if sweep:
        argv.append("--sweep")
    if source is not None:
        argv += ["--from", source]
    argv += extra
    if name is not None:
        argv += ["--name", name]
    if out != "reports":
        argv += ["--out", out]
    return argv


def _strategy_flags(strategies: Sequence[str]) -> list[str]:
    return [part for name in strategies for part in ("--strategy", name)]


@click.command("report")
@click.argument("scenario", required=False)
@click.option("--sweep", "is_sweep", is_flag=True, help="Run the scenario's sweep ([sweep] table) instead of compare.")
@click.option(
    "--from",
    "source",
    metavar="PATH",
    help="Read saved results instead of running: a saved compare --json document, a sweep's table (.parquet or .csv), "
    "or a folder holding one.",
)
@click.option("--name", metavar="NAME", help="Report folder name (default: the scenario's name, plus -sweep).")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True, help="Output folder.")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@click.option("--replications", "-n", type=click.IntRange(min=1), help="Replications (per grid point with --sweep).")
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="NAME",
    help="Run only these (repeatable): a strategy of the scenario, an installed one, or path/file.py:Class.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Local worker processes (default: all cores; results never change)."
)
@click.option(
    "--force", is_flag=True, help="Run even when the estimated work is over the ceiling (1 h, 2M ticks per block)."
)
@_friendly
def report_command(
    scenario: str | None,
    is_sweep: bool,
    source: str | None,
    name: str | None,
    out: str,
    seed: int | None,
    replications: int | None,
    strategies: tuple[str, ...],
    workers: int | None,
    force: bool,
) -> None:
    """Write reports/NAME/report.md and a self-contained report.html with charts, from a comparison or a
    sweep run now (SCENARIO: a file or a bundled name; default: default) or read with --from (docs/report.md)."""
    from rich.console import Console

    from sim.cli import _progress_bar

    console = Console(stderr=True)
    if importlib.util.find_spec("matplotlib") is None:  # said before any work, not after it
        raise ScenarioError("report draws its charts with matplotlib: pip install 'matplotlib>=3.8'")
    if name is not None:
        _check_name(name)
    out_dir = Path(out)

    def announce(what: str) -> None:
        console.print(f"rollout-sim: drawing the {what} (matplotlib)")

    if source is not None:
        given = [
            flag
            for flag, value in (
                ("-n", replications),
                ("--strategy", strategies),
                ("--workers", workers),
                ("--force", force),
            )
            if value
        ]
        if given:
            raise ScenarioError(f"--from reads saved results: leave out {', '.join(given)} (they run a simulation)")
        saved = _find_saved(Path(source), _scenario_name(scenario))
        if saved.suffix in (".parquet", ".csv"):
            report, name = _sweep_from_table(saved, scenario, seed, name, out, source)
        else:
            if is_sweep:
                raise ScenarioError(f"--sweep: --from {saved} is a comparison, not a sweep's table")
            if seed is not None:
                raise ScenarioError(f"--seed: --from {saved} records its seed; leave out --seed")
            report, name = _comparison_from_file(saved, scenario, name, out, source, announce)
        _write(report, out_dir, name, console)
        return

    from sim.experiments import as_scenario

    loaded = as_scenario(scenario)
    name = _check_name(name or (f"{loaded.name}-sweep" if is_sweep else loaded.name))
    _check_out(out_dir, name)
    if is_sweep:
        report, errors = _sweep_now(
            loaded,
            scenario,
            seed,
            replications,
            strategies,
            workers,
            force,
            name,
            out,
            console,
            _progress_bar,
            announce,
        )
    else:
        report, errors = _comparison_now(
            loaded,
            scenario,
            seed,
            replications,
            strategies,
            workers,
            force,
            name,
            out,
            console,
            _progress_bar,
            announce,
        )
    for message in errors.values():
        click.echo(f"rollout-sim: {' '.join(message.split())}", err=True)
    _write(report, out_dir, name, console)
    if errors:
        raise SystemExit(1)


def _scenario_name(reference: str | None) -> str | None:
    if reference is None:
        return None
    from sim.experiments import as_scenario

    return as_scenario(reference).name


def _check_out(out_dir: Path, name: str) -> None:
    from sim.sweeps import check_writable

    check_writable(out_dir)
    _check_target(out_dir / name)


def _write(report: Report, out_dir: Path, name: str, console: Any) -> None:
    _check_out(out_dir, name)
    target = out_dir / name
    try:
        write_report(target, report.files())
    except OSError as error:
        raise ScenarioError(f"--out {out_dir}: cannot write {target}: {error.strerror or error}") from None
    console.print(f"wrote {target / 'report.md'} and {target / 'report.html'}")


def _comparison_now(
    loaded: Scenario,
    reference: str | None,
    seed: int | None,
    replications: int | None,
    strategies: tuple[str, ...],
    workers: int | None,
    force: bool,
    name: str,
    out: str,
    console: Any,
    progress_bar: Callable[[Any], Any],
    announce: Callable[[str], None],
) -> tuple[Report, dict[str, str]]:
    from sim.cli import _announce, _imported
    from sim.cost import estimate
    from sim.experiments import compare, select_strategies
    from sim.plugins import check_strategies

    total = replications or loaded.replications
    chosen = _imported(strategies)
    specs = select_strategies(loaded, chosen)
    check_strategies(loaded, specs)
    _announce(estimate(loaded, specs, total), force)
    with progress_bar(console) as bar:
        task = bar.add_task("runs", total=None)
        result = compare(
            loaded,
            seed=seed,
            replications=total,
            strategies=chosen,
            progress=lambda done, runs: bar.update(task, completed=done, total=runs),
            workers=workers,
        )
    document = result.to_dict()
    flags = ["--seed", str(result.seed), "-n", str(result.replications), *_strategy_flags(strategies)]
    shown = reference if reference is not None else loaded.name
    commands = [
        (
            "The same numbers as JSON (the summary tables above show this document):",
            ["rollout-sim", "compare", shown, *flags, "--json"],
        ),
        ("This report:", _report_argv(reference, False, None, None if name == loaded.name else name, out, flags)),
    ]
    notes = [
        f"Run now: seed {result.seed}, {result.replications:,} replications. A replication depends only on the "
        "scenario, the seed and its index, never on the number of workers."
    ]
    facts = [
        ("seed", str(result.seed)),
        ("replications", f"{result.replications:,}"),
        *_scenario_facts(loaded, reference),
    ]
    runs = None if result.streamed else result.runs
    report = comparison_report(document, runs, loaded, commands, facts, notes, announce)
    return report, dict(result.errors)


def _comparison_from_file(
    saved: Path, reference: str | None, name: str | None, out: str, source: str, announce: Callable[[str], None]
) -> tuple[Report, str]:
    from sim.experiments import as_scenario
    from sim.population import build_cohorts

    document = read_comparison(saved)
    loaded = None
    if reference is not None:
        loaded = as_scenario(reference)
    elif document["scenario"] in bundled_scenarios():
        loaded = as_scenario(document["scenario"])
    notes = [f"Read from {saved}, the document rollout-sim compare --json printed: the runs themselves are not in it."]
    if loaded is not None:
        population = build_cohorts(loaded).population
        mismatch = (
            loaded.name != document["scenario"]
            or population != document["population"]
            or loaded.healthy != document["healthy"]
        )
        if mismatch and reference is not None:
            raise ScenarioError(
                f"--from {saved}: a comparison of scenario {document['scenario']!r} ({document['population']:,} "
                f"users, {'healthy' if document['healthy'] else 'defective'}), not of {reference} ({loaded.name!r}, "
                f"{population:,} users, {'healthy' if loaded.healthy else 'defective'})"
            )
        if mismatch:
            notes.append(f"The bundled scenario {loaded.name} does not match the document: it is not described.")
            loaded = None
        elif reference is None:
            notes.append(f"The scenario is described from the bundled scenario {loaded.name} (the document names it).")
        order = {spec.name: i for i, spec in enumerate(loaded.strategies)} if loaded is not None else {}
        document["strategies"] = dict(
            sorted(document["strategies"].items(), key=lambda item: order.get(item[0], len(order)))
        )
    name = _check_name(name or document["scenario"])
    _check_out(Path(out), name)
    scenario_names = [spec.name for spec in loaded.strategies] if loaded is not None else None
    strategy_flags = [] if scenario_names == list(document["strategies"]) else _strategy_flags(document["strategies"])
    shown = reference if reference is not None else document["scenario"]
    flags = ["--seed", str(document["seed"]), "-n", str(document["replications"]), *strategy_flags]
    commands = [
        (
            "The command that makes this document (the numbers of this report):",
            ["rollout-sim", "compare", shown, *flags, "--json"],
        ),
        (
            "This report from the saved document:",
            _report_argv(reference, False, source, None if name == document["scenario"] else name, out, []),
        ),
    ]
    facts = [
        ("seed", str(document["seed"])),
        ("replications", f"{document['replications']:,}"),
        *_scenario_facts(loaded, reference if reference is not None else document["scenario"]),
    ]
    notes.append(
        "The versions below are those that wrote this report; the document does not record the ones that computed it."
    )
    return comparison_report(document, None, loaded, commands, facts, notes, announce), name


def _sweep_now(
    loaded: Scenario,
    reference: str | None,
    seed: int | None,
    replications: int | None,
    strategies: tuple[str, ...],
    workers: int | None,
    force: bool,
    name: str,
    out: str,
    console: Any,
    progress_bar: Callable[[Any], Any],
    announce: Callable[[str], None],
) -> tuple[Report, dict[str, str]]:
    from sim.cli import _announce
    from sim.cost import sweep_estimate
    from sim.executors import make_executor
    from sim.sweeps import finish_sweep, prepare_sweep, run_sweep

    if strategies:
        raise ScenarioError("--strategy: a sweep runs the scenario's strategies (a grid axis may change them)")
    plan = prepare_sweep(loaded, None, seed=seed, replications=replications, out=out)
    _announce(sweep_estimate([item.scenario for item in plan.pending()], plan.replications), force)
    executor = make_executor("local", workers, None)
    already = len(plan.done())
    console.print(
        f"sweep: {len(plan.points)} points, {len(plan.items)} scenario variants "
        f"({already} already done) x {plan.replications} replications -> {plan.directory}"
    )
    try:
        with progress_bar(console) as bar:
            task = bar.add_task("tasks", total=None)
            errors = run_sweep(plan, executor, lambda n, total: bar.update(task, completed=n, total=total))
    except (KeyboardInterrupt, BrokenProcessPool) as stop:  # as `rollout-sim sweep` says it
        why = "interrupted" if isinstance(stop, KeyboardInterrupt) else "a worker process died"
        console.print(
            f"{why}: {len(plan.done())} of {len(plan.items)} variants saved in {plan.directory}; "
            "run the same command again to finish the rest"
        )
        raise SystemExit(130 if isinstance(stop, KeyboardInterrupt) else 1) from None
    result = finish_sweep(plan, errors)
    console.print(f"wrote {result.parquet} and {result.csv}")
    data = sweep_data(result.table, [axis.path for axis in plan.axes])
    flags = ["--seed", str(plan.seed), "-n", str(plan.replications)]
    shown = reference if reference is not None else loaded.name
    default_name = f"{loaded.name}-sweep"
    commands = [
        (
            "The sweep (its table and saved items; run again, it only reads them):",
            ["rollout-sim", "sweep", shown, *flags, *(["--out", out] if out != "reports" else [])],
        ),
        ("This report:", _report_argv(reference, True, None, None if name == default_name else name, out, flags)),
    ]
    notes = [
        f"Run now: seed {plan.seed}, {plan.replications:,} replications per grid point; {already} of the "
        f"{len(plan.items)} scenario variants were saved by an earlier run of the same sweep and read, not run again. "
        f"Table: {result.parquet} and "
        f"{result.csv}; saved items: {plan.directory}."
    ]
    facts = [
        ("seed", str(plan.seed)),
        ("replications per grid point", f"{plan.replications:,}"),
        *_scenario_facts(loaded, reference),
    ]
    report = sweep_report(data, loaded.name, loaded, commands, facts, notes, str(plan.seed), announce)
    return report, dict(result.errors)


def _sweep_from_table(
    saved: Path, reference: str | None, seed: int | None, name: str | None, out: str, source: str
) -> tuple[Report, str]:
    from sim.experiments import as_scenario
    from sim.sweeps import plan_sweep

    table = read_sweep_table(saved)
    axes = table_axes(table)
    stem = saved.name.rsplit("-sweep.", 1)[0] if "-sweep." in saved.name else None
    loaded = None
    if reference is not None:
        loaded = as_scenario(reference)
    elif stem is not None and stem in bundled_scenarios():
        loaded = as_scenario(stem)
    scenario_name = loaded.name if loaded is not None else (stem or saved.stem)
    data = sweep_data(table, axes)
    notes = [f"Read from {saved}, the table of a sweep (means, medians, p95 and intervals per grid point)."]
    verified = False
    shown_seed = "not recorded in the table"
    if loaded is not None:
        used_seed = loaded.seed if seed is None else seed
        grid = axes_from_table(loaded.sweep.grid) if loaded.sweep is not None else []
        if [axis.path for axis in grid] == axes and data.replications is not None:
            with contextlib.suppress(ScenarioError):
                plan = plan_sweep(loaded, grid, used_seed, data.replications, saved.parent)
                verified = plan.directory.is_dir()
        if verified:
            shown_seed = str(used_seed)
            notes.append(
                f"Checked: {plan.directory} holds the saved items of exactly this scenario, grid, seed {used_seed}, "
                f"{data.replications:,} replications and simulator code."
            )
        else:
            shown_seed = f"{used_seed} ({'given' if seed is not None else 'the scenario'}'s; not checked)"
            notes.append(
                f"Not checked: no saved sweep folder beside the table matches scenario {loaded.name}, its [sweep] "
                f"grid, seed {used_seed} ({'--seed' if seed is not None else 'the scenario seed'}) and "
                f"{data.replications} replications with this code; the seed below is an assumption (give --seed)."
            )
        if reference is None:
            notes.append(f"The scenario is described from the bundled scenario {loaded.name} (the table's name).")
    name = _check_name(name or f"{scenario_name}-sweep")
    _check_out(Path(out), name)
    flags = (["--seed", str(loaded.seed if seed is None else seed)] if loaded is not None else []) + (
        ["-n", str(data.replications)] if data.replications is not None else []
    )
    shown = reference if reference is not None else scenario_name
    commands = [
        (
            "The sweep that makes this table" + ("" if verified else " (the seed as assumed above)") + ":",
            ["rollout-sim", "sweep", shown, *flags, "--out", str(saved.parent)],
        ),
        (
            "This report from the saved table:",
            _report_argv(
                reference,
                False,
                source,
                None if name == f"{scenario_name}-sweep" else name,
                out,
                ["--seed", str(seed)] if seed is not None else [],
            ),
        ),
    ]
    facts = [
        ("seed", shown_seed),
        ("replications per grid point", f"{data.replications:,}" if data.replications is not None else "unknown"),
        *_scenario_facts(loaded, reference if reference is not None else stem),
    ]
    notes.append(
        "The versions below are those that wrote this report; the table does not record the ones that computed it."
    )
    return sweep_report(data, scenario_name, loaded, commands, facts, notes, shown_seed), name
