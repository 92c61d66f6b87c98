"""A routed stream is judged on its first event (aigw_policy/gateway/first_event.py).

A routed stream that opens with keep-alive comments (``: keep-alive``, OpenRouter's
``: OPENROUTER PROCESSING``) or blank lines has said nothing yet: the attempt is judged on its
first event, not its first byte. So an upstream that only keeps alive and then dies, or stays
quiet past ``per_request_timeout``, fails over to the next candidate (nothing reached the
client), and one whose events do come is served whole, comments and all.

A stream whose first event is an error (Anthropic's ``event: error`` after a 200, with
``overloaded_error``; OpenAI's ``data: {"error": ...}``) has failed with the status its error
type means: it fails over as that status would, and is served as it came when that status is
no trigger."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream, chunked, serve

CLIENT_KEY = "sk-gw-keepalive"
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _events(text: str) -> list[bytes]:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {**base, "choices": [], "usage": USAGE}]
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


# keep-alive openings, as the chunks they come in (a comment cut across two chunks too)
OPENINGS = {
    "comment": [b": keep-alive\n\n"],
    "comments-in-pieces": [b": OPENROUTER", b" PROCESSING\n\n", b"\n", b":", b"\r\n\r\n", b": ping\n\n"],
    "blank-lines": [b"\n", b"\r\n", b"\n\n"],
}


def _then(opening: list[bytes], end: Callable[[Peer], Any]) -> Any:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(HEAD)
        for piece in opening:
            await peer.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        await end(peer)
    return script


async def _reset(peer: Peer) -> None:
    peer.abort()


async def _quiet(peer: Peer) -> None:
    await peer.wait_eof()  # until the gateway gives the attempt up


async def _events_then_end(peer: Peer) -> None:
    await peer.send(chunked(_events("first")))


def _stream(url: str) -> tuple[str, Any]:
    client = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", stream=True,
                                                           messages=[{"role": "user", "content": "hi"}])
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    return text, raw.headers


def _keepalive_policy(urls: list[str]) -> str:
    return routed_policy(urls, key="sk-keepalive-key", config="          per_request_timeout: 1s\n")


@pytest.mark.parametrize("opening", sorted(OPENINGS))
@pytest.mark.parametrize(("end", "error"), [(_reset, "connect"), (_quiet, "timeout")], ids=["reset", "quiet"])
def test_a_stream_that_only_kept_alive_fails_over(opening: str, end: Any, error: str) -> None:
    second = b"".join([HEAD, chunked(_events("second"))])
    with RawUpstream(_then(OPENINGS[opening], end)) as first, RawUpstream(serve(second)) as other, \
            policy_gateway(_keepalive_policy([first.url, other.url]), CLIENT_KEY) as gw:
        text, headers = _stream(gw.url)
        assert text == "second"
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert rec["gen_ai.usage.output_tokens"] == USAGE["completion_tokens"]


@pytest.mark.parametrize("opening", sorted(OPENINGS))
def test_a_stream_whose_events_follow_its_keep_alives_is_served_whole(opening: str) -> None:
    with RawUpstream(_then(OPENINGS[opening], _events_then_end)) as first, RawUpstream(serve(b"")) as other, \
            policy_gateway(_keepalive_policy([first.url, other.url]), CLIENT_KEY) as gw:
        text, headers = _stream(gw.url)
        assert text == "first"
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"], rec["aigw.usage.source"]) == ("p0", 1, "provider")
        assert other.opened == 0


LINES = [b": keep-alive\n", b":\n", b"\n", b"\r\n", b": ping\r\n"]
FIRST = [b"data: {}\n\n", b"event: x\ndata: {}\r\n\r\n", b'data: {"a":\n\n']


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=6), st.sampled_from(FIRST + [b""]),
       st.lists(st.integers(0, 80), max_size=6))
def test_the_opening_ends_with_the_chunk_that_ends_the_first_event_however_it_is_cut(
        idle: list[bytes], first: bytes, cuts: list[int]) -> None:
    from aigw_policy.gateway.first_event import opening

    data = b"".join(idle) + first + b"data: after\n\n" * 2
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    parts = [data[a:b] for a, b in zip(bounds, bounds[1:])]

    async def chunks() -> Any:
        for part in parts:
            yield part

    got = asyncio.run(opening(chunks(), "sse"))
    end = len(b"".join(idle) + (first or b"data: after\n\n"))  # where the first event ends
    assert got == data[:next(b for b in bounds if b >= end)]


# -- a stream whose first event is an error: the provider's failure, said after a 200 ---------------

def _sse_error(api: str, kind: str) -> bytes:
    if api == "anthropic":  # Anthropic's overloaded or rate-limited stream (its docs: "errors after a 200")
        return b"event: error\ndata: " + json.dumps({"type": "error", "error": {"type": kind, "message": kind}}).encode() + b"\n\n"
    return b"data: " + json.dumps({"error": {"message": kind, "type": kind, "code": None}}).encode() + b"\n\n"


MESSAGE_EVENTS = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
    b'"model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"second"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":2}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n']


def _failing_first(api: str, kind: str) -> Any:
    async def script(peer: Peer) -> None:
        while await peer.read_request() is not None:
            await peer.send(HEAD + chunked([_sse_error(api, kind)]))
    return script


def _anthropic_stream(url: str) -> tuple[str, Any]:
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0, timeout=20)
    with client.messages.with_streaming_response.create(model="claude-x", max_tokens=5, stream=True,
                                                         messages=[{"role": "user", "content": "hi"}]) as raw:
        text = "".join(e.delta.text for e in raw.parse() if e.type == "content_block_delta")
        return text, raw.headers


# the first attempt's first event, and the status its attempt is judged as
FIRST_ERRORS = [("anthropic", "overloaded_error", 529), ("anthropic", "rate_limit_error", 429),
                ("anthropic", "api_error", 500), ("openai", "server_error", 500)]


@pytest.mark.parametrize(("api", "kind", "status"), FIRST_ERRORS)
def test_a_stream_whose_first_event_is_an_error_fails_over(api: str, kind: str, status: int) -> None:
    good = HEAD + chunked(MESSAGE_EVENTS if api == "anthropic" else _events("second"))
    with RawUpstream(_failing_first(api, kind)) as first, RawUpstream(serve(good)) as other, \
            policy_gateway(routed_policy([first.url, other.url], api=api, key="sk-first-event"), CLIENT_KEY) as gw:
        text, headers = _anthropic_stream(gw.url) if api == "anthropic" else _stream(gw.url)
        assert text == "second"
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        tried = gw.app.route_metrics.snapshot(time.time())["keys"][("p0", "k0")]
        assert tried["request_count"] == 1 and tried["error_rate"]["total"] == 1.0, tried


def test_an_error_event_that_is_no_failover_trigger_is_served_as_it_came() -> None:
    import anthropic

    with RawUpstream(_failing_first("anthropic", "invalid_request_error")) as first, RawUpstream(serve(b"")) as other, \
            policy_gateway(routed_policy([first.url, other.url], api="anthropic", key="sk-first-event",
                                          config="          failover_on: [429, 5xx]\n"),
                           CLIENT_KEY) as gw:
        with pytest.raises(anthropic.APIStatusError) as caught:
            _anthropic_stream(gw.url)
        assert "invalid_request_error" in str(caught.value)
        assert other.opened == 0


def test_every_stream_failing_with_an_error_event_is_the_gateways_503() -> None:
    with RawUpstream(_failing_first("openai", "server_error")) as first, \
            policy_gateway(routed_policy([first.url], key="sk-first-event"), CLIENT_KEY) as gw:
        with pytest.raises(openai.APIStatusError) as caught:
            _stream(gw.url)
        assert caught.value.status_code == 503 and caught.value.body["code"] == "ERR_NGROK_3807"
