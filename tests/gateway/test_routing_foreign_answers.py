"""A routed attempt answered 200 in another API's format (a base URL pointed at the wrong
vendor, a router answering in its own format), or with a stream whose first event is not JSON,
is ``malformed``: it fails over, and the next candidate's answer is the client's; with
``failover_on`` leaving ``malformed`` out, the client gets the 502 ``upstream_malformed``. A
200 whose JSON body is an error object and nothing else (OpenRouter's ``{"error": {"code":
502}}``) has failed with the status it says.

Before (route20's SDK harness), each was served: the OpenAI SDK returned a completion whose
``choices`` was None (``TypeError`` in the caller), read an Anthropic message sent as events as
an empty stream without an error, and raised ``json.JSONDecodeError`` on ``data: {not json``;
the 200 error body was a completion with nothing in it. Driven with plain HTTP (no SDK)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream, chunked, serve

KEY = "sk-gw-foreign"
CHAT = {"id": "chatcmpl-ok", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "second"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
MSG = {"id": "msg_ok", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
       "content": [{"type": "text", "text": "second"}], "stop_sequence": None,
       "usage": {"input_tokens": 9, "output_tokens": 4}}
CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
         "choices": [{"index": 0, "delta": {"content": "second"}, "finish_reason": None}]}
ANT_EVENTS = (b'event: message_start\ndata: {"type": "message_start", "message": {"id": "m", "type": "message", '
              b'"role": "assistant", "content": [], "model": "claude-x", "usage": {"input_tokens": 9, '
              b'"output_tokens": 1}}}\n\n'
              b'event: content_block_start\ndata: {"type": "content_block_start", "index": 0, "content_block": '
              b'{"type": "text", "text": "second"}}\n\n'
              b'event: message_stop\ndata: {"type": "message_stop"}\n\n')


def _http(status: int, ctype: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


def _json(obj: Any) -> bytes:
    return _http(200, "application/json", json.dumps(obj).encode())


def _sse(*events: Any) -> bytes:
    return _http(200, "text/event-stream", b"".join(e if isinstance(e, bytes) else
                                                   b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
                 + (b"data: [DONE]\n\n"))


GOOD = {("openai", False): _json(CHAT), ("anthropic", False): _json(MSG),
        ("openai", True): _sse(CHUNK), ("anthropic", True): _http(200, "text/event-stream", ANT_EVENTS)}

# name -> (api, stream, the first candidate's answer, the status the client gets when the
# answer is not failed over (None: malformed, the gateway's 502))
CASES: dict[str, tuple[str, bool, bytes, int | None]] = {
    "anthropic message to a chat request": ("openai", False, _json(MSG), None),
    "chat completion to a messages request": ("anthropic", False, _json(CHAT), None),
    "anthropic message as events to a chat stream": ("openai", True, _sse(MSG), None),
    "first event not JSON": ("openai", True, _sse(b"data: {not json\n\n", CHUNK), None),
    "chat chunks to a messages stream": ("anthropic", True,
                                         _http(200, "text/event-stream", ANT_EVENTS.split(b"\n\n", 1)[0] + b"\n\n"
                                               + b"data: " + json.dumps(CHUNK).encode() + b"\n\n"), None),
    # a stream that ends cleanly with no event of an answer (route21: served, the OpenAI SDK
    # iterated nothing and returned no text and no error)
    "empty stream": ("openai", True, _http(200, "text/event-stream", b""), None),
    "stream of [DONE] alone": ("openai", True, _http(200, "text/event-stream", b"data: [DONE]\n\n"), None),
    "stream of keep-alives alone": ("openai", True, _http(200, "text/event-stream", b": ping\n\n: ping\n\n"), None),
    # no content where an answer was due (route21: served, the OpenAI SDK raised
    # json.JSONDecodeError, or iterated an empty stream with no error)
    "204 to a chat request": ("openai", False, b"HTTP/1.1 204 No Content\r\n\r\n", None),
    "204 to a chat stream": ("openai", True, b"HTTP/1.1 204 No Content\r\n\r\n", None),
    "304 to a messages request": ("anthropic", False, b"HTTP/1.1 304 Not Modified\r\n\r\n", None),
    "200 Cohere error body at a chat request": ("openai", False, _json({"id": "e", "message": "invalid api token"}),
                                                None),
    "200 error body": ("openai", False, _json({"error": {"code": 503, "message": "provider down"}}), 503),
    "200 error body, anthropic": ("anthropic", False,
                                  _json({"type": "error", "error": {"type": "overloaded_error", "message": "o"}}),
                                  529),
}


def _post(url: str, api: str, stream: bool) -> httpx.Response:
    path, body = (("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
                  if api == "openai" else
                  ("/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
    return httpx.post(url + path, json={**body, "stream": stream}, timeout=20,
                      headers={"authorization": f"Bearer {KEY}", "x-api-key": KEY})


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("failover", [True, False], ids=["default", "failover_on-429"])
def test_an_answer_of_another_api_fails_over_and_is_never_served_as_a_success(case: str, failover: bool) -> None:
    api, stream, answer, status = CASES[case]
    answer = answer.replace(b"second", b"wrong!")  # the same length: the head's content-length holds
    config = "" if failover else "          failover_on: [429, timeout, connect]\n"
    with RawUpstream(serve(answer)) as bad, RawUpstream(serve(GOOD[api, stream])) as good, \
            policy_gateway(routed_policy([bad.url, good.url], api=api, config=config), KEY) as gw:
        got = _post(gw.url, api, stream)
        rid = got.headers["x-aigw-decision-id"]
        attempts = record_of(gw.ledger, rid)["aigw.attempts"]
        if failover:
            assert got.status_code == 200, got.text
            assert "second" in got.text
            assert attempts == 2
            return
        assert attempts == 1
        if status is None:
            assert got.status_code == 502, got.text
            assert "upstream_malformed" in got.text
        else:  # an error body: served with the status it says, so that the SDK raises its error
            assert got.status_code == status, got.text
            assert "second" not in got.text


@pytest.mark.parametrize(("api", "stream"), sorted(GOOD))
def test_the_api_s_own_answers_are_not_judged_foreign(api: str, stream: bool) -> None:
    with RawUpstream(serve(GOOD[api, stream])) as good, \
            policy_gateway(routed_policy([good.url], api=api), KEY) as gw:
        got = _post(gw.url, api, stream)
        assert got.status_code == 200, got.text
        assert "second" in got.text


# a served stream's later event that is not JSON: its ends alone, garbage inside braces (route21:
# it passed, judged by its ends), two events run together without their blank line (the SDKs
# join the data lines and fail to parse them), a JSON scalar
GARBAGE = {"cut": b"data: {not json at all\n\n", "inside braces": b"data: {not json}\n\n",
           "two run together": b'data: {"a": 1}\ndata: {"b": 2}\n\n', "scalar": b"data: 42\n\n"}
MID: dict[str, tuple[bytes, bytes]] = {
    "openai": (_sse(CHUNK, b"<garbage>", CHUNK), b'"code": "upstream_stream_cut"'),
    "anthropic": (_http(200, "text/event-stream", ANT_EVENTS.replace(b"event: message_stop", b"<garbage>"
                                                                      + b"event: message_stop")),
                  b'event: error\ndata: {"type": "error", "error": {"type": "api_error"'),
}


def _with_garbage(stream: bytes, garbage: bytes, go: threading.Event) -> Any:
    """A script answering ``stream`` (a whole answer) with ``garbage`` in place of
    ``<garbage>``, chunked: what comes before it first, the rest only once the client has read
    bytes of the answer (``go``). (Held before a byte went out, the garbage fails the attempt
    over instead: tests/gateway/test_routing_held_events.py.)"""
    head, _, body = stream.partition(b"\r\n\r\n")
    before, _, after = body.partition(b"<garbage>")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length"))

    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(head + b"\r\ntransfer-encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(before), before))
        await asyncio.to_thread(go.wait, 20)
        await peer.send(chunked([garbage + after]))
        await peer.wait_eof()
    return script


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest.mark.parametrize("api", sorted(MID))
def test_a_served_stream_ends_with_the_provider_s_error_at_an_event_that_is_not_json(api: str, garbage: str) -> None:
    """After content reached the client there is no failover: the events before go out, the one
    that is not JSON never does, and the stream ends with the provider's own error event (the
    SDK raises its typed error), charged once. Before: the event went out and the SDK raised
    ``json.JSONDecodeError``."""
    stream, error = MID[api]
    go = threading.Event()
    path, body = (("/v1/chat/completions", {"model": "gpt-4o", "messages": [], "stream": True}) if api == "openai"
                  else ("/v1/messages", {"model": "claude-x", "max_tokens": 5, "messages": [], "stream": True}))
    with RawUpstream(_with_garbage(stream, GARBAGE[garbage], go)) as up, \
            policy_gateway(routed_policy([up.url], api=api), KEY) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + path, json=body, timeout=20,
                          headers={"authorization": f"Bearer {KEY}", "x-api-key": KEY}) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):  # then closed without the body's end, as a cut
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
            rid = got.headers["x-aigw-decision-id"]
        assert b"second" in content
        assert GARBAGE[garbage] not in content
        assert error in content
        assert b"not JSON" in content
        assert record_of(gw.ledger, rid)["aigw.attempts"] == 1


def _typed(ctype: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\n{f'content-type: {ctype}' if ctype else 'x-no-type: 1'}\r\n"
    return (head + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


# name -> (stream, the answer's type, its body, the type the client gets (None: malformed, failed over))
UNTYPED: dict[str, tuple[bool, str, bytes, str | None]] = {
    "a completion as text/plain": (False, "text/plain; charset=utf-8", json.dumps(CHAT).encode(), "application/json"),
    "a completion with no type": (False, "", json.dumps(CHAT).encode(), "application/json"),
    "events as text/plain": (True, "text/plain", b"data: " + json.dumps(CHUNK).encode() + b"\n\ndata: [DONE]\n\n",
                             "text/event-stream"),
    "events as an octet stream": (True, "application/octet-stream",
                                  b"data: " + json.dumps(CHUNK).encode() + b"\n\ndata: [DONE]\n\n", "text/event-stream"),
    "text that is no completion": (False, "text/plain", b"upstream says hello", None),
}


@pytest.mark.parametrize("case", sorted(UNTYPED))
def test_an_answer_whose_type_says_nothing_is_read_and_served_as_its_api_s(case: str) -> None:
    """A known API's success sent as ``text/plain``, an octet stream or with no type is served
    with the type of the form its request asked for (the Mistral SDK refused it: "Unexpected
    response received: Status 200 Content-Type text/plain"), and judged as that type: one that
    is not (text where a completion was due) fails over."""
    stream, ctype, body, want = UNTYPED[case]
    with RawUpstream(serve(_typed(ctype, body))) as up, RawUpstream(serve(GOOD["openai", stream])) as good, \
            policy_gateway(routed_policy([up.url, good.url]), KEY) as gw:
        got = _post(gw.url, "openai", stream)
        assert got.status_code == 200, got.text
        attempts = record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"]
        if want is None:
            assert attempts == 2
            return
        assert attempts == 1
        assert got.headers["content-type"] == want
        assert got.content == body
