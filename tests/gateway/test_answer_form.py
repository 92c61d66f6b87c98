"""An answer not of the form its request asked for, and a malformed answer through the
single-upstream proxy, judged by the one code path the router's attempts use
(aigw_policy/gateway/answer_read.py).

A whole JSON 200 to ``stream: true``: the OpenAI SDK iterated an empty stream (no text, no
error), Anthropic's raised outside its documented errors. A stream to a request for one JSON
body: each SDK failed to parse it. Routed, each now fails over (``malformed``) and the SDK gets
the next candidate's answer; through ``--upstream`` (one upstream, nothing to fail over to), a
malformed answer, which was passed through as it came, is now the gateway's 502
``upstream_malformed`` in the client's error shape, an error each SDK raises as documented.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream, chunked, serve
from .test_routing_first_event import HEAD, MESSAGE_EVENTS, _events

KEY = "sk-gw-form"
CHAT = {"id": "chatcmpl-ok", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "second"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
MSG = {"id": "msg_ok", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
       "content": [{"type": "text", "text": "second"}], "stop_sequence": None,
       "usage": {"input_tokens": 9, "output_tokens": 4}}


def _http(status: int, ctype: str, body: bytes, length: int | None = None) -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {length or len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


def _json(api: str) -> bytes:
    return _http(200, "application/json", json.dumps(CHAT if api == "openai" else MSG).encode())


def _stream(api: str) -> bytes:
    return HEAD + chunked(_events("second") if api == "openai" else MESSAGE_EVENTS)


async def _cut(peer: Peer) -> None:
    """A head that promises 400 bytes, then 30 of them and a reset."""
    if await peer.read_request() is None:
        return
    await peer.send(_http(200, "application/json", b'{"id": "chatcmpl-x", "choices"', length=400))
    peer.abort()


# (name, whether the client asks for a stream, the bad answer by API)
WRONG_FORM: list[tuple[str, bool, Any]] = [
    ("whole JSON to a stream request", True, lambda api: serve(_json(api))),
    ("a stream to a whole-answer request", False, lambda api: serve(_stream(api))),
]
MALFORMED: list[tuple[str, bool, Any]] = [
    ("bad JSON", False, lambda api: serve(_http(200, "application/json", b'{"id": "x", "choices": [{"ind'))),
    ("HTML page", False, lambda api: serve(_http(200, "text/html", b"<html><h1>Welcome to nginx!</h1></html>"))),
    ("HTML to a stream request", True, lambda api: serve(_http(200, "text/html", b"<html>portal</html>"))),
    ("cut body", False, lambda api: _cut),
]


def _ask(api: str, url: str, stream: bool) -> tuple[str, Any]:
    """One SDK call: the text it got and the decision id."""
    if api == "openai":
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        args: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            raw = client.chat.completions.with_raw_response.create(**args, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
            return text, raw.headers["x-aigw-decision-id"]
        raw = client.chat.completions.with_raw_response.create(**args)
        return raw.parse().choices[0].message.content or "", raw.headers["x-aigw-decision-id"]
    client_a = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    args = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        raw_a = client_a.messages.with_raw_response.create(**args, stream=True)
        text = "".join(e.delta.text for e in raw_a.parse() if e.type == "content_block_delta")
        return text, raw_a.headers["x-aigw-decision-id"]
    raw_a = client_a.messages.with_raw_response.create(**args)
    return raw_a.parse().content[0].text, raw_a.headers["x-aigw-decision-id"]


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize(("name", "stream", "bad"), WRONG_FORM, ids=[r[0] for r in WRONG_FORM])
def test_an_answer_of_the_other_form_fails_over(name: str, stream: bool, bad: Any, api: str) -> None:
    good = _stream(api) if stream else _json(api)
    with RawUpstream(bad(api)) as up0, RawUpstream(serve(good)) as up1, \
            policy_gateway(routed_policy([up0.url, up1.url], api=api), KEY) as gw:
        text, rid = _ask(api, gw.url, stream)
        assert text == "second"
        rec = record_of(gw.ledger, rid)
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert up0.opened == 1 and up1.opened == 1


PLAIN = "on_http_request:\n  - name: pass\n    expressions: ['false']\n    actions: [{type: deny}]\n"


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize(("name", "stream", "bad"), WRONG_FORM + MALFORMED, ids=[r[0] for r in WRONG_FORM + MALFORMED])
def test_the_single_upstream_proxy_answers_a_malformed_answer_502(name: str, stream: bool, bad: Any,
                                                                  api: str) -> None:
    with RawUpstream(bad(api)) as up, policy_gateway(PLAIN, KEY, upstream=up.url) as gw:
        error_type = openai.APIStatusError if api == "openai" else anthropic.APIStatusError
        with pytest.raises(error_type) as raised:
            _ask(api, gw.url, stream)
        err = raised.value
        assert err.status_code == 502
        assert err.response.headers["x-aigw-upstream-error"] == "malformed"
        body = err.response.json()
        assert body["aigw"]["code"] == "upstream_malformed" and "malformed" in body["aigw"]["reason"]
        rec = record_of(gw.ledger, err.response.headers["x-aigw-decision-id"])
        assert rec["http.response.status_code"] == 502 and rec["gen_ai.usage.output_tokens"] == 0


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False])
def test_the_single_upstream_proxy_still_serves_the_form_asked_for(api: str, stream: bool) -> None:
    good = _stream(api) if stream else _json(api)
    with RawUpstream(serve(good)) as up, policy_gateway(PLAIN, KEY, upstream=up.url) as gw:
        text, rid = _ask(api, gw.url, stream)
        assert text == "second"
        assert record_of(gw.ledger, rid)["gen_ai.usage.output_tokens"] in (2, 4)
