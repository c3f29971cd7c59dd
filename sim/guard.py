"""Containment of plugin code: whatever a strategy or judge does, it is named in one line and stopped.

Every call into a plugin (import, constructor, ``decide``, ``measure``) goes
through ``guarded``:

- anything it raises, ``SystemExit`` and other ``BaseException`` subclasses
  included, becomes a ``PluginError`` naming the plugin, with a message that
  is printable even when the exception's own ``__str__`` fails. A
  ``KeyboardInterrupt`` is the user's Ctrl-C and still stops the run;
- ``os._exit`` called from it raises instead of ending the process;
- a call that does not return within ``budget()`` seconds of wall-clock time
  is stopped: a watchdog thread raises ``PluginTimeout`` inside it (a signal
  in the main thread, which also wakes a sleeping plugin; an asynchronous
  exception in other threads, which stops pure-Python loops).

The budget is ``DEFAULT_BUDGET`` seconds, or ``ROLLOUT_SIM_PLUGIN_TIMEOUT``
(a duration: ``30``, ``30s``, ``2m``) from the environment, or ``set_budget()``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sim.durations import parse_duration_text

T = TypeVar("T")

DEFAULT_BUDGET = 5.0
_REAL_EXIT = os._exit


class PluginError(RuntimeError):
    """A strategy or judge that cannot be found, built, or run; the message names it."""


class PluginTimeout(BaseException):
    """Raised inside a plugin call that ran past its wall-clock budget."""


_budget: float | None = None
_active: dict[int, float] = {}  # thread id -> deadline of the plugin call it is in
_fired: set[int] = set()
_labels: dict[int, str] = {}
_lock = threading.Lock()
_watchdog: threading.Thread | None = None


def budget() -> float:
    """Seconds a single plugin call may take."""
    global _budget
    if _budget is None:  # read once: every plugin call asks, and the environment is slow to read
        _budget = _budget_from_environment()
    return _budget


def _budget_from_environment() -> float:
    try:  # the command line refuses a bad value first; the Python API falls back to the default
        value = parse_duration_text(os.environ.get("ROLLOUT_SIM_PLUGIN_TIMEOUT", str(DEFAULT_BUDGET)))
    except ValueError:
        return DEFAULT_BUDGET
    return value if 0 < value <= 86400 else DEFAULT_BUDGET


def set_budget(seconds: float | None) -> None:
    """Change the per-call budget for this process (None: the environment's, read again)."""
    global _budget
    _budget = seconds


def describe(error: BaseException) -> str:
    """``TypeName: message`` in one line, even when the exception cannot be printed."""
    try:
        text = str(error)
    except BaseException:
        text = "<unprintable>"
    text = " ".join(text.split())[:300]
    kind = " ".join(str(getattr(type(error), "__name__", "Exception")).split())[:100]  # even a forged name: one line
    return f"{kind}: {text}" if text else kind


def guarded(label: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` with the plugin contained; errors name ``label``."""
    thread = threading.get_ident()
    if thread in _active:  # a plugin calling the engine calling a plugin: one budget
        return call(*args, **kwargs)
    if _watchdog is None:
        _arm()
    _fired.discard(thread)
    _labels[thread] = label
    _active[thread] = time.monotonic() + (_budget or budget())
    try:
        return call(*args, **kwargs)
    except PluginTimeout:
        raise PluginError(f"{label} did not return within {budget():g} s (a plugin call's budget)") from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a PluginError raised by the plugin itself is the plugin's too
        raise PluginError(f"{label} raised {describe(error)}") from None
    finally:
        _active.pop(thread, None)


def _refuse_exit(code: int = 0) -> None:
    """``os._exit`` while this module is loaded: refused inside a plugin call, real elsewhere."""
    if threading.get_ident() in _active:
        raise SystemExit(f"os._exit({code}) called by a plugin")
    _REAL_EXIT(code)


def real_exit(code: int) -> None:
    """End the process now (after the results are out), whatever threads a plugin left running."""
    _REAL_EXIT(code)


def _arm() -> None:
    """Start the watchdog (once) and, in the main thread, the handler it signals."""
    global _watchdog
    if _watchdog is not None:
        return
    with _lock:
        if _watchdog is not None:
            return
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGALRM, _on_alarm)
            except (ValueError, OSError, AttributeError):  # no SIGALRM here (Windows)
                pass
        os._exit = _refuse_exit
        if hasattr(os, "_exit") and os.name == "posix":  # the same function under its other name
            import posix

            posix._exit = _refuse_exit
        _watchdog = threading.Thread(target=_watch, name="rollout-sim plugin watchdog", daemon=True)
        _watchdog.start()


def _forget_watchdog() -> None:
    """A forked child has no watchdog thread (threads do not survive fork): arm again when needed."""
    global _watchdog
    _watchdog = None
    _active.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_watchdog)


def _on_alarm(signum: int, frame: object) -> None:
    deadline = _active.get(threading.get_ident())
    if deadline is not None and time.monotonic() > deadline:
        raise PluginTimeout


GIVE_UP = 3.0
"""Seconds past its budget after which a plugin that keeps catching the stop ends the process."""


def _watch() -> None:
    main = threading.main_thread().ident
    while True:
        time.sleep(0.1)
        now = time.monotonic()
        for thread, deadline in list(_active.items()):
            if now <= deadline:
                continue
            if now > deadline + GIVE_UP:  # it swallows every stop: do not hang for ever
                label = _labels.get(thread, "a plugin")
                os.write(2, f"rollout-sim: {label} ran past its budget and caught every stop: ended\n".encode())
                _REAL_EXIT(1)
            _fired.add(thread)  # stop it again every 0.1 s: a plugin may catch one stop
            if thread == main and signal.getsignal(signal.SIGALRM) is _on_alarm:
                signal.pthread_kill(thread, signal.SIGALRM)  # also wakes a sleeping plugin
            else:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(PluginTimeout))
