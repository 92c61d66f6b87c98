"""A throwaway Redis Cluster on this machine: six ``redis-server --cluster-enabled yes`` on free
ports in a temp dir, joined by ``redis-cli --cluster create ... --cluster-replicas 1``
(3 primaries, 3 replicas). Tests (tests/scale/conftest.py) and benchmarks start their own.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cluster", "cluster_missing", "free_ports", "start_cluster"]


def cluster_missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    for exe in ("redis-server", "redis-cli"):
        if shutil.which(exe) is None:
            return f"{exe} is not on PATH: the Redis Cluster tests start their own cluster"
    return None


def free_ports(n: int) -> list[int]:
    """``n`` ports free here, each with its cluster bus port (+10000) free too."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rng.randrange(20000, 55000)
        if port in ports or port + 10000 in ports or port - 10000 in ports:
            continue
        if _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Cluster:
    ports: list[int]
    root: Path
    procs: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def seed(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def cli(self, port: int, *args: str, check: bool = True) -> str:
        out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                             text=True, timeout=30)
        if check and out.returncode != 0:
            raise RuntimeError(f"redis-cli -p {port} {' '.join(args)}: {out.stderr}")
        return out.stdout

    def nodes(self) -> list[dict[str, str]]:
        """CLUSTER NODES as seen from any live node: id, port, role, master id, flags."""
        for port in self.ports:
            if port not in self.procs or self.procs[port].poll() is not None:
                continue
            try:
                text = self.cli(port, "cluster", "nodes")
            except (RuntimeError, subprocess.TimeoutExpired):
                continue
            out = []
            for line in text.strip().splitlines():
                parts = line.split()
                flags = parts[2].split(",")
                out.append({"id": parts[0], "port": parts[1].split(":")[1].split("@")[0],
                            "role": "master" if "master" in flags else "replica",
                            "master": parts[3], "fail": str("fail" in flags or "fail?" in flags),
                            "slots": " ".join(parts[8:])})
            return out
        raise RuntimeError("no live node answers")

    def primaries(self) -> list[int]:
        return sorted(int(n["port"]) for n in self.nodes()
                      if n["role"] == "master" and n["fail"] == "False" and n["slots"])

    def replica_of(self, port: int) -> int:
        by_id = {n["id"]: n for n in self.nodes()}
        master = next(i for i, n in by_id.items() if n["port"] == str(port))
        return next(int(n["port"]) for n in by_id.values()
                    if n["master"] == master and n["fail"] == "False")

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every live node reports cluster_state:ok, 3 primaries hold slots and every
        live replica is in sync with its primary (it could not take over otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [p for p in self.ports if self.procs[p].poll() is None]
            try:
                if all("cluster_state:ok" in self.cli(p, "cluster", "info") for p in live) \
                        and len(self.primaries()) == 3 and all(
                            "role:master" in info or "master_link_status:up" in info
                            for info in (self.cli(p, "info", "replication") for p in live)):
                    return
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.2)
        raise RuntimeError("cluster did not become ok")

    def flush(self) -> None:
        for port in self.primaries():
            self.cli(port, "flushall")

    def kill(self, port: int) -> None:
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _spawn(port: int, root: Path, node_timeout: int) -> subprocess.Popen:
    d = root / str(port)
    d.mkdir()
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(node_timeout),
         "--cluster-replica-validity-factor", "0",  # a replica may always take over
         "--dir", str(d), "--save", "", "--appendonly", "no", "--protected-mode", "no",
         "--logfile", str(d / "log")],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_cluster(node_timeout: int = 1000) -> Cluster:
    """Six nodes, three primaries with one replica each; ``node_timeout`` in ms (how soon a
    killed primary is failed over)."""
    root = Path(tempfile.mkdtemp(prefix="aigw-cluster-"))
    for _attempt in range(3):  # a port taken between picking and binding: pick again
        ports = free_ports(6)
        cluster = Cluster(ports, root)
        try:
            for port in ports:
                cluster.procs[port] = _spawn(port, root, node_timeout)
            for port in ports:
                _wait_ping(cluster, port)
            subprocess.run(["redis-cli", "--cluster", "create",
                            *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "1",
                            "--cluster-yes"], capture_output=True, text=True, timeout=60,
                           check=True)
            cluster.wait_ok()
            return cluster
        except (RuntimeError, subprocess.SubprocessError):
            cluster.stop()
            root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError("could not start a Redis Cluster")


def _wait_ping(cluster: Cluster, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if cluster.procs[port].poll() is not None:
            raise RuntimeError(f"redis-server on {port} exited")
        try:
            if "PONG" in cluster.cli(port, "ping"):
                return
        except RuntimeError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on {port} does not answer")


if __name__ == "__main__":  # a cluster for trying things by hand: Ctrl-C stops it
    c = start_cluster()
    print(c.seed, os.getpid(), flush=True)
    try:
        signal.pause()
    finally:
        c.stop()
