"""Gemini's ``streamGenerateContent`` without ``alt=sse`` streams a JSON array as
``application/json``, one object at a time. It is a stream all the same: passed on as it
comes (the client has the first object before the upstream sends the last), routed or not,
and a routed one is judged on its opening, not read whole within ``per_request_timeout`` (a
generation longer than that was an attempt timed out, then a 503 for a provider that was
answering). Its usage, in the last object, is the ledger's."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from .conftest import WAIT, policy_gateway, record_of
from .raw_upstream import Peer, RawUpstream

KEY = "sk-gw-gemini-array"
USAGE = {"promptTokenCount": 19, "candidatesTokenCount": 6, "totalTokenCount": 25}
WORDS = ["streamed", " as", " an", " array"]


def _objects() -> list[bytes]:
    objs = [{"candidates": [{"content": {"parts": [{"text": w}], "role": "model"}, "index": 0}]} for w in WORDS]
    objs[-1]["usageMetadata"] = USAGE
    return [json.dumps(o, indent=2).encode() for o in objs]


def _upstream(released: threading.Event, waited: list[bool]) -> Any:
    async def script(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        await peer.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\n"
                        b"transfer-encoding: chunked\r\n\r\n")
        objs = _objects()
        pieces = [b"[" + objs[0]] + [b",\r\n" + o for o in objs[1:]] + [b"]"]
        first = pieces[0] + b"\n"  # pretty-printed, as Gemini writes it: the object's last line ends
        await peer.send(b"%x\r\n%s\r\n" % (len(first), first))
        waited.append(await asyncio.to_thread(released.wait, WAIT))  # the rest once the client has the first
        rest = b"".join(pieces[1:])
        await peer.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
    return script


ROUTED = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          per_request_timeout: 1s
          only_allow_configured_providers: true
          providers:
            - {id: g, base_url: "URL", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: sk-gemini-array-key, id: k}], models: [{id: gemini-2.5-flash}]}
"""


@pytest.mark.parametrize("how", ["routed", "proxied"])
def test_a_json_array_stream_is_passed_on_as_it_comes(how: str) -> None:
    released = threading.Event()
    waited: list[bool] = []  # whether the client had the first object before the rest was sent
    with RawUpstream(_upstream(released, waited)) as up:
        policy, kw = (ROUTED.replace("URL", up.url), {}) if how == "routed" else ("on_http_request: []\n",
                                                                                   {"upstream": up.url})
        with policy_gateway(policy, KEY, **kw) as gw:
            body = {"contents": [{"parts": [{"text": "hi"}]}]}
            got = bytearray()
            with httpx.stream("POST", gw.url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent", json=body,
                              headers={"x-goog-api-key": KEY}, timeout=WAIT) as r:
                for piece in r.iter_bytes():
                    got += piece
                    released.set()
            released.set()
            assert r.status_code == 200, got[:300]
            assert waited == [True]  # not a wait that ran out: the first object was passed on alone
            texts = [c["candidates"][0]["content"]["parts"][0]["text"] for c in json.loads(got)]
            assert "".join(texts) == "".join(WORDS)
            rec = record_of(gw.ledger, r.headers["x-aigw-decision-id"])
            assert (rec["gen_ai.usage.input_tokens"], rec["gen_ai.usage.output_tokens"]) == (19, 6)
