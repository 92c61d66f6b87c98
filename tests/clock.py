"""A steady wall clock for tests that charge a limit on the wall clock and read it back: the
process's ``time.time`` / ``time.time_ns`` (what the engine, an in-process gateway and the CLI
read) moved *forward*, still running, so that no window of the test's limits ends under it.

On the wall clock such a test fails whenever a window ends between the charge and the read
(tests/engine/test_routing_background failed in CI at 22:07 UTC; with the clock set to a few
tenths of a second before each UTC midnight, 11 gateway tests did). A ``serve`` process keeps
its own clock: its tests read at the request's own time instead.
"""

from __future__ import annotations

import math
import time

import pytest

DAY = 86400.0


def steady_offset(now: float, period: float | None = 60.0, margin: float = 900.0) -> float:
    """How far to move a clock that reads ``now`` forward (0 or more) so that it reads 0.5 s
    into a ``period`` (60: a minute, 3600: an hour; None: anywhere) at least ``margin``
    seconds before a UTC midnight."""
    target = now if period is None else math.floor(now / period) * period + period + 0.5
    if target % DAY > DAY - margin:  # too close to midnight: just after it
        target = math.floor(target / DAY) * DAY + DAY + 0.5
    return target - now


def move(patch: pytest.MonkeyPatch, offset: float) -> float:
    """``time.time`` and ``time.time_ns`` ``offset`` seconds ahead (until ``patch`` is undone)."""
    if offset:
        real, real_ns = time.time, time.time_ns
        patch.setattr(time, "time", lambda: real() + offset)
        patch.setattr(time, "time_ns", lambda: real_ns() + int(offset * 1e9))
    return offset


def steady(patch: pytest.MonkeyPatch, period: float | None = 60.0, margin: float = 900.0) -> float:
    """Move this process's clock forward as :func:`steady_offset` says (until ``patch`` is undone)."""
    return move(patch, steady_offset(time.time(), period, margin))
