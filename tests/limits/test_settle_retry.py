"""A served request's usage is never lost to a store that stalls at reconcile time: the
settlement is queued (an outbox) and retried until the store acknowledges it, idempotent by
request id. The counters end equal to the served usage, counted exactly once, even when the
reservation expired meanwhile (it would otherwise have been released)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import sqlite3
import uuid
from urllib.parse import urlparse

import pytest

import aigw_policy as ap
from aigw_policy.limits import Charge, LimitSpec, StoreUnavailable
from aigw_policy.stores import MemoryStore, RedisStore, SQLiteStore

from conftest import after_rest, require_redis
from faultproxy import FaultProxy

POLICY = ap.loads("""
on_http_request:
  - name: team-tpm
    actions:
      - type: token-limit
        config: {name: tpm, capacity: 100000, rate: 1h, bucket_key: [identity.team]}
""", format="yaml")
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
SERVED = 26  # total tokens the stub answer reports
TTL = 60.0


def _request(rid: str) -> dict:
    return {"id": rid, "now": "2027-01-15T08:00:00Z", "identity": {"key": "k1", "team": "t"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "body": {"model": "gpt-4o", "max_tokens": 500,
                                 "messages": [{"role": "user", "content": "hi"}]}}}


RESPONSE = {"status_code": 200, "body": {"model": "gpt-4o", "usage": {
    "prompt_tokens": 21, "completion_tokens": 5, "total_tokens": SERVED}}}


def _used(engine: ap.Engine, store, at: float) -> float:
    spec = engine.compiled.limits["tpm"][1].limit.spec
    return store.check([Charge(spec, "t", 0)], at)[0].used


def _settle_all(store, tries: int = 20) -> int:
    """Retry until the outbox is empty (bounded by a count, not a clock)."""
    for n in range(1, tries + 1):
        if store.settle_pending() == 0:
            return n
    raise AssertionError(f"settlements still queued after {tries} tries")


class Flaky(MemoryStore):
    """A memory store whose first ``fails`` reconciles find it stalled."""

    def __init__(self, fails: int) -> None:
        super().__init__(reservation_ttl=TTL)
        self.fails = fails
        self.calls = 0

    def _reconcile_now(self, request_id, actual, now):
        self.calls += 1
        if self.calls <= self.fails:
            raise StoreUnavailable("memory store: stalled (injected)")
        return super()._reconcile_now(request_id, actual, now)


@pytest.mark.parametrize("run", ["sync", "async"])
def test_reconcile_that_fails_n_times_is_retried_until_counted_exactly_once(run):
    store = Flaky(fails=7)
    engine = ap.Engine(POLICY, store=store)
    rids = [f"r{i}" for i in range(3)]

    async def serve_async():
        for rid in rids:
            await engine.aevaluate(_request(rid))
        return [await engine.acomplete(rid, RESPONSE, now=T0 + 1) for rid in rids]

    if run == "sync":
        for rid in rids:
            engine.evaluate(_request(rid))
        finals = [engine.complete(rid, RESPONSE, now=T0 + 1) for rid in rids]
    else:
        finals = asyncio.run(serve_async())
    assert all(f.store is not None for f in finals)  # each decision says the store failed
    # past the reservations' expiry: unsettled, they would now be released (0 used)
    later = T0 + TTL + 5
    _settle_all(store)
    assert store.calls > store.fails
    assert _used(engine, store, later) == SERVED * len(rids)
    # exactly once: more retries, replays and a late reconcile change nothing
    assert store.settle_pending() == 0
    for rid in rids:
        store.reconcile(rid, {"tpm": SERVED}, later)
    assert _used(engine, store, later) == SERVED * len(rids)
    store.close()


def test_a_failed_release_is_retried_too():
    store = MemoryStore(reservation_ttl=TTL)
    spec = LimitSpec("rpm", "requests", "fixed_window", 10, 3600)
    store.reserve("a", [Charge(spec, "k", 4)], T0)
    assert store._lock.acquire()  # the store is stuck (another holder of its lock)
    try:
        with pytest.raises(StoreUnavailable):
            store.release("a", T0 + 1)
        assert store.settle_pending() == 1  # still stuck: kept
    finally:
        store._lock.release()
    _settle_all(store)
    assert store.check([Charge(spec, "k", 0)], T0 + 2)[0].used == 0
    store.close()


def test_sqlite_locked_at_reconcile_time_settles_once_unlocked(tmp_path):
    path = tmp_path / "limits.db"
    store = SQLiteStore(path, timeout=0.05, reservation_ttl=TTL)
    engine = ap.Engine(POLICY, store=store)
    engine.evaluate(_request("r1"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        final = engine.complete("r1", RESPONSE, now=T0 + 1)
        assert final.store is not None
        assert store.settle_pending() == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    _settle_all(store)
    assert _used(engine, store, T0 + TTL + 5) == SERVED
    store.close()


def _crash_after_failed_reconcile(path: str) -> None:
    store = SQLiteStore(path, timeout=0.05, reservation_ttl=TTL)
    engine = ap.Engine(POLICY, store=store)
    engine.evaluate(_request("r1"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    engine.complete("r1", RESPONSE, now=T0 + 1)  # fails: queued in the outbox file
    os._exit(0)  # no close, no retry: the process is gone


def test_the_outbox_file_survives_a_crash_and_the_next_process_settles(tmp_path):
    path = str(tmp_path / "limits.db")
    child = mp.get_context("fork").Process(target=_crash_after_failed_reconcile, args=(path,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert os.path.exists(path + "-outbox")
    store = SQLiteStore(path, reservation_ttl=TTL)  # the next gateway process
    engine = ap.Engine(POLICY, store=store)
    _settle_all(store)
    assert _used(engine, store, T0 + TTL + 5) == SERVED
    store.close()


def test_redis_that_hangs_at_reconcile_time_settles_once_back(tmp_path):
    url = require_redis()
    u = urlparse(url)
    proxy = FaultProxy(u.hostname or "127.0.0.1", u.port or 6379)
    tag = f"settle-{uuid.uuid4().hex[:8]}"
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}{u.path or ''}", hash_tag=tag,
                       clock="client", timeout=0.2, reservation_ttl=TTL,
                       outbox=tmp_path / "outbox.db")
    direct = RedisStore(url, hash_tag=tag, clock="client", timeout=2)
    try:
        engine = ap.Engine(POLICY, store=store)
        engine.evaluate(_request("r1"))
        proxy.set("swallow")
        final = engine.complete("r1", RESPONSE, now=T0 + 1)
        assert final.store is not None
        assert store.settle_pending() == 1
        proxy.set("forward")
        after_rest(store.breaker, lambda: _settle_all(store, tries=2))  # past the rest of the retry's probe (serve28)
        assert _used(engine, direct, T0 + TTL + 5) == SERVED
    finally:
        proxy.close()
        store.close()
        direct.clear()
        direct.close()


def test_a_redis_url_names_its_outbox_file(tmp_path):
    where = tmp_path / "outbox.db"
    store = ap.stores.from_url(f"redis://127.0.0.1:6379/15?outbox={where}", hash_tag="unused")
    assert store.url == "redis://127.0.0.1:6379/15" and os.path.exists(where)
    store.close()


def test_a_sqlite_store_keeps_its_outbox_beside_the_database(tmp_path):
    store = SQLiteStore(tmp_path / "limits.db")
    assert os.path.exists(tmp_path / "limits.db-outbox")
    store.close()
