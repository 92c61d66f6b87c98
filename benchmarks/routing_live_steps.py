"""The work of routing_bench.py's live-store lines, for callgrind (no timing, no output).

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/routing_live_steps.py named|auto N

runs 1,000 warm-up requests, then N more: each records one answer in a ``memory:`` store
holding five minutes of answers for 50 of the 500 models, reads its snapshot and plans the
request (a named model + 2 fallbacks, or ``ngrok/auto``). The instructions of one request are
(the count with N) - (the count with 0), divided by N. Run it for two versions of the code
side by side (docs/routing.md, the twenty-eighth pass).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import routing_bench as rb  # noqa: E402

from aigw_policy.providers import classify  # noqa: E402
from aigw_policy.routing.compile import compile_route  # noqa: E402
from aigw_policy.routing.model import AttemptOutcome  # noqa: E402


def main(label: str, n: int) -> None:
    route = compile_route(rb.config(500))
    rng = random.Random(0)
    req = rb.request("p1:m-37", ["p2:m-40", "m-50"]) if label == "named" else rb.request("ngrok/auto", [])
    http = req["request"]
    ai = classify({"method": http["method"], "url": http["url"], "headers": http["headers"], "body": http["body"]})
    act = {"identity.key": "k1", "identity.team": "research", "ai.model": ai.model or ""}
    store, attempts = rb.live_store(route, rb.metrics(500))
    ok = AttemptOutcome(200, latency_ms=150.0)
    for i in range(1000 + n):
        now = rb.T0 + i / 1000  # 1,000 requests a second
        store.record(attempts[i % len(attempts)], ok, now)
        route.plan(ai, act, store.snapshot(now), rng)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
