"""Three ``aigw-policy serve`` processes share one Redis Cluster (3 primaries) under concurrent
load: each team admits exactly its capacity, and a limit every request of some teams shares
(on another shard than the teams': a two-phase reserve each) admits exactly its capacity."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from redis_cluster import free_ports

TEAM_CAP, GLOBAL_CAP = 20, 50
SOLO = [f"solo-{i}" for i in range(4)]  # a team limit only: one shard per request
SHARED = [f"shared-{i}" for i in range(4)]  # a team limit and the shared one: two shards

POLICY = f'''policy "scale" {{
  on request {{
    rule "solo-teams" {{
      when identity.team.startsWith("solo")
      rate-limit {{ name: "team", capacity: {TEAM_CAP}, rate: 1h, bucket_key: [identity.team] }}
    }}
    rule "shared-teams" {{
      when identity.team.startsWith("shared")
      rate-limit {{ name: "team-ample", capacity: 1000, rate: 1h, bucket_key: [identity.team] }}
    }}
    rule "shared-pool" {{
      when identity.team.startsWith("shared")
      rate-limit {{ name: "pool", capacity: {GLOBAL_CAP}, rate: 1h }}
    }}
  }}
}}
'''


def _keys() -> str:
    lines = ["keys:"]
    for team in SOLO + SHARED:
        lines += [f"  - key: sk-{team}", f"    identity: {{key: k-{team}, team: {team}}}"]
    return "\n".join(lines) + "\n"


def _wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("serve did not come up")


class _StubProcess:
    """The stub upstream in a process of its own: in a thread of the test process it shares
    the GIL with the client threads, and on a loaded machine the gateways then time out on
    it (502) though the limits were right."""

    def __enter__(self) -> "_StubProcess":
        for _attempt in range(3):  # a port taken between picking and binding: pick again
            if self._start():
                return self
        raise RuntimeError("stub did not come up")

    def _start(self) -> bool:
        (port,) = free_ports(1)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import uvicorn; from gateway.stub import StubUpstream; "
                "uvicorn.run(StubUpstream(), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', "
                "access_log=False)")
        tests = str(Path(__file__).resolve().parents[1])
        self.proc = subprocess.Popen([sys.executable, "-c", code, tests, str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
                if "address already in use" in err:
                    return False
                raise RuntimeError(f"stub exited {self.proc.returncode}: {err}")
            try:
                httpx.get(self.url + "/", timeout=1)
                return True
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("stub did not come up")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def gateways(cluster, tmp_path: Path):
    (tmp_path / "p.aigw").write_text(POLICY)
    (tmp_path / "keys.yaml").write_text(_keys())
    store = f"{cluster.seed}?shard=first"
    with _StubProcess() as upstream:
        procs: list[subprocess.Popen] = []
        urls = []
        try:
            for _ in range(3):
                for attempt in range(5):  # a port found free may be taken before serve binds it (a busy machine)
                    (port,) = free_ports(1)
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "aigw_policy.cli", "serve", "-p", str(tmp_path / "p.aigw"),
                         "--keys", str(tmp_path / "keys.yaml"), "--upstream", upstream.url,
                         "--store", store, "--port", str(port), "--no-decision-log", "--watch", "0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                        env={**os.environ, "AIGW_STORE": ""})
                    procs.append(proc)
                    try:
                        _wait_up(f"http://127.0.0.1:{port}", proc)
                    except RuntimeError as error:
                        if "address already in use" not in str(error) or attempt == 4:
                            raise
                        continue
                    urls.append(f"http://127.0.0.1:{port}")
                    break
            yield urls
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    cluster.flush()


def test_serve_processes_admit_exactly_per_team_and_on_a_cross_shard_limit(gateways):
    jobs = [team for _ in range(2 * TEAM_CAP) for team in SOLO]
    jobs += [team for _ in range(30) for team in SHARED]  # 120 for a pool of 50

    def one(i: int) -> tuple[str, int]:
        team = jobs[i]
        r = httpx.post(gateways[i % len(gateways)] + "/v1/chat/completions", timeout=60,
                       headers={"authorization": f"Bearer sk-{team}"},
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        return team, r.status_code

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(len(jobs))))
    by_status = Counter(status for _, status in results)
    assert set(by_status) <= {200, 429}, by_status
    admitted = Counter(team for team, status in results if status == 200)
    assert {t: admitted[t] for t in SOLO} == {t: TEAM_CAP for t in SOLO}
    assert sum(admitted[t] for t in SHARED) == GLOBAL_CAP
