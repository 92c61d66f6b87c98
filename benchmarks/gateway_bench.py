"""Loopback load test of `aigw-policy serve`: the latency the gateway adds per request and
its throughput, against calling the stub upstream directly.

    .venv/bin/python benchmarks/gateway_bench.py [--n 2000] [--concurrency 32] [--max-seconds 60]

Three processes on 127.0.0.1: the stub upstream (tests/gateway/stub.py under uvicorn), the
gateway (`aigw-policy serve` with examples/acme-gateway.aigw, a keys file, in-memory limits,
a JSONL ledger) and this client (httpx, asyncio). Each scenario runs the same requests
directly and through the gateway; every run is bounded by a request count and a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 64}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


async def run(url: str, headers: dict[str, str], n: int, concurrency: int, max_seconds: float,
              stream: bool) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    body = dict(CHAT, stream=True) if stream else CHAT
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(min(50, n)):  # warm up connections and caches
            await client.post(url, json=body, headers=headers)
        counter = iter(range(n))
        deadline = time.monotonic() + max_seconds

        async def worker() -> None:
            nonlocal errors
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                if stream:
                    async with client.stream("POST", url, json=body, headers=headers) as r:
                        async for _chunk in r.aiter_raw():
                            pass
                        status = r.status_code
                else:
                    status = (await client.post(url, json=body, headers=headers)).status_code
                latencies.append(time.perf_counter() - t)
                errors += status != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return latencies, elapsed, errors


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="requests per run (default 2000)")
    ap.add_argument("--concurrency", type=int, default=32, help="clients in the throughput runs (default 32)")
    ap.add_argument("--ledger", default="jsonl", choices=["jsonl", "sqlite", "none"],
                    help="ledger sink of the gateway (default jsonl, fsync per group commit)")
    ap.add_argument("--max-seconds", type=float, default=60, help="time bound per run (default 60)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aigw-bench-"))
    (tmp / "keys.yaml").write_text("keys:\n  - key: sk-bench\n    identity: {key: k1, user: u, team: research, org: o}\n")
    stub_port, gw_port = free_port(), free_port()
    py = sys.executable
    serve_stub = ("import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; from gateway.stub import StubUpstream; "
                  "uvicorn.run(StubUpstream(), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', "
                  "access_log=False)")
    stub = subprocess.Popen(
        [py, "-c", serve_stub, str(ROOT / "tests"), str(stub_port)],
        stderr=subprocess.PIPE)
    gateway = subprocess.Popen(
        [py, "-m", "aigw_policy.cli", "serve", "--policy", str(ROOT / "examples" / "acme-gateway.aigw"),
         "--upstream", f"http://127.0.0.1:{stub_port}", "--keys", str(tmp / "keys.yaml"), "--port", str(gw_port),
         *(["--ledger", f"{args.ledger}:{tmp / ('usage.' + args.ledger)}"] if args.ledger != "none" else []),
         "--no-decision-log", "--watch", "0"],
        stderr=subprocess.PIPE)
    try:
        wait_up(f"http://127.0.0.1:{stub_port}/", stub)
        wait_up(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        direct = f"http://127.0.0.1:{stub_port}/v1/chat/completions"
        via = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        auth = {"authorization": "Bearer sk-bench"}
        print(f"gateway benchmark: {args.n} requests per run (bounded at {args.max_seconds:.0f} s), ledger {args.ledger}, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
        print(f"{'scenario':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
        for name, conc, stream in (("json, 1 client", 1, False), (f"json, {args.concurrency} clients", args.concurrency, False),
                                   ("stream (SSE), 1 client", 1, True)):
            rows = {}
            for label, url, headers in (("direct", direct, {}), ("gateway", via, auth)):
                lat, elapsed, errors = asyncio.run(run(url, headers, args.n, conc, args.max_seconds, stream))
                rows[label] = (pct(lat, 50), pct(lat, 99), len(lat) / elapsed)
                print(f"{name + ' / ' + label:34} {rows[label][0]:8.2f} {rows[label][1]:8.2f} {rows[label][2]:8.0f} {errors:6d}")
            d, g = rows["direct"], rows["gateway"]
            print(f"{name + ' / added':34} {g[0] - d[0]:8.2f} {g[1] - d[1]:8.2f} {g[2] / d[2]:7.0%}")
    finally:
        for proc in (gateway, stub):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
