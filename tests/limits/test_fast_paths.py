"""The limit machinery's fast paths give what the plain paths give (issue #15):

- a store's :class:`Locator` gives the slot :func:`locate` gives, for every algorithm, across
  DST changes, with buckets that change windows, specs rebuilt equal, and a small cache;
- a memory store's packed final record unpacks to the record it packed;
- a reserve's outcomes (built from the slots it located and the values it staged) and a
  reconcile's are those a replay rebuilds from the record, and a store whose cells use the
  plain ``locate`` and whose every step runs the accounting steps over an overlay (the memory
  store's straight reserve and reconcile turned off) agrees on every outcome, counter and
  record;
- a reserve that charges one bucket twice adds each charge exactly once.

Bounded by counts (hypothesis examples), never by a clock.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.limits import Charge, LimitSpec, Outcome, accounting
from aigw_policy.limits.algorithms import Locator, build_outcome, locate
from aigw_policy.limits.model import new_charge, new_outcome
from aigw_policy.stores import MemoryStore

ZONES = ["UTC", "Europe/Paris", "America/Sao_Paulo", "America/Havana", "Australia/Lord_Howe",
         "Asia/Tehran", "America/St_Johns", "Pacific/Apia"]
YEARS = [2011, 2018, 2026]


@lru_cache(maxsize=None)
def _transitions(zone: str) -> tuple[float, ...]:
    """The instants (to the second) where ``zone``'s UTC offset changes in YEARS."""
    tz = ZoneInfo(zone)
    out = []
    for year in YEARS:
        t = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()
        end = datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp()
        off = datetime.fromtimestamp(t, tz).utcoffset()
        while t < end:
            nxt = t + 3600.0
            if datetime.fromtimestamp(nxt, tz).utcoffset() != off:
                lo, hi = t, nxt
                while hi - lo > 1.0:
                    mid = math.floor((lo + hi) / 2)
                    if datetime.fromtimestamp(mid, tz).utcoffset() == off:
                        lo = mid
                    else:
                        hi = mid
                out.append(hi)
                off = datetime.fromtimestamp(nxt, tz).utcoffset()
            t = nxt
    return tuple(out)


def _specs() -> list[LimitSpec]:
    specs = [LimitSpec("tb", "tokens", "token_bucket", 50, 40),
             LimitSpec("tb0", "tokens", "token_bucket", 0, 40),
             LimitSpec("fw", "requests", "fixed_window", 6, 60),
             LimitSpec("sw", "tokens", "sliding_window", 100, 7.5),
             LimitSpec("dur", "usd", "calendar", 2.0, 3600)]
    for zone in ZONES:
        for period in ("hour", "day", "week", "month"):
            specs.append(LimitSpec(f"cal-{period}", "usd", "calendar", 3.5, 0, period=period,
                                   timezone=zone))
    # one name, another algorithm or capacity: the cache must not mix them up
    specs.append(LimitSpec("tb", "tokens", "token_bucket", 25, 40))
    specs.append(LimitSpec("fw", "requests", "sliding_window", 6, 60))
    return specs


SPECS = _specs()


@st.composite
def instants(draw) -> float:
    zone = draw(st.sampled_from([z for z in ZONES if _transitions(z)]))
    base = draw(st.sampled_from(_transitions(zone)))
    return base + draw(st.sampled_from([-3600.5, -1.0, -0.25, 0.0, 0.5, 1799.0, 3599.75, 3600.0,
                                        7200.0, 86399.0, 86400.0, 2 * 86400.0 + 3.0]))


calls = st.lists(
    st.tuples(st.one_of(st.sampled_from([0, 1, 2, 3, len(SPECS) - 2, len(SPECS) - 1]),
                        st.integers(0, len(SPECS) - 1)),
              st.sampled_from(["", "k"]), st.integers(0, 2),
              st.booleans()),
    min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=calls, base=st.one_of(instants(), st.floats(1.0e9, 2.0e9, allow_nan=False)),
       later=st.lists(st.sampled_from([0.5, -1.0, 59.0, 1800.0, 3600.0, 86400.0, 7 * 86400.0,
                                       40 * 86400.0, 366 * 86400.0]), min_size=2, max_size=2),
       most=st.sampled_from([1, 2, 4096]))
def test_the_locator_gives_what_locate_gives(calls, base, later, most):
    loc = Locator(max_entries=most)
    times = [base, base + later[0], base + later[0] + later[1]]
    for i, key, t, rebuilt in calls:  # a few instants per example: buckets meet their windows again
        spec, now = SPECS[i], times[t]
        if rebuilt:  # an equal spec, another object (a record read back from SQLite)
            spec = copy.copy(spec)
        assert loc(spec, key, now) == locate(spec, key, now), (spec, key, now)


def test_the_locator_gives_what_locate_gives_around_every_dst_change():
    """Every quarter hour (and half a second either side) for six hours around each change of
    offset in ZONES, forwards then backwards through one Locator: folded and skipped hours."""
    loc = Locator()
    steps = [k * 900.0 + eps for k in range(-12, 13) for eps in (-0.5, 0.0, 0.5)]
    for zone in ZONES[1:]:
        for t0 in _transitions(zone):
            for period in ("hour", "day", "week", "month"):
                spec = LimitSpec(f"cal-{period}", "usd", "calendar", 1.0, 0, period=period,
                                 timezone=zone)
                for now in [t0 + d for d in steps] + [t0 - d for d in steps]:
                    assert loc(spec, "k", now) == locate(spec, "k", now), (zone, period, now)


# the stores: the fast path against the plain one ---------------------------------------------

T0 = 1_774_740_013.0  # 2026-03-28T23:20:13Z: a DST change in Paris an hour and a half later
STORE_SPECS = [
    LimitSpec("fw", "requests", "fixed_window", 6, 60),
    LimitSpec("sw", "tokens", "sliding_window", 100, 60, warn_at=0.5),
    LimitSpec("tb", "tokens", "token_bucket", 50, 40),
    LimitSpec("cal", "usd", "calendar", 3.5, 0, period="hour", timezone="Europe/Paris"),
    LimitSpec("day", "usd", "calendar", 9.0, 0, period="day", timezone="America/Sao_Paulo"),
    LimitSpec("soft", "requests", "fixed_window", 2, 30, enforce=False),
]
RIDS = [f"r{i}" for i in range(6)]
op_st = st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(RIDS),
              st.lists(st.tuples(st.integers(0, len(STORE_SPECS) - 1), st.sampled_from(["x", "y"]),
                                 st.integers(0, 30).map(lambda c: c / 4)), max_size=4)),
    st.tuples(st.just("reconcile"), st.sampled_from(RIDS),
              st.dictionaries(st.sampled_from([s.name for s in STORE_SPECS]),
                              st.integers(0, 40).map(lambda c: c / 4), max_size=3)),
    st.tuples(st.just("release"), st.sampled_from(RIDS), st.none()),
    st.tuples(st.just("check"), st.none(),
              st.lists(st.tuples(st.integers(0, len(STORE_SPECS) - 1), st.sampled_from(["x", "y"]),
                                 st.integers(0, 30).map(lambda c: c / 4)), max_size=4)),
    st.tuples(st.just("lifecycle"), st.sampled_from(RIDS),  # reserve, wait, reconcile, replay
              st.tuples(st.lists(st.tuples(st.integers(0, len(STORE_SPECS) - 1),
                                           st.sampled_from(["x", "y"]),
                                           st.integers(0, 12).map(lambda c: c / 4)),
                                 min_size=1, max_size=3),
                        st.sampled_from([0.5, 50.0, 61.0, 3600.0]),
                        st.dictionaries(st.sampled_from([s.name for s in STORE_SPECS]),
                                        st.integers(0, 40).map(lambda c: c / 4), max_size=2))),
    st.tuples(st.just("tick"), st.sampled_from([0.25, 3.0, 17.0, 45.0, 1800.0, 3600.0, 40000.0]),
              st.none()),
)


class _Recording(MemoryStore):
    """A memory store that also keeps, as plain dicts, the final records it packs."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.plain: dict[str, dict] = {}

    def _commit(self, overlay, now):
        for rid, (rec, _keep, pending) in overlay.records.items():
            if pending is None:
                self.plain[rid] = copy.deepcopy(rec)
        super()._commit(overlay, now)


def _plain_store(**kw) -> _Recording:
    store = _Recording(**kw)
    store.locate = locate  # cells locate afresh every time
    store._fast = False  # every step through accounting, over an overlay
    return store


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op_st, max_size=30))
def test_fast_and_plain_stores_agree_and_replays_repeat(ops):
    _run_side_by_side(ops, MemoryStore(reservation_ttl=120.0), _plain_store(reservation_ttl=120.0))


def _run_side_by_side(ops, fast: MemoryStore, plain: _Recording) -> None:
    now = T0
    first: dict[tuple[str, str], list] = {}
    for op, rid, arg in ops:
        if op == "tick":
            now += rid
            continue
        if op == "lifecycle":
            charges, wait, actual = arg
            charges = [Charge(STORE_SPECS[i], k, c) for i, k, c in charges]
            got = [s.reserve(rid, charges, now) for s in (fast, plain)]
            assert got[0] == got[1] and fast.reserve(rid, charges, now) == got[0]
            now += wait
            got = [s.reconcile(rid, actual, now) for s in (fast, plain)]
            assert got[0] == got[1] and fast.reconcile(rid, actual, now) == got[0]
            assert fast.snapshot() == plain.snapshot()
            continue
        if op == "check":
            charges = [Charge(STORE_SPECS[i], k, c) for i, k, c in arg]
            got = [s.check(charges, now) for s in (fast, plain)]
            assert got[0] == got[1], (op, arg)
            assert fast.snapshot() == plain.snapshot() and len(fast) == len(plain)
            continue
        if op == "reserve":
            charges = [Charge(STORE_SPECS[i], k, c) for i, k, c in arg]
            got = [s.reserve(rid, charges, now) for s in (fast, plain)]
        elif op == "reconcile":
            got = [s.reconcile(rid, arg, now) for s in (fast, plain)]
        else:
            got = [s.release(rid, now) for s in (fast, plain)]
        assert got[0] == got[1], (op, rid, arg)
        assert fast.snapshot() == plain.snapshot()
        rec = fast.get_record(rid)
        if op in ("reserve", "reconcile") and rec is not None and got[0]:
            # the first answer of a step is what every replay of it rebuilds from the record
            if (op, rid) in first:
                assert got[0] == first[(op, rid)]
            elif op == "reserve" or rec["state"] == "reconciled":
                first[(op, rid)] = got[0]
        assert len(fast) == len(plain)
        for r in RIDS:  # the same records, unsettled and final
            assert fast.get_record(r) == plain.get_record(r), r
        for r in plain._final:
            assert plain.get_record(r) == plain.plain[r], r  # packed, then unpacked: the same


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(charges=st.lists(st.tuples(st.sampled_from([0, 1, 2, 3, 4]),
                                  st.integers(0, 8).map(lambda c: c / 8)),
                        min_size=1, max_size=6))
def test_a_bucket_charged_twice_in_one_reserve_gets_each_charge_once(charges):
    big = [LimitSpec(s.name, s.unit, s.algorithm, 10**6, s.window or 60, s.period, s.timezone)
           for s in STORE_SPECS]
    store = MemoryStore()
    out = store.reserve("r", [Charge(big[i], "k", c) for i, c in charges], T0)
    assert all(o.outcome == "ok" for o in out)
    for i in {i for i, _ in charges}:
        want = sum(c for j, c in charges if j == i)
        assert store.check([Charge(big[i], "k", 0.0)], T0)[0].used == pytest.approx(want, abs=0.01)


def test_a_settled_record_packs_small():
    """The memory bound of settled records: three limits pack into under 200 bytes (sizes, not
    time; the record as a dict of dicts pickled took ~330)."""
    specs = [STORE_SPECS[1], STORE_SPECS[2], STORE_SPECS[4]]
    store = MemoryStore()
    store.reserve("request-00000001", [Charge(s, "team-1", 1.5) for s in specs], T0)
    store.reconcile("request-00000001", {"sw": 1.0, "day": 0.25}, T0 + 1)
    packed, _keep = store._final["request-00000001"]
    assert len(packed) < 200, len(packed)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(seeded=st.lists(st.tuples(st.integers(0, len(STORE_SPECS) - 1), st.sampled_from(["x", "y"]),
                                 st.integers(0, 40).map(lambda c: c / 4)), max_size=4),
       charges=st.lists(st.tuples(st.integers(0, len(STORE_SPECS) - 1), st.sampled_from(["x", "y"]),
                                  st.integers(0, 40).map(lambda c: c / 4)), min_size=1, max_size=4),
       later=st.sampled_from([0.0, 0.5, 30.0, 59.5, 61.0, 3600.0]))
def test_staged_outcomes_are_those_build_outcome_gives(seeded, charges, later):
    """A reserve's outcomes come from the values it staged (no second read or arithmetic):
    for admitted and denied requests alike, what build_outcome gives from the values read."""
    store = MemoryStore()
    for i, key, used in seeded:
        store.seed(STORE_SPECS[i], key, used, T0)
    now = T0 + later
    charges = [Charge(STORE_SPECS[i], k, c) for i, k, c in charges]
    rows, admitted = accounting.stage(store, charges, now)
    want = [build_outcome(c, slot, cur, prev, now, admitted)
            for c, (slot, cur, prev, _before, _ok, _new) in zip(charges, rows)]
    assert accounting.stage_outcomes(charges, rows, now, admitted) == want
    assert store.reserve("r", charges, now) == want  # the memory store's straight reserve


@given(values=st.tuples(st.text(max_size=3), st.text(max_size=3),
                        st.sampled_from(["requests", "tokens", "usd"]),
                        *[st.floats(allow_nan=False)] * 5, st.sampled_from(["ok", "warn", "limited"]),
                        st.none() | st.floats(allow_nan=False)))
def test_new_outcome_is_the_outcome_its_init_builds(values):
    got, want = new_outcome(*values), Outcome(*values)
    assert type(got) is Outcome and got == want and hash(got) == hash(want) and repr(got) == repr(want)
    with pytest.raises(AttributeError):  # frozen all the same
        got.used = 0.0  # type: ignore[misc]


@given(key=st.text(max_size=3), cost=st.floats(allow_nan=False), shard=st.none() | st.text(max_size=3))
def test_new_charge_is_the_charge_its_init_builds(key, cost, shard):
    spec = STORE_SPECS[0]
    got, want = new_charge(spec, key, cost, shard), Charge(spec, key, cost, shard)
    assert type(got) is Charge and got == want and hash(got) == hash(want) and repr(got) == repr(want)
    assert got.shard == shard
    with pytest.raises(AttributeError):  # frozen all the same
        got.cost = 0.0  # type: ignore[misc]
