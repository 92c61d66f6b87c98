"""Memory an embedding process pays per 100k requests, for each store: completed requests
(``evaluate`` then ``complete``) and pending ones (``evaluate`` only: forwarded, awaiting
their response).

    .venv/bin/python benchmarks/memory_bench.py [--n 20000] [--redis redis://127.0.0.1:6379/15]

"Python heap" is what this process holds (tracemalloc, after a full collection), scaled from
``--n`` requests to 100,000, after 5,000 warm-up completions (so the engine's fixed cache of
recent decisions is full and not counted per request); it is the engine's pending state
plus, for the memory store, the store's records. "store side" is what the store itself grew by: the SQLite file, Redis's
``used_memory``. The policy has a token limit, a usage cap in USD and a request rate limit;
each request is a chat completion with a ~600-character prompt and a key, team and org.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aigw_policy as ap

POLICY = """
policy "bench" {
  default allow
  on request {
    rule "tpm" { token-limit { name: "team-tpm", capacity: 1_000_000_000, rate: 60s, bucket_key: [identity.team] } }
    rule "budget" { usage-cap { name: "team-usd", limit: 1_000_000, unit: "usd", period: "month",
                                bucket_key: [identity.team] } }
    rule "rpm" { rate-limit { name: "key-rpm", capacity: 1_000_000_000, rate: 60s, bucket_key: [identity.key] } }
  }
  on response {
    rule "tag-slow" { when res.status_code >= 500 log { metadata: { "upstream_error": "${res.status_code}" } } }
  }
}
"""

PROMPT = ("You are a careful assistant for the platform team. Summarise the incident report below "
          "in three bullet points, naming the service, the impact and the follow-up. ") * 3


def request(i: int) -> dict[str, Any]:
    return {"id": f"m{i}", "identity": {"key": f"key-{i % 50}", "team": f"team-{i % 8}", "org": "acme"},
            "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                        "headers": {"content-type": "application/json", "authorization": "Bearer sk-bench"},
                        "body": {"model": "gpt-4o", "max_tokens": 400,
                                 "messages": [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": PROMPT}]}}}


RESPONSE = {"status_code": 200, "headers": {"content-type": "application/json"},
            "body": {"model": "gpt-4o", "usage": {"prompt_tokens": 150, "completion_tokens": 80,
                                                  "total_tokens": 230}}}


WARM = 5000


def heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(make_store: Callable[[], Any], side: Callable[[Any], int], n: int, complete: bool,
            policy: ap.Policy) -> tuple[float, float]:
    """(Python heap bytes, store-side bytes) per 100k requests."""
    store = make_store()
    engine = ap.Engine(policy, store=store)
    # warm: compiled code, connections, and the engine's cache of the last 4,096 completed
    # decisions (a fixed cost, not a per-request one)
    for i in range(WARM if complete else 1):
        engine.complete(engine.evaluate(request(-1 - i)).id, RESPONSE)
    reqs = [request(i) for i in range(n)]
    s0 = side(store)
    h0 = heap()
    for r in reqs:
        d = engine.evaluate(r)
        if complete:
            engine.complete(d.id, RESPONSE)
    del d
    h1 = heap()
    s1 = side(store)
    scale = 100_000 / n
    out = ((h1 - h0) * scale, (s1 - s0) * scale)
    del engine
    close = getattr(store, "close", None)
    if close is not None:
        close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    policy = ap.loads(POLICY)
    tracemalloc.start()
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as d:
        stores: list[tuple[str, Callable[[], Any], Callable[[Any], int]]] = [
            ("memory", ap.stores.MemoryStore, lambda s: 0),
        ]
        counter = iter(range(1000))
        paths: list[Path] = []

        def sqlite_store() -> Any:
            path = Path(d) / f"bench{next(counter)}.db"
            paths.append(path)
            return ap.stores.SQLiteStore(path, timeout=5)

        def sqlite_size(store: Any) -> int:
            return sum(os.path.getsize(p) for p in Path(d).glob(Path(store.path).name + "*"))

        stores.append(("sqlite", sqlite_store, sqlite_size))
        redis_client = _redis(args.redis)
        if redis_client is not None:
            tags: list[str] = []

            def redis_store() -> Any:
                tags.append(f"bench-{uuid.uuid4().hex[:8]}")
                return ap.stores.RedisStore(args.redis, hash_tag=tags[-1], timeout=5)

            def redis_used(store: Any) -> int:
                return int(redis_client.info("memory")["used_memory"])

            stores.append(("redis", redis_store, redis_used))
        for name, make, side in stores:
            for phase, complete in (("completed", True), ("pending", False)):
                t0 = time.perf_counter()
                py, st = measure(make, side, args.n, complete, policy)
                rows.append((name, phase, py, st))
                print(f"  {name:<7} {phase:<10} done in {time.perf_counter() - t0:.1f}s", flush=True)
        if redis_client is not None:
            for tag in tags:
                keys = list(redis_client.scan_iter(match="{" + tag + "}:*", count=1000))
                for i in range(0, len(keys), 1000):
                    redis_client.delete(*keys[i:i + 1000])
        else:
            print(f"  redis: skipped (no server at {args.redis})")
    print(f"\nmemory per 100,000 requests (measured over {args.n:,}):")
    print(f"{'store':<8} {'requests':<10} {'Python heap':>12} {'store side':>12} {'per request':>12}")
    for name, phase, py, st in rows:
        side_text = "-" if name == "memory" else _mb(st)
        print(f"{name:<8} {phase:<10} {_mb(py):>12} {side_text:>12} {py / 100_000:>9,.0f} B")


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _redis(url: str) -> Any:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        return client
    except Exception:  # noqa: BLE001 - no redis-py or no server: the row is skipped
        return None


if __name__ == "__main__":
    main()
