"""Whole decisions per second for each example policy, against a hand-written Python floor,
and how a policy of 10,000 indexed rules compares with one of 10.

    python benchmarks/engine_bench.py [--rules 10000] [--seconds 1.0] [--cold MB]

For each examples/*.aigw policy, one representative request (rotating keys and teams, so
that limits stay under their caps) is decided by:

(a) the floor: a hand-written Python function with the same rules, the same classification
    (``providers.classify``) where the policy reads ``ai.*``, the same effects (headers, vars)
    and the same in-memory store calls (one all-or-nothing reserve, settled at once at the
    estimate as the engine's ``expect_response=False`` does);
(b) ``Engine.evaluate`` without trace (in-memory limits);
(c) ``Engine.evaluate`` with the full trace.

Every call gets a request id of its own (the limit store answers a known id with its first
outcome and charges nothing: reused ids made the engine's store work differ from the floor's).
The three are interleaved: ``--rounds`` rounds, each timing (a), (b) and (c) in turn for
``--seconds / --rounds``, so a change of the machine's load hits all three alike. Prints the
median microseconds per decision (the median over all rounds' samples), decisions per
second, (b)/(a) as the median of the rounds' ratios with their range, and the load average
before and after. Then the scaling line: the median decision of a policy of N rules keyed
on ``identity.team`` and ``ai.model`` (the matching rule is near the end) against the same
policy of 10 rules. ``--cold MB`` copies that many megabytes before each sample (not timed),
so each decision starts with caches that hold something else, as in a live gateway where the
client, the upstream and other processes run between two requests (docs/engine.md, "Speed":
hot-loop timings understate what a live process pays, the engine's more than the floor's).
No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import itertools
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import aigw_policy as ap
from aigw_policy.env.activation import format_now
from aigw_policy.limits import Charge, LimitSpec
from aigw_policy.providers import PriceBook, classify
from aigw_policy.stores import MemoryStore

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
T0 = 1_795_000_000.0  # 2026-11-18


def chat(model: str, text: str = "summarise the meeting notes", max_tokens: int | None = 300, tools: bool = False,
         url: str = "https://api.openai.com/v1/chat/completions") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if max_tokens:
        body["max_tokens"] = max_tokens
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "search"}}]
    return {"method": "POST", "url": url, "headers": {"content-type": "application/json"}, "body": body}


def requests_for(name: str, n: int = 4096) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        ident = {"key": f"k{i}", "team": f"team{i % 512}", "org": "acme", "tier": "pro", "labels": {"env": "prod"}}
        conn = {"client_ip": f"203.0.113.{i % 250 + 1}"}
        model = "gpt-4.1" if name in ("acme-gateway", "monthly-budget") else "gpt-4o"
        out.append({"id": f"r{i}", "identity": ident, "conn": conn, "request": chat(model)})
    return out


# ---------------------------------------------------------------------------------------------
# the floor: the example policies written by hand (same classification, same store calls)


ALLOW = "no rule denied the request (default: allow)"
"""The reason of a request no rule decided (every example is ``default allow``)."""

Result = tuple[str, int, str, dict[str, Any] | None]
"""What a floor decides, as the engine's decision says it: verdict, status, reason, and the
request's effects (headers, vars) where the policy sets some."""


class Floor:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.prices = PriceBook()
        self.n = 0
        self.ai: Any = None  # the last request's classification (the engine's decision reports it)

    def reserve(self, charges: list[Charge], now: float) -> Result:
        """Reserve all or nothing; an admitted request is settled at once at its estimate, as
        ``evaluate(..., expect_response=False)`` does (the store work of the engine's run). A
        refused one gets the engine's reason (and its ``Retry-After``, as the decision's answer
        has it)."""
        self.n += 1
        rid = f"f{self.n}"
        outs = self.store.reserve(rid, charges, now)
        for o in outs:
            if o.outcome == "limited":
                retry = o.retry_after if o.retry_after is not None else o.reset_after
                answer = {"retry-after": str(max(1, math.ceil(retry or 0)))}
                return "deny", 429, f"limit {o.name}: {_num(o.used)} of {_num(o.limit)} {o.unit} used, " \
                                    f"this request needs ~{_num(o.cost)}", {"answer_headers": answer}
        self.store.reconcile(rid, {}, now)
        return "allow", 200, ALLOW, None


def _num(x: float) -> str:
    """A count as the engine's reasons write it (the limits here count whole requests and tokens)."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.4f}".rstrip("0").rstrip(".")


TPM = LimitSpec("team-tpm", "tokens", "sliding_window", 200_000, 60)
RPM = LimitSpec("key-rpm", "requests", "sliding_window", 60, 60)
KTPM = LimitSpec("key-tpm", "tokens", "sliding_window", 100_000, 60)
BATCH = LimitSpec("batch-tph", "tokens", "token_bucket", 2_000_000, 3600)
MONTH = LimitSpec("team-monthly", "usd", "calendar", 500, 0, period="month", timezone="Europe/Paris", warn_at=0.8)
DAILY = LimitSpec("org-daily-tokens", "tokens", "calendar", 50_000_000, 0, period="day", warn_at=0.9)
PER_IP = LimitSpec("per-ip", "requests", "sliding_window", 30, 60)
JAIL = "ignore all previous instructions"
CREDENTIAL = re.compile(r"(?i)(api[_-]?key|password|secret)\s*[:=]")


def _estimate(ai: Any) -> int:
    return ai.input_tokens + (ai.max_output_tokens or 4096)


def floor_acme(f: Floor, r: dict[str, Any], now: float) -> Result:
    ai = f.ai = classify(r["request"])  # the decision reports it
    team = r["identity"]["team"]
    if ai.model in ("gpt-4.1", "claude-opus-4") and team != "research":
        return "deny", 403, f"model {ai.model} is reserved for research", None
    return f.reserve([Charge(TPM, team, _estimate(ai))], now)


def floor_content_guard(f: Floor, r: dict[str, Any], now: float) -> Result:
    ai = f.ai = classify(r["request"])  # the decision reports it
    if CREDENTIAL.search(ai.prompt):
        return "deny", 400, "the prompt seems to contain a credential; remove it and try again", None
    if JAIL in ai.prompt.lower():
        return "deny", 400, "custom response 400", None
    if r["identity"]["tier"] == "trial" and ai.tools:
        return "deny", 403, "tool calls are not available on trial keys", None
    if not ai.max_output_tokens or ai.max_output_tokens > 2048:
        return "allow", 200, ALLOW, {"max_tokens": 2048}  # clamped
    return "allow", 200, ALLOW, None


def floor_key_limits(f: Floor, r: dict[str, Any], now: float) -> Result:
    ai = f.ai = classify(r["request"])  # the decision reports it
    key = r["identity"]["key"]
    charges = [Charge(RPM, key, 1), Charge(KTPM, key, _estimate(ai))]
    if r["identity"]["tier"] == "batch":
        charges.append(Charge(BATCH, f"{key}|{ai.model}", ai.input_tokens + (ai.max_output_tokens or 0)))
    if ai.input_tokens > 32_000 or (ai.max_output_tokens or 0) > 4096:
        return "deny", 413, "too many tokens", None
    return f.reserve(charges, now)


def floor_monthly_budget(f: Floor, r: dict[str, Any], now: float) -> Result:
    from aigw_policy.providers import Usage

    ai = f.ai = classify(r["request"])  # the decision reports it
    ident = r["identity"]
    usage = Usage.of(ai.input_tokens, ai.max_output_tokens or 4096, source="estimate")
    usd = f.prices.cost(ai.provider, ai.model, usage).as_float()
    if usd is None:
        return "deny", 403, "unknown price", None
    outs = f.store.check([Charge(MONTH, ident["team"], usd)], now)
    remaining = outs[0].remaining
    effects = None
    if remaining < 50.0:
        model = "gpt-4.1-mini" if ai.model == "gpt-4.1" else ai.model  # set-model: the later rules see it
        effects = {"vars": {"budget_state": "low", "requested_model": model}}
        if model != ai.model:
            effects["model"] = model
    verdict, status, reason, answer = f.reserve(
        [Charge(MONTH, ident["team"], usd), Charge(DAILY, ident["org"], usage.total_tokens)], now)
    if answer is not None:
        effects = {**effects, **answer} if effects else answer
    return verdict, status, reason, effects


def floor_ngrok_style(f: Floor, r: dict[str, Any], now: float) -> Result:
    import ipaddress

    f.ai = classify(r["request"])  # no rule reads it, but the decision reports it
    client = r["conn"]["client_ip"]
    ip = ipaddress.ip_address(client)
    if ip == _BAD:  # a refusal's answer goes through the response phase: its `server` header is removed
        return "deny", 403, f"client IP `{client}` is denied by `203.0.113.66/32` (rule `office-and-vpn-only`)", \
            {"response_remove": ["server"]}
    if not any(ip in n for n in _NETS if n.version == ip.version):
        return "deny", 403, f"client IP `{client}` is not allowed (rule `office-and-vpn-only`)", \
            {"response_remove": ["server"]}
    url = r["request"]["url"]
    path = "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0] if "://" in url else url.split("?", 1)[0]
    if path == "/healthz":
        return "deny", 200, "custom response 200", None
    # the limit is checked with the reserve, at the phase's end: tag-and-scrub runs first
    headers = {k.lower(): v for k, v in r["request"]["headers"].items() if k.lower() not in ("cookie", "x-debug")}
    headers["x-client-ip"] = client
    headers["x-request-id"] = r["id"]
    effects = {"headers": headers, "vars": {"route": path, "started": format_now(now)}}
    verdict, status, reason, answer = f.reserve([Charge(PER_IP, client, 1)], now)
    if answer is not None:
        effects.update(answer, response_remove=["server"])
    return verdict, status, reason, effects


_BAD = __import__("ipaddress").ip_address("203.0.113.66")
_NETS = [__import__("ipaddress").ip_network(x) for x in ("203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32")]


def floor_team_model_access(f: Floor, r: dict[str, Any], now: float) -> Result:
    ai = f.ai = classify(r["request"])  # the decision reports it
    ident = r["identity"]
    if ai.operation == "embeddings":
        return "allow", 200, "allowed", None
    if ai.model in ("gpt-4.1", "o3", "claude-opus-4") and ident["team"] != "research":
        return "deny", 403, f"model {ai.model} is reserved for the research team (your team: {ident['team']})", None
    full = f"{ai.provider}/{ai.model}"
    if ident["tier"] == "trial" and not any(fnmatch.fnmatchcase(full, p) for p in ("openai/gpt-4.1-mini",)):
        return "deny", 403, f"model {full} is not allowed", None
    if ident["labels"].get("env") == "prod" and any(fnmatch.fnmatchcase(ai.model, p) for p in ("*-preview", "*-exp*")):
        return "deny", 403, f"model {full} is not allowed", None
    if ai.provider in ("gemini", "vertex_ai") and ident["team"] != "platform":
        return "deny", 403, f"{ai.provider} models are not enabled for team {ident['team']} yet", None
    return "allow", 200, ALLOW, None


FLOORS: dict[str, Callable[[Floor, dict[str, Any], float], Result]] = {
    "acme-gateway": floor_acme,
    "content-guard": floor_content_guard,
    "key-limits": floor_key_limits,
    "monthly-budget": floor_monthly_budget,
    "ngrok-style": floor_ngrok_style,
    "team-model-access": floor_team_model_access,
}


# ---------------------------------------------------------------------------------------------


COLD: list[bytearray] = []
"""With ``--cold MB``: a buffer of that size and its copy, written over before each sample."""


def _evict() -> None:
    """Copy ``--cold`` megabytes: the caches then hold that copy, not the last decision's code and data."""
    if COLD:
        COLD[1][:] = COLD[0]


def samples_ns(fn: Callable[[Any, float], Any], inputs: list[Any], seconds: float, start: int, now: float) -> tuple[
        list[int], int, float]:
    """Time ``fn`` on each input in turn (from ``start``) for ``seconds``: the samples (ns),
    where the next round starts, and the clock it reached."""
    gc.collect()
    samples: list[int] = []
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    n = len(inputs)
    i = start
    while True:
        r = {**inputs[i % n], "id": f"r{i}"}  # a new id each time: the store replays a known id's outcome
        i += 1
        now += 0.001
        _evict()
        t = clock()
        fn(r, now)
        samples.append(clock() - t)
        if len(samples) % 256 == 0 and time.perf_counter() > deadline:
            return samples, i, now


def median_us(fn: Callable[[Any, float], Any], inputs: list[Any], seconds: float) -> float:
    return statistics.median(samples_ns(fn, inputs, seconds, 0, T0)[0]) / 1000


def examples(seconds: float, rounds: int) -> None:
    print(f"load average {_load()}")
    print(f"{'policy':<20} {'floor us':>9} {'engine us':>10} {'ratio':>6} {'(range)':>12} {'decisions/s':>12} "
          f"{'traced us':>10}")
    for name, floor in FLOORS.items():
        policy = ap.load(EXAMPLES / f"{name}.aigw")
        reqs = requests_for(name)
        f = Floor()
        engine = ap.Engine(policy, store=MemoryStore())
        traced = ap.Engine(policy, store=MemoryStore(), trace=True)
        runs: list[Callable[[Any, float], Any]] = [
            lambda r, now: floor(f, r, now),
            lambda r, now: engine.evaluate(r, now=now, expect_response=False),
            lambda r, now: traced.evaluate(r, now=now, expect_response=False),
        ]
        every: list[list[int]] = [[], [], []]
        ratios = []
        at = [0, 0, 0]  # each keeps its own requests and clock: its limits see one steady stream
        clocks = [T0, T0, T0]
        for _ in range(rounds):
            medians = []
            for k, fn in enumerate(runs):
                got, at[k], clocks[k] = samples_ns(fn, reqs, seconds / rounds, at[k], clocks[k])
                every[k].extend(got)
                medians.append(statistics.median(got))
            ratios.append(medians[1] / medians[0])
        a, b, c = (statistics.median(x) / 1000 for x in every)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{name:<20} {a:>9.1f} {b:>10.1f} {statistics.median(ratios):>6.2f} {spread:>12} {1e6 / b:>12,.0f} "
              f"{c:>10.1f}")
    print(f"load average {_load()}")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def indexed_policy(n: int) -> str:
    models = ["gpt-4.1", "o3", "claude-opus-4", "gemini-2.5-pro"]
    rules = [f'rule "t{i}" {{ when identity.team == "team{i}" && ai.model in ["{models[i % 4]}", "gpt-4o"]\n'
             f'  deny 403 }}' for i in range(n)]
    return "policy {\n on request {\n" + "\n".join(rules) + "\n }\n}\n"


def scaling(n: int, seconds: float) -> None:
    results = {}
    for size in (10, n):
        t = time.perf_counter()
        engine = ap.Engine(ap.loads(indexed_policy(size)))
        built = time.perf_counter() - t
        hit = size - 2  # near the end: the unindexed path would test every rule before it
        reqs = [{"identity": {"key": "k", "team": f"team{hit}"}, "request": chat("gpt-4o")},
                {"identity": {"key": "k", "team": "nobody"}, "request": chat("gpt-4o")}]
        d = engine.evaluate(reqs[0], now=T0, expect_response=False)
        assert d.rule == f"t{hit}", d
        results[size] = median_us(lambda r, now: engine.evaluate(r, now=now, expect_response=False), reqs, seconds)
        print(f"{size:>6} rules: {results[size]:7.1f} us per decision (load + compile {built:.1f} s)")
    print(f"{n} rules / 10 rules: {results[n] / results[10]:.2f}x")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rules", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=1.0, help="time per policy for each of floor, engine, traced")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds the time is split into")
    p.add_argument("--cold", type=int, default=0, metavar="MB",
                   help="copy MB megabytes before each sample, so that each decision starts with cold caches, "
                        "as in a live gateway where other processes run between two requests (try 8)")
    args = p.parse_args(argv)
    print(f"python {sys.version.split()[0]}" + (f"; cold: {args.cold} MB copied before each sample" if args.cold else ""))
    if args.cold:
        COLD[:] = [bytearray(args.cold << 20), bytearray(args.cold << 20)]
    examples(args.seconds, max(1, args.rounds))
    print()
    scaling(args.rules, args.seconds)


if __name__ == "__main__":
    main()
