"""Property tests: any interleaving of reserve, reconcile, release, retry and clock moves leaves
the counters equal to a simple reference model's; a denied request changes nothing; a replayed
request id never charges twice. And the three stores give identical outcomes on random runs
over every algorithm."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.stores import MemoryStore, RedisStore, SQLiteStore

from conftest import REDIS_URL, redis_reason, require_redis

T0 = 1_800_000_000.0
TTL = 120.0
LIMITS = {
    "rpm": LimitSpec("rpm", "requests", "fixed_window", 10, 60),
    "tpm": LimitSpec("tpm", "tokens", "fixed_window", 100, 30),
    "soft": LimitSpec("soft", "requests", "fixed_window", 5, 60, enforce=False),
}
KEYS = ["x", "y"]
RIDS = [f"r{i}" for i in range(12)]


class Model:
    """Fixed windows, written as plainly as possible: counters by (limit, key, window)."""

    def __init__(self):
        self.counters: dict[tuple[str, str, int], float] = {}
        self.requests: dict[str, dict] = {}

    def idx(self, name, now):
        return math.floor(now / LIMITS[name].window)

    def used(self, name, key, now):
        return self.counters.get((name, key, self.idx(name, now)), 0.0)

    def add(self, cell, amount):
        self.counters[cell] = max(0.0, self.counters.get(cell, 0.0) + amount)

    def expire(self, now):
        for r in self.requests.values():
            if r["state"] == "reserved" and r["expires"] <= now:
                for cell, cost in r["items"]:
                    self.add(cell, -cost)
                r["state"] = "expired"

    def reserve(self, rid, charges, now):
        self.expire(now)
        if rid in self.requests:
            return self.requests[rid]["admitted"]
        ok = True
        for name, key, cost in charges:
            used = self.used(name, key, now)
            fits = used + cost <= LIMITS[name].capacity if cost > 0 else used < LIMITS[name].capacity
            if not fits and LIMITS[name].enforce:
                ok = False
        items = [((n, k, self.idx(n, now)), c) for n, k, c in charges]
        if ok:
            for cell, cost in items:
                self.add(cell, cost)
        if ok and items:  # a request that reserved nothing is not remembered
            self.requests[rid] = {"state": "reserved", "items": items, "expires": now + TTL,
                                  "admitted": ok}
        return ok

    def reconcile(self, rid, actual, now):
        self.expire(now)
        r = self.requests.get(rid)
        if r is None or r["state"] not in ("reserved", "expired"):
            return
        for cell, cost in r["items"]:
            final = actual.get(cell[0], cost)
            self.add(cell, final - (cost if r["state"] == "reserved" else 0.0))
        r["state"] = "reconciled"

    def release(self, rid, now):
        self.expire(now)
        r = self.requests.get(rid)
        if r is None or r["state"] != "reserved":
            return
        for cell, cost in r["items"]:
            self.add(cell, -cost)
        r["state"] = "released"


charges_st = st.lists(
    st.tuples(st.sampled_from(sorted(LIMITS)), st.sampled_from(KEYS), st.integers(0, 40)),
    min_size=0, max_size=3, unique_by=lambda c: c[0])


def _make(kind, tmp_path_factory):
    if kind == "memory":
        return MemoryStore(reservation_ttl=TTL)
    if kind == "sqlite":
        d = tmp_path_factory.mktemp("st")
        return SQLiteStore(d / "l.db", reservation_ttl=TTL, timeout=5)
    return RedisStore(REDIS_URL, clock="client", hash_tag=f"h-{uuid.uuid4().hex[:10]}",
                      reservation_ttl=TTL, timeout=2)


def machine_for(kind, tmp_path_factory):
    class StoreMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            self.store = _make(kind, tmp_path_factory)
            self.model = Model()
            self.now = T0

        def teardown(self):
            if kind == "redis":
                self.store.clear()
            self.store.close()

        def _spec_charges(self, charges):
            # request limits take costs 0..4, token limits 0..40
            return [Charge(LIMITS[n], k, float(c) if LIMITS[n].unit == "tokens" else float(c // 10))
                    for n, k, c in charges]

        @rule(rid=st.sampled_from(RIDS), charges=charges_st)
        def reserve(self, rid, charges):
            cs = self._spec_charges(charges)
            before = self.snapshot()
            out = self.store.reserve(rid, cs, self.now)
            was_known = rid in self.model.requests
            admitted = self.model.reserve(rid, [(c.spec.name, c.key, c.cost) for c in cs], self.now)
            if not was_known:
                denied = any(o.outcome == "limited" and LIMITS[o.name].enforce for o in out)
                assert denied == (not admitted)
                if denied:  # a denied request leaves every counter unchanged
                    assert self.snapshot() == before

        @rule(rid=st.sampled_from(RIDS),
              actual=st.dictionaries(st.sampled_from(sorted(LIMITS)), st.integers(0, 60),
                                     max_size=3))
        def reconcile(self, rid, actual):
            act = {n: float(v) if LIMITS[n].unit == "tokens" else float(v // 10)
                   for n, v in actual.items()}
            self.store.reconcile(rid, act, self.now)
            self.model.reconcile(rid, act, self.now)

        @rule(rid=st.sampled_from(RIDS))
        def release(self, rid):
            self.store.release(rid, self.now)
            self.model.release(rid, self.now)

        @rule(seconds=st.sampled_from([0.5, 1, 3, 7, 29, 30, 61, 118, 121]))
        def tick(self, seconds):
            self.now += seconds

        def snapshot(self):
            cs = [Charge(LIMITS[n], k, 0.0) for n in sorted(LIMITS) for k in KEYS]
            return [o.used for o in self.store.check(cs, self.now)]

        @invariant()
        def counters_match_model(self):
            if not hasattr(self, "store"):
                return
            self.model.expire(self.now)
            want = [self.model.used(n, k, self.now) for n in sorted(LIMITS) for k in KEYS]
            assert self.snapshot() == pytest.approx(want)

    return StoreMachine


_FAST = settings(max_examples=60, stateful_step_count=30, deadline=None,
                 suppress_health_check=list(HealthCheck))
_SLOW = settings(max_examples=15, stateful_step_count=25, deadline=None,
                 suppress_health_check=list(HealthCheck))


def test_memory_store_matches_model(tmp_path_factory):
    m = machine_for("memory", tmp_path_factory)
    m.TestCase.settings = _FAST
    m.TestCase().runTest()


def test_sqlite_store_matches_model(tmp_path_factory):
    m = machine_for("sqlite", tmp_path_factory)
    m.TestCase.settings = _SLOW
    m.TestCase().runTest()


def test_redis_store_matches_model(tmp_path_factory):
    require_redis()
    m = machine_for("redis", tmp_path_factory)
    m.TestCase.settings = _SLOW
    m.TestCase().runTest()


# the three stores agree on every algorithm -------------------------------------------------

ALL = [
    LimitSpec("fw", "requests", "fixed_window", 6, 60),
    LimitSpec("sw", "tokens", "sliding_window", 100, 60, warn_at=0.5),
    LimitSpec("tb", "tokens", "token_bucket", 50, 40),
    LimitSpec("cal", "usd", "calendar", 3.5, 0, period="day", timezone="Asia/Kolkata"),
    LimitSpec("dur", "usd", "calendar", 2.0, 3600, enforce=False),
]
op_st = st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(RIDS[:6]),
              st.lists(st.tuples(st.sampled_from(range(len(ALL))), st.sampled_from(KEYS),
                                 st.floats(0, 30, allow_nan=False).map(lambda x: round(x, 2))),
                       max_size=3)),
    st.tuples(st.just("reconcile"), st.sampled_from(RIDS[:6]),
              st.dictionaries(st.sampled_from([s.name for s in ALL]),
                              st.floats(0, 40).map(lambda x: round(x, 3)), max_size=2)),
    st.tuples(st.just("release"), st.sampled_from(RIDS[:6]), st.none()),
    st.tuples(st.just("tick"), st.sampled_from([0.25, 3, 17, 45, 3600, 40000]), st.none()),
    st.tuples(st.just("check"), st.none(), st.none()),
)


@settings(max_examples=25 if redis_reason() is None else 60, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(ops=st.lists(op_st, max_size=25))
def test_stores_agree_on_every_algorithm(ops, tmp_path_factory):
    kinds = ["memory", "sqlite"] + (["redis"] if redis_reason() is None else [])
    stores = [_make(k, tmp_path_factory) for k in kinds]
    try:
        now = T0 + 0.5
        for op, rid, arg in ops:
            if op == "tick":
                now += rid
                continue
            results = []
            for s in stores:
                if op == "reserve":
                    results.append(s.reserve(rid, [Charge(ALL[i], k, c) for i, k, c in arg], now))
                elif op == "reconcile":
                    results.append(s.reconcile(rid, arg, now))
                elif op == "release":
                    results.append(s.release(rid, now))
                elif op == "check":
                    results.append(s.check([Charge(sp, k, 1.0) for sp in ALL for k in KEYS], now))
            for other in results[1:]:
                assert _close(results[0], other), (op, rid, arg, results)
    finally:
        for k, s in zip(kinds, stores):
            if k == "redis":
                s.clear()
            s.close()


def _close(a, b):
    if a is None or b is None:
        return a is b
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for f in x.__slots__:
            u, v = getattr(x, f), getattr(y, f)
            if isinstance(u, float) and isinstance(v, float):
                if not math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif u != v:
                return False
    return True
