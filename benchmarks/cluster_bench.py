"""Reserves per second on one Redis against a Redis Cluster of 3 primaries, in one run.

    .venv/bin/python benchmarks/cluster_bench.py [--procs 4] [--n 1500] [--rounds 5]

Starts its own servers (redis-server and redis-cli on PATH): one standalone Redis and a
6-node cluster (3 primaries, 3 replicas), same build, same settings. ``--procs`` client
processes each make ``--n`` reserves, each of two charges (a tenant's requests per minute and
its user's tokens per minute, 500 tenants), with the server's clock; a round times all of
them from a common start. Workloads:

- ``one-shard``: both charges keyed by the tenant first: one script call per reserve.
- ``cross-shard``: a third charge on a global limit (the empty key's shard) on every reserve:
  a two-phase reserve on the cluster (two round trips), one call on the single Redis.

Rounds alternate the targets, so a burst of load on the shared machine does not land on one
side only; the medians over rounds are printed, with the ratios cluster / single, then the
median latency of one reserve from one client. With Python
clients on a few cores the clients, not Redis, are usually the bottleneck: the ratio then
measures the cluster client's cost, and the per-shard capacity is in scale_model.py.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_cluster import cluster_missing, start_cluster  # noqa: E402
from standalone_redis import start_redis  # noqa: E402

from aigw_policy.limits import Charge, LimitSpec, from_url  # noqa: E402

TENANT = LimitSpec("tenant-rpm", "requests", "fixed_window", 1e12, 60)
USER = LimitSpec("user-tpm", "tokens", "sliding_window", 1e12, 60)
GLOBAL = LimitSpec("global-rpm", "requests", "fixed_window", 1e12, 60)


def _charges(i: int, cross: bool) -> list[Charge]:
    tenant = f"tenant-{i % 500}"
    out = [Charge(TENANT, tenant, 1), Charge(USER, f"{tenant}|u{i % 7}", 100)]
    if cross:
        out.append(Charge(GLOBAL, "", 1))
    return out


def _client(url: str, tag: str, n: int, cross: bool, start, done) -> None:
    store = from_url(url, hash_tag=tag)
    store.check([], time.time())  # connected (and the script loaded) before the clock starts
    start.wait()
    for i in range(n):
        store.reserve(uuid.uuid4().hex, _charges(i, cross), time.time())
    done.put(store.round_trips)
    store.close()


def _round(url: str, procs: int, n: int, cross: bool) -> tuple[float, float]:
    """(reserves per second, round trips per reserve) of one round."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(procs + 1)
    done = ctx.Queue()
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    workers = [ctx.Process(target=_client, args=(url, tag, n, cross, start, done)) for _ in range(procs)]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    trips = sum(done.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.join()
    total = procs * n
    return total / elapsed, (trips - procs) / total  # less each client's connect check


def _latency(url: str, cross: bool, n: int = 400) -> float:
    """Median milliseconds of one reserve, one client, one call at a time."""
    store = from_url(url, hash_tag=f"lat-{uuid.uuid4().hex[:8]}")
    store.check([], time.time())
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        store.reserve(uuid.uuid4().hex, _charges(i, cross), time.time())
        times.append(time.perf_counter() - t0)
    store.close()
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--n", type=int, default=1500, help="reserves per client process and round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    missing = cluster_missing()
    if missing:
        raise SystemExit(missing)
    single = start_redis()
    cluster = start_cluster()
    try:
        targets = {"single": single.url, "cluster": cluster.seed}
        rates: dict[tuple[str, str], list[float]] = {}
        trips: dict[tuple[str, str], float] = {}
        for _ in range(args.rounds):
            for work in ("one-shard", "cross-shard"):
                for name, url in targets.items():
                    rate, rt = _round(url, args.procs, args.n, work == "cross-shard")
                    rates.setdefault((work, name), []).append(rate)
                    trips[(work, name)] = rt
            single.flush()
            cluster.flush()
        print(f"{args.procs} client processes x {args.n} reserves, {args.rounds} rounds "
              f"(medians; redis-server on this machine, 3 primaries for the cluster)")
        print(f"{'workload':<12} {'target':<8} {'reserves/s':>11} {'round trips/reserve':>20}")
        for (work, name), values in rates.items():
            print(f"{work:<12} {name:<8} {statistics.median(values):>11,.0f} {trips[(work, name)]:>20.2f}")
        print("latency of one reserve, one client at a time (median ms):")
        for work in ("one-shard", "cross-shard"):
            for name, url in targets.items():
                print(f"  {work:<12} {name:<8} {_latency(url, work == 'cross-shard'):.3f}")
        for work in ("one-shard", "cross-shard"):
            ratio = statistics.median(rates[(work, "cluster")]) / statistics.median(rates[(work, "single")])
            print(f"ratio cluster / single, {work}: {ratio:.2f}")
    finally:
        cluster.stop()
        single.stop()


if __name__ == "__main__":
    main()
