"""The crash window of the ledger: a request is in the ledger before it is forwarded.

``Ledger.intent`` writes a ``pending`` record at the request-time estimate, durable before the
engine lets the request go upstream; the final record replaces it. A gateway killed with
SIGKILL mid-burst therefore leaves every request the upstream saw in the ledger: final, or
pending at its estimate; never missing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.ledger import PENDING, Ledger, as_pending, make_record, open_sink
from aigw_policy.providers import classify

T0 = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
HERE = Path(__file__).parent


def _ai():
    return classify({"url": "https://api.openai.com/v1/chat/completions",
                     "body": {"model": "gpt-4o", "max_tokens": 300,
                              "messages": [{"role": "user", "content": "hello there"}]}})


def test_a_final_record_replaces_the_intent_and_nothing_replaces_a_final(ledger_url):
    ai = _ai()
    final = make_record("r1", time=T0, ai=ai, verdict="allow", status_code=200)
    with Ledger(ledger_url) as ledger:
        ledger.intent(make_record("r1", time=T0, ai=ai), ai)
        ledger.intent(make_record("r2", time=T0, ai=ai), ai)
        [pending] = [r for r in ledger.sink.read() if r.request_id == "r1"]
        assert pending.verdict == PENDING and pending.usage_source == "estimate"
        assert pending.output_tokens == 300 and pending.input_tokens == ai.input_tokens > 0
        ledger.record(final)
        ledger.intent(make_record("r1", time=T0, ai=ai), ai)  # late: ignored
        ledger.record(make_record("r1", time=T0, ai=ai, verdict="deny", status_code=500))  # ignored
        got = {r.request_id: r for r in ledger.sink.read()}
    assert got["r1"] == final
    assert got["r2"].verdict == PENDING  # never finished: it stays, at the estimate


def test_the_engine_writes_the_intent_before_the_request_is_forwarded(tmp_path):
    policy = ap.loads("on_http_request:\n  - actions: [{type: log}]\n", format="yaml")
    with Ledger(f"sqlite:{tmp_path / 'usage.db'}") as ledger:
        engine = ap.Engine(policy, ledger=ledger)
        request = {"id": "r1", "identity": {"team": "t"},
                   "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                               "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
        engine.evaluate(request)
        assert [(r.request_id, r.verdict) for r in ledger.sink.read()] == [("r1", PENDING)]
        engine.complete("r1", {"status_code": 200, "body": {"model": "gpt-4o", "usage": {
            "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}})
        [final] = ledger.sink.read()
    assert (final.verdict, final.total_tokens, final.usage_source) == ("allow", 7, "provider")


def test_as_pending_without_ai_only_marks_the_verdict():
    rec = make_record("r", time=T0)
    assert as_pending(rec).verdict == PENDING and as_pending(rec).total_tokens == 0


# -- kill -9 mid-burst, through a real `aigw-policy serve` ---------------------------------------

POLICY = """
on_http_request:
  - name: team-tpm
    actions:
      - type: token-limit
        config: {name: tpm, capacity: 100000000, rate: 1h}
"""
FAST, SLOW = 40, 20


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what, until, proc, tries: int = 600) -> None:
    for _ in range(tries):
        if until():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what}: process exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{what}: not reached in {tries} polls")


def _up(url: str) -> bool:
    import httpx

    try:
        httpx.get(url, timeout=0.5)
        return True
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("sink", ["sqlite", "jsonl"])
def test_serve_killed_mid_burst_leaves_every_served_request_in_the_ledger(tmp_path, sink):
    import httpx

    served_log = tmp_path / "served.log"
    served_log.touch()
    ledger_url = f"{sink}:{tmp_path / ('usage.' + sink)}"
    (tmp_path / "policy.yaml").write_text(POLICY)
    stub_port, gw_port = _port(), _port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    stub = subprocess.Popen([sys.executable, str(HERE / "served_stub.py"), str(stub_port), str(served_log)],
                            stderr=subprocess.PIPE, env=env)
    gateway = subprocess.Popen(
        [sys.executable, "-m", "aigw_policy.cli", "serve", "--policy", str(tmp_path / "policy.yaml"),
         "--upstream", f"http://127.0.0.1:{stub_port}", "--port", str(gw_port),
         "--store", f"sqlite:{tmp_path / 'limits.db'}", "--ledger", ledger_url,
         "--no-decision-log", "--watch", "0"], stderr=subprocess.PIPE, env=env)

    def served() -> list[str]:
        return [x for x in served_log.read_text().splitlines() if x]

    async def burst() -> None:
        limits = httpx.Limits(max_connections=FAST + SLOW)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
            models = ["slow-1"] * SLOW + ["gpt-4o"] * FAST
            await asyncio.gather(*(client.post(url, json={"model": m, "max_tokens": 50, "messages": [
                {"role": "user", "content": "hi"}]}) for m in models), return_exceptions=True)

    async def fire_then_kill() -> None:
        task = asyncio.ensure_future(burst())
        for _ in range(1200):  # until every request reached the upstream (slow ones in flight)
            if len(served()) >= FAST + SLOW:
                break
            await asyncio.sleep(0.05)
        gateway.send_signal(signal.SIGKILL)  # mid-burst: the slow answers are still streaming
        gateway.wait(30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    try:
        _wait("stub up", lambda: _up(f"http://127.0.0.1:{stub_port}/"), stub)
        _wait("gateway up", lambda: _up(f"http://127.0.0.1:{gw_port}/healthz"), gateway)
        asyncio.run(fire_then_kill())
    finally:
        for proc in (gateway, stub):
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
    seen = served()
    assert len(seen) == FAST + SLOW
    sink_ = open_sink(ledger_url)  # after the crash: what a restarted gateway would find
    rows = {r.request_id: r for r in sink_.read()}
    sink_.close()
    missing = [rid for rid in seen if rid not in rows]
    assert missing == []  # the loss window is closed: no served request without a row
    pending = [r for r in rows.values() if r.verdict == PENDING]
    assert len(pending) >= SLOW  # the ones cut by the kill, accounted at their estimate
    assert len(rows) == FAST + SLOW  # one row per request, no more
    assert all(r.usage_source == "estimate" and r.output_tokens == 50 for r in pending)
