"""The real ``rollout-sim tui`` in a pseudo-terminal: keys in, the screen read back (pyte emulates it)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

COLUMNS, LINES = 100, 32
EXECUTABLE = Path(sys.executable).parent / "rollout-sim"

pytestmark = pytest.mark.skipif(not EXECUTABLE.exists(), reason="the rollout-sim command is not installed here")


class Terminal:
    """A child process on a pseudo-terminal of a fixed size, and what its screen shows."""

    def __init__(self, *args: str) -> None:
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        pid, fd = pty.fork()
        if pid == 0:  # the child: the real command
            os.environ.update({"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)})
            os.execv(str(EXECUTABLE), [str(EXECUTABLE), *args])
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    self.stream.feed(os.read(self.fd, 65536))
                except OSError:  # the child is gone
                    return

    def wait_for(self, words: str, seconds: float = 60.0) -> str:
        """Read until ``words`` are on screen (generous: a loaded 2-core machine starts Python slowly)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.read(0.1)
            if words in self.text():
                return self.text()
        raise AssertionError(f"{words!r} never appeared; the screen:\n{self.text()}")

    def press(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> None:
        """Stop the child if it still runs, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_start_race_help_and_quit_in_a_real_terminal() -> None:
    terminal = Terminal("tui")
    try:
        terminal.wait_for("What it teaches")
        assert "strategies-tour" in terminal.text() and "Strategies to compare" in terminal.text()
        terminal.press("r")
        terminal.wait_for("bigbang ·")
        terminal.press("+++++")
        terminal.wait_for("finished")
        screen = terminal.text()
        assert "canary · mitigated" in screen and "✗" in screen
        terminal.press("?")
        terminal.wait_for("Watch strategies roll the same release")
        terminal.press("\x1b")  # escape closes help
        terminal.wait_for("finished")
        terminal.press("q")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            done, status = os.waitpid(terminal.pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0
                return
            terminal.read(0.1)
        raise AssertionError("q did not quit")
    finally:
        terminal.close()


def test_a_missing_scenario_file_is_one_line_and_exit_code_2() -> None:
    terminal = Terminal("tui", "no-such-file.toml")
    try:
        terminal.read(0.5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(terminal.pid, os.WNOHANG)
            terminal.read(0.1)
            if done:
                assert os.waitstatus_to_exitcode(status) == 2
                assert "rollout-sim: error: no-such-file.toml: no such scenario file" in terminal.text()
                return
        raise AssertionError("it did not exit")
    finally:
        terminal.close()
