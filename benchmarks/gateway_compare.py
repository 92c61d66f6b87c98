"""Side by side on one machine: the latency each gateway adds and its throughput, in front of
the same stub upstream that answers an OpenAI chat completion at once.

    python benchmarks/gateway_compare.py [--n 400] [--rounds 3] [--concurrency 16] [--serve-from NAME=DIR]

Processes on 127.0.0.1: the stub (tests/gateway/stub.py), and in front of it
(1) the floor: a minimal forwarding proxy, no policy (benchmarks/minimal_proxy.py: uvicorn,
    uvloop and httptools when installed, aiohttp as the client);
(2) ``aigw-policy serve``: a 3-rule policy with a token and a request limit, memory store,
    with the ledger off and on SQLite; the code of the checkout this script is in (whatever
    the working directory: each ``serve`` starts in a temporary one, see ``from_checkout``);
(3) LiteLLM's proxy with a model list and no database, when ``litellm`` is installed
    (``pip install 'litellm[proxy]'``).
(4) ``--serve-from NAME=DIR`` (repeatable): ``serve`` as (2) without a ledger, with the
    ``aigw_policy`` package of another checkout ``DIR`` (``git archive HEAD | tar -x -C DIR``):
    before and after a change, measured in the same rounds.
Rounds are interleaved (every target once per round) so the machine's noise falls on all.
``--stream`` asks for a streamed answer (the stub's SSE events and its usage chunk, read
whole by the client) and prints the time to its first event too (the added p50 and its ratio
to the floor's: what a streaming client waits before its first token). ``--prompt-kb K`` sends a conversation of about K KiB instead of one short message (the
gateway parses and classifies the body; the floor forwards its bytes). ``--paired N`` measures otherwise: N requests to every target in turn, one at a time, so that
each request to a target has neighbours to every other within a few milliseconds (the order
drawn at random for each request, so that every target follows every other as often); printed:
each target's p50, the median of the paired differences between targets (what a busy
machine's noise cancels out of best) and each gateway's CPU seconds per request.
Printed: p50/p99 added over calling the stub directly, requests per second, at concurrency 1
and ``--concurrency``; then the ratios the issue sets (serve / floor added p50, serve /
LiteLLM throughput). No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import free_port, pct, wait_up  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 64}
POLICY = """\
policy "compare" {
  on request {
    rule "premium" {
      when ai.model == 'gpt-4.1' && identity.team != 'research'
      deny 403 "reserved"
    }
    rule "team-rpm" {
      rate-limit { name: "team-rpm", capacity: 1_000_000, rate: 60s, bucket_key: [identity.team] }
    }
    rule "team-tpm" {
      token-limit { name: "team-tpm", capacity: 1_000_000_000, rate: 60s, bucket_key: [identity.team] }
    }
  }
}
"""


async def measure(url: str, headers: dict[str, str], n: int, concurrency: int,
                  firsts: list[float] | None = None) -> tuple[list[float], float, int]:
    """``n`` requests to ``url`` from ``concurrency`` clients: each latency (the answer read
    whole), the time it took, the answers that were not 200; ``firsts``: a streamed answer's
    time to its first body bytes (the first event), appended there."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(min(20, n)):
            await client.post(url, json=CHAT, headers=headers)
        counter = iter(range(n))

        async def worker() -> None:
            nonlocal errors
            for _ in counter:
                t = time.perf_counter()
                if firsts is None:
                    status = (await client.post(url, json=CHAT, headers=headers)).status_code
                else:
                    async with client.stream("POST", url, json=CHAT, headers=headers) as answer:
                        status, first = answer.status_code, None
                        async for _chunk in answer.aiter_raw():
                            first = first if first is not None else time.perf_counter() - t
                    firsts.append(first if first is not None else time.perf_counter() - t)
                latencies.append(time.perf_counter() - t)
                errors += status != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return latencies, elapsed, errors


def paired(urls: dict[str, str], auth: dict[str, dict[str, str]], n: int,
           procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """``--paired``: every target in turn, one request at a time."""
    async def run() -> dict[str, list[float]]:
        lat: dict[str, list[float]] = {name: [] for name in urls}
        clients = {name: httpx.AsyncClient(timeout=30) for name in urls}
        names = list(urls)
        rng = random.Random(0)
        for i in range(n + 20):
            # a new order each time, drawn at random: every target follows every other as
            # often (one that leaves work behind after its answer, serve's response phase and
            # ledger, weighs on whichever comes next; turning one order, as this did, kept the
            # same neighbours: the target after serve paid for it every time)
            order = names[:]
            rng.shuffle(order)
            for name in order:
                url = urls[name]
                t = time.perf_counter()
                status = (await clients[name].post(url, json=CHAT, headers=auth.get(name, {}))).status_code
                if i >= 20 and status == 200:
                    lat[name].append((time.perf_counter() - t) * 1000)
        for client in clients.values():
            await client.aclose()
        return lat

    cpu0 = {name: _cpu(proc.pid) for name, proc in procs.items()}
    lat = asyncio.run(run())
    cpu1 = {name: _cpu(proc.pid) for name, proc in procs.items()}
    d = statistics.median(lat["direct"])
    print(f"\npaired: {n} requests to each target in turn, concurrency 1, load average {os.getloadavg()[0]:.2f}")
    print(f"{'target':14} {'p50 ms':>8} {'added p50':>10} {'CPU ms/request':>15}")
    for name, xs in lat.items():
        cpu = f"{(cpu1[name] - cpu0[name]) / (n + 20) * 1000:15.3f}" if name in cpu0 and cpu0[name] is not None else ""
        added = "" if name == "direct" else f"{statistics.median(xs) - d:10.3f}"
        print(f"{name:14} {statistics.median(xs):8.3f} {added:>10} {cpu}")
    names = [name for name in lat if name != "direct"]
    print("paired differences (median of request-by-request differences, ms):")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            print(f"  {a} - {b}: {statistics.median(x - y for x, y in zip(lat[a], lat[b])):+.3f}")


def _cpu(pid: int) -> float | None:
    """A process's CPU seconds so far (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)


def conversation(kib: int) -> list[dict[str, str]]:
    """About ``kib`` KiB of prose in turns of ~2.5 KiB, the same every run."""
    words = ("the team reviewed the quarterly numbers and agreed to move the launch by two weeks "
             "while the platform group finishes the migration of the billing service").split()
    turns, size, k = [], 0, 0
    while size < kib * 1024:
        text = " ".join(words[(k + i) % len(words)] for i in range(400))
        turns.append({"role": "user" if k % 2 == 0 else "assistant", "content": text})
        size += len(text)
        k += 1
    return turns


def from_checkout(src: Path | str) -> dict[str, str]:
    """The environment that makes ``python -m aigw_policy.cli`` import the ``aigw_policy`` of
    checkout ``src``: its PYTHONPATH. The process must also start outside any checkout (the
    caller passes ``cwd``): ``-m`` puts the working directory ahead of PYTHONPATH, so a
    benchmark run from a checkout served that checkout's code under every name."""
    return dict(os.environ, PYTHONPATH=str(Path(src).resolve()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="requests per target per round (default 400)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--concurrency", type=int, default=16, help="clients in the second series (default 16)")
    ap.add_argument("--paired", type=int, default=0, metavar="N",
                    help="instead of rounds: N requests to every target in turn, one at a time")
    ap.add_argument("--serve-from", action="append", default=[], metavar="NAME=DIR",
                    help="also serve from the aigw_policy package of checkout DIR, as target NAME")
    ap.add_argument("--prompt-kb", type=int, default=0, metavar="K",
                    help="a conversation of about K KiB of prose instead of the one short message (real "
                         "chat and agent traffic resends its history: 10-100 KiB is usual)")
    ap.add_argument("--stream", action="store_true",
                    help="ask for a streamed answer (SSE, with its usage chunk) instead of a JSON one")
    args = ap.parse_args()
    if args.stream:
        CHAT.update(stream=True, stream_options={"include_usage": True})
    if args.prompt_kb:
        CHAT["messages"] = conversation(args.prompt_kb)
    others = dict(item.split("=", 1) for item in args.serve_from)

    tmp = Path(tempfile.mkdtemp(prefix="aigw-compare-"))
    (tmp / "policy.aigw").write_text(POLICY)
    (tmp / "keys.yaml").write_text("keys:\n  - key: sk-bench\n    identity: {key: k1, user: u, team: research, org: o}\n")
    py = sys.executable
    ports = {name: free_port() for name in ("stub", "floor", "serve", "serve+sqlite", "litellm", *others)}
    stub_code = ("import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; from gateway.stub import StubUpstream; "
                 "uvicorn.run(StubUpstream(), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', "
                 "access_log=False)")
    upstream = f"http://127.0.0.1:{ports['stub']}"
    procs = {"stub": start([py, "-c", stub_code, str(ROOT / "tests"), str(ports["stub"])])}
    procs["floor"] = start([py, str(ROOT / "benchmarks" / "minimal_proxy.py"), upstream, str(ports["floor"])])
    serve = [py, "-m", "aigw_policy.cli", "serve", "--policy", str(tmp / "policy.aigw"), "--upstream", upstream,
             "--keys", str(tmp / "keys.yaml"), "--no-decision-log", "--watch", "0"]
    procs["serve"] = start([*serve, "--port", str(ports["serve"])], from_checkout(ROOT), tmp)
    procs["serve+sqlite"] = start([*serve, "--port", str(ports["serve+sqlite"]),
                                   "--ledger", f"sqlite:{tmp / 'usage.db'}"], from_checkout(ROOT), tmp)
    for name, src in others.items():
        procs[name] = start([*serve, "--port", str(ports[name])], from_checkout(src), tmp)
    targets = {"floor": f"http://127.0.0.1:{ports['floor']}/v1/chat/completions",
               "serve": f"http://127.0.0.1:{ports['serve']}/v1/chat/completions",
               "serve+sqlite": f"http://127.0.0.1:{ports['serve+sqlite']}/v1/chat/completions"}
    targets.update((name, f"http://127.0.0.1:{ports[name]}/v1/chat/completions") for name in others)
    auth = {"floor": {"authorization": "Bearer sk-test"}, "serve": {"authorization": "Bearer sk-bench"},
            "serve+sqlite": {"authorization": "Bearer sk-bench"}, "litellm": {"authorization": "Bearer sk-litellm"}}
    auth.update((name, {"authorization": "Bearer sk-bench"}) for name in others)
    litellm = shutil.which("litellm")
    if litellm:
        (tmp / "litellm.yaml").write_text(
            "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n"
            f"      api_base: {upstream}/v1\n      api_key: sk-test\n")
        env = dict(os.environ, LITELLM_MASTER_KEY="sk-litellm", LITELLM_LOG="ERROR")
        procs["litellm"] = start([litellm, "--config", str(tmp / "litellm.yaml"), "--port", str(ports["litellm"]),
                                  "--num_workers", "1"], env)
        targets["litellm"] = f"http://127.0.0.1:{ports['litellm']}/v1/chat/completions"
    direct = f"{upstream}/v1/chat/completions"
    try:
        wait_up(f"{upstream}/", procs["stub"])
        wait_up(f"http://127.0.0.1:{ports['floor']}/", procs["floor"])
        wait_up(f"http://127.0.0.1:{ports['serve']}/healthz", procs["serve"])
        wait_up(f"http://127.0.0.1:{ports['serve+sqlite']}/healthz", procs["serve+sqlite"])
        for name in others:
            wait_up(f"http://127.0.0.1:{ports[name]}/healthz", procs[name])
        if "litellm" in procs:
            wait_up(f"http://127.0.0.1:{ports['litellm']}/health/liveliness", procs["litellm"], timeout=120)
        print(f"gateway compare: {args.rounds} interleaved rounds of {args.n} requests, python "
              f"{sys.version.split()[0]}, {os.cpu_count()} cpus"
              + ("" if "litellm" in procs else "; LiteLLM not installed (pip install 'litellm[proxy]')"))
        if args.paired:
            paired({"direct": direct, **targets}, auth, args.paired, procs)
            return
        summary: dict[int, dict[str, tuple[float, float, float]]] = {}
        first_p50: dict[int, dict[str, float]] = {}  # --stream: the median of each round's p50 to the first event
        for conc in (1, args.concurrency):
            samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in ("direct", *targets)}
            firsts: dict[str, list[float]] = {name: [] for name in samples}
            for _ in range(args.rounds):
                for name, url in (("direct", direct), *targets.items()):
                    got: list[float] | None = [] if args.stream else None
                    lat, elapsed, errors = asyncio.run(measure(url, auth.get(name, {}), args.n, conc, got))
                    if errors:
                        print(f"  {name}: {errors} answers were not 200")
                    samples[name].append((pct(lat, 50), pct(lat, 99), len(lat) / elapsed))
                    if got:
                        firsts[name].append(pct(got, 50))
            if args.stream:
                first_p50[conc] = {name: statistics.median(xs) for name, xs in firsts.items() if xs}
            med = {name: tuple(statistics.median(s[i] for s in rows) for i in range(3)) for name, rows in samples.items()}
            summary[conc] = med  # type: ignore[assignment]
            d = med["direct"]
            print(f"\nconcurrency {conc}: median of {args.rounds} rounds")
            print(f"{'target':14} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10} {'req/s':>8}")
            for name, (p50, p99, rps) in med.items():
                added = "" if name == "direct" else f"{p50 - d[0]:10.2f} {p99 - d[1]:10.2f}"
                print(f"{name:14} {p50:8.2f} {p99:8.2f} {added:>21} {rps:8.0f}")
            if conc in first_p50:
                fd = first_p50[conc]["direct"]
                print("time to the first event (--stream), p50 ms: "
                      + ", ".join(f"{name} {v:.2f} (added {v - fd:.2f})" for name, v in first_p50[conc].items()))
        print("\nratios (goals of SPEC §9: serve added p50 <= 1.5x the floor's; serve throughput >= 5x LiteLLM's)")
        for conc, med in summary.items():
            d = med["direct"]
            floor_added = med["floor"][0] - d[0]
            if floor_added > 0.05:
                line = f"  c={conc}: serve/floor added p50 {(med['serve'][0] - d[0]) / floor_added:.2f}x"
                line += f", serve+sqlite/floor {(med['serve+sqlite'][0] - d[0]) / floor_added:.2f}x"
                line += "".join(f", {name}/floor {(med[name][0] - d[0]) / floor_added:.2f}x" for name in others)
            else:
                line = f"  c={conc}: the floor adds nothing measurable here (queueing dominates)"
            line += f", serve/floor throughput {med['serve'][2] / med['floor'][2]:.2f}x"
            if conc in first_p50:  # a stream's first event: what a streaming client waits for
                fp, fd = first_p50[conc], first_p50[conc]["direct"]
                if fp["floor"] - fd > 0.05:
                    line += f", first event: serve/floor added p50 {(fp['serve'] - fd) / (fp['floor'] - fd):.2f}x"
            if "litellm" in med:
                line += f", serve/LiteLLM throughput {med['serve'][2] / med['litellm'][2]:.2f}x"
                line += "".join(f", {name}/LiteLLM {med[name][2] / med['litellm'][2]:.2f}x" for name in others)
            print(line)
    finally:
        for proc in procs.values():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
