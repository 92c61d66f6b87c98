"""The Redis Cluster store against a real 3-primary cluster: the outcomes of the memory store
call for call (one shard or several), exact admission under concurrency per tenant and on a
limit that spans shards, tenants spread over every primary."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
import uuid
from collections import Counter

import pytest

from aigw_policy.limits import MemoryStore, from_url
from aigw_policy.limits.model import Charge, LimitSpec
from aigw_policy.limits.redis_cluster import RedisClusterStore

from .conftest import make_cluster_store

T0 = 1_700_000_000.0
TENANT = LimitSpec("tenant-rpm", "requests", "fixed_window", 6, 60)
USER = LimitSpec("user-tpm", "tokens", "sliding_window", 500, 60)
GLOBAL = LimitSpec("global-rpm", "requests", "token_bucket", 15, 60)
SOFT = LimitSpec("soft-day", "usd", "calendar", 2.0, 86400, period="day", warn_at=0.5, enforce=False)


def _charges(rng: random.Random) -> list[Charge]:
    tenant, user = rng.choice(["acme", "globex", "initech"]), rng.choice(["ann", "bo"])
    out = [Charge(TENANT, tenant, 1), Charge(USER, f"{tenant}|{user}", float(rng.randint(10, 200)))]
    if rng.random() < 0.5:  # on the shard of the empty key: a cross-shard request
        out.append(Charge(GLOBAL, "", 1))
    if rng.random() < 0.3:
        out.append(Charge(SOFT, tenant, rng.choice([0.1, 0.4])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_outcomes_of_the_memory_store_call_for_call(cluster, seed):
    """Sequentially, a two-phase reserve is an all-or-nothing reserve: the cluster store and the
    memory store give equal outcomes for the same calls (client clock, so the same times)."""
    rng = random.Random(seed)
    cluster_store = make_cluster_store(cluster.seed, clock="client")
    memory = MemoryStore()
    admitted: list[str] = []
    try:
        now = T0
        for step in range(80):
            now += rng.choice([0.0, 0.5, 3.0, 20.0])
            op = rng.random()
            if op < 0.6 or not admitted:
                rid = f"r{step}"
                charges = _charges(rng)
                got = cluster_store.reserve(rid, charges, now)
                want = memory.reserve(rid, charges, now)
                assert got == want, (step, charges)
                assert cluster_store.reserve(rid, charges, now) == want  # idempotent
                if not any(o.outcome == "limited" and o.name != SOFT.name for o in want):
                    admitted.append(rid)
            elif op < 0.85:
                rid = admitted.pop(rng.randrange(len(admitted)))
                actual = {USER.name: float(rng.randint(0, 300)), TENANT.name: 1.0}
                assert cluster_store.reconcile(rid, actual, now) == memory.reconcile(rid, actual, now)
            else:
                rid = admitted.pop(rng.randrange(len(admitted)))
                cluster_store.release(rid, now)
                memory.release(rid, now)
            probe = _charges(rng)
            assert cluster_store.check(probe, now) == memory.check(probe, now), step
        assert cluster_store.cross_shard > 0
    finally:
        cluster_store.clear()
        cluster_store.close()


def test_a_cross_shard_reserve_costs_two_round_trips_and_a_one_shard_reserve_one(cluster_store):
    before = cluster_store.round_trips
    cluster_store.reserve("one", [Charge(TENANT, "acme", 1), Charge(USER, "acme|ann", 5)], time.time())
    assert cluster_store.round_trips - before == 1
    before = cluster_store.round_trips
    cluster_store.reserve("two", [Charge(TENANT, "acme", 1), Charge(GLOBAL, "", 1)], time.time())
    assert cluster_store.round_trips - before == 2 and cluster_store.cross_shard == 1


def test_an_uncommitted_prepare_expires_and_a_retry_decides_afresh(cluster):
    """A gateway that died between the phases: its holds are given back after prepare_ttl,
    and the same request id is then decided anew (not remembered as admitted)."""
    store = make_cluster_store(cluster.seed, prepare_ttl=1.0)
    try:
        charges = [Charge(LimitSpec("cap", "requests", "fixed_window", 1, 3600), "acme", 1),
                   Charge(LimitSpec("g", "requests", "fixed_window", 1, 3600), "", 1)]
        step = store._proto.reserve("crashed", charges, time.time())
        first = next(step)  # the prepare batch, sent; the commit never is
        assert [c[0] for c in first] == ["reserve", "reserve"]
        assert all(r[2] == "1" for r in store._send(first))
        step.close()
        probe = [Charge(c.spec, c.key, 0) for c in charges]
        assert [o.used for o in store.check(probe, time.time())] == [1, 1]  # held
        deadline = time.monotonic() + 30
        while store.check(probe, time.time())[0].used:
            assert time.monotonic() < deadline, "the hold never expired"
            time.sleep(0.2)
        out = store.reserve("crashed", charges, time.time())
        assert [o.outcome for o in out] == ["ok", "ok"] and out[0].used == 1
        assert store.reserve("other", charges, time.time())[0].outcome == "limited"
    finally:
        store.clear()
        store.close()


def _worker(seed: str, tag: str, tenants: list[str], each: int, global_cap: float,
            tenant_cap: float, queue) -> None:
    store = RedisClusterStore(seed, hash_tag=tag, timeout=5.0)
    tenant = LimitSpec("tenant", "requests", "fixed_window", tenant_cap, 3600)
    glob = LimitSpec("global", "requests", "fixed_window", global_cap, 3600)
    won: Counter[str] = Counter()
    for i in range(each):
        t = tenants[i % len(tenants)]
        charges = [Charge(tenant, t, 1), Charge(tenant, f"{t}|u{i % 3}", 0)]
        if global_cap:
            charges.append(Charge(glob, "", 1))
        out = store.reserve(uuid.uuid4().hex, charges, time.time())
        if all(o.outcome != "limited" for o in out):
            won[t] += 1
    queue.put(dict(won))
    store.close()


def _burst(seed: str, tag: str, tenants: list[str], *, procs: int, each: int, global_cap: float,
           tenant_cap: float) -> Counter[str]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(seed, tag, tenants[p:] + tenants[:p], each,
                                                 global_cap, tenant_cap, queue))
               for p in range(procs)]
    for w in workers:
        w.start()
    total: Counter[str] = Counter()
    for _ in workers:
        total.update(queue.get(timeout=300))
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    return total


def test_each_tenant_admits_exactly_its_capacity_across_processes(cluster):
    tenants = [f"tenant-{i}" for i in range(6)]
    tag = f"t-{uuid.uuid4().hex[:8]}"
    won = _burst(cluster.seed, tag, tenants, procs=4, each=90, global_cap=0, tenant_cap=25)
    assert won == {t: 25 for t in tenants}  # 60 offered per tenant


def test_a_limit_spanning_shards_admits_exactly_its_capacity(cluster):
    """Every request also charges a global limit (on the empty key's shard): two phases each.
    With the tenants' limits ample, the global one binds: exactly its capacity is admitted."""
    tenants = [f"org-{i}" for i in range(8)]
    tag = f"t-{uuid.uuid4().hex[:8]}"
    won = _burst(cluster.seed, tag, tenants, procs=4, each=60, global_cap=90, tenant_cap=1000)
    assert sum(won.values()) == 90


def test_both_bind_never_past_either_and_no_hold_leaks(cluster):
    """Tenant limits (8 x 10) and a global one (60) both bind. Concurrently, aborted holds may
    deny a request that would have fit (never admit one that does not); once the burst is over
    the global count equals what was admitted, and topping up fills it exactly."""
    tenants = [f"co-{i}" for i in range(8)]
    tag = f"t-{uuid.uuid4().hex[:8]}"
    won = _burst(cluster.seed, tag, tenants, procs=4, each=40, global_cap=60, tenant_cap=10)
    assert sum(won.values()) <= 60 and all(n <= 10 for n in won.values())
    store = RedisClusterStore(cluster.seed, hash_tag=tag)
    try:
        glob = LimitSpec("global", "requests", "fixed_window", 60, 3600)
        tenant = LimitSpec("tenant", "requests", "fixed_window", 10, 3600)
        assert store.check([Charge(glob, "", 0)], time.time())[0].used == sum(won.values())
        for t in tenants:  # sequentially: no holds in flight, so every fit is admitted
            while True:
                out = store.reserve(uuid.uuid4().hex, [Charge(tenant, t, 1), Charge(glob, "", 1)],
                                    time.time())
                if any(o.outcome == "limited" for o in out):
                    break
                won[t] += 1
        assert sum(won.values()) == 60
        assert store.check([Charge(glob, "", 0)], time.time())[0].used == 60
    finally:
        store.clear()
        store.close()


def test_async_burst_with_a_cross_shard_limit_is_exact(cluster):
    store = make_cluster_store(cluster.seed)
    tenant = LimitSpec("tenant", "requests", "fixed_window", 1000, 3600)
    glob = LimitSpec("global", "requests", "fixed_window", 70, 3600)

    async def burst():
        try:
            outs = await asyncio.gather(*(store.areserve(
                f"a{i}", [Charge(tenant, f"t{i % 5}", 1), Charge(glob, "", 1)], time.time())
                for i in range(200)))
            return outs, await store.acheck([Charge(glob, "", 0)], time.time())
        finally:
            await store.aclose()

    try:
        outs, (after,) = asyncio.run(burst())
        assert sum(all(o.outcome == "ok" for o in out) for out in outs) == 70
        assert after.used == 70
    finally:
        store.clear()
        store.close()


def test_many_tenants_spread_over_every_primary(cluster):
    """300 tenants: each tenant's keys on one shard, the tenants over all three primaries."""
    import redis

    store = from_url(cluster.seed, hash_tag=f"t-{uuid.uuid4().hex[:8]}")
    try:
        for i in range(300):
            t = f"tenant-{i}"
            store.reserve(f"r{i}", [Charge(TENANT, t, 1), Charge(USER, f"{t}|ann", 10)], time.time())
        per_node: dict[int, set[str]] = {}
        for port in cluster.primaries():
            keys = redis.Redis(port=port, decode_responses=True).keys("{" + store._proto.base + ":*")
            per_node[port] = {k[k.index(":") + 1:k.index("}")] for k in keys}
        assert len(per_node) == 3
        for tenants in per_node.values():  # about 100 each
            assert len(tenants) >= 60
        nodes = list(per_node.values())
        assert not (nodes[0] & nodes[1]) and not (nodes[1] & nodes[2]) and not (nodes[0] & nodes[2])
        assert sum(map(len, nodes)) == 300
    finally:
        store.clear()
        store.close()


def test_an_unreachable_cluster_is_store_unavailable_without_its_password():
    from aigw_policy.limits.model import StoreUnavailable

    store = from_url("redis+cluster://:s3cret@127.0.0.1:1", failover_wait=0.2, timeout=0.2)
    with pytest.raises(StoreUnavailable) as sync_error:
        store.reserve("r", [Charge(TENANT, "acme", 1)], time.time())

    async def areserve():
        try:
            await store.areserve("r", [Charge(TENANT, "acme", 1)], time.time())
        finally:
            await store.aclose()

    with pytest.raises(StoreUnavailable) as async_error:
        asyncio.run(areserve())
    for error in (sync_error, async_error):
        assert "s3cret" not in str(error.value) and "127.0.0.1:1" in str(error.value)


@pytest.mark.parametrize("url, error", [
    ("redis+cluster://127.0.0.1:1?shard=tenant", "shard must be one of first, key, one"),
    ("redis+cluster://127.0.0.1:1?prepare_ttl=0", "prepare_ttl must be a positive number"),
    ("redis+cluster://127.0.0.1:1?outbox=/tmp/x", "unknown option in store url"),
])
def test_bad_cluster_urls_say_what_is_wrong(url, error):
    with pytest.raises(ValueError, match=error):
        from_url(url)
