"""The engine as ``aigw-policy serve`` calls it for one forwarded request, against a
hand-written floor doing the same work (engine_bench.py style).

    python benchmarks/engine_serve_bench.py [--rounds 9] [--n 400] [--profile]

The policy is benchmarks/gateway_compare.py's (a deny rule, a rate limit and a token limit
keyed on ``identity.team``), the store the in-memory one, no ledger (``serve`` without
``--ledger``). Per request, as gateway/exchange.py does it:

- request: the engine request dict as ``Exchange._engine_request`` builds it (the gateway
  key's identity, httpx's headers without the credential, the URL, the parsed body, the
  client address), then ``await Engine.aevaluate`` (validation, classification, the rules,
  the reserve, parking the request for ``complete``) and the decision's effects and route;
- complete: ``await Engine.acomplete`` with the response dict as ``Exchange._complete``
  builds it from the stub's OpenAI chat completion (status, headers, parsed body with usage):
  reviving the parked request, usage and cost, the reconcile, the final decision and its effects.
  The stub reports the same usage every time, so the engine's cost cache always hits;
  ``--vary-usage`` gives each answer new token counts, as real traffic does.

The floor does the same work by hand: ``providers.classify``, the deny rule, one
all-or-nothing reserve of the two charges, then the usage read off the answer and one
reconcile. Rounds interleave the floor and the engine (``--n`` requests each); printed are
the median microseconds per stage over all samples, the engine/floor ratio per stage as the
median of the rounds' ratios with its range, and the load average before and after.
``--profile`` prints the top of a cProfile of the engine path instead. No assertions: a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
from typing import Any

import aigw_policy as ap
from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.providers import PriceBook, classify
from aigw_policy.providers.usage_openai import openai_usage
from aigw_policy.stores import MemoryStore

from gateway_compare import CHAT, POLICY  # noqa: E402  what serve gets and enforces in gateway_compare.py
IDENTITY = {"key": "k1", "user": "u", "team": "research", "org": "o"}  # as keys.yaml gives it
HEADERS = {"host": "127.0.0.1:8080", "accept": "*/*", "accept-encoding": "gzip, deflate", "connection": "keep-alive",
           "user-agent": "python-httpx/0.28.1", "content-length": "95", "content-type": "application/json"}
ANSWER = {"id": "chatcmpl-stub", "object": "chat.completion", "created": 1, "model": "gpt-4o",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from the stub!"},
                       "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}}
ANSWER_HEADERS = {"content-type": "application/json", "content-length": "230", "date": "Sat, 05 Dec 2026 10:00:00 GMT",
                  "server": "uvicorn"}

RPM = LimitSpec("team-rpm", "requests", "token_bucket", 1_000_000, 60)
TPM = LimitSpec("team-tpm", "tokens", "token_bucket", 1_000_000_000, 60)


def engine_request(i: int) -> dict[str, Any]:
    """What ``Exchange._engine_request`` hands the engine for one gateway request."""
    return {"id": f"req-{i:020x}", "identity": dict(IDENTITY),
            "request": {"method": "POST", "url": "http://127.0.0.1:8080/v1/chat/completions",
                        "headers": dict(HEADERS), "body": {**CHAT, "messages": [dict(CHAT["messages"][0])]}},
            "conn": {"client_ip": "127.0.0.1"}}


VARY = False
"""``--vary-usage``: each answer reports token counts no earlier answer had, as real traffic does."""


def engine_response(i: int = 0) -> dict[str, Any]:
    """What ``Exchange._complete`` hands ``acomplete`` for the stub's answer (the ``i``-th)."""
    usage = dict(ANSWER["usage"])
    if VARY:
        usage = {"prompt_tokens": 21 + i % 100_003, "completion_tokens": 5 + i % 997}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"status_code": 200, "headers": dict(ANSWER_HEADERS), "body": {**ANSWER, "usage": usage}}


class Floor:
    """The same decision and settlement written by hand, with the same store calls."""

    def __init__(self) -> None:
        self.store = MemoryStore()

    def request(self, r: dict[str, Any], now: float) -> tuple[str, int]:
        ai = classify(r["request"])
        team = r["identity"]["team"]
        if ai.model == "gpt-4.1" and team != "research":
            return "deny", 403
        charges = [Charge(RPM, team, 1.0), Charge(TPM, team, float(ai.input_tokens + (ai.max_output_tokens or 4096)))]
        for o in self.store.reserve(r["id"], charges, now):
            if o.outcome == "limited":
                return "deny", 429
        return "allow", 200

    def complete(self, rid: str, response: dict[str, Any], now: float) -> int:
        usage = openai_usage(response["body"].get("usage"))
        total = usage.total_tokens if usage is not None else 0
        self.store.reconcile(rid, {"team-tpm": float(total)}, now)
        return total


async def engine_round(engine: ap.Engine, start: int, n: int) -> tuple[list[float], list[float]]:
    req_t: list[float] = []
    done_t: list[float] = []
    clock = time.perf_counter
    for i in range(start, start + n):
        request = engine_request(i)
        t0 = clock()
        decision = await engine.aevaluate(request)
        _ = decision.effects, decision.route  # what the exchange reads before forwarding
        t1 = clock()
        final = await engine.acomplete(request["id"], engine_response(i))
        _ = final.effects  # and after
        t2 = clock()
        assert decision.verdict == "allow" and final.verdict == "allow", (decision.reason, final.reason)
        req_t.append(t1 - t0)
        done_t.append(t2 - t1)
    return req_t, done_t


def floor_round(floor: Floor, start: int, n: int) -> tuple[list[float], list[float]]:
    req_t: list[float] = []
    done_t: list[float] = []
    clock = time.perf_counter
    for i in range(start, start + n):
        request = engine_request(i)
        t0 = clock()
        verdict, _ = floor.request(request, time.time())
        t1 = clock()
        floor.complete(request["id"], engine_response(i), time.time())
        t2 = clock()
        assert verdict == "allow"
        req_t.append(t1 - t0)
        done_t.append(t2 - t1)
    return req_t, done_t


def make_engine() -> ap.Engine:
    """As gateway/app.py makes it for ``serve`` (memory store, default price book, no ledger)."""
    return ap.Engine(ap.loads(POLICY), store=MemoryStore(), prices=PriceBook())


def profile(n: int) -> None:
    import cProfile
    import pstats

    engine = make_engine()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(engine_round(engine, 0, 200))
    prof = cProfile.Profile()
    prof.enable()
    loop.run_until_complete(engine_round(engine, 1000, n))
    prof.disable()
    loop.close()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)


def main() -> None:
    ap_ = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap_.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    ap_.add_argument("--n", type=int, default=400, help="requests per side per round (default 400)")
    ap_.add_argument("--profile", action="store_true", help="cProfile the engine path instead")
    ap_.add_argument("--vary-usage", action="store_true",
                     help="new token counts in every answer (real traffic: the engine's price cache misses)")
    args = ap_.parse_args()
    global VARY
    VARY = args.vary_usage
    if args.profile:
        profile(args.n * args.rounds)
        return
    load0 = os.getloadavg()
    engine, floor = make_engine(), Floor()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(engine_round(engine, 0, 200))  # warm: compile caches, imports
    floor_round(floor, 0, 200)
    stages = ("request", "complete", "whole")
    samples: dict[str, dict[str, list[float]]] = {side: {s: [] for s in stages} for side in ("floor", "engine")}
    ratios: dict[str, list[float]] = {s: [] for s in stages}
    gc.collect()
    for r in range(args.rounds):
        start = (r + 1) * 100_000
        got = {"floor": floor_round(floor, start, args.n),
               "engine": loop.run_until_complete(engine_round(engine, start + 50_000, args.n))}
        med: dict[str, dict[str, float]] = {}
        for side, (req_t, done_t) in got.items():
            whole = [a + b for a, b in zip(req_t, done_t)]
            for name, values in zip(stages, (req_t, done_t, whole)):
                samples[side][name].extend(values)
            med[side] = {name: statistics.median(v) for name, v in zip(stages, (req_t, done_t, whole))}
        for s in stages:
            ratios[s].append(med["engine"][s] / med["floor"][s])
    loop.close()
    load1 = os.getloadavg()
    print(f"engine as serve calls it: {args.rounds} interleaved rounds of {args.n} requests per side, "
          f"load average {load0[0]:.2f} -> {load1[0]:.2f}")
    print(f"{'stage':10} {'floor us':>9} {'engine us':>10} {'engine/floor':>13} {'(range)':>14}")
    for s in stages:
        f_us = statistics.median(samples["floor"][s]) * 1e6
        e_us = statistics.median(samples["engine"][s]) * 1e6
        rs = ratios[s]
        print(f"{s:10} {f_us:9.1f} {e_us:10.1f} {statistics.median(rs):12.2f}x {min(rs):6.2f}-{max(rs):.2f}x")


if __name__ == "__main__":
    main()
