"""The cost of one usage, as real traffic asks for it: a new combination of token counts on
almost every request (a completion's usage, a ``cost`` limit's estimate).

    python benchmarks/price_bench.py [--n 2000] [--rounds 5]

For each model, the median microseconds per ``PriceBook.cost`` of
(a) a usage seen before (the cost cache's hit: what a benchmark that repeats one usage measures);
(b) a new usage priced by its plan (providers/price_plan.py);
(c) a new usage priced by genai-prices' own call (``price_plan.PLANS`` off: the way before plans);
and (c)/(b). Rounds interleave the three. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from itertools import count

from aigw_policy.providers import PriceBook, Usage, price_plan

AT = datetime(2026, 11, 18, tzinfo=UTC)
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4.1-mini"), ("anthropic", "claude-sonnet-4-6"),
          ("gemini", "gemini-2.5-pro")]


def timed(book: PriceBook, provider: str, model: str, usages: list[Usage]) -> list[float]:
    out = []
    for usage in usages:
        t = time.perf_counter_ns()
        book.cost(provider, model, usage, at=AT)
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="costs per measurement and round")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'model':<32} {'hit us':>7} {'plan us':>8} {'library us':>11} {'library/plan':>13}")
    fresh = count(1)
    for provider, model in MODELS:
        book = PriceBook()
        seen = Usage.of(1200, 300, cached_input_tokens=400)
        book.cost(provider, model, seen, at=AT)
        hit, plan, library = [], [], []

        def new() -> list[Usage]:  # counts no earlier cost had: every one a miss of the cache
            return [Usage.of(1000 + (k := next(fresh)), 200 + k % 997, cached_input_tokens=k % 500)
                    for _ in range(args.n)]
        for _ in range(args.rounds):
            hit += timed(book, provider, model, [seen] * args.n)
            plan += timed(book, provider, model, new())
            price_plan.PLANS = False
            try:
                library += timed(book, provider, model, new())
            finally:
                price_plan.PLANS = True
        a, b, c = (statistics.median(x) for x in (hit, plan, library))
        print(f"{provider + '/' + model:<32} {a:>7.1f} {b:>8.1f} {c:>11.1f} {c / b:>12.1f}x")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
