"""Why the decision's time ratio moves with the CPU: what a Python bytecode costs as the code
run per call grows.

    python benchmarks/dispatch_knee.py [--policy acme-gateway] [--seconds 0.6]

Two measurements, medians of interleaved rounds, nothing asserted (a benchmark, not a test):

1. **Straight-line code.** A generated function of N statements drawn at random from eight
   kinds (``x = a + b``, ``x = d[k]``, ...; four bytecodes each), run over and over: the time a
   statement for N from 100 to 1,600, beside the same N of two kinds alternating and a loop
   over the eight. On the CPUs of this project's machines, the random code costs about what
   the others cost up to some N, then up to ~2x as much a statement: the interpreter's
   dispatch (one indirect jump a bytecode) stops being predicted once the sequence of
   bytecodes a call runs is longer than the CPU's predictor holds. Where that knee sits is a
   property of the CPU.
2. **The same padding after a decision.** ``engine_bench.py``'s floor and engine, each
   followed by K such statements: what K statements add after the floor's decision
   (~1,100 bytecodes) and after the engine's (~2,300). Where the engine's decision is past the
   knee and the floor's is not, each bytecode the engine runs costs more than the floor's do,
   and the time ratio is larger than the instruction ratio (docs/engine.md, "Speed").
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine_bench as eb  # noqa: E402

import aigw_policy as ap  # noqa: E402
from aigw_policy.stores import MemoryStore  # noqa: E402

KINDS = ["x = a + b", "x = d[k]", "x = a < b", "x = t[1]", "x = o.attr", "x = len(t)", "x = a * b", "x = k in d"]


class _O:
    attr = 1


ARGS = (1, 2, {"k": 1}, "k", (1, 2), _O())


def straight(n: int, seed: int, kinds: list[str] | None = None) -> Callable[..., Any]:
    """A function of ``n`` statements: drawn from ``KINDS`` (``kinds`` None), else ``kinds`` in turn."""
    rnd = random.Random(seed)
    lines = [rnd.choice(KINDS) if kinds is None else kinds[i % len(kinds)] for i in range(n)] or ["x = 0"]
    scope: dict[str, Any] = {}
    exec("def f(a, b, d, k, t, o):\n" + "".join(f"    {s}\n" for s in lines) + "    return x\n", scope)  # noqa: S102
    return scope["f"]  # type: ignore[no-any-return]


def looped(n: int) -> Callable[..., Any]:
    def f(a: Any, b: Any, d: Any, k: Any, t: Any, o: Any) -> Any:
        for _ in range(n // 8):
            x = a + b; x = d[k]; x = a < b; x = t[1]; x = o.attr; x = len(t); x = a * b; x = k in d  # noqa: E702
        return x
    return f


def per_call_ns(fn: Callable[..., Any], calls: int = 2000) -> float:
    for _ in range(200):
        fn(*ARGS)
    clock = time.perf_counter_ns
    out = []
    for _ in range(calls):
        t = clock()
        fn(*ARGS)
        out.append(clock() - t)
    return statistics.median(out)


def knee(rounds: int) -> None:
    print("straight-line code: ns a statement (4 bytecodes), median of rounds")
    print(f"{'N':>6} {'random':>8} {'2 kinds':>8} {'loop':>8}")
    for n in (100, 200, 400, 600, 800, 1200, 1600):
        fns = [straight(n, n), straight(n, n, KINDS[:2]), looped(n)]
        got: list[list[float]] = [[], [], []]
        for _ in range(rounds):
            for i, fn in enumerate(fns):
                got[i].append(per_call_ns(fn) / n)
        print(f"{n:>6} " + " ".join(f"{statistics.median(g):>8.1f}" for g in got))


def padded(name: str, seconds: float, rounds: int) -> None:
    policy = ap.load(eb.EXAMPLES / f"{name}.aigw")
    reqs = eb.requests_for(name)
    floor, f = eb.FLOORS[name], eb.Floor()
    engine = ap.Engine(policy, store=MemoryStore())
    print(f"\n{name}: K random statements after each decision (us, median of {rounds} rounds)")
    print(f"{'K':>6} {'floor':>8} {'engine':>8} {'ratio':>6} {'floor +':>8} {'engine +':>9}")
    base: list[float] = []
    at = 0
    for k in (0, 50, 100, 200, 400):
        pad = straight(k, k)
        runs: list[Callable[[Any, float], Any]] = [
            lambda r, now: (floor(f, r, now), pad(*ARGS)),
            lambda r, now: (engine.evaluate(r, now=now, expect_response=False), pad(*ARGS)),
        ]
        meds: list[list[float]] = [[], []]
        for _ in range(rounds):
            for i, fn in enumerate(runs):
                got, _, _ = eb.samples_ns(fn, reqs, seconds / rounds, at, eb.T0 + at)
                at += len(got)
                meds[i].append(statistics.median(got) / 1000)
        fl, en = (statistics.median(m) for m in meds)
        if not base:
            base = [fl, en]
        print(f"{k:>6} {fl:>8.2f} {en:>8.2f} {en / fl:>6.2f} {fl - base[0]:>8.2f} {en - base[1]:>9.2f}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", default="acme-gateway", choices=sorted(eb.FLOORS))
    p.add_argument("--seconds", type=float, default=0.6, help="time per line and run (floor or engine)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    print(f"python {sys.version.split()[0]}, load average {eb._load()}")
    knee(args.rounds)
    padded(args.policy, args.seconds, args.rounds)
    print(f"load average {eb._load()}")


if __name__ == "__main__":
    main()
