"""Waiting in tests: poll a condition until a deadline, never sleep a fixed time.

A test that waits for something (a process, a server, a thread, a row in a database) says
what it waits for with ``wait_until``; the deadline only bounds a broken run, it measures
nothing, so set it generously: a slow machine makes the test slower, never red.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class TimedOut(AssertionError):
    """The condition did not come true before the deadline."""


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "the condition",
    *,
    every: float = 0.02,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy and return that; raise TimedOut
    after ``timeout`` seconds, with ``what`` and ``diagnose()`` (e.g. a log's tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{diagnose()}" if diagnose else ""
            raise TimedOut(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(every)
