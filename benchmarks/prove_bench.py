"""`aigw-policy prove` on a 50-rule policy: `rules` (each rule's answer, witnesses built and
replayed through the engine) and `equiv` (the policy against itself, a proof, and against a
copy with one status changed, a counterexample).

    .venv/bin/python benchmarks/prove_bench.py [--repeat N] [--breakdown]

Prints the median seconds of each over N runs (default 3), with the load average before and
after. `rules` runs interleaved with a baseline in the same process, every check one run of
z3's default solver with all of the check's time (as before the series of short attempts,
aigw_policy/prove/solving.py), and prints the ratio. ``--breakdown`` adds, for the last `rules` run, each rule's answer and every solver
check it made (the question, its answer, seconds, attempts and the solver configuration that answered), and the totals per question.
The policy mixes what real ones hold: team and tier gates, model allow-lists and globs,
prefix and regex model checks, token caps, limits, set-model downgrades, header and label
lookups.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigw_policy.engine.compile import compile_policy  # noqa: E402
from aigw_policy.loader import loads  # noqa: E402
from aigw_policy.prove import solving  # noqa: E402
from aigw_policy.prove.questions import Budget, equiv, rules  # noqa: E402

TEAMS = ["support", "research", "sales", "eng", "ops"]
MODELS = ["gpt-4.1", "gpt-4o", "claude-opus-4", "claude-sonnet-4", "gemini-2.5-pro"]


def policy(n: int = 50, status: int = 403) -> str:
    out = ["default: allow", "on_http_request:"]
    for i in range(n):
        team, model = TEAMS[i % len(TEAMS)], MODELS[(i // 2) % len(MODELS)]
        kind = i % 10
        out.append(f"  - name: r{i}")
        if kind == 0:
            out.append(f"    expressions: [\"identity.team == '{team}' && ai.model == '{model}'\"]")
            out.append(f"    actions: [{{type: deny, config: {{status_code: {status}}}}}]")
        elif kind == 1:
            out.append(f"    expressions: [\"identity.tier in ['free', 'trial'] && ai.model.startsWith('{model[:6]}')\"]")
            out.append("    actions: [{type: model-access, config: {allow: ['*mini*', 'openai/*']}}]")
        elif kind == 2:
            out.append(f"    expressions: [\"ai.max_output_tokens > {1000 + i * 10}\"]")
            out.append(f"    actions: [{{type: max-tokens, config: {{output: {1000 + i * 10}, mode: clamp}}}}]")
        elif kind == 3:
            out.append(f"    expressions: [\"has(identity.team) && identity.team == '{team}'\"]")
            out.append(f"    actions: [{{type: token-limit, config: {{name: tpm-{i}, capacity: 100000, rate: 60s, "
                       "bucket_key: [identity.team]}}]")
        elif kind == 4:
            out.append(f"    expressions: [\"ai.model.matches('^claude-(opus|sonnet)-[0-9]$') && identity.team == '{team}'\"]")
            out.append("    actions: [{type: set-model, config: {model: claude-haiku-4}}]")
        elif kind == 5:
            out.append(f"    expressions: [\"'env' in identity.labels && identity.labels['env'] == 'prod-{i}'\"]")
            out.append("    actions: [{type: log}]")
        elif kind == 6:
            out.append(f"    expressions: [\"req.headers['x-team'][0] == '{team}' && size(ai.tools) > {i % 3}\"]")
            out.append(f"    actions: [{{type: deny, config: {{status_code: 451}}}}]")
        elif kind == 7:
            out.append(f"    expressions: [\"ai.input_tokens > {5000 + i}\", \"ai.stream\"]")
            out.append("    actions: [{type: max-tokens, config: {input: 8000}}]")
        elif kind == 8:
            out.append(f"    expressions: [\"identity.team == '{team}' && ai.prompt.contains('password')\"]")
            out.append("    actions: [{type: deny, config: {message: 'no secrets, ${identity.team}'}}]")
        else:
            out.append(f"    expressions: [\"identity.team == '{team}' && ai.model == '{model}' && !ai.stream\"]")
            out.append("    actions: [{type: allow}]")
    return "\n".join(out) + "\n"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def breakdown(answers: list, budget: Budget) -> None:
    """Each rule's answer and its checks, then the checks' totals per question."""
    per: dict[str, list] = {}
    for a in budget.asked:
        per.setdefault(a.topic, []).append(a)
    for x in answers:
        asked = per.get(x.rule, [])
        spent = sum(a.seconds for a in asked)
        checks = ", ".join(f"{a.question} {a.result} {a.seconds:.2f}s/{a.attempts} {a.by}" for a in asked)
        print(f"  {x.rule:4} {x.result:11} {spent:6.2f} s  {checks}")
    totals: dict[tuple[str, str], list[float]] = {}
    for a in budget.asked:
        totals.setdefault((a.question.split()[0], a.result), []).append(a.seconds)
    for (question, result), secs in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {question:12} {result:8} {len(secs):3} checks {sum(secs):6.2f} s")


@contextmanager
def one_solver() -> Iterator[None]:
    """The baseline: each check one run of z3's default solver with all of the check's time
    (how every check was made before the series of short attempts)."""
    saved = solving.ATTEMPTS, solving.FIRST_ATTEMPT
    solving.ATTEMPTS, solving.FIRST_ATTEMPT = (("full", 0),), float("inf")
    try:
        yield
    finally:
        solving.ATTEMPTS, solving.FIRST_ATTEMPT = saved


def summary(answers: list) -> str:
    counts: dict[str, int] = {}
    for x in answers:
        counts[x.result] = counts.get(x.result, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args()
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    a = compile_policy(loads(policy(), "yaml"))
    b = compile_policy(loads(policy(status=429), "yaml"))
    runs: dict[str, list[tuple[float, list, Budget]]] = {"baseline": [], "attempts": []}
    for _ in range(args.repeat):  # interleaved: the baseline, then the same question as shipped
        for name in runs:
            budget = Budget()
            with one_solver() if name == "baseline" else nullcontext():
                t = time.perf_counter()
                answers = rules(a, budget=budget)
                runs[name].append((time.perf_counter() - t, answers, budget))
    medians = {name: statistics.median(r[0] for r in got) for name, got in runs.items()}
    for name, label in (("baseline", "one default solver a check"), ("attempts", "short attempts (shipped)")):
        got = runs[name]
        checks = statistics.median(len(r[2].asked) for r in got)
        print(f"prove rules, 50 rules, {label:27} {medians[name]:7.2f} s  ({summary(got[-1][1])}; "
              f"{checks:.0f} solver checks)")
    print(f"prove rules, baseline / shipped:                     {medians['baseline'] / medians['attempts']:7.1f}x")
    if args.breakdown:
        breakdown(runs["attempts"][-1][1], runs["attempts"][-1][2])
    t, same = timed(lambda: equiv(a, a), args.repeat)
    print(f"prove equiv, 50 rules, same:       {t:7.2f} s  ({same.result})")
    t, diff = timed(lambda: equiv(a, b), args.repeat)
    print(f"prove equiv, 50 rules, one status: {t:7.2f} s  ({diff.result})")
    print("load average after:  " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
