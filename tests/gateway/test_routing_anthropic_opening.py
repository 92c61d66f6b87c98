"""An Anthropic stream's error after its ``message_start`` (aigw_policy/gateway/first_event.py).

Anthropic's docs show its overloaded error as the event after ``message_start``: a routed
stream judged on its first event had served that ``message_start`` already, so the error went
to the client as it came and no failover was possible, though nothing the client shows had
been sent. ``message_start`` and ``ping`` are now read on as keep-alives are: an error (or a
cut) after them fails over, and the next candidate's stream is served, alone. An error after
content is served as it came (bytes are out); each way the ledger has one record and the
limits are charged once, with what was served."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import anthropic
import pytest

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of, routed_policy, ledger_lines
from .raw_upstream import Peer, RawUpstream, chunked, serve
from .test_routing_first_event import CLIENT_KEY, HEAD, MESSAGE_EVENTS

START, BLOCK, DELTA, BLOCK_STOP, MESSAGE_DELTA, STOP = MESSAGE_EVENTS
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
OVERLOADED = (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
              b"\n\n")
GOOD = HEAD + chunked(MESSAGE_EVENTS)
CAP = """\
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: tokens, limit: 1000000, unit: tokens, period: day, bucket_key: ["identity.key"]}
"""


def _policy(urls: list[str]) -> str:
    routed = routed_policy(urls, api="anthropic", key="sk-opening")
    return CAP + routed.removeprefix("on_http_request:\n")


def _first(events: list[bytes], end: str, go: threading.Event | None = None) -> Any:
    """An upstream that sends ``events`` (one chunk each), then ends (``end``), resets
    (``reset``) or leaves the stream open until the gateway goes (``quiet``); ``go``: the last
    event only once it is set (the client read bytes of the stream)."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(HEAD)
        for i, event in enumerate(events):
            if go is not None and i == len(events) - 1:
                await asyncio.to_thread(go.wait, 20)
            await peer.send(b"%x\r\n%s\r\n" % (len(event), event))
        if end == "end":
            await peer.send(b"0\r\n\r\n")
            await peer.wait_eof()
        elif end == "reset":
            peer.abort()
        else:
            await peer.wait_eof()
    return script


def _used(gw: Any) -> float:
    engine = gw.app.holder.current
    spec = engine.compiled.limits["tokens"][1].limit.spec
    return engine.store.check([Charge(spec, "k-red", 0)], time.time())[0].used


def _client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0, timeout=20)


OPENINGS = {"start": [START], "start, ping": [START, PING], "start in pieces": [START[:9], START[9:40], START[40:]]}


@pytest.mark.parametrize("opening", sorted(OPENINGS))
@pytest.mark.parametrize("then", ["error", "reset", "error then reset"])
def test_an_error_or_a_cut_after_message_start_fails_over(opening: str, then: str) -> None:
    events = OPENINGS[opening] + ([OVERLOADED] if then.startswith("error") else [])
    end = "end" if then == "error" else "reset"
    with RawUpstream(_first(events, end)) as first, RawUpstream(serve(GOOD)) as other, \
            policy_gateway(_policy([first.url, other.url]), CLIENT_KEY) as gw:
        with _client(gw.url).messages.stream(model="claude-x", max_tokens=5,
                                             messages=[{"role": "user", "content": "hi"}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
            rid = stream.response.headers["x-aigw-decision-id"]
        assert text == "second" and final.id == "m" and final.usage.output_tokens == 2
        rec = record_of(gw.ledger, rid)
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p1", 2)
        assert (rec["gen_ai.usage.input_tokens"], rec["gen_ai.usage.output_tokens"]) == (3, 2)
        finals = [r for r in _records(gw) if r["aigw.verdict"] != "pending"]
        assert len(finals) == 1
        assert _used(gw) == 5  # the served stream's usage, once


def _records(gw: Any) -> list[dict[str, Any]]:
    return ledger_lines(gw.ledger)


def test_an_error_after_content_is_served_and_charged_once() -> None:
    """Bytes the client shows are out: no failover; the SDK raises on the error event, the
    ledger records the stream once, as served. (Held with the content before a byte went out,
    the error fails over: tests/gateway/test_routing_held_events.py.)"""
    go = threading.Event()
    with RawUpstream(_first([START, BLOCK, DELTA, OVERLOADED], "end", go)) as first, RawUpstream(serve(GOOD)) as other, \
            policy_gateway(_policy([first.url, other.url]), CLIENT_KEY) as gw:
        got: list[str] = []
        with pytest.raises(anthropic.APIStatusError) as caught, \
                _client(gw.url).messages.stream(model="claude-x", max_tokens=5,
                                                messages=[{"role": "user", "content": "hi"}]) as stream:
            rid = stream.response.headers["x-aigw-decision-id"]
            for piece in stream.text_stream:
                got.append(piece)
                go.set()
        assert got == ["second"] and "overloaded_error" in str(caught.value)
        assert other.opened == 0
        rec = record_of(gw.ledger, rid)
        assert (rec["gen_ai.provider.name"], rec["aigw.attempts"]) == ("p0", 1)
        assert len([r for r in _records(gw) if r["aigw.verdict"] != "pending"]) == 1
        used = _used(gw)
        assert used == rec["gen_ai.usage.input_tokens"] + rec["gen_ai.usage.output_tokens"] and used >= 3


def test_every_candidate_overloaded_after_message_start_is_the_gateways_answer() -> None:
    """Both overloaded after their ``message_start``: the client gets the gateway's own error
    (nothing of either stream), which the SDK raises before any event."""
    script = _first([START, OVERLOADED], "end")
    with RawUpstream(script) as first, RawUpstream(script) as second, \
            policy_gateway(_policy([first.url, second.url]), CLIENT_KEY) as gw:
        with pytest.raises(anthropic.APIStatusError) as caught:
            with _client(gw.url).messages.stream(model="claude-x", max_tokens=5,
                                                 messages=[{"role": "user", "content": "hi"}]) as stream:
                list(stream.text_stream)
        assert caught.value.status_code in (502, 503, 529)
        rid = caught.value.request_id
        assert rid and record_of(gw.ledger, rid)["aigw.attempts"] == 2
        assert _used(gw) == 0
