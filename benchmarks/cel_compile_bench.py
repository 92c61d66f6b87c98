"""CEL: how long a policy of 1,000 distinct expressions takes to compile and to reload.

    .venv/bin/python benchmarks/cel_compile_bench.py [--n 1000] [--per-expression]

Prints: cold compile (parse, then check + codegen + Python compile + writing the disk
cache, with the parser's share), warm in-process (the in-memory cache), and a cached reload
in a fresh process (the on-disk cache: no parsing, no checking; import time is shown apart).
Targets: cold < 1 s, cached reload < 50 ms.

The policy is compiled as one batch (``env.compile_conditions``: one cache file);
``--per-expression`` uses ``env.compile_condition`` per expression (one file each, which
costs ~1 ms per file created on some file systems).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATES = [
    "req.method == 'POST' && ai.model in ['gpt-{i}', 'claude-{i}'] && identity.team != 't{i}' && ai.max_output_tokens <= {i}0",
    "req.url.path.startsWith('/v{i}/') && getReqHeader('x-team').exists(h, h == 'team-{i}')",
    "ai.input_tokens + ai.max_output_tokens > {i}000 || identity.labels['tier'] == 'free-{i}'",
    "ai.prompt.matches('(?i)secret-{i}') && !('admin' in ai.tools)",
    "inCidrRange(conn.client_ip, '10.{i}.0.0/16') && limits['tpm-{i}'].remaining < 100",
]


def expressions(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].replace("{i}", str(i)) for i in range(n)]


RELOAD = """
import sys, time
t0 = time.perf_counter()
from aigw_policy import cel, env
from aigw_policy.cel import cache
cache.engine_version()
t1 = time.perf_counter()
exprs = {exprs!r}
if {per_expression!r}:
    progs = [env.compile_condition(e, cache_dir={cache_dir!r}) for e in exprs]
else:
    progs = env.compile_conditions(exprs, cache_dir={cache_dir!r})
t2 = time.perf_counter()
assert all(p.python_source for p in progs)
print(f"{{(t1 - t0) * 1000:.1f}} {{(t2 - t1) * 1000:.1f}}")
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--per-expression", action="store_true")
    args = ap.parse_args()
    n, per_expression = args.n, args.per_expression
    exprs = expressions(n)

    from aigw_policy import cel, env
    from aigw_policy.cel.parser import parse

    t = time.perf_counter()
    nodes = [parse(e) for e in exprs]
    t_parse = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as cache_dir:
        t = time.perf_counter()
        if per_expression:
            for e, node in zip(exprs, nodes):
                env.compile_condition(e, node=node, cache_dir=cache_dir)
        else:
            progs = env.compile_conditions(exprs, nodes=nodes, cache_dir=cache_dir)
            assert all(isinstance(p, cel.Program) for p in progs)
        t_rest = time.perf_counter() - t

        t = time.perf_counter()
        if per_expression:
            for e in exprs:
                env.compile_condition(e, cache_dir=cache_dir)
        else:
            env.compile_conditions(exprs, cache_dir=cache_dir)
        t_warm = time.perf_counter() - t

        code = RELOAD.format(exprs=exprs, cache_dir=cache_dir, per_expression=per_expression)
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        t_import, t_reload = float(out[0]), float(out[1])

    cold = t_parse + t_rest
    print(f"{n} distinct expressions ({'one file each' if per_expression else 'one batch'})")
    print(f"cold compile:             {cold * 1000:8.1f} ms  (target < 1000 ms)")
    print(f"  parse (lark):           {t_parse * 1000:8.1f} ms  ({t_parse / cold:.0%})")
    print(f"  check+codegen+compile:  {t_rest * 1000:8.1f} ms  ({t_rest / cold:.0%}, incl. writing the disk cache)")
    print(f"warm, in-process:         {t_warm * 1000:8.1f} ms")
    print(f"cached reload, fresh process: {t_reload:6.1f} ms  (target < 50 ms; import {t_import:.0f} ms apart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
