"""Reading saved results for ``--from``: a ``compare --json`` document (``read_comparison``; the
fields added since v1 derived when missing), a sweep's tidy table (``read_sweep_table``, Parquet or
CSV), and which of them a folder holds (``find_saved``). Whatever is wrong with a file is one
``ScenarioError`` naming the file, the field and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.measures import OUTCOMES
from sim.results import JSON_SCHEMA_ID, METRICS
from sim.scenario import ScenarioError

COMPARISON_FILE = "comparison.json"  # the compare --json document, beside the report: --from reads it back
TABLE_COLUMNS = ("point", "release", "strategy", "measure", "mean", "median", "p95", "ci_low", "ci_high", "n")
_TOP_LEVEL = (
    ("scenario", str),
    ("seed", int),
    ("replications", int),
    ("population", int),
    ("healthy", bool),
    ("strategies", dict),
)


def read_comparison(path: Path) -> dict[str, Any]:
    """A ``compare --json`` document from a file, checked; fields added since v1 derived when missing."""
    document = _read_json(path)
    expected = f"expected the document `rollout-sim compare --json` prints (schema {JSON_SCHEMA_ID})"
    if not isinstance(document, dict) or document.get("schema") != JSON_SCHEMA_ID:
        schema = document.get("schema") if isinstance(document, dict) else None
        got = f"schema {schema!r}" if schema else "no schema"
        raise ScenarioError(f"--from {path}: {got}; {expected}")
    for key, kind in _TOP_LEVEL:
        if not isinstance(document.get(key), kind) or (kind is int and isinstance(document.get(key), bool)):
            raise _expected(path, key, kind.__name__)
    if not isinstance(document.setdefault("errors", {}), dict):
        raise _expected(path, "errors", "an object")
    document.setdefault("streamed", False)
    for name, summary in document["strategies"].items():
        _check_strategy(path, f"strategies.{name}", summary)
        _derive_since_v1(summary)
    return document


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"--from {path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ScenarioError(
            f"--from {path}: not JSON ({_first_line(error)}); expected the document `rollout-sim compare --json` "
            "prints, or a sweep's table (.parquet or .csv)"
        ) from None


def _check_strategy(path: Path, where: str, summary: Any) -> None:
    if not isinstance(summary, dict):
        raise _expected(path, where, "an object")
    for metric in METRICS:
        _check_metric(path, f"{where}.{metric}", summary.get(metric))
    if not _is_int(summary.get("replications")):
        raise _expected(path, f"{where}.replications", "an integer")
    if not (summary.get("detection_rate") is None or _is_number(summary.get("detection_rate"))):
        raise _expected(path, f"{where}.detection_rate", "a number or null")
    outcomes = summary.get("outcomes")
    if not isinstance(outcomes, dict) or not all(_is_int(outcomes.get(o)) for o in OUTCOMES):
        raise _expected(path, f"{where}.outcomes", f"a count for each of {', '.join(OUTCOMES)}")
    caught_by = summary.setdefault("caught_by", {})
    if not isinstance(caught_by, dict) or not all(_is_int(v) for v in caught_by.values()):
        raise _expected(path, f"{where}.caught_by", "counts by detector")


def _check_metric(path: Path, where: str, metric: Any) -> None:
    if not isinstance(metric, dict) or not _is_int(metric.get("n")):
        raise _expected(path, where, "an object with mean, median, p95, ci95 and n")
    for key in ("mean", "median", "p95"):
        if not (metric.get(key) is None or _is_number(metric.get(key))):
            raise _expected(path, f"{where}.{key}", "a number or null")
    ci = metric.get("ci95")
    if not (ci is None or (isinstance(ci, list) and len(ci) == 2 and all(_is_number(v) for v in ci))):
        raise _expected(path, f"{where}.ci95", "[low, high] or null")


def _derive_since_v1(summary: dict[str, Any]) -> None:
    """The shares, the false-rollback rate and ``caught_late``, which a v1 document does not hold."""
    outcomes, caught_by, replications = summary["outcomes"], summary["caught_by"], summary["replications"]
    summary.setdefault("outcome_shares", {o: outcomes[o] / replications if replications else 0.0 for o in OUTCOMES})
    quiet = sum(outcomes[o] for o in ("false_rollback", "completed", "stalled"))
    summary.setdefault("false_rollback_rate", outcomes["false_rollback"] / quiet if quiet else None)
    detected = sum(caught_by.values())
    summary.setdefault("caught_by_shares", {k: v / detected for k, v in caught_by.items()} if detected else {})
    summary.setdefault("caught_late", 0)


def _expected(path: Path, where: str, what: str) -> ScenarioError:
    return ScenarioError(f"--from {path}: {where}: expected {what}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


def find_saved(path: Path, scenario_name: str | None) -> Path:
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
