"""Bounded growth of the stores' request records: a denied request (it reserved nothing)
keeps no record; the SQLite store purges expired records a few per transaction and caps how
many settled ones it keeps. Bounded by counts."""

from __future__ import annotations

import sqlite3

import pytest

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.limits.sqlite import CAP_EVERY, PURGE_BATCH, SQLiteStore

SMALL = LimitSpec("small", "requests", "fixed_window", 5, 3600)
BIG = LimitSpec("big", "requests", "fixed_window", 10**9, 3600)
T0 = 1_780_000_000.0


def _records(store, kind: str) -> int:
    if kind == "memory":
        return len(store._live) + len(store._final)
    if kind == "sqlite":
        with sqlite3.connect(store.path) as db:
            return db.execute("SELECT count(*) FROM aigw_limit_records").fetchone()[0]
    import redis

    client = redis.Redis.from_url(store.url)
    try:
        return sum(1 for _ in client.scan_iter(match=store.prefix.replace("{", "\\{").replace(
            "}", "\\}") + "r:*", count=1000))
    finally:
        client.close()


def test_a_denied_request_keeps_no_record(store, store_kind):
    outcomes = [store.reserve(f"r{i}", [Charge(SMALL, "k", 1)], T0) for i in range(100)]
    assert sum(o[0].outcome != "limited" for o in outcomes) == 5
    assert _records(store, store_kind) == 5
    # nothing was charged for a denied id, so asking again decides afresh (and again denies)
    assert store.reserve("r99", [Charge(SMALL, "k", 1)], T0)[0].outcome == "limited"
    assert _records(store, store_kind) == 5


def test_a_request_with_no_charge_keeps_no_record(store, store_kind):
    for i in range(20):
        store.reserve(f"n{i}", [], T0)
    assert _records(store, store_kind) == 0


def _settled(store: SQLiteStore, n: int, now: float, prefix: str) -> None:
    for i in range(n):
        store.reserve(f"{prefix}{i}", [Charge(BIG, "k", 1)], now)
        store.reconcile(f"{prefix}{i}", {}, now)


def test_sqlite_purges_expired_records_a_few_per_transaction(tmp_path):
    store = SQLiteStore(tmp_path / "l.db", record_ttl=60, reservation_ttl=30, timeout=5)
    _settled(store, 200, T0, "old")
    assert _records(store, "sqlite") == 200
    later = T0 + 3600
    store.reserve("new0", [Charge(BIG, "k", 1)], later)
    assert _records(store, "sqlite") == 200 - PURGE_BATCH + 1  # bounded work per step
    steps = 200 // PURGE_BATCH + 1
    for i in range(1, steps):
        store.reserve(f"new{i}", [Charge(BIG, "k", 1)], later)
    assert _records(store, "sqlite") == steps  # every expired record gone, the new ones kept
    store.close()


def test_sqlite_caps_settled_records_but_never_drops_a_pending_one(tmp_path):
    store = SQLiteStore(tmp_path / "l.db", max_records=100, timeout=5)
    for i in range(30):  # reserved, never settled
        store.reserve(f"p{i}", [Charge(BIG, "k", 1)], T0)
    _settled(store, 400, T0 + 1, "s")
    count = _records(store, "sqlite")
    assert 100 <= count <= 100 + CAP_EVERY
    with sqlite3.connect(store.path) as db:
        pending = db.execute("SELECT count(*) FROM aigw_limit_records WHERE id LIKE 'p%'").fetchone()[0]
    assert pending == 30
    # the pending ones still settle: their usage is charged, not lost
    for i in range(30):
        store.release(f"p{i}", T0 + 2)
    assert store.check([Charge(BIG, "k", 0)], T0 + 2)[0].used == 400
    store.close()


def test_max_records_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="max_records"):
        SQLiteStore(tmp_path / "l.db", max_records=0)
