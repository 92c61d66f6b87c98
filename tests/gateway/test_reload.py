"""Hot reload: a policy that fails lint never replaces the running one; the swap is atomic;
a request in flight finishes on the policy it started with. And `aigw-policy serve` itself,
as a process, reloading on SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import WAIT, ServerThread, ledger_records

DENY = 'policy "v1" { on request { rule "no-gpt-x" { when ai.model == "gpt-x" deny 403 "v1 says no" } } }'
ALLOW = 'policy "v2" { on request { rule "tag" { add-headers { headers: { "x-v": "2" } } } } }'
BROKEN = 'policy "v3" { on request { rule "bad" { when ai.modle == "gpt-x" deny 403 } } }'
CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}


def _wait(pred: Any, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # as editors and config management do: the file is never half written


def test_reload_rejects_broken_and_swaps_valid(stub: Any, tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway

    policy = tmp_path / "p.aigw"
    policy.write_text(DENY)
    app = Gateway(policy=policy, upstream=stub.url, ledger=f"jsonl:{tmp_path / 'u.jsonl'}", watch=0.05)
    with ServerThread(app) as gw:
        post = lambda: httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=5)
        assert post().status_code == 403
        _write(policy, BROKEN)
        assert _wait(lambda: 'aigw_policy_reloads_total{result="rejected"} 1.0' in httpx.get(gw.url + "/metrics").text)
        assert app.holder.version == 1
        assert post().status_code == 403  # the running policy stays
        _write(policy, ALLOW)
        assert _wait(lambda: app.holder.version == 2)
        r = post()
        assert r.status_code == 200 and r.headers["x-aigw-decision-id"]
        assert httpx.get(gw.url + "/healthz").json()["policy_version"] == 2


def test_in_flight_request_finishes_on_its_policy(stub: Any, tmp_path: Path) -> None:
    from aigw_policy.gateway import Gateway

    policy = tmp_path / "p.aigw"
    policy.write_text(ALLOW)
    ledger = tmp_path / "u.jsonl"
    app = Gateway(policy=policy, upstream=stub.url, ledger=f"jsonl:{ledger}", watch=0.05)
    with ServerThread(app) as gw:
        old = app.holder.current
        body = {"model": "long-1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        started = threading.Event()
        result: dict[str, Any] = {}

        def stream() -> None:
            with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=10) as r:
                result["rid"] = r.headers["x-aigw-decision-id"]
                n = 0
                for line in r.iter_lines():
                    n += line.startswith("data:")
                    if n == 5:
                        started.set()
                result["events"] = n

        t = threading.Thread(target=stream)
        t.start()
        assert started.wait(5)
        _write(policy, DENY)
        assert _wait(lambda: app.holder.current is not old)
        assert httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 403  # new policy
        t.join(10)
        rid = result["rid"]
        assert result["events"] > 400  # the whole stream, usage chunk and [DONE] included
        assert old._done[rid].complete  # completed by the engine it started on
        rec = next(r for r in ledger_records(ledger, rid) if r["aigw.request.id"] == rid)
        assert rec["aigw.usage.source"] == "provider"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX")
def test_serve_process_reloads_on_sighup(stub: Any, tmp_path: Path) -> None:
    import socket

    policy = tmp_path / "p.aigw"
    policy.write_text(DENY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "aigw_policy.cli", "serve", "--policy", str(policy), "--upstream", stub.url,
           "--port", str(port), "--watch", "0", "--ledger", f"jsonl:{tmp_path / 'u.jsonl'}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        assert _wait(up), proc.stderr.read1().decode() if proc.poll() is not None else "not up"  # type: ignore[union-attr]
        assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 403
        _write(policy, ALLOW)
        time.sleep(0.1)
        assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 403  # no watch: no reload
        proc.send_signal(signal.SIGHUP)
        assert _wait(lambda: httpx.get(url + "/healthz", timeout=1).json()["policy_version"] == 2)
        assert httpx.post(url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 200
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    log = err.decode()
    assert '"aigw.verdict": "deny"' in log and '"aigw.rule": "no-gpt-x"' in log  # decision log lines
    assert "policy reloaded" in log
