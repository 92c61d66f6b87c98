"""Routing: what planning adds to a decision, for a catalog of 500 models and 3 strategies.

    .venv/bin/python benchmarks/routing_bench.py [--models 500] [--seconds 1.0]

One run, the same requests, alternating rounds (the best round of each side is kept, so
a burst of load on the shared machine does not land on one side only):

(a) ``Engine.evaluate`` of a policy without the ``ai-gateway`` action;
(b) the same evaluation, then ``CompiledRoute.plan`` for the request (what the action adds:
    the engine hands the planner the request it already classified and its activation);

for a client naming a model and two fallbacks (``p1:m-37`` + ``models: [...]``) and for
``ngrok/auto`` (the strategies choose among all 500), with live metrics for 50 models.
Prints the medians and the µs planning adds per request (goal: under 50 µs), first with
the same metrics snapshot as the request before (a pure strategy's result is then
memoized), then as a live gateway plans: a ``memory:`` store holding five minutes of answers for those
50 models records one more answer before each request (1,000 a second) and the planner reads
its snapshot, so the numbers changed since the last request (the line includes the store's
record and snapshot). A strategy that reads ``m.metrics`` then runs again over its pool
(O(models) for ``ngrok/auto``), unless it is an elementwise filter, whose answers are kept
per model and asked again only for the pairs whose numbers changed (routing/incremental.py;
the first strategy here is one).
No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import gc
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aigw_policy as ap  # noqa: E402
from aigw_policy.ir.ai_gateway import AiGateway  # noqa: E402
from aigw_policy.providers import classify  # noqa: E402
from aigw_policy.routing.compile import compile_route  # noqa: E402
from aigw_policy.routing.metrics import MemoryRouteMetrics  # noqa: E402
from aigw_policy.routing.model import Attempt, AttemptOutcome  # noqa: E402

STRATEGIES = [
    "ai.models.filter(m, m.getMetadata('tier') == 'gold' && m.metrics.global.error_rate.total < 0.05)",
    "ai.models.underCost('text.input', 1.0).sortBy('price')",
    "ai.models",
]
POLICY = """
on_http_request:
  - name: no-forbidden-model
    expressions: ["ai.model == 'forbidden'"]
    actions: [{type: deny}]
"""
T0 = 1_795_000_000.0


def config(n: int) -> AiGateway:
    providers = []
    per = max(n // 5, 1)
    for p in range(5):
        models = [{"id": f"m-{i}", "metadata": {"tier": "gold" if i % 10 == 0 else "silver"},
                   "max_context_window": 128_000} for i in range(per)]
        providers.append({"id": f"p{p}", "base_url": f"https://p{p}.example/v1", "models": models,
                          "api_keys": [{"value": f"${{secrets.get('p{p}', 'a')}}", "id": f"p{p}-a"},
                                       {"value": f"${{secrets.get('p{p}', 'b')}}", "id": f"p{p}-b"}]})
    return AiGateway.model_validate({
        "providers": providers, "only_allow_configured_models": True,
        "model_selection": {"strategy": STRATEGIES},
    })


def request(model: str, fallbacks: list[str]) -> dict[str, Any]:
    body = {"model": model, "models": fallbacks, "max_tokens": 200,
            "messages": [{"role": "user", "content": "summarise the meeting notes"}]}
    return {"request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                        "headers": {"content-type": "application/json"}, "body": body},
            "identity": {"key": "k1", "team": "research"}}


def metrics(n: int) -> dict[str, Any]:
    rng = random.Random(1)
    per = max(n // 5, 1)
    models = {(f"p{rng.randrange(5)}", f"m-{rng.randrange(per)}"): {
        "request_count": 100, "latency": {"upstream_ms_avg": rng.uniform(100, 900)},
        "error_rate": {"total": rng.uniform(0, 0.1)}} for _ in range(50)}
    return {"models": models, "keys": {}, "version": 1}


def live_store(route: Any, snapshot: dict[str, Any]) -> tuple[MemoryRouteMetrics, list[Attempt]]:
    """A ``memory:`` store holding five minutes of answers for the snapshot's pairs (one
    every 10 s each), and an attempt of each pair to record the next answers with."""
    store = MemoryRouteMetrics()
    attempts = [Attempt(1, route.providers[pid], mid, None, "openai") for pid, mid in snapshot["models"]]
    for j, a in enumerate(attempts):
        for t in range(0, 300, 10):
            store.record(a, AttemptOutcome(503 if (j + t) % 7 == 0 else 200, latency_ms=100.0 + 10 * j), T0 - 299 + t)
    return store, attempts


def best_median(fns: dict[str, Callable[[], Any]], seconds: float, rounds: int = 5) -> dict[str, float]:
    """The best per-round median µs of each function, rounds alternating between them."""
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples = []
            gc.collect()
            end = time.perf_counter() + seconds / rounds
            while time.perf_counter() < end:
                t = time.perf_counter()
                for _ in range(20):
                    fn()
                samples.append((time.perf_counter() - t) / 20 * 1e6)
            best[name] = min(best[name], statistics.median(samples))
    return best


def main(argv: list[str] | None = None) -> None:
    ap_ = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap_.add_argument("--models", type=int, default=500)
    ap_.add_argument("--seconds", type=float, default=1.0)
    args = ap_.parse_args(argv)
    t = time.perf_counter()
    route = compile_route(config(args.models))
    compile_ms = (time.perf_counter() - t) * 1e3
    engine = ap.Engine(ap.loads(POLICY))
    snapshot = metrics(args.models)
    rng = random.Random(0)
    print(f"routing_bench: {len(route.models)} models, {len(STRATEGIES)} strategies, "
          f"{len(snapshot['models'])} with live metrics; compile_route {compile_ms:.1f} ms (includes the catalog)")
    print(f"{'request':<34} {'without (µs)':>13} {'with plan (µs)':>15} {'added (µs)':>11} {'candidates':>11}")
    for label, req in (
        ("named model + 2 fallbacks", request("p1:m-37", ["p2:m-40", "m-50"])),
        ("ngrok/auto (strategies choose)", request("ngrok/auto", [])),
    ):
        http = req["request"]
        ai = classify({"method": http["method"], "url": http["url"], "headers": http["headers"], "body": http["body"]})
        act = {"identity.key": "k1", "identity.team": "research", "ai.model": ai.model or ""}
        plan = route.plan(ai, act, snapshot, rng)
        live = sum(1 for c in plan.candidates if c.skipped_because is None)

        def without() -> None:
            engine.evaluate(req, now=T0, expect_response=False)

        def with_plan() -> None:
            engine.evaluate(req, now=T0, expect_response=False)
            route.plan(ai, act, snapshot, rng)

        store, attempts = live_store(route, snapshot)
        turn = itertools.count()

        def with_fresh_metrics() -> None:
            engine.evaluate(req, now=T0, expect_response=False)
            i = next(turn)
            now = T0 + i / 1000  # 1,000 requests a second
            store.record(attempts[i % len(attempts)], AttemptOutcome(200, latency_ms=150.0), now)  # the last answer
            route.plan(ai, act, store.snapshot(now), rng)

        got = best_median({"without": without, "with": with_plan, "fresh": with_fresh_metrics}, args.seconds)
        added = got["with"] - got["without"]
        print(f"{label:<34} {got['without']:>13.1f} {got['with']:>15.1f} {added:>11.1f} {live:>11}")
        fresh = got["fresh"] - got["without"]
        print(f"{'  ... a live store, changed numbers':<34} {got['without']:>13.1f} {got['fresh']:>15.1f} {fresh:>11.1f}")


if __name__ == "__main__":
    main()
