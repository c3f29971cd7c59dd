"""Driving the app as a person would, for the TUI tests: run it with Textual's pilot, wait for a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.app import App
from textual.pilot import Pilot

SIZE = (100, 34)


def drive(app: App, steps: Callable[[Pilot], Awaitable[None]], size: tuple[int, int] = SIZE) -> None:
    """Run ``app`` headless at ``size`` and play ``steps`` on it (no async test plugin needed)."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await steps(pilot)

    asyncio.run(main())


async def until(pilot: Pilot, condition: Callable[[], bool], seconds: float = 60.0) -> None:
    """Wait for ``condition`` (generous: the suite must hold on a loaded 2-core machine)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the condition was not met in time")
