"""A routed attempt whose answer came but cannot be the API's (a 200 whose JSON does not parse,
an HTML page a load balancer answered, a body cut after its head) is its own failure class,
``malformed``: it fails over as ngrok's provider errors do, the next candidate serves, and the
SDK gets that answer; when ``failover_on`` leaves it out, the client gets a 502
``upstream_malformed`` in its own error shape, which its SDK raises as a documented API error.

Before, such a 200 was served: the OpenAI and Anthropic SDKs raised ``json.JSONDecodeError``
or returned the HTML page as a ``str`` where a completion was expected; a cut body counted as
``connect`` (an upstream that could not be reached)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream, serve

KEY = "sk-gw-malformed"
OK = {"id": "chatcmpl-ok", "object": "chat.completion", "created": 1, "model": "gpt-4o",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "second"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
MSG = {"id": "msg_ok", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
       "content": [{"type": "text", "text": "second"}], "stop_sequence": None,
       "usage": {"input_tokens": 9, "output_tokens": 4}}


def _http(status: int, ctype: str, body: bytes, length: int | None = None) -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {length or len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


async def _cut(peer: Peer) -> None:
    """A head that promises 400 bytes, then 30 of them and a reset."""
    if await peer.read_request() is None:
        return
    await peer.send(_http(200, "application/json", b'{"id": "chatcmpl-x", "choices"', length=400))
    peer.abort()


ANSWERS: dict[str, Any] = {
    "bad JSON": serve(_http(200, "application/json", b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess')),
    "empty JSON": serve(_http(200, "application/json", b"")),
    "HTML page": serve(_http(200, "text/html", b"<html><body><h1>Welcome to nginx!</h1></body></html>")),
    "HTML as JSON": serve(_http(200, "application/json", b"<!DOCTYPE html><html>captive portal</html>")),
    "cut body": _cut,
}
# (failover_on config line, whether a malformed answer fails over)
TRIGGERS = [("", True), ("failover_on: [malformed]", True), ("failover_on: [5xx]", True),
            ("failover_on: [502]", True), ("failover_on: [429, connect, timeout]", False)]


def _call(api: str, url: str) -> Any:
    if api == "openai":
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o",
                                                               messages=[{"role": "user", "content": "hi"}])
        return raw.parse().choices[0].message.content, raw.headers
    client_a = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    raw_a = client_a.messages.with_raw_response.create(model="claude-x", max_tokens=10,
                                                       messages=[{"role": "user", "content": "hi"}])
    return raw_a.parse().content[0].text, raw_a.headers


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize(("config", "fails_over"), TRIGGERS, ids=[t[0] or "default" for t in TRIGGERS])
@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_a_malformed_answer_is_its_own_failure_and_the_sdk_gets_a_readable_answer(
        answer: str, config: str, fails_over: bool, api: str) -> None:
    good = json.dumps(OK if api == "openai" else MSG).encode()
    lines = f"          {config}\n" if config else ""
    with RawUpstream(ANSWERS[answer]) as bad, RawUpstream(serve(_http(200, "application/json", good))) as up, \
            policy_gateway(routed_policy([bad.url, up.url], api=api, config=lines), KEY) as gw:
        if fails_over:
            text, headers = _call(api, gw.url)
            assert text == "second"
            rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
            assert (rec["gen_ai.provider.name"], rec["aigw.attempts"], rec["aigw.route.key_id"]) == ("p1", 2, "k1")
            assert rec["gen_ai.usage.output_tokens"] == 4
            return
        error_type = openai.APIStatusError if api == "openai" else anthropic.APIStatusError
        with pytest.raises(error_type) as raised:
            _call(api, gw.url)
        err = raised.value
        assert err.status_code == 502
        body = err.response.json()
        assert body["aigw"]["code"] == "upstream_malformed"
        assert "malformed" in body["aigw"]["reason"]
        assert up.opened == 0
        rec = record_of(gw.ledger, err.response.headers["x-aigw-decision-id"])
        assert rec["aigw.attempts"] == 1 and rec["gen_ai.usage.output_tokens"] == 0


def test_the_all_failed_answer_and_the_trace_say_what_each_malformed_answer_was() -> None:
    from aigw_policy.engine.route_errors import all_failed, attempt_said
    from aigw_policy.routing.model import AttemptOutcome

    said = attempt_said(AttemptOutcome(error="malformed", body={"error": {"message": "an HTML page"}}))
    assert said == "malformed (an HTML page)"
    _reason, message, retry = all_failed([{"provider": "p0", "model": "m", "key_id": "k0", "error": "malformed",
                                           "status_code": None}], [said])
    assert message.endswith("p0:m: malformed (an HTML page)") and retry


GEMINI_OK = ('data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "second"}]}, "finishReason": '
             '"STOP"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}}\r\n\r\n').encode()
STREAMS: dict[str, bytes] = {  # what a Gemini stream (a stream by its path, whatever its type) answers
    "HTML page": _http(200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
    "a JSON object, not the array": _http(200, "application/json", b'{"id": "x", "choices": [{"mess'),
}


@pytest.mark.parametrize("answer", sorted(STREAMS))
def test_a_stream_that_is_no_stream_of_the_api_fails_over(answer: str) -> None:
    import httpx

    with RawUpstream(serve(STREAMS[answer])) as bad, \
            RawUpstream(serve(_http(200, "text/event-stream", GEMINI_OK))) as up:
        policy = f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - {{id: g0, base_url: "{bad.url}", supported_api_surfaces: [{{format: gemini}}],
               api_keys: [{{value: sk-g0, id: k0}}], models: [{{id: gemini-x}}]}}
            - {{id: g1, base_url: "{up.url}", supported_api_surfaces: [{{format: gemini}}],
               api_keys: [{{value: sk-g1, id: k1}}], models: [{{id: gemini-x}}]}}
"""
        with policy_gateway(policy, KEY) as gw:
            got = httpx.post(gw.url + "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", timeout=20,
                             headers={"x-goog-api-key": KEY}, json={"contents": [{"parts": [{"text": "hi"}]}]})
            assert got.status_code == 200 and '"second"' in got.text, got.text
            rec = record_of(gw.ledger, got.headers["x-aigw-decision-id"])
            assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("g1", 2)
