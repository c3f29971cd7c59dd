"""One strategy's lane in the race: exposure, error rate against the reference, users harmed, and marks."""

from __future__ import annotations

import bisect
import math

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from sim.durations import format_clock
from sim.tui.race import Lane, Sample

BARS = " ▁▂▃▄▅▆▇█"
MARKS = {"onset": "▲", "alarm": "◆", "detected": "✗", "mitigated": "✓", "done": "★"}
"""Marks under a lane: defect onset, an alarm, detection (a rollback starts), rollback complete, promoted."""
LABEL = 10  # columns of the row labels
VALUE = 26  # columns of the values at the right


def columns_for(width: int) -> int:
    return max(8, width - LABEL - VALUE - 2)


def sample_at(samples: list[Sample], times: list[float], time: float) -> Sample | None:
    """The last sample at or before ``time``."""
    index = bisect.bisect_right(times, time)
    return samples[index - 1] if index else None


def bars(values: list[float | None], top: float) -> str:
    """A sparkline: one character per value scaled to ``top``; None (the future) is blank."""
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        elif math.isnan(value) or top <= 0:
            out.append("·" if math.isnan(value) else BARS[1] if value > 0 else BARS[0])
        else:
            level = min(len(BARS) - 1, math.ceil(value / top * (len(BARS) - 1)))
            out.append(BARS[max(level, 1 if value > 0 else 0)])
    return "".join(out)


def _percent(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{100 * value:.3g}%"


class LaneView(Static):
    """Draws one ``Lane`` over the time window ``[0, span]``; the screen sets ``lane``, ``span``, ``harm_top``."""

    DEFAULT_CSS = """
    LaneView {
        border: round $primary;
        height: auto;
        padding: 0 1;
    }
    LaneView.error {
        border: round $error;
    }
    LaneView.rolled-back {
        border: round $warning;
    }
    LaneView.promoted {
        border: round $success;
    }
    """

    def __init__(self, lane: Lane) -> None:
        super().__init__()
        self.lane = lane
        self.span = 600.0
        self.now = 0.0
        self.harm_top = 1.0

    def refresh_lane(self, lane: Lane, now: float, span: float, harm_top: float) -> None:
        self.lane, self.now, self.span, self.harm_top = lane, now, span, harm_top
        latest = lane.latest
        phase = "error" if lane.error else latest.phase if latest else "deciding"
        self.border_title = f"{lane.name} · {phase.replace('_', ' ')}"
        self.set_class(bool(lane.error), "error")
        self.set_class(phase in ("rolling_back", "mitigated") and not lane.error, "rolled-back")
        self.set_class(phase == "done", "promoted")
        self.update(self._lane_chart())

    def _lane_chart(self) -> Group:
        lane = self.lane
        width = columns_for(self.size.width or 80)
        if lane.error:
            return Group(Text(f"error: {lane.error}", style="bold"), Text(""))
        times = [s.time for s in lane.samples]
        edges = [self.span * (c + 1) / width for c in range(width)]
        picked = [sample_at(lane.samples, times, t) if t - self.span / width <= self.now else None for t in edges]
        latest = lane.latest
        rows = []
        segmented = any(len(set(s.shares.values())) > 1 for s in lane.samples)
        if segmented and latest is not None:
            for segment in latest.shares:
                values = [None if s is None else s.shares.get(segment, 0.0) for s in picked]
                rows.append(_row(segment[: LABEL - 1], bars(values, 1.0), _percent(latest.shares[segment])))
        else:
            values = [None if s is None else s.weight for s in picked]
            rows.append(_row("exposure", bars(values, 1.0), _percent(latest.weight if latest else 0.0)))
        errors = [None if s is None else s.error_rate for s in picked]
        seen = [v for v in errors if v is not None and not math.isnan(v)]
        reference = latest.reference_rate if latest else math.nan
        top = max([*seen, 3 * reference if not math.isnan(reference) else 0.0, 1e-9])
        known = [s.error_rate for s in lane.samples if not math.isnan(s.error_rate)]
        current = _percent(known[-1] if known else math.nan)  # the last measured, after traffic stopped too
        rows.append(_row("errors", bars(errors, top), f"{current} vs {_percent(reference)}"))
        harmed = [None if s is None else float(s.harmed_users) for s in picked]
        rows.append(_row("harmed", bars(harmed, self.harm_top), f"{latest.harmed_users if latest else 0:,} users"))
        rows.append(_row("marks", self._marks(width), self._status()))
        return Group(*rows)

    def _marks(self, width: int) -> str:
        line = [" "] * width
        for marker in self.lane.markers:
            column = min(width - 1, int(marker.time / self.span * width))
            if marker.time <= self.span and (line[column] == " " or marker.kind in ("detected", "mitigated")):
                line[column] = MARKS.get(marker.kind, "•")
        return "".join(line)

    def _status(self) -> str:
        detected = self.lane.marker("detected")
        if detected is not None:
            return f"✗ {format_clock(detected.time)} {detected.label}"[:VALUE]
        done = self.lane.marker("done")
        if done is not None:
            return f"★ promoted {format_clock(done.time)}"
        onset = self.lane.marker("onset")
        return f"▲ onset {format_clock(onset.time)}" if onset else ""


def _row(label: str, chart: str, value: str) -> Text:
    text = Text(f"{label:<{LABEL}}", style="bold")
    text.append(chart)
    text.append(f"  {value}"[: VALUE + 2])
    return text
