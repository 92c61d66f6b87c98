"""An instant (Unix seconds, a float) as a date and time in the instant's own second.

``datetime.fromtimestamp`` rounds to the nearest microsecond: ``23:59:59.9999996`` on the
31st of December becomes midnight of the next year, while every window computed from the
float itself (``floor(now / window)``, a calendar period's ``start <= now < end``) still
holds the old day. These helpers round to the microsecond too, but never up into the next
second (there ``.999999``), so a time shown or recorded for an instant (``time.now``, the
ledger's ``time``, a calendar period's date) is in the same second, hence the same day,
month and year, as the windows the instant is charged in (every zone's offset and every
calendar boundary is a whole second).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone, tzinfo

__all__ = ["at", "split"]


def split(now: float) -> tuple[int, int]:
    """``now`` as (whole seconds ``floor(now)``, microseconds rounded, at most 999999)."""
    whole = math.floor(now)
    us = round((now - whole) * 1_000_000)  # now - whole is exact
    return whole, us if us < 1_000_000 else 999_999


def at(now: float, zone: tzinfo = timezone.utc) -> datetime:
    """``datetime.fromtimestamp(now, zone)``, in the second of ``now`` (never rounded up
    into the next one)."""
    whole, us = split(now)
    return datetime.fromtimestamp(whole, zone).replace(microsecond=us)
