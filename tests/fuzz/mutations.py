"""Hypothesis strategies that generate scenario files: valid ones bent out of shape.

A generated file starts from a bundled scenario (its text, comments and all)
or from ``tests.generators.scenario_dict`` rendered to TOML here, and is then
mutated twice over:

- as data: a value deleted, duplicated, or replaced with an extreme number
  (0, -1, 1e-300, 1e300, a 4,001-digit integer, nan, inf), a value at or just
  past a documented bound (``MAX_USERS``, ``MAX_RATE``, ``MIN_SCRAPE``, ...),
  a wrong type, a huge list, deep nesting, or a string holding NUL and other
  control characters, rich markup or a path;
- as text: truncated, lines deleted or doubled, random bytes (not always
  UTF-8) and control characters inserted, numbers replaced by literals the
  TOML parser itself cannot hold (5,000 digits, 1e400).

``scenario_files()`` is the whole space; ``loadable_files()`` keeps to data
mutations near the bounds, so that most of its files load and can be run.
"""

from __future__ import annotations

import contextlib
import copy
import math
import re
import tomllib
from functools import cache
from typing import Any

from hypothesis import strategies as st

from sim import bundled_scenarios
from sim.scenario import (
    DAY,
    MAX_HORIZON,
    MAX_LIST,
    MAX_RATE,
    MAX_REPLICATIONS,
    MAX_REPORTS,
    MAX_RESPONSE,
    MAX_USERS,
    MAX_WINDOW,
    MIN_SCRAPE,
)
from tests.generators import scenario_dict


class Raw(str):
    """A TOML literal written as it is (a number too long for Python's int parser, a date, deep nesting)."""


# -- rendering data as TOML ------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")  # a surrogate makes the file invalid TOML: the parser must say so
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: object) -> str:
    text = str(key)
    return text if _BARE_KEY.fullmatch(text) else _string(text)


def value_text(value: Any) -> str:
    """One TOML value, inline."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    if isinstance(value, dict):
        items = [f"{_key(k)} = {value_text(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if value is None:
        return '""'
    return _string(str(value))


def render(data: dict[str, Any]) -> str:
    """A scenario as a TOML document: scalars first, then a [table] per table and [[table]] per array of tables."""
    head: list[str] = []
    tail: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict) and not isinstance(value, Raw):
            tail.append(f"\n[{_key(key)}]")
            tail.extend(f"{_key(k)} = {value_text(v)}" for k, v in value.items() if v is not None)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                tail.append(f"\n[[{_key(key)}]]")
                tail.extend(f"{_key(k)} = {value_text(v)}" for k, v in item.items() if v is not None)
        else:
            head.append(f"{_key(key)} = {value_text(value)}")
    return "\n".join([*head, *tail]) + "\n"


# -- starting points -------------------------------------------------------------------------------


@cache
def bundled_texts() -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8") for path in bundled_scenarios().values())


@cache
def bundled_data() -> tuple[dict[str, Any], ...]:
    return tuple(tomllib.loads(text) for text in bundled_texts())


@st.composite
def generated_data(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid scenario from ``tests.generators.scenario_dict`` with some variety."""
    strategies = draw(
        st.lists(
            st.sampled_from(
                [
                    {"name": "bigbang"},
                    {"name": "canary", "params": {"steps": [0.05, 0.5], "bake": "5m"}},
                    {"name": "flag", "use": "canary", "params": {"steps": [0.1], "bake": "2m", "unit": "user"}},
                    {"name": "bluegreen"},
                    {"name": "rings"},
                ]
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda spec: spec["name"],
        )
    )
    overrides: dict[str, Any] = {"strategies": strategies}
    if draw(st.booleans()):
        overrides["release"] = {}
    if draw(st.booleans()):
        overrides["population"] = {
            "users": draw(st.integers(1, 100_000)),
            "segments": [{"name": "internal", "share": 0.1}, {"name": "general", "share": 0.9}],
        }
    if draw(st.booleans()):
        overrides["telemetry"] = {"scrape_interval": draw(st.sampled_from(["15s", "1m", "5m"]))}
    if draw(st.booleans()):
        overrides["detection"] = {"service_alert": {"window": "5m", "for": "2m", "response": "5m"}}
    if draw(st.booleans()):
        overrides["rollback"] = {"style": "gradual", "steps": [0.5, 0.1], "wait": "1m"}
    return scenario_dict(**overrides)


def base_data() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.sampled_from(bundled_data()).map(copy.deepcopy), generated_data())


# -- values ------------------------------------------------------------------------------------------

BIG_INT = Raw("1" + "0" * 4000)  # 10**4000: the parser holds it, a float cannot
TOO_LONG_INT = Raw("9" * 5000)  # past Python's 4,300-digit limit for int(): the parser itself refuses it

EXTREME_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    -0.0,
    1e-300,
    -1e-300,
    5e-324,
    1e300,
    -1e300,
    1.7976931348623157e308,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63),
    10**9,
    10**18,
    999_999_999,
    math.nan,
    math.inf,
    -math.inf,
    BIG_INT,
    Raw("-" + "1" + "0" * 4000),
    TOO_LONG_INT,
    Raw("1e400"),
    Raw("-1e400"),
    Raw("0x7fffffffffffffff"),
    Raw("0b1"),
    Raw("0o777"),
    Raw("1_000_000"),
    Raw("+inf"),
    Raw("-nan"),
]

NASTY_STRINGS: list[str] = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\u202eevil",
    "\u2028",
    "\ufeff",
    "line\nbreak",
    "tab\there",
    "[/]",
    "[bold]loud",
    "[red]x[/red]",
    "[link=file:///etc/passwd]x",
    "[@click=app.quit]x",
    "../../x",
    "/abs",
    "team/app",
    "a\\b",
    "C:\\x",
    "x" * 101,
    "y" * 100_000,
    "é",
    "\ud800",
    "10m",
    "-1s",
    "0s",
    "1e300s",
    "9" * 99 + "d",
    "nan",
    "inf",
    "1.5h",
    "canary",
    "bigbang",
    "x\x00.py:Class",
    "missing.py:Class",
    "missing.py:not a class",
    "bigbang\x00",
]

WRONG_TYPES: list[Any] = [
    True,
    False,
    [],
    {},
    [1, 2],
    {"a": 1},
    [[]],
    [{}],
    Raw("1979-05-27T07:32:00Z"),
    Raw("1979-05-27"),
    Raw("07:32:00"),
]


HUGE_COUNTS = [0, 2, 24, 25, MAX_LIST, MAX_LIST + 1, 1000, 10_001, 100_000]
MAX_LIST_TEXT = 2_000_000
UNKNOWN_KEYS = ["extra", "Name", "for_", "x" * 200, "a.b", "\x00", "[/]", "bad\nkey", "tab\tkey", "\u2028"]


def nested(depth: int, leaf: str = "1", kind: str = "array") -> Raw:
    if kind == "array":
        return Raw("[" * depth + leaf + "]" * depth)
    return Raw("{ a = " * depth + leaf + " }" * depth)


DEEP = st.builds(
    nested,
    st.sampled_from([2, 10, 50, 100, 300, 500, 999, 1000, 3000, 100_000]),
    st.sampled_from(["1", '"x"', "1.5"]),
    st.sampled_from(["array", "table"]),
)

# Values at, just inside and just past the documented bounds, by field (``*``: any list index).
LIMITS: dict[tuple[str, ...], list[Any]] = {
    ("population", "users"): [MAX_USERS, MAX_USERS + 1, 10**9, 1, 0, 2**63],
    ("population", "segments", "*", "share"): [1e-300, 5e-324, 1.0, 1.0 + 1e-6],
    ("population", "segments", "*", "relative_rate"): [1e6, 1e6 + 1, 1e-300, 1e300],
    ("population", "rate_classes", "*", "relative_rate"): [1e6, 1e6 + 1, 1e-300],
    ("traffic", "rate"): [MAX_RATE, MAX_RATE * 1.0001, 1e18, 5e-324, 1e-300, 8334.0],
    ("traffic", "daily_curve"): [[0.0] * 24, [1e6] + [0.0] * 23, [1e-300] * 24, [1.0] * 23, [1.0] * 25],
    ("traffic", "spikes"): [
        [{"at": 0, "duration": "1d", "multiplier": 100}] * 5,
        [{"at": "1m", "duration": 1e-300, "multiplier": 100}],
        [{"at": 0, "duration": 1, "multiplier": 2}] * MAX_LIST,
        [{"at": 0, "duration": 1, "multiplier": 2}] * (MAX_LIST + 1),
    ],
    ("telemetry", "scrape_interval"): [MIN_SCRAPE, 0.999, 1e-300, DAY, DAY + 1, "1s", "1d"],
    ("telemetry", "scrape_lag"): [DAY, DAY + 1, 1e-300, "1d"],
    ("telemetry", "gaps"): [[{"at": 0, "duration": "1d"}] * MAX_LIST, [{"at": 0, "duration": 1}] * (MAX_LIST + 1)],
    ("detection", "analysis", "window"): [MAX_WINDOW, MAX_WINDOW + 1, 1e300, "7d", "8d", 1e-300],
    ("detection", "analysis", "min_requests"): [1, 10**12, 10**12 + 1, 0],
    ("detection", "analysis", "failure_limit"): [0, 1_000_000, 1_000_001],
    ("detection", "service_alert", "window"): [MAX_WINDOW, MAX_WINDOW + 1, 1e300, 1e-300],
    ("detection", "service_alert", "for"): [MAX_WINDOW, 1e300, 0],
    ("detection", "service_alert", "response"): [MAX_RESPONSE, MAX_RESPONSE + 1, {"mean": "1h", "sigma": 5.0}],
    ("detection", "user_reports", "reports_needed"): [1, MAX_REPORTS, MAX_REPORTS + 1, 10**9],
    ("detection", "user_reports", "delay"): [1e-300, MAX_RESPONSE, MAX_RESPONSE + 1],
    ("detection", "user_reports", "report_probability"): [1.0, 1e-300],
    ("replications",): [1, 64, 65, MAX_REPLICATIONS, MAX_REPLICATIONS + 1, 10**9],
    ("horizon",): ["1000d", "365d", "366d", MAX_HORIZON, 1e-300, 1e300, "1s", 60.000001],
    ("seed",): [0, 2**63 - 1, 2**63, -1],
    ("rollback", "steps"): [[0.5] * MAX_LIST, [0.5] * (MAX_LIST + 1)],
    ("rollback", "wait"): [1e-300, MAX_HORIZON],
    ("rollback", "duration"): [1e-300, MAX_HORIZON, MAX_HORIZON + 1],
    ("people", "approver"): [0, "30d", {"mean": 0, "distribution": "lognormal", "sigma": 5}],
    ("release", "defect", "harm"): [1.0, 1e-300, 5e-324],
    ("release", "defect", "leak"): [MAX_HORIZON, 1e-300],
    ("release", "defect", "min_load"): [1e9, 1e9 + 1],
    ("release", "defect", "slowdown"): [1.0, 1000.0, 1000.0001, 0.999, 1e-300],
    ("release", "defective_share"): [0.0, 1.0, 1.0 + 1e-9, 5e-324, -0.0],
    ("telemetry", "latency"): [
        {"median": 3600, "sigma": 5, "buckets": [86400]},
        {"median": 1e-300, "sigma": 1e-300, "buckets": [1e-300, 86400]},
        {"buckets": [0.1 * k for k in range(1, 31)]},
        {"buckets": [0.1 * k for k in range(1, 32)]},
        {"buckets": [1.0, 1.0]},
        {"buckets": [86400.0001]},
        {"median": 3600.0001},
    ],
    ("detection", "slo_burn"): [
        {"enabled": True},
        {"enabled": True, "objective": 1 - 1e-12, "indicator": "slow"},
        {"enabled": True, "objective": 1e-300},
        {"enabled": True, "alerts": [{"burn_rate": 1e6, "long": "7d", "short": "7d", "response": "30d"}]},
        {"enabled": True, "alerts": [{"burn_rate": 1e6 + 1, "long": "7d", "short": "1m"}]},
        {"enabled": True, "alerts": [{"burn_rate": 1, "long": "8d", "short": "1m"}]},
        {"enabled": True, "alerts": [{"burn_rate": 1, "long": "1h", "short": 1e-300}]},
        {"enabled": True, "alerts": [{"burn_rate": k + 1, "long": "1h", "short": "5m"} for k in range(10)]},
        {"enabled": True, "alerts": [{"burn_rate": k + 1, "long": "1h", "short": "5m"} for k in range(11)]},
    ],
    ("name",): ["../../x", "/abs", "team/app", "[bold]x", "[red]y", "a\x00b", "x" * 100, "x" * 101, "\u2028"],
    ("description",): ["a\x00b", "two\nlines", "[bold]x", "z" * 1000, "z" * 1001],
    ("strategies", "*", "name"): ["[bold]x", "[/]", "../x", "a\x00b", "x" * 101],
    ("strategies", "*", "use"): ["x\x00.py:Class", "missing.py:Class", "missing.py:not a class", "bigbang\x00", ""],
    ("strategies", "*", "judges"): [
        {"a\nb": {"use": "threshold"}},
        {"analysis": {"use": "x\x00.py:Judge"}},
        {"analysis": {"use": "threshold", "params": {"window": 1e300}}},
        {"analysis": {"use": "threshold", "params": {"consecutive_error_limit": -1}}},
        {"analysis": {"use": "threshold", "params": {"consecutive_error_limit": 2**63}}},
        {"analysis": {"use": "threshold", "params": {"consecutive_error_limit": "4"}}},
        {"analysis": {"use": "ztest", "params": {"looks": 51}}},
        {
            "analysis": {
                "use": "threshold",
                "params": {"max_error_rate": False, "max_latency": 86400, "quantile": 1e-300},
            }
        },
        {"analysis": {"use": "threshold", "params": {"max_latency": 1e-300, "quantile": 0.999999}}},
        {"analysis": {"use": "threshold", "params": {"max_latency": 86400.001}}},
        {"analysis": {"use": "threshold", "params": {"quantile": 1.0, "min_success_rate": 1.0}}},
        {"analysis": {"use": "threshold", "params": {"min_success_rate": -1e-300}}},
        {"analysis": {"use": "threshold", "params": {"window": "30s"}}},
        {"analysis": {"use": "ztest", "params": {"alpha": 0.5, "boundary": "pocock"}}},
        {"analysis": {"use": "ztest", "params": {"looks": 50, "boundary": "obrien-fleming", "alpha": 1e-300}}},
        {"analysis": {"use": "sprt", "params": {"p0": 0.5, "p1": 0.5}}},
        {"analysis": {"use": "msprt", "params": {"tau": 1e-300, "alpha": 1e-300}}},
        {"analysis": {"use": "msprt", "params": {"tau": 1.0, "max_looks": 10**9 + 1}}},
        {"analysis": {"use": "cusum", "params": {"k": 1e-300, "h": 1000}}},
        {"analysis": {"use": "cusum", "params": {"k": 10.000001}}},
        {"analysis": {"use": "sprt", "params": {"p0": 5e-324, "p1": 1e-300, "alpha": 1e-300, "beta": 1e-300}}},
        {"analysis": {"use": "kayenta", "params": {"score_every": 2, "count": 1, "interval": 1e-300, "window": "1m"}}},
        {"analysis": {"use": "kayenta", "params": {"score_every": 10_000, "count": 10_000, "lookback": 10_000}}},
        {"analysis": {"use": "kayenta", "params": {"score_every": 10_001}}},
        {"analysis": {"use": "kayenta", "params": {"lookback": 1}}},
        {"analysis": {"use": "kayenta", "params": {"confidence": 1.0}}},
        {
            "analysis": {
                "use": "kayenta",
                "params": {"confidence": 0.5000001, "tolerance": 0.999999, "against": "stable"},
            }
        },
        {"analysis": {"use": "kayenta", "params": {"pass_score": 0, "marginal_score": 0, "min_requests": 10**12}}},
        {"analysis": {"use": "kayenta", "params": {"pass_score": 100, "marginal_score": 100.000001}}},
        {"analysis": {"use": "kayenta", "params": {"window": "8d", "initial_delay": "365d"}}},
        {
            "analysis": {
                "use": "kayenta",
                "params": {
                    "metrics": {
                        "error_rate": {"weight": 5e-324, "critical": True, "direction": "either"},
                        "slow_rate": {"weight": 1e6, "allowed_increase": 1e6, "allowed_decrease": 5e-324},
                    }
                },
            }
        },
        {"analysis": {"use": "kayenta", "params": {"metrics": {"latency": {}}}}},
        {"analysis": {"use": "kayenta", "params": {"metrics": {"error_rate": {"weight": 1e300}}}}},
        {"[bold]j": {"use": "threshold"}},
        {},
    ],
    ("strategies", "*", "params", "steps"): [[1e-300], [0.001] * 1000, [0.001] * 1001, [0.5] * 100_000],
    ("strategies", "*", "params", "bake"): ["1000d", 1e300, BIG_INT, 1e-300, "0s"],
    ("strategies", "*", "params", "check"): [1e-300, 0, "365d"],
}


def any_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EXTREME_NUMBERS),
        st.sampled_from(NASTY_STRINGS),
        st.sampled_from(WRONG_TYPES),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(max_size=20),
        DEEP,
    )


# -- mutating data -------------------------------------------------------------------------------------


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data`` (dict keys and list indices), containers included."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(data, list) and len(data) <= 30:
        for index, value in enumerate(data):
            found.extend(paths(value, (*prefix, index)))
    return found


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def _matches(path: tuple, pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(
        (p == "*" and isinstance(k, int)) or p == k for k, p in zip(path, pattern, strict=False)
    )


def _limit_paths(data: dict[str, Any]) -> list[tuple[tuple, list[Any]]]:
    """Paths of ``LIMITS`` present in ``data``, or that can be added (a missing field of a table that is there,
    or a missing top-level table, created on the way)."""
    found = []
    existing = paths(data)
    for pattern, values in LIMITS.items():
        for path in existing:
            if _matches(path, pattern):
                found.append((path, values))
            elif _matches((*path, pattern[-1]), pattern) and isinstance(_get(data, path), dict):
                found.append(((*path, pattern[-1]), values))
        if "*" not in pattern:
            found.append((pattern, values))
    return found


def _set(data: dict[str, Any], path: tuple, value: Any) -> None:
    parent = _get(data, path[:-1])
    key = path[-1]
    if isinstance(parent, list) and isinstance(key, int) and key >= len(parent):
        parent.append(value)
    else:
        parent[key] = value


def _delete(data: dict[str, Any], path: tuple) -> None:
    parent = _get(data, path[:-1])
    del parent[path[-1]]


def _ensure_table(data: dict[str, Any], path: tuple) -> bool:
    """Create the missing tables on the way to ``path``; False if something else is in the way."""
    node: Any = data
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return isinstance(node, (dict, list))


@st.composite
def limit_mutation(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """A field set at, just inside or just past its documented bound."""
    candidates = _limit_paths(data)
    path, values = draw(st.sampled_from(candidates))
    data = copy.deepcopy(data)
    if _ensure_table(data, path):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _set(data, path, copy.deepcopy(draw(st.sampled_from(values))))
    return data


@st.composite
def data_mutation(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """One change to the scenario as data."""
    targets = paths(data)
    if not targets:
        return {"name": draw(any_value())}
    op = draw(
        st.sampled_from(
            ["delete", "replace", "replace", "limit", "limit", "duplicate", "wrap", "huge list", "deep", "unknown key"]
        )
    )
    if op == "limit":
        return draw(limit_mutation(data))
    data = copy.deepcopy(data)
    path = draw(st.sampled_from(targets))
    value = _get(data, path)
    if op == "delete":
        _delete(data, path)
    elif op == "replace":
        _set(data, path, draw(any_value()))
    elif op == "duplicate":
        parent = _get(data, path[:-1])
        if isinstance(parent, list):
            parent.append(copy.deepcopy(value))
        else:
            parent[f"{path[-1]}{draw(st.sampled_from(['_', '2', ' ', '']))}x"] = copy.deepcopy(value)
    elif op == "wrap":
        _set(data, path, draw(st.sampled_from([[value], {"value": value}, [[value]]])))
    elif op == "huge list":  # at most about 2 MB of TOML, however often lists are nested
        size = max(len(value_text(value)), 1)
        count = draw(st.sampled_from([n for n in HUGE_COUNTS if n * size <= MAX_LIST_TEXT] or [0]))
        _set(data, path, [value] * count)
    elif op == "deep":
        _set(data, path, draw(DEEP))
    else:
        container = value if isinstance(value, dict) else _get(data, path[:-1])
        if isinstance(container, dict):
            container[draw(st.sampled_from(UNKNOWN_KEYS))] = draw(any_value())
    return data


# -- mutating text -------------------------------------------------------------------------------------

_NUMBER = re.compile(rb"(?<![\w.])-?\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
_STRING = re.compile(rb'"[^"\n]*"')


@st.composite
def text_mutation(draw: st.DrawFn, content: bytes) -> bytes:
    """One change to the file's bytes."""
    op = draw(
        st.sampled_from(
            ["truncate", "garbage", "control", "delete line", "double line", "number", "string", "flip", "repeat"]
        )
    )
    position = draw(st.integers(0, len(content)))
    lines = content.split(b"\n")
    if op == "truncate":
        return content[:position]
    if op == "garbage":
        return content[:position] + draw(st.binary(min_size=1, max_size=32)) + content[position:]
    if op == "control":
        char = draw(st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\u2028", "\ufeff"]))
        return content[:position] + char.encode("utf-8") + content[position:]
    if op in ("delete line", "double line") and lines:
        index = draw(st.integers(0, len(lines) - 1))
        if op == "delete line":
            del lines[index]
        else:
            lines.insert(index, lines[index])
        return b"\n".join(lines)
    if op in ("number", "string"):
        pattern = _NUMBER if op == "number" else _STRING
        found = list(pattern.finditer(content))
        if not found:
            return content
        match = draw(st.sampled_from(found))
        if op == "number":
            replacement = value_text(draw(st.sampled_from(EXTREME_NUMBERS)))
        else:
            replacement = value_text(draw(st.sampled_from(NASTY_STRINGS)))
        return content[: match.start()] + replacement.encode("utf-8", "surrogatepass") + content[match.end() :]
    if op == "flip" and content:
        index = min(position, len(content) - 1)
        return content[:index] + bytes([content[index] ^ (1 << draw(st.integers(0, 7)))]) + content[index + 1 :]
    if op == "repeat":
        return content * draw(st.integers(2, 3))
    return content


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@st.composite
def scenario_files(draw: st.DrawFn) -> bytes:
    """A scenario file's bytes: a valid scenario with a few data and text mutations (perhaps none)."""
    if draw(st.integers(0, 9)) == 0:  # the bundled file's own text, comments and layout included
        content = encode(draw(st.sampled_from(bundled_texts())))
    else:
        data = draw(base_data())
        for _ in range(draw(st.integers(0, 4))):
            data = draw(data_mutation(data))
        content = encode(render(data))
    for _ in range(draw(st.integers(0, 2))):
        content = draw(text_mutation(content))
    return content


@st.composite
def loadable_files(draw: st.DrawFn) -> bytes:
    """Mostly loadable files: a valid scenario with one to three fields at or near their bounds."""
    data = draw(base_data())
    for _ in range(draw(st.integers(1, 3))):
        data = draw(limit_mutation(data))
    return encode(render(data))
