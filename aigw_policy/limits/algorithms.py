"""The limit arithmetic, free of I/O: every store (memory, SQLite, Redis) uses these functions.

A charge lands in a *slot*: the storage cell its cost is added to. Counter algorithms
(``fixed_window``, calendar caps) keep one number per window; ``sliding_window`` (ngrok's)
keeps one number per fixed window and weighs the previous window by the part of it still
inside the sliding window; ``token_bucket`` is GCRA and keeps one number, the theoretical
arrival time (TAT). :func:`locate` says where a charge lands at ``now``, :func:`used_before`
reads the bucket, :func:`fits` decides, :func:`apply` and :func:`adjust` give the new stored
value, :func:`build_outcome` turns the raw numbers into the decision's :class:`Outcome`.

The Redis Lua script (``redis_lua.py``) repeats :func:`used_before`, :func:`fits`,
:func:`apply` and :func:`adjust` with the same floating-point operations in the same order;
everything else (outcomes, retry times, calendar boundaries) is computed here, in Python,
from the raw numbers the script returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from ..instants import at
from .model import Charge, LimitSpec, Outcome, Verdict, new_outcome

__all__ = [
    "CALENDAR_PERIODS",
    "Locator",
    "Slot",
    "adjust",
    "apply",
    "bucket_id",
    "build_outcome",
    "fits",
    "locate",
    "outcome_after",
    "period_bounds",
    "retry_after",
    "staged_outcome",
    "used_before",
]

Kind = Literal["counter", "sliding", "gcra"]
CALENDAR_PERIODS = ("hour", "day", "week", "month")
FOREVER = float("inf")
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a charge lands at some instant.

    ``cur`` is the id of the stored cell the cost is added to; ``prev`` (sliding window only)
    the previous window's cell. ``start``/``end`` bound the window (GCRA: ``0``/``inf``).
    ``live_until`` is when ``cur`` stops mattering: after it, a store may drop the cell and
    must not write to it again (a late release or reconcile changes nothing).
    """

    kind: Kind
    cur: str
    prev: str | None
    start: float
    end: float
    window: float
    interval: float
    live_until: float


MAX_BUCKET_KEY = 256
"""Characters of a bucket key held as they are: a longer key (a client's 60 KB header as
``bucket_key``) is :func:`bounded_key`'s, so a store's cell, a ledger record's ``limits`` and
a log line hold at most this much per key, however long the text it came from (serve28)."""


def bounded_key(key: str) -> str:
    """``key`` when it is :data:`MAX_BUCKET_KEY` characters or fewer, else its first
    characters, ``~sha256:`` and the hex digest of the whole (distinct keys stay distinct).

    >>> bounded_key("team-a"), len(bounded_key("x" * 10_000)), bounded_key("x" * 300)[181:192]
    ('team-a', 256, 'xxx~sha256:')
    """
    if len(key) <= MAX_BUCKET_KEY:
        return key
    import hashlib

    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{key[:MAX_BUCKET_KEY - 72]}~sha256:{digest}"


def bucket_id(name: str, key: str) -> str:
    """A collision-free id for (limit name, bucket key): the name is length-prefixed."""
    return f"{len(name)}:{name}:{key}"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def period_bounds(period: str, timezone: str, now: float) -> tuple[float, float]:
    """The calendar period (hour, day, ISO week from Monday, month) containing ``now``, in
    ``timezone``, as Unix times ``[start, end)``. Wall-clock boundaries: a day in a DST
    change is 23 or 25 hours long. The local time is ``now`` in its own second
    (:func:`~aigw_policy.instants.at`): rounded up, the last half microsecond of a period
    would fall in the next one, and ``start <= now < end`` would not hold."""
    s, e = _wall_bounds(period, at(now, _zone(timezone)))
    return _checked_bounds(period, now, s, e)


def _wall_bounds(period: str, local: datetime) -> tuple[float, float]:
    """The period of the wall-clock time ``local``: a function of its fields only (the date;
    for an hour, the hour and ``fold`` too), which is what lets :class:`Locator` keep it."""
    if period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        nxt = start + timedelta(hours=1)
    elif period == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        nxt = start + timedelta(days=1)
    elif period == "week":
        day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        start = day - timedelta(days=local.weekday())
        nxt = start + timedelta(days=7)
    elif period == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0, fold=0)
        nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else (
            start.replace(month=start.month + 1)
        )
    else:
        raise ValueError(f"unknown calendar period {period!r}")
    return start.timestamp(), nxt.replace(fold=0).timestamp()


def _checked_bounds(period: str, now: float, s: float, e: float) -> tuple[float, float]:
    if period == "hour" and not s <= now < e:  # wall-clock hour folded by a DST change
        s = math.floor(now / 3600.0) * 3600.0
        e = s + 3600.0
    if e <= s:
        e = s + 3600.0
    return s, e


def _wall_mark(period: str, local: datetime) -> tuple[int, ...]:
    """The fields of ``local`` that :func:`_wall_bounds` reads for ``period``."""
    if period == "hour":
        return (local.year, local.month, local.day, local.hour, local.fold)
    if period == "month":
        return (local.year, local.month)
    return (local.year, local.month, local.day)


def locate(spec: LimitSpec, key: str, now: float) -> Slot:
    """The slot a charge on ``spec``/``key`` lands in at ``now``."""
    base = bucket_id(spec.name, key)
    w = float(spec.window)
    if spec.algorithm == "token_bucket":
        return _gcra_slot(spec, base)
    if spec.algorithm == "calendar" and spec.period in CALENDAR_PERIODS:
        start, end = period_bounds(spec.period, spec.timezone, now)
        return _period_slot(base, start, end)
    return _window_slot(spec, base, math.floor(now / w), w)


def _gcra_slot(spec: LimitSpec, base: str) -> Slot:
    w = float(spec.window)
    interval = w / spec.capacity if spec.capacity > 0 else w  # capacity 0: nothing fits
    return Slot("gcra", f"t|{base}", None, 0.0, FOREVER, w, interval, FOREVER)


def _period_slot(base: str, start: float, end: float) -> Slot:
    return Slot("counter", f"p|{base}|{int(start)}", None, start, end, end - start, 0.0, end)


def _window_slot(spec: LimitSpec, base: str, idx: int, w: float) -> Slot:
    start = idx * w
    end = start + w
    if spec.algorithm == "sliding_window":
        return Slot("sliding", f"s|{base}|{idx}", f"s|{base}|{idx - 1}", start, end, w, 0.0,
                    end + w)
    # fixed_window, and calendar caps whose period is a duration
    return Slot("counter", f"f|{base}|{idx}", None, start, end, w, 0.0, end)


class Locator:
    """:func:`locate`, remembering for each (limit, bucket key) the slot it gave last, and for
    each calendar period the bounds of the wall-clock dates it met: a store locates each
    charge a few times per request, and a bucket stays in one window for many requests.

    Always the slot :func:`locate` gives: a slot is a function of the spec, the key and what
    it reads of ``now`` (nothing for GCRA; the window number ``floor(now / window)``; a
    calendar period's bounds, themselves a function of the local date's fields and of
    ``now`` only through the check in :func:`_checked_bounds`), and a remembered one is
    given only when that input is the same. At most ``max_entries`` of each are kept (the
    oldest dropped first). Not thread-safe on its own: stores call it inside their lock.
    """

    __slots__ = ("_bounds", "_last", "_slots", "max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._slots: dict[tuple[str, str], tuple[LimitSpec, object, Slot]] = {}
        self._bounds: dict[tuple[object, ...], tuple[float, float]] = {}
        # per (period, zone): the last ``now`` and its period's bounds. A request's store
        # calls (check, reserve, settle) locate its charges at one ``now``, several times:
        # the local time is worked out once for them (``instants.at`` in a zone)
        self._last: dict[tuple[str, str], tuple[float, tuple[float, float]]] = {}

    def __call__(self, spec: LimitSpec, key: str, now: float) -> Slot:
        alg = spec.algorithm
        mark: object
        if alg == "token_bucket":
            mark = None
        elif alg == "calendar" and spec.period in CALENDAR_PERIODS:
            zone_key = (spec.period, spec.timezone)
            last = self._last.get(zone_key)
            if last is not None and last[0] == now:
                mark = last[1]
            else:
                mark = self._calendar(spec.period, spec.timezone, now)
                _remember(self._last, zone_key, (now, mark), self.max_entries)
        else:
            mark = math.floor(now / float(spec.window))
        k = (spec.name, key)
        hit = self._slots.get(k)
        if hit is not None and hit[1] == mark and (hit[0] is spec or hit[0] == spec):
            return hit[2]
        base = bucket_id(spec.name, key)
        if mark is None:
            slot = _gcra_slot(spec, base)
        elif type(mark) is tuple:
            slot = _period_slot(base, *mark)
        else:
            slot = _window_slot(spec, base, mark, float(spec.window))  # type: ignore[arg-type]
        _remember(self._slots, k, (spec, mark, slot), self.max_entries)
        return slot

    def _calendar(self, period: str, timezone: str, now: float) -> tuple[float, float]:
        """:func:`period_bounds`, the bounds kept per wall-clock date."""
        local = at(now, _zone(timezone))
        wall = (period, timezone, _wall_mark(period, local))
        bounds = self._bounds.get(wall)
        if bounds is None:
            bounds = _remember(self._bounds, wall, _wall_bounds(period, local), self.max_entries)
        return _checked_bounds(period, now, *bounds)


def _remember(d: dict[_K, _V], k: _K, v: _V, most: int) -> _V:
    if k not in d and len(d) >= most:
        del d[next(iter(d))]
    d[k] = v
    return v


def used_before(slot: Slot, cur: float | None, prev: float | None, now: float) -> float:
    """How much of the limit is in use at ``now``, from the stored values (``None``: absent)."""
    if slot.kind == "gcra":
        if cur is None:
            return 0.0
        return (max(cur, now) - now) / slot.interval
    c = cur or 0.0
    if slot.kind == "sliding":
        p = prev or 0.0
        elapsed = now - slot.start
        return p * ((slot.window - elapsed) / slot.window) + c
    return c


def fits(used: float, cost: float, capacity: float) -> bool:
    """Whether ``cost`` fits on top of ``used``; a zero cost fits while anything is left."""
    if cost > 0:
        return used + cost <= capacity
    return used < capacity


def apply(slot: Slot, cur: float | None, cost: float, now: float) -> float:
    """The stored value after charging ``cost`` at ``now``."""
    if slot.kind == "gcra":
        return max(cur if cur is not None else now, now) + cost * slot.interval
    return (cur or 0.0) + cost


def adjust(slot: Slot, cur: float | None, delta: float, now: float) -> float | None:
    """The stored value after changing an earlier charge by ``delta`` (reconcile: actual minus
    reserved; release: minus reserved), or ``None`` when nothing is to be written: the slot is
    no longer live, or a GCRA bucket that has drained gives nothing back."""
    if now >= slot.live_until:
        return None
    if slot.kind == "gcra":
        if delta >= 0:
            return max(cur if cur is not None else now, now) + delta * slot.interval
        if cur is None or cur <= now:
            return None
        return cur + delta * slot.interval
    return max(0.0, (cur or 0.0) + delta)


def reset_after(slot: Slot, used_after: float, now: float) -> float:
    """Seconds until the window (period) ends; for GCRA, until the bucket is full again."""
    left = used_after * slot.interval if slot.kind == "gcra" else slot.end - now
    return left if left > 0.0 else 0.0  # max(0.0, left), without the call


def retry_after(slot: Slot, capacity: float, cost: float, cur: float | None,
                prev: float | None, now: float) -> float:
    """Seconds until ``cost`` would fit, if nothing else is charged meanwhile. A cost larger
    than the capacity never fits; then it is the time until the bucket is empty."""
    if slot.kind == "gcra":
        used = used_before(slot, cur, prev, now)
        if cost > capacity:
            return max(0.0, used * slot.interval)
        return max(0.0, (used - (capacity - cost)) * slot.interval)
    c = cur or 0.0
    to_end = max(0.0, slot.end - now)
    if slot.kind == "counter":
        return to_end
    # sliding: the previous window's weight falls linearly to 0 over the current window
    w = slot.window
    p = prev or 0.0
    room = capacity - cost
    if cost <= capacity and c <= room and p > 0:
        # wait inside this window until p * (w - e) / w + c <= room
        need = w * (1.0 - (room - c) / p)  # elapsed time needed
        return max(0.0, need - (now - slot.start))
    if cost > capacity or c <= 0:
        return to_end + w
    # next window: c becomes the previous window's count
    need = w * (1.0 - room / c) if c > room else 0.0
    return to_end + max(0.0, need)


def _verdict(spec: LimitSpec, used: float, limited: bool) -> Verdict:
    if limited:
        return "limited"
    if spec.warn_at is not None and used >= spec.warn_at * spec.capacity:
        return "warn"
    return "ok"


def build_outcome(charge: Charge, slot: Slot, cur: float | None, prev: float | None,
                  now: float, admitted: bool) -> Outcome:
    """The outcome of one charge of a reserve (or check) from the values read before it.

    ``admitted`` says whether the request as a whole was recorded; then ``used`` includes
    this charge. A charge that does not fit is ``limited`` (even with ``enforce=False``,
    where it is recorded nonetheless) and carries ``retry_after``.
    """
    before = used_before(slot, cur, prev, now)
    ok = fits(before, charge.cost, charge.spec.capacity)
    after = apply(slot, cur, charge.cost, now) if admitted else cur
    return staged_outcome(charge, slot, cur, prev, now, admitted, before, ok, after)


def staged_outcome(charge: Charge, slot: Slot, cur: float | None, prev: float | None, now: float,
                   admitted: bool, before: float, ok: bool, after: float | None) -> Outcome:
    """:func:`build_outcome`, given what a reserve has computed already while it staged the
    charge: ``before`` is ``used_before(slot, cur, prev, now)``, ``ok`` is ``fits(before, cost,
    capacity)``, ``after`` the stored value once the charge is applied (``apply(slot, cur,
    cost, now)``) if ``admitted``, else ``cur``."""
    spec = charge.spec
    cost = charge.cost
    capacity = spec.capacity
    used = before + cost if admitted else before
    if slot.kind == "gcra":
        reset = reset_after(slot, used_before(slot, after, prev, now), now)
    else:  # a window's end does not depend on its use
        reset = slot.end - now
        if not reset > 0.0:
            reset = 0.0
    remaining = capacity - used
    return new_outcome(
        spec.name, charge.key, spec.unit, cost, used, capacity,
        remaining if remaining > 0.0 else 0.0, reset,
        _verdict(spec, before + cost, not ok),  # what this charge makes (or would make) of it
        None if ok else retry_after(slot, capacity, cost, cur, prev, now),
    )


def outcome_after(spec: LimitSpec, key: str, cost: float, slot: Slot, cur: float | None,
                  prev: float | None, now: float) -> Outcome:
    """The state of a limit after a request was settled (reconcile): ``used`` is what the
    bucket holds now, this request's final cost included; over the capacity is ``limited``."""
    used = used_before(slot, cur, prev, now)
    capacity = spec.capacity
    over = used > capacity
    remaining = capacity - used
    return new_outcome(
        spec.name, key, spec.unit, cost, used, capacity, remaining if remaining > 0.0 else 0.0,
        reset_after(slot, used, now), _verdict(spec, used, over),
        retry_after(slot, capacity, 0.0, cur, prev, now) if over else None,
    )
