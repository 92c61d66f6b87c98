"""The real `aigw-policy serve` process (no --upstream, --secrets FILE, a secret from the
environment, a SQLite limit store) routes with failover for the openai SDK; the ledger and
the process's output say who served and never show a secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from .conftest import ServerThread, record_of
from .providers_stub import Reply, StubProvider
from .routing_env import ENV_SECRETS, GATEWAY_KEY, SECRETS, grep_secrets, write_files


@pytest.fixture(scope="module")
def stubs() -> Any:
    apps = {name: StubProvider(name) for name in ("alpha", "beta", "gamma")}
    servers = {name: ServerThread(app).__enter__() for name, app in apps.items()}
    yield {name: (apps[name], servers[name].url) for name in apps}
    for s in servers.values():
        s.__exit__(None, None, None)


def test_serve_process_fails_over_and_keeps_secrets(stubs: Any, tmp_path: Path) -> None:
    files = write_files(tmp_path, {n: url for n, (_, url) in stubs.items()})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "aigw_policy.cli", "serve", "--policy", str(files["policy"]),
           "--keys", str(files["keys"]), "--secrets", str(files["secrets"]), "--port", str(port), "--watch", "0",
           "--store", f"sqlite:{tmp_path / 'limits.db'}", "--ledger", f"jsonl:{files['ledger']}"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIGW_")}, **ENV_SECRETS}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        stubs["alpha"][0].push(Reply(429, key=SECRETS["alpha"]["one"]), Reply(500, key=SECRETS["alpha"]["two"]))
        client = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=20)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert raw.parse().choices[0].message.content == "beta:gpt-4o"
        assert stubs["beta"][0].seen[-1]["key"] == ENV_SECRETS["AIGW_SECRET_BETA_ONLY"]
        rec = record_of(files["ledger"], raw.headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["gen_ai.request.model"], rec["aigw.attempts"],
                rec["aigw.route.key_id"]) == ("beta", "gpt-4o", 3, "b1")
        metrics = httpx.get(url + "/metrics", timeout=5).text
        assert 'aigw_route_failovers_total{provider="alpha"} 2.0' in metrics
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert b"3 ai-gateway routes" in err
    assert grep_secrets(out.decode(), err.decode(), files["ledger"].read_text(), metrics) == []
    assert GATEWAY_KEY not in err.decode()
