"""A Gemini stream without ``alt=sse`` (one JSON array) whose element is not a JSON object
(gateway/stream_end.py, ``StreamCheck`` of an array).

An SSE stream of a known API ends at an event that is not JSON (route21), with the provider's
error event; an array's elements were never read, only its closing ``]``: ``{not json}``,
``null``, ``42``, ``"x"`` or ``[1]`` between the candidates went to the client, whose JSON parse
of the array failed (outside every API error), or read a chunk that is no
``GenerateContentResponse``. Now such an element ends the array: the elements before it go out,
then the provider's error element and ``]`` (one JSON array still); held before a byte went
out, it fails over."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from .conftest import WAIT, policy_gateway, record_of
from .raw_upstream import Peer, RawUpstream, chunked, serve
from .test_routing_stream_end import ARRAY, KEY, ROWS, _head, _headers, _policy, _whole

GARBAGE = {"not json": b"{not json}", "null": b"null", "a number": b"42", "a string": b'"x"', "an array": b"[1]",
           "two objects run together": b'{"candidates": []}{"candidates": []}'}
PATH, BODY, FMT, MODEL, _, FIRST, _, GOOD = ROWS["gemini array"]
LAST = b",\r\n" + json.dumps({"candidates": [{"content": {"parts": [{"text": "end"}], "role": "model"},
                                             "finishReason": "STOP"}]}).encode() + b"]"


def _then(garbage: bytes, go: threading.Event | None) -> Any:
    """The first element; then (once the client read it, when ``go``) the garbage and the end."""
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        rest = b",\r\n" + garbage + LAST
        if go is None:
            await peer.send(_head(ARRAY) + chunked([FIRST + rest]))
        else:
            await peer.send(_head(ARRAY) + b"%x\r\n%s\r\n" % (len(FIRST), FIRST))
            await asyncio.to_thread(go.wait, WAIT)
            await peer.send(chunked([rest]))
        await peer.wait_eof()
    return script


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_a_served_array_ends_with_the_error_element_at_one_that_is_no_object(garbage: str) -> None:
    go = threading.Event()
    with RawUpstream(_then(GARBAGE[garbage], go)) as up, RawUpstream(serve(_whole(ARRAY, GOOD))) as other, \
            policy_gateway(_policy([up.url, other.url], FMT, MODEL), KEY) as gw:
        content = bytearray()
        with httpx.stream("POST", gw.url + PATH, json=BODY, headers=_headers(), timeout=WAIT) as got:
            assert got.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):  # closed without the body's end, as a cut
                for chunk in got.iter_raw():
                    content += chunk
                    go.set()
        elements = json.loads(bytes(content))  # one JSON array, whole
        assert all(isinstance(e, dict) for e in elements), content
        assert "first" in json.dumps(elements[0]) and elements[-1]["error"]["code"] == 502, content
        assert "end" not in json.dumps(elements)  # nothing after the element that is no object
        assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 1


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_an_array_holding_an_element_that_is_no_object_before_a_byte_went_out_fails_over(garbage: str) -> None:
    with RawUpstream(_then(GARBAGE[garbage], None)) as up, RawUpstream(serve(_whole(ARRAY, GOOD))) as other, \
            policy_gateway(_policy([up.url, other.url], FMT, MODEL), KEY) as gw:
        got = httpx.post(gw.url + PATH, json=BODY, headers=_headers(), timeout=WAIT)
        assert got.status_code == 200 and b"second" in got.content and b"first" not in got.content, got.content
        assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 2
