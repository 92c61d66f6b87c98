"""Where a decision's time goes: the engine's steps added one at a time, against the floor.

    python benchmarks/decision_parts.py [--policy acme-gateway] [--rounds 6] [--n 4000]

For one example policy and the requests of ``engine_bench.py``, times (median us, rounds
interleaved) the hand-written floor and then, cumulatively, what ``Engine.evaluate`` does:

1. the request checked (``plain_request``) and classified (``classify_request``);
2. + the activation (``cp.activation.build``);
3. + the evaluation state (``Flow``);
4. + the request phase (``request_plain``);
5. + the response phase of the gateway's own answer, when a rule denied the request;
6. + the decision (``Decision.from_flow``);
7. ``Engine.evaluate`` itself (its bookkeeping around the same steps).

Each line prints its time and its ratio to the floor. A step's cost is the difference with
the line above it, measured in sequence (a step costs more after the others than timed
alone: the caches and predictors are shared, docs/engine.md "Speed"). Also printed: an
"ideal" decision that does steps 1 and 2, then runs the policy's first request-phase rule's
compiled condition and builds a small object, with none of the engine's state: what steps
3-7 would cost were they nearly free.
Only for policies without limits on the path timed (the steps after 4 assume no store call).
No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine_bench as eb  # noqa: E402

import aigw_policy as ap  # noqa: E402
from aigw_policy.engine.decision import Decision  # noqa: E402
from aigw_policy.engine.flow import Flow  # noqa: E402
from aigw_policy.engine.phases import answered_plain, request_plain  # noqa: E402
from aigw_policy.env.activation import classify_request  # noqa: E402
from aigw_policy.env.plain_request import plain_request  # noqa: E402
from aigw_policy.stores import MemoryStore  # noqa: E402


def steps(engine: Any) -> dict[str, Callable[[dict[str, Any], float], Any]]:
    cp = engine.compiled
    first = cp.request_rules[0].exprs[0].fn if cp.request_rules and cp.request_rules[0].exprs else None

    class Small:
        __slots__ = ("ai", "act", "verdict")

    def ideal(r: dict[str, Any], now: float) -> Any:
        req = plain_request(r)
        ai = classify_request(req, None)
        act = cp.activation.build(req, ai, req.id, now)
        d = Small()
        d.ai, d.act = ai, act
        try:
            d.verdict = first(act) if first is not None else None
        except Exception:  # noqa: BLE001 - the cost is the call
            d.verdict = None
        return d

    def upto(n: int) -> Callable[[dict[str, Any], float], Any]:
        def run(r: dict[str, Any], now: float) -> Any:
            req = plain_request(r)
            ai = classify_request(req, None)
            if n < 2:
                return ai
            act = cp.activation.build(req, ai, req.id, now)
            if n < 3:
                return act
            flow = Flow(cp, req.id, now, act, ai, req.identity, engine.prices, False)
            if n < 4:
                return flow
            request_plain(flow)
            if n >= 5 and flow.stop is not None and flow.stop.verdict == "deny":
                answered_plain(flow, flow.stop)
            if n < 6:
                return flow
            done = flow.stop is not None and flow.stop.verdict == "deny"
            return Decision.from_flow(flow, complete=done, snapshot=False)  # (as evaluate, nobody to complete it)
        return run

    return {
        "1 check + classify": upto(1), "2 + activation": upto(2), "3 + flow": upto(3),
        "4 + request phase": upto(4), "5 + response phase": upto(5), "6 + decision": upto(6),
        "7 Engine.evaluate": lambda r, now: engine.evaluate(r, now=now, expect_response=False),
        "ideal (2 + a condition)": ideal,
    }


def median_us(fn: Callable[[dict[str, Any], float], Any], reqs: list[dict[str, Any]], n: int, start: int) -> float:
    gc.collect()
    out = []
    clock = time.perf_counter_ns
    for i in range(start, start + n):
        r = {**reqs[i % len(reqs)], "id": f"r{i}"}
        t = clock()
        fn(r, eb.T0 + i * 0.001)
        out.append(clock() - t)
    return statistics.median(out) / 1000


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", default="acme-gateway", choices=sorted(eb.FLOORS))
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--n", type=int, default=4000, help="decisions per line and round")
    args = p.parse_args(argv)
    reqs = eb.requests_for(args.policy)
    engine = ap.Engine(ap.load(eb.EXAMPLES / f"{args.policy}.aigw"), store=MemoryStore())
    engine.evaluate({**reqs[0], "id": "warm"}, now=eb.T0, expect_response=False)  # the phases' code is made
    f = eb.Floor()
    floor = eb.FLOORS[args.policy]
    fns: dict[str, Callable[[dict[str, Any], float], Any]] = {"floor": lambda r, now: floor(f, r, now)}
    fns.update(steps(engine))
    got: dict[str, list[float]] = {k: [] for k in fns}
    print(f"{args.policy}: load average {eb._load()}")
    for k in range(args.rounds):
        for name, fn in fns.items():
            got[name].append(median_us(fn, reqs, args.n, k * args.n))
    base = statistics.median(got["floor"])
    for name, v in got.items():
        m = statistics.median(v)
        print(f"  {name:<26} {m:7.2f} us  {m / base:5.2f}x")
    print(f"load average {eb._load()}")


if __name__ == "__main__":
    main()
