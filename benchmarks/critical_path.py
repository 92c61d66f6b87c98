"""Instructions on the critical path of a request at concurrency 1: ``serve`` against the floor.

    python benchmarks/critical_path.py [--n 300] [--warm 100] [--serve-from NAME=DIR ...]

At concurrency 1 a request waits for the gateway's work from the request's first byte to
its write upstream (segment 1) and from the upstream answer's first byte to the last byte
to the client (segment 2). What the gateway does while the upstream works, and after the
last byte (the response phase, reconciliation, metrics: the client takes far longer to send
its next request), is off that path. Each gateway (``gateway_compare.py``'s policy, keys
and stub; the floor is ``minimal_proxy.py``) runs under valgrind's callgrind with collection
switched on and off at those points, through valgrind's client requests (a few lines of C
compiled here with ``cc``), and the user-space instructions per request are printed for:

- ``all``: everything the process does per request, off the path included;
- ``path``: the request's first byte to the answer's last (the wait for the upstream included);
- ``seg1`` and ``seg2`` (``serve`` only: the floor's client is aiohttp's).

Instructions, not time: the same on a busy machine, a few tenths of a percent from run to
run. The kernel's share (the loopback writes and reads) is not counted; ``strace -c`` gives
both gateways about the same syscalls per request (docs/gateway.md, "Twenty-fourth pass").
Each figure is one valgrind run (~15-40 s). Needs valgrind and cc: says so and stops
otherwise. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import free_port, wait_up  # noqa: E402
from gateway_compare import CHAT, POLICY, from_checkout  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

_C = """#include <valgrind/callgrind.h>
static int on = 0;
void cg_on(void) { if (!on) { CALLGRIND_TOGGLE_COLLECT; on = 1; } }
void cg_off(void) { if (on) { CALLGRIND_TOGGLE_COLLECT; on = 0; } }
"""

# Run inside the measured process: switches collection at the segment's ends, then runs the
# gateway as its command line would (argv[1]: serve | floor; MODE: all | path | seg1 | seg2).
_WRAPPER = """
import ctypes, os, runpy, sys
mode, lib = os.environ["CP_MODE"], ctypes.CDLL(os.environ["CP_LIB"])
on, off = lib.cg_on, lib.cg_off
def first_byte(cls):
    received = cls.data_received
    def data_received(self, data):
        if mode in ("path", "seg1"):
            on()
        return received(self, data)
    cls.data_received = data_received
def last_byte(cls):
    complete = cls.on_response_complete
    def on_response_complete(self):
        complete(self)
        off()
    cls.on_response_complete = on_response_complete
if sys.argv[1] == "serve":
    from aigw_policy.gateway import http_client, server
    made = server._httptools_protocol
    def protocol(*args, **kwargs):
        cls = type("Measured", (made(*args, **kwargs),), {})
        first_byte(cls)
        last_byte(cls)
        return cls
    server._httptools_protocol = protocol
    wait, answered = http_client.Response._wait, http_client._Connection.data_received
    def _wait(self):
        if mode in ("seg1", "seg2"):
            off()
        return wait(self)
    def data_received(self, data):
        if mode == "seg2":
            on()
        return answered(self, data)
    http_client.Response._wait, http_client._Connection.data_received = _wait, data_received
    sys.argv = ["aigw-policy", *sys.argv[2:]]
    from aigw_policy.cli import main
    sys.exit(main())
else:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    first_byte(HttpToolsProtocol)
    last_byte(HttpToolsProtocol)
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def measure(kind: str, mode: str, tmp: Path, upstream: str, env: dict[str, str], n: int, warm: int) -> float:
    """User-space instructions per request of gateway ``kind`` (serve | floor) in ``mode``."""
    port = free_port()
    out = tmp / f"cg.{kind}.{mode}.{port}"
    if kind == "floor":
        argv = [str(ROOT / "benchmarks" / "minimal_proxy.py"), upstream, str(port)]
        key = "sk-test"
    else:
        argv = ["serve", "--policy", str(tmp / "policy.aigw"), "--upstream", upstream, "--keys",
                str(tmp / "keys.yaml"), "--no-decision-log", "--watch", "0", "--port", str(port)]
        key = "sk-bench"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
           *(["--collect-atstart=no"] if mode != "all" else []),
           sys.executable, str(tmp / "wrapper.py"), "floor" if kind == "floor" else "serve", *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
                            env=dict(env, CP_MODE=mode, CP_LIB=str(tmp / "libcg.so"), PYTHONHASHSEED="0"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + ("/healthz" if kind != "floor" else "/"), proc, timeout=300)
        with httpx.Client(timeout=120, headers={"authorization": f"Bearer {key}"}) as client:
            for _ in range(warm):
                client.post(url + "/v1/chat/completions", json=CHAT).raise_for_status()
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], capture_output=True, check=True)
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
            for _ in range(n):
                client.post(url + "/v1/chat/completions", json=CHAT).raise_for_status()
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=True)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    total = 0
    for dump in tmp.glob(f"{out.name}.*"):
        if dump.suffix == f".{proc.pid}":  # the end-of-run dump: after the measured requests
            continue
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total += int(line.split()[1])
                break
    return total / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="measured requests per figure (default 300)")
    ap.add_argument("--warm", type=int, default=100, help="requests before measuring (default 100)")
    ap.add_argument("--serve-from", action="append", default=[], metavar="NAME=DIR",
                    help="also measure serve from the aigw_policy package of checkout DIR")
    args = ap.parse_args()
    missing = [tool for tool in ("valgrind", "callgrind_control", "cc") if shutil.which(tool) is None]
    if missing or not Path("/usr/include/valgrind/callgrind.h").exists():
        print(f"critical_path: needs valgrind (with its headers) and a C compiler; missing: "
              f"{', '.join(missing) or 'valgrind/callgrind.h'} (Debian: apt-get install valgrind gcc)")
        return
    tmp = Path(tempfile.mkdtemp(prefix="aigw-critical-"))
    (tmp / "cg.c").write_text(_C)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(tmp / "libcg.so"), str(tmp / "cg.c")], check=True)
    (tmp / "wrapper.py").write_text(_WRAPPER)
    (tmp / "policy.aigw").write_text(POLICY)
    (tmp / "keys.yaml").write_text("keys:\n  - key: sk-bench\n    identity: {key: k1, user: u, team: research, org: o}\n")
    stub_port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; "
         "from gateway.stub import StubUpstream; uvicorn.run(StubUpstream(), host='127.0.0.1', "
         "port=int(sys.argv[2]), log_level='warning', access_log=False)", str(ROOT / "tests"), str(stub_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    upstream = f"http://127.0.0.1:{stub_port}"
    targets = {"floor": ("floor", dict(os.environ)), "serve": ("serve", from_checkout(ROOT))}
    targets.update((name, ("serve", from_checkout(src))) for name, src in
                   (item.split("=", 1) for item in args.serve_from))
    try:
        wait_up(upstream + "/", stub)
        print(f"critical path at concurrency 1: user-space instructions per request, {args.n} after {args.warm}, "
              f"python {sys.version.split()[0]}")
        print(f"{'target':14} {'seg1':>11} {'seg2':>11} {'path':>11} {'all':>11}")
        rows: dict[str, dict[str, float]] = {}
        start = time.perf_counter()
        for name, (kind, env) in targets.items():
            modes = ("path", "all") if kind == "floor" else ("seg1", "seg2", "path", "all")
            rows[name] = {mode: measure(kind, mode, tmp, upstream, env, args.n, args.warm) for mode in modes}
            cells = [f"{rows[name][m]:11,.0f}" if m in rows[name] else f"{'-':>11}" for m in ("seg1", "seg2", "path", "all")]
            print(f"{name:14} {' '.join(cells)}")
        floor = rows["floor"]["path"]
        print("\nratios to the floor's path: " + ", ".join(
            f"{name} {row['path'] / floor:.2f}x" for name, row in rows.items() if name != "floor")
              + f"  ({time.perf_counter() - start:.0f} s)")
    finally:
        stub.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
