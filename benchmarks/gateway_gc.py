"""The garbage collector's work inside a live ``aigw-policy serve``, per 1,000 requests.

    python benchmarks/gateway_gc.py [--n 10000] [--concurrency 16] [--rounds 2] [--serve-from NAME=DIR ...]

Starts the stub upstream and ``serve`` (the 3-rule policy of ``gateway_compare.py``, a keys
file, memory store, no decision log), ``serve`` inside a small wrapper that counts the
collector's runs and times each one (``gc.callbacks``) and writes the totals and its process
CPU to a file when asked. Each round sends a warm-up of 1,000 requests, then ``--n`` requests
at ``--concurrency``, and reads the totals before and after. Printed per target: collections
of each generation and their milliseconds per 1,000 requests, the collector's share of the
process's CPU, and the unfrozen objects the collector tracks at the end. ``--serve-from
NAME=DIR`` (repeatable) also runs ``serve`` from the ``aigw_policy`` package of checkout DIR
(before and after a change, in the same rounds). The times are wall time inside the
collector: on a busy machine they swing with the load; the counts do not. No assertions: a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import free_port, wait_up  # noqa: E402
from gateway_compare import CHAT, POLICY, from_checkout, start  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

_WRAPPER = r'''
import gc, json, os, sys, threading, time
counts, ms, began = [0, 0, 0], [0.0, 0.0, 0.0], [0.0]

def timed(phase, info):
    if phase == "start":
        began[0] = time.perf_counter()
    else:
        g = info["generation"]
        counts[g] += 1
        ms[g] += (time.perf_counter() - began[0]) * 1000

gc.callbacks.append(timed)
ask, answer = sys.argv[1], sys.argv[2]

def answering():
    while True:
        time.sleep(0.05)
        if os.path.exists(ask):
            os.remove(ask)
            state = {"counts": counts, "ms": ms, "cpu": time.process_time(), "tracked": len(gc.get_objects())}
            with open(answer + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(answer + ".tmp", answer)

threading.Thread(target=answering, daemon=True).start()
sys.argv = ["aigw-policy", *sys.argv[3:]]
from aigw_policy.cli import main
main()
'''


def totals(tmp: Path, name: str) -> dict[str, object]:
    """The wrapper's totals now: it answers within ~50 ms of being asked."""
    ask, answer = tmp / f"{name}.ask", tmp / f"{name}.json"
    answer.unlink(missing_ok=True)
    ask.touch()
    deadline = time.monotonic() + 10
    while not answer.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: no totals from the wrapper")
        time.sleep(0.02)
    return json.loads(answer.read_text())  # type: ignore[no-any-return]


async def load(url: str, n: int, concurrency: int) -> int:
    """Send ``n`` requests, ``concurrency`` at a time; the count of answers other than 200."""
    bad = 0
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=30) as client:
        async def one() -> None:
            nonlocal bad
            async with sem:
                r = await client.post(url, json=CHAT, headers={"authorization": "Bearer sk-bench"})
                bad += r.status_code != 200

        await asyncio.gather(*(one() for _ in range(n)))
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="requests per target per round (default 10000)")
    ap.add_argument("--concurrency", type=int, default=16, help="clients (default 16)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    ap.add_argument("--serve-from", action="append", default=[], metavar="NAME=DIR",
                    help="also serve from the aigw_policy package of checkout DIR, as NAME")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aigw-gc-"))
    (tmp / "policy.aigw").write_text(POLICY)
    (tmp / "keys.yaml").write_text("keys:\n  - key: sk-bench\n    identity: {key: k1, user: u, team: research, org: o}\n")
    py = sys.executable
    stub_port = free_port()
    stub_code = ("import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; from gateway.stub import StubUpstream; "
                 "uvicorn.run(StubUpstream(), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', "
                 "access_log=False)")
    procs = {"stub": start([py, "-c", stub_code, str(ROOT / "tests"), str(stub_port)])}
    targets = {"serve": str(ROOT), **dict(item.split("=", 1) for item in args.serve_from)}
    ports = {name: free_port() for name in targets}
    got: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    try:
        for name, src in targets.items():
            procs[name] = start([py, "-c", _WRAPPER, str(tmp / f"{name}.ask"), str(tmp / f"{name}.json"), "serve",
                                 "--policy", str(tmp / "policy.aigw"), "--upstream", f"http://127.0.0.1:{stub_port}",
                                 "--keys", str(tmp / "keys.yaml"), "--no-decision-log", "--watch", "0",
                                 "--port", str(ports[name])], from_checkout(src), tmp)
        for name, port in ports.items():
            wait_up(f"http://127.0.0.1:{port}/healthz", procs[name])
        for _ in range(args.rounds):
            for name, port in ports.items():
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                asyncio.run(load(url, 1000, args.concurrency))
                before = totals(tmp, name)
                bad = asyncio.run(load(url, args.n, args.concurrency))
                after = totals(tmp, name)
                per = 1000 / args.n
                row = {f"n{g}": (after["counts"][g] - before["counts"][g]) * per for g in range(3)}  # type: ignore[index]
                row.update({f"ms{g}": (after["ms"][g] - before["ms"][g]) * per for g in range(3)})  # type: ignore[index]
                cpu_ms = (after["cpu"] - before["cpu"]) * 1000 * per  # type: ignore[operator]
                row["share"] = (row["ms0"] + row["ms1"] + row["ms2"]) / cpu_ms if cpu_ms else 0.0
                row["cpu"] = cpu_ms
                row["tracked"] = float(after["tracked"])  # type: ignore[arg-type]
                row["bad"] = float(bad)
                got[name].append(row)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=10)
    print(f"collector's work per 1,000 requests at concurrency {args.concurrency} ({args.rounds} rounds of {args.n}, "
          "median of rounds)")
    print(f"{'target':<12} {'gen0 n':>7} {'ms':>6} {'gen1 n':>7} {'ms':>6} {'gen2 n':>7} {'ms':>6} "
          f"{'CPU ms':>7} {'gc share':>8} {'tracked':>8} {'non-200':>7}")
    for name, rows in got.items():
        m = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"{name:<12} {m['n0']:7.1f} {m['ms0']:6.1f} {m['n1']:7.1f} {m['ms1']:6.1f} {m['n2']:7.2f} {m['ms2']:6.1f} "
              f"{m['cpu']:7.0f} {m['share']:8.1%} {m['tracked']:8.0f} {m['bad']:7.0f}")


if __name__ == "__main__":
    main()
