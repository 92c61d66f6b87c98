"""The capacity model of docs/scale.md, checked against a real 3-primary Redis Cluster.

    .venv/bin/python benchmarks/scale_model.py [--requests 6000] [--tenants 2000] [--cross 0.2]

Starts its own cluster (tests/redis_cluster.py) and replays a synthetic multi-tenant load:
tenants drawn from a Zipf law (s = 1.1: a few big tenants, a long tail), each request a
reserve of a tenant limit and a per-user limit (both keyed by the tenant first: one shard)
and, for a fraction ``--cross`` of them, a global limit too (the empty key's shard: a
two-phase reserve), then a reconcile with its actual usage, as the gateway does.

Measured per primary: script calls (``INFO commandstats``), the server's CPU time per call
(``/proc/PID/stat``: user + system time of redis-server, network I/O included, less its idle
rate measured just before), hence the
calls per second one shard sustains at one full core. Reported: load balance (busiest shard
over the mean), cross-shard fraction, calls per request, and the global limit's shard.

The model (docs/scale.md) predicts calls per request = 2 (1 - f) + 6 f (one reserve and one
reconcile on one shard; a cross-shard request: prepare, commit and reconcile on two shards),
the cross-shard fraction f, and the global limit's shard carrying 3 f calls per request. The
script checks each prediction against the measurement and exits 1 when one is off.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_cluster import Cluster, cluster_missing, start_cluster  # noqa: E402

from aigw_policy.limits import Charge, LimitSpec, from_url  # noqa: E402

TENANT = LimitSpec("tenant-rpm", "requests", "fixed_window", 1e12, 60)
USER = LimitSpec("user-tpm", "tokens", "token_bucket", 1e12, 60)
GLOBAL = LimitSpec("global-rpm", "requests", "fixed_window", 1e12, 60)
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def zipf_tenants(n_tenants: int, n: int, seed: int, s: float = 1.1) -> list[int]:
    rng = random.Random(seed)
    weights = [1 / (k ** s) for k in range(1, n_tenants + 1)]
    return rng.choices(range(n_tenants), weights=weights, k=n)


def _client(seed_url: str, tag: str, jobs: list[tuple[int, bool]], out) -> None:
    store = from_url(seed_url, hash_tag=tag)
    crossed = 0
    for tenant, cross in jobs:
        t = f"tenant-{tenant}"
        charges = [Charge(TENANT, t, 1), Charge(USER, f"{t}|u{tenant % 5}", 500)]
        if cross:
            charges.append(Charge(GLOBAL, "", 1))
        rid = uuid.uuid4().hex
        store.reserve(rid, charges, time.time())
        store.reconcile(rid, {USER.name: 321.0}, time.time())
    crossed = store.cross_shard
    out.put((crossed, store.round_trips))
    store.close()


def _script_calls(cluster: Cluster, port: int) -> int:
    text = cluster.cli(port, "info", "commandstats")
    for line in text.splitlines():
        if line.startswith("cmdstat_evalsha:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--tenants", type=int, default=2000)
    ap.add_argument("--cross", type=float, default=0.2, help="fraction of requests with a global limit")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    if missing := cluster_missing():
        raise SystemExit(missing)
    cluster = start_cluster()
    try:
        return run(cluster, args)
    finally:
        cluster.stop()


def run(cluster: Cluster, args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    tenants = zipf_tenants(args.tenants, args.requests, args.seed)
    jobs = [(t, rng.random() < args.cross) for t in tenants]
    primaries = cluster.primaries()
    tag = f"model-{uuid.uuid4().hex[:6]}"
    probe = from_url(cluster.seed, hash_tag=tag)
    probe.check([], time.time())  # the script loaded everywhere before counting
    client = probe._connect()
    global_port = int(client.get_node_from_key("{" + tag + ":}:pending").port)
    probe.close()
    idle0 = {p: _cpu_seconds(cluster.procs[p].pid) for p in primaries}
    time.sleep(3.0)  # the idle cost (cron, cluster bus) is taken off the load's
    idle = {p: (_cpu_seconds(cluster.procs[p].pid) - idle0[p]) / 3.0 for p in primaries}
    calls0 = {p: _script_calls(cluster, p) for p in primaries}
    cpu0 = {p: _cpu_seconds(cluster.procs[p].pid) for p in primaries}
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=_client, args=(cluster.seed, tag, jobs[i::args.procs], out))
               for i in range(args.procs)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    crossed = trips = 0
    for _ in workers:
        c, r = out.get(timeout=1800)
        crossed, trips = crossed + c, trips + r
    elapsed = time.perf_counter() - t0
    for w in workers:
        w.join()
    calls = {p: _script_calls(cluster, p) - calls0[p] for p in primaries}
    cpu = {p: max(0.0, _cpu_seconds(cluster.procs[p].pid) - cpu0[p] - idle[p] * elapsed)
           for p in primaries}
    n = args.requests
    total = sum(calls.values())
    mean = total / len(primaries)
    f_measured = crossed / n
    f_expected = sum(c for _, c in jobs) / n
    us_per_call = 1e6 * sum(cpu.values()) / total
    print(f"{n} requests, {args.tenants} tenants (Zipf 1.1), cross-shard share asked {args.cross:.0%}, "
          f"{args.procs} client processes, {elapsed:.1f} s ({n / elapsed:,.0f} requests/s end to end)")
    print(f"{'primary':<8} {'script calls':>12} {'share':>7} {'CPU µs/call':>12}  note")
    for p in primaries:
        note = "holds the global limit" if p == global_port else ""
        per = 1e6 * cpu[p] / calls[p] if calls[p] else float("nan")
        print(f"{p:<8} {calls[p]:>12,} {calls[p] / total:>7.1%} {per:>12.1f}  {note}")
    balance = max(calls.values()) / mean
    print(f"load balance (busiest / mean): {balance:.2f}")
    print(f"cross-shard fraction: {f_measured:.3f} (requests drawn with the global limit: {f_expected:.3f})")
    print(f"script calls per request: {total / n:.3f}; round trips per request: {trips / n:.3f}")
    print(f"server CPU per script call: {us_per_call:.1f} µs -> one shard at one full core: "
          f"{1e6 / us_per_call:,.0f} calls/s = {1e6 / us_per_call / (total / n):,.0f} requests/s")
    # the model's predictions
    predicted_calls = 2 * (1 - f_expected) + 6 * f_expected
    predicted_trips = 2 * (1 - f_expected) + 3 * f_expected
    checks = [
        ("calls per request", total / n, predicted_calls, 0.01),
        ("round trips per request", trips / n, predicted_trips, 0.01),
        ("cross-shard fraction", f_measured, f_expected, 1e-9),
    ]
    bad = 0
    for name, got, want, tol in checks:
        ok = abs(got - want) <= tol * max(1.0, abs(want))
        bad += not ok
        print(f"model {name}: predicted {want:.3f}, measured {got:.3f}: {'ok' if ok else 'OFF'}")
    # the global limit's shard: its tenants' share plus 3 f calls per request of its own
    global_floor = 3 * f_expected * n / total
    ok = calls[global_port] / total >= global_floor
    bad += not ok
    print(f"model global-limit shard share >= {global_floor:.1%}: measured {calls[global_port] / total:.1%}: "
          f"{'ok' if ok else 'OFF'}")
    hot = max(range(args.tenants), key=tenants.count)
    print(f"largest tenant: {tenants.count(hot) / n:.1%} of requests (one shard carries it all)")
    if not math.isfinite(balance):
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
