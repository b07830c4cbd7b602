"""An asyncio event loop on simulated time, for tests of timing that must not be flaky.

`run(main)` runs a coroutine on a loop whose clock (`loop.time()`, which `asyncio.sleep`,
timeouts and `call_later` all use) starts at 0 and jumps: whenever every task is waiting and
no I/O is ready, the loop's clock moves straight to the next timer instead of blocking. So a
simulated second costs no real time and a test sees the same times on a loaded machine as on
an idle one. Code under test takes `clock=asyncio.get_running_loop().time` and the default
`asyncio.sleep`. Only for code that does no real I/O: a task waiting on a socket with no timer
pending is reported as a deadlock.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "run"]

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """Polls without blocking; where the loop would wait for a timer, moves its clock instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("every task waits and no timer is pending: a deadlock under simulated time")
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` is simulated (see the module docstring)."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end on a fresh `VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
