"""Import real Argo Rollouts ``Rollout`` and Flagger ``Canary`` files as scenario strategies.

``import_file(path)`` reads a (multi-document) YAML file and returns the
strategies it describes (``argo``, ``bluegreen`` or ``flagger``) with their
judges, plus one-line warnings naming every YAML field that could not be
mapped. ``ImportResult.toml()`` renders them as ``[[strategies]]`` entries.

Argo ``AnalysisTemplate`` (and ``ClusterAnalysisTemplate``) documents are
looked up in the same file, then in the ``*.yaml``/``*.yml`` files of its
folder. Each template metric becomes one ``threshold`` judge (``rule =
"argo"``) named after the template (``TEMPLATE-METRIC`` when it has several
metrics), its condition mapped by kind: a success rate (``result[0] >=
0.95``: max_error_rate 0.05), an error rate (``result[0] <= 0.01``:
max_error_rate 0.01) or a latency quantile (max_slow_rate, the latency
objective being the scenario's slow threshold).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.durations import parse_duration
from sim.scenario import JudgeSpec, ScenarioError, StrategySpec

__all__ = ["ImportResult", "import_file", "import_text", "specs_toml"]

ARGO_API = "argoproj.io/"
FLAGGER_API = "flagger.app/"
TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
QUERY_PROVIDERS = ("prometheus", "datadog", "newRelic", "wavefront", "cloudWatch", "graphite", "influxdb", "skywalking")
_NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)"
_RESULT = r"(?:asFloat\(\s*)?result(?:\[0\])?(?:\s*\))?"
_CONDITION = re.compile(rf"^\s*{_RESULT}\s*(>=|>|<=|<)\s*{_NUMBER}\s*$")
_NO_DATA_PREFIX = re.compile(r"^\s*(?:len\(result\)\s*==\s*0|isNaN\(\s*result(?:\[0\])?\s*\))\s*\|\|\s*")
_QUANTILE = re.compile(r"histogram_quantile\(\s*([0-9.]+)")
_RANGE = re.compile(r"\[\s*(\d+[smhd])\s*\]")
_LATENCY_WORDS = ("histogram_quantile", "latency", "duration", "_seconds_bucket", "p99", "p95")


@dataclass
class ImportResult:
    """The strategies a file describes and what could not be mapped (one line each, naming the field)."""

    specs: list[StrategySpec]
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    def toml(self) -> str:
        """The specs as TOML ``[[strategies]]`` entries (warnings as comments), ready to paste into a scenario."""
        return specs_toml(self.specs, self.warnings)


# -- public functions ------------------------------------------------------------------------------


def import_file(path: str | Path) -> ImportResult:
    """Read a Rollout or Canary YAML file; its strategies and warnings. Bad input: ``ScenarioError`` (one line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read the file: {_line(error)}") from None
    return import_text(text, str(path), folder=path.parent, exclude=path)


def import_text(
    text: str, source: str = "<yaml>", folder: Path | None = None, exclude: Path | None = None
) -> ImportResult:
    """Like ``import_file`` for YAML text; ``folder`` is searched for analysis templates."""
    documents = _documents(text, source)
    importer = _Importer(source, documents, folder, exclude)
    return ImportResult(specs=importer.run(), warnings=importer.warnings, source=source)


def specs_toml(specs: list[StrategySpec], warnings: Sequence[str] = ()) -> str:
    """TOML ``[[strategies]]`` entries for ``specs``, each judge as ``judges.NAME = { use = ..., params = {...} }``."""
    lines = [f"# warning: {_line(warning)}" for warning in warnings]
    for spec in specs:
        if lines:
            lines.append("")
        lines.append("[[strategies]]")
        lines.append(f"name = {_toml_value(spec.name)}")
        if spec.use is not None:
            lines.append(f"use = {_toml_value(spec.use)}")
        lines.append(f"params = {_toml_value(spec.params)}")
        if spec.judges is not None and not spec.judges:
            lines.append("judges = {}")
        for name, judge in (spec.judges or {}).items():
            body = {"use": judge.use, "params": judge.params}
            lines.append(f"judges.{_toml_key(name)} = {_toml_value(body)}")
    return "\n".join(lines) + "\n"


# -- TOML rendering --------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot render {value!r} as TOML")


# -- helpers ---------------------------------------------------------------------------------------


def _line(value: object) -> str:
    return " ".join(str(value).split())[:300]


def _documents(text: str, source: str) -> list[dict[str, Any]]:
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise ScenarioError(f"{source}: not YAML: {_line(error)}") from None
    if not documents:
        raise ScenarioError(f"{source}: no YAML documents")
    if not all(isinstance(doc, dict) for doc in documents):
        raise ScenarioError(f"{source}: every YAML document must be a mapping with apiVersion and kind")
    return documents


def _name(doc: dict[str, Any], default: str) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name and "/" not in name and len(name) <= 100 else default


def _round(value: float) -> float:
    return round(float(value), 10)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class _Importer:
    def __init__(self, source: str, documents: list[dict[str, Any]], folder: Path | None, exclude: Path | None):
        self.source, self.documents, self.folder, self.exclude = source, documents, folder, exclude
        self.warnings: list[str] = []
        self._templates: dict[str, dict[str, Any]] | None = None
        self._judges_of: dict[str, dict[str, JudgeSpec]] = {}  # template name -> its judges

    def fail(self, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {_line(problem)}")

    def warn(self, text: str) -> None:
        self.warnings.append(_line(text))

    def run(self) -> list[StrategySpec]:
        specs: list[StrategySpec] = []
        kinds = []
        for doc in self.documents:
            kind, api = doc.get("kind"), str(doc.get("apiVersion", ""))
            kinds.append(kind)
            if kind == "Rollout" and api.startswith(ARGO_API):
                specs.append(self.rollout(doc))
            elif kind == "Canary" and api.startswith(FLAGGER_API):
                specs.append(self.canary(doc))
        if not specs:
            others = [k for k in kinds if k not in TEMPLATE_KINDS]
            what = f"unknown kind {others[0]!r}" if others else "only analysis templates"
            raise self.fail(f"{what}: expected an Argo Rollout (argoproj.io) or a Flagger Canary (flagger.app)")
        seen: dict[str, int] = {}
        for index, spec in enumerate(specs):  # strategy names must be unique in a scenario
            seen[spec.name] = seen.get(spec.name, 0) + 1
            if seen[spec.name] > 1:
                specs[index] = spec.model_copy(update={"name": f"{spec.name}-{seen[spec.name]}"})
        for spec in specs:
            self.check(spec)
        return specs

    def check(self, spec: StrategySpec) -> None:
        """Build the strategy and its judges once, so a bad value fails here, naming the file."""
        from strategies.argo import ArgoCanary
        from strategies.bluegreen import BlueGreen
        from strategies.flagger import FlaggerCanary
        from strategies.judges import Threshold

        classes = {"argo": ArgoCanary, "bluegreen": BlueGreen, "flagger": FlaggerCanary}
        try:
            classes[spec.use or spec.name](**spec.params)
            for judge in (spec.judges or {}).values():
                Threshold(**judge.params)
        except (TypeError, ValueError) as error:
            raise self.fail(f"{spec.name}: {error}") from None

    def spec(self, name: str, use: str, params: dict[str, Any], judges: dict[str, JudgeSpec]) -> StrategySpec:
        try:
            return StrategySpec(name=name, use=use, params=params, judges=judges)
        except ValueError as error:
            raise self.fail(f"{name}: {error}") from None

    # -- Argo ------------------------------------------------------------------------------------

    def rollout(self, doc: dict[str, Any]) -> StrategySpec:
        name = _name(doc, "argo")
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        strategy = spec.get("strategy")
        if not isinstance(strategy, dict):
            raise self.fail("spec.strategy: missing; expected canary (with steps) or blueGreen")
        if isinstance(strategy.get("blueGreen"), dict):
            return self.bluegreen(name, strategy["blueGreen"])
        canary = strategy.get("canary")
        if not isinstance(canary, dict) or not isinstance(canary.get("steps"), list) or not canary["steps"]:
            raise self.fail(
                "spec.strategy: no canary steps and no blueGreen (a rolling update has nothing to simulate)"
            )
        judges: dict[str, JudgeSpec] = {}
        steps: list[dict[str, Any]] = []
        inline_steps: list[int] = []
        for index, step in enumerate(canary["steps"]):
            where = f"spec.strategy.canary.steps[{index}]"
            if not isinstance(step, dict) or len(step) != 1:
                raise self.fail(f"{where}: expected one of setWeight, pause or analysis, got {_line(step)}")
            ((kind, value),) = step.items()
            if kind == "setWeight":
                steps.append({"setWeight": value})
            elif kind == "pause":
                steps.append({"pause": self.pause(where, value)})
            elif kind == "analysis":
                names = self.analysis_judges(f"{where}.analysis", value, judges, inline=True)
                if names:
                    inline_steps.append(len(steps))
                    steps.append({"analysis": {"judges": names}})
            else:
                self.warn(f"{where}.{kind}: not simulated (step dropped)")
        if not steps:
            raise self.fail("spec.strategy.canary.steps: no step the simulator can run")
        params: dict[str, Any] = {"steps": steps, "background": False}
        background = canary.get("analysis")
        if isinstance(background, dict):
            inline_names = {n for s in steps if "analysis" in s for n in s["analysis"]["judges"]}
            names = self.analysis_judges("spec.strategy.canary.analysis", background, judges, inline=False)
            for clash in sorted(inline_names & set(names)):  # one judge cannot run in both roles
                judges[f"{clash}-background"] = judges[clash]
                names[names.index(clash)] = f"{clash}-background"
            if names:
                start = background.get("startingStep", 0)
                if isinstance(start, bool) or not isinstance(start, int) or start < 0:
                    raise self.fail(f"spec.strategy.canary.analysis.startingStep must be a step index, got {start!r}")
                if start >= len(steps):
                    self.warn(
                        f"spec.strategy.canary.analysis.startingStep {start}: past the last step, "
                        f"set to {len(steps) - 1}"
                    )
                    start = len(steps) - 1
                params["background"] = {"judges": names, "startingStep": start}
        for key in canary:
            if key in ("steps", "analysis") or key in _ARGO_SILENT:
                continue
            self.warn(f"spec.strategy.canary.{key}: not simulated ({_ARGO_NOTES.get(key, 'ignored')})")
        return self.spec(name, "argo", params, judges)

    def pause(self, where: str, value: object) -> dict[str, Any]:
        if value is None or value == {}:
            return {}
        if not isinstance(value, dict) or set(value) - {"duration"}:
            raise self.fail(f"{where}.pause: expected {{}} or {{duration: ...}}, got {_line(value)}")
        duration = value["duration"]
        if isinstance(duration, str) and duration.strip().isdigit():
            duration = int(duration.strip())  # Argo's intstr: a bare number is seconds
        try:
            parse_duration(duration)
        except ValueError as error:
            raise self.fail(f"{where}.pause.duration: {error}") from None
        return {"duration": duration}

    def analysis_judges(self, where: str, value: object, judges: dict[str, JudgeSpec], inline: bool) -> list[str]:
        """The judges for an analysis block's templates (added to ``judges``); warns for what it drops."""
        if not isinstance(value, dict) or not isinstance(value.get("templates"), list):
            raise self.fail(f"{where}.templates: expected a list of {{templateName: ...}}")
        for key in value:
            if key not in ("templates", "startingStep", "args"):
                self.warn(f"{where}.{key}: not simulated")
        names: list[str] = []
        for index, ref in enumerate(value["templates"]):
            if not isinstance(ref, dict) or not isinstance(ref.get("templateName"), str):
                raise self.fail(f"{where}.templates[{index}]: expected {{templateName: ...}}")
            template = ref["templateName"]
            for judge_name, judge in self.template_judges(template).items():
                if inline and "count" not in judge.params:
                    self.warn(
                        f"AnalysisTemplate {template}: metric of judge {judge_name} has no count: "
                        f"the inline step {where} never completes (as in Argo)"
                    )
                judges[judge_name] = judge
                names.append(judge_name)
        if not names:
            self.warn(f"{where}: no metric could be mapped; the analysis is dropped")
        return list(dict.fromkeys(names))

    def templates(self) -> dict[str, dict[str, Any]]:
        if self._templates is None:
            found: dict[str, dict[str, Any]] = {}
            siblings: list[dict[str, Any]] = []
            if self.folder is not None and self.folder.is_dir():
                for path in sorted([*self.folder.glob("*.yaml"), *self.folder.glob("*.yml")]):
                    if self.exclude is not None and path.resolve() == self.exclude.resolve():
                        continue
                    try:
                        siblings += [
                            d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)
                        ]
                    except (OSError, UnicodeDecodeError, yaml.YAMLError):
                        continue  # a sibling that is not YAML holds no template
            for doc in [*siblings, *self.documents]:  # the file's own templates win
                if doc.get("kind") in TEMPLATE_KINDS and str(doc.get("apiVersion", "")).startswith(ARGO_API):
                    found[_name(doc, "")] = doc
            self._templates = found
        return self._templates

    def template_judges(self, template: str) -> dict[str, JudgeSpec]:
        if template in self._judges_of:
            return self._judges_of[template]
        doc = self.templates().get(template)
        if doc is None:
            raise self.fail(f"analysis template {template!r} not found in the file or its folder")
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        metrics = spec.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise self.fail(f"AnalysisTemplate {template}: spec.metrics must be a non-empty list")
        for key in spec:
            if key not in ("metrics", "args"):
                self.warn(f"AnalysisTemplate {template}: spec.{key}: not simulated")
        judges: dict[str, JudgeSpec] = {}
        for index, metric in enumerate(metrics):
            if not isinstance(metric, dict):
                raise self.fail(f"AnalysisTemplate {template}: metrics[{index}] must be a mapping")
            params = self.metric(f"AnalysisTemplate {template}: metrics[{index}]", metric)
            if params is not None:
                metric_name = metric.get("name")
                label = (
                    template if len(metrics) == 1 or not isinstance(metric_name, str) else f"{template}-{metric_name}"
                )
                judges[label] = JudgeSpec(use="threshold", params=params)
        self._judges_of[template] = judges
        return judges

    def metric(self, where: str, metric: dict[str, Any]) -> dict[str, Any] | None:
        provider = metric.get("provider") if isinstance(metric.get("provider"), dict) else {}
        kinds = list(provider)
        if not kinds:
            self.warn(f"{where}.provider: missing; metric skipped")
            return None
        if kinds[0] not in QUERY_PROVIDERS:
            self.warn(f"{where}.provider.{kinds[0]}: a {kinds[0]} provider cannot be simulated; metric skipped")
            return None
        query = provider[kinds[0]].get("query", "") if isinstance(provider[kinds[0]], dict) else ""
        query = query if isinstance(query, str) else ""
        bound = self.condition(where, metric, query)
        if bound is None:
            return None
        params: dict[str, Any] = {"rule": "argo", **bound}
        for yaml_key, key in (("interval", "interval"), ("initialDelay", "initial_delay")):
            if yaml_key in metric:
                try:
                    parse_duration(metric[yaml_key])
                except ValueError as error:
                    raise self.fail(f"{where}.{yaml_key}: {error}") from None
                params[key] = metric[yaml_key]
        window = _RANGE.search(query)
        if window:
            params["window"] = window.group(1)
        for yaml_key, key, default in (
            ("count", "count", None),
            ("failureLimit", "failure_limit", 0),
            ("inconclusiveLimit", "inconclusive_limit", 0),
            ("consecutiveErrorLimit", "consecutive_error_limit", None),
        ):
            value = metric.get(yaml_key, default)
            if value is None:
                continue
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                self.warn(f"{where}.{yaml_key}: {_line(value)} is not a number (an argument?); Argo's default used")
                continue
            if value < 0:
                self.warn(f"{where}.{yaml_key}: {value} disables the limit; set to 1000000")
                value = 1_000_000
            params[key] = value
        if "count" not in params and "interval" not in params:
            params["count"] = 1  # Argo: no interval and no count is one measurement
        for key in metric:
            if key not in _METRIC_MAPPED:
                self.warn(f"{where}.{key}: not simulated")
        return params

    def condition(self, where: str, metric: dict[str, Any], query: str) -> dict[str, float] | None:
        """A Threshold bound from successCondition (or failureCondition), or None with a warning."""
        latency = any(word in query.lower() for word in _LATENCY_WORDS)
        for key, success in (("successCondition", True), ("failureCondition", False)):
            text = metric.get(key)
            if not isinstance(text, str):
                continue
            stripped = _NO_DATA_PREFIX.sub("", text)
            if stripped != text:
                self.warn(f"{where}.{key}: no data passes in Argo; in the simulator it is inconclusive")
            match = _CONDITION.match(stripped)
            if match:
                op, number = match.group(1), float(match.group(2))
                higher_is_good = op.startswith(">") == success
                if latency and not higher_is_good:
                    quantile = _QUANTILE.search(query)
                    q = float(quantile.group(1)) if quantile else 0.99
                    objective = f"{number:g}"
                    self.warn(
                        f"{where}.{key}: latency quantile {q:g} <= {objective} mapped to max_slow_rate "
                        f"{_round(1 - q):g}: the latency objective is the scenario's slow threshold"
                    )
                    if 0 < q < 1:
                        return {"max_error_rate": 1.0, "max_slow_rate": _round(1 - q)}  # 1.0: errors never fail it
                elif not latency and 0 <= number <= 1:
                    rate = _round(1 - number) if higher_is_good else _round(number)
                    return {"max_error_rate": rate}
            self.warn(f"{where}.{key}: cannot map {_line(text)!r} (query {_line(query)[:80]!r}); metric skipped")
            return None
        self.warn(f"{where}: no successCondition or failureCondition; metric skipped")
        return None

    def bluegreen(self, name: str, blue: dict[str, Any]) -> StrategySpec:
        where = "spec.strategy.blueGreen"
        judges: dict[str, JudgeSpec] = {}
        params: dict[str, Any] = {}
        phases: dict[str, float] = {}
        for key, phase in (("prePromotionAnalysis", "preview"), ("postPromotionAnalysis", "post")):
            if isinstance(blue.get(key), dict):
                names = self.analysis_judges(f"{where}.{key}", blue[key], judges, inline=True)
                lengths = [self.run_length(judges[n].params) for n in names]
                phases[phase] = max([x for x in lengths if x is not None], default=600.0)
                if any(x is None for x in lengths):
                    self.warn(
                        f"{where}.{key}: a metric without count runs until stopped; phase set to {phases[phase]:g}s"
                    )
        if len(phases) == 2:
            self.warn(f"{where}: pre- and post-promotion analyses both run in both phases (bluegreen runs all judges)")
        auto = blue.get("autoPromotionEnabled", True)
        seconds = blue.get("autoPromotionSeconds")
        preview = phases.get("preview", 0.0)
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            preview = max(preview, float(seconds))
        elif auto is False:
            self.warn(
                f"{where}.autoPromotionEnabled: false (manual promotion) not simulated; "
                f"preview lasts {max(preview, 600.0):g}s"
            )
            preview = max(preview, 600.0)
        params["preview"] = preview
        params["post"] = phases.get("post", 0.0)
        for key in blue:
            if key in _BLUEGREEN_MAPPED or key in _BLUEGREEN_SILENT:
                continue
            self.warn(f"{where}.{key}: not simulated")
        return self.spec(name, "bluegreen", params, judges)

    @staticmethod
    def run_length(params: dict[str, Any]) -> float | None:
        if "count" not in params:
            return None
        interval = parse_duration(params.get("interval", "1m"))
        return parse_duration(params.get("initial_delay", 0)) + params["count"] * interval

    # -- Flagger ---------------------------------------------------------------------------------

    def canary(self, doc: dict[str, Any]) -> StrategySpec:
        name = _name(doc, "flagger")
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        key = "analysis" if "analysis" in spec else "canaryAnalysis"
        analysis = spec.get(key)
        where = f"spec.{key}"
        if not isinstance(analysis, dict):
            raise self.fail("spec.analysis: missing; a Flagger Canary needs an analysis")
        if spec.get("skipAnalysis") is True:
            self.warn("spec.skipAnalysis: true not simulated (the analysis runs)")
        params: dict[str, Any] = {}
        for field_name in ("interval", "threshold", "iterations", "mirror"):
            if field_name in analysis:
                params[field_name] = analysis[field_name]
        iterations = analysis.get("iterations")
        weights = [k for k in ("maxWeight", "stepWeight", "stepWeights") if k in analysis]
        if iterations:
            for k in weights:
                self.warn(f"{where}.{k}: ignored with iterations (blue-green or A/B moves no weights)")
        elif "stepWeights" in analysis:
            params["stepWeights"] = analysis["stepWeights"]
            for k in weights:
                if k != "stepWeights":
                    self.warn(f"{where}.{k}: ignored with stepWeights (its last weight is the max weight)")
        else:
            params.update({k: analysis[k] for k in weights})
        if "match" in analysis:
            if iterations:
                params["match_segment"] = "insider"
                self.warn(
                    f"{where}.match: header/cookie match mapped to match_segment 'insider': "
                    "the scenario must have a segment of that name (or edit match_segment)"
                )
            else:
                self.warn(f"{where}.match: ignored without iterations (not A/B testing)")
        elif iterations:
            self.warn(
                f"{where}.iterations: blue-green: test traffic is preview_rate requests per second (the load tester)"
            )
        threshold = params.get("threshold")
        judge = self.flagger_judge(where, analysis, threshold)
        judges = {"analysis": judge} if judge is not None else {}
        for index, hook in enumerate(analysis.get("webhooks") or []):
            hook = hook if isinstance(hook, dict) else {}
            self.warn(
                f"{where}.webhooks[{index}] ({hook.get('name', '?')}, "
                f"type {hook.get('type', 'rollout')}): not simulated"
            )
        for k in analysis:
            if k not in _FLAGGER_MAPPED:
                self.warn(f"{where}.{k}: not simulated")
        return self.spec(name, "flagger", params, judges)

    def flagger_judge(self, where: str, analysis: dict[str, Any], threshold: object) -> JudgeSpec | None:
        bounds: dict[str, Any] = {}
        window: object = None
        for index, metric in enumerate(analysis.get("metrics") or []):
            at = f"{where}.metrics[{index}]"
            metric = metric if isinstance(metric, dict) else {}
            name = metric.get("name", "?")
            limits = metric.get("thresholdRange") if isinstance(metric.get("thresholdRange"), dict) else {}
            if "templateRef" in metric:
                ref = metric["templateRef"]
                ref_name = ref.get("name", "?") if isinstance(ref, dict) else ref
                self.warn(f"{at} ({name}): custom MetricTemplate {ref_name!r} not simulated; metric skipped")
                continue
            if name == "request-success-rate" and _number(limits.get("min")) is not None:
                bounds["max_error_rate"] = _round(1 - _number(limits["min"]) / 100)  # type: ignore[operator]
            elif name == "request-duration" and _number(limits.get("max")) is not None:
                bounds["max_slow_rate"] = 0.01
                self.warn(
                    f"{at}.thresholdRange.max ({limits['max']:g} ms, P99) mapped to max_slow_rate 0.01: "
                    "the latency objective is the scenario's slow threshold"
                )
            else:
                self.warn(f"{at} ({name}): cannot map this metric or its thresholdRange; metric skipped")
                continue
            if "interval" in metric and window is None:
                window = metric["interval"]
        if not bounds:
            return None
        bounds.setdefault("max_error_rate", 1.0)  # TOML has no null; 1.0 never fails
        params: dict[str, Any] = {"rule": "flagger", **bounds}
        if isinstance(threshold, int) and not isinstance(threshold, bool):
            params["threshold"] = max(threshold, 1)
        if "interval" in analysis:
            params["interval"] = analysis["interval"]
        if window is not None:
            params["window"] = window
        return JudgeSpec(use="threshold", params=params)


_ARGO_SILENT = {"canaryService", "stableService", "canaryMetadata", "stableMetadata", "pingPong"}
_ARGO_NOTES = {
    "trafficRouting": "the simulator routes exact shares",
    "maxSurge": "the simulator routes exact shares, not pod counts",
    "maxUnavailable": "the simulator routes exact shares, not pod counts",
    "dynamicStableScale": "pods are not simulated",
    "abortScaleDownDelaySeconds": "the rollback is instant",
    "scaleDownDelaySeconds": "pods are not simulated",
}
_METRIC_MAPPED = {
    "name",
    "provider",
    "successCondition",
    "failureCondition",
    "interval",
    "initialDelay",
    "count",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
}
_BLUEGREEN_MAPPED = {"autoPromotionEnabled", "autoPromotionSeconds", "prePromotionAnalysis", "postPromotionAnalysis"}
_BLUEGREEN_SILENT = {"activeService", "previewService", "activeMetadata", "previewMetadata"}
_FLAGGER_MAPPED = {
    "interval",
    "threshold",
    "iterations",
    "mirror",
    "maxWeight",
    "stepWeight",
    "stepWeights",
    "match",
    "metrics",
    "webhooks",
}
