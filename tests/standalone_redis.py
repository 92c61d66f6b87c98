"""A throwaway standalone ``redis-server`` on a free port (benchmarks compare it with a cluster
of the same build and settings, tests/redis_cluster.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from redis_cluster import free_ports

__all__ = ["Standalone", "own_redis", "start_redis"]


@dataclass
class Standalone:
    port: int
    root: Path
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "flushall"], capture_output=True, check=True)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis() -> Standalone:
    root = Path(tempfile.mkdtemp(prefix="aigw-redis-"))
    for _attempt in range(3):  # a port taken between picking and binding: pick again
        (port,) = free_ports(1)
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(root), "--logfile", str(root / "log")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                out = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=5)
            except subprocess.TimeoutExpired:  # something else holds the port and does not answer
                break
            if "PONG" in out.stdout and proc.poll() is None:
                return Standalone(port, root, proc)
            time.sleep(0.05)
        proc.kill()
        proc.wait(10)
    raise RuntimeError("redis-server did not start")


def own_redis() -> Standalone:
    """A redis-server of the test's own, for a test that pauses or breaks the whole server
    (``CLIENT PAUSE``) and must not do it to every other run's Redis on this machine. Without
    ``redis-server`` on PATH the test skips, saying why; under CI (``CI=true``) it fails."""
    import pytest

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        reason = "redis-server and redis-cli are not on PATH: this test pauses a Redis of its own"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " (CI=true: it must run)")
        pytest.skip(reason)
    return start_redis()
