"""The scenario in words: ``describe_scenario`` gives a (label, sentence) pair for each part of a
scenario (population, traffic, release, telemetry, detection, rollback, people, strategies), in the
words of docs/concepts.md; ``value_text`` shows a scenario value (a grid value, a parameter) as the
tables and charts of a report print it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sim.durations import compact_duration

if TYPE_CHECKING:
    from sim.scenario import (
        Detection,
        Population,
        Release,
        ResponseTime,
        Rollback,
        Scenario,
        StrategySpec,
        Telemetry,
    )


def value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, default=str)


def describe_scenario(scenario: Scenario) -> list[tuple[str, str]]:
    """The scenario as sentences, one per part (the words of docs/concepts.md)."""
    parts = [("In short", scenario.description)] if scenario.description else []
    return [
        *parts,
        ("Population", _population(scenario.population)),
        ("Traffic", _traffic(scenario)),
        ("Release", _release(scenario.release)),
        ("Telemetry", _telemetry(scenario.telemetry)),
        ("Detection", _detection(scenario.detection)),
        ("Rollback", _rollback(scenario.rollback)),
        ("People", f"an approver answers a strategy's pause after {_response(scenario.people.approver)}."),
        ("Strategies", "; ".join(map(_strategy, scenario.strategies)) + "."),
    ]


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


def _population(population: Population) -> str:
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
    return text + "."


def _traffic(scenario: Scenario) -> str:
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
    return text + f". Every run is simulated for {compact_duration(scenario.horizon)} (the horizon)."


def _release(release: Release) -> str:
    defect = release.defect
    if defect is None:
        return "healthy: the new version has no defect, so any rollback is a false rollback."
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
    if release.defective_share < 1:
        text += f"; {_share(release.defective_share)} of releases carry it, the rest are healthy"
    return text + "."


def _telemetry(telemetry: Telemetry) -> str:
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
    return text + "."


def _detection(detection: Detection) -> str:
    watchers = _watchers(detection)
    switches = (
        ("analysis", detection.analysis),
        ("service alert", detection.service_alert),
        ("SLO burn", detection.slo_burn),
        ("user reports", detection.user_reports),
    )
    off = [name for name, watcher in switches if not watcher.enabled]
    text = "; ".join(watchers) if watchers else "nothing watches the rollout"
    if off:
        text += f" (off: {', '.join(off)})"
    return text + "."


def _watchers(detection: Detection) -> list[str]:
    """What watches the rollout, a sentence each: only the watchers that are on."""
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
    return watchers


def _rollback(rollback: Rollback) -> str:
    if rollback.style == "instant":
        return "instant: the new version stops serving as soon as a rollback starts."
    if rollback.style == "redeploy":
        return f"a redeploy: the new version keeps serving for {compact_duration(rollback.duration)} after it starts."
    steps = ", ".join(_share(step) for step in rollback.steps)
    return f"gradual: down through {steps}, {compact_duration(rollback.wait)} at each step."


def _strategy(spec: StrategySpec) -> str:
    text = spec.name + (f" (strategy {spec.use})" if spec.use and spec.use != spec.name else "")
    if spec.params:
        text += ": " + ", ".join(f"{key} = {value_text(value)}" for key, value in spec.params.items())
    if spec.judges:
        judges = "; ".join(
            f"{name} ({judge.use}{', ' if judge.params else ''}"
            f"{', '.join(f'{k} = {value_text(v)}' for k, v in judge.params.items())})"
            for name, judge in spec.judges.items()
        )
        text += f"; judges: {judges}"
    return text
