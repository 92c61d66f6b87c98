"""Instants at the edge of a window (docs/limits.md, *Window boundaries*): the last float
before a UTC or local midnight, month end (28 to 31 days, leap day), year end, in zones with
odd offsets (+14:00, -03:30 with DST, +05:45).

- a calendar period holds the instant it is computed for (``start <= now < end``) and is the
  period of the instant's own date (never rounded into the next second);
- a cap full before the boundary denies up to the last float before it and admits exactly
  from the boundary;
- across a boundary, what a window admitted never passes its capacity, and each admitted
  charge is counted in exactly one window;
- a reconcile after the boundary leaves the new window untouched;
- the engine's ``time.now`` text and the ledger's ``time`` of a request are in the same second
  (so the same day) as the windows it is charged in.

The oracle for "which period" is ``datetime.fromtimestamp`` of the whole second (``floor``),
which is exact. Bounded by hypothesis example counts, never by a clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.env.activation import format_now
from aigw_policy.instants import at, split
from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.limits.algorithms import Locator, period_bounds
from aigw_policy.stores import MemoryStore, SQLiteStore

ZONES = ["UTC", "Pacific/Kiritimati", "America/St_Johns", "Asia/Kathmandu"]
PERIODS = ["hour", "day", "week", "month"]
# month ends worth a look: 31-day January, February of a leap year (29 days) and of a common
# one (28), a 30-day month, and the year's end
MONTH_STARTS = [(2027, 2), (2028, 2), (2028, 3), (2027, 3), (2027, 5), (2027, 1), (2028, 1), (2026, 11)]
# offsets from a boundary: the float just below it is added by `instants` below
DELTAS = [-1.0, -1e-3, -1e-6, -6e-7, -5e-7, -4e-7, -2.5e-7, 0.0, 2.5e-7, 5e-7, 1e-6, 0.25]


def local_start(year: int, month: int, zone: str) -> float:
    """Midnight of the 1st of ``month`` in ``zone`` (the period start a month cap uses)."""
    return datetime(year, month, 1, tzinfo=ZoneInfo(zone)).timestamp()


def oracle(period: str, zone: str, t: float) -> tuple[int, ...]:
    """The wall-clock period of ``t`` in ``zone``, from its whole second (exact)."""
    d = datetime.fromtimestamp(math.floor(t), ZoneInfo(zone))
    if period == "hour":
        return (d.year, d.month, d.day, d.hour, d.fold)
    if period == "day":
        return (d.year, d.month, d.day)
    if period == "week":
        monday = d.date() - timedelta(days=d.weekday())
        return (monday.year, monday.month, monday.day)
    return (d.year, d.month)


@st.composite
def instants(draw: st.DrawFn, zones: tuple[str, ...] = tuple(ZONES)) -> tuple[str, float, float]:
    """(zone, boundary, instant near it): the boundary is a local month start, which is
    also a day's, a week's (sometimes) and an hour's."""
    zone = draw(st.sampled_from(zones))
    year, month = draw(st.sampled_from(MONTH_STARTS))
    b = local_start(year, month, zone)
    t = draw(st.one_of(st.sampled_from([b + d for d in DELTAS] + [math.nextafter(b, -math.inf)]),
                       st.floats(b - 2.0, b + 2.0)))
    return zone, b, t


@settings(max_examples=300, deadline=None)
@given(instants(), st.sampled_from(PERIODS))
def test_the_period_holds_the_instant(case: tuple[str, float, float], period: str) -> None:
    zone, _b, t = case
    s, e = period_bounds(period, zone, t)
    assert s <= t < e, (period, zone, t, s, e)
    assert oracle(period, zone, s) == oracle(period, zone, t)
    assert Locator()(_cap(period, zone, 1), "k", t).start == s  # the store's cached path too


@settings(max_examples=200, deadline=None)
@given(instants())
def test_a_time_shown_is_never_later_than_the_instant(case: tuple[str, float, float]) -> None:
    zone, _b, t = case
    whole, us = split(t)
    assert whole == math.floor(t) and 0 <= us <= 999_999 and abs(whole + us / 1e6 - t) < 1e-6
    local = at(t, ZoneInfo(zone))
    assert (local.year, local.month, local.day) == oracle("day", zone, t)
    text = format_now(t)
    shown = datetime.fromisoformat(text.replace("Z", "+00:00"))  # RFC 3339, whatever the fraction
    assert shown.replace(microsecond=0).timestamp() == math.floor(t), text
    assert shown == at(t), text


def _cap(period: str, zone: str, capacity: float) -> LimitSpec:
    return LimitSpec(f"cap-{period}", "requests", "calendar", capacity, 86400.0, period, zone)


def _stores() -> list[Any]:
    """The stores the properties run on: memory (the arithmetic is the same for every store:
    ``algorithms.py``; SQLite is checked at the sharpest instants below)."""
    return [MemoryStore()]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("month", [(2028, 3), (2027, 1)])
def test_sqlite_resets_a_full_cap_exactly_at_the_boundary(zone: str, month: tuple[int, int],
                                                          tmp_path: Path) -> None:
    b = local_start(*month, zone)
    spec = _cap("month", zone, 2)
    store = SQLiteStore(str(tmp_path / "l.db"))
    try:
        for i in range(2):
            store.reserve(f"fill{i}", [Charge(spec, "k", 1)], b - 10.0)
        last = math.nextafter(b, -math.inf)
        assert store.reserve("late", [Charge(spec, "k", 1)], last)[0].outcome == "limited"
        assert store.check([Charge(spec, "k", 0)], last)[0].used == 2
        assert store.reserve("on-time", [Charge(spec, "k", 1)], b)[0].outcome != "limited"
    finally:
        store.close()


@settings(max_examples=60, deadline=None)
@given(instants(), st.sampled_from(["day", "month"]))
def test_a_full_cap_resets_exactly_at_the_boundary(case: tuple[str, float, float], period: str) -> None:
    zone, b, t = case
    spec = _cap(period, zone, 3)
    for store in _stores():
        for i in range(3):
            assert store.reserve(f"fill{i}", [Charge(spec, "k", 1)], b - 10.0)[0].outcome != "limited"
        out = store.reserve("probe", [Charge(spec, "k", 1)], t)[0]
        assert (out.outcome != "limited") == (t >= b), (zone, period, t, b, out)
        if t < b:
            assert out.retry_after is not None and out.retry_after == pytest.approx(b - t, abs=1e-6)
            assert 0 < out.reset_after <= b - t + 1e-6


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(MONTH_STARTS),
       st.lists(st.tuples(st.floats(-3.0, 3.0), st.integers(1, 4)), min_size=1, max_size=25),
       st.sampled_from([-2.5e-7, -1e-6, 0.0, 5e-7]))
def test_each_window_admits_at_most_its_capacity_and_counts_each_charge_once(
        zone: str, month: tuple[int, int], steps: list[tuple[float, int]], nudge: float) -> None:
    b = local_start(*month, zone)
    spec = _cap("month", zone, 7)
    for store in _stores():
        admitted: dict[tuple[int, ...], float] = {}
        for i, (d, cost) in enumerate(sorted(steps)):
            t = b + d + (nudge if abs(d) < 1e-3 else 0.0)
            out = store.reserve(f"r{i}", [Charge(spec, "k", cost)], t)[0]
            if out.outcome != "limited":
                w = oracle("month", zone, t)
                admitted[w] = admitted.get(w, 0.0) + cost
                assert admitted[w] <= spec.capacity
                assert out.used == admitted[w]  # what the store holds is this window's sum
        for probe in (math.nextafter(b, -math.inf), b):
            w = oracle("month", zone, probe)
            assert store.check([Charge(spec, "k", 0)], probe)[0].used == admitted.get(w, 0.0)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(MONTH_STARTS), st.floats(1e-7, 5.0), st.floats(0.0, 5.0),
       st.sampled_from(["calendar", "fixed_window"]))
def test_a_reconcile_after_the_boundary_leaves_the_new_window_alone(
        zone: str, month: tuple[int, int], before: float, after: float, alg: str) -> None:
    b = local_start(*month, zone) if alg == "calendar" else local_start(*month, "UTC")
    spec = (_cap("month", zone, 100) if alg == "calendar"
            else LimitSpec("fw-day", "tokens", "fixed_window", 100, 86400.0))
    for store in _stores():
        t0 = min(b - before, math.nextafter(b, -math.inf))  # b - 1e-7 is b itself in floats
        store.reserve("r", [Charge(spec, "k", 10)], t0)
        assert store.check([Charge(spec, "k", 0)], t0)[0].used == 10
        store.reconcile("r", {spec.name: 7}, b + after)
        assert store.check([Charge(spec, "k", 0)], b + after)[0].used == 0  # nothing moved into it


class _Kept:
    """A ledger that keeps what the engine records."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, rec: Any) -> None:
        self.records.append(rec)

    async def arecord(self, rec: Any) -> None:
        self.record(rec)


POLICY = ('policy { on request { rule "cap" { usage-cap { name: "daily", limit: 5, unit: "requests", '
          'period: day } } } }')


@settings(max_examples=60, deadline=None)
@given(instants(("UTC",)))
def test_the_engine_records_a_request_in_the_day_it_is_charged(case: tuple[str, float, float]) -> None:
    _zone, _b, t = case
    ledger = _Kept()
    engine = ap.Engine(ap.loads(POLICY), ledger=ledger)
    req = {"identity": {"key": "k1"}, "request": {"method": "POST", "url": "https://api.openai.com/v1/embeddings",
                                                  "body": {"model": "text-embedding-3-small", "input": "hi"}},
           "response": {"status_code": 200, "body": {"model": "text-embedding-3-small",
                                                     "usage": {"prompt_tokens": 1, "total_tokens": 1}}}}
    d = engine.evaluate(req, now=t)
    day = oracle("day", "UTC", t)
    shown = datetime.fromisoformat(d.now.replace("Z", "+00:00"))
    assert (shown.year, shown.month, shown.day) == day, d.now
    [rec] = ledger.records
    assert tuple(int(x) for x in rec.time[:10].split("-")) == day, rec.time
    spec = engine.compiled.limits["daily"][1].limit.spec  # type: ignore[union-attr]
    assert engine.store.check([Charge(spec, "", 0)], t)[0].used == 1



@pytest.mark.parametrize("step", [-3600.0, -86400.0 * 3])
def test_a_queued_settlement_is_due_after_the_wall_clock_steps_back(step: float) -> None:
    """The settle outbox keeps its next tries in wall-clock time (they outlive the process);
    a clock stepped back must not stall them for the size of the step."""
    from unittest import mock

    from aigw_policy.limits import outbox

    box = outbox.Outbox()
    t = 1_800_000_000.0
    with mock.patch.object(outbox.time, "time", lambda: t):
        box.put("reconcile", "r1", {"tpm": 7.0}, t)
        assert box.due() == [] and box.wait() == pytest.approx(outbox.FIRST_DELAY)  # an ordinary wait
    with mock.patch.object(outbox.time, "time", lambda: t + step):
        assert box.wait() == 0.0
        assert [x.request_id for x in box.due()] == ["r1"]
