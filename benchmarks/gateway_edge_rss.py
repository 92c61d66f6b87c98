"""Memory of `aigw-policy serve` under large bodies sent with a wrong key (Linux: reads
/proc/PID/status).

    .venv/bin/python benchmarks/gateway_edge_rss.py [--bodies 8] [--mb 30] [--pythonpath DIR]

Starts the gateway (a keys file, in-memory limits, no upstream needed), records its peak
resident set size (VmHWM), sends ``--bodies`` concurrent POSTs of ``--mb`` MB each with an unknown key, and
prints the peak's growth and what each client got. ``--pythonpath`` runs another checkout of
the package (e.g. an extracted older commit) for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

POLICY = 'policy "rss" {\n  default allow\n}\n'
KEYS = "keys:\n  - key: sk-right\n    identity: {key: k1}\n"


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident set size now (``VmRSS``) or at its peak so far (``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} (not Linux?)")


async def send_all(url: str, bodies: int, size: int) -> list[str]:
    payload = b"{" + b" " * (size - 2) + b"}"

    async def one(client: httpx.AsyncClient) -> str:
        try:
            r = await client.post(url + "/v1/chat/completions", content=payload,
                                  headers={"authorization": "Bearer sk-wrong", "content-type": "application/json"})
            return str(r.status_code)
        except httpx.HTTPError as error:  # the gateway may close before the whole body is sent
            return f"{type(error).__name__} (closed before the whole body was sent)"

    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(*(one(client) for _ in range(bodies)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bodies", type=int, default=8)
    ap.add_argument("--mb", type=int, default=30)
    ap.add_argument("--pythonpath", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        (Path(d) / "p.aigw").write_text(POLICY)
        (Path(d) / "keys.yaml").write_text(KEYS)
        env = dict(os.environ)
        if args.pythonpath:
            env["PYTHONPATH"] = args.pythonpath
        cmd = [sys.executable, "-m", "aigw_policy.cli", "serve", "--policy", f"{d}/p.aigw", "--keys", f"{d}/keys.yaml",
               "--upstream", "http://127.0.0.1:9", "--port", str(port), "--watch", "0", "--no-decision-log"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{d}/serve.log", "wb"), env=env, cwd=d)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(400):
                try:
                    if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            if proc.poll() is not None:
                raise SystemExit(f"serve exited: {Path(d, 'serve.log').read_text()}")
            before = rss_kib(proc.pid, "VmHWM")
            answers = asyncio.run(send_all(url, args.bodies, args.mb * 1_000_000))
            time.sleep(0.5)
            after = rss_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"{args.bodies} x {args.mb} MB with a wrong key: peak RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB "
          f"(+{(after - before) / 1024:.0f} MiB); answers: {', '.join(sorted(set(answers)))}")


if __name__ == "__main__":
    main()
