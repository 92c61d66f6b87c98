"""Store failure: a Redis that hangs, dies or pauses gives StoreUnavailable within the
configured time-out (never another exception), the fail mode decides, and once Redis is back
the counters are right: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlparse

import pytest
import redis

from aigw_policy.limits import Charge, LimitSpec, StoreUnavailable
from aigw_policy.limits.failure import store_failure
from aigw_policy.stores import RedisStore, SQLiteStore

from conftest import after_rest, require_redis
from faultproxy import FaultProxy

SPEC = LimitSpec("rpm", "requests", "fixed_window", 100, 3600)
NOW = 1_800_000_000.0


def _charges():
    return [Charge(SPEC, "k", 1)]


@pytest.fixture
def proxied():
    url = require_redis()
    u = urlparse(url)
    proxy = FaultProxy(u.hostname or "127.0.0.1", u.port or 6379)
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}{u.path or ''}", hash_tag=tag,
                       clock="client", timeout=1.0)  # short, yet not so short a busy machine's
    # healthy answer misses it (0.2 s did, once, with two test runs at once)
    direct = RedisStore(url, hash_tag=tag, clock="client", timeout=2)
    yield proxy, store, direct
    proxy.close()
    store.close()
    direct.clear()
    direct.close()


@pytest.fixture
def own_proxied():
    """:func:`proxied` on a ``redis-server`` of the test's own: a test that pauses the whole
    server (``CLIENT PAUSE``) must not pause every other run's Redis on this machine."""
    from standalone_redis import own_redis

    server = own_redis()
    proxy = FaultProxy("127.0.0.1", server.port)
    tag = f"fault-{uuid.uuid4().hex[:8]}"
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}/0", hash_tag=tag, clock="client", timeout=1.0)
    direct = RedisStore(server.url, hash_tag=tag, clock="client", timeout=2)
    yield proxy, store, direct
    proxy.close()
    store.close()
    direct.close()
    server.stop()


def _used(store):
    return store.check([Charge(SPEC, "k", 0)], NOW)[0].used


@pytest.mark.parametrize("mode", ["swallow", "drop"])
def test_redis_down_or_hung_gives_the_fail_mode_and_counts_right_after(proxied, mode):
    proxy, store, direct = proxied
    for i in range(3):
        store.reserve(f"r{i}", _charges(), NOW)
    proxy.set(mode)
    trips = store.round_trips
    with pytest.raises(StoreUnavailable) as err:
        store.reserve("r3", _charges(), NOW)
    # one attempt, ended by the store's own socket time-out (1 s) or the closed connection:
    # no retry loop (counted, not timed)
    assert store.round_trips - trips == 1
    assert isinstance(err.value.__cause__, (redis.TimeoutError, redis.ConnectionError)), err.value.__cause__
    assert store_failure("fail_closed", err.value).status_code == 503
    assert store_failure("fail_open", err.value).admitted
    for call in (lambda: store.reconcile("r0", {"rpm": 1}, NOW),
                 lambda: store.release("r1", NOW), lambda: store.check(_charges(), NOW)):
        with pytest.raises(StoreUnavailable):
            call()
    proxy.set("forward")
    # the retried request and the retried release land once (past the rest of a probe that timed out)
    assert after_rest(store.breaker, lambda: store.reserve("r3", _charges(), NOW))[0].used in (3.0, 4.0)
    store.reserve("r3", _charges(), NOW)
    store.release("r1", NOW)
    store.release("r1", NOW)
    assert _used(direct) == 3.0


def test_a_reserve_that_lands_while_the_client_gave_up_is_not_counted_twice(own_proxied):
    proxy, store, direct = own_proxied
    store.reserve("a", _charges(), NOW)
    proxy.set("swallow")
    with pytest.raises(StoreUnavailable):
        store.reserve("b", _charges(), NOW)  # never reached Redis
    proxy.set("forward")
    import redis

    admin = redis.Redis.from_url(direct.url)
    admin.execute_command("CLIENT", "PAUSE", 2500, "WRITE")  # Redis queues the script
    try:
        with pytest.raises(StoreUnavailable):
            store.reserve("c", _charges(), NOW)  # client gives up; Redis runs it later
    finally:
        time.sleep(2.55)  # past the pause: the queued script has run
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert store.reserve("c", _charges(), NOW)[0].used == 2.0  # the late one, found again
    assert store.reserve("b", _charges(), NOW)[0].used == 3.0
    assert _used(direct) == 3.0


def test_async_twins_fail_the_same_way(proxied):
    proxy, store, direct = proxied

    async def run():
        assert (await store.areserve("x", _charges(), NOW))[0].used == 1.0
        proxy.set("drop")
        with pytest.raises(StoreUnavailable):
            await store.areserve("y", _charges(), NOW)
        proxy.set("forward")
        assert (await store.areserve("y", _charges(), NOW))[0].used == 2.0
        await store.arelease("y", NOW)
        assert (await store.acheck([Charge(SPEC, "k", 0)], NOW))[0].used == 1.0
        await store.aclose()

    asyncio.run(run())


def test_nothing_listening_is_unavailable_not_a_crash():
    store = RedisStore("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(StoreUnavailable):
        store.reserve("a", _charges(), NOW)


def test_sqlite_locked_past_the_timeout_is_unavailable(tmp_path):
    import sqlite3

    path = tmp_path / "l.db"
    store = SQLiteStore(path, timeout=0.1)
    store.reserve("a", _charges(), NOW)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            store.reserve("b", _charges(), NOW)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.reserve("b", _charges(), NOW)[0].used == 2.0
    store.close()
    assert SQLiteStore(path).check([Charge(SPEC, "k", 0)], NOW)[0].used == 2.0  # survives


def test_a_hung_store_is_probed_by_one_call_at_a_time_and_used_at_once_when_back(proxied):
    """serve25: once a call timed out, every call made while Redis hung waited its own full
    time-out (1 s each, and the pool's connections all held). Now one call at a time goes
    (the probe) and the others fail at once, counted by round trips, not timed; the first
    call after Redis answers again is served (no timer keeps the breaker open)."""
    proxy, store, direct = proxied
    store.reserve("warm", _charges(), NOW)
    proxy.set("swallow")
    with pytest.raises(StoreUnavailable):
        store.reserve("r1", _charges(), NOW)  # times out: the breaker opens
    assert store.breaker.open
    trips = store.round_trips

    async def burst():
        return await asyncio.gather(*(store.areserve(f"b{i}", _charges(), NOW) for i in range(8)),
                                    return_exceptions=True)

    got = asyncio.run(burst())
    assert all(isinstance(g, StoreUnavailable) for g in got), got
    assert store.round_trips - trips == 1  # the probe; the seven others never reached the store
    assert sum("probing" in str(g) for g in got) == 7
    proxy.set("forward")
    # warm and r2: the first call after the rest of the probe that timed out (serve28) is served
    assert after_rest(store.breaker, lambda: store.reserve("r2", _charges(), NOW))[0].used == 2.0
    assert not store.breaker.open


def test_a_client_calling_one_at_a_time_waits_once_a_rest_not_on_every_call(proxied):
    """serve28: a client making one call at a time made each call the probe, so each waited
    the full time-out (``timeout``; a cluster node's ``failover_wait``) while Redis hung. Now a
    probe that timed out rests the breaker: the calls in its rest fail at once (no round trip),
    the first after it probes; once Redis answers, the first call after the rest is served."""
    proxy, store, direct = proxied
    store.breaker.rest = 0.5
    store.reserve("warm", _charges(), NOW)
    proxy.set("swallow")
    with pytest.raises(StoreUnavailable):
        store.reserve("r1", _charges(), NOW)  # times out: the breaker opens
    with pytest.raises(StoreUnavailable):
        store.reserve("r2", _charges(), NOW)  # the probe: times out, the breaker rests
    trips = store.round_trips
    for i in range(5):  # one at a time, within the rest
        with pytest.raises(StoreUnavailable, match="probed again within"):
            store.reserve(f"s{i}", _charges(), NOW)
    assert store.round_trips == trips
    time.sleep(0.6)
    with pytest.raises(StoreUnavailable):
        store.reserve("r3", _charges(), NOW)  # after the rest: one probe (times out, a longer rest)
    assert store.round_trips - trips == 1
    proxy.set("forward")
    assert after_rest(store.breaker, lambda: store.reserve("r4", _charges(), NOW))[0].used == 2.0
    assert not store.breaker.open
