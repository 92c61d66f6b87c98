"""serve27: a stalled primary of a Redis Cluster fails its own shard's calls at once, and only
its shard's (limits/node_breakers.py).

One primary paused (``CLIENT PAUSE ... WRITE``: a script call waits): before, every call to its shard resent for
``failover_wait`` seconds, each send waiting its ``timeout``, so every request of its tenants
at once took that long to its 503 (or to being served uncounted). Now, once a call to it
timed out, one call at a time probes it and the others fail at once (no send); the tenants of
the other primaries are served throughout; once the primary answers, its next call closes the
breaker. Bounded by counts (sends and messages), not by time.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from aigw_policy.limits.model import Charge, LimitSpec, StoreUnavailable

from .conftest import make_cluster_store

LIMIT = LimitSpec("tenant", "requests", "fixed_window", 1000, 3600)
AT_ONCE = 8


def _owner(store, tenant: str) -> int:
    client = store._connect()
    return int(client.get_node_from_key("{" + store._proto.base + ":" + tenant + "}:pending").port)


async def _reserve(store, tenant: str) -> str:
    try:
        out = await store.areserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())
    except StoreUnavailable as e:
        return str(e)
    return out[0].outcome


async def _after_rest(store, tenant: str, tries: int = 12) -> str:
    """A reserve once the tenant's node's breaker admits it (serve28: a probe that timed out
    rests it; one under way when the node came back may time out after and rest it again)."""
    breaker = store.breakers._of(f"127.0.0.1:{_owner(store, tenant)}")
    got = ""
    for _ in range(tries):
        await asyncio.sleep(breaker.resting + 0.05)
        if (got := await _reserve(store, tenant)) == "ok":
            break
    return got


def test_a_paused_primary_fails_its_shard_at_once(own_cluster) -> None:
    store = make_cluster_store(own_cluster.seed, timeout=0.3, failover_wait=1.0)
    try:
        tenants = [f"t-{i}" for i in range(40)]
        by_port: dict[int, str] = {}
        for t in tenants:
            by_port.setdefault(_owner(store, t), t)
        assert len(by_port) >= 2, by_port
        paused_port, stalled = next(iter(by_port.items()))
        healthy = [t for p, t in by_port.items() if p != paused_port]

        async def run() -> None:
            assert {await _reserve(store, t) for t in [stalled, *healthy]} == {"ok"}  # the layout learned
            own_cluster.cli(paused_port, "client", "pause", "60000", "WRITE")
            try:
                first = await _reserve(store, stalled)  # times out: the node's breaker opens
                assert "ok" != first, first
                sends = store.round_trips
                got = await asyncio.gather(*[_reserve(store, stalled) for _ in range(AT_ONCE)],
                                           *[_reserve(store, t) for t in healthy])
                stalled_got, healthy_got = got[:AT_ONCE], got[AT_ONCE:]
                assert healthy_got == ["ok"] * len(healthy), healthy_got  # the other shards served throughout
                probing = [g for g in stalled_got if "another call is probing it" in g]
                assert len(probing) == AT_ONCE - 1, stalled_got  # one probe; the rest at once
                assert all(str(paused_port) in g for g in probing)
                # the healthy calls' one send each (two phases at most) and the probe's resends only
                assert store.round_trips - sends < len(healthy) * 2 + 1 + 1.0 / 0.3 + 2
            finally:
                own_cluster.cli(paused_port, "client", "unpause")
            assert await _after_rest(store, stalled) == "ok"  # back: the next call after the rest closes it
            assert await asyncio.gather(*[_reserve(store, stalled) for _ in range(AT_ONCE)]) == ["ok"] * AT_ONCE

        asyncio.run(run())
    finally:
        store.close()


def test_a_client_calling_one_at_a_time_waits_once_a_rest(own_cluster) -> None:
    """serve28: each call of a client making one at a time was the probe of the paused node, so
    each resent for ``failover_wait``. Now the node's probe that timed out rests its breaker:
    the calls in the rest fail at once (no send), the others' shards served all along."""
    store = make_cluster_store(own_cluster.seed, timeout=0.3, failover_wait=1.0)
    try:
        tenant = "t-serial"
        port = _owner(store, tenant)
        other = next(f"t-{i}" for i in range(100) if _owner(store, f"t-{i}") != port)

        async def run() -> None:
            assert {await _reserve(store, t) for t in (tenant, other)} == {"ok"}
            own_cluster.cli(port, "client", "pause", "60000", "WRITE")
            try:
                assert await _reserve(store, tenant) != "ok"  # times out: the breaker opens
                assert await _reserve(store, tenant) != "ok"  # the probe: times out, a rest
                sends = store.round_trips
                serial = [await _reserve(store, tenant) for _ in range(AT_ONCE)]
                assert all("probed again within" in g for g in serial), serial
                assert store.round_trips == sends  # none sent (counted, not timed)
                assert await _reserve(store, other) == "ok"
            finally:
                own_cluster.cli(port, "client", "unpause")
            assert await _after_rest(store, tenant) == "ok"

        asyncio.run(run())
    finally:
        store.close()


def test_the_sync_calls_share_the_breakers(own_cluster) -> None:
    """The thread API (``reserve``) goes through the same breaker as the async one."""
    store = make_cluster_store(own_cluster.seed, timeout=0.3, failover_wait=1.0)
    try:
        tenant = "t-sync"
        port = _owner(store, tenant)
        assert store.reserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())[0].outcome == "ok"
        own_cluster.cli(port, "client", "pause", "60000", "WRITE")
        try:
            with pytest.raises(StoreUnavailable):
                store.reserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())
            go, probes = store.breakers.admit([f"127.0.0.1:{port}"])  # a probe under way elsewhere
            with pytest.raises(StoreUnavailable, match="another call is probing it"):
                store.reserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())
            store.breakers.release(probes)
        finally:
            own_cluster.cli(port, "client", "unpause")
        assert store.reserve(uuid.uuid4().hex, [Charge(LIMIT, tenant, 1)], time.time())[0].outcome == "ok"
    finally:
        store.close()
