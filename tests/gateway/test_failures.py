"""Gemini wire format, upstream errors and time-outs, clients that leave mid-stream."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import WAIT, record_of, team_used, ledger_lines
from .stub import GEMINI_USAGE

BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_gemini_json_with_query_key(gateway: Any, stub: Any, gateway_files: Any) -> None:
    r = httpx.post(f"{gateway.url}/v1beta/models/gemini-2.5-pro:generateContent?key=sk-gw-gemini", json=BODY, timeout=10)
    assert r.status_code == 200, r.text
    seen = stub.app.seen[-1]
    assert seen["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"  # downgraded in the path
    assert "key=" not in seen["query"]  # the gateway key never goes upstream
    assert seen["body"]["generationConfig"]["maxOutputTokens"] == 512
    rec = record_of(gateway_files["ledger"], r.headers["x-aigw-decision-id"])
    assert rec["gen_ai.usage.input_tokens"] == GEMINI_USAGE["promptTokenCount"]
    assert rec["gen_ai.usage.output_tokens"] == GEMINI_USAGE["candidatesTokenCount"]


def test_gemini_stream_and_errors(gateway: Any, gateway_files: Any) -> None:
    url = f"{gateway.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    with httpx.stream("POST", url, json=BODY, headers={"x-goog-api-key": "sk-gw-gemini"}, timeout=10) as r:
        events = [line for line in r.iter_lines() if line.startswith("data:")]
        rid = r.headers["x-aigw-decision-id"]
    assert len(events) == 5
    rec = record_of(gateway_files["ledger"], rid)
    assert rec["aigw.request.stream"] is True and rec["aigw.usage.total_tokens"] == 16
    r = httpx.post(url, json=BODY, headers={"x-goog-api-key": "nope"}, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["status"] == "UNAUTHENTICATED"


def test_upstream_500_releases(gateway: Any, gateway_files: Any) -> None:
    before = team_used(gateway, "slow")
    r = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"authorization": "Bearer sk-gw-slow"},
                   json={"model": "fail-1", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert r.status_code == 500
    assert r.json()["error"]["message"] == "stub failure"  # the upstream's own answer passes through
    rec = record_of(gateway_files["ledger"], r.headers["x-aigw-decision-id"])
    assert rec["http.response.status_code"] == 500
    assert team_used(gateway, "slow") == before  # upstream error: the reservation is released


def test_upstream_timeout_504(gateway: Any, gateway_files: Any) -> None:
    import openai
    before = team_used(gateway, "slow")
    c = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw-slow", max_retries=0, timeout=10)
    with pytest.raises(openai.InternalServerError) as caught:
        c.chat.completions.create(model="slow-1", messages=[{"role": "user", "content": "hi"}])
    # a 504 marked `timeout` is the gateway's 1 s upstream time-out firing: the stub answers 200
    # after 1.6 s, so without the time-out there is no error at all (checked by outcome, not timed)
    r = caught.value.response
    assert r.status_code == 504 and r.headers["x-aigw-upstream-error"] == "timeout"
    assert caught.value.body["code"] == "upstream_timeout"
    rec = record_of(gateway_files["ledger"], r.headers["x-aigw-decision-id"])
    assert rec["http.response.status_code"] == 504
    assert team_used(gateway, "slow") == before
    deadline = time.monotonic() + WAIT
    while 'aigw_upstream_errors_total{kind="timeout"}' not in httpx.get(gateway.url + "/metrics", timeout=5).text:
        assert time.monotonic() < deadline, "no upstream time-out in /metrics"
        time.sleep(0.02)


def test_client_disconnect_mid_stream_reconciles(gateway: Any, stub: Any, gateway_files: Any) -> None:
    assert team_used(gateway, "ops") == 0
    cancelled = stub.app.cancelled
    body = {"model": "long-1", "stream": True, "messages": [{"role": "user", "content": "tell me a long story"}]}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body,
                      headers={"authorization": "Bearer sk-gw-ops"}, timeout=10) as r:
        rid = r.headers["x-aigw-decision-id"]
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data:"):
                seen += 1
            if seen == 20:
                break  # leave mid-stream: the context manager closes the connection
    rec = record_of(gateway_files["ledger"], rid, )
    assert rec["aigw.usage.source"] == "estimate"  # the stream never reached its usage chunk
    deadline = time.monotonic() + WAIT
    while stub.app.cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stub.app.cancelled > cancelled  # the gateway stopped reading the upstream
    used = team_used(gateway, "ops")
    # reconciled to what was actually streamed, not the reservation (input + 512 clamp)
    assert used == rec["aigw.usage.total_tokens"]
    assert 20 <= rec["gen_ai.usage.output_tokens"] < 200


def test_disconnect_before_answer_releases(gateway: Any, gateway_files: Any) -> None:
    before = team_used(gateway, "slow")
    body = {"model": "slow-2", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-gw-slow"},
                   timeout=httpx.Timeout(10, read=0.3))
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        records = [r for r in ledger_lines(gateway_files["ledger"])
                   if r.get("aigw.verdict") != "pending"]  # the final record, not the intent
        if any(r.get("gen_ai.request.model") == "slow-2" for r in records):
            break
        time.sleep(0.05)
    rec = next(r for r in records if r.get("gen_ai.request.model") == "slow-2")
    assert rec["http.response.status_code"] == 499  # the client left first
    assert team_used(gateway, "slow") == before
