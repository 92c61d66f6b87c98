"""CPU per request of ``aigw-policy serve``'s ASGI app alone: no server, no sockets, no
upstream client, so that the gateway's own work (middleware, engine, metrics) is measured
without the noise of four processes on a busy machine.

    python benchmarks/gateway_inprocess.py [--n 6000] [--rounds 3] [--from NAME=DIR ...]

The app is :class:`~aigw_policy.gateway.Gateway` as ``serve`` builds it (the 3-rule policy
of benchmarks/gateway_compare.py, a keys file, memory store, Prometheus metrics, decision
log off), its upstream an ASGI app answering an OpenAI chat completion at once. Each round
runs every checkout in its own process (``--from NAME=DIR``: the ``aigw_policy`` package of
another checkout, e.g. ``git archive HEAD | tar -x -C DIR``), in turn, after a warm-up and
``gc.freeze()`` as ``serve`` does; printed: each one's process CPU microseconds per request
per round and their median. The caches stay warm here, and the upstream side (``UpstreamProxy``,
aiohttp) is left out; compare with a live ``serve`` (``gateway_compare.py --paired``) only in
the same minutes: on a shared machine one request's CPU swings 4x with what else runs
(docs/gateway.md, "Sixth pass"). No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r'''
import asyncio, gc, json, logging, sys, time
from aigw_policy.gateway import Gateway, load_keys

BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello in five words."}],
                   "max_tokens": 64}).encode()
ANSWER = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21}}).encode()
HEADERS = [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"python-httpx/0.28"), (b"accept", b"*/*"),
           (b"accept-encoding", b"gzip, deflate"), (b"connection", b"keep-alive"),
           (b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json"),
           (b"authorization", b"Bearer sk-bench")]


async def upstream(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": ANSWER, "more_body": False})


async def one(app):
    sent = []
    given = False

    async def receive():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"",
             "root_path": "", "headers": list(HEADERS), "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8080)}
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent


async def main(policy, keys, n):
    logging.getLogger("aigw_policy.gateway.decisions").setLevel(logging.CRITICAL)
    app = Gateway(policy=policy, upstream="http://127.0.0.1:9", keys=load_keys(keys), watch=0, sighup=False)
    app.proxy = app.middleware.app = upstream
    for _ in range(300):
        await one(app)
    gc.collect()
    gc.freeze()
    t = time.process_time()
    for _ in range(n):
        await one(app)
    print((time.process_time() - t) / n * 1e6)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=6000, help="requests per checkout per round (default 6000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--from", dest="sources", action="append", default=[], metavar="NAME=DIR",
                    help="also measure the aigw_policy package of checkout DIR, as NAME")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gateway_compare import POLICY

    tmp = Path(tempfile.mkdtemp(prefix="aigw-inprocess-"))
    (tmp / "policy.aigw").write_text(POLICY)
    (tmp / "keys.yaml").write_text("keys:\n  - key: sk-bench\n    identity: {key: k1, user: u, team: research, org: o}\n")
    targets = {"this": str(ROOT), **dict(item.split("=", 1) for item in args.sources)}
    runs: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, src in targets.items():
            env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
            # started outside any checkout: `-c` puts the working directory ahead of PYTHONPATH
            out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp / "policy.aigw"), str(tmp / "keys.yaml"),
                                  str(args.n)], env=env, cwd=tmp, check=True, capture_output=True, text=True).stdout
            runs[name].append(float(out.split()[-1]))
    print(f"in-process CPU per request (us), {args.rounds} rounds of {args.n}, load average {os.getloadavg()[0]:.2f}")
    for name, xs in runs.items():
        print(f"{name:10} median {statistics.median(xs):7.1f}   rounds: {' '.join(f'{x:.1f}' for x in xs)}")


if __name__ == "__main__":
    main()
