"""Limit decisions per second on each store, and Redis round trips per decision, next to the
floor: a bare redis-py INCR per request.

    .venv/bin/python benchmarks/limits_bench.py [--n 5000] [--redis redis://127.0.0.1:6379/15]
    .venv/bin/python benchmarks/limits_bench.py --burst 400 [--capacity 150]

A decision is one ``reserve`` of three charges (requests per minute, tokens per minute as a
token bucket, USD per month in a time zone) followed by a ``reconcile`` with the actual usage:
what the engine does for one LLM request. Single thread, one process.

``--burst N``: burst admission on Redis with the store's defaults (``from_url(redis://...)``):
N requests at once on a limit of ``--capacity``, through one engine from N coroutines, from N
threads, and through one ``aigw-policy serve`` process (stub upstream, N concurrent HTTP
clients). Prints how many were admitted, limited (429) and failed (503 or other), and the
wall time of the burst: exact admission means admitted == capacity and no failure.
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


BURST_POLICY = """
store_failure: {mode}
on_http_request:
  - name: burst
    actions:
      - type: rate-limit
        config: {{name: {name}, algorithm: fixed_window, capacity: {capacity}, rate: 1h}}
"""
# an hour's window: a burst of a few seconds that straddled a minute's boundary would rightly be
# admitted twice the capacity (one window each), and read as an overshoot


def _burst_request(i: int) -> dict:
    return {"id": f"burst-{uuid.uuid4().hex[:8]}-{i}", "identity": {"team": "burst"},
            "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"},
                        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


def _tally(codes) -> str:
    admitted = sum(1 for c in codes if c == 200)
    limited = sum(1 for c in codes if c == 429)
    return f"{admitted:9d} {limited:8d} {len(codes) - admitted - limited:8d}"


def burst(url: str, n: int, capacity: int) -> None:
    import asyncio
    import threading

    import aigw_policy as ap_

    def engine(mode: str):
        store = ap_.stores.from_url(url, hash_tag=f"burst-{uuid.uuid4().hex[:8]}")
        policy = ap_.loads(BURST_POLICY.format(mode=mode, name="cap", capacity=capacity), format="yaml")
        return ap_.Engine(policy, store=store), store

    print(f"burst admission on Redis ({url}, store defaults): {n} requests at once, capacity {capacity}")
    print(f"{'path':34} {'admitted':>9} {'limited':>8} {'failed':>8} {'wall s':>8}")
    for mode in ("fail_closed", "fail_open"):
        eng, store = engine(mode)

        async def run_async():
            try:
                return await asyncio.gather(*(eng.aevaluate(_burst_request(i), expect_response=False)
                                              for i in range(n)))
            finally:
                await store.aclose()

        t0 = time.perf_counter()
        codes = [d.status_code for d in asyncio.run(run_async())]
        print(f"{'engine, asyncio, ' + mode:34} {_tally(codes)} {time.perf_counter() - t0:8.2f}")
        store.clear()
        eng, store = engine(mode)
        gate = threading.Barrier(n)
        codes = [0] * n

        def one(i: int) -> None:
            gate.wait()
            codes[i] = eng.evaluate(_burst_request(i), expect_response=False).status_code

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"{'engine, threads, ' + mode:34} {_tally(codes)} {time.perf_counter() - t0:8.2f}")
        store.clear()
    _burst_serve(url, n, capacity)


def _burst_serve(url: str, n: int, capacity: int) -> None:
    """One ``aigw-policy serve --store redis://...`` (its defaults) and a stub upstream."""
    import asyncio
    import subprocess
    import sys

    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gateway_bench import ROOT, free_port, wait_up

    tmp = Path(tempfile.mkdtemp(prefix="aigw-burst-"))
    name = f"burst_{uuid.uuid4().hex[:8]}"  # a fresh bucket on the shared default hash tag
    (tmp / "policy.yaml").write_text(BURST_POLICY.format(mode="fail_closed", name=name,
                                                         capacity=capacity))
    stub_port, gw_port = free_port(), free_port()
    py = sys.executable
    serve_stub = ("import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; "
                  "from gateway.stub import StubUpstream; uvicorn.run(StubUpstream(), "
                  "host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', access_log=False)")
    stub = subprocess.Popen([py, "-c", serve_stub, str(ROOT / "tests"), str(stub_port)],
                            stderr=subprocess.PIPE)
    gateway = subprocess.Popen(
        [py, "-m", "aigw_policy.cli", "serve", "--policy", str(tmp / "policy.yaml"),
         "--upstream", f"http://127.0.0.1:{stub_port}", "--port", str(gw_port), "--store", url,
         "--no-decision-log", "--watch", "0"], stderr=subprocess.PIPE)

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            rs = await asyncio.gather(*(client.post(f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                                                    json=body) for _ in range(n)),
                                      return_exceptions=True)
        return [r.status_code if isinstance(r, httpx.Response) else -1 for r in rs]

    try:
        wait_up(f"http://127.0.0.1:{stub_port}/", stub)
        wait_up(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        t0 = time.perf_counter()
        codes = asyncio.run(run())
        print(f"{'one serve, HTTP, fail_closed':34} {_tally(codes)} {time.perf_counter() - t0:8.2f}")
    finally:
        for proc in (gateway, stub):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    ap.add_argument("--burst", type=int, default=0, help="measure burst admission on Redis instead")
    ap.add_argument("--capacity", type=int, default=150, help="the limit of --burst (default 150)")
    args = ap.parse_args()
    if args.burst:
        burst(args.redis, args.burst, args.capacity)
        return
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
