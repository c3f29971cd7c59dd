"""Test plugins that misbehave, one way each, loaded by path as a user's file would be.

Each strategy serves 10% and looks again every minute, as a well-behaved
canary would, until it does the one wrong thing it is named for. ``Chaos``
and ``ChaosJudge`` do any of ``BEHAVIOURS`` at their k-th call (the fuzz
tests draw the behaviour and k).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from fractions import Fraction
from typing import Any

import numpy as np

from sim import Decision, Exposure, Observation, PluginError, RollbackStyle, Verdicts

# -- strategies: one misbehaviour each -----------------------------------------------------------


def _normal() -> Decision:
    return Decision.set(0.1, wait=60.0)


class ExitsWhileBuilt:
    """Calls ``sys.exit(0)`` in its constructor."""

    def __init__(self) -> None:
        sys.exit(0)

    def decide(self, obs: Observation) -> Decision:
        return _normal()


class UnitRaises:
    """Its ``unit`` property raises (read when the strategy is built)."""

    @property
    def unit(self) -> str:
        raise RuntimeError("no unit today")

    def decide(self, obs: Observation) -> Decision:
        return _normal()


class OsExit:
    """Calls ``os._exit(0)`` in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        os._exit(0)


class Catastrophe(BaseException):
    """Not an Exception: ``except Exception`` does not catch it."""


class RaisesBaseException:
    def decide(self, obs: Observation) -> Decision:
        raise Catastrophe("the sky fell")


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")

    def __repr__(self) -> str:
        raise RuntimeError("cannot repr me either")


class Unprintable:
    """Raises an exception whose ``__str__`` (and ``__repr__``) raise."""

    def decide(self, obs: Observation) -> Decision:
        raise _Unprintable()


class _SlowToPrint(Exception):
    def __str__(self) -> str:
        time.sleep(1000)
        return "finally"


class SlowToPrint:
    """Raises an exception whose ``__str__`` never returns."""

    def decide(self, obs: Observation) -> Decision:
        raise _SlowToPrint()


class TinyWait:
    """Asks to decide again after 1e-300 s."""

    def decide(self, obs: Observation) -> Decision:
        return Decision.set(0.1, wait=1e-300)


class HugeWait:
    """Asks to decide again after 10**400 s (through ``Decision.set``, which converts it)."""

    def decide(self, obs: Observation) -> Decision:
        return Decision.set(0.1, wait=10**400)


class _LaxDecision(Decision):
    def problem(self, segments: Any = None, check_exposure: bool = True) -> str | None:
        return None


class SubclassDecision:
    """Returns a Decision subclass whose ``problem()`` finds nothing wrong with a weight of 5."""

    def decide(self, obs: Observation) -> Decision:
        return _LaxDecision("continue", Exposure.of(5.0), 60.0)


class _LaxExposure(Exposure):
    def problem(self, segments: Any = None) -> str | None:
        return None


class SubclassExposure:
    """Returns a real Decision holding an Exposure subclass whose ``problem()`` passes a weight of 5."""

    def decide(self, obs: Observation) -> Decision:
        return Decision("continue", _LaxExposure((("*", 5.0),)), 60.0)


class Loops:
    """An infinite loop in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        while True:
            pass


class SwallowsTimeout:
    """An infinite loop in ``decide`` that catches everything, the budget's timeout included."""

    def decide(self, obs: Observation) -> Decision:
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass


class Sleeps:
    """``time.sleep(1000)`` in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        time.sleep(1000)
        return _normal()


class LeavesThread:
    """Starts a non-daemon thread that sleeps for 1000 s, then decides normally."""

    started = False

    def decide(self, obs: Observation) -> Decision:
        if not LeavesThread.started:
            LeavesThread.started = True
            threading.Thread(target=time.sleep, args=(1000,), name="left-behind", daemon=False).start()
        return _normal()


class Prints:
    """``print()`` in ``decide`` (and to fd 1 directly)."""

    def decide(self, obs: Observation) -> Decision:
        print("Prints was here", obs.now)
        os.write(1, b"Prints wrote to fd 1\n")
        return _normal()


class PrintsWhenBuilt:
    """``print()`` in its constructor (run while the command checks the strategies, before any work)."""

    def __init__(self) -> None:
        print("PrintsWhenBuilt was built")

    def decide(self, obs: Observation) -> Decision:
        return _normal()


class PrintsThenFails:
    """``print()`` in ``decide``, then raises: with many replications it runs (and prints) in the cost pilot
    before the command's own run."""

    def decide(self, obs: Observation) -> Decision:
        print("PrintsThenFails was here")
        raise RuntimeError("after printing")


class ClosesStdout:
    """Closes ``sys.stdout`` in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        sys.stdout.close()
        return _normal()


class ClosesRealStdout:
    """Closes ``sys.__stdout__`` (the interpreter's own stdout object) in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        if sys.__stdout__ is not None and not sys.__stdout__.closed:
            sys.__stdout__.close()
        return _normal()


class ClosesFd1:
    """Closes file descriptor 1 in ``decide``."""

    def decide(self, obs: Observation) -> Decision:
        with contextlib.suppress(OSError):
            os.close(1)
        return _normal()


class _ReprRaisesBase:
    def __repr__(self) -> str:
        raise Catastrophe("repr")


class InfiniteRollback:
    """Its own ``rollback`` attribute (the style the engine uses by default) redeploys for ever."""

    rollback = RollbackStyle("redeploy", duration=math.inf)

    def decide(self, obs: Observation) -> Decision:
        return Decision.rollback("now")


class RollbackPropertyRaises:
    """Its ``rollback`` property raises (read when a rollback starts)."""

    @property
    def rollback(self) -> RollbackStyle:
        raise RuntimeError("no style")

    def decide(self, obs: Observation) -> Decision:
        return Decision.rollback("now")


class FailsLater:
    """Its constructor works for the first instances (the checks), then raises (the runs)."""

    built = 0

    def __init__(self) -> None:
        FailsLater.built += 1
        if FailsLater.built > 100:  # past the checks and the pilot block (64 instances): fails in the runs
            raise RuntimeError("out of instances")

    def decide(self, obs: Observation) -> Decision:
        return _normal()


class UnitRaisesLater:
    """Its ``unit`` property works on the first instances (the checks), then raises (the runs)."""

    built = 0

    def __init__(self) -> None:
        UnitRaisesLater.built += 1
        self.index = UnitRaisesLater.built

    @property
    def unit(self) -> str:
        if self.index > 100:  # past the checks and the pilot block (64 instances): fails in the runs
            raise RuntimeError("unit gone")
        return "request"

    def decide(self, obs: Observation) -> Decision:
        return _normal()


# -- judges --------------------------------------------------------------------------------------


def _running(data: Any) -> Verdicts:
    zeros = np.zeros(len(data.due), dtype=np.int64)
    return Verdicts(zeros, np.full(len(zeros), np.nan), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy())


class JudgeRaises:
    def measure(self, data: Any) -> Verdicts:
        raise RuntimeError("judge boom")


class JudgeJunk:
    def measure(self, data: Any) -> Verdicts:
        return "junk"  # type: ignore[return-value]


class JudgeLoops:
    def measure(self, data: Any) -> Verdicts:
        while True:
            pass


# -- chaos: any behaviour at the k-th call -------------------------------------------------------


class _PrintFails(Exception):
    def __str__(self) -> str:
        raise Catastrophe("str")


class _StrNotText(Exception):
    def __str__(self) -> str:
        return 5  # type: ignore[return-value]


def _recurse(depth: int = 0) -> int:
    return _recurse(depth + 1) + 1


def _raise(error: BaseException) -> Any:
    raise error


def _exit_now() -> Any:
    os._exit(3)


RAISES: dict[str, Any] = {
    "ValueError": lambda: _raise(ValueError("bad value")),
    "KeyError": lambda: {}["missing"],
    "ZeroDivisionError": lambda: 1 / 0,
    "RecursionError": _recurse,
    "MemoryError": lambda: _raise(MemoryError()),
    "SystemExit(0)": lambda: sys.exit(0),
    "SystemExit(text)": lambda: sys.exit("text"),
    "SystemExit(None)": lambda: _raise(SystemExit()),
    "GeneratorExit": lambda: _raise(GeneratorExit()),
    "StopIteration": lambda: next(iter(())),
    "BaseException": lambda: _raise(Catastrophe("sky")),
    "unprintable": lambda: _raise(_Unprintable()),
    "str raises BaseException": lambda: _raise(_PrintFails()),
    "str not text": lambda: _raise(_StrNotText()),
    "newline in message": lambda: _raise(RuntimeError("first\nsecond\r\nthird")),
    "huge message": lambda: _raise(RuntimeError("x" * 1_000_000)),
    "newline in class name": lambda: _raise(type("Bad\nName", (Exception,), {})("boom")),
    "PluginError": lambda: _raise(PluginError("forged\nsecond line")),
    "ExceptionGroup": lambda: _raise(ExceptionGroup("group", [ValueError("a"), KeyError("b")])),
    "os._exit": _exit_now,
}

RETURNS: dict[str, Any] = {
    "None": lambda: None,
    "int": lambda: 0,
    "text": lambda: "continue",
    "list": lambda: [],
    "dict": lambda: {"action": "continue"},
    "object": object,
    "repr raises": lambda: _ReprRaisesBase(),
    "tuple lookalike": lambda: ("continue", Exposure.of(0.1), 60.0),
    "Decision subclass": lambda: _LaxDecision("continue", Exposure.of(5.0), 60.0),
    "Exposure subclass": lambda: Decision("continue", _LaxExposure((("*", 5.0),)), 60.0),
    "wait nan": lambda: Decision("continue", Exposure.of(0.1), math.nan),
    "wait inf": lambda: Decision("continue", Exposure.of(0.1), math.inf),
    "wait -1": lambda: Decision("continue", Exposure.of(0.1), -1.0),
    "wait 1e-300": lambda: Decision("continue", Exposure.of(0.1), 1e-300),
    "wait 10**400": lambda: Decision("continue", Exposure.of(0.1), 10**400),
    "wait text": lambda: Decision("continue", Exposure.of(0.1), "10m"),
    "exposure a number": lambda: Decision("continue", 0.5, 60.0),
    "shares not pairs": lambda: Decision("continue", Exposure(shares=(5,)), 60.0),
    "shares a list": lambda: Decision("continue", Exposure(shares=[("*", 0.5)]), 60.0),
    "share 5": lambda: Decision("continue", Exposure((("*", 5.0),)), 60.0),
    "share nan": lambda: Decision("continue", Exposure((("*", math.nan),)), 60.0),
    "share True": lambda: Decision("continue", Exposure((("*", True),)), 60.0),
    "share unknown segment": lambda: Decision("continue", Exposure((("nosuch", 0.5),)), 60.0),
    "share segment not text": lambda: Decision("continue", Exposure(((1, 0.5),)), 60.0),
    "unit unknown": lambda: Decision("continue", Exposure((("*", 0.5),), unit="pod"), 60.0),
    "mode unknown": lambda: Decision("continue", Exposure((("*", 0.5),), mode="shadow"), 60.0),
    "instances 0": lambda: Decision("continue", Exposure((("*", 0.5),), unit="instance", instances=0), 60.0),
    "preview_rate inf": lambda: Decision("continue", Exposure.preview(math.inf), 60.0),
    "baseline over 0.5": lambda: Decision("continue", Exposure((("*", 0.9),), baseline=True), 60.0),
    "judges a number": lambda: Decision("continue", Exposure.of(0.1), 60.0, judges=5),
    "judges unknown": lambda: Decision("continue", Exposure.of(0.1), 60.0, judges=("nosuch",)),
    "reset None": lambda: Decision("continue", Exposure.of(0.1), 60.0, reset=None),
    "reset unknown": lambda: Decision("continue", Exposure.of(0.1), 60.0, reset=("nosuch",)),
    "action unknown": lambda: Decision("explode", Exposure.of(0.1), 60.0),
    "action None": lambda: Decision(None, Exposure.of(0.1), 60.0),
    "continue without exposure": lambda: Decision("continue", None, 60.0),
    "style bad steps": lambda: Decision.rollback("x", style=RollbackStyle("gradual", steps=(2.0,))),
    "style infinite": lambda: Decision.rollback("x", style=RollbackStyle("redeploy", duration=math.inf)),
    "style text": lambda: Decision("rollback", None, 0.0, None, (), "x", "fast"),
    "reason a number": lambda: Decision.rollback(reason=5),
    "by a list": lambda: Decision.rollback("x", by=["me"]),
}

HARMLESS: dict[str, Any] = {
    # Unusual but valid: the strategy must run normally.
    "numpy share": lambda: Decision.set(np.float64(0.2), wait=np.float64(60.0)),
    "Fraction share": lambda: Decision.set(Fraction(1, 5), wait=60),
    "int wait": lambda: Decision.set(0.2, wait=60),
    "pause": lambda: Decision.pause("why not"),
    "done": Decision.done,
    "rollback": lambda: Decision.rollback("changed my mind"),
}

BEHAVIOURS = {**RAISES, **RETURNS, **HARMLESS}


class Chaos:
    """A canary-like strategy that does ``behaviour`` (a key of BEHAVIOURS) at its ``at``-th decision."""

    def __init__(self, behaviour: str, at: int = 0) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour, self.at = behaviour, at

    def decide(self, obs: Observation) -> Decision:
        if obs.decisions == self.at:
            return BEHAVIOURS[self.behaviour]()
        return Decision.set(0.1, wait=60.0)


class ChaosJudge:
    """A judge that reports "running" until its ``at``-th call, then does ``behaviour`` (a key of RAISES,
    or of JUNK_VERDICTS)."""

    def __init__(self, behaviour: str, at: int = 0) -> None:
        if behaviour not in RAISES and behaviour not in JUNK_VERDICTS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour, self.at, self.calls = behaviour, at, 0

    def measure(self, data: Any) -> Verdicts:
        self.calls += 1
        if self.calls - 1 != self.at:
            return _running(data)
        if self.behaviour in RAISES:
            return RAISES[self.behaviour]()
        return JUNK_VERDICTS[self.behaviour](_running(data), len(data.due))


def _with(verdicts: Verdicts, **changes: Any) -> Verdicts:
    fields = {name: getattr(verdicts, name) for name in verdicts.__dataclass_fields__}
    fields.update(changes)
    return Verdicts(**fields)


JUNK_VERDICTS: dict[str, Any] = {
    "None": lambda v, n: None,
    "text": lambda v, n: "junk",
    "dict": lambda v, n: {"verdict": v.verdict},
    "verdict code 7": lambda v, n: _with(v, verdict=np.full(n, 7)),
    "verdict floats": lambda v, n: _with(v, verdict=np.full(n, 1.5)),
    "verdict short": lambda v, n: _with(v, verdict=np.zeros(n - 1, dtype=np.int64)),
    "verdict a list": lambda v, n: _with(v, verdict=[0] * n),
    "statistic text": lambda v, n: _with(v, statistic=np.array(["x"] * n)),
    "statistic objects": lambda v, n: _with(v, statistic=np.array([None] * n, dtype=object)),
    "measurements nan": lambda v, n: _with(v, measurements=np.full(n, math.nan)),
    "failures 2d": lambda v, n: _with(v, failures=np.zeros((n, 2))),
    "inconclusive wrong shape": lambda v, n: _with(v, inconclusive=np.zeros(3)),
    "inconclusive text": lambda v, n: _with(v, inconclusive="many"),
}
