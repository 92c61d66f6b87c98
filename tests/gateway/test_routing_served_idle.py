"""A served stream may go quiet between two events as long as one attempt may wait
(``per_request_timeout``), whatever time the failover left of ``total_timeout``: the total
bounds the attempts, not an answer being served (docs/routing.md).

Before, the served attempt's upstream reads kept the attempt's own time, cut to what the
total left: after a first candidate that timed out, the second's stream was cut at its first
pause longer than that remainder (the client got the error event, a truncated answer) though
it was well within the per-request timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import Peer, RawUpstream
from .test_routing_first_event import HEAD, MESSAGE_EVENTS, _events

KEY = "sk-gw-served-idle"
CONFIG = "          per_request_timeout: 3s\n          total_timeout: 4s\n"
PAUSE_S = 2.0  # over what the total leaves the second attempt (~1s), under per_request_timeout (3s)


async def _silent(peer: Peer) -> None:
    """Reads the request and never answers (the attempt times out)."""
    if await peer.read_request() is not None:
        await peer.wait_eof()


def _pausing(events: list[bytes], at: int) -> Any:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(HEAD)
        for i, event in enumerate(events):
            if i == at:
                await asyncio.sleep(PAUSE_S)
            await peer.send(b"%x\r\n%s\r\n" % (len(event), event))
        await peer.send(b"0\r\n\r\n")
        await peer.wait_eof()
    return script


def _openai(url: str) -> tuple[str, str]:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", stream=True,
                                                           messages=[{"role": "user", "content": "hi"}])
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    return text, raw.headers["x-aigw-decision-id"]


def _anthropic(url: str) -> tuple[str, str]:
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    raw = client.messages.with_raw_response.create(model="claude-x", max_tokens=10, stream=True,
                                                   messages=[{"role": "user", "content": "hi"}])
    text = "".join(e.delta.text for e in raw.parse() if e.type == "content_block_delta")
    return text, raw.headers["x-aigw-decision-id"]


# (API, the stream, where it pauses, the call, the whole text)
ROWS = [("openai", _events("second"), 1, _openai, "second"),
        ("anthropic", MESSAGE_EVENTS, 3, _anthropic, "second")]


@pytest.mark.parametrize(("api", "events", "at", "call", "text"), ROWS, ids=[r[0] for r in ROWS])
def test_a_served_stream_pauses_as_long_as_one_attempt_may(api: str, events: list[bytes], at: int, call: Any,
                                                           text: str) -> None:
    with RawUpstream(_silent) as p0, RawUpstream(_pausing(events, at)) as p1, \
            policy_gateway(routed_policy([p0.url, p1.url], api=api, config=CONFIG), KEY) as gw:
        got, rid = call(gw.url)
        assert got == text
        rec = record_of(gw.ledger, rid)
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert rec["gen_ai.usage.output_tokens"] == 2
