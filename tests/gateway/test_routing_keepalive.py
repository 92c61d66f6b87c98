"""A routed stream that opens with keep-alive comments (``: keep-alive``, OpenRouter's
``: OPENROUTER PROCESSING``) or blank lines has said nothing yet: the attempt is judged on its
first event, not its first byte. So an upstream that only keeps alive and then dies, or stays
quiet past ``per_request_timeout``, fails over to the next candidate (nothing reached the
client), and one whose events do come is served whole, comments and all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import policy_gateway, record_of
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


def _policy(urls: list[str]) -> str:
    providers = "".join(f"""
            - {{id: p{i}, base_url: "{url}/v1", api_keys: [{{value: sk-keepalive-key-{i}, id: k{i}}}],
               models: [{{id: gpt-4o}}]}}""" for i, url in enumerate(urls))
    return f"""\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 1s
          only_allow_configured_providers: true
          providers:{providers}
"""


def _stream(url: str) -> tuple[str, Any]:
    client = openai.OpenAI(base_url=url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", stream=True,
                                                           messages=[{"role": "user", "content": "hi"}])
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    return text, raw.headers


@pytest.mark.parametrize("opening", sorted(OPENINGS))
@pytest.mark.parametrize(("end", "error"), [(_reset, "connect"), (_quiet, "timeout")], ids=["reset", "quiet"])
def test_a_stream_that_only_kept_alive_fails_over(opening: str, end: Any, error: str) -> None:
    second = b"".join([HEAD, chunked(_events("second"))])
    with RawUpstream(_then(OPENINGS[opening], end)) as first, RawUpstream(serve(second)) as other, \
            policy_gateway(_policy([first.url, other.url]), CLIENT_KEY) as gw:
        text, headers = _stream(gw.url)
        assert text == "second"
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert rec["gen_ai.usage.output_tokens"] == USAGE["completion_tokens"]


@pytest.mark.parametrize("opening", sorted(OPENINGS))
def test_a_stream_whose_events_follow_its_keep_alives_is_served_whole(opening: str) -> None:
    with RawUpstream(_then(OPENINGS[opening], _events_then_end)) as first, RawUpstream(serve(b"")) as other, \
            policy_gateway(_policy([first.url, other.url]), CLIENT_KEY) as gw:
        text, headers = _stream(gw.url)
        assert text == "first"
        rec = record_of(gw.ledger, headers["x-aigw-decision-id"])
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"], rec["aigw.usage.source"]) == ("p0", 1, "provider")
        assert other.opened == 0


LINES = [b": keep-alive\n", b":\n", b"\n", b"\r\n", b": ping\r\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=6), st.sampled_from([b"data: {}\n\n", b"event: x\n", b""]),
       st.lists(st.integers(0, 80), max_size=6))
def test_the_opening_ends_with_the_chunk_of_the_first_event_however_it_is_cut(
        idle: list[bytes], event: bytes, cuts: list[int]) -> None:
    from aigw_policy.gateway.routing import _opening

    data = b"".join(idle) + event
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    parts = [data[a:b] for a, b in zip(bounds, bounds[1:])]

    async def chunks() -> Any:
        for part in parts:
            yield part

    got = asyncio.run(_opening(chunks(), True))
    first = len(data) - len(event)  # where the event starts: the opening must reach past it
    want = data if not event else data[:next(b for b in bounds if b > first)]
    assert got == want
