"""Limit decisions per second on each store, and Redis round trips per decision, next to the
floor: a bare redis-py INCR per request.

    .venv/bin/python benchmarks/limits_bench.py [--n 5000] [--redis redis://127.0.0.1:6379/15]

A decision is one ``reserve`` of three charges (requests per minute, tokens per minute as a
token bucket, USD per month in a time zone) followed by a ``reconcile`` with the actual usage:
what the engine does for one LLM request. Single thread, one process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.stores import MemoryStore, RedisStore, SQLiteStore

SPECS = [
    LimitSpec("rpm", "requests", "sliding_window", 10**9, 60),
    LimitSpec("tpm", "tokens", "token_bucket", 10**9, 60),
    LimitSpec("budget", "usd", "calendar", 10**9, 0, period="month", timezone="Europe/Paris",
              warn_at=0.8),
]


def charges(i: int) -> list[Charge]:
    key = f"team-{i % 8}"
    return [Charge(SPECS[0], key, 1), Charge(SPECS[1], key, 1200), Charge(SPECS[2], key, 0.012)]


def bench(store, n: int, now=None) -> tuple[float, float]:
    """(reserve+reconcile decisions per second, reserve-only per second)."""
    t0 = time.perf_counter()
    for i in range(n):
        t = now if now is not None else time.time()
        store.reserve(f"a{i}", charges(i), t)
    reserve_rate = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        t = now if now is not None else time.time()
        store.reserve(f"b{i}", charges(i), t)
        store.reconcile(f"b{i}", {"tpm": 800, "budget": 0.008}, t)
    return n / (time.perf_counter() - t0), reserve_rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args()
    n = args.n
    rows = []
    rate, rrate = bench(MemoryStore(), n)
    rows.append(("MemoryStore", rrate, rate, "-"))
    with tempfile.TemporaryDirectory() as d:
        store = SQLiteStore(Path(d) / "bench.db", timeout=5)
        rate, rrate = bench(store, n)
        rows.append(("SQLiteStore (WAL)", rrate, rate, "-"))
        store.close()
    try:
        import redis

        client = redis.Redis.from_url(args.redis)
        client.ping()
    except Exception as e:  # noqa: BLE001
        print(f"Redis not measured: {e}")
    else:
        tag = f"bench-{uuid.uuid4().hex[:8]}"
        store = RedisStore(args.redis, hash_tag=tag, timeout=2)
        store.reserve("warm", charges(0), 0)  # load the script, learn the server clock
        store.round_trips = 0
        rate, rrate = bench(store, n)
        rows.append(("RedisStore (Lua, server time)", rrate, rate,
                     f"{store.round_trips / (3 * n):.2f} per store call"
                     f" ({store.round_trips} for {3 * n} calls)"))
        store.clear()
        key = f"bench-floor-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        for _ in range(n):
            client.incr(key)
        floor = n / (time.perf_counter() - t0)
        client.delete(key)
        rows.append(("floor: bare redis-py INCR", floor, float("nan"), "1 per request"))
    print(f"{n} decisions each; 3 limits per request (sliding window, GCRA, monthly USD cap)")
    print(f"{'store':32} {'reserve/s':>11} {'reserve+reconcile/s':>20}  redis round trips")
    for name, r1, r2, rt in rows:
        print(f"{name:32} {r1:11.0f} {r2:20.0f}  {rt}")


if __name__ == "__main__":
    main()
