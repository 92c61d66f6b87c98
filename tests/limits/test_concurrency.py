"""No overshoot across processes: 8 processes x 200 reserves on capacity 500 admit exactly 500,
through the SQLite and Redis stores (and threads on the memory store)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import uuid

import pytest

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.stores import MemoryStore, RedisStore, SQLiteStore

from conftest import require_redis

PROCS, EACH, CAPACITY = 8, 200, 500
SPECS = [LimitSpec("cap", "requests", "fixed_window", CAPACITY, 3600),
         LimitSpec("tokens", "tokens", "token_bucket", 10**6, 3600),
         LimitSpec("usd", "usd", "calendar", 10**6, 0, period="month")]


def _charges():
    return [Charge(SPECS[0], "team", 1), Charge(SPECS[1], "team", 7),
            Charge(SPECS[2], "team", 0.01)]


def _worker(args):
    kind, target, proc = args
    store = SQLiteStore(target, timeout=30) if kind == "sqlite" else RedisStore(
        target[0], hash_tag=target[1], clock="server", timeout=10)
    admitted = 0
    for i in range(EACH):
        out = store.reserve(f"p{proc}-{i}", _charges(), 1_800_000_000.0)
        if all(o.outcome != "limited" for o in out):
            admitted += 1
        if i % 10 == 0:  # a retry of an earlier request id never charges again
            again = store.reserve(f"p{proc}-{i}", _charges(), 1_800_000_000.0)
            if all(o.outcome != "limited" for o in out):
                assert again == out
            else:  # a denied one reserved nothing, kept nothing: decided afresh (still over)
                assert [o.outcome for o in again] == [o.outcome for o in out]
    store.close()
    return admitted


def _run(kind, target):
    ctx = mp.get_context("fork")
    with ctx.Pool(PROCS) as pool:
        return sum(pool.map(_worker, [(kind, target, p) for p in range(PROCS)]))


def test_sqlite_processes_admit_exactly_capacity(tmp_path):
    path = str(tmp_path / "limits.db")
    SQLiteStore(path).close()
    assert _run("sqlite", path) == CAPACITY
    store = SQLiteStore(path)
    used = store.check(_charges(), 1_800_000_000.0)
    assert used[0].used == CAPACITY
    assert used[1].used == pytest.approx(7 * CAPACITY, rel=1e-4)  # GCRA keeps a float TAT


def test_redis_processes_admit_exactly_capacity():
    url = require_redis()
    tag = f"conc-{uuid.uuid4().hex[:8]}"
    try:
        assert _run("redis", (url, tag)) == CAPACITY
        store = RedisStore(url, hash_tag=tag)
        out = store.check(_charges(), 0)
        assert out[0].used == CAPACITY
        assert out[2].used == pytest.approx(0.01 * CAPACITY)
    finally:
        RedisStore(url, hash_tag=tag).clear()


def test_memory_threads_admit_exactly_capacity():
    store = MemoryStore(timeout=10)
    counts = []

    def work(t):
        counts.append(sum(
            all(o.outcome != "limited" for o in store.reserve(f"{t}-{i}", _charges(), 1.8e9))
            for i in range(EACH)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(PROCS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == CAPACITY
