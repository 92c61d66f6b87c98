"""`aigw-policy prove` on a 50-rule policy: `rules` (each rule's answer, witnesses built and
replayed through the engine) and `equiv` (the policy against itself, a proof, and against a
copy with one status changed, a counterexample).

    .venv/bin/python benchmarks/prove_bench.py [--repeat N] [--breakdown]

Prints the median seconds of each over N runs (default 3), with the load average before and
after. ``--breakdown`` adds, for the last `rules` run, each rule's answer and every solver
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigw_policy.engine.compile import compile_policy  # noqa: E402
from aigw_policy.loader import loads  # noqa: E402
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


def timed(fn: object, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()  # type: ignore[operator]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args()
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    a = compile_policy(loads(policy(), "yaml"))
    b = compile_policy(loads(policy(status=429), "yaml"))
    budgets: list[Budget] = []

    def run_rules() -> object:
        budgets.append(Budget())
        return rules(a, budget=budgets[-1])

    t, answers = timed(run_rules, args.repeat)
    counts: dict[str, int] = {}
    for x in answers:  # type: ignore[union-attr]
        counts[x.result] = counts.get(x.result, 0) + 1
    checks = statistics.median(len(b.asked) for b in budgets)
    print(f"prove rules, 50 rules:             {t:7.2f} s  ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}; "
          f"{checks:.0f} solver checks)")
    if args.breakdown:
        breakdown(answers, budgets[-1])  # type: ignore[arg-type]
    t, same = timed(lambda: equiv(a, a), args.repeat)
    print(f"prove equiv, 50 rules, same:       {t:7.2f} s  ({same.result})")  # type: ignore[union-attr]
    t, diff = timed(lambda: equiv(a, b), args.repeat)
    print(f"prove equiv, 50 rules, one status: {t:7.2f} s  ({diff.result})")  # type: ignore[union-attr]
    print("load average after:  " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
