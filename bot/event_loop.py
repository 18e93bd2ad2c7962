"""The event loop every entry point runs on: uvloop where it is installed, else asyncio's.

Why: with python-telegram-bot, aiosqlite and the CPU worker, a registration step is mostly
small callbacks and hand-offs from threads, which is what uvloop makes cheaper. In
``bench/flow.py`` it cut the event loop's CPU per step by ~12 % (0.58–0.67 ms against
0.66–0.77 ms, three runs each) and raised throughput accordingly. uvloop has no Windows
build, so the dependency is skipped there and asyncio's loop is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without a wheel
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on :func:`new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
