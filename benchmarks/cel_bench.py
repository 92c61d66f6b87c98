"""CEL: compile once, evaluate many — ours against hand-written Python and other runtimes.

    .venv/bin/python benchmarks/cel_bench.py [--number N]

Prints per-evaluation medians (µs) for each condition and runtime, and the ratios of ours to
hand-written Python and to cel-expr-python (Google's C++ runtime). Baselines that are not
installed are shown as ``-``.

Then the *dyn path*: the same conditions through ``cel.compile(expr, DYN_DECLS)`` with
``map(string, dyn)`` declarations on the nested activation (what a library user without
the policy environment writes), against the same hand-written Python, in the same run.
Those two are timed in alternating rounds and the best round of each is kept, so a burst
of load on a shared machine does not land on one side only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigw_policy import cel, env  # noqa: E402

ACT = {
    "req": {
        "method": "POST",
        "host": "gw.example",
        "url": {"path": "/v1/chat/completions", "query_params": {}},
        "headers": {
            "content-type": ["application/json"],
            "x-team": ["research"],
            "user-agent": ["openai-python/1.40"],
        },
    },
    "identity": {"key": "k1", "user": "alice", "team": "research", "org": "acme", "tier": "pro"},
    "ai": {
        "provider": "openai",
        "model": "gpt-4.1",
        "max_output_tokens": 1024,
        "input_tokens": 350,
        "stream": False,
        "prompt": "Please summarise the attached quarterly report for the board.",
        "tools": ["search", "code"],
    },
    "msgs": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "summarise this"},
    ],
}

# name, CEL, policy-env CEL (ours), hand-written Python
CASES = [
    (
        "4-clause request condition",
        "req.method == 'POST' && ai.model == 'gpt-4.1' && identity.team != 'sales' && ai.max_output_tokens <= 4096",
        lambda a: a["req"]["method"] == "POST"
        and a["ai"]["model"] == "gpt-4.1"
        and a["identity"]["team"] != "sales"
        and a["ai"]["max_output_tokens"] <= 4096,
    ),
    (
        "header lookup",
        "'x-team' in req.headers && req.headers['x-team'][0] == 'research'",
        lambda a: "x-team" in a["req"]["headers"] and a["req"]["headers"]["x-team"][0] == "research",
    ),
    (
        "list membership",
        "ai.model in ['gpt-4.1', 'claude-opus-4', 'gemini-2.5-pro'] && identity.tier in ['pro', 'enterprise']",
        lambda a: a["ai"]["model"] in ("gpt-4.1", "claude-opus-4", "gemini-2.5-pro")
        and a["identity"]["tier"] in ("pro", "enterprise"),
    ),
    (
        "macro over messages",
        "msgs.exists(m, m.role == 'system') && msgs.all(m, size(m.content) < 1000)",
        lambda a: any(m["role"] == "system" for m in a["msgs"])
        and all(len(m["content"]) < 1000 for m in a["msgs"]),
    ),
    (
        "regex",
        "ai.prompt.matches('(?i)quarterly\\\\s+report')",
        None,
    ),
]

EXTRA = {"msgs": "list(map(string, string))"}
DYN_DECLS = {"req": "map(string, dyn)", "identity": "map(string, dyn)", "ai": "map(string, dyn)",
             "msgs": "list(dyn)"}


def _handwritten_regex():  # type: ignore[no-untyped-def]
    import re

    r = re.compile(r"(?i)quarterly\s+report")
    return lambda a: r.search(a["ai"]["prompt"]) is not None


def median_us(fn, number: int) -> float:  # type: ignore[no-untyped-def]
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def bench_ours(expr: str, number: int) -> tuple[float, object]:
    prog = env.compile_condition(expr, EXTRA)
    f = prog.function
    act = env.flatten_activation(ACT)  # the gateway builds this once per request
    return median_us(lambda: f(act), number), prog(act)


def paired_best_us(f, g, number: int, rounds: int = 9) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """``f`` and ``g`` timed in alternating rounds: the best round of each (µs a call)."""
    best_f = best_g = float("inf")
    for _ in range(rounds):
        best_f = min(best_f, timeit.timeit(f, number=number) / number * 1e6)
        best_g = min(best_g, timeit.timeit(g, number=number) / number * 1e6)
    return best_f, best_g


def bench_dyn(expr: str, hand, number: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    prog = cel.compile(expr, DYN_DECLS)
    f = prog.function
    ours, py = paired_best_us(lambda: f(ACT), lambda: hand(ACT), number)
    return ours, py, prog(ACT)


def bench_cel_expr_python(expr: str, number: int) -> float | None:
    try:
        from cel_expr_python import cel as c
    except ImportError:
        return None
    dyn_map = c.Type.Map(c.Type.STRING, c.Type.DYN)
    env = c.NewEnv(
        variables={k: dyn_map for k in ("req", "identity", "ai")} | {"msgs": c.Type.List(c.Type.DYN)}
    )
    e = env.compile(expr)
    assert e.eval(data=ACT).value() is True, expr
    return median_us(lambda: e.eval(data=ACT), number)


def bench_celpy(expr: str, number: int, compiled: bool) -> float | None:
    try:
        import celpy
    except ImportError:
        return None
    try:
        env = celpy.Environment(runner_class=celpy.CompiledRunner) if compiled else celpy.Environment()
        prg = env.program(env.compile(expr))
        act = {k: celpy.json_to_cel(v) for k, v in ACT.items()}
        if prg.evaluate(act) is not True and prg.evaluate(act) != celpy.celtypes.BoolType(True):
            return None
        return median_us(lambda: prg.evaluate(act), max(1, number // 50))
    except Exception:  # noqa: BLE001
        return None


def bench_cel_rust(expr: str, number: int) -> float | None:
    try:
        import cel as rcel  # common-expression-language
    except ImportError:
        return None
    try:
        p = rcel.compile(expr)
        if p.execute(ACT) is not True:
            return None
        return median_us(lambda: p.execute(ACT), max(1, number // 5))
    except Exception:  # noqa: BLE001
        return None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:8.2f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--number", type=int, default=20000)
    args = ap.parse_args()
    n = args.number
    header = f"{'condition':<28} {'ours':>8} {'python':>8} {'celpy-c':>8} {'celpy-i':>8} {'cel-cpp':>8} {'cel-rs':>8} {'ours/py':>8} {'cpp/ours':>8}"
    print(header)
    print("-" * len(header))
    r_py, r_cpp = [], []
    for name, expr, hand in CASES:
        hand = hand or _handwritten_regex()
        ours, value = bench_ours(expr, n)
        assert value is True, (name, value)
        py = median_us(lambda: hand(ACT), n)
        cpp = bench_cel_expr_python(expr, n)
        cp = bench_celpy(expr, n, True)
        ci = bench_celpy(expr, n, False)
        rs = bench_cel_rust(expr, n)
        r_py.append(ours / py)
        if cpp:
            r_cpp.append(cpp / ours)
        print(
            f"{name:<28} {fmt(ours)} {fmt(py)} {fmt(cp)} {fmt(ci)} {fmt(cpp)} {fmt(rs)} "
            f"{ours / py:8.2f} {fmt(cpp / ours if cpp else None)}"
        )
    print("-" * len(header))
    print(f"median ours/hand-written python: {statistics.median(r_py):.2f}x (target <= 2x)")
    if r_cpp:
        print(f"median cel-expr-python/ours:     {statistics.median(r_cpp):.2f}x (target >= 3x)")
    print()
    dyn_header = f"{'dyn path (map(string, dyn))':<28} {'ours':>8} {'python':>8} {'ours/py':>8}"
    print(dyn_header)
    print("-" * len(dyn_header))
    r_dyn = []
    for name, expr, hand in CASES:
        hand = hand or _handwritten_regex()
        ours, py, value = bench_dyn(expr, hand, n)
        assert value is True, (name, value)
        r_dyn.append(ours / py)
        print(f"{name:<28} {fmt(ours)} {fmt(py)} {ours / py:8.2f}")
    print("-" * len(dyn_header))
    print(f"median dyn-path ours/hand-written python: {statistics.median(r_dyn):.2f}x (target <= 2x); "
          f"worst {max(r_dyn):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
