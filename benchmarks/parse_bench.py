"""How reading a policy scales with its size, for each surface form and for hostile input.

    python benchmarks/parse_bench.py [--quick]

Prints, per form, the median time to read documents of growing size and the time per rule
(or per character for nesting), so a non-linear parser shows up as a growing ratio.
No assertions: machines are shared and noisy; read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import aigw_policy as ap
from aigw_policy.loader import read


def dsl_doc(rules: int) -> str:
    body = "\n".join(
        f'    rule "r{i}" {{\n      when identity.team == "t{i}" && ai.model in ["m{i}", "x"]\n'
        f'      token-limit {{ name: "l{i}", capacity: 200_000, rate: 1m, '
        f"bucket_key: [identity.key] }}\n    }}"
        for i in range(rules)
    )
    return f'policy "bench" {{\n  on request {{\n{body}\n  }}\n}}\n'


def median_seconds(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    sizes = (10, 100, 400) if args.quick else (10, 100, 1000)
    repeat = 3 if args.quick else 5

    print(f"{'form':<6} {'rules':>6} {'median ms':>10} {'us/rule':>9}")
    for size in sizes:
        dsl = dsl_doc(size)
        policy = ap.loads(dsl, "dsl")
        from aigw_policy.syntax.yaml_form import dump_json, dump_yaml

        for form, text in (("dsl", dsl), ("yaml", dump_yaml(policy)), ("json", dump_json(policy))):
            t = median_seconds(lambda: read(text, format=form), repeat)
            print(f"{form:<6} {size:>6} {t * 1e3:>10.2f} {t / size * 1e6:>9.1f}")

    print()
    print(f"{'hostile input':<28} {'chars':>8} {'median ms':>10} {'ns/char':>8}")
    depths = (1_000, 10_000, 50_000) if not args.quick else (1_000, 10_000)
    cases = {
        "dsl: nested parentheses": lambda n: "policy { on request { rule { when "
        + "(" * n + "1" + ")" * n + " deny } } }",
        "dsl: random-ish tokens": lambda n: "policy { " + "rule { when " * (n // 12),
        "yaml: nested flow lists": lambda n: "[" * n,
        "json: nested arrays": lambda n: "[" * n + "]" * n,
    }
    for name, make in cases.items():
        fmt = name.split(":")[0]
        for n in depths:
            text = make(n)
            t = median_seconds(lambda: read(text, format=fmt), repeat)
            print(f"{name:<28} {len(text):>8} {t * 1e3:>10.2f} {t / len(text) * 1e9:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
